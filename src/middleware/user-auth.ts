import type { MiddlewareHandler } from 'hono';
import { SESSION_AUDIENCE, USER_CLOCK_TOLERANCE_SECONDS, verifySessionToken, verifyUserToken } from '../domain/tokens';
import type { AppEnv } from '../app-env';
import { AppError } from '../errors';
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
 * `Authorization` header, the dashboard's session cookie of a session still open (a
 * signed-out session's access cookie is refused at once, not at its expiry; a
 * state-changing request must come from this origin). Sets `userId`, and
 * `credentialExpiresAt`: the last moment (ms) this credential is accepted (`exp` plus the
 * user-token leeway), past which a long-lived response such as the event stream ends.
 */
export function userAuth(options: UserAuthOptions = {}): MiddlewareHandler<AppEnv> {
  const now = options.now ?? Date.now;
  return async function userAuth(c, next) {
    const cookie = c.req.header('authorization') ? undefined : accessCookie(c);
    if (cookie) {
      const claims = await verifySessionToken(await envKeys(c.env), SESSION_AUDIENCE, cookie, now());
      requireSameOrigin(c);
      if (!(await c.env.DIRECTORY.getByName(claims.sub).hasSession(claims.sid))) throw new AppError('token_revoked', 'the session has ended; sign in again');
      c.set('userId', claims.sub);
      c.set('credentialExpiresAt', acceptedUntil(claims.exp));
    } else {
      const claims = await verifyUserToken(await envKeys(c.env), bearerToken(c), now());
      c.set('userId', claims.sub);
      c.set('credentialExpiresAt', acceptedUntil(claims.exp));
    }
    await next();
  };
}

/** The last moment (ms) a user credential expiring at `exp` (s) is still accepted. */
function acceptedUntil(exp: number): number {
  return (exp + USER_CLOCK_TOLERANCE_SECONDS) * 1000;
}
