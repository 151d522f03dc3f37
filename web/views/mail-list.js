import { h, replace, shortId } from '../lib/dom.js';
import { agentName } from './agents-table.js';

/**
 * Mail between agents, newest first, as `GET /api/towns/:id/mail` lists it (from, to,
 * subject, bead, and whether its recipient has acknowledged it).
 */
export class MailList {
  constructor() {
    this.items = [];
    this.list = h('ol', { class: 'mail', id: 'mail', reversed: true });
    this.el = h('div', {}, this.list);
    this.render(new Map());
  }

  /** @param {Array<object>} mail the route's list */
  set(mail) {
    this.items = mail.map((m) => ({ ...m, mailId: m.id }));
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
        h('li', { dataset: { mailId: m.mailId ?? '' } }, h('span', { class: 'who' }, `${who(m.from)} → ${who(m.to)}`), ': ', h('span', { class: 'subject' }, m.subject ?? ''), m.beadId ? h('span', { class: 'meta' }, ` · bead ${shortId(m.beadId)}`) : '', h('span', { class: 'meta' }, m.readAt ? ' · read' : ' · unread')),
      ),
    );
  }
}
