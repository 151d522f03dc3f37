import { judgeHeldToken } from '../domain/held-token';
import { dueHorizon, retryAt } from '../domain/refresh-policy';
import type { MintedToken } from '../domain/tokens';
import type { AgentRow } from '../storage/agent-store';
import { mintFor, periodMs, recordDelivered } from './agent-tokens';
import type { TokenPushResult } from './control-client';
import { restartOrFail } from './dispatcher';
import type { TownContext } from './town-context';

/** What happened to one agent in a refresh pass. */
export interface RefreshOutcome {
  agentId: string;
  result: 'refreshed' | 'retry_scheduled' | 'restarting' | 'failed' | 'finished' | 'superseded';
  status: number;
  tokenExpiresAt?: string;
}

/** Summary of one pass. */
export interface RefreshPassReport {
  refreshed: number;
  failed: number;
  /** Agents the container no longer had: scheduled to start again (or failed at the restart cap). */
  restarted: number;
  subrequests: number;
  results: RefreshOutcome[];
}

interface Minted {
  agent: AgentRow;
  token: MintedToken;
}

/**
 * One refresh pass: re-mints every due running agent (all running agents when `force`)
 * and delivers the tokens in one batched request. Agents still `starting` are left to
 * their start (a push could only find them missing). The container answers per agent:
 *  - 200: delivered;
 *  - 409: it holds a token at least as new: delivered if it is one of ours, otherwise
 *    (a token the TownDO did not mint) the agent moves to a new generation, whose token
 *    is pushed at once and supersedes it;
 *  - 404: the container lost the agent: it is started again (backoff, restart cap);
 *  - anything else, or no answer: retried with capped backoff while the old token works.
 * Results are written only for the generation they minted.
 */
export async function refreshPass(ctx: TownContext, options: { force?: boolean } = {}): Promise<RefreshPassReport> {
  const now = ctx.now();
  const due = options.force ? ctx.agents.live().filter((a) => a.status !== 'starting') : ctx.agents.dueForRefresh(dueHorizon(now, periodMs(ctx)));
  const report: RefreshPassReport = { refreshed: 0, failed: 0, restarted: 0, subrequests: 0, results: [] };
  if (due.length === 0) return report;
  const requestsBefore = ctx.control.requests;
  for (const outcome of await refreshAgents(ctx, due)) record(report, outcome);
  report.subrequests = ctx.control.requests - requestsBefore;
  ctx.emit('tokens.refreshed', { refreshed: report.refreshed, failed: report.failed, restarted: report.restarted, subrequests: report.subrequests });
  return report;
}

/**
 * Mints and pushes fresh tokens for `agents` (one batched request; a second one for agents
 * whose container held a token the TownDO did not mint) and applies the answers.
 */
export async function refreshAgents(ctx: TownContext, agents: AgentRow[]): Promise<RefreshOutcome[]> {
  const outcomes: RefreshOutcome[] = [];
  const superseded: AgentRow[] = [];
  for (const { entry, result } of await push(ctx, agents)) {
    const outcome = await settle(ctx, entry, result, superseded);
    if (outcome) outcomes.push(outcome);
  }
  if (superseded.length > 0) {
    for (const { entry, result } of await push(ctx, superseded)) {
      const outcome = await settle(ctx, entry, result, []);
      if (outcome) outcomes.push(outcome);
    }
  }
  return outcomes;
}

async function push(ctx: TownContext, agents: AgentRow[]): Promise<Array<{ entry: Minted; result: TokenPushResult }>> {
  const minted = new Map<string, Minted>();
  for (const agent of agents) minted.set(agent.id, { agent, token: await mintFor(ctx, agent) });
  const results = await ctx.control.refreshTokens([...minted.values()].map((m) => ({ agentId: m.agent.id, token: m.token.token })));
  return results.flatMap((result) => {
    const entry = minted.get(result.agentId);
    return entry ? [{ entry, result }] : [];
  });
}

/** Applies one agent's push result; agents whose container holds a foreign token go into `superseded`. */
async function settle(ctx: TownContext, { agent, token }: Minted, result: TokenPushResult, superseded: AgentRow[]): Promise<RefreshOutcome | null> {
  const base = { agentId: agent.id, status: result.status };
  if (result.status === 200) {
    if (!recordDelivered(ctx, agent.id, agent.tokenGen, token, 'refresh')) return null;
    return { ...base, result: 'refreshed', tokenExpiresAt: new Date(token.expiresAt).toISOString() };
  }
  if (result.status === 409) {
    const current = ctx.agents.get(agent.id) ?? agent;
    const verdict = judgeHeldToken(result.held, current, ctx.config.agentTokenTtlSeconds);
    if (verdict.kind === 'ours') {
      if (!recordDelivered(ctx, agent.id, agent.tokenGen, { issuedAt: token.issuedAt, expiresAt: verdict.expiresAt }, 'refresh')) return null;
      return { ...base, result: 'refreshed', tokenExpiresAt: new Date(verdict.expiresAt).toISOString() };
    }
    if (verdict.kind === 'foreign' && ctx.agents.jumpGeneration(agent.id, agent.tokenGen, verdict.nextGen, ctx.now())) {
      ctx.emit('agent.token.superseded', { agentId: agent.id, gen: verdict.nextGen });
      superseded.push(ctx.agents.get(agent.id)!);
      return { ...base, result: 'superseded' };
    }
  }
  if (result.status === 404) {
    const current = ctx.agents.get(agent.id);
    if (!current || current.tokenGen !== agent.tokenGen || current.status === 'starting') return null;
    const outcome = await restartOrFail(ctx, current, 'the container no longer had it');
    return outcome === 'stale' ? null : { ...base, result: outcome };
  }
  ctx.agents.recordRefreshFailure(agent.id, agent.tokenGen, retryAt(ctx.now(), agent.refreshFailures + 1, agent.tokenExpiresAt, periodMs(ctx), ctx.random()));
  return { ...base, result: 'retry_scheduled' };
}

function record(report: RefreshPassReport, outcome: RefreshOutcome): void {
  report.results.push(outcome);
  if (outcome.result === 'refreshed') report.refreshed++;
  else if (outcome.result === 'restarting') report.restarted++;
  else if (outcome.result === 'retry_scheduled' || outcome.result === 'failed') report.failed++;
}
