import type { TownEvent } from '../storage/event-store';

const encoder = new TextEncoder();
const KEEPALIVE_MS = 25_000;

/** Formats one town event as an SSE frame. */
export function sseFrame(event: TownEvent): string {
  return `id: ${event.id}\nevent: ${event.type}\ndata: ${event.data}\n\n`;
}

/**
 * Live SSE subscribers of one town. A subscriber is removed when its client goes away or
 * a write fails, and the keep-alive timer runs only while someone listens: nothing here
 * grows with time.
 */
export class EventHub {
  readonly #subscribers = new Set<WritableStreamDefaultWriter<Uint8Array>>();
  #keepalive: ReturnType<typeof setInterval> | null = null;

  get size(): number {
    return this.#subscribers.size;
  }

  /** Opens a stream that first replays `backlog`, then follows live events. */
  subscribe(backlog: readonly TownEvent[], signal: AbortSignal | undefined): Response {
    const { readable, writable } = new TransformStream<Uint8Array, Uint8Array>();
    const writer = writable.getWriter();
    void writer.write(encoder.encode(`retry: 2000\n\n${backlog.map(sseFrame).join('')}`)).catch(() => this.#drop(writer));
    this.#subscribers.add(writer);
    signal?.addEventListener('abort', () => this.#drop(writer));
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
    for (const writer of this.#subscribers) writer.write(bytes).catch(() => this.#drop(writer));
  }

  #drop(writer: WritableStreamDefaultWriter<Uint8Array>): void {
    if (!this.#subscribers.delete(writer)) return;
    writer.close().catch(() => {});
    if (this.#subscribers.size === 0 && this.#keepalive !== null) {
      clearInterval(this.#keepalive);
      this.#keepalive = null;
    }
  }
}
