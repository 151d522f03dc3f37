import type { TownEvent } from '../storage/event-store';

const encoder = new TextEncoder();
const KEEPALIVE_MS = 25_000;
/**
 * Bytes queued for a subscriber and not yet read by it, past which a live event drops it:
 * a slow reader reconnects with `Last-Event-ID` and loses nothing, and the object never
 * buffers without bound. (The replay a subscriber starts with may be larger; it is the
 * retained log, already bounded.)
 */
export const MAX_UNREAD_BYTES = 4 * 1024 * 1024;

/** Formats one town event as an SSE frame. */
export function sseFrame(event: TownEvent): string {
  return `id: ${event.id}\nevent: ${event.type}\ndata: ${event.data}\n\n`;
}

/** One open stream: its queue is the stream's own, measured in bytes not yet read. */
interface Subscriber {
  controller: ReadableStreamDefaultController<Uint8Array>;
}

/**
 * Live SSE subscribers of one town. A subscriber is removed when its client goes away, a
 * write fails, or it falls MAX_UNREAD_BYTES behind; the keep-alive timer runs only while
 * someone listens: nothing here grows with time.
 */
export class EventHub {
  readonly #subscribers = new Set<Subscriber>();
  #keepalive: ReturnType<typeof setInterval> | null = null;

  get size(): number {
    return this.#subscribers.size;
  }

  /**
   * Opens a stream that first says whether events it asked for are gone (`gap`: no id, so
   * a reconnect still resumes after the last real id), replays `backlog`, then follows
   * live events.
   */
  subscribe(backlog: readonly TownEvent[], signal: AbortSignal | undefined, gap: { after: number; oldest: number } | null = null): Response {
    let subscriber!: Subscriber;
    const readable = new ReadableStream<Uint8Array>(
      {
        start: (controller) => {
          subscriber = { controller };
        },
        cancel: () => this.#drop(subscriber),
      },
      // desiredSize is then minus the bytes queued and not yet read
      new ByteLengthQueuingStrategy({ highWaterMark: 0 }),
    );
    this.#subscribers.add(subscriber);
    const head = `retry: 2000\n\n${gap ? `event: gap\ndata: ${JSON.stringify(gap)}\n\n` : ''}`;
    subscriber.controller.enqueue(encoder.encode(head + backlog.map(sseFrame).join('')));
    signal?.addEventListener('abort', () => this.#drop(subscriber));
    this.#keepalive ??= setInterval(() => this.#broadcast(': keep-alive\n\n'), KEEPALIVE_MS);
    return new Response(readable, {
      headers: { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' },
    });
  }

  publish(event: TownEvent): void {
    if (this.#subscribers.size > 0) this.#broadcast(sseFrame(event));
  }

  #broadcast(text: string): void {
    const bytes = encoder.encode(text);
    for (const subscriber of this.#subscribers) {
      const unread = -(subscriber.controller.desiredSize ?? 0);
      if (unread + bytes.byteLength > MAX_UNREAD_BYTES) {
        this.#drop(subscriber, new Error('slow reader: more than 4 MiB unread; reconnect with Last-Event-ID'));
        continue;
      }
      try {
        subscriber.controller.enqueue(bytes);
      } catch {
        this.#drop(subscriber);
      }
    }
  }

  /** Forgets a subscriber; with `reason` its stream fails (the client sees the connection end and reconnects). */
  #drop(subscriber: Subscriber, reason?: Error): void {
    if (!this.#subscribers.delete(subscriber)) return;
    try {
      if (reason) subscriber.controller.error(reason);
      else subscriber.controller.close();
    } catch {
      // the stream was already closed or cancelled
    }
    if (this.#subscribers.size === 0 && this.#keepalive !== null) {
      clearInterval(this.#keepalive);
      this.#keepalive = null;
    }
  }
}

/** Timers longer than this fire at once; a stream that lives this long (24.8 days) ends early, losing nothing. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** Sent before a stream ends for its credential's expiry, when it ends between frames: reconnect at once. */
export const EXPIRED_FRAME = ': the credential of this stream has expired; reconnect with Last-Event-ID\nretry: 0\n\n';

/**
 * `body` (an SSE stream) that ends cleanly `ms` from now: the credential it was opened
 * with is not accepted past then, so the stream is not either. The client reconnects with
 * `Last-Event-ID` and a current credential and loses nothing. When the bytes passed on so
 * far end between frames, it is told to reconnect at once (`retry: 0`); mid-frame nothing
 * is added, and the unfinished frame is discarded by the client (SSE dispatches a frame
 * only at its blank line) and replayed on the next connection. Cancelling the result
 * cancels `body`.
 */
export function endStreamAfter(body: ReadableStream<Uint8Array>, ms: number): ReadableStream<Uint8Array> {
  const reader = body.getReader();
  let timer: ReturnType<typeof setTimeout> | undefined;
  let ended = false;
  // the last two bytes passed on: every frame here ends with "\n\n"
  let tail = [10, 10];
  const end = () => {
    ended = true;
    clearTimeout(timer);
    reader.cancel().catch(() => {});
  };
  return new ReadableStream<Uint8Array>(
    {
      start(controller) {
        timer = setTimeout(() => {
          if (ended) return;
          if (tail[0] === 10 && tail[1] === 10) controller.enqueue(encoder.encode(EXPIRED_FRAME));
          controller.close();
          end();
        }, Math.min(Math.max(0, ms), MAX_TIMER_MS));
      },
      async pull(controller) {
        let chunk: ReadableStreamReadResult<Uint8Array>;
        try {
          chunk = await reader.read();
        } catch (err) {
          if (!ended) (end(), controller.error(err));
          return;
        }
        if (ended) return;
        if (chunk.done) {
          end();
          controller.close();
          return;
        }
        const bytes = chunk.value;
        if (bytes.byteLength >= 2) tail = [bytes[bytes.byteLength - 2]!, bytes[bytes.byteLength - 1]!];
        else if (bytes.byteLength === 1) tail = [tail[1]!, bytes[0]!];
        controller.enqueue(bytes);
      },
      cancel: end,
    },
    { highWaterMark: 0 },
  );
}
