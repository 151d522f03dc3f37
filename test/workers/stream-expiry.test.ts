import { env, exports } from 'cloudflare:workers';
import { describe, expect, it, vi } from 'vitest';
import { createApp } from '../../src/app';
import { USER_CLOCK_TOLERANCE_SECONDS } from '../../src/domain/tokens';
import type { Env } from '../../src/env';
import { EXPIRED_FRAME, endStreamAfter } from '../../src/services/event-hub';
import { ORIGIN, api, claimsOf, newTown } from './helpers';
import { TEST_SECRETS } from './secrets';

/** The tests' Worker with a short user-credential lifetime (the Durable Objects are the tests' own). */
const SHORT = { USER_TOKEN_TTL_SECONDS: '2' };
const credentials = { client_id: TEST_SECRETS.GASTOWN_CLIENT_ID, client_secret: TEST_SECRETS.GASTOWN_CLIENT_SECRET };

function shortLived(request: Request): Promise<Response> {
  return createApp().fetch(request, { ...(env as unknown as Env), ...SHORT }) as Promise<Response>;
}

/** A 2 s user access token from the real token route. */
async function shortToken(): Promise<string> {
  const res = await shortLived(
    new Request(`${ORIGIN}/api/auth/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'cf-connecting-ip': '10.77.0.1' },
      body: JSON.stringify({ grant_type: 'client_credentials', ...credentials }),
    }),
  );
  expect(res.status).toBe(200);
  return ((await res.json()) as { access_token: string }).access_token;
}

/** A dashboard session with a 2 s access cookie: the cookie header to send, and its token. */
async function shortSession(): Promise<{ cookie: string; access: string; refresh: string }> {
  const res = await shortLived(
    new Request(`${ORIGIN}/api/session`, { method: 'POST', headers: { 'content-type': 'application/json', origin: ORIGIN, 'cf-connecting-ip': '10.77.0.2' }, body: JSON.stringify(credentials) }),
  );
  expect(res.status).toBe(200);
  const jar = Object.fromEntries(res.headers.getSetCookie().map((line) => line.split(';')[0]!.split('=') as [string, string]));
  return { cookie: `gastown_session=${jar.gastown_session}`, access: jar.gastown_session!, refresh: jar.gastown_refresh! };
}

/** Opens the town's stream through the real Worker entry. */
function openStream(townId: string, headers: Record<string, string>) {
  return exports.default.fetch(new Request(`${ORIGIN}/api/towns/${townId}/events`, { headers: { origin: ORIGIN, ...headers } }));
}

/** Reads a stream to its end (bounded, so a stream that never ends fails the test); returns its text and when it ended. */
async function readToEnd(res: Response, boundMs = 15_000): Promise<{ text: string; endedAt: number }> {
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  let text = '';
  const bound = setTimeout(() => reader.cancel(new Error('the stream did not end')), boundMs);
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return { text, endedAt: Date.now() };
      text += decoder.decode(value, { stream: true });
    }
  } finally {
    clearTimeout(bound);
  }
}

const idsIn = (text: string) => [...text.matchAll(/^id: (\d+)$/gm)].map((m) => Number(m[1]));
const touch = (t: { townId: string; token: string }) => api(`/api/towns/${t.townId}/settings`, { method: 'PUT', token: t.token, body: { runtime: 'builtin' } });

describe('the event stream ends at its credential’s expiry', () => {
  it('a bearer token: the stream ends cleanly at exp plus the user-token leeway, and a reconnect with Last-Event-ID and a fresh token resumes with nothing twice or missing', async () => {
    const t = await newTown();
    const token = await shortToken();
    const { exp } = claimsOf(token);
    const res = await openStream(t.townId, { authorization: `Bearer ${token}` });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/event-stream');
    const reading = readToEnd(res);
    await touch(t); // a live event on this connection
    const first = await reading;
    const deadline = (exp + USER_CLOCK_TOLERANCE_SECONDS) * 1000;
    expect(first.endedAt).toBeGreaterThanOrEqual(deadline - 250);
    expect(first.endedAt).toBeLessThan(deadline + 2_000);
    expect(first.text.endsWith(EXPIRED_FRAME)).toBe(true);
    const seen = idsIn(first.text);
    expect(seen.length).toBeGreaterThan(0);

    await touch(t); // while no stream is open
    const again = await openStream(t.townId, { authorization: `Bearer ${t.token}`, 'last-event-id': String(seen.at(-1)) });
    const reader = again.body!.getReader();
    const head = new TextDecoder().decode((await reader.read()).value);
    await reader.cancel();
    expect(idsIn(head)).toEqual([seen.at(-1)! + 1]);
    // the expired token itself opens nothing
    const refused = await openStream(t.townId, { authorization: `Bearer ${token}` });
    expect(refused.status).toBe(401);
    expect(((await refused.json()) as { error: { code: string } }).error.code).toBe('token_expired');
  });

  it('an access cookie: the stream ends at the cookie’s expiry plus the leeway', async () => {
    const t = await newTown();
    const session = await shortSession();
    const { exp } = claimsOf(session.access);
    const res = await openStream(t.townId, { cookie: session.cookie });
    expect(res.status).toBe(200);
    const { text, endedAt } = await readToEnd(res);
    const deadline = (exp + USER_CLOCK_TOLERANCE_SECONDS) * 1000;
    expect(endedAt).toBeGreaterThanOrEqual(deadline - 250);
    expect(endedAt).toBeLessThan(deadline + 2_000);
    expect(text.endsWith(EXPIRED_FRAME)).toBe(true);
  });

  it('signed out while a stream is open: the stream ends by the cookie’s expiry, and a reconnect with that cookie is 401 token_revoked', async () => {
    const t = await newTown();
    const session = await shortSession();
    const { exp } = claimsOf(session.access);
    const res = await openStream(t.townId, { cookie: session.cookie });
    expect(res.status).toBe(200);
    const reading = readToEnd(res);
    const out = await exports.default.fetch(new Request(`${ORIGIN}/api/session/sign-out`, { method: 'POST', headers: { origin: ORIGIN, cookie: `gastown_refresh=${session.refresh}` } }));
    expect(out.status).toBe(200);
    const again = await openStream(t.townId, { cookie: session.cookie });
    expect(again.status).toBe(401);
    expect(((await again.json()) as { error: { code: string } }).error.code).toBe('token_revoked');
    const { endedAt } = await reading;
    expect(endedAt).toBeLessThan((exp + USER_CLOCK_TOLERANCE_SECONDS) * 1000 + 2_000);
  });
});

describe('endStreamAfter (workerd streams, fake timers)', () => {
  /** A source stream that sends `text` and stays open; says when it is cancelled. */
  function source(text: string) {
    const state = { cancelled: false };
    const body = new ReadableStream<Uint8Array>({
      start: (controller) => controller.enqueue(new TextEncoder().encode(text)),
      cancel: () => void (state.cancelled = true),
    });
    return { body, state };
  }

  async function drain(stream: ReadableStream<Uint8Array>) {
    let text = '';
    const reader = stream.getReader();
    for (let r = await reader.read(); !r.done; r = await reader.read()) text += new TextDecoder().decode(r.value);
    return text;
  }

  it('between frames: at the deadline it says reconnect at once (retry: 0), ends, and cancels its source', async () => {
    vi.useFakeTimers();
    try {
      const { body, state } = source(`retry: 2000\n\nid: 1\nevent: x\ndata: {}\n\n`);
      const stream = endStreamAfter(body, 60_000);
      const reader = stream.getReader();
      expect(new TextDecoder().decode((await reader.read()).value)).toBe(`retry: 2000\n\nid: 1\nevent: x\ndata: {}\n\n`);
      const next = reader.read();
      await vi.advanceTimersByTimeAsync(59_999);
      expect(state.cancelled).toBe(false);
      await vi.advanceTimersByTimeAsync(1);
      expect(new TextDecoder().decode((await next).value)).toBe(EXPIRED_FRAME);
      expect((await reader.read()).done).toBe(true);
      expect(state.cancelled).toBe(true);
    } finally {
      vi.useRealTimers();
    }
  });

  it('mid-frame: it ends without adding anything, so the client drops the unfinished frame (and replays it on the next connection)', async () => {
    vi.useFakeTimers();
    try {
      const { body, state } = source(`id: 1\ndata: {}\n\nid: 2\nda`);
      const stream = endStreamAfter(body, 1_000);
      const text = drain(stream);
      await vi.advanceTimersByTimeAsync(1_000);
      expect(await text).toBe(`id: 1\ndata: {}\n\nid: 2\nda`);
      expect(state.cancelled).toBe(true);
    } finally {
      vi.useRealTimers();
    }
  });

  it('a source that ends first ends the stream; one that fails fails it; a reader that cancels cancels the source', async () => {
    const ended = new ReadableStream<Uint8Array>({ start: (c) => (c.enqueue(new TextEncoder().encode(': hi\n\n')), c.close()) });
    expect(await drain(endStreamAfter(ended, 60_000))).toBe(': hi\n\n');
    const failing = new ReadableStream<Uint8Array>({ start: (c) => c.error(new Error('slow reader')) });
    await expect(drain(endStreamAfter(failing, 60_000))).rejects.toThrow('slow reader');
    const { body, state } = source(': hi\n\n');
    const reader = endStreamAfter(body, 60_000).getReader();
    await reader.read();
    await reader.cancel();
    expect(state.cancelled).toBe(true);
  });
});
