import { isLive, restartDelayMs } from '../domain/refresh-policy';
import { mintContainerCredential } from '../domain/tokens';
import { AppError } from '../errors';
import type { AgentRow, Role } from '../storage/agent-store';
import { mintFor, nextRefreshFromNow } from './agent-tokens';
import { expectOk, succeeded } from './control-client';
import { deliverPendingMessages } from './mayor-delivery';
import { requireTown, type TownContext } from './town-context';

/** What to start. `runtime` null: an explicit `command` is run instead. */
export interface NewAgent {
  role: Role;
  rigId: string | null;
  beadId: string | null;
  command: string[] | null;
  runtime: string | null;
}

/** How a start that fails is handled: the agent fails at once, or is restarted with backoff (up to the cap). */
export type OnStartFailure = 'fail' | 'restart';

/**
 * Creates an agent row, assigns its bead (a polecat's), and starts it. All or nothing:
 * a bead that is not open is a 409 before anything is written, and a failed start fails
 * the agent and gives the bead back.
 */
export async function createAndDispatch(ctx: TownContext, input: NewAgent): Promise<AgentRow> {
  const limit = ctx.config.quotas.liveAgentsPerTown;
  if (ctx.agents.countLive() >= limit) throw new AppError('rate_limited', `a town runs at most ${limit} live agents (MAX_LIVE_AGENTS_PER_TOWN)`, { retryAfter: 30 });
  const id = `${input.role}-${crypto.randomUUID()}`;
  ctx.transaction(() => {
    ctx.agents.insert({ id, ...input }, ctx.now());
    if (input.beadId && !ctx.beads.transition(input.beadId, { status: 'open' }, { status: 'assigned', assignee: id }, ctx.now())) {
      throw new AppError('conflict', `bead ${input.beadId} is not open`);
    }
  });
  if (input.beadId) ctx.emit('bead.updated', { beadId: input.beadId, status: 'assigned', assignee: id });
  return startAgent(ctx, id, 'fail');
}

/**
 * Starts an agent that is `starting`, with a freshly minted token of its current
 * generation. The start is bounded by a stored deadline (an evicted TownDO does not leave
 * it `starting` forever). When no other agent runs, the container may be new: it gets a
 * new container credential, whose generation is recorded only once the container took it.
 * On success the agent is `working` and a mayor gets the messages waiting for it; on
 * failure it fails (its bead is released) or, for a restart, is tried again with backoff.
 */
export async function startAgent(ctx: TownContext, agentId: string, onFailure: OnStartFailure): Promise<AgentRow> {
  const town = requireTown(ctx);
  const agent = ctx.agents.get(agentId);
  if (!agent) throw new AppError('not_found', `agent ${agentId} not found`);
  if (agent.status !== 'starting') throw new AppError('conflict', `agent ${agentId} is ${agent.status}`);
  const gen = agent.tokenGen;
  ctx.agents.beginStart(agentId, gen, ctx.now() + ctx.config.startTimeoutSeconds * 1000);
  await ctx.rearm();
  const othersRunning = ctx.agents.live().some((a) => a.id !== agentId && a.status !== 'starting');
  const credentialGen = town.containerCredentialGen + 1;
  const fresh = town.containerCredentialGen === 0 || !othersRunning;
  const credential = fresh ? await mintContainerCredential(await ctx.keys(), town.id, credentialGen, ctx.now()) : undefined;
  const minted = await mintFor(ctx, agent);
  const result = await ctx.control.start({
    agentId,
    townId: town.id,
    rigId: agent.rigId,
    role: agent.role,
    beadId: agent.beadId,
    token: minted.token,
    apiUrl: town.apiUrl ?? '',
    runtime: agent.runtime ?? undefined,
    command: agent.command ? (JSON.parse(agent.command) as string[]) : undefined,
    env: ctx.towns.agentEnv(),
    containerCredential: credential,
  });
  const current = ctx.agents.get(agentId);
  const stillOurs = current !== null && current.status === 'starting' && current.tokenGen === gen;
  if (!succeeded(result)) {
    if (stillOurs) await startFailed(ctx, current, onFailure, `the container did not start it (status ${result.status})`);
    expectOk(result, 'starting the agent');
  }
  if (credential) ctx.towns.setCredentialGen(credentialGen);
  if (!stillOurs) {
    // stopped (or failed) while its start was in flight: the container must not keep it
    if (current && !isLive(current.status)) await ctx.control.stop(agentId);
    throw new AppError('conflict', `agent ${agentId} was ${current?.status ?? 'removed'} while starting`);
  }
  ctx.transaction(() => {
    ctx.agents.markStarted(agentId, gen, minted.expiresAt, ctx.now(), nextRefreshFromNow(ctx));
    ctx.tokenHistory.add({ agentId, gen, kind: 'start', issuedAt: minted.issuedAt, expiresAt: minted.expiresAt });
  });
  ctx.emit('agent.started', { agentId, role: agent.role, rigId: agent.rigId, beadId: agent.beadId, runtime: agent.runtime });
  await ctx.rearm();
  if (agent.role === 'mayor') await deliverPendingMessages(ctx, agentId);
  return ctx.agents.get(agentId)!;
}

/** A start that failed: the agent fails now, or (a restart) is tried again later, up to the cap. */
async function startFailed(ctx: TownContext, agent: AgentRow, onFailure: OnStartFailure, reason: string): Promise<void> {
  if (onFailure === 'restart') await restartOrFail(ctx, agent, reason);
  else failAgent(ctx, agent, reason);
  await ctx.rearm();
}

/** What became of an agent the container does not have; `stale`: it had ended or moved to another generation since the caller read it, and nothing was done. */
export type RestartOutcome = 'restarting' | 'failed' | 'finished' | 'stale';

/**
 * An agent the container does not have (it was lost, or its start never completed): it is
 * started again after a backoff, under a new generation, unless it restarted
 * `maxRestarts` times without running a stall window; then it fails with the reason. A
 * polecat whose bead is no longer its own has finished and just ends. `seen` is the row as
 * the caller read it, possibly before an await: the decision is made on the row as it is
 * now, and only if it is still that live agent of that generation (a stop made meanwhile
 * is never undone).
 */
export async function restartOrFail(ctx: TownContext, seen: AgentRow, reason: string): Promise<RestartOutcome> {
  const agent = ctx.agents.get(seen.id);
  if (!agent || !isLive(agent.status) || agent.tokenGen !== seen.tokenGen) return 'stale';
  if (finishedWork(ctx, agent)) {
    if (ctx.agents.end(agent.id, 'exited', ctx.now(), null, 'finished; no longer in the container')) ctx.emit('agent.exited', { agentId: agent.id, role: agent.role });
    return 'finished';
  }
  if (agent.restartCount >= ctx.config.maxRestarts) {
    failAgent(ctx, agent, `${reason}; restarted ${agent.restartCount} times without running a stall window (MAX_RESTARTS)`);
    return 'failed';
  }
  if (!ctx.agents.revive(agent.id, agent, ctx.now() + restartDelayMs(agent.restartCount), true)) return 'stale';
  ctx.emit('agent.restarting', { agentId: agent.id, role: agent.role, reason, restarts: agent.restartCount + 1 });
  return 'restarting';
}

/** Fails a live agent (tokens revoked) and gives its bead back. */
export function failAgent(ctx: TownContext, agent: AgentRow, reason: string): void {
  const ended = ctx.transaction(() => {
    if (!ctx.agents.end(agent.id, 'failed', ctx.now(), null, reason)) return false;
    releaseBead(ctx, agent);
    return true;
  });
  if (ended) ctx.emit('agent.failed', { agentId: agent.id, role: agent.role, reason });
}

/**
 * Starts a dead agent again under a new generation (the persistent mayor), if it is still
 * as the caller read it: a concurrent revive that came first is a 409.
 */
export async function revive(ctx: TownContext, agent: AgentRow): Promise<AgentRow> {
  if (isLive(agent.status) || !ctx.agents.revive(agent.id, agent, ctx.now(), false)) throw new AppError('conflict', `agent ${agent.id} changed while being started again`);
  return startAgent(ctx, agent.id, 'fail');
}

/**
 * Stops an agent: its tokens are revoked at once (generation bump), its bead goes back,
 * then the container stops it. If the container does not confirm, reconciliation stops it
 * later (the container runs an agent the town says has ended).
 */
export async function stopAgent(ctx: TownContext, agentId: string): Promise<AgentRow> {
  const agent = ctx.agents.get(agentId);
  if (!agent) throw new AppError('not_found', `agent ${agentId} not found`);
  const ended = ctx.transaction(() => {
    if (!ctx.agents.end(agentId, 'stopped', ctx.now(), null, 'stopped by the user')) return false;
    releaseBead(ctx, agent);
    return true;
  });
  if (ended) {
    ctx.emit('agent.stopped', { agentId, role: agent.role });
    await ctx.rearm();
    const result = await ctx.control.stop(agentId);
    if (result.status !== 200 && result.status !== 404) {
      console.warn(JSON.stringify({ msg: 'control server did not confirm stop; reconciliation will stop it', agentId, status: result.status }));
    }
  }
  return ctx.agents.get(agentId)!;
}

/** A polecat that ends without finishing its bead gives it back. */
export function releaseBead(ctx: TownContext, agent: AgentRow): void {
  if (agent.role !== 'polecat' || !agent.beadId) return;
  if (ctx.beads.transition(agent.beadId, { status: 'assigned', assignee: agent.id }, { status: 'open', assignee: null }, ctx.now())) {
    ctx.emit('bead.updated', { beadId: agent.beadId, status: 'open' });
  }
}

/** A polecat whose bead is no longer assigned to it has finished. */
export function finishedWork(ctx: TownContext, agent: AgentRow): boolean {
  if (agent.role !== 'polecat' || !agent.beadId) return false;
  const bead = ctx.beads.get(agent.beadId);
  return !bead || bead.assignee !== agent.id || bead.status !== 'assigned';
}

/** The rig's live refinery, dispatched when there is none. */
export async function ensureRefinery(ctx: TownContext, rigId: string | null): Promise<AgentRow> {
  const live = ctx.agents.liveByRole('refinery', rigId);
  if (live[0]) return live[0];
  const town = requireTown(ctx);
  return createAndDispatch(ctx, { role: 'refinery', rigId, beadId: null, command: null, runtime: town.defaultRuntime });
}
