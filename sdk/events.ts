import { createParser, type EventSourceMessage } from 'eventsource-parser';
import { errorFromResponse, GastownError, isAbortError } from './errors.ts';
import type { Transport } from './transport.ts';
import type { GapEvent, TownStreamEvent, TownStreamItem } from './types.ts';

/** Options of {@link townEvents}. */
export interface TownEventsOptions {
  /** Ends the iteration (without an error) and closes the connection. */
  signal?: AbortSignal;
  /** Resume after this event id (sent as `Last-Event-ID`); by default the server replays what it retains. */
  lastEventId?: number;
  /** Reconnect delays: `initialMs` doubling per consecutive failure up to `maxMs`, with jitter. */
  backoff?: { initialMs?: number; maxMs?: number };
  /** A connection silent this long (no event, no keep-alive) is dropped and reopened. */
  idleTimeoutMs?: number;
  /** Consecutive 401s (each already after a token refresh) before giving up. */
  maxUnauthorized?: number;
  /** Waits between reconnects; resolves early when `signal` aborts. Inject to control time. */
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  /** Told before each reconnect: why, and how long it waits. */
  onReconnect?: (info: ReconnectInfo) => void;
}

/** Why the stream reconnects. */
export interface ReconnectInfo {
  /** Consecutive failed or ended connections (1 after a stream that worked and ended). */
  attempt: number;
  delayMs: number;
  reason: 'ended' | 'idle' | 'unauthorized' | 'http_error' | 'network_error';
  error?: GastownError;
  /** The id the next connection resumes after. */
  lastEventId: number | null;
}

export const DEFAULT_BACKOFF = { initialMs: 250, maxMs: 30_000 };
/** Three keep-alive periods of the Worker (25 s) and some. */
export const DEFAULT_IDLE_TIMEOUT_MS = 90_000;

/** Type guard for the gap marker among stream items. */
export function isGap(item: TownStreamItem): item is GapEvent {
  return item.type === 'gap' && !('id' in item);
}

/**
 * The town's Server-Sent Events as an async iterator that outlives tokens and connections.
 *
 * - Each connection takes the token source's current token; a 401 is retried once by the
 *   transport with a fresh token, and reconnects otherwise.
 * - A stream that ends, fails or goes silent is reopened with `Last-Event-ID` after a
 *   capped, jittered backoff (reset by the next event or keep-alive). The server's `retry:`
 *   hint is not used: resuming by id loses nothing, so reconnecting at once is safe.
 * - Ids are strictly increasing: an id at or below the last one yielded is a replay and is
 *   skipped, so no event is yielded twice.
 * - When the server says it no longer has every event after our id (an `event: gap` frame),
 *   a {@link GapEvent} is yielded before the replay continues: nothing is skipped silently.
 *   Frames without an id other than `gap` are not town events and are not yielded.
 * - 400/403/404 and similar are thrown as {@link GastownError}; 429, 5xx and network
 *   failures are retried for as long as the iteration runs.
 * - Breaking out of the loop, or aborting `signal`, closes the connection; an abort ends
 *   the iteration without an error.
 */
export async function* townEvents(transport: Transport, townId: string, options: TownEventsOptions = {}): AsyncGenerator<TownStreamItem, void, undefined> {
  const outer = options.signal;
  const initialMs = options.backoff?.initialMs ?? DEFAULT_BACKOFF.initialMs;
  const maxMs = options.backoff?.maxMs ?? DEFAULT_BACKOFF.maxMs;
  const maxUnauthorized = options.maxUnauthorized ?? 3;
  const sleep = options.sleep ?? abortableSleep;
  const state: StreamState = {
    path: `/api/towns/${encodeURIComponent(townId)}/events`,
    idleTimeoutMs: options.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS,
    lastId: options.lastEventId ?? null,
    lastGap: null,
    failures: 0,
  };
  let unauthorized = 0;
  while (!outer?.aborted) {
    const ended = yield* connectOnce(transport, state, outer);
    if (ended === null || outer?.aborted) return;
    // A 401 here came after the transport's own refresh and retry: the new token was refused too.
    if (ended.reason !== 'unauthorized') unauthorized = 0;
    else if (++unauthorized >= maxUnauthorized) throw ended.error!;
    state.failures++;
    const firstUnauthorized = ended.reason === 'unauthorized' && unauthorized === 1;
    const delayMs = Math.max(ended.retryAfterMs, firstUnauthorized ? 0 : jittered(initialMs, maxMs, state.failures));
    options.onReconnect?.({ attempt: state.failures, delayMs, reason: ended.reason, ...(ended.error ? { error: ended.error } : {}), lastEventId: state.lastId });
    await sleep(delayMs, outer);
  }
}

interface StreamState {
  readonly path: string;
  readonly idleTimeoutMs: number;
  /** Id of the last event yielded: anything at or below it is a replay. */
  lastId: number | null;
  lastGap: GapEvent | null;
  /** Consecutive connections that ended without an event or keep-alive. */
  failures: number;
}

interface Ended {
  reason: ReconnectInfo['reason'];
  error?: GastownError;
  retryAfterMs: number;
}

/**
 * One connection: yields its new events, returns why it ended (null when the caller
 * aborted), throws what is not worth retrying. Always closes what it opened.
 */
async function* connectOnce(transport: Transport, state: StreamState, outer: AbortSignal | undefined): AsyncGenerator<TownStreamItem, Ended | null, undefined> {
  const connection = new AbortController();
  const abort = () => connection.abort();
  outer?.addEventListener('abort', abort, { once: true });
  let idle: ReturnType<typeof setTimeout> | undefined;
  let idled = false;
  let reader: ReadableStreamDefaultReader<Uint8Array> | undefined;
  try {
    const headers: Record<string, string> = { accept: 'text/event-stream', 'cache-control': 'no-cache' };
    if (state.lastId !== null) headers['last-event-id'] = String(state.lastId);
    let res: Response;
    try {
      res = await transport.send('GET', state.path, { headers, signal: connection.signal });
    } catch (err) {
      if (outer?.aborted) return null;
      // aborted by something other than our caller (a proxy, an injected fetch): a broken connection
      if (isAbortError(err)) return { reason: 'network_error', error: new GastownError(0, 'network_error', 'the event stream request was aborted'), retryAfterMs: 0 };
      if (!(err instanceof GastownError) || !isTransient(err)) throw err;
      return { reason: 'network_error', error: err, retryAfterMs: (err.retryAfter ?? 0) * 1000 };
    }
    if (res.status === 401) return { reason: 'unauthorized', error: await errorFromResponse(res, Date.now()), retryAfterMs: 0 };
    if (!res.ok || !res.body) {
      const error = res.ok ? new GastownError(res.status, 'invalid_response', 'the event stream has no body') : await errorFromResponse(res, Date.now());
      if (!isTransient(error)) throw error;
      return { reason: 'http_error', error, retryAfterMs: (error.retryAfter ?? 0) * 1000 };
    }

    const ready: TownStreamItem[] = [];
    const parser = createParser({
      onEvent: (message) => {
        const item = toItem(message);
        if (item) ready.push(item);
      },
      onComment: () => {
        state.failures = 0;
      },
    });
    const armIdle = () => {
      clearTimeout(idle);
      idle = setTimeout(() => {
        idled = true;
        connection.abort();
      }, state.idleTimeoutMs);
    };
    reader = res.body.getReader();
    const decoder = new TextDecoder();
    armIdle();
    for (;;) {
      let chunk: Awaited<ReturnType<typeof reader.read>>;
      try {
        chunk = await reader.read();
      } catch (err) {
        if (outer?.aborted) return null;
        if (idled) return { reason: 'idle', retryAfterMs: 0 };
        const message = err instanceof Error ? err.message : String(err);
        return { reason: 'network_error', error: new GastownError(0, 'network_error', `the event stream broke: ${message}`), retryAfterMs: 0 };
      }
      if (chunk.done) return { reason: 'ended', retryAfterMs: 0 };
      armIdle();
      parser.feed(decoder.decode(chunk.value, { stream: true }));
      for (const item of ready.splice(0)) {
        if (isGap(item)) {
          if (state.lastGap && state.lastGap.after === item.after && state.lastGap.oldest === item.oldest) continue;
          state.lastGap = item;
        } else {
          if (state.lastId !== null && item.id <= state.lastId) continue;
          state.lastId = item.id;
        }
        state.failures = 0;
        yield item;
      }
    }
  } finally {
    clearTimeout(idle);
    outer?.removeEventListener('abort', abort);
    connection.abort();
    reader?.cancel().catch(() => {});
  }
}

function toItem(message: EventSourceMessage): TownStreamItem | undefined {
  const data = parseData(message.data);
  if (message.event === 'gap' && message.id === undefined) {
    const gap = data as { after?: unknown; oldest?: unknown };
    return { type: 'gap', after: Number(gap?.after), oldest: Number(gap?.oldest) };
  }
  const id = Number(message.id);
  if (message.id === undefined || message.id === '' || !Number.isSafeInteger(id)) return undefined;
  const event: TownStreamEvent = { id, type: message.event ?? 'message', data };
  return event;
}

function parseData(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/** Worth retrying: no response, a timeout, a rate limit, or a server-side failure. */
function isTransient(err: GastownError): boolean {
  return err.status === 0 || err.status === 408 || err.status === 429 || err.status >= 500;
}

function jittered(initialMs: number, maxMs: number, attempt: number): number {
  const full = Math.min(maxMs, initialMs * 2 ** Math.min(attempt - 1, 30));
  return Math.round(full / 2 + Math.random() * (full / 2));
}

/** `setTimeout` as a promise that resolves early when `signal` aborts. */
export function abortableSleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (ms <= 0 || signal?.aborted) return resolve();
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
  });
}
