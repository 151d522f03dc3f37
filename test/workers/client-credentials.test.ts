import { exports } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import { ORIGIN } from './helpers';
import { TEST_SECRETS } from './secrets';

const ID = TEST_SECRETS.GASTOWN_CLIENT_ID;
const SECRET = TEST_SECRETS.GASTOWN_CLIENT_SECRET;

/** `POST /api/auth/token` exactly as given: no content type is added. */
async function tokenRequest(body: string, headers: Record<string, string> = {}) {
  const res = await exports.default.fetch(new Request(`${ORIGIN}/api/auth/token`, { method: 'POST', headers, body }));
  const text = await res.text();
  return { status: res.status, headers: res.headers, json: JSON.parse(text) as any, text };
}

/** RFC 6749 §2.3.1: each part form-urlencoded, joined by a colon, base64-encoded. */
function basic(id: string, secret: string): string {
  const form = (v: string) => encodeURIComponent(v).replace(/%20/g, '+');
  return `Basic ${btoa(`${form(id)}:${form(secret)}`)}`;
}

/** Standard OAuth client libraries authenticate with HTTP Basic and may send JSON without a JSON content type. */
describe('POST /api/auth/token as OAuth clients send it', () => {
  it('HTTP Basic client authentication with a form body (the libraries’ default)', async () => {
    const res = await tokenRequest('grant_type=client_credentials', {
      'content-type': 'application/x-www-form-urlencoded',
      authorization: basic(ID, SECRET),
    });
    expect(res.status).toBe(200);
    expect(res.json).toMatchObject({ token_type: 'Bearer', expires_in: 3600 });
    const towns = await exports.default.fetch(new Request(`${ORIGIN}/api/towns`, {
      method: 'POST',
      headers: { authorization: `Bearer ${res.json.access_token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'via basic' }),
    }));
    expect(towns.status).toBe(201);
  });

  it('HTTP Basic with no body at all, and with the client id repeated in the body', async () => {
    expect((await tokenRequest('grant_type=client_credentials', { authorization: basic(ID, SECRET) })).status).toBe(200);
    const repeated = await tokenRequest(`grant_type=client_credentials&client_id=${ID}`, {
      'content-type': 'application/x-www-form-urlencoded',
      authorization: basic(ID, SECRET),
    });
    expect(repeated.status).toBe(200);
  });

  it('wrong Basic credentials → 401 JSON error with a Basic challenge', async () => {
    const res = await tokenRequest('grant_type=client_credentials', {
      'content-type': 'application/x-www-form-urlencoded',
      authorization: basic(ID, 'wrong secret'),
    });
    expect(res.status).toBe(401);
    expect(res.json.error.code).toBe('unauthorized');
    expect(res.headers.get('www-authenticate')).toBe('Basic realm="gastown"');
    expect(res.text).not.toContain(SECRET);
  });

  it('credentials in the header and the body that differ → 400 invalid_request', async () => {
    const res = await tokenRequest(`grant_type=client_credentials&client_id=${ID}&client_secret=other-secret`, {
      'content-type': 'application/x-www-form-urlencoded',
      authorization: basic(ID, SECRET),
    });
    expect(res.status).toBe(400);
    expect(res.json.error.code).toBe('bad_request');
    expect(res.json.error.message).toContain('invalid_request');
  });

  it('malformed Basic credentials → 400', async () => {
    for (const authorization of ['Basic %%%', `Basic ${btoa('no-colon')}`]) {
      const res = await tokenRequest('grant_type=client_credentials', { authorization });
      expect(res.status).toBe(400);
      expect(res.json.error.code).toBe('bad_request');
    }
  });

  it.each([
    ['no content type', {}],
    ['text/plain', { 'content-type': 'text/plain;charset=UTF-8' }],
  ])('a JSON body with %s', async (_name, headers) => {
    const body = JSON.stringify({ grant_type: 'client_credentials', client_id: ID, client_secret: SECRET });
    const res = await tokenRequest(body, headers);
    expect(res.status).toBe(200);
    expect(res.json.token_type).toBe('Bearer');
    const wrong = await tokenRequest(JSON.stringify({ grant_type: 'client_credentials', client_id: ID, client_secret: 'nope' }), headers);
    expect(wrong.status).toBe(401);
    expect(wrong.json.error.code).toBe('unauthorized');
  });

  it('a form body is still a form', async () => {
    const res = await tokenRequest(`grant_type=client_credentials&client_id=${ID}&client_secret=${SECRET}`, {
      'content-type': 'application/x-www-form-urlencoded',
    });
    expect(res.status).toBe(200);
  });
});
