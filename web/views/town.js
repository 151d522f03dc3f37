import { coalesced } from '../lib/coalesce.js';
import { h, replace } from '../lib/dom.js';
import { TownEventStream } from '../lib/event-stream.js';
import { AgentsTable } from './agents-table.js';
import { BeadsBoard } from './beads-board.js';
import { EventFeed } from './event-feed.js';
import { MailList } from './mail-list.js';
import { MayorChat } from './mayor-chat.js';
import { TownActions } from './town-actions.js';
import { TokenTimeline } from './token-timeline.js';

/** Events after which the town view is loaded again. */
const VIEW_EVENTS = /^(agent\.|tokens\.|bead\.|rig\.|settings\.|events\.)/;
/** Events after which the token history is loaded again. */
const HISTORY_EVENTS = /^(tokens\.refreshed|agent\.token\..+|agent\.(started|stopped|failed|completed|exited|restarting))$/;
const HOURS = [1, 6, 24, 72];
/** Tokens asked of the history at most (the API's largest page). */
const HISTORY_LIMIT = 5_000;

/**
 * The town page: agents, refresh timeline, beads, mayor, mail, live feed and actions.
 * The stream drives reloads (coalesced); timers reload too, in case the stream is down.
 * Returns `destroy()`, which ends the stream and every timer.
 */
export function townView(root, session, townId) {
  const base = `/api/towns/${encodeURIComponent(townId)}`;
  const state = { view: null, tokens: [], truncated: false, agentById: new Map(), currentTokens: new Map(), hours: 6 };
  const title = h('h1', { id: 'town-title' }, 'Town');
  const meta = h('p', { class: 'meta' });
  const alert = h('p', { class: 'error', role: 'alert', id: 'town-error' });
  const actions = new TownActions({ session, townId, changed: () => (loadView.trigger(), loadHistory.trigger()) });
  const agents = new AgentsTable({ onStop: (agent) => actions.stop(agent) });
  const timeline = new TokenTimeline();
  const beads = new BeadsBoard();
  const mail = new MailList();
  const feed = new EventFeed();
  const chat = new MayorChat({ session, townId, feedback: (text) => actions.say(text) });
  const hours = h('select', { id: 'timeline-hours', onchange: () => ((state.hours = Number(hours.value)), loadHistory.trigger()) }, ...HOURS.map((n) => h('option', { value: String(n), selected: n === state.hours }, `last ${n} h`)));

  replace(
    root,
    h('div', { class: 'town-head' }, title, meta),
    alert,
    h(
      'div',
      { class: 'town-grid' },
      panel('agents', 'Agents', h('div', {}, agents.el, agents.note, actions.el)),
      panel('timeline', 'Token refresh timeline', h('div', {}, h('p', { class: 'field' }, h('label', { for: 'timeline-hours' }, 'Period '), hours), timeline.el)),
      panel('mayor', 'Mayor', chat.el),
      panel('beads', 'Beads', beads.el),
      panel('mail', 'Mail', mail.el),
      panel('events', 'Live events', feed.el),
    ),
  );

  const showError = (err) => replace(alert, err ? String(err) : '');
  const loadView = coalesced(async () => {
    try {
      state.view = await session.request('GET', base);
      state.agentById = new Map(state.view.agents.map((a) => [a.id, a]));
      showError(null);
      render();
    } catch (err) {
      showError(err);
    }
  }, 1000);
  const loadHistory = coalesced(async () => {
    try {
      const { tokens, truncated } = await session.request('GET', `${base}/token-history?hours=${state.hours}&limit=${HISTORY_LIMIT}`);
      state.tokens = tokens;
      state.truncated = truncated;
      state.currentTokens = latestWindows(tokens);
      render();
    } catch (err) {
      showError(err);
    }
  }, 1500);
  const loadMessages = coalesced(() => chat.load().catch(showError), 500);
  const loadMail = coalesced(async () => {
    try {
      mail.set((await session.request('GET', `${base}/mail?limit=100`)).mail);
      mail.render(state.agentById);
    } catch (err) {
      showError(err);
    }
  }, 500);

  function render() {
    const v = state.view;
    if (!v) return;
    const now = Date.now();
    replace(title, v.name);
    document.title = `${v.name} · Gastown`;
    const c = v.counts?.agents ?? {};
    replace(meta, `default runtime ${v.defaultRuntime} · ${v.rigs.length} rig${v.rigs.length === 1 ? '' : 's'} · ${['working', 'idle', 'starting', 'stalled'].map((k) => `${c[k] ?? 0} ${k}`).join(', ')}${dropsText(v)}`);
    actions.update(v);
    agents.update(v.agents, state.currentTokens, now);
    beads.update(v, state.agentById, now);
    timeline.update(state.tokens, v.agents, now, state.hours, state.truncated);
    mail.render(state.agentById);
  }

  const stream = new TownEventStream(session, townId, {
    onEvent(event) {
      feed.add(event, state.agentById);
      feed.showStatus(stream);
      if (event.type === 'mail.sent') loadMail.trigger();
      if (event.type === 'mayor.reply' || event.type === 'mayor.message') loadMessages.trigger();
      if (VIEW_EVENTS.test(event.type)) loadView.trigger();
      if (HISTORY_EVENTS.test(event.type)) loadHistory.trigger();
    },
    onGap: (gap) => feed.gap(gap),
  });
  const onStatus = () => feed.showStatus(stream);
  stream.addEventListener('status', onStatus);

  loadView.trigger();
  loadHistory.trigger();
  loadMessages.trigger();
  loadMail.trigger();
  stream.start();
  const timers = [
    setInterval(() => agents.tick(Date.now()), 250),
    setInterval(() => feed.showStatus(stream), 1000),
    setInterval(() => (state.view ? timeline.update(state.tokens, state.view.agents, Date.now(), state.hours, state.truncated) : undefined), 5000),
    setInterval(() => loadView.trigger(), 15_000),
    setInterval(() => loadHistory.trigger(), 30_000),
    setInterval(() => loadMessages.trigger(), 30_000),
  ];

  return {
    destroy() {
      stream.stop();
      stream.removeEventListener('status', onStatus);
      for (const t of timers) clearInterval(t);
      for (const loader of [loadView, loadHistory, loadMessages, loadMail]) loader.cancel();
    },
  };
}

function panel(id, heading, content) {
  return h('section', { class: `panel panel-${id}`, 'aria-labelledby': `${id}-heading` }, h('h2', { id: `${id}-heading` }, heading), content);
}

/** The newest validity window of each agent's tokens. */
function latestWindows(tokens) {
  const latest = new Map();
  for (const t of tokens) {
    const w = { gen: t.gen, from: Date.parse(t.issuedAt), to: Date.parse(t.expiresAt) };
    const seen = latest.get(t.agentId);
    if (!seen || w.gen > seen.gen || (w.gen === seen.gen && w.from > seen.from)) latest.set(t.agentId, w);
  }
  return latest;
}

function dropsText(view) {
  const dropped = Object.values(view.drops ?? {}).flatMap((byCause) => Object.values(byCause)).reduce((a, b) => a + b, 0);
  return dropped || view.eventsTrimmed ? ` · ${dropped} events dropped, ${view.eventsTrimmed ?? 0} trimmed` : '';
}
