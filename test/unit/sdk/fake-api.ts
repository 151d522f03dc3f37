import type { FetchLike } from '../../../sdk/index.ts';

/** A JWT-shaped string (unsigned) whose claims say what a naive client would read. */
export function jwtShaped(claims: Record<string, unknown>): string {
  const part = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
  return `${part({ alg: 'HS256', typ: 'JWT' })}.${part(claims)}.c2lnbmF0dXJl`;
}

export type EndpointMode = 'ok' | 'fail' | 'network' | 'invalid_client';

/**
 * The Worker as a fetch function, with a clock of its own: a token endpoint that issues
 * JWT-shaped tokens named t1, t2, ... (claims on the server's clock) and an API route that
 * refuses the tokens in `refused`. Counts every request.
 */
export function fakeApi(options: { expiresIn: number; serverNow: () => number }) {
  const names = new Map<string, string>();
  const state = {
    mode: 'ok' as EndpointMode,
    tokenRequests: 0,
    apiTokens: [] as string[],
    refused: new Set<string>(),
    refuseAll: false,
  };
  const json = (status: number, body: unknown, headers: Record<string, string> = {}) =>
    new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json', ...headers } });
  const fetch: FetchLike = async (url, init) => {
    await Promise.resolve();
    if (url.endsWith('/api/auth/token')) {
      state.tokenRequests++;
      if (state.mode === 'network') throw new TypeError('fetch failed');
      if (state.mode === 'fail') return json(503, { error: { code: 'internal', message: 'token service unavailable' } });
      if (state.mode === 'invalid_client') return json(401, { error: { code: 'unauthorized', message: 'invalid client credentials' } });
      const name = `t${names.size + 1}`;
      const iat = Math.floor(options.serverNow() / 1000);
      const token = jwtShaped({ sub: 'client', jti: name, iat, exp: iat + options.expiresIn });
      names.set(token, name);
      return json(200, { access_token: token, token_type: 'Bearer', expires_in: options.expiresIn });
    }
    const token = new Headers(init?.headers).get('authorization')?.replace(/^Bearer /, '') ?? '';
    const name = names.get(token) ?? token;
    state.apiTokens.push(name);
    if (state.refuseAll || state.refused.has(name)) return json(401, { error: { code: 'token_expired', message: 'access token expired' } });
    return json(200, { ok: true, url });
  };
  return { fetch, state, nameOf: (token: string) => names.get(token) ?? token };
}
