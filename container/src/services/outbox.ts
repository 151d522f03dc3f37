import { backoffDelayMs, type BackoffOptions } from '../domain/backoff.ts';
import { FailureStreak } from './failure-streak.ts';
import type { Stats } from './stats.ts';
import type { AgentAddress, WorkerReply } from './worker-client.ts';

/**
 * Events buffered per agent while the Worker does not accept them: 2,000. Past the bound
 * the oldest event not already in flight is dropped, counted in `eventsDropped` and
 * logged. 2,000 events of at most ~16 KB each bound one agent's buffer to ~32 MB,
 * typically far less.
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

/** What the outbox needs from the Worker client (a seam for tests). */
export interface DeliveryClient {
  post(agent: AgentAddress, path: string, body: unknown, kind: 'events' | 'completed' | 'reviewComplete'): Promise<WorkerReply>;
}

/** Why an outbox dropped what it held. */
export type CloseReason = 'stopped' | 'revoked';

interface Callback {
  path: string;
  body: unknown;
  kind: 'completed' | 'reviewComplete';
}

/**
 * One agent's deliveries to the Worker, in order: events (batched), review callbacks, and
 * last the completion report. One retry mechanism for all three: capped exponential
 * backoff with full jitter until the Worker accepts (it stores idempotently, so a retry
 * is safe). A 401 `token_revoked` ends the agent's deliveries: nothing it sends can be
 * accepted any more. Every event dropped is counted by reason.
 */
export class Outbox {
  readonly #agent: AgentAddress;
  readonly #client: DeliveryClient;
  readonly #stats: Stats;
  readonly #backoff: BackoffOptions | undefined;
  readonly #events: OutboxEvent[] = [];
  readonly #callbacks: Callback[] = [];
  #completion: Callback | null = null;
  /** Events at the head of `#events` that are in the POST being made (never dropped on overflow). */
  #inFlight = 0;
  #running = false;
  #closed = false;
  #closeReason: CloseReason = 'stopped';
  #attempt = 0;
  #wake: (() => void) | null = null;
  #onDrained: (() => void) | null = null;
  /** Consecutive failed attempts, logged when a streak starts and ends. */
  readonly failures: FailureStreak;

  constructor(agent: AgentAddress, client: DeliveryClient, stats: Stats, backoff?: BackoffOptions) {
    this.#agent = agent;
    this.failures = new FailureStreak('deliveries', agent);
    this.#client = client;
    this.#stats = stats;
    this.#backoff = backoff;
  }

  /** Items not yet accepted by the Worker. */
  get pending(): number {
    return this.#events.length + this.#callbacks.length + (this.#completion ? 1 : 0);
  }

  get closed(): boolean {
    return this.#closed;
  }

  addEvent(event: OutboxEvent): void {
    this.#stats.eventsQueued++;
    if (this.#closed) {
      if (this.#closeReason === 'revoked') this.#stats.eventsDroppedRevoked++;
      else this.#stats.eventsDroppedStopped++;
      return;
    }
    if (this.#events.length >= OUTBOX_MAX_EVENTS) {
      this.#events.splice(this.#inFlight, 1);
      this.#stats.eventsDropped++;
      if (this.#stats.eventsDropped % 100 === 1) {
        console.warn(JSON.stringify({ msg: 'outbox full: oldest event dropped', agentId: this.#agent.agentId, bound: OUTBOX_MAX_EVENTS, droppedTotal: this.#stats.eventsDropped }));
      }
    }
    this.#events.push(event);
    this.#kick();
  }

  /** Queues a review callback, or (kind `completed`) the completion report, sent last. */
  addCallback(kind: Callback['kind'], path: string, body: unknown): void {
    if (this.#closed) return;
    if (kind === 'completed') this.#completion = { kind, path, body };
    else this.#callbacks.push({ kind, path, body });
    this.#kick();
  }

  /** Calls `fn` once everything queued is delivered or dropped (at once if nothing is). */
  whenDrained(fn: () => void): void {
    this.#onDrained = fn;
    if (this.pending === 0 && !this.#running) this.#finish();
  }

  /** Ends a backoff wait now: the next attempt is made at once (the control server is going away). */
  retryNow(): void {
    this.#wake?.();
  }

  /** Drops everything (counted under `reason`) and stops retrying. */
  close(reason: CloseReason): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#closeReason = reason;
    if (reason === 'revoked') this.#stats.eventsDroppedRevoked += this.#events.length;
    else this.#stats.eventsDroppedStopped += this.#events.length;
    this.#events.length = 0;
    this.#callbacks.length = 0;
    this.#completion = null;
    this.#inFlight = 0;
    this.#wake?.();
    if (!this.#running) this.#finish();
  }

  #kick(): void {
    if (this.#running || this.#closed) return;
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
      let accepted: () => void;
      let batchSize = 0;
      if (this.#events.length > 0) {
        const batch = this.#events.slice(0, EVENTS_PER_BATCH);
        batchSize = batch.length;
        this.#inFlight = batch.length;
        try {
          reply = await this.#client.post(this.#agent, '/events', { events: batch }, 'events');
        } finally {
          this.#inFlight = 0;
        }
        // overflow never drops in-flight events, so the batch is still the head of the queue
        accepted = () => {
          this.#events.splice(0, batch.length);
          this.#stats.eventsDelivered += batch.length;
        };
      } else {
        const item = this.#callbacks[0] ?? this.#completion!;
        reply = await this.#client.post(this.#agent, item.path, item.body, item.kind);
        accepted = () => {
          if (this.#callbacks[0] === item) this.#callbacks.shift();
          else if (this.#completion === item) this.#completion = null;
        };
      }
      if (this.#closed) return;
      if (reply.status >= 200 && reply.status < 300) {
        accepted();
        this.#attempt = 0;
        this.failures.succeeded();
        continue;
      }
      this.failures.failed(reply, Date.now());
      if ((reply.status === 401 && reply.code === 'token_revoked') || reply.code === 'no_token') {
        // a revoked agent (or one whose token is forgotten) can never deliver again
        console.warn(JSON.stringify({ msg: 'deliveries ended: token revoked', agentId: this.#agent.agentId, dropped: this.#events.length }));
        this.close('revoked');
        return;
      }
      if ([400, 403, 404, 409, 413].includes(reply.status)) {
        // the Worker will never accept this item: drop it (counted) rather than block the rest
        console.warn(JSON.stringify({ msg: 'delivery refused; item dropped', agentId: this.#agent.agentId, status: reply.status, code: reply.code }));
        if (batchSize > 0) this.#stats.eventsDropped += this.#events.splice(0, batchSize).length;
        else accepted();
        continue;
      }
      await this.#sleep(backoffDelayMs(this.#attempt++, Math.random(), this.#backoff));
    }
  }

  /** Waits `ms`, or less when the outbox closes. */
  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.#wake = () => {
        this.#wake = null;
        done();
      };
    });
  }
}
