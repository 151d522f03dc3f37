import type { TownEvent } from '../storage/event-store';

const encoder = new TextEncoder();
const KEEPALIVE_MS = 25_000;
/**
 * Bytes written to a subscriber and not yet read by it, past which it is dropped: a slow
 * reader reconnects with `Last-Event-ID` and loses nothing, and the object never buffers
 * without bound. The replay of a new subscriber counts too.
 */
export const MAX_UNREAD_BYTES = 4 * 1024 * 1024;

/** Formats one town event as an SSE frame. */
export function sseFrame(event: TownEvent): string {
  return `id: ${event.id}\nevent: ${event.type}\ndata: ${event.data}\n\n`;
}

interface Subscriber {
  writer: WritableStreamDefaultWriter<Uint8Array>;
  unread: number;
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
    const { readable, writable } = new TransformStream<Uint8Array, Uint8Array>();
    const subscriber: Subscriber = { writer: writable.getWriter(), unread: 0 };
    this.#subscribers.add(subscriber);
    const head = `retry: 2000\n\n${gap ? `event: gap\ndata: ${JSON.stringify(gap)}\n\n` : ''}`;
    this.#write(subscriber, head + backlog.map(sseFrame).join(''));
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
    for (const subscriber of this.#subscribers) this.#write(subscriber, text);
  }

  /** A write resolves once the reader took the bytes; what is outstanding is what it has not read. */
  #write(subscriber: Subscriber, text: string): void {
    const bytes = encoder.encode(text);
    subscriber.unread += bytes.byteLength;
    if (subscriber.unread > MAX_UNREAD_BYTES && subscriber.unread !== bytes.byteLength) {
      this.#drop(subscriber);
      return;
    }
    subscriber.writer.write(bytes).then(
      () => {
        subscriber.unread -= bytes.byteLength;
      },
      () => this.#drop(subscriber),
    );
  }

  #drop(subscriber: Subscriber): void {
    if (!this.#subscribers.delete(subscriber)) return;
    subscriber.writer.abort().catch(() => {});
    if (this.#subscribers.size === 0 && this.#keepalive !== null) {
      clearInterval(this.#keepalive);
      this.#keepalive = null;
    }
  }
}
