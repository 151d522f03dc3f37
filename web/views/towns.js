import { ago, h, replace } from '../lib/dom.js';

/** The towns list, and a form to create one. */
export function townsView(root, session) {
  const list = h('ul', { class: 'towns', id: 'towns' }, h('li', {}, 'Loading…'));
  const name = h('input', { id: 'town-name', name: 'name', required: true, maxlength: '100', autocomplete: 'off' });
  const status = h('p', { class: 'form-status', role: 'status', id: 'town-form-status' });
  const button = h('button', { type: 'submit' }, 'Create town');
  let alive = true;
  replace(
    root,
    h(
      'section',
      { class: 'panel', 'aria-labelledby': 'towns-heading' },
      h('h1', { id: 'towns-heading' }, 'Towns'),
      list,
      h('form', { class: 'inline-form', id: 'town-form', onsubmit: create }, h('span', { class: 'field' }, h('label', { for: 'town-name' }, 'New town'), name), button, status),
    ),
  );
  document.title = 'Towns · Gastown';
  void load();

  async function load() {
    try {
      const { towns } = await session.request('GET', '/api/towns?limit=500');
      if (!alive) return;
      const now = Date.now();
      replace(list, ...(towns.length ? towns.map((t) => h('li', { dataset: { townId: t.id } }, h('a', { href: `#/towns/${encodeURIComponent(t.id)}` }, t.name), h('span', { class: 'meta' }, ` created ${ago(t.createdAt, now)}`))) : [h('li', {}, 'No towns yet.')]));
    } catch (err) {
      if (alive) replace(list, h('li', { class: 'error', role: 'alert' }, String(err)));
    }
  }

  async function create(event) {
    event.preventDefault();
    button.disabled = true;
    try {
      const town = await session.request('POST', '/api/towns', { name: name.value.trim() });
      location.hash = `#/towns/${encodeURIComponent(town.id)}`;
    } catch (err) {
      replace(status, h('span', { class: 'error' }, String(err)));
    } finally {
      button.disabled = false;
    }
  }

  return {
    destroy() {
      alive = false;
    },
  };
}
