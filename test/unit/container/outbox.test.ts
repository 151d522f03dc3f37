import { describe, expect, it } from 'vitest';
import { backoffDelayMs, BACKOFF_DEFAULTS } from '../../../container/src/domain/backoff.ts';
import { EVENTS_PER_BATCH, MAX_BATCH_BYTES } from '../../../container/src/domain/batch.ts';
import type { DropCause, ItemKind } from '../../../container/src/domain/drops.ts';
import { OUTBOX_MAX_BYTES, OUTBOX_MAX_EVENTS, OUTBOX_PAUSE_EVENTS, Outbox, type DeliveryClient, type OutboxJournal } from '../../../container/src/services/outbox.ts';
import type { WorkerReply } from '../../../container/src/services/worker-client.ts';

const AGENT = { agentId: 'a1', townId: 't1', apiUrl: 'http://unused' };
const FAST = { baseMs: 1, capMs: 4, floorMs: 1 };
const OK: WorkerReply = { status: 200, body: {} };

/** A Worker behind the seam: answers with `reply()`, records every POST, stores events by id. */
class FakeWorker implements DeliveryClient {
  posts: Array<{ path: string; body: any; bytes: number }> = [];
  stored = new Map<string, any>();
  reply: (path: string, body: any, bytes: number) => WorkerReply = () => OK;
  gate: Promise<void> | null = null;
  signals: Array<AbortSignal | undefined> = [];

  async post(_agent: unknown, path: string, text: string, _kind: unknown, signal?: AbortSignal): Promise<WorkerReply> {
    const body = JSON.parse(text);
    this.signals.push(signal);
    this.posts.push({ path, body, bytes: Buffer.byteLength(text) });
    if (this.gate) await this.gate;
    const r = this.reply(path, body, Buffer.byteLength(text));
    if (r.status === 200 && path === '/events') {
      const refused = new Set(((r.body as any)?.results ?? []).filter((x: any) => x.status === 'refused').map((x: any) => x.id));
      for (const e of body.events) if (!refused.has(e.id)) this.stored.set(e.id, e);
    }
    return r;
  }
}

/** The journal behind the seam: durable at the next microtask, unless held. */
class FakeJournal implements OutboxJournal {
  appended: string[] = [];
  acked = new Set<string>();
  held: Array<() => void> | null = null;
  appendItem(record: { id: string }, onDurable?: () => void): void {
    this.appended.push(record.id);
    if (this.held) this.held.push(() => onDurable?.());
    else queueMicrotask(() => onDurable?.());
  }
  ack(ids: readonly string[]): void {
    for (const id of ids) this.acked.add(id);
  }
  commit(): void {
    const held = this.held ?? [];
    this.held = null;
    held.forEach((f) => f());
  }
}

class FakeDrops {
  calls: Array<{ cause: DropCause; kind: ItemKind; count: number; ack: readonly string[] }> = [];
  record(_agent: unknown, cause: DropCause, kind: ItemKind, count: number, ack: readonly string[] = []): void {
    if (count > 0) this.calls.push({ cause, kind, count, ack });
  }
  total(cause: DropCause, kind: ItemKind = 'event'): number {
    return this.calls.filter((c) => c.cause === cause && c.kind === kind).reduce((n, c) => n + c.count, 0);
  }
}

let seq = 0;
const event = (n: number, pad = 0) => ({ id: `e-${++seq}`, type: 'tick', ts: new Date(0).toISOString(), n, ...(pad ? { pad: 'x'.repeat(pad) } : {}) });

function setup(reply?: FakeWorker['reply'], backoff = FAST) {
  const worker = new FakeWorker();
  if (reply) worker.reply = reply;
  const journal = new FakeJournal();
  const drops = new FakeDrops();
  const stats = { eventsQueued: 0, eventsJournaled: 0, eventsDelivered: 0 };
  let drainedResolve: (() => void) | null = null;
  let endedCalls = 0;
  const outbox = new Outbox({ ...AGENT }, {
    client: worker, journal, drops, stats, backoff,
    onDrained: () => drainedResolve?.(),
    onAgentEnded: () => endedCalls++,
  });
  const drained = () => new Promise<void>((resolve) => {
    drainedResolve = resolve;
    if (outbox.pending === 0) resolve();
  });
  return { worker, journal, drops, stats, outbox, drained, ended: () => endedCalls };
}
const storedNs = (w: FakeWorker) => [...w.stored.values()].map((e) => e.n);
const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

describe('outbox', () => {
  it(`overflow: holds ${OUTBOX_MAX_EVENTS} events through an outage, drops the oldest past that (cause overflow), then delivers the rest once, in order`, async () => {
    let down = true;
    const { worker, drops, stats, outbox, drained } = setup(() => (down ? { status: 503, body: null } : OK));
    for (let n = 1; n <= OUTBOX_MAX_EVENTS + 50; n++) outbox.addEvent(event(n));
    expect(outbox.pending).toBe(OUTBOX_MAX_EVENTS);
    expect(drops.total('overflow')).toBe(50);
    down = false;
    outbox.retryNow();
    await drained();
    // event 1 may be in flight when the buffer overflows: then 2..51 are the oldest dropped
    const delivered = storedNs(worker);
    expect(delivered).toHaveLength(OUTBOX_MAX_EVENTS);
    expect(delivered).toEqual([...delivered].sort((a, b) => a - b));
    expect(delivered.at(-1)).toBe(OUTBOX_MAX_EVENTS + 50);
    expect(stats.eventsDelivered).toBe(OUTBOX_MAX_EVENTS);
    expect(Math.max(...worker.posts.map((p) => p.body.events.length))).toBeLessThanOrEqual(EVENTS_PER_BATCH);
    // each dropped id was handed to the journal with its drop (so it is no longer live)
    expect(drops.calls.flatMap((c) => c.ack)).toHaveLength(50);
  });

  it(`overflow by bytes: past ${OUTBOX_MAX_BYTES / 1024 / 1024} MiB of events the oldest not in flight are dropped`, async () => {
    const { drops, outbox } = setup(() => ({ status: 503, body: null }), { baseMs: 60_000, capMs: 60_000, floorMs: 60_000 });
    for (let n = 1; n <= 4_000; n++) outbox.addEvent(event(n, 10_000));
    const perEvent = Buffer.byteLength(JSON.stringify(event(0, 10_000)));
    // the events differ by a digit or two in size: what is kept fills the bound to within one event
    expect(outbox.pending).toBeGreaterThanOrEqual(Math.floor(OUTBOX_MAX_BYTES / perEvent) - 1);
    expect(outbox.pending).toBeLessThanOrEqual(Math.floor(OUTBOX_MAX_BYTES / perEvent));
    expect(drops.total('overflow')).toBe(4_000 - outbox.pending);
    outbox.halt();
  });

  it(`backpressure: past ${OUTBOX_PAUSE_EVENTS} events the output is paused, and resumed once delivery brings it to half`, async () => {
    let down = true;
    const { outbox, drained } = setup(() => (down ? { status: 503, body: null } : OK));
    const calls: boolean[] = [];
    outbox.setPressureListener((full) => calls.push(full));
    for (let n = 1; n < OUTBOX_PAUSE_EVENTS; n++) outbox.addEvent(event(n));
    expect(calls).toEqual([]);
    outbox.addEvent(event(OUTBOX_PAUSE_EVENTS));
    expect(calls).toEqual([true]);
    expect(outbox.pressured).toBe(true);
    // a listener set later (a new process of the agent) hears at once that it must hold back
    const later: boolean[] = [];
    outbox.setPressureListener((full) => later.push(full));
    expect(later).toEqual([true]);
    down = false;
    outbox.retryNow();
    await drained();
    expect(later).toEqual([true, false]);
    expect(outbox.pressured).toBe(false);
  });

  it('an overflow while a batch is in flight drops the oldest events not in flight', async () => {
    let down = true;
    const { worker, drops, outbox, drained } = setup(() => (down ? { status: 503, body: null } : OK));
    for (let n = 1; n <= OUTBOX_MAX_EVENTS; n++) outbox.addEvent(event(n));
    let open!: () => void;
    worker.gate = new Promise<void>((r) => (open = r));
    const posted = worker.posts.length;
    outbox.retryNow();
    while (worker.posts.length === posted) await new Promise((r) => setImmediate(r));
    expect(worker.posts.at(-1)!.body.events).toHaveLength(EVENTS_PER_BATCH);
    for (let n = OUTBOX_MAX_EVENTS + 1; n <= OUTBOX_MAX_EVENTS + 30; n++) outbox.addEvent(event(n));
    down = false;
    worker.gate = null;
    open();
    await drained();
    expect(storedNs(worker)).toEqual([...range(1, 100), ...range(131, OUTBOX_MAX_EVENTS + 30)]);
    expect(drops.total('overflow')).toBe(30);
  });

  it(`batches are bounded by bytes (≤ ${MAX_BATCH_BYTES / 1024} KiB of JSON) as well as by count`, async () => {
    const { worker, outbox, drained } = setup();
    for (let n = 1; n <= 100; n++) outbox.addEvent(event(n, 10_000));
    await drained();
    expect(storedNs(worker)).toEqual(range(1, 100));
    expect(worker.posts.length).toBeGreaterThan(3);
    expect(Math.max(...worker.posts.map((p) => p.bytes))).toBeLessThanOrEqual(MAX_BATCH_BYTES);
  });

  it('413 splits the batch in halves, recursively; an event that alone is too large is dropped (too_large), its neighbours delivered', async () => {
    const limit = 40_000; // this Worker takes smaller bodies than the outbox's batches
    const { worker, drops, outbox, drained, journal } = setup((_p, _b, bytes) => (bytes > limit ? { status: 413, code: 'too_large', body: null } : OK));
    journal.held = []; // one group commit makes all 60 durable at once
    for (let n = 1; n <= 60; n++) outbox.addEvent(event(n, n === 33 ? 50_000 : 1_000));
    journal.commit();
    await drained();
    expect(storedNs(worker)).toEqual(range(1, 60).filter((n) => n !== 33));
    expect(drops.calls).toEqual([{ cause: 'too_large', kind: 'event', count: 1, ack: [expect.any(String)] }]);
    const sizes = worker.posts.map((p) => p.body.events.length);
    expect(sizes[0]).toBe(60);
    expect(sizes[1]).toBe(30); // the first half
  });

  it('refusal: one event the Worker refuses (per-event results) is dropped alone (cause refused); its 99 neighbours are delivered', async () => {
    const { worker, drops, stats, outbox, drained, journal } = setup((_p, body) => ({
      status: 200,
      body: { results: body.events.map((e: any) => ({ id: e.id, status: e.n === 50 ? 'refused' : 'stored', ...(e.n === 50 ? { error: { code: 'bad_event', message: 'no' } } : {}) })) },
    }));
    for (let n = 1; n <= 100; n++) outbox.addEvent(event(n));
    await drained();
    expect(storedNs(worker)).toEqual(range(1, 100).filter((n) => n !== 50));
    expect(drops.calls).toMatchObject([{ cause: 'refused', kind: 'event', count: 1 }]);
    expect(stats.eventsDelivered).toBe(99);
    expect(journal.acked.size).toBe(99);
  });

  it('a 2xx without results takes the whole batch', async () => {
    const { worker, drops, outbox, drained } = setup(() => ({ status: 200, body: { accepted: 3 } }));
    for (let n = 1; n <= 3; n++) outbox.addEvent(event(n));
    await drained();
    expect(storedNs(worker)).toEqual([1, 2, 3]);
    expect(drops.calls).toEqual([]);
  });

  it('nothing is sent before the journal has made it durable', async () => {
    const { worker, journal, outbox, drained } = setup();
    journal.held = [];
    outbox.addEvent(event(1));
    outbox.addReview({ beadId: 'b1', outcome: 'merged' });
    for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
    expect(worker.posts).toEqual([]);
    journal.commit();
    await drained();
    expect(worker.posts.map((p) => p.path)).toEqual(['/events', '/review-complete']);
  });

  it('sends events, then review callbacks, then the completion report last; retries each with the same body', async () => {
    let failures = 3;
    const { worker, outbox, drained } = setup(() => (failures-- > 0 ? { status: 0, code: 'unreachable', body: null } : OK));
    outbox.addEvent(event(1));
    outbox.setCompletion({ status: 'completed' });
    outbox.addReview({ beadId: 'b1', outcome: 'merged' });
    await drained();
    expect(worker.posts.slice(3).map((p) => p.path)).toEqual(['/events', '/review-complete', '/completed']);
    expect(new Set(worker.posts.slice(0, 4).map((p) => JSON.stringify(p.body))).size).toBe(1);
  });

  it('ended: 401 token_revoked with agentEnded true drops everything (cause agent_ended, by kind), later items too, and says so', async () => {
    const { worker, drops, outbox, drained, ended } = setup(() => ({ status: 401, code: 'token_revoked', agentEnded: true, body: null }));
    for (let n = 1; n <= 5; n++) outbox.addEvent(event(n));
    outbox.addReview({ beadId: 'b1', outcome: 'merged' });
    outbox.setCompletion({ status: 'failed' });
    await drained();
    expect(outbox.closed).toBe(true);
    expect(outbox.pending).toBe(0);
    outbox.addEvent(event(6));
    expect(drops.total('agent_ended', 'event')).toBe(6);
    expect(drops.total('agent_ended', 'reviewComplete')).toBe(1);
    expect(drops.total('agent_ended', 'completed')).toBe(1);
    expect(worker.posts).toHaveLength(1);
    expect(ended()).toBe(1);
  });

  it('revoked but not ended: 401 token_revoked (agentEnded false or absent) keeps everything and retries until another token serves', async () => {
    let tokenGen = 1;
    const { worker, drops, outbox, drained, ended } = setup(() =>
      tokenGen === 1 ? { status: 401, code: 'token_revoked', agentEnded: worker.posts.length % 2 === 0 ? false : undefined, body: null } : OK,
    );
    for (let n = 1; n <= 5; n++) outbox.addEvent(event(n));
    outbox.setCompletion({ status: 'completed' });
    while (worker.posts.length < 5) await new Promise((r) => setTimeout(r, 1));
    expect(outbox.closed).toBe(false);
    expect(outbox.pending).toBe(6);
    tokenGen = 2; // the TownDO restarted the agent: its new token is in the store
    outbox.retryNow();
    await drained();
    expect(storedNs(worker)).toEqual([1, 2, 3, 4, 5]);
    expect(worker.posts.at(-1)!.path).toBe('/completed');
    expect(drops.calls).toEqual([]);
    expect(ended()).toBe(0);
  });

  it('a review callback or completion report the Worker refuses (4xx) is dropped (cause refused) and the rest flows', async () => {
    const { worker, drops, outbox, drained } = setup((path) => (path === '/review-complete' ? { status: 409, code: 'conflict', body: null } : path === '/completed' ? { status: 404, body: null } : OK));
    outbox.addReview({ beadId: 'b1', outcome: 'rejected' });
    outbox.addEvent(event(1));
    outbox.setCompletion({ status: 'completed' });
    await drained();
    expect(drops.calls).toMatchObject([{ cause: 'refused', kind: 'reviewComplete', count: 1 }, { cause: 'refused', kind: 'completed', count: 1 }]);
    expect(storedNs(worker)).toEqual([1]);
  });

  it('a new incarnation supersedes the completion report still queued (cause superseded); the events stay', async () => {
    const { drops, outbox } = setup(() => ({ status: 503, body: null }), { baseMs: 60_000, capMs: 60_000, floorMs: 60_000 });
    outbox.addEvent(event(1));
    outbox.setCompletion({ status: 'completed' });
    outbox.dropCompletion('superseded');
    expect(drops.calls).toMatchObject([{ cause: 'superseded', kind: 'completed', count: 1 }]);
    expect(outbox.pending).toBe(1);
    outbox.halt();
  });

  it('end (stop) drops what is buffered (cause agent_ended) and wakes a sleeping retry', async () => {
    const { drops, outbox, drained } = setup(() => ({ status: 503, body: null }), { baseMs: 60_000, capMs: 60_000, floorMs: 60_000 });
    outbox.addEvent(event(1));
    outbox.addEvent(event(2));
    await new Promise((r) => setImmediate(r));
    const done = drained();
    outbox.end('agent_ended');
    await done; // resolves without waiting out the 60 s backoff
    expect(drops.total('agent_ended')).toBe(2);
  });

  it('retryNow cuts a backoff wait short; halt stops sending, abandons the request in flight (its signal aborts) and drops nothing', async () => {
    let down = true;
    const { worker, drops, stats, outbox, drained } = setup(() => (down ? { status: 503, body: null } : OK), { baseMs: 60_000, capMs: 60_000, floorMs: 60_000 });
    outbox.addEvent(event(1));
    while (worker.posts.length === 0) await new Promise((r) => setImmediate(r));
    down = false;
    const done = drained();
    outbox.retryNow();
    await done;
    expect(worker.posts).toHaveLength(2);
    expect(stats.eventsDelivered).toBe(1);
    expect(worker.signals.every((sig) => sig?.aborted === false)).toBe(true);
    outbox.halt();
    expect(worker.signals.every((sig) => sig?.aborted === true)).toBe(true);
    outbox.addEvent(event(2));
    for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
    expect(worker.posts).toHaveLength(2);
    expect(outbox.pending).toBe(1);
    expect(drops.calls).toEqual([]);
  });
});

describe('backoff: capped exponential, full jitter', () => {
  it.each([
    [0, 0.999, 199],
    [1, 0.5, 200],
    [3, 0.999, 1598],
    [5, 0.999, 4995],
    [10, 0.999, 4995],
    [1_000, 0.999, 4995],
    [10, 0, 50],
    [2, 0.1, 80],
  ])('attempt %i, random %f → %i ms', (attempt, random, ms) => {
    expect(backoffDelayMs(attempt, random)).toBe(ms);
  });

  it('draws over the whole range below the ceiling (full jitter, not equal jitter)', () => {
    const draws = Array.from({ length: 200 }, (_, i) => backoffDelayMs(8, i / 200));
    expect(Math.min(...draws)).toBe(BACKOFF_DEFAULTS.floorMs);
    expect(Math.max(...draws)).toBeGreaterThan(4_900);
  });
});
