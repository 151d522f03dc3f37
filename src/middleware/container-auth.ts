import type { MiddlewareHandler } from 'hono';
import type { AppEnv } from '../app-env';
import { verifyContainerCredential } from '../domain/tokens';
import { AppError } from '../errors';
import { bearerToken } from './bearer';
import { envKeys } from './keys';

/**
 * Requires the container credential of the path's town: a token the TownDO signed and
 * handed its container. Signature, audience and town are checked here, before any Durable
 * Object is reached; the TownDO then checks its generation (a newer container's
 * credential revokes older ones). An agent token presented here is refused.
 */
export function containerAuth(): MiddlewareHandler<AppEnv> {
  return async function containerAuth(c, next) {
    const claims = await verifyContainerCredential(await envKeys(c.env), bearerToken(c), Date.now());
    if (claims.townId !== c.req.param('townId')) throw new AppError('forbidden', 'credential is for another town');
    c.set('container', claims);
    await next();
  };
}
