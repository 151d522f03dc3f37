import { h, replace, shortId } from '../lib/dom.js';
import { agentName } from './agents-table.js';

/** Mail kept on screen at most (newest first). */
const KEPT = 200;

/**
 * Mail between agents, as the town stream reports it (`mail.sent`: from, to, subject,
 * bead). There is no user route listing mail yet, so what the page shows is what the
 * stream has retained.
 */
export class MailList {
  constructor() {
    this.items = [];
    this.list = h('ol', { class: 'mail', id: 'mail', reversed: true });
    this.el = h('div', {}, this.list);
    this.render(new Map());
  }

  add(event) {
    this.items.unshift({ id: event.id, ...event.data });
    if (this.items.length > KEPT) this.items.length = KEPT;
  }

  render(agentById) {
    const who = (id) => agentName(agentById.get(id), id);
    if (this.items.length === 0) {
      replace(this.list, h('li', { class: 'empty' }, 'No mail yet.'));
      return;
    }
    replace(
      this.list,
      ...this.items.map((m) =>
        h('li', { dataset: { mailId: m.mailId ?? '' } }, h('span', { class: 'who' }, `${who(m.from)} → ${who(m.to)}`), ': ', h('span', { class: 'subject' }, m.subject ?? ''), m.beadId ? h('span', { class: 'meta' }, ` · bead ${shortId(m.beadId)}`) : ''),
      ),
    );
  }
}
