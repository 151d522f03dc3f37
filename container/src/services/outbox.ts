import { backoffDelayMs } from '../domain/backoff.ts';
import type { Stats } from './stats.ts';
import type { AgentAddress, WorkerClient, WorkerReply } from './worker-client.ts';

/**
 * Events buffered per agent while the Worker does not accept them. Past the bound the
 * oldest are dropped, counted in `eventsDropped` and logged. 2,000 events at ~16 KB at
 * most each bounds one agent's buffer to ~32 MB, typically far less.
 */
export const OUTBOX_MAX_EVENTS = 2_000;
/** Events per POST. */
export const EVENTS_PER_BATCH = 100;

/** An agent event with its stable id (assigned once, kept across retries). */
export interface OutboxEvent {
  id: string;
  type: string;
  ts: string;
  [field: string]: unknown;
}

interface Callback {
  path: string;
  body: unknown;
  kind: 'completed' | 'reviewComplete';
}

/**
 * One agent's deliveries to the Worker, in order: events (batched), review callbacks, and
 * last the completion report. Each is retried with capped exponential backoff and jitter
 * until the Worker accepts it (the Worker stores idempotently, so a retry is safe). A 401
 * `token_revoked` ends the agent's deliveries: nothing it sends can be accepted any more.
 */
export class Outbox {
  readonly #agent: AgentAddress;
  readonly #client: WorkerClient;
  readonly #stats: Stats;
  readonly #events: OutboxEvent[] = [];
  readonly #callbacks: Callback[] = [];
  #completion: Callback | null = null;
  #running = false;
  #closed = false;
  #attempt = 0;
  #timer: ReturnType<typeof setTimeout> | null = null;
  #wake: (() => void) | null = null;
  #onDrained: (() => void) | null = null;

  constructor(agent: AgentAddress, client: WorkerClient, stats: Stats) {
    this.#agent = agent;
    this.#client = client;
    this.#stats = stats;
  }

  get pending(): number {
    return this.#events.length + this.#callbacks.length + (this.#completion ? 1 : 0);
  }

  addEvent(event: OutboxEvent): void {
    if (this.#closed) return;
    this.#stats.eventsQueued++;
    if (this.#events.length >= OUTBOX_MAX_EVENTS) {
      this.#events.shift();
      this.#stats.eventsDropped++;
      if (this.#stats.eventsDropped % 100 === 1) console.warn(JSON.stringify({ msg: 'outbox full: oldest event dropped', agentId: this.#agent.agentId, dropped: this.#stats.eventsDropped }));
    }
    this.#events.push(event);
    this.#kick();
  }

  addCallback(kind: Callback['kind'], path: string, body: unknown): void {
    if (this.#closed) return;
    if (kind === 'completed') this.#completion = { kind, path, body };
    else this.#callbacks.push({ kind, path, body });
    this.#kick();
  }

  /** Calls `fn` once everything queued so far (and after) is delivered. */
  whenDrained(fn: () => void): void {
    this.#onDrained = fn;
    if (this.pending === 0 && !this.#running) this.#finish();
  }

  /** Drops everything and stops retrying. */
  close(): void {
    this.#closed = true;
    this.#events.length = 0;
    this.#callbacks.length = 0;
    this.#completion = null;
    this.#wake?.();
  }

  #kick(): void {
    if (this.#running) return;
    this.#running = true;
    void this.#drain().finally(() => {
      this.#running = false;
      if (this.pending > 0 && !this.#closed) this.#kick();
      else this.#finish();
    });
  }

  #finish(): void {
    const fn = this.#onDrained;
    this.#onDrained = null;
    fn?.();
  }

  async #drain(): Promise<void> {
    while (!this.#closed && this.pending > 0) {
      let reply: WorkerReply;
      let onOk: () => void;
      if (this.#events.length > 0) {
        const batch = this.#events.slice(0, EVENTS_PER_BATCH);
        reply = await this.#client.post(this.#agent, '/events', { events: batch }, 'events');
        onOk = () => {
          this.#events.splice(0, batch.length);
          this.#stats.eventsDelivered += batch.length;
        };
      } else {
        const item = this.#callbacks[0] ?? this.#completion!;
        reply = await this.#client.post(this.#agent, item.path, item.body, item.kind);
        onOk = () => {
          if (this.#callbacks[0] === item) this.#callbacks.shift();
          else this.#completion = null;
        };
      }
      if (this.#closed) return;
      if (reply.status >= 200 && reply.status < 300) {
        onOk();
        this.#attempt = 0;
        continue;
      }
      if (reply.status === 401 && reply.code === 'token_revoked') {
        this.#stats.eventsDroppedRevoked += this.#events.length;
        this.close();
        return;
      }
      if ([400, 403, 404, 409, 413].includes(reply.status)) {
        // the Worker will never accept this item: drop it (counted) rather than block the rest
        console.warn(JSON.stringify({ msg: 'delivery refused; dropped', agentId: this.#agent.agentId, status: reply.status, code: reply.code }));
        if (this.#events.length > 0) this.#stats.eventsDropped += this.#events.splice(0, EVENTS_PER_BATCH).length;
        else onOk();
        continue;
      }
      await this.#sleep(backoffDelayMs(this.#attempt++, Math.random()));
    }
  }

  /** Waits `ms`, or less when the outbox closes. */
  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        if (this.#timer) clearTimeout(this.#timer);
        this.#timer = null;
        this.#wake = null;
        resolve();
      };
      this.#wake = done;
      this.#timer = setTimeout(done, ms);
      if (this.#closed) done();
    });
  }
}
