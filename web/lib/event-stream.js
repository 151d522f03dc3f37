import { createParser } from '../vendor/eventsource-parser/parse.js';
import { retryAfterMs, retryDelayMs } from './policy.js';

/** Ids remembered for de-duplication (the server keeps 5,000 town events for replay). */
const SEEN_MAX = 10_000;
/** Wait before reconnecting after the server ended a stream, unless it said otherwise (`retry:`). */
const DEFAULT_RETRY_MS = 2_000;
/** Answers that asking again will not change (no such town, not this user's town). */
const PERMANENT = new Set([400, 403, 404]);

/**
 * A town's event stream (Server-Sent Events over `fetch`, so the session's 401 handling
 * applies and nothing is logged by a failed EventSource). Each connection asks for the
 * events after the last id it delivered (`Last-Event-ID`); every event is delivered once
 * (de-duplicated by id); a `gap` frame (events trimmed before they were read) is reported.
 * The server ends each connection when the access cookie it was opened with expires, and
 * says to come back at once (`retry: 0`): the next connection carries the cookie the
 * session has renewed meanwhile, so the page never cuts a connection itself. It
 * reconnects when the server ends the stream (after its `retry:`), when the network fails
 * (backoff), and after `Retry-After` on 429.
 */
export class TownEventStream extends EventTarget {
  /** Highest id delivered; the next connection resumes after it. */
  lastId = 0;
  /** Events delivered, duplicates skipped, connections made, gaps reported. */
  stats = { delivered: 0, duplicates: 0, connections: 0, gaps: 0 };
  /** @type {'connecting' | 'open' | 'waiting' | 'stopped'} */
  status = 'connecting';
  /** Why the stream is waiting, when it is. */
  detail = '';
  #seen = new Set();
  #session;
  #path;
  #controller = null;
  #stopped = false;
  #failures = 0;
  #retryMs = DEFAULT_RETRY_MS;
  #wake = null;
  #timers;

  /**
   * @param {import('./session.js').Session} session
   * @param {string} townId
   * @param {{onEvent: (e: {id: number, type: string, data: any}) => void, onGap: (gap: {after: number, oldest: number}) => void}} handlers
   * @param {{timers?: {set: Function, clear: Function}}} options injectable for tests; defaults are the browser's.
   */
  constructor(session, townId, handlers, options = {}) {
    super();
    this.#session = session;
    this.#path = `/api/towns/${encodeURIComponent(townId)}/events`;
    this.handlers = handlers;
    this.#timers = options.timers ?? { set: (fn, ms) => setTimeout(fn, ms), clear: (id) => clearTimeout(id) };
  }

  start() {
    void this.#run();
  }

  /** Ends the stream for good (the page leaves the town, or the session ended). */
  stop() {
    this.#stopped = true;
    this.#controller?.abort();
    this.#wake?.();
    this.#setStatus('stopped', '');
  }

  async #run() {
    while (!this.#stopped) {
      const controller = new AbortController();
      this.#controller = controller;
      let wait = 0;
      try {
        wait = await this.#connect(controller);
      } catch (err) {
        if (controller.signal.aborted) continue;
        this.#failures++;
        wait = retryDelayMs(this.#failures);
        this.#setStatus('waiting', `connection lost (${err?.message ?? err})`);
      }
      if (wait > 0 && !this.#stopped) await this.#sleep(wait);
    }
  }

  /** One connection, read to its end. Returns how long to wait before the next. */
  async #connect(controller) {
    this.#setStatus('connecting', '');
    const headers = { accept: 'text/event-stream' };
    if (this.lastId > 0) headers['last-event-id'] = String(this.lastId);
    const res = await this.#session.fetch(this.#path, { headers, signal: controller.signal, cache: 'no-store' });
    if (!res.ok) {
      const text = await res.text().catch(() => '');
      this.#failures++;
      if (this.#session.state !== 'signed-in') {
        this.#setStatus('waiting', 'signed out');
        this.#stopped = true;
        return 0;
      }
      const message = safeErrorMessage(text) ?? `HTTP ${res.status}`;
      if (PERMANENT.has(res.status)) {
        this.#stopped = true;
        this.#setStatus('stopped', message);
        return 0;
      }
      const wait = res.status === 429 ? retryAfterMs(res.headers.get('retry-after'), 5_000) : retryDelayMs(this.#failures);
      this.#setStatus('waiting', `${message}; retrying in ${Math.round(wait / 1000)} s`);
      return wait;
    }
    this.stats.connections++;
    this.#failures = 0;
    this.#setStatus('open', '');
    const parser = createParser({
      onEvent: (message) => {
        if (!controller.signal.aborted) this.#deliver(message);
      },
      onRetry: (ms) => {
        this.#retryMs = ms;
      },
    });
    const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        parser.feed(value);
      }
    } finally {
      reader.releaseLock();
    }
    this.#setStatus('waiting', 'the server ended the stream; resuming');
    return this.#retryMs;
  }

  #deliver({ id, event, data }) {
    if (event === 'gap') {
      this.stats.gaps++;
      this.handlers.onGap(parse(data) ?? {});
      return;
    }
    const n = Number(id);
    if (!Number.isInteger(n) || n <= 0) return;
    if (this.#seen.has(n) || n <= this.#oldestSeen()) {
      this.stats.duplicates++;
      return;
    }
    this.#remember(n);
    this.lastId = Math.max(this.lastId, n);
    this.stats.delivered++;
    this.handlers.onEvent({ id: n, type: event ?? 'message', data: parse(data) });
  }

  /** Below the remembered window every id counts as seen (ids only grow). */
  #oldestSeen() {
    return this.#seen.size >= SEEN_MAX ? this.#seen.values().next().value : 0;
  }

  #remember(n) {
    this.#seen.add(n);
    if (this.#seen.size > SEEN_MAX) this.#seen.delete(this.#seen.values().next().value);
  }

  #sleep(ms) {
    const timers = this.#timers;
    return new Promise((resolve) => {
      const timer = timers.set(done, ms);
      function done() {
        timers.clear(timer);
        resolve();
      }
      this.#wake = done;
    }).finally(() => {
      this.#wake = null;
    });
  }

  #setStatus(status, detail) {
    this.status = status;
    this.detail = detail;
    this.dispatchEvent(new Event('status'));
  }
}

function parse(data) {
  try {
    return JSON.parse(data);
  } catch {
    return null;
  }
}

function safeErrorMessage(text) {
  const body = parse(text);
  return body?.error ? `${body.error.code}: ${body.error.message}` : null;
}
