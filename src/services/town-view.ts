import { displayStatus } from '../domain/refresh-policy';
import type { AgentRow } from '../storage/agent-store';
import type { BeadRow } from '../storage/bead-store';
import type { MailRow } from '../storage/mail-store';
import type { RigRow } from '../storage/town-store';
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

/** A bead as shown to users and agents (times as ISO 8601, like every time in the API). */
export function publicBead(b: BeadRow) {
  return { ...b, createdAt: iso(b.createdAt)!, updatedAt: iso(b.updatedAt)! };
}

export function publicRig(r: RigRow) {
  return { ...r, createdAt: iso(r.createdAt)! };
}

export function publicMail(m: MailRow) {
  return { ...m, sentAt: iso(m.sentAt)! };
}

/** The town read model of `GET /api/towns/:townId`. */
export function townView(ctx: TownContext) {
  const town = requireTown(ctx);
  return {
    id: town.id,
    name: town.name,
    createdAt: iso(town.createdAt),
    rigs: ctx.towns.rigs().map(publicRig),
    agents: ctx.agents.list().map((a) => publicAgent(ctx, a)),
    beads: ctx.beads.list().map(publicBead),
  };
}
