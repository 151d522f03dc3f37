import { env, exports } from 'cloudflare:workers';
import { runInDurableObject } from 'cloudflare:test';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ORIGIN, api, dispatch, forgeToken, harness, kidOf, newTown } from './helpers';
import { TEST_QUOTAS, TEST_SECRETS } from './secrets';

/**
 * A town with a rig, an idle mayor and an idle polecat, and the tokens to speak for them;
 * and two agents that have ended (one stopped by the user, one that reported completion),
 * with the last tokens they held.
 */
interface Fixture {
  token: string;
  townId: string;
  rigId: string;
  mayorId: string;
  polecatId: string;
  mayorToken: string;
  polecatToken: string;
  credential: string;
  stoppedId: string;
  stoppedToken: string;
  completedId: string;
  completedToken: string;
}

async function fixture(): Promise<Fixture> {
  const t = await newTown();
  const mayorId = await dispatch(t, 'mayor');
  const polecatId = await dispatch(t);
  const stoppedId = await dispatch(t);
  const stoppedToken = await harness.token(stoppedId);
  expect((await api(`/api/towns/${t.townId}/agents/${stoppedId}/stop`, { token: t.token, body: {} })).json.status).toBe('stopped');
  const completedId = await dispatch(t);
  const completedToken = await harness.token(completedId);
  expect((await api(agentPathOf(t.townId, completedId, 'completed'), { token: completedToken, body: { status: 'completed', summary: 'done' } })).json.status).toBe('exited');
  return {
    ...t, mayorId, polecatId, mayorToken: await harness.token(mayorId), polecatToken: await harness.token(polecatId), credential: (await harness.credential(t.townId))!,
    stoppedId, stoppedToken, completedId, completedToken,
  };
}

/** Everything a user can read of the town (its event log as the event stream replays it): compared before and after each refused request. */
async function state(f: Fixture) {
  const read = async (path: string) => (await api(path, { token: f.token })).json;
  const agents = (await read(`/api/towns/${f.townId}/agents?limit=500`)).agents as Array<{ id: string }>;
  return {
    town: await read(`/api/towns/${f.townId}`),
    settings: await read(`/api/towns/${f.townId}/settings`),
    conversation: await read(`/api/towns/${f.townId}/mayor/messages`),
    events: await Promise.all(agents.map((a) => read(`/api/towns/${f.townId}/agents/${a.id}/events?limit=1000`))),
    mail: await read(`/api/towns/${f.townId}/mail?limit=500`),
    townEvents: await runInDurableObject(env.TOWN.getByName(f.townId), (_i, s) => s.storage.sql.exec(`SELECT id, type, data FROM town_events ORDER BY id`).toArray()),
    towns: (await read('/api/towns?limit=500')).towns.length,
  };
}

const now = () => Math.floor(Date.now() / 1000);
const agentPathOf = (townId: string, agentId: string, rest: string) => `/api/towns/${townId}/agents/${agentId}/${rest}`;
const agentPath = (f: Fixture, agentId: string, rest: string) => agentPathOf(f.townId, agentId, rest);
const deep = (n: number) => `${'['.repeat(n)}${']'.repeat(n)}`;
const big = (bytes: number) => JSON.stringify({ name: 'x'.repeat(bytes) });

type Call = (f: Fixture) => Promise<{ status: number; json: any; headers: Headers }>;
const asPolecat = (rest: string, body: unknown, init: { raw?: string } = {}): Call => (f) => api(agentPath(f, f.polecatId, rest), { token: f.polecatToken, ...(init.raw !== undefined ? { raw: init.raw } : { body }) });
const asUser = (method: string, rest: string, body?: unknown, init: { raw?: string } = {}): Call => (f) =>
  api(rest.startsWith('/') ? rest : `/api/towns/${f.townId}/${rest}`, { token: f.token, method, ...(init.raw !== undefined ? { raw: init.raw } : body === undefined ? {} : { body }) });
const forged = (claims: (f: Fixture) => Record<string, unknown>, opts: { secret?: string; alg?: string } = {}) => async (f: Fixture) =>
  forgeToken({ kid: opts.secret ? undefined : await kidOf(TEST_SECRETS.GASTOWN_JWT_SECRET), secret: opts.secret, claims: claims(f) });
const withToken = (make: (f: Fixture) => Promise<string>, rest = 'heartbeat'): Call => async (f) => api(agentPath(f, f.polecatId, rest), { token: await make(f), body: {} });
const polecatClaims = (f: Fixture) => ({ sub: f.polecatId, agentId: f.polecatId, townId: f.townId, rigId: f.rigId, userId: TEST_SECRETS.GASTOWN_CLIENT_ID, gen: 1 });

/** An ended agent's last token: refused as revoked, saying the agent ended. [name, expected status, expected code, the request]. */
const ENDED_CASES: Array<[string, number, string, Call]> = [
  ["a stopped agent's last token on a mutating tool", 401, 'token_revoked', (f) => api(agentPath(f, f.stoppedId, 'tools/gt_bead_create'), { token: f.stoppedToken, body: { title: 'after the stop', rigId: f.rigId } })],
  ["a stopped agent's last token on a heartbeat", 401, 'token_revoked', (f) => api(agentPath(f, f.stoppedId, 'heartbeat'), { token: f.stoppedToken, body: { status: 'working' } })],
  ["a stopped agent's last token on a completion report", 401, 'token_revoked', (f) => api(agentPath(f, f.stoppedId, 'completed'), { token: f.stoppedToken, body: { status: 'completed' } })],
  ["a completed agent's last token on a mutating tool", 401, 'token_revoked', (f) => api(agentPath(f, f.completedId, 'tools/gt_mail_send'), { token: f.completedToken, body: { to: f.mayorId, body: 'from beyond' } })],
  ["a completed agent's last token on a heartbeat", 401, 'token_revoked', (f) => api(agentPath(f, f.completedId, 'heartbeat'), { token: f.completedToken, body: {} })],
  ["a completed agent's last token on events", 401, 'token_revoked', (f) => api(agentPath(f, f.completedId, 'events'), { token: f.completedToken, body: { events: [{ id: 'late', type: 'output', text: 'late' }] } })],
];

/** [name, expected status, expected code, the request]. */
const CASES: Array<[string, number, string, Call]> = [
  ...ENDED_CASES,
  // forged, expired, cross-town, cross-agent, ended-agent and misplaced credentials
  ['no bearer token', 401, 'unauthorized', (f) => api(agentPath(f, f.polecatId, 'heartbeat'), { body: {} })],
  ['a token signed with another secret', 401, 'token_invalid', withToken(forged(polecatClaims, { secret: 'not-our-secret-not-our-secret-not-ours!' }))],
  ['an expired token', 401, 'token_expired', withToken(forged((f) => ({ ...polecatClaims(f), iat: now() - 7200, exp: now() - 3600 })))],
  ['a token issued in the future', 401, 'token_invalid', withToken(forged((f) => ({ ...polecatClaims(f), iat: now() + 3600, exp: now() + 7200 })))],
  ['a token of a generation that never was', 401, 'token_revoked', withToken(forged((f) => ({ ...polecatClaims(f), gen: 7 })))],
  ["another agent's token", 403, 'forbidden', (f) => api(agentPath(f, f.polecatId, 'heartbeat'), { token: f.mayorToken, body: {} })],
  ["another town's token", 403, 'forbidden', withToken(forged((f) => ({ ...polecatClaims(f), townId: 'town-00000000-0000-0000-0000-000000000000' })))],
  ['a token for an agent that does not exist', 401, 'token_revoked', async (f) => {
    const token = await forged((g) => ({ ...polecatClaims(g), sub: 'polecat-ghost', agentId: 'polecat-ghost' }))(f);
    return api(agentPath(f, 'polecat-ghost', 'heartbeat'), { token, body: {} });
  }],
  ['a user token on an agent route', 401, 'token_invalid', (f) => api(agentPath(f, f.polecatId, 'heartbeat'), { token: f.token, body: {} })],
  ['an agent token on a user route', 401, 'token_invalid', (f) => api(`/api/towns/${f.townId}`, { token: f.polecatToken })],
  ['the container credential on an agent route', 401, 'token_invalid', (f) => api(agentPath(f, f.polecatId, 'tools/gt_bead_create'), { token: f.credential, body: { title: 'x' } })],
  ['an agent token on the re-mint route', 401, 'token_invalid', (f) => api(agentPath(f, f.polecatId, 'token'), { token: f.polecatToken, body: {} })],
  ['an agent token on the drops route', 401, 'token_invalid', (f) => api(`/api/towns/${f.townId}/container/drops`, { token: f.polecatToken, body: { reports: [] } })],
  ['a forged container credential', 401, 'token_invalid', async (f) =>
    api(agentPath(f, f.polecatId, 'token'), { token: await forgeToken({ secret: 'not-our-secret-not-our-secret-not-ours!', claims: { sub: f.townId, townId: f.townId, cgen: 1, aud: 'gastown-container' }, omit: ['agentId', 'userId', 'gen'] }), body: {} })],
  ['a junk bearer on the re-mint route of a town that does not exist', 401, 'token_invalid', () => api(`/api/towns/town-${crypto.randomUUID()}/agents/x/token`, { token: 'junk', body: {} })],
  ['a town that does not exist', 404, 'not_found', (f) => api(`/api/towns/town-${crypto.randomUUID()}`, { token: f.token })],
  // oversized, deep, malformed and wrong-typed bodies
  ['a 2 MB rig', 413, 'too_large', asUser('POST', 'rigs', undefined, { raw: big(2 * 1024 * 1024) })],
  ['a 2 MB event batch', 413, 'too_large', asPolecat('events', undefined, { raw: JSON.stringify({ events: [{ id: 'e', text: 'y'.repeat(2 * 1024 * 1024) }] }) })],
  ['a 9 KB token request', 413, 'too_large', () => api('/api/auth/token', { raw: `grant_type=client_credentials&x=${'a'.repeat(9 * 1024)}`, headers: { 'content-type': 'application/x-www-form-urlencoded', 'cf-connecting-ip': '10.7.7.7' } })],
  ['JSON nested 10,000 deep (rig)', 400, 'bad_request', asUser('POST', 'rigs', undefined, { raw: deep(10_000) })],
  ['JSON nested 10,000 deep (events)', 400, 'bad_request', asPolecat('events', undefined, { raw: `{"events": ${deep(10_000)}}` })],
  ['JSON nested 10,000 deep (token request)', 400, 'bad_request', () => api('/api/auth/token', { raw: `{"a": ${deep(4_000)}}`, headers: { 'content-type': 'application/json', 'cf-connecting-ip': '10.7.7.8' } })],
  ['malformed JSON', 400, 'bad_request', asUser('POST', 'rigs', undefined, { raw: '{"name": ' })],
  ['a rig name of the wrong type', 400, 'bad_request', asUser('POST', 'rigs', { name: 42 })],
  ['an unknown field', 400, 'bad_request', asUser('POST', 'rigs', { name: 'x', admin: true })],
  ['an array body', 400, 'bad_request', asUser('POST', 'rigs', ['x'])],
  ['an empty town name', 400, 'bad_request', asUser('POST', '/api/towns', { name: '  ' })],
  ['an unknown role', 400, 'bad_request', (f) => asUser('POST', `rigs/${f.rigId}/agents`, { role: 'king' })(f)],
  ['an unknown runtime', 400, 'bad_request', (f) => asUser('POST', `rigs/${f.rigId}/agents`, { role: 'polecat', runtime: 'skynet' })(f)],
  ['a command with an empty argument', 400, 'bad_request', (f) => asUser('POST', `rigs/${f.rigId}/agents`, { role: 'polecat', command: ['node', ''] })(f)],
  ['a bead that does not exist', 404, 'not_found', (f) => asUser('POST', `rigs/${f.rigId}/agents`, { role: 'polecat', beadId: 'bead-nope' })(f)],
  ['a rig that does not exist', 404, 'not_found', asUser('POST', 'rigs/rig-nope/agents', { role: 'polecat' })],
  ['a second mayor', 409, 'conflict', (f) => asUser('POST', `rigs/${f.rigId}/agents`, { role: 'mayor' })(f)],
  ['an empty mayor message', 400, 'bad_request', asUser('POST', 'mayor/messages', { text: '' })],
  ['a mayor message of 20,001 characters', 400, 'bad_request', asUser('POST', 'mayor/messages', { text: 'm'.repeat(20_001) })],
  ['a reserved environment name', 400, 'bad_request', asUser('PUT', 'settings', { agentEnv: { GASTOWN_TOKEN_FILE: '/etc/passwd' } })],
  ['events that are not a list', 400, 'bad_request', asPolecat('events', { events: 'many' })],
  ['501 events in one batch', 400, 'bad_request', asPolecat('events', { events: Array.from({ length: 501 }, (_, i) => ({ id: `e${i}` })) })],
  ['a heartbeat status of the wrong type', 400, 'bad_request', asPolecat('heartbeat', { status: 5 })],
  ['an unknown completion status', 400, 'bad_request', asPolecat('completed', { status: 'sideways' })],
  ['an unknown review outcome', 400, 'bad_request', (f) => api(agentPath(f, f.mayorId, 'review-complete'), { token: f.mayorToken, body: { beadId: 'b', outcome: 'maybe' } })],
  ['a tool argument the tool does not take', 400, 'bad_request', asPolecat('tools/gt_status', { unexpected: 1 })],
  ['an empty bead title', 400, 'bad_request', asPolecat('tools/gt_bead_create', { title: '' })],
  ['a tool that does not exist', 404, 'not_found', asPolecat('tools/gt_teleport', {})],
  ['a sling by a polecat', 403, 'forbidden', asPolecat('tools/gt_sling', { beadId: 'bead-x' })],
  ['a review by someone not a refinery', 403, 'forbidden', (f) => api(agentPath(f, f.mayorId, 'review-complete'), { token: f.mayorToken, body: { beadId: 'b', outcome: 'merged' } })],
  ['mail to nobody', 404, 'not_found', asPolecat('tools/gt_mail_send', { to: 'refinery', body: 'hello?' })],
  ['a listing limit of 0', 400, 'bad_request', asUser('GET', 'agents?limit=0')],
  ['a token history of 1,000 hours', 400, 'bad_request', asUser('GET', 'token-history?hours=1000')],
  ['a grant type that is not client credentials', 400, 'bad_request', () => api('/api/auth/token', { body: { grant_type: 'password', username: 'a' }, headers: { 'cf-connecting-ip': '10.7.7.9' } })],
  ['a town id that is not ours in form', 404, 'not_found', (f) => api('/api/towns/not-a-town', { token: f.token })],
];

describe('bad input: a clear 4xx JSON error, and nothing changes', () => {
  let f: Fixture;
  beforeAll(async () => {
    f = await fixture();
  });

  it('covers at least 40 cases', () => {
    expect(CASES.length).toBeGreaterThanOrEqual(40);
  });

  it.each(CASES)('%s → %i %s', async (_name, status, code, call) => {
    const before = await state(f);
    const res = await call(f);
    expect(res.status).toBe(status);
    expect(res.json?.error?.code).toBe(code);
    expect(res.headers.get('content-type')).toContain('application/json');
    expect(JSON.stringify(res.json)).not.toContain(f.polecatToken.split('.')[2]);
    expect(await state(f)).toEqual(before);
  });

  it.each(ENDED_CASES)('%s says the agent ended', async (_name, _status, _code, call) => {
    expect((await call(f)).json.error).toMatchObject({ code: 'token_revoked', agentEnded: true });
  });
});

describe('quotas: a 429 with Retry-After (or 413), and nothing changes', () => {
  let f: Fixture;
  beforeAll(async () => {
    f = await fixture();
  });
  afterAll(async () => {
    for (const id of [f.mayorId, f.polecatId]) await api(`/api/towns/${f.townId}/agents/${id}/stop`, { token: f.token, body: {} });
  });

  async function breach(call: Call) {
    const before = await state(f);
    const res = await call(f);
    expect(res.status).toBe(429);
    expect(res.json.error.code).toBe('rate_limited');
    expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(await state(f)).toEqual(before);
  }

  it('rigs per town', async () => {
    while ((await api(`/api/towns/${f.townId}`, { token: f.token })).json.rigs.length < Number(TEST_QUOTAS.MAX_RIGS_PER_TOWN)) {
      expect((await api(`/api/towns/${f.townId}/rigs`, { token: f.token, body: { name: 'more' } })).status).toBe(201);
    }
    await breach(asUser('POST', 'rigs', { name: 'one too many' }));
  });

  it('beads per town', async () => {
    const limit = Number(TEST_QUOTAS.MAX_BEADS_PER_TOWN);
    await runInDurableObject(env.TOWN.getByName(f.townId), (_i, state) => {
      for (let i = 0; i < limit; i++) state.storage.sql.exec(`INSERT INTO beads (id, rig_id, title, status, created_at, updated_at) VALUES (?, ?, 'filler', 'open', 1, 1)`, `bead-fill-${i}`, f.rigId);
    });
    await breach((g) => api(agentPath(g, g.mayorId, 'tools/gt_bead_create'), { token: g.mayorToken, body: { title: 'one too many', rigId: g.rigId } }));
  });

  it('unread mail per agent', async () => {
    const limit = Number(TEST_QUOTAS.MAX_UNREAD_MAIL_PER_AGENT);
    for (let i = 0; i < limit; i++) expect((await api(agentPath(f, f.mayorId, 'tools/gt_mail_send'), { token: f.mayorToken, body: { to: f.polecatId, body: `m${i}` } })).status).toBe(200);
    await breach((g) => api(agentPath(g, g.mayorId, 'tools/gt_mail_send'), { token: g.mayorToken, body: { to: g.polecatId, body: 'one too many' } }));
  });

  it('live agents per town', async () => {
    const limit = Number(TEST_QUOTAS.MAX_LIVE_AGENTS_PER_TOWN);
    const live = () => api(`/api/towns/${f.townId}/agents?status=working&limit=500`, { token: f.token }).then((r) => r.json.agents.length as number);
    while ((await live()) < limit) await dispatch(f);
    await breach((g) => api(`/api/towns/${g.townId}/rigs/${g.rigId}/agents`, { token: g.token, body: { role: 'polecat', command: ['true'] } }));
  });

  it('tool calls per agent per second: a burst past the rate', async () => {
    const limit = Number(TEST_QUOTAS.TOOL_CALLS_PER_SECOND);
    const before = await state(f);
    const answers = await Promise.all(Array.from({ length: limit * 3 }, () => api(agentPath(f, f.polecatId, 'tools/gt_status'), { token: f.polecatToken, body: {} })));
    const refused = answers.filter((r) => r.status === 429);
    expect(refused.length).toBeGreaterThan(0);
    expect(answers.filter((r) => r.status === 200).length).toBeLessThanOrEqual(limit * 2);
    for (const r of refused) {
      expect(r.json.error).toMatchObject({ code: 'rate_limited', message: expect.stringContaining('TOOL_CALLS_PER_SECOND') });
      expect(Number(r.headers.get('retry-after'))).toBeGreaterThan(0);
    }
    expect(await state(f)).toEqual(before);
  });

  it('tool calls per agent per second: a mutating call past the rate changes nothing', async () => {
    const limit = Number(TEST_QUOTAS.TOOL_CALLS_PER_SECOND);
    // as the stored window holds it after `limit` calls this second
    const fill = () => runInDurableObject(env.TOWN.getByName(f.townId), (_i, s) => s.storage.sql.exec(`UPDATE agents SET tool_window_start = ?, tool_window_count = ? WHERE id = ?`, Date.now(), limit, f.mayorId));
    const before = await state(f);
    await fill();
    const res = await api(agentPath(f, f.mayorId, 'tools/gt_mail_send'), { token: f.mayorToken, body: { to: f.mayorId, body: 'one call too many' } });
    expect(res.status).toBe(429);
    expect(res.json.error).toMatchObject({ code: 'rate_limited', message: expect.stringContaining('TOOL_CALLS_PER_SECOND') });
    expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(await state(f)).toEqual(before);
  });

  it('event-stream subscribers per town: past the cap a 429, the others keep streaming', async () => {
    const limit = Number(TEST_QUOTAS.MAX_SSE_SUBSCRIBERS_PER_TOWN);
    const controllers = Array.from({ length: limit }, () => new AbortController());
    const open = (signal?: AbortSignal) => exports.default.fetch(new Request(`${ORIGIN}/api/towns/${f.townId}/events`, { headers: { authorization: `Bearer ${f.token}` }, signal }));
    const streams = await Promise.all(controllers.map((c) => open(c.signal)));
    expect(streams.every((s) => s.status === 200)).toBe(true);
    const before = await state(f);
    const refused = await open();
    expect(refused.status).toBe(429);
    expect(refused.headers.get('retry-after')).toBe('5');
    expect(((await refused.json()) as { error: { code: string } }).error.code).toBe('rate_limited');
    expect(await state(f)).toEqual(before);
    for (const c of controllers) c.abort();
    for (const s of streams) await s.body?.cancel().catch(() => {});
  });
});

describe('no state without authentication', () => {
  it('an unauthenticated request never reaches a Durable Object: the town it names gets no storage', async () => {
    const townId = `town-${crypto.randomUUID()}`;
    for (const path of [`/api/towns/${townId}/agents/x/token`, `/api/towns/${townId}/agents/x/heartbeat`, `/api/towns/${townId}/container/drops`, `/api/towns/${townId}`]) {
      expect((await api(path, { token: 'junk', body: {} })).status).toBe(401);
    }
    const tables = await runInDurableObject(env.TOWN.getByName(townId), (_i, state) => state.storage.sql.exec(`SELECT name FROM sqlite_master`).toArray());
    expect(tables).toEqual([]);
  });
});

describe('event-stream places', () => {
  it('a client that goes away frees its place at once, even in a quiet town', async () => {
    const t = await newTown();
    const limit = Number(TEST_QUOTAS.MAX_SSE_SUBSCRIBERS_PER_TOWN);
    const open = (signal?: AbortSignal) => exports.default.fetch(new Request(`${ORIGIN}/api/towns/${t.townId}/events`, { headers: { authorization: `Bearer ${t.token}` }, signal }));
    for (let round = 0; round < 3; round++) {
      const controllers = Array.from({ length: limit }, () => new AbortController());
      const streams = await Promise.all(controllers.map((c) => open(c.signal)));
      expect(streams.map((s) => s.status)).toEqual(Array(limit).fill(200));
      for (const c of controllers) c.abort();
      for (const s of streams) await s.body?.cancel().catch(() => {});
      // the hub hears of each going away without another event being written
      await new Promise((r) => setTimeout(r, 100));
    }
  });
});
