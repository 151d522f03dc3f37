import { LIVE_STATUSES, gapTotal, tokenCoverage } from '../lib/coverage.js';
import { clock, duration, h, replace, s } from '../lib/dom.js';
import { agentName } from './agents-table.js';

/** Rows drawn at most (live agents first, then the most recent). */
const MAX_ROWS = 24;
const WIDTH = 1000;
const ROW_HEIGHT = 24;

/**
 * The refresh timeline: one row per agent, each token's validity window as a bar (they
 * overlap while the old token is still valid), refreshes and re-mints marked, spans with
 * no valid token in red. Beside each row, in words: valid throughout, or how long it was
 * not. "Never expired" is a row with no red and the words "valid throughout".
 */
export class TokenTimeline {
  constructor() {
    this.summary = h('p', { class: 'timeline-summary', role: 'status' });
    this.axis = h('div', { class: 'axis', 'aria-hidden': 'true' });
    this.list = h('ul', { class: 'timeline', id: 'timeline' });
    this.el = h(
      'div',
      {},
      this.summary,
      h('div', { class: 'legend', 'aria-hidden': 'true' }, legend('window', 'token valid'), legend('start', 'start'), legend('refresh', 'refresh'), legend('remint', 're-mint'), legend('gap', 'no valid token'), legend('now', 'now')),
      this.axis,
      this.list,
    );
  }

  /**
   * @param {Array<object>} tokens from token-history; @param {Array<object>} agents from the town view
   * @param {boolean} truncated the history hit its limit (the API gives the oldest first, so the newest are missing)
   */
  update(tokens, agents, now, hours, truncated = false) {
    const coverage = tokenCoverage(tokens, agents, now);
    const agentById = new Map(agents.map((a) => [a.id, a]));
    const ids = [...coverage.keys()].sort((a, b) => rank(agentById.get(a)) - rank(agentById.get(b)) || coverage.get(b).from - coverage.get(a).from).slice(0, MAX_ROWS);
    if (ids.length === 0) {
      replace(this.summary, `No tokens issued in the last ${hours} h.`);
      replace(this.axis);
      replace(this.list);
      return;
    }
    const rows = ids.map((id) => ({ id, agent: agentById.get(id), ...coverage.get(id) }));
    const start = Math.max(now - hours * 3_600_000, Math.min(...rows.map((r) => r.from)));
    const end = Math.max(now, ...rows.filter((r) => r.agent && LIVE_STATUSES.has(r.agent.status)).flatMap((r) => r.windows.map((w) => w.to)));
    const span = Math.max(end - start, 10_000);
    const x = (t) => ((Math.min(Math.max(t, start), start + span) - start) / span) * WIDTH;

    const withGaps = rows.filter((r) => r.gaps.length > 0);
    replace(
      this.summary,
      withGaps.length === 0
        ? `Every agent shown held a valid token throughout (${duration(now - start)} shown, ${rows.reduce((n, r) => n + r.windows.length, 0)} tokens).`
        : `${withGaps.length} agent${withGaps.length > 1 ? 's' : ''} went without a valid token: ${withGaps.map((r) => `${agentName(r.agent, r.id)} for ${duration(gapTotal(r.gaps))}`).join(', ')}.`,
    );
    if (truncated) this.summary.append(` Only the first ${tokens.length} tokens of the period are shown: choose a shorter period.`);
    this.summary.dataset.agentsWithGaps = String(withGaps.length);
    this.#axis(start, span);
    replace(this.list, ...rows.map((row) => this.#row(row, x, now)));
  }

  #axis(start, span) {
    const ticks = 5;
    replace(
      this.axis,
      ...Array.from({ length: ticks + 1 }, (_, i) => {
        const label = h('span', {}, clock(start + (span * i) / ticks));
        label.style.left = `${(i / ticks) * 100}%`;
        return label;
      }),
    );
  }

  #row(row, x, now) {
    const name = agentName(row.agent, row.id);
    const gapMs = gapTotal(row.gaps);
    const verdict = row.gaps.length === 0 ? 'valid throughout' : `${row.gaps.length} gap${row.gaps.length > 1 ? 's' : ''}, ${duration(gapMs)} without a valid token`;
    const c = row.counts;
    const label = `${name}: ${row.windows.length} tokens (${c.start} start, ${c.refresh} refresh, ${c.remint} re-mint), ${verdict}`;
    const svg = s(
      'svg',
      { viewBox: `0 0 ${WIDTH} ${ROW_HEIGHT}`, preserveAspectRatio: 'none', role: 'img', 'aria-label': label },
      s('rect', { class: 'life', x: x(row.from), y: 0, width: Math.max(0, x(row.until) - x(row.from)), height: ROW_HEIGHT }),
      ...row.windows.map((w) =>
        s('rect', { class: `window kind-${w.kind}`, x: x(w.from), y: 6, width: Math.max(1, x(w.to) - x(w.from)), height: 12 }, s('title', {}, `gen ${w.gen} (${w.kind}): ${clock(w.from)} → ${clock(w.to)}`)),
      ),
      ...row.gaps.map((g) => s('rect', { class: 'gap', x: x(g.from), y: 0, width: Math.max(2, x(g.to) - x(g.from)), height: ROW_HEIGHT }, s('title', {}, `no valid token ${clock(g.from)} → ${clock(g.to)}`))),
      ...row.windows.map((w) => s('line', { class: `mark kind-${w.kind}`, x1: x(w.from), x2: x(w.from), y1: w.kind === 'remint' ? 0 : 3, y2: w.kind === 'remint' ? ROW_HEIGHT : ROW_HEIGHT - 3, 'vector-effect': 'non-scaling-stroke' })),
      s('line', { class: 'now', x1: x(now), x2: x(now), y1: 0, y2: ROW_HEIGHT, 'vector-effect': 'non-scaling-stroke' }),
    );
    return h(
      'li',
      { dataset: { agentId: row.id, gaps: String(row.gaps.length), tokens: String(row.windows.length), refreshes: String(c.refresh), remints: String(c.remint) } },
      h('span', { class: 'row-label' }, name),
      svg,
      h('span', { class: `verdict${row.gaps.length ? ' bad' : ''}` }, `${verdict} · ${c.refresh} refreshes${c.remint ? ` · ${c.remint} re-mints` : ''}`),
    );
  }
}

function rank(agent) {
  return agent && LIVE_STATUSES.has(agent.status) ? 0 : 1;
}

function legend(kind, text) {
  return h('span', { class: `key key-${kind}` }, h('i', {}), text);
}
