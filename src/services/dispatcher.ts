import { isLive, nextRefreshAt, stallCheckAt } from '../domain/refresh-policy';
import { sha256Hex } from '../domain/signing-keys';
import { AppError } from '../errors';
import type { AgentRow, Role } from '../storage/agent-store';
import { mintFor, periodMs } from './agent-tokens';
import { expectOk } from './control-client';
import { requireTown, type TownContext } from './town-context';

/** How to dispatch. `freshContainer`: the container may have restarted, so hand it a new credential. */
export interface DispatchOptions {
  freshContainer?: boolean;
}

/**
 * Single-flight credential rotation per TownDO instance: concurrent dispatches that
 * find the container fresh share one new credential.
 */
const rotations = new WeakMap<TownContext, Promise<string>>();

/**
 * Makes a new random container credential, stores only its hash, and returns it for the
 * start request that hands it to the container.
 */
async function rotateCredential(ctx: TownContext): Promise<string> {
  const inFlight = rotations.get(ctx);
  if (inFlight) return inFlight;
  const rotation = (async () => {
    const bytes = crypto.getRandomValues(new Uint8Array(32));
    const credential = btoa(String.fromCharCode(...bytes)).replace(/[+/=]/g, (c) => ({ '+': '-', '/': '_', '=': '' })[c]!);
    ctx.towns.setCredentialHash(await sha256Hex(credential));
    return credential;
  })();
  rotations.set(ctx, rotation);
  try {
    return await rotation;
  } finally {
    queueMicrotask(() => rotations.delete(ctx));
  }
}

/** Creates an agent row and starts it in the container. */
export async function createAndDispatch(
  ctx: TownContext,
  input: { role: Role; rigId: string | null; beadId: string | null; command: string[] | null },
): Promise<AgentRow> {
  const id = `${input.role}-${crypto.randomUUID()}`;
  ctx.agents.insert({ id, ...input }, ctx.now());
  return dispatch(ctx, id);
}

/**
 * Starts (or restarts) an agent in the container with a freshly minted token. When no
 * other agent is live, the container may be new, so it gets a new credential.
 */
export async function dispatch(ctx: TownContext, agentId: string, options: DispatchOptions = {}): Promise<AgentRow> {
  const town = requireTown(ctx);
  const agent = ctx.agents.get(agentId);
  if (!agent) throw new AppError('not_found', `agent ${agentId} not found`);
  const others = ctx.agents.live().filter((a) => a.id !== agentId);
  const fresh = options.freshContainer || !town.containerCredentialHash || others.length === 0;
  const credential = fresh ? await rotateCredential(ctx) : undefined;
  const minted = await mintFor(ctx, agent);
  const result = await ctx.control.start({
    agentId: agent.id,
    townId: town.id,
    rigId: agent.rigId,
    role: agent.role,
    token: minted.token,
    apiUrl: town.apiUrl ?? '',
    command: agent.command ? (JSON.parse(agent.command) as string[]) : undefined,
    containerCredential: credential,
  });
  if (result.status < 200 || result.status >= 300) {
    ctx.agents.end(agent.id, 'failed', ctx.now(), 'the container did not start the agent', true);
    ctx.emit('agent.failed', { agentId: agent.id, role: agent.role, reason: 'start_failed' });
    await ctx.rearm();
    expectOk(result, 'starting the agent');
  }
  const after = ctx.agents.get(agent.id)!;
  if (after.status === 'stopped') {
    await ctx.control.stop(agent.id);
    throw new AppError('conflict', `agent ${agent.id} was stopped while starting`);
  }
  const now = ctx.now();
  ctx.agents.markStarted(agent.id, minted.expiresAt, now, nextRefreshAt(now, periodMs(ctx), ctx.random()), stallCheckAt(now, ctx.config.stallAfterSeconds));
  ctx.emit('agent.started', { agentId: agent.id, role: agent.role, rigId: agent.rigId, beadId: agent.beadId });
  await ctx.rearm();
  return ctx.agents.get(agent.id)!;
}

/** Restarts a dead agent under a new token generation (the mayor is persistent). */
export async function revive(ctx: TownContext, agentId: string, options: DispatchOptions = {}): Promise<AgentRow> {
  ctx.agents.revive(agentId);
  return dispatch(ctx, agentId, options);
}

/** Stops an agent: its tokens are revoked at once (generation bump), then the container stops it. */
export async function stopAgent(ctx: TownContext, agentId: string): Promise<AgentRow> {
  const agent = ctx.agents.get(agentId);
  if (!agent) throw new AppError('not_found', `agent ${agentId} not found`);
  const wasLive = isLive(agent.status);
  ctx.agents.end(agentId, 'stopped', ctx.now(), null, true);
  releaseBead(ctx, agent);
  ctx.emit('agent.stopped', { agentId, role: agent.role });
  await ctx.rearm();
  if (wasLive) {
    const result = await ctx.control.stop(agentId);
    if (result.status !== 200 && result.status !== 404) {
      console.warn(JSON.stringify({ msg: 'control server did not confirm stop; tokens are revoked anyway', agentId, status: result.status }));
    }
  }
  return ctx.agents.get(agentId)!;
}

/** A polecat that ends without finishing its bead gives it back. */
export function releaseBead(ctx: TownContext, agent: AgentRow): void {
  if (agent.role !== 'polecat' || !agent.beadId) return;
  const bead = ctx.beads.get(agent.beadId);
  if (bead?.status === 'assigned' && bead.assignee === agent.id) {
    ctx.beads.update(bead.id, { status: 'open', assignee: null }, ctx.now());
    ctx.emit('bead.updated', { beadId: bead.id, status: 'open' });
  }
}

/** The rig's live refinery, dispatched when there is none. */
export async function ensureRefinery(ctx: TownContext, rigId: string | null): Promise<AgentRow> {
  const live = ctx.agents.liveByRole('refinery', rigId);
  if (live[0]) return live[0];
  return createAndDispatch(ctx, { role: 'refinery', rigId, beadId: null, command: null });
}
