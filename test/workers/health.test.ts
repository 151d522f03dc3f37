import { env, exports } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import { createApp } from '../../src/app';
import type { Env } from '../../src/env';
import { ORIGIN } from './helpers';
import { TEST_SECRETS } from './secrets';

/** The Worker app under a changed configuration (the deployed one is the test's env). */
async function call(path: string, overrides: Partial<Record<keyof Env, string | undefined>>, init: RequestInit = {}) {
  const changed = { ...(env as unknown as Env), ...overrides } as Env;
  const res = await createApp().fetch(new Request(`${ORIGIN}${path}`, init), changed);
  return { status: res.status, json: (await res.json()) as any };
}

const grant = () => ({
  method: 'POST',
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify({ grant_type: 'client_credentials', client_id: TEST_SECRETS.GASTOWN_CLIENT_ID, client_secret: TEST_SECRETS.GASTOWN_CLIENT_SECRET }),
});

/** A Worker cannot refuse to start, so /health is where a deploy or `npm start` sees a broken configuration. */
describe('GET /health validates the configuration', () => {
  it('ok with the configuration of the tests', async () => {
    const res = await exports.default.fetch(new Request(`${ORIGIN}/health`));
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ ok: true });
  });

  it.each([
    ['missing', undefined, /GASTOWN_JWT_SECRET is not set/],
    ['short', 'too-short-secret', /GASTOWN_JWT_SECRET must be at least 32 bytes/],
  ])('GASTOWN_JWT_SECRET %s → 500 misconfigured naming the variable, never its value', async (_name, value, message) => {
    const res = await call('/health', { GASTOWN_JWT_SECRET: value });
    expect(res.status).toBe(500);
    expect(res.json.error.code).toBe('misconfigured');
    expect(res.json.error.message).toMatch(message);
    expect(JSON.stringify(res.json)).not.toContain('too-short-secret');
  });
});

/** The contract sets no minimum token lifetime; a short one must not turn every route into a 500. */
describe('AGENT_TOKEN_TTL_SECONDS', () => {
  it.each(['2', '5'])('%s s is a working configuration', async (ttl) => {
    expect((await call('/health', { AGENT_TOKEN_TTL_SECONDS: ttl })).json).toEqual({ ok: true });
    const token = await call('/api/auth/token', { AGENT_TOKEN_TTL_SECONDS: ttl }, grant());
    expect(token.status).toBe(200);
  });

  it.each([
    ['1', /AGENT_TOKEN_TTL_SECONDS must be at least 2/],
    ['0', /AGENT_TOKEN_TTL_SECONDS must be at least 2, got 0/],
    ['soon', /AGENT_TOKEN_TTL_SECONDS must be a whole number/],
  ])('%s → 500 misconfigured', async (ttl, message) => {
    const res = await call('/health', { AGENT_TOKEN_TTL_SECONDS: ttl });
    expect(res.status).toBe(500);
    expect(res.json.error.code).toBe('misconfigured');
    expect(res.json.error.message).toMatch(message);
  });
});
