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
