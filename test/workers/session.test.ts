import { exports } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import { ORIGIN, api, forgeToken, kidOf, userToken } from './helpers';
import { TEST_SECRETS } from './secrets';

/** A browser's requests: same origin unless told otherwise, cookies from earlier answers sent back. */
function browser(origin = ORIGIN, base = ORIGIN) {
  const jar = new Map<string, { value: string; path: string }>();
  return {
    jar,
    async call(method: string, path: string, init: { body?: unknown; headers?: Record<string, string> } = {}) {
      const cookies = [...jar].filter(([, c]) => path.startsWith(c.path)).map(([k, c]) => `${k}=${c.value}`).join('; ');
      const headers: Record<string, string> = { origin, 'cf-connecting-ip': '10.99.0.1', ...init.headers };
      if (cookies) headers.cookie = cookies;
      if (init.body !== undefined) headers['content-type'] = 'application/json';
      const res = await exports.default.fetch(new Request(`${base}${path}`, { method, headers, body: init.body === undefined ? undefined : JSON.stringify(init.body) }));
      const setCookies = res.headers.getSetCookie();
      for (const line of setCookies) {
        const [pair, ...attrs] = line.split(';').map((p) => p.trim());
        const [name, value] = [pair!.slice(0, pair!.indexOf('=')), pair!.slice(pair!.indexOf('=') + 1)];
        const cookiePath = attrs.find((a) => a.toLowerCase().startsWith('path='))?.slice(5) ?? '/';
        if (!value || attrs.some((a) => /^max-age=0$/i.test(a))) jar.delete(name);
        else jar.set(name, { value, path: cookiePath });
      }
      const text = await res.text();
      return { status: res.status, json: text ? JSON.parse(text) : null, text, setCookies };
    },
  };
}

/**
 * Every town of the tests' user, read with a bearer token (not through any cookie under
 * test). Other test files create towns of the same user meanwhile: compare by name.
 */
async function towns(): Promise<Array<{ id: string; name: string }>> {
  const token = await userToken();
  const all: Array<{ id: string; name: string }> = [];
  for (let after = ''; ; ) {
    const page = await api(`/api/towns?limit=500${after ? `&after=${after}` : ''}`, { token });
    all.push(...page.json.towns);
    if (page.json.towns.length < 500) return all;
    after = page.json.towns.at(-1).id;
  }
}

const credentials = { client_id: TEST_SECRETS.GASTOWN_CLIENT_ID, client_secret: TEST_SECRETS.GASTOWN_CLIENT_SECRET };

describe('the dashboard session', () => {
  it('sign-in sets two HttpOnly SameSite=Strict cookies and says only when they expire; the API then works with the cookie alone', async () => {
    const b = browser();
    expect((await b.call('GET', '/api/session')).json).toEqual({ signedIn: false, refreshable: false, lifetimeSeconds: 3600 });
    const signIn = await b.call('POST', '/api/session', { body: credentials });
    expect(signIn.status).toBe(200);
    expect(signIn.json).toMatchObject({ signedIn: true, expiresAt: expect.any(String), sessionExpiresAt: expect.any(String) });
    expect(signIn.text).not.toMatch(/eyJ/);
    expect(signIn.setCookies).toHaveLength(2);
    for (const cookie of signIn.setCookies) {
      expect(cookie).toMatch(/HttpOnly/);
      expect(cookie).toMatch(/SameSite=Strict/);
      expect(cookie).not.toMatch(/Secure/); // plain http here; over https the cookies are Secure
    }
    expect(signIn.setCookies.find((c) => c.startsWith('gastown_refresh='))).toMatch(/Path=\/api\/session/);
    expect((await b.call('GET', '/api/session')).json).toMatchObject({ signedIn: true, refreshable: true, lifetimeSeconds: 3600 });

    const created = await b.call('POST', '/api/towns', { body: { name: 'from the page' } });
    expect(created.status).toBe(201);
    expect((await b.call('GET', `/api/towns/${created.json.id}`)).json.name).toBe('from the page');
  });

  it('cross-site: a state-changing request with the cookie from another origin, or with no Origin, is 403 and changes nothing', async () => {
    const b = browser();
    await b.call('POST', '/api/session', { body: credentials });
    const town = await b.call('POST', '/api/towns', { body: { name: 'mine' } });
    const before = (await b.call('GET', `/api/towns/${town.json.id}`)).json;
    const evil = browser('https://evil.example');
    evil.jar.set('gastown_session', b.jar.get('gastown_session')!);
    const forged = await evil.call('POST', `/api/towns/${town.json.id}/rigs`, { body: { name: 'planted' } });
    expect(forged.status).toBe(403);
    expect(forged.json.error.code).toBe('forbidden');
    const noOrigin = await b.call('POST', `/api/towns/${town.json.id}/rigs`, { body: { name: 'planted' }, headers: { origin: '' } });
    expect(noOrigin.status).toBe(403);
    expect((await b.call('GET', `/api/towns/${town.json.id}`)).json).toEqual(before);
    // sign-in itself is refused cross-site (login CSRF)
    expect((await browser('https://evil.example').call('POST', '/api/session', { body: credentials })).status).toBe(403);
  });

  it('refresh renews the access cookie while the session is open; sign-out ends it for good', async () => {
    const b = browser();
    await b.call('POST', '/api/session', { body: credentials });
    const firstAccess = b.jar.get('gastown_session')!.value;
    const refreshed = await b.call('POST', '/api/session/refresh');
    expect(refreshed.status).toBe(200);
    expect(refreshed.text).not.toMatch(/eyJ/);
    expect(b.jar.get('gastown_session')!.value).not.toBe(firstAccess);
    const oldRefresh = b.jar.get('gastown_refresh')!.value;

    expect((await b.call('POST', '/api/session/sign-out')).json).toEqual({ signedIn: false });
    expect(b.jar.has('gastown_session')).toBe(false);
    const replay = browser();
    replay.jar.set('gastown_refresh', { value: oldRefresh, path: '/api/session' });
    const again = await replay.call('POST', '/api/session/refresh');
    expect(again.status).toBe(401);
    expect(again.json.error.code).toBe('unauthorized');
  });

  it('over https both cookies are Secure, when set and when cleared', async () => {
    const site = 'https://gastown.example';
    const b = browser(site, site);
    const signIn = await b.call('POST', '/api/session', { body: credentials });
    expect(signIn.status).toBe(200);
    const refreshed = await b.call('POST', '/api/session/refresh');
    const signOut = await b.call('POST', '/api/session/sign-out');
    for (const answer of [signIn, refreshed, signOut]) {
      expect(answer.setCookies.map((c) => c.slice(0, c.indexOf('=')))).toEqual(['gastown_session', 'gastown_refresh']);
      for (const cookie of answer.setCookies) expect(cookie.split(';').map((a) => a.trim())).toContain('Secure');
    }
    // and over plain http none is
    const plain = await browser().call('POST', '/api/session', { body: credentials });
    expect(plain.setCookies).toHaveLength(2);
    for (const cookie of plain.setCookies) expect(cookie).not.toMatch(/Secure/);
  });

  it('an access cookie after sign-out → 401, nothing changed', async () => {
    const b = browser();
    await b.call('POST', '/api/session', { body: credentials });
    const town = await b.call('POST', '/api/towns', { body: { name: 'signed out soon' } });
    const access = b.jar.get('gastown_session')!;
    const planted = `after sign-out ${crypto.randomUUID()}`;
    const before = (await b.call('GET', `/api/towns/${town.json.id}`)).json;
    expect((await b.call('POST', '/api/session/sign-out')).status).toBe(200);

    // someone who kept a copy of the access cookie, well inside its lifetime
    const kept = browser();
    kept.jar.set('gastown_session', access);
    for (const [method, path, body] of [
      ['GET', '/api/towns', undefined],
      ['GET', `/api/towns/${town.json.id}`, undefined],
      ['POST', '/api/towns', { name: planted }],
      ['POST', `/api/towns/${town.json.id}/rigs`, { name: planted }],
    ] as const) {
      const res = await kept.call(method, path, { body });
      expect(res.status, `${method} ${path}`).toBe(401);
      expect(res.json.error.code).toBe('token_revoked');
    }
    expect((await kept.call('GET', '/api/session')).json).toMatchObject({ signedIn: false });
    expect((await towns()).filter((t) => t.name === planted)).toEqual([]);
    expect((await api(`/api/towns/${town.json.id}`, { token: await userToken() })).json).toEqual(before);
  });

  it('without a session, with an expired one, or with a forged one: 401, nothing changes', async () => {
    const planted = `refused ${crypto.randomUUID()}`;
    const none = await browser().call('POST', '/api/towns', { body: { name: planted } });
    expect(none.status).toBe(401);
    const now = Math.floor(Date.now() / 1000);
    const expired = await forgeToken({ kid: await kidOf(TEST_SECRETS.GASTOWN_JWT_SECRET), claims: { sub: TEST_SECRETS.GASTOWN_CLIENT_ID, sid: 's', aud: 'gastown-session', iat: now - 60, exp: now - 5 }, omit: ['agentId', 'townId', 'userId', 'gen'] });
    const b = browser();
    b.jar.set('gastown_session', { value: expired, path: '/' });
    const stale = await b.call('POST', '/api/towns', { body: { name: planted } });
    expect(stale.status).toBe(401);
    expect(stale.json.error.code).toBe('token_expired');
    expect((await b.call('GET', '/api/session')).json).toMatchObject({ signedIn: false, refreshable: false });
    // a user API token is not a session cookie
    const token = await browser().call('POST', '/api/auth/token', { body: { grant_type: 'client_credentials', ...credentials } });
    b.jar.set('gastown_session', { value: token.json.access_token, path: '/' });
    expect((await b.call('GET', '/api/towns')).status).toBe(401);
    expect((await b.call('POST', '/api/towns', { body: { name: planted } })).status).toBe(401);
    const wrong = browser();
    expect((await wrong.call('POST', '/api/session', { body: { ...credentials, client_secret: 'wrong-wrong-wrong' } })).status).toBe(401);
    expect(wrong.jar.size).toBe(0);
    expect((await towns()).filter((t) => t.name === planted)).toEqual([]);
  });
});
