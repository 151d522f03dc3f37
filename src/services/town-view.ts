import { displayStatus } from '../domain/refresh-policy';
import type { AgentRow } from '../storage/agent-store';
import type { BeadRow } from '../storage/bead-store';
import type { MailRow } from '../storage/mail-store';
import type { RigRow } from '../storage/town-store';
import { purgedCounters } from './retention';
import { requireTown, type TownContext } from './town-context';

/** Agents and beads the town view shows at most; the paginated listings have the rest. */
export const VIEW_AGENTS = 200;
export const VIEW_BEADS = 500;

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

/** An agent as shown to users and agents: status with stall derived, never a token value. */
export function publicAgent(ctx: TownContext, a: AgentRow) {
  return {
    id: a.id,
    role: a.role,
    rigId: a.rigId,
    beadId: a.beadId,
    runtime: a.runtime ?? (a.command ? 'command' : 'builtin'),
    status: displayStatus(a.status, a.lastHeartbeatAt ?? a.startedAt ?? a.createdAt, ctx.now(), ctx.config.stallAfterSeconds),
    tokenGen: a.tokenGen,
    tokenExpiresAt: iso(a.tokenExpiresAt),
    tokenRefreshedAt: iso(a.tokenRefreshedAt),
    refreshCount: a.refreshCount,
    refreshFailures: a.refreshFailures,
    nextRefreshAt: iso(a.nextRefreshAt),
    lastHeartbeatAt: iso(a.lastHeartbeatAt),
    restartCount: a.restartCount,
    eventsStored: a.eventsStored,
    eventsTrimmed: a.eventsTrimmed,
    summary: a.summary,
    endReason: a.endReason,
    createdAt: iso(a.createdAt),
    startedAt: iso(a.startedAt),
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
  return { ...m, sentAt: iso(m.sentAt)!, readAt: iso(m.readAt) };
}

/**
 * What the container and the Worker could not keep, by kind and cause (from the
 * container's drop reports and the per-agent event trims). Nothing is dropped silently.
 */
export function dropCounters(ctx: TownContext) {
  const drops: Record<string, Record<string, number>> = {};
  for (const [key, value] of Object.entries(ctx.towns.countersWithPrefix('drops:'))) {
    const [kind, cause] = key.split(':');
    (drops[kind!] ??= {})[cause!] = value;
  }
  return { drops, eventsTrimmed: ctx.towns.counter('trimmed:event') };
}

/**
 * The town read model of `GET /api/towns/:townId`: bounded whatever the town's size (live
 * agents first, then the most recent; the most recently changed beads), with counts by
 * status and whether anything was left out (the paginated listings have it), what was
 * dropped or trimmed, and what retention deleted (`purged`).
 */
export function townView(ctx: TownContext) {
  const town = requireTown(ctx);
  const agentCounts = ctx.agents.countByStatus();
  const beadCounts = ctx.beads.countByStatus();
  const total = (counts: Record<string, number>) => Object.values(counts).reduce((a, b) => a + b, 0);
  return {
    id: town.id,
    name: town.name,
    createdAt: iso(town.createdAt),
    defaultRuntime: town.defaultRuntime,
    rigs: ctx.towns.rigs().map(publicRig),
    agents: ctx.agents.listForView(VIEW_AGENTS).map((a) => publicAgent(ctx, a)),
    beads: ctx.beads.listForView(VIEW_BEADS).map(publicBead),
    counts: { agents: agentCounts, beads: beadCounts },
    truncated: { agents: total(agentCounts) > VIEW_AGENTS, beads: total(beadCounts) > VIEW_BEADS },
    ...dropCounters(ctx),
    purged: purgedCounters(ctx),
  };
}
