import { h, replace } from '../lib/dom.js';

/**
 * The sign-in form: the client credentials go once to `POST /api/session`; the browser
 * then keeps an HttpOnly session the page never sees.
 */
export function signInView(root, session) {
  const id = h('input', { id: 'client-id', name: 'client_id', required: true, autocomplete: 'username', spellcheck: 'false', autocapitalize: 'off' });
  const secret = h('input', { id: 'client-secret', name: 'client_secret', type: 'password', required: true, autocomplete: 'current-password' });
  const button = h('button', { type: 'submit' }, 'Sign in');
  const error = h('p', { class: 'error', id: 'sign-in-error', role: 'alert' }, session.endedBecause && session.endedBecause !== 'signed out' ? session.endedBecause : '');
  const form = h(
    'form',
    // should the handler below ever fail to take the submit, the browser posts the form: the secret goes in a body, never a URL
    { class: 'sign-in', id: 'sign-in', method: 'post', action: '/api/session', onsubmit: submit },
    h('p', { class: 'field' }, h('label', { for: 'client-id' }, 'Client id'), id),
    h('p', { class: 'field' }, h('label', { for: 'client-secret' }, 'Client secret'), secret),
    button,
    error,
  );
  replace(
    root,
    h(
      'section',
      { class: 'panel narrow', 'aria-labelledby': 'sign-in-heading' },
      h('h1', { id: 'sign-in-heading' }, 'Sign in to Gastown'),
      h('p', {}, 'Use this Gastown’s client credentials (GASTOWN_CLIENT_ID and GASTOWN_CLIENT_SECRET). They are sent once; the browser then keeps a session cookie that this page renews before it expires and cannot read.'),
      form,
    ),
  );
  id.focus();

  async function submit(event) {
    event.preventDefault();
    button.disabled = true;
    replace(error, '');
    try {
      await session.signIn(id.value.trim(), secret.value);
      secret.value = '';
    } catch (err) {
      replace(error, String(err));
      secret.select();
    } finally {
      button.disabled = false;
    }
  }

  return { destroy() {} };
}
