import type { MiddlewareHandler } from 'hono';
import { SESSION_AUDIENCE, verifySessionToken, verifyUserToken } from '../domain/tokens';
import type { AppEnv } from '../app-env';
import { bearerToken } from './bearer';
import { envKeys } from './keys';
import { requireSameOrigin } from './same-origin';
import { accessCookie } from './session-cookies';

/** Options of the user middleware. `now` is injectable for tests. */
export interface UserAuthOptions {
  now?: () => number;
}

/**
 * Requires a user: a bearer access token (from `POST /api/auth/token`), or, without an
 * `Authorization` header, the dashboard's session cookie (then a state-changing request
 * must come from this origin). Sets `userId`.
 */
export function userAuth(options: UserAuthOptions = {}): MiddlewareHandler<AppEnv> {
  const now = options.now ?? Date.now;
  return async function userAuth(c, next) {
    const cookie = c.req.header('authorization') ? undefined : accessCookie(c);
    if (cookie) {
      const claims = await verifySessionToken(await envKeys(c.env), SESSION_AUDIENCE, cookie, now());
      requireSameOrigin(c);
      c.set('userId', claims.sub);
    } else {
      const claims = await verifyUserToken(await envKeys(c.env), bearerToken(c), now());
      c.set('userId', claims.sub);
    }
    await next();
  };
}
