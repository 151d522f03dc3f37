import { h, replace, shortId } from '../lib/dom.js';

const ROLES = ['polecat', 'refinery', 'mayor'];
const RUNTIMES = ['builtin', 'claude-code', 'codex', 'opencode'];

/**
 * The town's actions: dispatch an agent (rig, role, runtime), refresh every token now,
 * add a rig, stop an agent. Each says what happened in the feedback line, or the API's
 * `error.code` and `error.message`.
 */
export class TownActions {
  /** @param {{session: import('../lib/session.js').Session, townId: string, changed: () => void}} options */
  constructor({ session, townId, changed }) {
    this.session = session;
    this.base = `/api/towns/${encodeURIComponent(townId)}`;
    this.changed = changed;
    this.feedback = h('p', { class: 'feedback', id: 'action-feedback', role: 'status', 'aria-live': 'polite' });
    this.rig = h('select', { id: 'dispatch-rig', name: 'rig', required: true });
    this.role = h('select', { id: 'dispatch-role', name: 'role' }, ...ROLES.map((r) => h('option', { value: r }, r)));
    this.runtime = h('select', { id: 'dispatch-runtime', name: 'runtime' });
    this.rigName = h('input', { id: 'rig-name', name: 'name', required: true, maxlength: '100', autocomplete: 'off' });
    this.refreshButton = h('button', { type: 'button', id: 'refresh-now', onclick: () => this.refreshNow() }, 'Refresh all tokens now');
    this.dispatchForm = h(
      'form',
      { class: 'inline-form', id: 'dispatch-form', onsubmit: (e) => this.#dispatch(e) },
      h('fieldset', {}, h('legend', {}, 'Dispatch an agent'), field('dispatch-rig', 'Rig', this.rig), field('dispatch-role', 'Role', this.role), field('dispatch-runtime', 'Runtime', this.runtime), h('button', { type: 'submit' }, 'Dispatch')),
    );
    this.rigForm = h('form', { class: 'inline-form', id: 'rig-form', onsubmit: (e) => this.#createRig(e) }, h('fieldset', {}, h('legend', {}, 'Add a rig'), field('rig-name', 'Name', this.rigName), h('button', { type: 'submit' }, 'Add rig')));
    this.el = h('div', { class: 'actions' }, this.dispatchForm, h('div', { class: 'refresh-now' }, this.refreshButton), this.rigForm, this.feedback);
  }

  /** Keeps the rig and runtime choices in step with the town view. */
  update(view) {
    const rigValue = this.rig.value;
    replace(this.rig, ...(view.rigs.length ? view.rigs.map((r) => h('option', { value: r.id }, r.name)) : [h('option', { value: '' }, 'no rig yet: add one')]));
    if (view.rigs.some((r) => r.id === rigValue)) this.rig.value = rigValue;
    const runtimeValue = this.runtime.value;
    replace(this.runtime, h('option', { value: '' }, `town default (${view.defaultRuntime ?? 'builtin'})`), ...RUNTIMES.map((r) => h('option', { value: r }, r)));
    this.runtime.value = runtimeValue;
  }

  /** Shows what an action did, or its error as the API gave it. */
  say(text, error) {
    this.feedback.classList.toggle('error', Boolean(error));
    this.feedback.setAttribute('role', error ? 'alert' : 'status');
    this.feedback.dataset.outcome = error ? 'error' : 'ok';
    replace(this.feedback, error ? `${text}: ${error}` : text);
  }

  async refreshNow() {
    this.refreshButton.disabled = true;
    this.say('Refreshing every live agent’s token…');
    try {
      const r = await this.session.request('POST', `${this.base}/refresh-tokens`);
      this.say(`Refresh pass: ${r.refreshed} refreshed, ${r.failed} failed, ${r.restarted} restarted.`);
      this.changed();
    } catch (err) {
      this.say('Refresh failed', err);
    } finally {
      this.refreshButton.disabled = false;
    }
  }

  async stop(agent) {
    const name = `${agent.role} ·${shortId(agent.id)}`;
    this.say(`Stopping ${name}…`);
    try {
      await this.session.request('POST', `${this.base}/agents/${encodeURIComponent(agent.id)}/stop`);
      this.say(`Stopped ${name}.`);
      this.changed();
    } catch (err) {
      this.say(`Stopping ${name} failed`, err);
    }
  }

  async #dispatch(event) {
    event.preventDefault();
    const body = { role: this.role.value };
    if (this.runtime.value) body.runtime = this.runtime.value;
    await this.#submit(event.currentTarget, 'Dispatch', async () => {
      const agent = await this.session.request('POST', `${this.base}/rigs/${encodeURIComponent(this.rig.value)}/agents`, body);
      this.say(`Dispatched ${agent.role} ·${shortId(agent.id)} (${agent.status}).`);
    });
  }

  async #createRig(event) {
    event.preventDefault();
    await this.#submit(event.currentTarget, 'Adding the rig', async () => {
      const rig = await this.session.request('POST', `${this.base}/rigs`, { name: this.rigName.value });
      this.rigName.value = '';
      this.say(`Added rig ${rig.name}.`);
    });
  }

  async #submit(form, what, action) {
    const button = form.querySelector('button[type="submit"]');
    button.disabled = true;
    try {
      await action();
      this.changed();
    } catch (err) {
      this.say(`${what} failed`, err);
    } finally {
      button.disabled = false;
    }
  }
}

function field(id, text, control) {
  return h('span', { class: 'field' }, h('label', { for: id }, text), control);
}
