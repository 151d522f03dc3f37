import type { MiddlewareHandler } from 'hono';
import { verifyUserToken } from '../domain/tokens';
import type { AppEnv } from '../app-env';
import { bearerToken } from './bearer';
import { envKeys } from './keys';

/** Options of the user middleware. `now` is injectable for tests. */
export interface UserAuthOptions {
  now?: () => number;
}

/** Requires a user access token (from `POST /api/auth/token`); sets `userId`. */
export function userAuth(options: UserAuthOptions = {}): MiddlewareHandler<AppEnv> {
  const now = options.now ?? Date.now;
  return async function userAuth(c, next) {
    const claims = await verifyUserToken(await envKeys(c.env), bearerToken(c), now());
    c.set('userId', claims.sub);
    await next();
  };
}
