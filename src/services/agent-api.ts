import { isLive, stallCheckAt } from '../domain/refresh-policy';
import { agentTokenGranted, type AgentClaims } from '../domain/tokens';
import { AppError } from '../errors';
import type { AgentRow } from '../storage/agent-store';
import type { AgentEventInput } from '../storage/event-store';
import { releaseBead } from './dispatcher';
import type { TownContext } from './town-context';
import { publicBead } from './town-view';

/**
 * The revocation check behind every agent route (see `agentTokenGranted`). Signature and
 * expiry were checked by the middleware.
 */
export function authorizeAgent(ctx: TownContext, claims: AgentClaims): AgentRow {
  const agent = ctx.agents.get(claims.agentId);
  if (!agent || !agentTokenGranted(claims, agent)) {
    throw new AppError('token_revoked', 'token revoked');
  }
  return agent;
}

/** Records a heartbeat. An ended agent's late heartbeat is accepted and ignored. */
export function heartbeat(ctx: TownContext, claims: AgentClaims, body: { status?: 'working' | 'idle'; detail?: string }) {
  const agent = authorizeAgent(ctx, claims);
  const now = ctx.now();
  if (isLive(agent.status)) {
    ctx.agents.recordHeartbeat(agent.id, body.status ?? 'working', body.detail ?? null, now, stallCheckAt(now, ctx.config.stallAfterSeconds));
  }
  return { ok: true, agentId: agent.id, status: ctx.agents.get(agent.id)!.status, at: new Date(now).toISOString() };
}

/** Stores events idempotently by id. */
export function storeEvents(ctx: TownContext, claims: AgentClaims, events: readonly AgentEventInput[]) {
  const agent = authorizeAgent(ctx, claims);
  const added = ctx.events.addAgentEvents(agent.id, events, ctx.now());
  ctx.agents.addEventsStored(agent.id, added);
  if (added > 0) ctx.emit('agent.events', { agentId: agent.id, count: added, types: [...new Set(events.map((e) => e.type))].slice(0, 10) });
  return { accepted: added, duplicates: events.length - added };
}

/** The completion report of an agent process. Idempotent: a repeated report changes nothing. */
export async function completed(ctx: TownContext, claims: AgentClaims, body: { status: 'completed' | 'failed'; summary?: string }) {
  const agent = authorizeAgent(ctx, claims);
  if (!isLive(agent.status)) return { ok: true, agentId: agent.id, status: agent.status, duplicate: true };
  const status = body.status === 'completed' ? 'exited' : 'failed';
  ctx.agents.end(agent.id, status, ctx.now(), body.summary ?? null, false);
  releaseBead(ctx, agent);
  ctx.emit('agent.completed', { agentId: agent.id, role: agent.role, status });
  await ctx.rearm();
  return { ok: true, agentId: agent.id, status, duplicate: false };
}

/** The refinery's review outcome for a finished bead. Idempotent. */
export function reviewComplete(ctx: TownContext, claims: AgentClaims, body: { beadId: string; outcome: 'merged' | 'rejected' }) {
  return reviewOutcome(ctx, authorizeAgent(ctx, claims), body);
}

/** A refinery's review of a done bead: merged closes it, rejected opens it again. */
export function reviewOutcome(ctx: TownContext, agent: AgentRow, body: { beadId: string; outcome: 'merged' | 'rejected' }) {
  if (agent.role !== 'refinery') throw new AppError('forbidden', 'only a refinery reports reviews');
  const bead = ctx.beads.get(body.beadId);
  if (!bead) throw new AppError('not_found', `bead ${body.beadId} not found`);
  const target = body.outcome === 'merged' ? 'closed' : 'open';
  if (bead.status === target) return { bead: publicBead(bead), duplicate: true };
  if (bead.status !== 'done') throw new AppError('conflict', `bead ${bead.id} is ${bead.status}, not done`);
  const updated = ctx.beads.update(bead.id, { status: target, assignee: target === 'open' ? null : bead.assignee }, ctx.now());
  ctx.emit('bead.updated', { beadId: bead.id, status: target, reviewedBy: agent.id, outcome: body.outcome });
  return { bead: publicBead(updated), duplicate: false };
}
