import { describe, expect, it } from 'vitest';
import { backoffDelayMs, DEFAULT_BACKOFF } from '../../../container/src/domain/backoff.ts';
import { EVENTS_PER_BATCH, OUTBOX_MAX_EVENTS, Outbox, type DeliveryClient } from '../../../container/src/services/outbox.ts';
import { Stats } from '../../../container/src/services/stats.ts';
import type { WorkerReply } from '../../../container/src/services/worker-client.ts';

const AGENT = { agentId: 'a1', townId: 't1', apiUrl: 'http://unused' };
const FAST = { baseMs: 1, capMs: 4, floorMs: 1 };

/** A Worker behind the seam: answers with `reply()`, records every POST. */
class FakeWorker implements DeliveryClient {
  posts: Array<{ path: string; body: any }> = [];
  stored = new Map<string, unknown>();
  reply: (path: string) => WorkerReply = () => ({ status: 200, body: {} });
  /** When set, the next POST waits for it. */
  gate: Promise<void> | null = null;

  async post(_agent: unknown, path: string, body: any): Promise<WorkerReply> {
    this.posts.push({ path, body });
    if (this.gate) await this.gate;
    const r = this.reply(path);
    if (r.status === 200 && path === '/events') for (const e of body.events) this.stored.set(e.id, e);
    return r;
  }
}

let seq = 0;
const event = (n: number) => ({ id: `e-${++seq}`, type: 'tick', ts: new Date(0).toISOString(), n });
const drained = (outbox: Outbox) => new Promise<void>((resolve) => outbox.whenDrained(resolve));

describe('outbox', () => {
  it(`holds ${OUTBOX_MAX_EVENTS} events through an outage, drops the oldest past that (counted), then delivers the rest once, in order, in batches ≤ ${EVENTS_PER_BATCH}`, async () => {
    const worker = new FakeWorker();
    const stats = new Stats();
    let down = true;
    worker.reply = () => (down ? { status: 503, body: null } : { status: 200, body: {} });
    const outbox = new Outbox(AGENT, worker, stats, FAST);
    for (let n = 1; n <= OUTBOX_MAX_EVENTS + 50; n++) outbox.addEvent(event(n));
    expect(outbox.pending).toBe(OUTBOX_MAX_EVENTS);
    expect(stats.eventsDropped).toBe(50);
    down = false;
    await drained(outbox);
    const delivered = [...worker.stored.values()].map((e) => (e as { n: number }).n);
    // event 1 was in flight when the buffer overflowed, so 2..51 are the oldest dropped
    expect(delivered).toEqual([1, ...Array.from({ length: OUTBOX_MAX_EVENTS - 1 }, (_, i) => i + 52)]);
    expect(stats.eventsDelivered).toBe(OUTBOX_MAX_EVENTS);
    expect(Math.max(...worker.posts.map((p) => p.body.events.length))).toBeLessThanOrEqual(EVENTS_PER_BATCH);
    // retries re-sent the same ids: the ids ever posted are exactly the ids stored
    const posted = new Set(worker.posts.flatMap((p) => p.body.events.map((e: { id: string }) => e.id)));
    expect(posted).toEqual(new Set(worker.stored.keys()));
  });

  it('an overflow while a full batch is in flight drops the oldest events not in flight', async () => {
    const worker = new FakeWorker();
    const stats = new Stats();
    let down = true;
    worker.reply = () => (down ? { status: 503, body: null } : { status: 200, body: {} });
    const outbox = new Outbox(AGENT, worker, stats, FAST);
    for (let n = 1; n <= OUTBOX_MAX_EVENTS; n++) outbox.addEvent(event(n));
    // hold the retry (a full batch of 100) in flight, then overflow the buffer
    let open!: () => void;
    const inFlight = new Promise<void>((started) => {
      worker.gate = new Promise<void>((r) => (open = r));
      const post = worker.post.bind(worker);
      worker.post = (...args) => {
        started();
        return post(...args);
      };
    });
    await inFlight;
    expect(worker.posts.at(-1)!.body.events).toHaveLength(EVENTS_PER_BATCH);
    for (let n = OUTBOX_MAX_EVENTS + 1; n <= OUTBOX_MAX_EVENTS + 30; n++) outbox.addEvent(event(n));
    down = false;
    worker.gate = null;
    open();
    await drained(outbox);
    const stored = [...worker.stored.values()].map((e) => (e as { n: number }).n);
    const expected = [...Array.from({ length: 100 }, (_, i) => i + 1), ...Array.from({ length: OUTBOX_MAX_EVENTS - 100 }, (_, i) => i + 131)];
    expect(stored).toEqual(expected);
    expect(stats.eventsDropped).toBe(30);
    expect(stored.length + stats.eventsDropped).toBe(stats.eventsQueued);
  });

  it('sends events, then review callbacks, then the completion report last; retries each with the same body', async () => {
    const worker = new FakeWorker();
    let failures = 3;
    worker.reply = () => (failures-- > 0 ? { status: 0, code: 'unreachable', body: null } : { status: 200, body: {} });
    const outbox = new Outbox(AGENT, worker, new Stats(), FAST);
    outbox.addEvent(event(1));
    outbox.addCallback('completed', '/completed', { status: 'completed' });
    outbox.addCallback('reviewComplete', '/review-complete', { beadId: 'b1', outcome: 'merged' });
    await drained(outbox);
    const accepted = worker.posts.slice(3).map((p) => p.path);
    expect(accepted).toEqual(['/events', '/review-complete', '/completed']);
    expect(new Set(worker.posts.slice(0, 4).map((p) => JSON.stringify(p.body))).size).toBe(1);
  });

  it('401 token_revoked ends deliveries: the queue is dropped and counted, later events too', async () => {
    const worker = new FakeWorker();
    const stats = new Stats();
    worker.reply = () => ({ status: 401, code: 'token_revoked', body: null });
    const outbox = new Outbox(AGENT, worker, stats, FAST);
    for (let n = 1; n <= 5; n++) outbox.addEvent(event(n));
    outbox.addCallback('completed', '/completed', { status: 'failed' });
    await drained(outbox);
    expect(outbox.closed).toBe(true);
    expect(outbox.pending).toBe(0);
    outbox.addEvent(event(6));
    expect(stats.eventsDroppedRevoked).toBe(6);
    expect(worker.posts).toHaveLength(1);
  });

  it('a batch the Worker refuses as invalid (4xx) is dropped, counted, and the rest still flows', async () => {
    const worker = new FakeWorker();
    const stats = new Stats();
    let first = true;
    worker.reply = () => {
      if (first) {
        first = false;
        return { status: 400, code: 'bad_request', body: null };
      }
      return { status: 200, body: {} };
    };
    const outbox = new Outbox(AGENT, worker, stats, FAST);
    outbox.addEvent(event(1));
    outbox.addEvent(event(2));
    await drained(outbox);
    expect(stats.eventsDropped + stats.eventsDelivered).toBe(2);
    expect(stats.eventsDropped).toBeGreaterThanOrEqual(1);
  });

  it('close on stop drops what is buffered (counted as stopped) and wakes a sleeping retry', async () => {
    const worker = new FakeWorker();
    const stats = new Stats();
    worker.reply = () => ({ status: 503, body: null });
    const outbox = new Outbox(AGENT, worker, stats, { baseMs: 60_000, capMs: 60_000, floorMs: 60_000 });
    outbox.addEvent(event(1));
    outbox.addEvent(event(2));
    await new Promise((r) => setImmediate(r));
    const done = drained(outbox);
    outbox.close('stopped');
    await done; // resolves without waiting out the 60 s backoff
    expect(stats.eventsDroppedStopped).toBe(2);
  });

  it('retryNow cuts a backoff wait short: what is buffered is delivered at once (the control server is shutting down)', async () => {
    const worker = new FakeWorker();
    const stats = new Stats();
    let down = true;
    worker.reply = () => (down ? { status: 503, body: null } : { status: 200, body: {} });
    const outbox = new Outbox(AGENT, worker, stats, { baseMs: 60_000, capMs: 60_000, floorMs: 60_000 });
    outbox.addEvent(event(1));
    await new Promise((r) => setImmediate(r));
    expect(worker.posts).toHaveLength(1); // failed, now sleeping 60 s
    down = false;
    const done = drained(outbox);
    outbox.retryNow();
    await done;
    expect(worker.posts).toHaveLength(2);
    expect(stats.eventsDelivered).toBe(1);
    expect(outbox.pending).toBe(0);
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
    expect(Math.min(...draws)).toBe(DEFAULT_BACKOFF.floorMs);
    expect(Math.max(...draws)).toBeGreaterThan(4_900);
  });
});
