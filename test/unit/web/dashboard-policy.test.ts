import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
// The page's own modules, run in Node: no DOM needed for these.
import { gapsOf, tokenCoverage } from '../../../web/lib/coverage.js';
import { TownEventStream } from '../../../web/lib/event-stream.js';
import { refreshMarginMs, retryDelayMs, sessionTiming } from '../../../web/lib/policy.js';
import { Session } from '../../../web/lib/session.js';
import { ROOT } from '../../../scripts/lib/local-town.ts';

/**
 * The dashboard's session and stream policies, without a browser: an injected clock and
 * timers, and a scripted server (fetch). The browser test (dashboard.test.ts) shows the
 * same against the real Worker.
 */

type Handler = (path: string, init: RequestInit) => Response | Promise<Response>;

/** A page clock and timers that run only when told. */
function fakeTime(start = 1_000_000) {
  let now = start;
  let next = 1;
  const timers = new Map<number, { at: number; fn: () => void }>();
  return {
    now: () => now,
    timers: {
      set: (fn: () => void, ms: number) => (timers.set(next, { at: now + ms, fn }), next++),
      clear: (id: number) => void timers.delete(id),
    },
    pending: () => [...timers.values()].map((t) => t.at - now),
    /** Moves the clock and runs the timers that are due. */
    advance(ms: number) {
      now += ms;
      for (const [id, t] of [...timers].sort((a, b) => a[1].at - b[1].at)) {
        if (t.at <= now) (timers.delete(id), t.fn());
      }
    },
  };
}

const json = (status: number, body: unknown) => new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });
const renewal = (lifetimeSeconds = 4, expiresAt = '2099-01-01T00:00:00Z') => json(200, { signedIn: true, expiresAt, sessionExpiresAt: '2099-01-08T00:00:00Z', lifetimeSeconds });
const unauthorized = () => json(401, { error: { code: 'unauthorized', message: 'no session' } });
const tick = () => new Promise((r) => setTimeout(r, 0));

function memoryStorage() {
  const m = new Map<string, string>();
  return { getItem: (k: string) => m.get(k) ?? null, setItem: (k: string, v: string) => void m.set(k, v), removeItem: (k: string) => void m.delete(k) };
}

function session(handler: Handler, time = fakeTime(), storage = memoryStorage()) {
  const calls: string[] = [];
  const s = new Session({
    fetch: (async (path: string, init: RequestInit = {}) => (calls.push(`${init.method ?? 'GET'} ${path}`), handler(path, init))) as typeof fetch,
    now: time.now,
    timers: time.timers,
    storage: storage as unknown as Storage,
  });
  return { s, calls, time, storage };
}

describe('session timing: renew when less than the smaller of 5 minutes or a fifth of the lifetime remains', () => {
  it.each([
    [4, 800],
    [60, 12_000],
    [1_500, 300_000],
    [3_600, 300_000],
    [86_400, 300_000],
  ])('a %i s access cookie is renewed %i ms before it expires', (lifetimeSeconds, margin) => {
    expect(refreshMarginMs(lifetimeSeconds * 1000)).toBe(margin);
    expect(sessionTiming(5_000, lifetimeSeconds)).toEqual({ expiresAt: 5_000 + lifetimeSeconds * 1000, refreshAt: 5_000 + lifetimeSeconds * 1000 - margin, lifetimeMs: lifetimeSeconds * 1000 });
  });

  it('retries back off from 1 s, never past the ceiling', () => {
    expect([1, 2, 3, 6, 10].map((n) => retryDelayMs(n))).toEqual([1_000, 2_000, 4_000, 30_000, 30_000]);
    expect(retryDelayMs(5, 1_500)).toBe(1_500);
  });
});

describe('the page session', () => {
  it("times the renewal from the page's clock when the request left, whatever the server's expiresAt says", async () => {
    const { s, time } = session(() => renewal(4, '1999-01-01T00:00:00Z'));
    await s.signIn('id', 'secret');
    expect(s.state).toBe('signed-in');
    expect(time.pending()).toEqual([3_200]);
    time.advance(3_200);
    await tick();
    expect(s.renewals).toBe(1);
    expect(time.pending()).toEqual([3_200]);
  });

  it('concurrent 401s share one renewal, and each request is sent once more', async () => {
    let renewed = false;
    const { s, calls } = session((path) => {
      if (path === '/api/session/refresh') return (renewed = true), renewal();
      if (path === '/api/session') return renewal();
      return renewed ? json(200, { ok: path }) : unauthorized();
    });
    await s.signIn('id', 'secret');
    const answers = await Promise.all([s.request('GET', '/api/a'), s.request('GET', '/api/b'), s.request('GET', '/api/c')]);
    expect(answers).toEqual([{ ok: '/api/a' }, { ok: '/api/b' }, { ok: '/api/c' }]);
    expect(calls.filter((c) => c === 'POST /api/session/refresh')).toHaveLength(1);
    expect(calls.filter((c) => c.startsWith('GET /api/'))).toHaveLength(6);
  });

  it('a 401 for a request sent before a renewal that has since finished is retried without renewing again', async () => {
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    let sent = 0;
    const { s, calls } = session(async (path) => {
      if (path.startsWith('/api/session')) return renewal();
      if (path === '/api/slow' && sent++ === 0) return held.then(unauthorized);
      return json(200, { ok: true });
    });
    await s.signIn('id', 'secret');
    const slow = s.request('GET', '/api/slow');
    await s.refresh();
    release();
    expect(await slow).toEqual({ ok: true });
    expect(calls.filter((c) => c === 'POST /api/session/refresh')).toHaveLength(1);
  });

  it('a retry answered 401 again is the answer: no loop of renewals', async () => {
    const { s, calls } = session((path) => (path.startsWith('/api/session') ? renewal() : unauthorized()));
    await s.signIn('id', 'secret');
    await expect(s.request('GET', '/api/x')).rejects.toMatchObject({ status: 401, code: 'unauthorized' });
    expect(calls).toEqual(['POST /api/session', 'GET /api/x', 'POST /api/session/refresh', 'GET /api/x']);
  });

  it('a renewal refused with 401 signs the page out, forgets the session and stops renewing', async () => {
    const { s, time, storage } = session((path) => (path === '/api/session/refresh' ? unauthorized() : renewal()));
    await s.signIn('id', 'secret');
    expect(storage.getItem('gastown.sessionUntil')).toBe('2099-01-08T00:00:00Z');
    time.advance(3_200);
    await tick();
    expect(s.state).toBe('signed-out');
    expect(s.endedBecause).toMatch(/sign in again/);
    expect(time.pending()).toEqual([]);
    expect(storage.getItem('gastown.sessionUntil')).toBeNull();
  });

  it('a renewal that gets no answer keeps the session and tries again before the cookie expires', async () => {
    let down = true;
    const { s, time } = session((path) => {
      if (path === '/api/session/refresh' && down) throw new TypeError('Failed to fetch');
      return renewal();
    });
    await s.signIn('id', 'secret');
    time.advance(3_200);
    await tick();
    expect(s.state).toBe('signed-in');
    expect(String(s.lastError)).toMatch(/^network: /);
    expect(time.pending()).toEqual([400]); // half of the 800 ms left
    down = false;
    time.advance(400);
    await tick();
    expect(s.renewals).toBe(1);
    expect(s.lastError).toBeNull();
  });

  it('on load: a visitor never signed in makes no renewal (no 401 to log); a remembered session is renewed', async () => {
    const visitor = session((path) => (path === '/api/session' ? json(200, { signedIn: false }) : renewal()));
    await visitor.s.start();
    expect(visitor.s.state).toBe('signed-out');
    expect(visitor.calls).toEqual(['GET /api/session']);

    const storage = memoryStorage();
    storage.setItem('gastown.sessionUntil', '2099-01-08T00:00:00Z');
    const returning = session((path) => (path === '/api/session' ? json(200, { signedIn: false }) : renewal()), fakeTime(), storage);
    await returning.s.start();
    expect(returning.s.state).toBe('signed-in');
    expect(returning.calls).toEqual(['GET /api/session', 'POST /api/session/refresh']);
  });
});

/** A scripted SSE server: each connection gets the next script; a script that does not end stays open. */
function sseServer(scripts: Array<{ frames: string; end: boolean } | Response>) {
  const requests: Array<{ lastEventId: string | null; signal: AbortSignal | undefined }> = [];
  const fetchStream = async (_path: string, init: RequestInit = {}) => {
    const headers = new Headers(init.headers);
    requests.push({ lastEventId: headers.get('last-event-id'), signal: init.signal ?? undefined });
    const script = scripts.shift() ?? { frames: '', end: false };
    if (script instanceof Response) return script;
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(new TextEncoder().encode(script.frames));
        if (script.end) controller.close();
        init.signal?.addEventListener('abort', () => controller.error(new DOMException('aborted', 'AbortError')));
      },
    });
    return new Response(body, { headers: { 'content-type': 'text/event-stream' } });
  };
  return { requests, session: { state: 'signed-in', fetch: fetchStream } };
}
const frame = (id: number, type = 'agent.events') => `id: ${id}\nevent: ${type}\ndata: {"n":${id}}\n\n`;

/** Lets the scripted server and the stream run (turns of the event loop, no clock) until `check` holds. */
async function until(check: () => boolean) {
  for (let i = 0; i < 200 && !check(); i++) await new Promise((r) => setImmediate(r));
  expect(check()).toBe(true);
}

describe('the town event stream', () => {
  it('resumes after the last delivered id and delivers every id once across reconnects', async () => {
    const server = sseServer([
      { frames: `retry: 0\n\n${frame(1)}${frame(2)}${frame(3)}`, end: true },
      { frames: `${frame(2)}${frame(3)}${frame(4)}`, end: false },
    ]);
    const ids: number[] = [];
    const stream = new TownEventStream(server.session, 't1', { onEvent: (e) => ids.push(e.id), onGap: () => {} });
    stream.start();
    await until(() => ids.length === 4);
    stream.stop();
    expect(ids).toEqual([1, 2, 3, 4]);
    expect(server.requests.map((r) => r.lastEventId)).toEqual([null, '3']);
    expect(stream.stats).toMatchObject({ delivered: 4, duplicates: 2, connections: 2 });
  });

  it('a stream the server ends for its cookie’s expiry (retry: 0) resumes at once after the last id, on a new request the page never aborted', async () => {
    const time = fakeTime();
    // as the Worker ends it (EXPIRED_FRAME in src/services/event-hub.ts; not imported: this test is type-checked as Node code)
    const EXPIRED_FRAME = ': the credential of this stream has expired; reconnect with Last-Event-ID\nretry: 0\n\n';
    const server = sseServer([
      { frames: `retry: 2000\n\n${frame(7)}${frame(8)}${EXPIRED_FRAME}`, end: true },
      { frames: `retry: 2000\n\n${frame(8)}${frame(9)}`, end: false },
    ]);
    const ids: number[] = [];
    const stream = new TownEventStream(server.session, 't1', { onEvent: (e) => ids.push(e.id), onGap: () => {} }, { timers: time.timers });
    stream.start();
    await until(() => ids.length === 3);
    expect(time.pending()).toEqual([]); // no wait: the clock never moved
    stream.stop();
    expect(server.requests[0]!.signal?.aborted).toBe(false);
    expect(server.requests[1]!.lastEventId).toBe('8');
    expect(ids).toEqual([7, 8, 9]);
    expect(stream.stats).toMatchObject({ delivered: 3, duplicates: 1, connections: 2 });
  });

  it('a stream the server ends without a word waits its `retry:` before resuming', async () => {
    const time = fakeTime();
    const server = sseServer([
      { frames: `retry: 2000\n\n${frame(1)}`, end: true },
      { frames: frame(2), end: false },
    ]);
    const ids: number[] = [];
    const stream = new TownEventStream(server.session, 't1', { onEvent: (e) => ids.push(e.id), onGap: () => {} }, { timers: time.timers });
    stream.start();
    await until(() => time.pending().length === 1);
    expect(time.pending()).toEqual([2_000]);
    expect(server.requests).toHaveLength(1);
    time.advance(2_000);
    await until(() => ids.length === 2);
    stream.stop();
    expect(server.requests[1]!.lastEventId).toBe('1');
  });

  it('a stream the server ends in the middle of a frame: the unfinished event is not delivered, and comes whole, once, after the wait', async () => {
    const time = fakeTime();
    const server = sseServer([
      { frames: `retry: 2000\n\n${frame(1)}id: 2\nevent: agent.events\nda`, end: true },
      { frames: `retry: 2000\n\n${frame(2)}`, end: false },
    ]);
    const events: Array<{ id: number; data: unknown }> = [];
    const stream = new TownEventStream(server.session, 't1', { onEvent: (e) => events.push(e), onGap: () => {} }, { timers: time.timers });
    stream.start();
    await until(() => time.pending().length === 1);
    expect(events.map((e) => e.id)).toEqual([1]);
    time.advance(2_000);
    await until(() => events.length === 2);
    stream.stop();
    expect(events).toEqual([1, 2].map((n) => ({ id: n, type: 'agent.events', data: { n } })));
    expect(server.requests[1]!.lastEventId).toBe('1');
  });

  it('a gap frame from the server is reported, and the stream goes on', async () => {
    const server = sseServer([{ frames: `event: gap\ndata: {"after":3,"oldest":10}\n\n${frame(10)}`, end: false }]);
    const gaps: unknown[] = [];
    const ids: number[] = [];
    const stream = new TownEventStream(server.session, 't1', { onEvent: (e) => ids.push(e.id), onGap: (g) => gaps.push(g) });
    stream.start();
    await until(() => ids.length === 1);
    stream.stop();
    expect(gaps).toEqual([{ after: 3, oldest: 10 }]);
  });

  it('a town at its subscriber cap (429) is asked again after Retry-After, with the API error shown meanwhile', async () => {
    const capped = json(429, { error: { code: 'rate_limited', message: 'a town streams to at most 16 subscribers' } });
    capped.headers.set('retry-after', '0');
    const server = sseServer([capped, { frames: frame(1), end: false }]);
    const details: string[] = [];
    const ids: number[] = [];
    const stream = new TownEventStream(server.session, 't1', { onEvent: (e) => ids.push(e.id), onGap: () => {} });
    stream.addEventListener('status', () => details.push(stream.detail));
    stream.start();
    await until(() => ids.length === 1);
    stream.stop();
    expect(details.some((d) => d.startsWith('rate_limited: a town streams to at most 16 subscribers'))).toBe(true);
  });
  it('a town that is not there (404) stops the stream with the API error instead of asking again', async () => {
    const server = sseServer([json(404, { error: { code: 'not_found', message: 'no such town' } }), { frames: frame(1), end: false }]);
    const time = fakeTime();
    const stream = new TownEventStream(server.session, 'gone', { onEvent: () => {}, onGap: () => {} }, { timers: time.timers });
    stream.start();
    await until(() => stream.status === 'stopped');
    expect(stream.detail).toBe('not_found: no such town');
    expect(time.pending()).toEqual([]); // nothing scheduled: it will never ask again
    time.advance(3_600_000);
    await new Promise((r) => setImmediate(r));
    expect(server.requests).toHaveLength(1);
  });
});

describe('token coverage', () => {
  const w = (from: number, to: number) => ({ gen: 0, kind: 'refresh', from, to });
  it.each([
    ['overlapping windows', [w(0, 10), w(5, 15), w(12, 30)], 20, []],
    ['a window that starts after the last one expired', [w(0, 10), w(12, 30)], 20, [{ from: 10, to: 12 }]],
    ['the last token expired before the check ends', [w(0, 10)], 14, [{ from: 10, to: 14 }]],
  ])('%s', (_what, windows, until, gaps) => {
    expect(gapsOf(windows, until)).toEqual(gaps);
  });

  it('a live agent is checked up to now, an ended one up to its end', () => {
    const iso = (ms: number) => new Date(ms).toISOString();
    const tokens = [
      { agentId: 'live', gen: 1, kind: 'start', issuedAt: iso(0), expiresAt: iso(6_000) },
      { agentId: 'ended', gen: 1, kind: 'start', issuedAt: iso(0), expiresAt: iso(6_000) },
    ];
    const agents = [
      { id: 'live', status: 'working' },
      { id: 'ended', status: 'stopped', endedAt: iso(4_000) },
    ];
    const coverage = tokenCoverage(tokens, agents, 9_000);
    expect(coverage.get('live')!.gaps).toEqual([{ from: 6_000, to: 9_000 }]);
    expect(coverage.get('ended')!.gaps).toEqual([]);
  });
});

describe('the vendored SSE parser', () => {
  it.each(['parse.js', 'errors.js', 'parse.js.map', 'errors.js.map'])('web/vendor/eventsource-parser/%s is the installed package file, unchanged', (file) => {
    const vendored = readFileSync(join(ROOT, 'web/vendor/eventsource-parser', file), 'utf8');
    expect(vendored).toBe(readFileSync(join(ROOT, 'node_modules/eventsource-parser/dist', file), 'utf8'));
  });
});
