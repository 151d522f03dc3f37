import { env } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import { createApp } from '../../src/app';
import type { Env } from '../../src/env';
import { ORIGIN, api, claimsOf, dispatch, forgeToken, harness, kidOf, newTown, userToken } from './helpers';
import { TEST_SECRETS } from './secrets';

/** The Worker app under a changed configuration (the Durable Objects keep the tests' own). */
async function callWith(overrides: Partial<Env>, path: string, init: { token?: string; body?: unknown; headers?: Record<string, string> } = {}) {
  const headers: Record<string, string> = { 'content-type': 'application/json', ...init.headers };
  if (init.token) headers.authorization = `Bearer ${init.token}`;
  const res = await createApp().fetch(
    new Request(`${ORIGIN}${path}`, { method: init.body === undefined ? 'GET' : 'POST', headers, body: init.body === undefined ? undefined : JSON.stringify(init.body) }),
    { ...(env as unknown as Env), ...overrides },
  );
  return { status: res.status, json: (await res.json()) as any, headers: res.headers };
}

const grant = { grant_type: 'client_credentials', client_id: TEST_SECRETS.GASTOWN_CLIENT_ID, client_secret: TEST_SECRETS.GASTOWN_CLIENT_SECRET };

describe('GET /api/towns', () => {
  it("lists the caller's towns, oldest first, in pages", async () => {
    const a = await newTown();
    const b = await newTown();
    const all: Array<{ id: string; name: string; createdAt: string }> = [];
    let after = '';
    for (;;) {
      const page = await api(`/api/towns?limit=500${after ? `&after=${after}` : ''}`, { token: a.token });
      expect(page.status).toBe(200);
      all.push(...page.json.towns);
      if (page.json.towns.length < 500) break;
      after = page.json.towns.at(-1).id;
    }
    const ids = all.map((t) => t.id);
    expect(ids).toContain(a.townId);
    expect(ids.indexOf(a.townId)).toBeLessThan(ids.indexOf(b.townId));
    expect(all.find((t) => t.id === a.townId)).toMatchObject({ name: 'test town', createdAt: expect.stringMatching(/^\d{4}-/) });
    const first = await api(`/api/towns?limit=1`, { token: a.token });
    expect(first.json.towns).toHaveLength(1);
    expect((await api('/api/towns?limit=0', { token: a.token })).status).toBe(400);
    expect((await api('/api/towns')).status).toBe(401);
  });

  it('past MAX_TOWNS_PER_USER a new town is a 429 with Retry-After, and nothing is created', async () => {
    const token = await userToken();
    const limited = { MAX_TOWNS_PER_USER: '1' };
    const res = await callWith(limited, '/api/towns', { token, body: { name: 'one too many' } });
    expect(res.status).toBe(429);
    expect(res.json.error.code).toBe('rate_limited');
    expect(res.headers.get('retry-after')).not.toBeNull();
    const towns = (await api('/api/towns?limit=500', { token })).json.towns as Array<{ name: string }>;
    expect(towns.some((t) => t.name === 'one too many')).toBe(false);
  });
});

describe('user access tokens', () => {
  it('USER_TOKEN_TTL_SECONDS sets the lifetime: expires_in and exp say so', async () => {
    const res = await callWith({ USER_TOKEN_TTL_SECONDS: '2' }, '/api/auth/token', { body: grant, headers: { 'cf-connecting-ip': '10.9.9.9' } });
    expect(res.status).toBe(200);
    expect(res.json.expires_in).toBe(2);
    const claims = claimsOf(res.json.access_token);
    expect(claims.exp - claims.iat).toBe(2);
    expect((await api('/api/towns?limit=1', { token: res.json.access_token })).status).toBe(200);
  });

  it('a user token past its expiry (and the 2 s leeway of user tokens) is refused: 401 token_expired', async () => {
    const now = Math.floor(Date.now() / 1000);
    const stale = await forgeToken({ kid: await kidOf(TEST_SECRETS.GASTOWN_JWT_SECRET), claims: { sub: TEST_SECRETS.GASTOWN_CLIENT_ID, aud: 'gastown-user', iat: now - 10, exp: now - 3 }, omit: ['agentId', 'townId', 'userId', 'gen'] });
    const res = await api('/api/towns?limit=1', { token: stale });
    expect(res.status).toBe(401);
    expect(res.json.error.code).toBe('token_expired');
  });

  it('the token endpoint is rate limited per client address (429 with Retry-After), other addresses unaffected', async () => {
    const from = (ip: string) => api('/api/auth/token', { body: { ...grant, client_secret: 'wrong-secret-of-some-length' }, headers: { 'cf-connecting-ip': ip } });
    const statuses: number[] = [];
    for (let i = 0; i < 125; i++) statuses.push((await from('10.250.0.1')).status);
    expect(statuses.slice(0, 120).every((s) => s === 401)).toBe(true);
    const limited = await from('10.250.0.1');
    expect(limited.status).toBe(429);
    expect(limited.headers.get('retry-after')).toBe('60');
    expect((await from('10.250.0.2')).status).toBe(401);
  });

  it('a wrong id and a wrong secret get the same answer', async () => {
    const wrongId = await api('/api/auth/token', { body: { ...grant, client_id: 'nobody' } });
    const wrongSecret = await api('/api/auth/token', { body: { ...grant, client_secret: 'not-the-secret-at-all' } });
    expect(wrongId.status).toBe(401);
    expect(wrongId.json).toEqual(wrongSecret.json);
  });

  it('a client secret shorter than 16 bytes is a misconfiguration (500), never a weak login', async () => {
    const res = await callWith({ GASTOWN_CLIENT_SECRET: 'short' }, '/api/auth/token', { body: { ...grant, client_secret: 'short' } });
    expect(res.status).toBe(500);
    expect(res.json.error).toMatchObject({ code: 'misconfigured', message: expect.stringMatching(/GASTOWN_CLIENT_SECRET must be at least 16 bytes/) });
  });
});

describe('listings and the refresh timeline', () => {
  it('agents and beads page by status; the token history shows each agent’s tokens', async () => {
    const t = await newTown();
    const a = await dispatch(t);
    const b = await dispatch(t);
    await api(`/api/towns/${t.townId}/agents/${b}/stop`, { token: t.token, body: {} });
    const working = await api(`/api/towns/${t.townId}/agents?status=working`, { token: t.token });
    expect(working.json.agents.map((x: { id: string }) => x.id)).toEqual([a]);
    const page1 = await api(`/api/towns/${t.townId}/agents?limit=1`, { token: t.token });
    const page2 = await api(`/api/towns/${t.townId}/agents?limit=1&after=${page1.json.agents[0].id}`, { token: t.token });
    expect([...page1.json.agents, ...page2.json.agents].map((x: { id: string }) => x.id)).toEqual([a, b]);
    expect((await api(`/api/towns/${t.townId}/beads?status=open`, { token: t.token })).json.beads).toEqual([]);
    expect((await api(`/api/towns/${t.townId}/agents?status=Not-A-Status`, { token: t.token })).status).toBe(400);

    await api(`/api/towns/${t.townId}/refresh-tokens`, { token: t.token, body: {} });
    const history = (await api(`/api/towns/${t.townId}/token-history?hours=1`, { token: t.token })).json.tokens as Array<{ agentId: string; kind: string; issuedAt: string; expiresAt: string }>;
    const ofA = history.filter((h) => h.agentId === a);
    expect(ofA.map((h) => h.kind)).toEqual(['start', 'refresh']);
    expect(Date.parse(ofA[1]!.expiresAt)).toBeGreaterThan(Date.parse(ofA[1]!.issuedAt));
    expect(JSON.stringify(history)).not.toMatch(/eyJ/);
    // the newest first, when the limit leaves some out
    const one = (await api(`/api/towns/${t.townId}/token-history?hours=1&limit=1`, { token: t.token })).json;
    expect(one.truncated).toBe(true);
    expect(one.tokens).toEqual([history.at(-1)]);
  });

  it("the town's mail, newest first, with when it was read", async () => {
    const t = await newTown();
    const a = await dispatch(t, 'mayor');
    const b = await dispatch(t);
    const send = (body: string) => api(`/api/towns/${t.townId}/agents/${a}/tools/gt_mail_send`, { token: ta, body: { to: b, body } });
    const ta = await harness.token(a);
    await send('first');
    await send('second');
    const mail = (await api(`/api/towns/${t.townId}/mail`, { token: t.token })).json.mail as Array<{ id: string; body: string; readAt: string | null }>;
    expect(mail.map((m) => m.body)).toEqual(['second', 'first']);
    expect(mail.every((m) => m.readAt === null)).toBe(true);
    await api(`/api/towns/${t.townId}/agents/${b}/tools/gt_mail_check`, { token: await harness.token(b), body: { ack: [mail[1]!.id] } });
    const after = (await api(`/api/towns/${t.townId}/mail?limit=1`, { token: t.token })).json.mail;
    expect(after).toHaveLength(1);
    expect((await api(`/api/towns/${t.townId}/mail`, { token: t.token })).json.mail[1].readAt).toMatch(/^\d{4}-/);
  });

  it('the town view is bounded, with counts by status', async () => {
    const t = await newTown();
    await dispatch(t);
    const view = (await api(`/api/towns/${t.townId}`, { token: t.token })).json;
    expect(view.counts).toEqual({ agents: { working: 1 }, beads: {} });
    expect(view.truncated).toEqual({ agents: false, beads: false });
    expect(view).toMatchObject({ defaultRuntime: 'builtin', drops: {}, eventsTrimmed: 0 });
  });
});
