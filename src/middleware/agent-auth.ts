import type { MiddlewareHandler } from 'hono';
import { verifyAgentToken } from '../domain/tokens';
import type { AppEnv } from '../app-env';
import { AppError } from '../errors';
import { bearerToken } from './bearer';
import { envKeys } from './keys';

/** Options of the agent middleware. `now` is injectable for tests. */
export interface AgentAuthOptions {
  now?: () => number;
}

/**
 * Requires an agent token whose claims name the path's town and agent (else 403). An
 * expired, invalid or missing token is a 401 with a code; revocation is checked by the
 * TownDO, which every agent route calls anyway.
 */
export function agentAuth(options: AgentAuthOptions = {}): MiddlewareHandler<AppEnv> {
  const now = options.now ?? Date.now;
  return async function agentAuth(c, next) {
    const claims = await verifyAgentToken(await envKeys(c.env), bearerToken(c), now());
    if (claims.townId !== c.req.param('townId') || claims.agentId !== c.req.param('agentId')) {
      throw new AppError('forbidden', 'token is for another agent or town');
    }
    c.set('agent', claims);
    await next();
  };
}
