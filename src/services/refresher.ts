import { dueHorizon, retryAt, stallCheckAt } from '../domain/refresh-policy';
import type { AgentRow } from '../storage/agent-store';
import { mintFor, periodMs, recordDelivered } from './agent-tokens';
import { revive } from './dispatcher';
import type { TownContext } from './town-context';

/** What happened to one agent in a refresh pass. */
export interface RefreshOutcome {
  agentId: string;
  result: 'refreshed' | 'retry_scheduled' | 'restarted' | 'restart_failed';
  status: number;
  tokenExpiresAt?: string;
}

/** Summary of one pass. */
export interface RefreshPassReport {
  refreshed: number;
  failed: number;
  restarted: number;
  /** Agents pushed early because they fell silent (a stall check): those the container lost are restarted. */
  stallChecks: number;
  subrequests: number;
  results: RefreshOutcome[];
}

/**
 * One refresh pass: re-mints every due live agent (all live agents when `force`), and
 * delivers the tokens in one batched request. The container answers per agent:
 *  - 200, or 409 (it already holds a token at least as new): delivered;
 *  - 404: the container lost the agent (it restarted): the agent is started again;
 *  - anything else or no answer: retried with capped backoff while the old token works.
 * A live agent silent for the stall window is due too (a stall check): the push tells
 * whether the container still has it, so agents a restarted container lost come back
 * within a stall window, not at their next refresh. A silent agent the container still
 * holds is checked again one stall window later.
 */
export async function refreshPass(ctx: TownContext, options: { force?: boolean } = {}): Promise<RefreshPassReport> {
  const now = ctx.now();
  const due = options.force ? ctx.agents.live() : ctx.agents.dueForRefresh(dueHorizon(now, periodMs(ctx)), now);
  const report: RefreshPassReport = { refreshed: 0, failed: 0, restarted: 0, stallChecks: 0, subrequests: 0, results: [] };
  if (due.length === 0) return report;
  for (const agent of due) {
    if (agent.stallCheckAt === null || agent.stallCheckAt > now) continue;
    report.stallChecks++;
    ctx.agents.setStallCheck(agent.id, stallCheckAt(now, ctx.config.stallAfterSeconds));
  }

  const requestsBefore = ctx.control.requests;
  const minted = new Map<string, { agent: AgentRow; expiresAt: number; token: string }>();
  for (const agent of due) {
    const m = await mintFor(ctx, agent);
    minted.set(agent.id, { agent, expiresAt: m.expiresAt, token: m.token });
  }
  const pushed = await ctx.control.refreshTokens([...minted.values()].map((m) => ({ agentId: m.agent.id, token: m.token })));

  const lost: AgentRow[] = [];
  for (const push of pushed) {
    const entry = minted.get(push.agentId);
    if (!entry) continue;
    if (push.status === 200 || push.status === 409) {
      recordDelivered(ctx, push.agentId, entry.expiresAt);
      report.refreshed++;
      report.results.push({ agentId: push.agentId, result: 'refreshed', status: push.status, tokenExpiresAt: new Date(entry.expiresAt).toISOString() });
    } else if (push.status === 404) {
      lost.push(entry.agent);
    } else {
      const failures = entry.agent.refreshFailures + 1;
      ctx.agents.recordRefreshFailure(push.agentId, retryAt(ctx.now(), failures, entry.agent.tokenExpiresAt, periodMs(ctx), ctx.random()));
      report.failed++;
      report.results.push({ agentId: push.agentId, result: 'retry_scheduled', status: push.status });
    }
  }

  // The container forgot these agents: it restarted. Start them again, handing it a new credential once.
  let first = true;
  for (const agent of lost) {
    try {
      const current = ctx.agents.get(agent.id);
      if (!current || current.tokenGen !== agent.tokenGen) continue;
      if (finishedWork(ctx, current)) {
        ctx.agents.end(agent.id, 'exited', ctx.now(), 'finished; no longer in the container', false);
        continue;
      }
      const revived = await revive(ctx, agent.id, { freshContainer: first });
      first = false;
      report.restarted++;
      report.results.push({ agentId: agent.id, result: 'restarted', status: 404, tokenExpiresAt: new Date(revived.tokenExpiresAt!).toISOString() });
    } catch {
      report.failed++;
      report.results.push({ agentId: agent.id, result: 'restart_failed', status: 404 });
    }
  }
  report.subrequests = ctx.control.requests - requestsBefore;
  ctx.emit('tokens.refreshed', { refreshed: report.refreshed, failed: report.failed, restarted: report.restarted, stallChecks: report.stallChecks, subrequests: report.subrequests });
  return report;
}

/** A polecat whose bead is no longer assigned to it has finished: it is not restarted. */
function finishedWork(ctx: TownContext, agent: AgentRow): boolean {
  if (agent.role !== 'polecat' || !agent.beadId) return false;
  const bead = ctx.beads.get(agent.beadId);
  return !bead || bead.assignee !== agent.id || bead.status !== 'assigned';
}
