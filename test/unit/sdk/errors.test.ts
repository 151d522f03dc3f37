import { describe, expect, it } from 'vitest';
import { GastownClient, GastownError, type FetchLike } from '../../../sdk/index.ts';
import { jwtShaped } from './fake-api.ts';

const NOW = Date.UTC(2030, 0, 1);

/** A client whose every API answer is `answer` (the token endpoint always works). */
function clientAnswering(answer: () => Response | Promise<Response>, clientSecret = 'client-secret-123') {
  const fetch: FetchLike = async (url) => {
    if (url.endsWith('/api/auth/token')) return Response.json({ access_token: jwtShaped({ sub: 'me' }), token_type: 'Bearer', expires_in: 3600 });
    return answer();
  };
  return new GastownClient({ baseUrl: 'http://gastown.test/', clientId: 'me', clientSecret, fetch, now: () => NOW });
}

const errorBody = (status: number, code: string, message: string, headers: Record<string, string> = {}) => () =>
  Response.json({ error: { code, message } }, { status, headers });

describe('error mapping', () => {
  it.each([
    { name: '400 bad input', answer: errorBody(400, 'bad_request', 'name is required'), status: 400, code: 'bad_request', message: 'name is required' },
    { name: '403 another user’s town', answer: errorBody(403, 'forbidden', 'not your town'), status: 403, code: 'forbidden' },
    { name: '404 unknown town', answer: errorBody(404, 'not_found', 'town x not found'), status: 404, code: 'not_found' },
    { name: '409 conflict', answer: errorBody(409, 'conflict', 'mayor already running'), status: 409, code: 'conflict' },
    { name: '413 too large', answer: errorBody(413, 'too_large', 'body too large'), status: 413, code: 'too_large' },
    { name: '429 with Retry-After seconds', answer: errorBody(429, 'rate_limited', 'slow down', { 'retry-after': '7' }), status: 429, code: 'rate_limited', retryAfter: 7 },
    {
      name: '429 with Retry-After as an HTTP date',
      answer: errorBody(429, 'rate_limited', 'slow down', { 'retry-after': new Date(NOW + 30_000).toUTCString() }),
      status: 429,
      code: 'rate_limited',
      retryAfter: 30,
    },
    { name: '502 container unavailable', answer: errorBody(502, 'container_unavailable', 'control server did not answer'), status: 502, code: 'container_unavailable' },
    { name: '500 without the Worker’s error body', answer: () => new Response('<html>oops</html>', { status: 500, statusText: 'Internal Server Error' }), status: 500, code: 'http_500', message: 'HTTP 500 Internal Server Error' },
    { name: '200 that is not JSON', answer: () => new Response('not json', { status: 200 }), status: 200, code: 'invalid_response' },
    { name: 'no response at all', answer: () => Promise.reject(new TypeError('fetch failed')), status: 0, code: 'network_error' },
  ])('$name → GastownError $status $code', async ({ answer, status, code, message, retryAfter }) => {
    const error = await clientAnswering(answer).getTown('t').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(GastownError);
    expect(error).toMatchObject({ status, code, ...(message ? { message } : {}) });
    expect((error as GastownError).retryAfter).toBe(retryAfter);
  });

  it('a token echoed in an error message is redacted', async () => {
    const token = jwtShaped({ sub: 'someone' });
    const error = (await clientAnswering(errorBody(400, 'bad_request', `bad header Bearer ${token} and ${token}`)).getTown('t').catch((e: unknown) => e)) as GastownError;
    expect(error.message).not.toContain(token);
    expect(error.message).toContain('[redacted');
  });

  it('a token endpoint echoing the client secret: the secret is not in the error', async () => {
    const secret = 'super-secret-value';
    const fetch: FetchLike = async () => Response.json({ error: { code: 'unauthorized', message: `client secret ${secret} is wrong` } }, { status: 401 });
    const client = new GastownClient({ baseUrl: 'http://gastown.test', clientId: 'me', clientSecret: secret, fetch });
    const error = (await client.listTowns().catch((e: unknown) => e)) as GastownError;
    expect(error).toMatchObject({ status: 401, code: 'unauthorized' });
    expect(error.message).not.toContain(secret);
  });

  it('requests go to the base URL without a doubled slash, ids encoded', async () => {
    const urls: string[] = [];
    const fetch: FetchLike = async (url) => {
      urls.push(url);
      if (url.endsWith('/api/auth/token')) return Response.json({ access_token: 'a.b.c', token_type: 'Bearer', expires_in: 60 });
      return Response.json({ messages: [] });
    };
    const client = new GastownClient({ baseUrl: 'http://gastown.test//', clientId: 'me', clientSecret: 's', fetch });
    await client.mayorMessages('town/1', { after: 5 });
    expect(urls).toEqual(['http://gastown.test/api/auth/token', 'http://gastown.test/api/towns/town%2F1/mayor/messages?after=5']);
  });
});
