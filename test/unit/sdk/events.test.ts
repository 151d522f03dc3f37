import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { GastownClient, isGap, type ReconnectInfo, type TownEventsOptions, type TownStreamItem } from '../../../sdk/index.ts';
import { startSseServer } from './sse-server.ts';

let server: Awaited<ReturnType<typeof startSseServer>>;
let client: GastownClient;
let delays: number[];
let reconnects: ReconnectInfo[];

beforeEach(async () => {
  server = await startSseServer();
  client = new GastownClient({ baseUrl: server.url, clientId: 'me', clientSecret: 'secret' });
  delays = [];
  reconnects = [];
});
afterEach(async () => server.close());

/** Options with the reconnect wait recorded instead of slept. */
function opts(extra: TownEventsOptions = {}): TownEventsOptions {
  return { sleep: async (ms) => void delays.push(ms), onReconnect: (info) => void reconnects.push(info), ...extra };
}

/** Collects items until `until` says stop (then breaks out of the loop, closing the stream). */
async function collect(iterable: AsyncIterable<TownStreamItem>, until: (items: TownStreamItem[]) => boolean): Promise<TownStreamItem[]> {
  const items: TownStreamItem[] = [];
  for await (const item of iterable) {
    items.push(item);
    if (until(items)) break;
  }
  return items;
}

/** Lets the server and the client run (turns of the event loop, not a clock: fake timers do not move) until `check` holds. */
async function settle(check: () => boolean) {
  for (let i = 0; i < 1_000 && !check(); i++) await new Promise((r) => setImmediate(r));
  expect(check()).toBe(true);
}

const ids = (items: TownStreamItem[]) => items.map((i) => (isGap(i) ? `gap(${i.after}→${i.oldest})` : i.id));
const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

describe('town events iterator', () => {
  it('a server that replays events already yielded (ignoring Last-Event-ID): none is yielded twice', async () => {
    server.publish(10);
    server.state.plans.push({ count: 5 }, { replayFrom: 2, count: 6 }, { replayFrom: 0, then: 'hold' });
    const items = await collect(client.events('town-1', opts()), (all) => all.length === 10);
    expect(ids(items)).toEqual(range(1, 10));
    expect(server.state.connections.map((c) => c.lastEventId)).toEqual([null, '5', '8']);
    expect(items[0]).toEqual({ id: 1, type: 'test.event', data: { n: 1 } });
  });

  it('Last-Event-ID older than the retention window: a gap event, then the replay from the oldest retained', async () => {
    server.publish(60);
    server.state.oldest = 50;
    server.state.plans.push({ then: 'hold' });
    const items = await collect(client.events('town-1', opts({ lastEventId: 2 })), (all) => all.length === 12);
    expect(ids(items)).toEqual(['gap(2→50)', ...range(50, 60)]);
    expect(items[0]).toEqual({ type: 'gap', after: 2, oldest: 50 });
  });

  it('events lost while disconnected (retention moved past us): the gap is reported, not skipped silently', async () => {
    server.publish(5);
    server.state.plans.push({ then: 'end' }, { then: 'hold' });
    const iterator = client.events('town-1', opts({ sleep: async () => {
      server.publish(20);
      server.state.oldest = 20;
    } }));
    const items = await collect(iterator, (all) => all.length === 5 + 1 + 6);
    expect(ids(items)).toEqual([...range(1, 5), 'gap(5→20)', ...range(20, 25)]);
  });

  it('the access token expired while the stream was down: 401, one fresh token, resume with Last-Event-ID', async () => {
    server.publish(3);
    server.state.plans.push({ then: 'end' }, { then: 'hold' });
    const iterator = client.events('town-1', opts({ sleep: async () => void server.state.expired.add('t1') }));
    const items = await collect(iterator, (all) => {
      if (all.length === 3) server.publish(2);
      return all.length === 5;
    });
    expect(ids(items)).toEqual(range(1, 5));
    expect(server.state.connections).toEqual([
      { token: 't1', lastEventId: null, status: 200 },
      { token: 't1', lastEventId: '3', status: 401 },
      { token: 't2', lastEventId: '3', status: 200 },
    ]);
    expect(server.state.tokenRequests).toBe(2);
  });

  it('the socket destroyed mid-stream: reconnects with backoff and resumes after the last event', async () => {
    server.publish(4);
    server.state.plans.push({ count: 2, then: 'destroy' }, { count: 1, then: 'destroy' }, { then: 'hold' });
    const items = await collect(client.events('town-1', opts({ backoff: { initialMs: 100, maxMs: 1_000 } })), (all) => all.length === 4);
    expect(ids(items)).toEqual(range(1, 4));
    expect(server.state.connections.map((c) => c.lastEventId)).toEqual([null, '2', '3']);
    expect(reconnects.map((r) => r.reason)).toEqual(['network_error', 'network_error']);
    for (const delay of delays) expect(delay).toBeGreaterThanOrEqual(50);
  });

  it('a rate-limited reconnect (429 Retry-After: 3) waits at least what the server asked', async () => {
    server.publish(2);
    server.state.plans.push({ status: 429, retryAfter: '3' }, { status: 503 }, { then: 'hold' });
    const items = await collect(client.events('town-1', opts()), (all) => all.length === 2);
    expect(ids(items)).toEqual([1, 2]);
    expect(reconnects.map((r) => [r.reason, r.error?.status])).toEqual([['http_error', 429], ['http_error', 503]]);
    expect(delays[0]).toBeGreaterThanOrEqual(3_000);
    expect(delays[1]).toBeLessThan(3_000);
  });

  it('failures back off exponentially up to the cap and reset after an event', async () => {
    server.state.plans.push(...Array(6).fill({ status: 503 }), { then: 'hold' });
    server.publish(1);
    await collect(client.events('town-1', opts({ backoff: { initialMs: 100, maxMs: 800 } })), (all) => all.length === 1);
    const caps = [100, 200, 400, 800, 800, 800];
    expect(delays).toHaveLength(6);
    delays.forEach((delay, i) => {
      expect(delay).toBeGreaterThanOrEqual(caps[i]! / 2);
      expect(delay).toBeLessThanOrEqual(caps[i]!);
    });
    expect(reconnects.map((r) => r.attempt)).toEqual([1, 2, 3, 4, 5, 6]);
  });

  it('an unknown town (404) is thrown as a GastownError, not retried', async () => {
    const iterator = client.events('town-1', opts());
    server.state.plans.push({ status: 404 });
    await expect(collect(iterator, () => false)).rejects.toMatchObject({ name: 'GastownError', status: 404, code: 'unavailable' });
    expect(server.state.connections).toHaveLength(1);
  });

  it('a new token refused as well (credentials revoked): gives up after maxUnauthorized tries', async () => {
    server.state.plans.push({ then: 'hold' });
    for (let i = 1; i <= 10; i++) server.state.expired.add(`t${i}`);
    await expect(collect(client.events('town-1', opts({ maxUnauthorized: 2 })), () => false)).rejects.toMatchObject({ status: 401, code: 'token_expired' });
    expect(server.state.connections.map((c) => c.status)).toEqual([401, 401, 401, 401]);
  });

  it('a connection gone silent (no keep-alive) is dropped after idleTimeoutMs and reopened', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    try {
      server.publish(1);
      server.state.plans.push({ then: 'silent' }, { then: 'hold' });
      let seen: TownStreamItem[] = [];
      const done = collect(client.events('town-1', opts({ idleTimeoutMs: 90_000 })), (all) => ((seen = [...all]), all.length === 2));
      await settle(() => seen.length === 1);
      await vi.advanceTimersByTimeAsync(89_999);
      expect(reconnects).toEqual([]);
      await vi.advanceTimersByTimeAsync(1);
      await settle(() => server.state.connections.length === 2 && server.state.open === 1);
      server.publish(1);
      expect(ids(await done)).toEqual([1, 2]);
      expect(reconnects.map((r) => r.reason)).toEqual(['idle']);
      expect(server.state.connections.map((c) => c.lastEventId)).toEqual([null, '1']);
    } finally {
      vi.useRealTimers();
    }
  });

  it('a stream the server ends in the middle of a frame (as at its token’s expiry): the unfinished event is not yielded, and comes whole, once, on the next connection', async () => {
    server.publish(3);
    server.state.plans.push({ count: 2, then: 'end-mid-frame' }, { then: 'hold' });
    const items = await collect(client.events('town-1', opts()), (all) => all.length === 3);
    expect(items).toEqual([1, 2, 3].map((n) => ({ id: n, type: 'test.event', data: { n } })));
    expect(server.state.connections.map((c) => c.lastEventId)).toEqual([null, '2']);
    expect(reconnects.map((r) => [r.reason, r.error])).toEqual([['ended', undefined]]);
  });

  it('breaking out of the loop closes the connection', async () => {
    server.publish(3);
    server.state.plans.push({ then: 'hold' });
    await collect(client.events('town-1', opts()), (all) => all.length === 2);
    await expect.poll(() => server.state.closed).toBe(1);
    expect(server.state.open).toBe(0);
  });

  it('a request aborted by the network rather than the caller is a broken connection: reconnects, does not end', async () => {
    server.publish(3);
    server.state.plans.push({ then: 'hold' });
    let calls = 0;
    const flaky = new GastownClient({
      baseUrl: server.url,
      clientId: 'me',
      clientSecret: 'secret',
      fetch: async (url, init) => {
        if (url.endsWith('/events') && ++calls <= 2) throw new DOMException('The operation was aborted.', 'AbortError');
        return fetch(url, init);
      },
    });
    const items = await collect(flaky.events('town-1', opts()), (all) => all.length === 3);
    expect(ids(items)).toEqual([1, 2, 3]);
    expect(reconnects.map((r) => r.reason)).toEqual(['network_error', 'network_error']);
  });

  it('an abort ends the iteration without an error and closes the connection', async () => {
    server.state.plans.push({ then: 'hold' });
    const controller = new AbortController();
    const items: TownStreamItem[] = [];
    const done = (async () => {
      for await (const item of client.events('town-1', opts({ signal: controller.signal }))) items.push(item);
    })();
    await expect.poll(() => server.state.open).toBe(1);
    server.publish(1);
    await expect.poll(() => items.length).toBe(1);
    controller.abort();
    await expect(done).resolves.toBeUndefined();
    await expect.poll(() => server.state.open).toBe(0);
  });

  it('an abort during the reconnect wait ends the iteration at once', async () => {
    server.state.plans.push({ status: 503 });
    const controller = new AbortController();
    const iterator = client.events('town-1', { signal: controller.signal, backoff: { initialMs: 60_000, maxMs: 60_000 }, onReconnect: () => controller.abort() });
    const started = Date.now();
    await expect(collect(iterator, () => false)).resolves.toEqual([]);
    expect(Date.now() - started).toBeLessThan(5_000);
  });
});
