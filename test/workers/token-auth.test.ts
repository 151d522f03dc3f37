import { beforeAll, describe, expect, it } from 'vitest';
import { api, dispatch, forgeToken, kidOf, newTown, harness } from './helpers';
import { TEST_SECRETS } from './secrets';

/** The agent middleware against a table of bad tokens: each is a 401 with a code, or a 403. */
describe('agent token verification', () => {
  let t: Awaited<ReturnType<typeof newTown>>;
  let agentId: string;
  let kid: string;
  let prevKid: string;
  const now = () => Math.floor(Date.now() / 1000);
  const path = () => `/api/towns/${t.townId}/agents/${agentId}/heartbeat`;
  const valid = (extra: Record<string, unknown> = {}) => ({ sub: agentId, agentId, townId: t.townId, userId: 'test-client', gen: 1, ...extra });

  beforeAll(async () => {
    t = await newTown();
    agentId = await dispatch(t);
    kid = await kidOf(TEST_SECRETS.GASTOWN_JWT_SECRET);
    prevKid = await kidOf(TEST_SECRETS.GASTOWN_JWT_SECRET_PREVIOUS);
  });

  it('accepts the token the TownDO minted', async () => {
    const res = await api(path(), { token: await harness.token(agentId), body: {} });
    expect(res.status).toBe(200);
  });

  it('accepts a token signed with the previous secret (rotation)', async () => {
    const token = await forgeToken({ secret: TEST_SECRETS.GASTOWN_JWT_SECRET_PREVIOUS, kid: prevKid, claims: valid() });
    expect((await api(path(), { token, body: {} })).status).toBe(200);
  });

  const cases: Array<[string, () => Promise<string>, string]> = [
    ['expired', () => forgeToken({ kid, claims: valid({ iat: now() - 7200, exp: now() - 3600 }) }), 'token_expired'],
    ['not yet valid (iat in the future)', () => forgeToken({ kid, claims: valid({ iat: now() + 600, exp: now() + 1200 }) }), 'token_invalid'],
    ['not yet valid (nbf in the future)', () => forgeToken({ kid, claims: valid({ nbf: now() + 600 }) }), 'token_invalid'],
    ['wrong signature', () => forgeToken({ kid, secret: 'another-secret-another-secret-another-secret', claims: valid() }), 'token_invalid'],
    ['alg none', async () => {
      const enc = (o: object) => btoa(JSON.stringify(o)).replace(/=+$/, '').replace(/\+/g, '-').replace(/\//g, '_');
      return `${enc({ alg: 'none', typ: 'JWT', kid })}.${enc({ ...valid(), iat: now(), exp: now() + 600, jti: 'x', iss: 'gastown', aud: 'gastown-agent' })}.`;
    }, 'token_invalid'],
    ['unknown kid', () => forgeToken({ kid: 'k0000000000000000', claims: valid() }), 'token_invalid'],
    ['no kid, signed with neither secret', () => forgeToken({ secret: 'another-secret-another-secret-another-secret', claims: valid() }), 'token_invalid'],
    ['wrong audience', () => forgeToken({ kid, claims: valid({ aud: 'gastown-user' }) }), 'token_invalid'],
    ['wrong issuer', () => forgeToken({ kid, claims: valid({ iss: 'someone-else' }) }), 'token_invalid'],
    ['missing jti', () => forgeToken({ kid, claims: valid(), omit: ['jti'] }), 'token_invalid'],
    ['missing exp', () => forgeToken({ kid, claims: valid(), omit: ['exp'] }), 'token_invalid'],
    ['missing sub', () => forgeToken({ kid, claims: valid(), omit: ['sub'] }), 'token_invalid'],
    ['malformed gen', () => forgeToken({ kid, claims: valid({ gen: '1' }) }), 'token_invalid'],
    ['revoked generation', () => forgeToken({ kid, claims: valid({ gen: 0 }) }), 'token_revoked'],
    ['garbage', async () => 'not.a.jwt', 'token_invalid'],
    ['oversized', async () => `${'a'.repeat(5000)}.b.c`, 'token_invalid'],
    ['a user token', async () => (await api('/api/auth/token', { body: { grant_type: 'client_credentials', client_id: TEST_SECRETS.GASTOWN_CLIENT_ID, client_secret: TEST_SECRETS.GASTOWN_CLIENT_SECRET } })).json.access_token, 'token_invalid'],
  ];

  it.each(cases)('%s → 401 %s with WWW-Authenticate', async (_name, make, code) => {
    const res = await api(path(), { token: await make(), body: {} });
    expect(res.status).toBe(401);
    expect(res.json.error.code).toBe(code);
    expect(res.headers.get('www-authenticate')).toContain(`error_description="${code}"`);
  });

  it('no bearer → 401 unauthorized, challenged without an error attribute (RFC 6750 §3.1)', async () => {
    const requests: Array<Record<string, string>> = [{}, { authorization: 'Bearer' }, { authorization: 'Basic dXNlcjpwYXNz' }];
    for (const headers of requests) {
      const res = await api(path(), { body: {}, headers });
      expect(res.status).toBe(401);
      expect(res.json.error.code).toBe('unauthorized');
      expect(res.headers.get('www-authenticate')).toBe('Bearer realm="gastown"');
    }
  });

  it('an invalid token is challenged with error="invalid_token" and its code', async () => {
    const res = await api(path(), { token: 'not.a.jwt', body: {} });
    expect(res.headers.get('www-authenticate')).toBe('Bearer realm="gastown", error="invalid_token", error_description="token_invalid"');
  });

  it("another agent's valid token → 403", async () => {
    const other = await dispatch(t);
    const token = await harness.token(other);
    const res = await api(path(), { token, body: {} });
    expect(res.status).toBe(403);
    expect(res.json.error.code).toBe('forbidden');
  });

  it("another town's valid token → 403", async () => {
    const t2 = await newTown();
    const other = await dispatch(t2);
    const token = await harness.token(other);
    const res = await api(`/api/towns/${t.townId}/agents/${other}/heartbeat`, { token, body: {} });
    expect(res.status).toBe(403);
  });

  it('no error body ever echoes the token', async () => {
    const token = await forgeToken({ kid, claims: valid({ iat: now() - 7200, exp: now() - 3600 }) });
    const res = await api(path(), { token, body: {} });
    expect(res.text).not.toContain(token.split('.')[2]);
  });
});

describe('user auth', () => {
  it('refuses wrong client credentials and missing tokens', async () => {
    const bad = await api('/api/auth/token', { body: { grant_type: 'client_credentials', client_id: TEST_SECRETS.GASTOWN_CLIENT_ID, client_secret: 'nope' } });
    expect(bad.status).toBe(401);
    const form = await api('/api/auth/token', {
      raw: `grant_type=client_credentials&client_id=${TEST_SECRETS.GASTOWN_CLIENT_ID}&client_secret=${TEST_SECRETS.GASTOWN_CLIENT_SECRET}`,
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });
    expect(form.status).toBe(200);
    expect(form.json).toMatchObject({ token_type: 'Bearer', expires_in: 3600 });
    expect((await api('/api/towns', { body: { name: 'x' } })).status).toBe(401);
  });

  it("hides another user's town and agent tokens are not user tokens", async () => {
    const t = await newTown();
    const agentId = await dispatch(t);
    const agentToken = await harness.token(agentId);
    const res = await api(`/api/towns/${t.townId}`, { token: agentToken });
    expect(res.status).toBe(401);
    const view = await api(`/api/towns/${t.townId}`, { token: t.token });
    expect(view.text).not.toContain(agentToken);
    expect((await api('/api/towns/town-not-a-real-id', { token: t.token })).status).toBe(404);
  });
});
