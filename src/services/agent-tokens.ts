import { nextRefreshAt, refreshPeriodMs } from '../domain/refresh-policy';
import { mintAgentToken, type MintedToken } from '../domain/tokens';
import type { AgentRow } from '../storage/agent-store';
import type { TokenIssueKind } from '../storage/token-history-store';
import { requireTown, type TownContext } from './town-context';

/** Mints a token for an agent under its current generation, remembering its `iat` (a later 409 naming it is ours). */
export async function mintFor(ctx: TownContext, agent: Pick<AgentRow, 'id' | 'rigId' | 'tokenGen'>): Promise<MintedToken> {
  const town = requireTown(ctx);
  const minted = await mintAgentToken(
    await ctx.keys(),
    { agentId: agent.id, rigId: agent.rigId, townId: town.id, userId: town.userId, gen: agent.tokenGen },
    ctx.now(),
    ctx.config.agentTokenTtlSeconds,
  );
  ctx.agents.recordMinted(agent.id, agent.tokenGen, minted.issuedAt / 1000);
  return minted;
}

/** The refresh period of this town's configuration. */
export function periodMs(ctx: TownContext): number {
  return refreshPeriodMs(ctx.config.tokenRefreshIntervalSeconds, ctx.config.agentTokenTtlSeconds);
}

/** The next refresh time from now (one period, jittered). */
export function nextRefreshFromNow(ctx: TownContext): number {
  return nextRefreshAt(ctx.now(), periodMs(ctx), ctx.random());
}

/**
 * Records that the container holds a token of generation `gen` expiring at `expiresAt`,
 * and schedules the next refresh. Nothing is written for a generation that was replaced
 * meanwhile (false).
 */
export function recordDelivered(ctx: TownContext, agentId: string, gen: number, token: { issuedAt: number; expiresAt: number }, kind: TokenIssueKind): boolean {
  const applied = ctx.agents.recordTokenDelivered(agentId, gen, token.expiresAt, ctx.now(), nextRefreshFromNow(ctx));
  if (applied) ctx.tokenHistory.add({ agentId, gen, kind, issuedAt: token.issuedAt, expiresAt: token.expiresAt });
  return applied;
}
