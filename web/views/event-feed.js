import { h, replace, shortId } from '../lib/dom.js';
import { agentName } from './agents-table.js';

/** Feed entries kept on screen (newest first); older ones are removed, never re-fetched. */
export const FEED_KEPT = 2_000;

/**
 * The live event feed: one entry per town event, newest first, each once (the stream
 * de-duplicates by id), and a marker where the server said events were trimmed before
 * this page read them. The status line says whether the stream is live.
 */
export class EventFeed {
  constructor() {
    this.status = h('p', { class: 'feed-status', id: 'feed-status', role: 'status' });
    this.list = h('ol', { class: 'feed', id: 'feed', reversed: true, dataset: { kept: String(FEED_KEPT) } });
    this.el = h('div', {}, this.status, h('div', { class: 'feed-scroll', tabindex: '0', role: 'region', 'aria-label': 'Town events, newest first' }, this.list));
  }

  /** @param {{id: number, type: string, data: any}} event @param {Map<string, object>} agentById */
  add(event, agentById) {
    this.list.prepend(
      h('li', { class: `event type-${event.type.replace(/[^a-z0-9]+/gi, '-')}`, dataset: { eventId: String(event.id), type: event.type } }, h('span', { class: 'id' }, `#${event.id}`), ' ', h('span', { class: 'type' }, event.type), ' ', h('span', { class: 'summary' }, summarize(event, agentById))),
    );
    while (this.list.children.length > FEED_KEPT) this.list.lastElementChild.remove();
  }

  /** The server trimmed events between `after` and `oldest` before this page read them. */
  gap({ after, oldest }) {
    this.list.prepend(h('li', { class: 'gap', role: 'note', dataset: { after: String(after), oldest: String(oldest) } }, `Events #${Number(after) + 1}–#${Number(oldest) - 1} were trimmed by the server before this page read them.`));
  }

  /** @param {import('../lib/event-stream.js').TownEventStream} stream */
  showStatus(stream) {
    const st = stream.stats;
    const text = stream.status === 'open' ? 'Live' : stream.status === 'connecting' ? 'Connecting…' : stream.status === 'stopped' ? `Stopped${stream.detail ? `: ${stream.detail}` : ''}` : `Reconnecting: ${stream.detail}`;
    replace(this.status, h('span', { class: `dot ${stream.status}` }), ` ${text} · ${st.delivered} events · ${st.connections} connection${st.connections === 1 ? '' : 's'}${st.duplicates ? ` · ${st.duplicates} repeats skipped` : ''}${st.gaps ? ` · ${st.gaps} gaps` : ''}`);
    Object.assign(this.status.dataset, { state: stream.status, delivered: String(st.delivered), duplicates: String(st.duplicates), connections: String(st.connections), gaps: String(st.gaps), lastId: String(stream.lastId) });
  }
}

/** One line saying what an event means. */
export function summarize({ type, data }, agentById) {
  const d = data ?? {};
  const who = (id) => agentName(agentById.get(id), id);
  switch (type) {
    case 'agent.started':
      return `${d.role ?? 'agent'} ·${shortId(d.agentId)} started${d.runtime ? ` (${d.runtime})` : ''}${d.adopted ? ', adopted' : ''}`;
    case 'agent.stopped':
    case 'agent.exited':
      return `${d.role ?? 'agent'} ·${shortId(d.agentId)} ${type.slice(6)}`;
    case 'agent.failed':
      return `${d.role ?? 'agent'} ·${shortId(d.agentId)} failed: ${d.reason ?? ''}`;
    case 'agent.completed':
      return `${d.role ?? 'agent'} ·${shortId(d.agentId)} completed (${d.status})`;
    case 'agent.restarting':
      return `${d.role ?? 'agent'} ·${shortId(d.agentId)} restarting (${d.reason}, restart ${d.restarts})`;
    case 'agent.events':
      return `${who(d.agentId)} stored ${d.count} event${d.count === 1 ? '' : 's'}${d.types?.length ? ` (${d.types.join(', ')})` : ''}`;
    case 'tokens.refreshed':
      return `refresh pass: ${d.refreshed} refreshed, ${d.failed} failed, ${d.restarted} restarted`;
    case 'agent.token.reminted':
      return `${who(d.agentId)}: token re-minted after a 401`;
    case 'agent.token.superseded':
      return `${who(d.agentId)}: token superseded (gen ${d.gen})`;
    case 'bead.created':
      return `bead ${shortId(d.beadId)} “${d.title ?? ''}” filed by ${who(d.createdBy)}`;
    case 'bead.updated':
      return `bead ${shortId(d.beadId)} → ${d.status}${d.assignee ? ` (${who(d.assignee)})` : ''}${d.outcome ? ` (${d.outcome})` : ''}`;
    case 'mail.sent':
      return `mail ${who(d.from)} → ${who(d.to)}: ${d.subject ?? ''}`;
    case 'mayor.message':
      return `you wrote to the mayor (${d.length} characters)`;
    case 'mayor.reply':
      return `the mayor replied (${d.length} characters)`;
    case 'events.dropped':
      return `${who(d.agentId)}: ${d.count} ${d.kind} dropped (${d.cause})`;
    case 'events.trimmed':
      return `${who(d.agentId)}: ${d.events} old events trimmed (${d.bytes} bytes)`;
    default:
      return JSON.stringify(d).slice(0, 200);
  }
}
