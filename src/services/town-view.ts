import { displayStatus } from '../domain/refresh-policy';
import type { AgentRow } from '../storage/agent-store';
import { requireTown, type TownContext } from './town-context';

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

/** An agent as shown to users and agents: status with stall derived, never a token value. */
export function publicAgent(ctx: TownContext, a: AgentRow) {
  return {
    id: a.id,
    role: a.role,
    rigId: a.rigId,
    beadId: a.beadId,
    status: displayStatus(a.status, a.lastHeartbeatAt ?? a.startedAt ?? a.createdAt, ctx.now(), ctx.config.stallAfterSeconds),
    tokenExpiresAt: iso(a.tokenExpiresAt),
    tokenRefreshedAt: iso(a.tokenRefreshedAt),
    refreshCount: a.refreshCount,
    refreshFailures: a.refreshFailures,
    nextRefreshAt: iso(a.nextRefreshAt),
    lastHeartbeatAt: iso(a.lastHeartbeatAt),
    eventsStored: a.eventsStored,
    summary: a.summary,
    createdAt: iso(a.createdAt),
    endedAt: iso(a.endedAt),
  };
}

/** The town read model of `GET /api/towns/:townId`. */
export function townView(ctx: TownContext) {
  const town = requireTown(ctx);
  return {
    id: town.id,
    name: town.name,
    createdAt: iso(town.createdAt),
    rigs: ctx.towns.rigs(),
    agents: ctx.agents.list().map((a) => publicAgent(ctx, a)),
    beads: ctx.beads.list(),
  };
}
