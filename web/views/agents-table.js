import { LIVE_STATUSES } from '../lib/coverage.js';
import { ago, h, remaining, replace, shortId } from '../lib/dom.js';

const COLUMNS = ['Agent', 'Status', 'Token life left', 'Last refresh', 'Refreshes', 'Heartbeat', 'Events', ''];
const ROLE_ORDER = { mayor: 0, refinery: 1, polecat: 2 };
/** Ended agents listed below the live ones, at most. */
const ENDED_SHOWN = 12;

/** `mayor ·a1b2c3`: how the page names an agent. */
export function agentName(agent, id) {
  return agent ? `${agent.role} ·${shortId(agent.id)}` : `agent ·${shortId(id)}`;
}

/**
 * The agents table: role, status (stalled stands out), the current token's remaining life
 * as a live bar, last refresh, refreshes, heartbeat age, events stored, and a Stop button
 * for each live agent. `update` rebuilds rows from the town view; `tick` moves the
 * countdowns and ages.
 */
export class AgentsTable {
  /** @param {{onStop: (agent: object) => void}} options */
  constructor({ onStop }) {
    this.onStop = onStop;
    this.body = h('tbody');
    this.note = h('p', { class: 'note' });
    this.el = h(
      'div',
      { class: 'table-scroll', tabindex: '0', role: 'region', 'aria-label': 'Agents (scrolls sideways on narrow screens)' },
      h(
        'table',
        { class: 'agents', id: 'agents' },
        h('caption', { class: 'visually-hidden' }, 'Agents of this town, live first'),
        h('thead', {}, h('tr', {}, ...COLUMNS.map((t) => h('th', { scope: 'col' }, t)))),
        this.body,
      ),
    );
    this.rows = [];
    /** Rows by agent id, reused while the agent's data is unchanged. */
    this.byId = new Map();
  }

  /**
   * @param {Array<object>} agents from `GET /api/towns/:id`
   * @param {Map<string, {from: number, to: number}>} currentTokens latest token window per agent (from the token history)
   */
  update(agents, currentTokens, now) {
    const live = agents.filter((a) => LIVE_STATUSES.has(a.status)).sort(byRole);
    const ended = agents.filter((a) => !LIVE_STATUSES.has(a.status)).sort((a, b) => Date.parse(b.endedAt ?? b.createdAt) - Date.parse(a.endedAt ?? a.createdAt));
    const shown = [...live, ...ended.slice(0, ENDED_SHOWN)];
    // a rebuilt row must not take the keyboard focus away from its Stop button
    const focused = this.body.contains(document.activeElement) ? document.activeElement.closest('tr')?.dataset.agentId : undefined;
    const byId = new Map();
    this.rows = shown.map((agent) => {
      const current = currentTokens.get(agent.id);
      const key = JSON.stringify([agent, current?.from, current?.to]);
      const kept = this.byId.get(agent.id);
      const row = kept?.key === key ? kept : { key, ...this.#row(agent, current) };
      byId.set(agent.id, row);
      return row;
    });
    this.byId = byId;
    const same = this.rows.length === this.body.children.length && this.rows.every((r, i) => this.body.children[i] === r.tr);
    if (!same) replace(this.body, ...this.rows.map((r) => r.tr));
    if (focused && !this.body.contains(document.activeElement)) byId.get(focused)?.tr.querySelector('button')?.focus();
    if (shown.length === 0) replace(this.body, h('tr', {}, h('td', { colspan: '8' }, 'No agents yet: send the mayor a message or dispatch one.')));
    replace(this.note, ended.length > ENDED_SHOWN ? `${ended.length - ENDED_SHOWN} older ended agents not shown.` : '');
    this.tick(now);
  }

  tick(now) {
    for (const row of this.rows) row.tick(now);
  }

  #row(agent, current) {
    const isLive = LIVE_STATUSES.has(agent.status);
    const name = agentName(agent);
    const expires = Date.parse(agent.tokenExpiresAt ?? '');
    const issued = current?.to === expires ? current.from : Date.parse(agent.tokenRefreshedAt ?? agent.startedAt ?? agent.createdAt ?? '');
    const lifetime = Number.isFinite(expires) && Number.isFinite(issued) && expires > issued ? expires - issued : 0;
    const meter = h('meter', { min: '0', max: String(lifetime || 1), low: String(lifetime * 0.2), high: String(lifetime * 0.5), optimum: String(lifetime || 1), value: '0', 'aria-label': `Token life left, ${name}` });
    const left = h('span', { class: 'left' });
    const refreshed = h('span');
    const heartbeat = h('span');
    const tokenCell = isLive && Number.isFinite(expires) ? h('td', { class: 'token', 'data-label': 'Token left' }, meter, ' ', left, h('span', { class: 'gen' }, ` gen ${agent.tokenGen}`)) : h('td', { class: 'token', 'data-label': 'Token' }, isLive ? 'no token yet' : `ended${agent.endReason ? `: ${agent.endReason}` : ''}`);
    const stop = isLive
      ? h('button', { type: 'button', class: 'stop', 'aria-label': `Stop ${name}`, onclick: () => this.onStop(agent) }, 'Stop')
      : '';
    const tr = h(
      'tr',
      { class: `agent status-${agent.status}${isLive ? '' : ' ended'}`, dataset: { agentId: agent.id, role: agent.role, status: agent.status } },
      h('th', { scope: 'row' }, h('span', { class: 'role' }, agent.role), ' ', h('code', { title: agent.id }, `·${shortId(agent.id)}`), h('span', { class: 'runtime' }, ` ${agent.runtime}`)),
      h('td', { 'data-label': 'Status' }, h('span', { class: `badge status-${agent.status}` }, agent.status === 'stalled' ? '⚠ stalled' : agent.status)),
      tokenCell,
      h('td', { class: 'refreshed', 'data-label': 'Last refresh' }, refreshed),
      h('td', { class: 'refresh-count', 'data-label': 'Refreshes' }, String(agent.refreshCount), agent.refreshFailures ? h('span', { class: 'warn' }, ` (${agent.refreshFailures} failed)`) : ''),
      h('td', { class: 'heartbeat', 'data-label': 'Heartbeat' }, heartbeat),
      h('td', { class: 'events', 'data-label': 'Events stored' }, String(agent.eventsStored), agent.eventsTrimmed ? h('span', { class: 'warn' }, ` (${agent.eventsTrimmed} trimmed)`) : ''),
      h('td', { class: 'action' }, stop),
    );
    return {
      tr,
      tick(now) {
        if (Number.isFinite(expires)) {
          const ms = expires - now;
          meter.value = Math.max(0, ms);
          tr.dataset.remainingMs = String(Math.round(ms));
          replace(left, ms > 0 ? remaining(ms) : 'expired');
          left.classList.toggle('expired', ms <= 0);
        }
        replace(refreshed, agent.tokenRefreshedAt ? ago(agent.tokenRefreshedAt, now) : 'not yet');
        replace(heartbeat, isLive || agent.lastHeartbeatAt ? ago(agent.lastHeartbeatAt, now) : '');
      },
    };
  }
}

function byRole(a, b) {
  return (ROLE_ORDER[a.role] ?? 9) - (ROLE_ORDER[b.role] ?? 9) || Date.parse(a.createdAt) - Date.parse(b.createdAt);
}
