import { isLive } from '../domain/refresh-policy';
import type { AgentRow } from '../storage/agent-store';
import type { ContainerAgent } from './control-client';
import { restartOrFail, startAgent } from './dispatcher';
import { deliverPendingMessages } from './mayor-delivery';
import { requireTown, type TownContext } from './town-context';

/** Meta key: when the TownDO next compares its live agents with the container's. */
export const NEXT_RECONCILE_AT = 'next_reconcile_at';

/** What the alarm's lifecycle work did. */
export interface LifecycleReport {
  /** Starts whose deadline passed with the container running the agent: taken as started. */
  adopted: number;
  /** (Re)starts made. */
  started: number;
  /** Agents failed (start failures past the restart cap). */
  failed: number;
  /** Set when a reconciliation ran. */
  reconciled?: { stopped: number; lost: number; containerAnswered: boolean };
}

/**
 * Due starts: a start in flight past its deadline (the TownDO was evicted mid-start, or the
 * container hung) is taken as started if the container runs the agent, and otherwise
 * counts as lost (started again with backoff, or failed at the cap); a restart whose
 * backoff has passed is made. Nothing stays `starting` past its deadline.
 */
export async function runDueStarts(ctx: TownContext, report: LifecycleReport): Promise<void> {
  const due = ctx.agents.dueToStart(ctx.now());
  if (due.length === 0) return;
  let container: Map<string, ContainerAgent> | null | undefined;
  for (const agent of due) {
    if (agent.startDeadlineAt !== null) {
      container ??= await containerAgents(ctx);
      const there = container?.get(agent.id);
      if (there && there.status === 'running') {
        adopt(ctx, agent);
        report.adopted++;
      } else if (await restartOrFail(ctx, agent, 'its start did not complete in time') === 'failed') {
        report.failed++;
      }
      continue;
    }
    try {
      await startAgent(ctx, agent.id, 'restart');
      report.started++;
    } catch {
      // the start path recorded the outcome (restart scheduled, or failed at the cap)
      if (!isLive(ctx.agents.get(agent.id)?.status ?? '')) report.failed++;
    }
  }
  for (const agent of due) {
    const now = ctx.agents.get(agent.id);
    if (now?.role === 'mayor' && now.status === 'working') await deliverPendingMessages(ctx, now.id);
  }
}

/**
 * A start whose answer was lost while the container runs the agent: it holds a token of
 * this generation (minted by that start, expiring a lifetime after the latest mint); it
 * is refreshed at once, which settles what it holds.
 */
function adopt(ctx: TownContext, agent: AgentRow): void {
  const issuedAt = (agent.lastMintedIat ?? Math.floor(ctx.now() / 1000)) * 1000;
  const expiresAt = issuedAt + ctx.config.agentTokenTtlSeconds * 1000;
  if (ctx.agents.markStarted(agent.id, agent.tokenGen, expiresAt, ctx.now(), ctx.now())) {
    ctx.emit('agent.started', { agentId: agent.id, role: agent.role, rigId: agent.rigId, beadId: agent.beadId, adopted: true });
  }
}

/**
 * Reconciliation, at least once per stall window while agents are live: the town's live
 * set against the container's `GET /agents`. The container stops what the town says
 * should not run (ended or unknown agents); the town starts again what the container lost
 * (with backoff and a restart cap). Agents whose start completed after the list was asked
 * for are left alone (they may not be in it yet), and so are agents still delivering
 * their last events (`exited` in the container: their completion report comes last).
 * A `recovering` agent has no process (a restarted control server is delivering what its
 * previous incarnation journaled): it is lost, as the refresh push finds it (404), and is
 * started again; the new start supersedes whatever completion that incarnation left.
 */
export async function reconcile(ctx: TownContext, report: LifecycleReport): Promise<void> {
  const askedAt = ctx.now();
  const container = await containerAgents(ctx);
  ctx.towns.setCounter(NEXT_RECONCILE_AT, ctx.now() + ctx.config.stallAfterSeconds * 1000);
  report.reconciled = { stopped: 0, lost: 0, containerAnswered: container !== null };
  if (!container) return;
  for (const entry of container.values()) {
    const row = ctx.agents.get(entry.agentId);
    if (entry.status === 'running' && (!row || !isLive(row.status))) {
      await ctx.control.stop(entry.agentId);
      report.reconciled.stopped++;
      console.warn(JSON.stringify({ msg: 'reconciliation stopped an agent the town does not run', agentId: entry.agentId, status: row?.status ?? 'unknown' }));
    }
  }
  for (const row of ctx.agents.live()) {
    if (row.status === 'starting' || row.startedAt === null || row.startedAt >= askedAt) continue;
    const entry = container.get(row.id);
    if (entry && entry.status !== 'recovering') {
      if (row.restartCount > 0 && askedAt - row.startedAt >= ctx.config.stallAfterSeconds * 1000) ctx.agents.resetRestarts(row.id);
      continue;
    }
    report.reconciled.lost++;
    await restartOrFail(ctx, row, entry ? 'its control server restarted without it' : 'the container no longer has it');
  }
}

/** Whether a reconciliation is due now. */
export function reconcileDue(ctx: TownContext): boolean {
  return ctx.towns.counter(NEXT_RECONCILE_AT) <= ctx.now();
}

/** The container's agents of this town by id; null when it did not answer. */
async function containerAgents(ctx: TownContext): Promise<Map<string, ContainerAgent> | null> {
  const list = await ctx.control.listAgents(requireTown(ctx).id);
  return list ? new Map(list.map((a) => [a.agentId, a])) : null;
}
