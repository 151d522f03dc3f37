import { clock, h, replace, shortId } from '../lib/dom.js';

/** Messages kept on screen at most. */
const KEPT = 300;

/**
 * The mayor conversation: messages in order (loaded after the last one shown), and a box
 * to send one. Replies appear when the town stream says the mayor replied.
 */
export class MayorChat {
  /** @param {{session: import('../lib/session.js').Session, townId: string, feedback: (text: string, error?: unknown) => void}} options */
  constructor({ session, townId, feedback }) {
    this.session = session;
    this.base = `/api/towns/${encodeURIComponent(townId)}/mayor/messages`;
    this.feedback = feedback;
    this.lastId = 0;
    this.list = h('ol', { class: 'chat', id: 'mayor-messages', 'aria-live': 'polite', 'aria-relevant': 'additions' });
    this.text = h('textarea', { id: 'mayor-text', name: 'text', rows: '2', required: true, maxlength: '20000', placeholder: 'Ask the mayor for something…' });
    this.send = h('button', { type: 'submit' }, 'Send');
    this.status = h('p', { class: 'form-status', role: 'status', id: 'mayor-status' });
    this.text.addEventListener('keydown', (e) => {
      if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) this.form.requestSubmit();
    });
    this.form = h(
      'form',
      { class: 'chat-form', onsubmit: (e) => this.#submit(e) },
      h('label', { for: 'mayor-text' }, 'Message to the mayor ', h('span', { class: 'hint' }, '(Ctrl+Enter sends)')),
      this.text,
      this.send,
      this.status,
    );
    this.el = h('div', {}, this.list, this.form);
  }

  /** Loads the messages after the last one shown. */
  async load() {
    for (;;) {
      const { messages } = await this.session.request('GET', `${this.base}?after=${this.lastId}&limit=100`);
      for (const m of messages) this.#add(m);
      if (messages.length < 100) return;
    }
  }

  #add(m) {
    if (m.id <= this.lastId) return;
    this.lastId = m.id;
    this.list.append(
      h('li', { class: `from-${m.from}`, dataset: { messageId: String(m.id), from: m.from } }, h('span', { class: 'who' }, m.from === 'user' ? 'You' : 'Mayor'), ' ', h('time', { datetime: m.at }, clock(Date.parse(m.at))), h('p', {}, m.text)),
    );
    while (this.list.children.length > KEPT) this.list.firstElementChild.remove();
    this.list.scrollTop = this.list.scrollHeight;
  }

  async #submit(event) {
    event.preventDefault();
    const text = this.text.value.trim();
    if (!text) return;
    this.send.disabled = true;
    replace(this.status, 'Sending…');
    try {
      const res = await this.session.request('POST', this.base, { text });
      this.text.value = '';
      const said = res.delivered ? `Delivered to mayor ·${shortId(res.agentId)} (${res.status}).` : `Kept for mayor ·${shortId(res.agentId)} (${res.status}); it is delivered when the mayor is up.`;
      replace(this.status, said);
      this.feedback(said);
      await this.load();
    } catch (err) {
      replace(this.status, h('span', { class: 'error', role: 'alert' }, String(err)));
    } finally {
      this.send.disabled = false;
    }
  }
}
