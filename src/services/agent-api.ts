import { normalizeEvent } from '../../container/src/domain/event-shape';
import { isLive } from '../domain/refresh-policy';
import { agentTokenGranted, type AgentClaims } from '../domain/tokens';
import { takeFromWindow } from '../domain/rate-limit';
import { AppError } from '../errors';
import type { AgentRow } from '../storage/agent-store';
import { releaseBead } from './dispatcher';
import type { TownContext } from './town-context';
import { publicBead } from './town-view';

/**
 * The revocation check behind every agent route (see `agentTokenGranted`). Signature and
 * expiry were checked by the middleware. A refused token says whether the agent has ended
 * (`agentEnded`: nothing it sends will ever be accepted) or was started again under a newer
 * generation (a fresh token is on its way to the container).
 */
export function authorizeAgent(ctx: TownContext, claims: AgentClaims): AgentRow {
  const agent = ctx.agents.get(claims.agentId);
  if (!agent || !agentTokenGranted(claims, agent)) {
    const ended = !agent || !isLive(agent.status);
    throw new AppError('token_revoked', ended ? 'token revoked: the agent has ended' : 'token revoked: the agent runs under a newer token', { extra: { agentEnded: ended } });
  }
  return agent;
}

/** Records a heartbeat. */
export function heartbeat(ctx: TownContext, claims: AgentClaims, body: { status?: 'working' | 'idle'; detail?: string }) {
  const agent = authorizeAgent(ctx, claims);
  const now = ctx.now();
  ctx.agents.recordHeartbeat(agent.id, body.status ?? 'working', body.detail ?? null, now);
  return { ok: true, agentId: agent.id, status: ctx.agents.get(agent.id)!.status, at: new Date(now).toISOString() };
}

/** The answer for one event of a batch. */
export interface EventResult {
  id: string | null;
  status: 'stored' | 'duplicate' | 'refused';
  error?: { code: string; message: string };
}

/**
 * Stores a batch of events, answering per event so one bad event is refused alone. Each
 * needs an `id` (1–200 chars; storage is idempotent by it); an event whose `type` is not a
 * short string is kept as `output` (its type under `originalType`) rather than refused.
 * The mayor's `reply` events also join the conversation. An agent's events are bounded by
 * bytes: the oldest are trimmed, and the trim is counted and announced.
 */
export function storeEvents(ctx: TownContext, claims: AgentClaims, events: readonly unknown[]) {
  const agent = authorizeAgent(ctx, claims);
  const now = ctx.now();
  const results: EventResult[] = [];
  const types = new Set<string>();
  let stored = 0;
  let bytes = 0;
  ctx.transaction(() => {
    for (const raw of events) {
      const event = normalizeEvent(raw);
      if ('refused' in event) {
        results.push({ id: event.id, status: 'refused', error: event.refused });
        continue;
      }
      if (!ctx.events.addAgentEvent(agent.id, event, now)) {
        results.push({ id: event.id, status: 'duplicate' });
        continue;
      }
      results.push({ id: event.id, status: 'stored' });
      stored++;
      bytes += event.bytes;
      types.add(event.type);
      if (agent.role === 'mayor' && event.type === 'reply' && typeof event.value.text === 'string' && event.value.text.trim()) {
        if (ctx.conversation.addReply(agent.id, event.id, event.value.text, now)) ctx.emit('mayor.reply', { agentId: agent.id, eventId: event.id, length: event.value.text.length });
      }
    }
    ctx.agents.addEvents(agent.id, stored, bytes, 0);
    const total = agent.eventsBytes + bytes;
    if (total > ctx.config.quotas.eventBytesPerAgent) {
      const trimmed = ctx.events.trimAgentEvents(agent.id, total, ctx.config.quotas.eventBytesPerAgent);
      if (trimmed.events > 0) {
        ctx.agents.addEvents(agent.id, 0, -trimmed.bytes, trimmed.events);
        ctx.towns.addToCounter('trimmed:event', trimmed.events);
        ctx.emit('events.trimmed', { agentId: agent.id, events: trimmed.events, bytes: trimmed.bytes, limitBytes: ctx.config.quotas.eventBytesPerAgent });
        console.warn(JSON.stringify({ msg: 'oldest agent events trimmed (MAX_EVENT_BYTES_PER_AGENT)', agentId: agent.id, events: trimmed.events, bytes: trimmed.bytes }));
      }
    }
  });
  if (stored > 0) ctx.emit('agent.events', { agentId: agent.id, count: stored, types: [...types].slice(0, 10) });
  const refused = results.filter((r) => r.status === 'refused').length;
  return { results, accepted: stored, duplicates: results.length - stored - refused, refused };
}

/**
 * The completion report of an agent process. Its tokens are revoked at once (the
 * generation moves on), its bead goes back unless it finished it. Idempotent.
 */
export async function completed(ctx: TownContext, claims: AgentClaims, body: { status: 'completed' | 'failed'; summary?: string }) {
  const agent = authorizeAgent(ctx, claims);
  const status = body.status === 'completed' ? 'exited' : 'failed';
  const ended = ctx.transaction(() => {
    if (!ctx.agents.end(agent.id, status, ctx.now(), body.summary ?? null, status === 'failed' ? 'the agent reported failure' : null)) return false;
    releaseBead(ctx, agent);
    return true;
  });
  if (!ended) return { ok: true, agentId: agent.id, status: agent.status, duplicate: true };
  ctx.emit('agent.completed', { agentId: agent.id, role: agent.role, status });
  await ctx.rearm();
  return { ok: true, agentId: agent.id, status, duplicate: false };
}

/** The refinery's review outcome for a finished bead (the callback route). */
export function reviewComplete(ctx: TownContext, claims: AgentClaims, body: { beadId: string; outcome: 'merged' | 'rejected' }) {
  return reviewOutcome(ctx, authorizeAgent(ctx, claims), body);
}

/** A refinery's review of a done bead: merged closes it, rejected opens it again. Idempotent. */
export function reviewOutcome(ctx: TownContext, agent: AgentRow, body: { beadId: string; outcome: 'merged' | 'rejected'; summary?: string }) {
  if (agent.role !== 'refinery') throw new AppError('forbidden', 'only a refinery reports reviews');
  requireRunning(agent);
  const bead = ctx.beads.get(body.beadId);
  if (!bead) throw new AppError('not_found', `bead ${body.beadId} not found`);
  const target = body.outcome === 'merged' ? 'closed' : 'open';
  if (bead.status === target) return { bead: publicBead(bead), duplicate: true };
  if (!ctx.beads.transition(bead.id, { status: 'done' }, { status: target, assignee: target === 'open' ? null : bead.assignee, summary: body.summary ?? null }, ctx.now())) {
    throw new AppError('conflict', `bead ${bead.id} is ${bead.status}, not done`);
  }
  ctx.emit('bead.updated', { beadId: bead.id, status: target, reviewedBy: agent.id, outcome: body.outcome });
  return { bead: publicBead(ctx.beads.get(bead.id)!), duplicate: false };
}

/** Tools that change the town need an agent that is still live. */
export function requireRunning(agent: AgentRow): void {
  if (!isLive(agent.status)) throw new AppError('token_revoked', 'the agent has ended', { extra: { agentEnded: true } });
}

/** One more tool call of an agent in the current second (stored window): 429 past the per-agent rate. */
export function takeToolCall(ctx: TownContext, agent: AgentRow): void {
  const limit = ctx.config.quotas.toolCallsPerSecond;
  const { allowed, next } = takeFromWindow({ windowStart: agent.toolWindowStart, count: agent.toolWindowCount }, ctx.now(), limit, 1_000);
  ctx.agents.setToolWindow(agent.id, next.windowStart, next.count);
  if (!allowed) throw new AppError('rate_limited', `an agent makes at most ${limit} tool calls a second (TOOL_CALLS_PER_SECOND)`, { retryAfter: 1 });
}
