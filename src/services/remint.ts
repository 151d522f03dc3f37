import { isLive } from '../domain/refresh-policy';
import { takeFromWindow } from '../domain/rate-limit';
import { constantTimeEqual, sha256Hex } from '../domain/signing-keys';
import { AppError } from '../errors';
import { mintFor, recordDelivered } from './agent-tokens';
import { requireTown, type TownContext } from './town-context';

/**
 * The 401 fallback: the container presents the credential this TownDO handed it and asks
 * for a fresh token for one of its agents. Only agents believed running get one, at most
 * REMINT_LIMIT per window (the window is stored, so eviction does not reset it).
 */
export async function remintForContainer(ctx: TownContext, credential: string, agentId: string) {
  const town = requireTown(ctx);
  const presented = await sha256Hex(credential);
  if (!town.containerCredentialHash || !(await constantTimeEqual(presented, town.containerCredentialHash))) {
    throw new AppError('unauthorized', 'invalid container credential');
  }
  const agent = ctx.agents.get(agentId);
  if (!agent) throw new AppError('not_found', `agent ${agentId} not found`);
  if (!isLive(agent.status)) throw new AppError('forbidden', `agent ${agentId} is not running`);
  const now = ctx.now();
  const { allowed, next } = takeFromWindow({ windowStart: agent.remintWindowStart, count: agent.remintCount }, now);
  ctx.agents.setRemintWindow(agent.id, next.windowStart, next.count);
  if (!allowed) throw new AppError('rate_limited', 'too many re-mints for this agent; retry later');
  const minted = await mintFor(ctx, agent);
  recordDelivered(ctx, agent.id, minted.expiresAt);
  ctx.emit('agent.token.reminted', { agentId: agent.id });
  return { token: minted.token, expiresAt: new Date(minted.expiresAt).toISOString() };
}
