import { nextRefreshAt, refreshPeriodMs } from '../domain/refresh-policy';
import { mintAgentToken, type MintedToken } from '../domain/tokens';
import type { AgentRow } from '../storage/agent-store';
import { requireTown, type TownContext } from './town-context';

/** Mints a token for an agent under its current generation. */
export async function mintFor(ctx: TownContext, agent: AgentRow): Promise<MintedToken> {
  const town = requireTown(ctx);
  return mintAgentToken(
    await ctx.keys(),
    { agentId: agent.id, rigId: agent.rigId, townId: town.id, userId: town.userId, gen: agent.tokenGen },
    ctx.now(),
    ctx.config.agentTokenTtlSeconds,
  );
}

/** The refresh period of this town's configuration. */
export function periodMs(ctx: TownContext): number {
  return refreshPeriodMs(ctx.config.tokenRefreshIntervalSeconds, ctx.config.agentTokenTtlSeconds);
}

/** Records that the container holds a token expiring at `expiresAt`, and schedules the next refresh. */
export function recordDelivered(ctx: TownContext, agentId: string, expiresAt: number): void {
  const now = ctx.now();
  ctx.agents.recordTokenDelivered(agentId, expiresAt, now, nextRefreshAt(now, periodMs(ctx), ctx.random()));
}
