/** Small DOM and formatting helpers (text is always set as text, never as HTML). */

const SVG_NS = 'http://www.w3.org/2000/svg';

/**
 * Creates an element: `h('button', {type: 'button', onclick}, 'Stop')`. Props starting
 * with `on` are listeners, `dataset` sets data attributes, others are attributes (true →
 * present, false/null/undefined → absent). Children are nodes or text.
 */
export function h(tag, props = {}, ...children) {
  return build(document.createElement(tag), props, children);
}

/** Creates an SVG element, like `h`. */
export function s(tag, props = {}, ...children) {
  return build(document.createElementNS(SVG_NS, tag), props, children);
}

function build(el, props, children) {
  for (const [key, value] of Object.entries(props ?? {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith('on') && typeof value === 'function') el.addEventListener(key.slice(2), value);
    else if (key === 'dataset') Object.assign(el.dataset, value);
    else if (key === 'value' && 'value' in el) el.value = value;
    else el.setAttribute(key, value === true ? '' : String(value));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/** Replaces an element's children. */
export function replace(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

/** `12 s`, `4 min 3 s`, `2 h 5 min`, `3 d 4 h`. */
export function duration(ms) {
  const sec = Math.max(0, Math.floor(ms / 1000));
  if (sec < 60) return `${sec} s`;
  const min = Math.floor(sec / 60);
  if (min < 60) return `${min} min ${sec % 60} s`;
  const hours = Math.floor(min / 60);
  if (hours < 48) return `${hours} h ${min % 60} min`;
  return `${Math.floor(hours / 24)} d ${hours % 24} h`;
}

/** Remaining time with a tenth of a second when under a minute: `5.3 s`. */
export function remaining(ms) {
  return ms < 60_000 ? `${(Math.max(0, ms) / 1000).toFixed(1)} s` : duration(ms);
}

/** `4 s ago`, or `never`. */
export function ago(iso, now) {
  const at = Date.parse(iso ?? '');
  return Number.isFinite(at) ? `${duration(now - at)} ago` : 'never';
}

/** A local clock time `14:03:22`. */
export function clock(ms) {
  return new Date(ms).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', second: '2-digit', hour12: false });
}

/** The last 6 characters of an id, enough to tell agents apart on screen. */
export function shortId(id) {
  return String(id ?? '').slice(-6);
}

/** A `<time>` element showing `text`, its machine-readable value the ISO time. */
export function time(iso, text) {
  return h('time', { datetime: iso ?? undefined, title: iso ?? undefined }, text);
}
