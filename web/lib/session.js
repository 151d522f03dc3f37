import { ApiError, networkError, readJson } from './api-error.js';
import { refreshDue, retryDelayMs, sessionTiming } from './policy.js';

/** Marks that this browser had a session, so a reload past the access cookie's expiry renews it (a time, never a token). */
const HINT_KEY = 'gastown.sessionUntil';
const JSON_HEADERS = { accept: 'application/json' };

/**
 * The page's session. The browser holds two HttpOnly cookies the page cannot read; this
 * keeps only when the access cookie expires (on the page's clock) and renews it before
 * then: when less than the smaller of 5 minutes or a fifth of its lifetime remains
 * (policy.js), one renewal at a time. A call answered 401 renews once (unless a renewal
 * finished since it was sent) and is sent once more; a renewal answered 401 ends the
 * session here (state `signed-out`). A renewal that gets no answer is retried with backoff.
 *
 * Events: `change` (state or timing changed), `renewed` (a new access cookie: detail is
 * the renewal count).
 */
export class Session extends EventTarget {
  /** @type {'unknown' | 'signed-out' | 'signed-in'} */
  state = 'unknown';
  /** @type {{expiresAt: number, refreshAt: number, lifetimeMs: number} | null} */
  timing = null;
  /** Why the session ended, for the sign-in form. */
  endedBecause = '';
  /** Renewals since the page loaded. */
  renewals = 0;
  /** Increases with every new access cookie. */
  epoch = 0;
  /** The last renewal error, while renewals fail without ending the session. */
  lastError = null;
  #inflight = null;
  #timer = null;
  #failures = 0;
  #fetch;
  #now;
  #timers;
  #storage;

  /**
   * @param {{fetch?: typeof fetch, now?: () => number, timers?: {set: Function, clear: Function}, storage?: Storage | null}} options
   *   injectable for tests; defaults are the browser's.
   */
  constructor(options = {}) {
    super();
    this.#fetch = options.fetch ?? ((input, init) => globalThis.fetch(input, init));
    this.#now = options.now ?? Date.now;
    this.#timers = options.timers ?? { set: (fn, ms) => setTimeout(fn, ms), clear: (id) => clearTimeout(id) };
    this.#storage = options.storage === undefined ? globalThis.localStorage ?? null : options.storage;
  }

  /** Finds out whether the browser is signed in (never a 401), and if so renews to learn the cookie's lifetime. */
  async start() {
    const body = await readJson(await this.#fetch('/api/session', { headers: JSON_HEADERS, cache: 'no-store' }).catch((err) => Promise.reject(networkError(err))));
    if (body?.signedIn || this.#hadSession()) await this.refresh();
    else this.#end('');
  }

  /** Signs in with the client credentials (same origin; the answer sets the cookies). */
  async signIn(clientId, clientSecret) {
    const sentAt = this.#now();
    const res = await this.#fetch('/api/session', {
      method: 'POST',
      headers: { ...JSON_HEADERS, 'content-type': 'application/json' },
      body: JSON.stringify({ client_id: clientId, client_secret: clientSecret }),
    }).catch((err) => Promise.reject(networkError(err)));
    this.#accept(sentAt, await readJson(res), false);
  }

  /** Ends the session at the server and here. */
  async signOut() {
    try {
      await readJson(await this.#fetch('/api/session/sign-out', { method: 'POST', headers: JSON_HEADERS }));
    } finally {
      this.#end('signed out');
    }
  }

  /**
   * Renews the access cookie; concurrent callers share one renewal. Resolves true when
   * renewed, false when the session has ended; rejects when the server gave no usable
   * answer (a retry is then scheduled).
   */
  refresh() {
    this.#inflight ??= this.#renew().finally(() => {
      this.#inflight = null;
    });
    return this.#inflight;
  }

  /** Renews now if it is due (a timer may fire late after sleep or in a background tab). */
  check() {
    if (this.state === 'signed-in' && !this.#inflight && refreshDue(this.timing, this.#now())) this.refresh().catch(() => {});
  }

  /**
   * A request with the session: a 401 renews once and sends it once more. Returns the
   * Response (the caller reads it); a request that gets no answer rejects with an ApiError.
   */
  async fetch(path, init = {}) {
    const epoch = this.epoch;
    const first = await this.#send(path, init);
    if (first.status !== 401 || this.state !== 'signed-in') return first;
    const renewed = this.epoch !== epoch || (await this.refresh().catch(() => false));
    if (!renewed || this.state !== 'signed-in') return first;
    await first.body?.cancel().catch(() => {});
    return this.#send(path, init);
  }

  /** A JSON API call: the answer's body, or an ApiError with the API's code and message. */
  async request(method, path, body) {
    const init = { method, headers: { ...JSON_HEADERS } };
    if (body !== undefined) {
      init.headers['content-type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    return readJson(await this.fetch(path, init));
  }

  async #send(path, init) {
    try {
      return await this.#fetch(path, init);
    } catch (err) {
      if (err?.name === 'AbortError') throw err;
      throw networkError(err);
    }
  }

  async #renew() {
    const sentAt = this.#now();
    let res;
    try {
      res = await this.#fetch('/api/session/refresh', { method: 'POST', headers: JSON_HEADERS });
    } catch (err) {
      throw this.#failed(networkError(err));
    }
    if (res.status === 401) {
      await res.body?.cancel().catch(() => {});
      this.#end('the session has ended; sign in again');
      return false;
    }
    try {
      this.#accept(sentAt, await readJson(res), true);
      return true;
    } catch (err) {
      throw this.#failed(err instanceof ApiError ? err : networkError(err));
    }
  }

  #accept(sentAt, body, renewal) {
    if (!body?.signedIn || !(body.lifetimeSeconds > 0)) throw new ApiError(200, 'bad_response', 'the session answer has no lifetime');
    this.timing = sessionTiming(sentAt, body.lifetimeSeconds);
    this.state = 'signed-in';
    this.endedBecause = '';
    this.lastError = null;
    this.#failures = 0;
    this.epoch++;
    if (renewal) this.renewals++;
    this.#remember(body.sessionExpiresAt);
    this.#schedule(this.timing.refreshAt - this.#now());
    this.dispatchEvent(new CustomEvent('renewed', { detail: this.renewals }));
    this.dispatchEvent(new Event('change'));
  }

  /** A renewal that failed without ending the session: try again, sooner than the cookie expires. */
  #failed(err) {
    this.lastError = err;
    this.#failures++;
    if (this.state === 'signed-in') {
      const left = (this.timing?.expiresAt ?? 0) - this.#now();
      this.#schedule(retryDelayMs(this.#failures, left > 0 ? left / 2 : undefined));
    }
    this.dispatchEvent(new Event('change'));
    return err;
  }

  #end(reason) {
    if (this.#timer !== null) this.#timers.clear(this.#timer);
    this.#timer = null;
    this.timing = null;
    this.state = 'signed-out';
    this.endedBecause = reason;
    this.#remember(null);
    this.dispatchEvent(new Event('change'));
  }

  #schedule(delayMs) {
    if (this.#timer !== null) this.#timers.clear(this.#timer);
    this.#timer = this.#timers.set(() => {
      this.#timer = null;
      this.refresh().catch(() => {});
    }, Math.max(0, delayMs));
  }

  #hadSession() {
    const until = Date.parse(this.#storage?.getItem(HINT_KEY) ?? '');
    return Number.isFinite(until) && until > this.#now();
  }

  #remember(sessionExpiresAt) {
    try {
      if (sessionExpiresAt) this.#storage?.setItem(HINT_KEY, sessionExpiresAt);
      else this.#storage?.removeItem(HINT_KEY);
    } catch {
      // storage may be unavailable (private mode); the hint only saves a sign-in after a reload
    }
  }
}
