import { randomUUID } from 'node:crypto';
import { backoffDelayMs, type BackoffOptions } from '../domain/backoff.ts';
import { EVENTS_PER_BATCH, eventsBody, nextBatchSize } from '../domain/batch.ts';
import type { DropCause, ItemKind } from '../domain/drops.ts';
import type { ItemRecord } from '../managers/journal-records.ts';
import { FailureStreak } from './failure-streak.ts';
import { Waiter } from './waiter.ts';
import type { AgentAddress, RequestKind, WorkerReply } from './worker-client.ts';
import { classify, eventResults } from './worker-replies.ts';

/**
 * Events (and bytes of event JSON) buffered per agent past which its output is paused:
 * the agent's writes then block on a full pipe, so a burst is slowed, not dropped. Output
 * resumes below half of either.
 */
export const OUTBOX_PAUSE_EVENTS = 2_000;
export const OUTBOX_PAUSE_BYTES = 8 * 1024 * 1024;
/** The hard bound: only past this (output that a pause could not hold back) is the oldest event dropped. */
export const OUTBOX_MAX_EVENTS = 4 * OUTBOX_PAUSE_EVENTS;
export const OUTBOX_MAX_BYTES = 4 * OUTBOX_PAUSE_BYTES;

/** An agent event with its stable id (assigned once, kept across retries and restarts). */
export interface OutboxEvent {
  id: string;
  type: string;
  ts: string;
  [field: string]: unknown;
}

/** What the outbox needs from the Worker client (a seam for tests). */
export interface DeliveryClient {
  /** `signal` aborts when the outbox halts: the request is abandoned, never healed or re-sent. */
  post(agent: AgentAddress, path: string, body: string, kind: RequestKind, signal?: AbortSignal): Promise<WorkerReply>;
}

/** What the outbox needs from the journal. */
export interface OutboxJournal {
  appendItem(record: Omit<ItemRecord, 't' | 'seq'>, onDurable?: () => void): void;
  ack(ids: readonly string[]): void;
}

/** Where the outbox reports what it drops. */
export interface DropSink {
  record(agent: AgentAddress, cause: DropCause, kind: ItemKind, count: number, ack?: readonly string[]): void;
}

/** The outbox's collaborators. */
export interface OutboxDeps {
  client: DeliveryClient;
  journal: OutboxJournal;
  drops: DropSink;
  stats: { eventsQueued: number; eventsJournaled: number; eventsDelivered: number };
  backoff?: BackoffOptions;
  /** Everything queued is delivered or dropped (and nothing is being sent). */
  onDrained?: () => void;
  /** The Worker said the agent has ended for good. */
  onAgentEnded?: () => void;
}

interface Item {
  id: string;
  kind: ItemKind;
  /** The event, or the callback's body, as JSON text (serialized once). */
  json: string;
  bytes: number;
  durable: boolean;
}

const PATHS: Record<ItemKind, string> = { event: '/events', completed: '/completed', reviewComplete: '/review-complete' };
const REQUEST_KINDS: Record<ItemKind, RequestKind> = { event: 'events', completed: 'completed', reviewComplete: 'reviewComplete' };

/**
 * One agent's deliveries to the Worker, in order: events (batched by count and bytes),
 * review callbacks, and last the completion report. Each item is journaled and sent only
 * once durable; delivered items are acked in the journal. One retry mechanism for all:
 * capped exponential backoff with full jitter until the Worker answers (it stores by id,
 * so a retry is safe). What the Worker refuses is dropped alone: per event from the
 * batch's results; a 413 splits the batch in halves down to one event (`too_large`). A 401
 * `token_revoked` for an agent that has ended drops everything (`agent_ended`); otherwise a
 * newer generation is coming and the outbox waits, retrying with each token it reads.
 * Past OUTBOX_PAUSE_EVENTS or OUTBOX_PAUSE_BYTES the pressure listener is told to pause
 * the agent's output (and to resume it below half); only past the hard bound,
 * OUTBOX_MAX_EVENTS or OUTBOX_MAX_BYTES, is the oldest event not in flight dropped
 * (`overflow`). Every drop goes to the drop sink.
 */
export class Outbox {
  readonly address: AgentAddress;
  readonly #d: OutboxDeps;
  readonly #events: Item[] = [];
  readonly #callbacks: Item[] = [];
  #completion: Item | null = null;
  #eventBytes = 0;
  /** Events at the head of `#events` in the POST being made (never dropped on overflow). */
  #inFlight = 0;
  /** Sizes of the halves still to send after 413s (top: the next batch's limit). */
  readonly #splits: number[] = [];
  #running = false;
  #closed: DropCause | null = null;
  #halted = false;
  /** Aborted by `halt()`: a request in flight then is abandoned (its items stay journaled). */
  readonly #halt = new AbortController();
  #attempt = 0;
  #pressured = false;
  #onPressure: ((full: boolean) => void) | null = null;
  readonly #waiter = new Waiter();
  /** Consecutive failed attempts, logged when a streak starts and ends. */
  readonly failures: FailureStreak;

  constructor(address: AgentAddress, deps: OutboxDeps) {
    this.address = address;
    this.#d = deps;
    this.failures = new FailureStreak('deliveries', address);
  }

  /** Items not yet delivered or dropped. */
  get pending(): number {
    return this.#events.length + this.#callbacks.length + (this.#completion ? 1 : 0);
  }

  get closed(): boolean {
    return this.#closed !== null;
  }

  /** Who pauses and resumes the output feeding this outbox (the agent's process); told at once if it is full now. */
  setPressureListener(fn: ((full: boolean) => void) | null): void {
    this.#onPressure = fn;
    if (fn && this.#pressured) fn(true);
  }

  /** Whether the agent's output is held back now. */
  get pressured(): boolean {
    return this.#pressured;
  }

  #checkPressure(): void {
    const full = this.#events.length >= OUTBOX_PAUSE_EVENTS || this.#eventBytes >= OUTBOX_PAUSE_BYTES;
    const relieved = this.#events.length <= OUTBOX_PAUSE_EVENTS / 2 && this.#eventBytes <= OUTBOX_PAUSE_BYTES / 2;
    if (!this.#pressured && full) {
      this.#pressured = true;
      this.#onPressure?.(true);
    } else if (this.#pressured && relieved) {
      this.#pressured = false;
      this.#onPressure?.(false);
    }
  }

  /** Queues an event; `json` is its JSON when the caller serialized it already. */
  addEvent(event: OutboxEvent, json = JSON.stringify(event)): void {
    this.#d.stats.eventsQueued++;
    if (this.#refuseAfterClose('event')) return;
    const item = this.#journal('event', event.id, json, () => this.#d.stats.eventsJournaled++);
    this.#events.push(item);
    this.#eventBytes += item.bytes;
    while ((this.#events.length > OUTBOX_MAX_EVENTS || this.#eventBytes > OUTBOX_MAX_BYTES) && this.#events.length - this.#inFlight > 1) {
      const [dropped] = this.#events.splice(this.#inFlight, 1);
      this.#eventBytes -= dropped!.bytes;
      this.#d.drops.record(this.address, 'overflow', 'event', 1, [dropped!.id]);
    }
    this.#checkPressure();
  }

  /** Queues a review callback (`{beadId, outcome}`). */
  addReview(body: { beadId: string; outcome: string }): void {
    if (this.#refuseAfterClose('reviewComplete')) return;
    this.#callbacks.push(this.#journal('reviewComplete', randomUUID(), JSON.stringify(body)));
  }

  /** Queues the completion report, sent after everything else. */
  setCompletion(body: { status: string; summary?: string }): void {
    if (this.#refuseAfterClose('completed')) return;
    this.dropCompletion('superseded');
    this.#completion = this.#journal('completed', randomUUID(), JSON.stringify(body));
  }

  /** Drops the completion report still queued (a new start supersedes the incarnation that sent it). */
  dropCompletion(cause: DropCause): void {
    const completion = this.#completion;
    if (!completion) return;
    this.#completion = null;
    this.#d.drops.record(this.address, cause, 'completed', 1, [completion.id]);
  }

  /** Takes an item a previous server journaled (durable already). */
  restore(record: ItemRecord): void {
    const item: Item = { id: record.id, kind: record.kind, json: record.body, bytes: Buffer.byteLength(record.body), durable: true };
    if (record.kind === 'event') {
      this.#events.push(item);
      this.#eventBytes += item.bytes;
    } else if (record.kind === 'reviewComplete') this.#callbacks.push(item);
    else {
      this.dropCompletion('superseded');
      this.#completion = item;
    }
    this.#kick();
  }

  /** The agent has ended for good: drops everything (and anything added later) with `cause`. */
  end(cause: DropCause): void {
    if (this.#closed) return;
    this.#closed = cause;
    this.#d.drops.record(this.address, cause, 'event', this.#events.length, this.#events.map((i) => i.id));
    this.#d.drops.record(this.address, cause, 'reviewComplete', this.#callbacks.length, this.#callbacks.map((i) => i.id));
    this.dropCompletion(cause);
    this.#events.length = 0;
    this.#callbacks.length = 0;
    this.#eventBytes = 0;
    this.#splits.length = 0;
    this.#checkPressure();
    this.#waiter.wake();
    if (!this.#running) this.#d.onDrained?.();
  }

  /** Stops sending, dropping nothing: what is left stays journaled for the next server. */
  halt(): void {
    this.#halted = true;
    this.#halt.abort();
    this.#waiter.wake();
  }

  /** Ends a backoff wait now (a new token arrived, or the server is going away). */
  retryNow(): void {
    if (!this.#waiter.wake()) this.#kick();
  }

  #refuseAfterClose(kind: ItemKind): boolean {
    if (!this.#closed) return false;
    this.#d.drops.record(this.address, this.#closed, kind, 1);
    return true;
  }

  #journal(kind: ItemKind, id: string, json: string, onDurable?: () => void): Item {
    const item: Item = { id, kind, json, bytes: Buffer.byteLength(json), durable: false };
    this.#d.journal.appendItem({ id, agentId: this.address.agentId, townId: this.address.townId, apiUrl: this.address.apiUrl, kind, body: json }, () => {
      item.durable = true;
      onDurable?.();
      this.#kick();
    });
    return item;
  }

  #kick(): void {
    if (this.#running || this.#closed || this.#halted) return;
    this.#running = true;
    // started after the current task: every item one commit made durable joins the first batch
    queueMicrotask(() => {
      void this.#drain().finally(() => {
        this.#running = false;
        if (this.#halted) return;
        if (this.pending === 0 || this.#closed) this.#d.onDrained?.();
        else if (this.#sendable()) this.#kick();
      });
    });
  }

  #sendable(): boolean {
    const head = this.#events[0] ?? this.#callbacks[0] ?? this.#completion;
    return head?.durable === true;
  }

  async #drain(): Promise<void> {
    while (!this.#closed && !this.#halted && this.#sendable()) {
      if (this.#events.length > 0) await this.#sendEvents();
      else await this.#sendCallback(this.#callbacks[0] ?? this.#completion!);
    }
  }

  async #sendEvents(): Promise<void> {
    const durable: number[] = [];
    for (const item of this.#events) {
      if (!item.durable || durable.length === EVENTS_PER_BATCH) break;
      durable.push(item.bytes);
    }
    const batch = this.#events.slice(0, nextBatchSize(durable, this.#splits.at(-1)));
    this.#inFlight = batch.length;
    let reply: WorkerReply;
    try {
      reply = await this.#d.client.post(this.address, '/events', eventsBody(batch.map((i) => i.json)), 'events', this.#halt.signal);
    } finally {
      this.#inFlight = 0;
    }
    if (this.#closed || this.#halted) return;
    const verdict = classify(reply);
    if (verdict === 'delivered') {
      const { refused } = eventResults(reply.body, batch.map((i) => i.id));
      this.#remove(batch);
      const delivered = batch.filter((i) => !refused.has(i.id));
      this.#d.journal.ack(delivered.map((i) => i.id));
      this.#d.stats.eventsDelivered += delivered.length;
      this.#d.drops.record(this.address, 'refused', 'event', refused.size, [...refused]);
      return this.#succeeded(batch.length);
    }
    if ((verdict === 'too_large' || verdict === 'bad_request') && batch.length > 1) {
      // halves, recursively: the first half goes next, then the second
      const half = Math.ceil(batch.length / 2);
      this.#consumeSplit(batch.length);
      this.#splits.push(batch.length - half, half);
      return;
    }
    if (verdict === 'too_large' || verdict === 'bad_request' || verdict === 'refused') {
      this.#remove(batch);
      this.#d.drops.record(this.address, verdict === 'too_large' ? 'too_large' : 'refused', 'event', batch.length, batch.map((i) => i.id));
      return this.#succeeded(batch.length);
    }
    await this.#failed(reply, verdict === 'ended');
  }

  async #sendCallback(item: Item): Promise<void> {
    const reply = await this.#d.client.post(this.address, PATHS[item.kind], item.json, REQUEST_KINDS[item.kind], this.#halt.signal);
    if (this.#closed || this.#halted) return;
    const verdict = classify(reply);
    if (verdict === 'delivered' || verdict === 'too_large' || verdict === 'bad_request' || verdict === 'refused') {
      if (this.#callbacks[0] === item) this.#callbacks.shift();
      else if (this.#completion === item) this.#completion = null;
      if (verdict === 'delivered') this.#d.journal.ack([item.id]);
      else this.#d.drops.record(this.address, 'refused', item.kind, 1, [item.id]);
      return this.#succeeded(0);
    }
    await this.#failed(reply, verdict === 'ended');
  }

  /** The Worker answered for good: the next request goes at once. */
  #succeeded(events: number): void {
    this.#consumeSplit(events);
    this.#attempt = 0;
    this.failures.succeeded();
  }

  async #failed(reply: WorkerReply, ended: boolean): Promise<void> {
    this.failures.failed(reply, Date.now());
    if (ended) {
      console.warn(JSON.stringify({ msg: 'agent ended: its undelivered items are dropped', agentId: this.address.agentId }));
      this.end('agent_ended');
      this.#d.onAgentEnded?.();
      return;
    }
    await this.#waiter.sleep(backoffDelayMs(this.#attempt++, Math.random(), this.#d.backoff));
  }

  /** `n` events of the current split were settled. */
  #consumeSplit(n: number): void {
    if (this.#splits.length === 0) return;
    const left = this.#splits.pop()! - n;
    if (left > 0) this.#splits.push(left);
  }

  /** The batch is the head of the queue: overflow never drops in-flight events. */
  #remove(batch: Item[]): void {
    this.#events.splice(0, batch.length);
    for (const item of batch) this.#eventBytes -= item.bytes;
    this.#checkPressure();
  }
}
