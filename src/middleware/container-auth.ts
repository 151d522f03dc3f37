import type { MiddlewareHandler } from 'hono';
import type { AppEnv } from '../app-env';
import { bearerToken } from './bearer';

/**
 * Takes the container credential of the re-mint route. It is checked by the TownDO,
 * which stores only its hash; an agent token presented here simply does not match.
 */
export function containerAuth(): MiddlewareHandler<AppEnv> {
  return async function containerAuth(c, next) {
    c.set('containerCredential', bearerToken(c));
    await next();
  };
}
