import { isLive } from '../domain/refresh-policy';
import { takeFromWindow } from '../domain/rate-limit';
import type { ContainerClaims } from '../domain/tokens';
import { AppError } from '../errors';
import { mintFor, recordDelivered } from './agent-tokens';
import { acceptContainerCredential } from './container-credential';
import type { TownContext } from './town-context';

/**
 * The 401 fallback: the container presents its credential and asks for a fresh token for
 * one of its agents. Only agents believed running get one, at most REMINT_LIMIT per window
 * (the window is stored, so eviction does not reset it).
 */
export async function remintForContainer(ctx: TownContext, credential: ContainerClaims, agentId: string) {
  acceptContainerCredential(ctx, credential);
  const agent = ctx.agents.get(agentId);
  if (!agent) throw new AppError('not_found', `agent ${agentId} not found`);
  if (!isLive(agent.status)) throw new AppError('forbidden', `agent ${agentId} is not running`, { extra: { agentEnded: true } });
  const { allowed, next } = takeFromWindow({ windowStart: agent.remintWindowStart, count: agent.remintCount }, ctx.now());
  ctx.agents.setRemintWindow(agent.id, next.windowStart, next.count);
  if (!allowed) throw new AppError('rate_limited', 'too many re-mints for this agent; retry later', { retryAfter: 60 });
  const minted = await mintFor(ctx, agent);
  if (agent.status !== 'starting') recordDelivered(ctx, agent.id, agent.tokenGen, minted, 'remint');
  ctx.emit('agent.token.reminted', { agentId: agent.id });
  return { token: minted.token, expiresAt: new Date(minted.expiresAt).toISOString() };
}
