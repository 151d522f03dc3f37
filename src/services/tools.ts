import { AppError } from '../errors';
import type { ToolArgs, ToolName } from '../routes/schemas';
import type { AgentRow } from '../storage/agent-store';
import { reviewOutcome } from './agent-api';
import { createAndDispatch, ensureRefinery } from './dispatcher';
import { requireTown, type TownContext } from './town-context';
import { publicAgent, publicBead, publicMail, publicRig } from './town-view';

type ToolHandler<T extends ToolName> = (ctx: TownContext, agent: AgentRow, args: ToolArgs<T>) => Promise<unknown> | unknown;

/** The tools agents call, by name. Arguments were validated at the edge. */
export const TOOLS: { [T in ToolName]: ToolHandler<T> } = {
  gt_status: (ctx, agent) => ({ agent: publicAgent(ctx, agent), bead: beadOf(ctx, agent) }),

  gt_prime: (ctx, agent) => {
    const town = requireTown(ctx);
    return {
      agent: publicAgent(ctx, agent),
      bead: beadOf(ctx, agent),
      rig: rigOf(ctx, agent),
      town: { id: town.id, name: town.name },
    };
  },

  gt_bead_create: (ctx, agent, args) => {
    const limit = ctx.config.quotas.beadsPerTown;
    if (ctx.beads.count() >= limit) throw new AppError('rate_limited', `a town holds at most ${limit} beads (MAX_BEADS_PER_TOWN)`, { retryAfter: 60 });
    const rigId = args.rigId ?? agent.rigId ?? defaultRigId(ctx);
    if (!ctx.towns.rig(rigId)) throw new AppError('not_found', `rig ${rigId} not found`);
    const bead = ctx.beads.create({ id: `bead-${crypto.randomUUID()}`, rigId, title: args.title, body: args.body ?? null, createdBy: agent.id }, ctx.now());
    ctx.emit('bead.created', { beadId: bead.id, rigId, title: bead.title, createdBy: agent.id });
    return { bead: publicBead(bead) };
  },

  /** A new polecat takes the bead: assigned with the agent row, released if its start fails. */
  gt_sling: async (ctx, agent, args) => {
    if (agent.role !== 'mayor') throw new AppError('forbidden', 'only the mayor slings beads');
    const bead = ctx.beads.get(args.beadId);
    if (!bead) throw new AppError('not_found', `bead ${args.beadId} not found`);
    if (bead.status !== 'open') throw new AppError('conflict', `bead ${bead.id} is ${bead.status}`);
    const rigId = args.rigId ?? bead.rigId;
    if (rigId && !ctx.towns.rig(rigId)) throw new AppError('not_found', `rig ${rigId} not found`);
    const polecat = await createAndDispatch(ctx, { role: 'polecat', rigId, beadId: bead.id, command: null, runtime: requireTown(ctx).defaultRuntime });
    return { bead: publicBead(ctx.beads.get(bead.id)!), agentId: polecat.id };
  },

  /**
   * The bead goes to review: the rig's refinery is made sure of first (a failed start
   * changes nothing, so the call can simply be retried), then the bead is done and the
   * review request mailed, together.
   */
  gt_done: async (ctx, agent, args) => {
    const beadId = args.beadId ?? agent.beadId;
    if (!beadId) throw new AppError('bad_request', 'no bead to finish');
    const bead = ctx.beads.get(beadId);
    if (!bead) throw new AppError('not_found', `bead ${beadId} not found`);
    if (bead.assignee !== agent.id) throw new AppError('forbidden', `bead ${beadId} is not assigned to ${agent.id}`);
    if (bead.status === 'done' || bead.status === 'closed') return { bead: publicBead(bead), duplicate: true };
    const refinery = await ensureRefinery(ctx, bead.rigId);
    const done = ctx.transaction(() => {
      if (!ctx.beads.transition(bead.id, { status: 'assigned', assignee: agent.id }, { status: 'done', summary: args.summary ?? null }, ctx.now())) return false;
      sendMail(ctx, { from: agent.id, to: refinery.id, subject: 'review', body: `Please review ${bead.title}`, beadId: bead.id });
      return true;
    });
    if (!done) throw new AppError('conflict', `bead ${bead.id} changed while finishing it`);
    ctx.emit('bead.updated', { beadId: bead.id, status: 'done', by: agent.id });
    return { bead: publicBead(ctx.beads.get(bead.id)!) };
  },

  gt_mail_send: (ctx, agent, args) => {
    const to = resolveRecipient(ctx, args.to);
    const limit = ctx.config.quotas.unreadMailPerAgent;
    if (ctx.mail.countUnacked(to) >= limit) throw new AppError('rate_limited', `${to} has ${limit} unread mails (MAX_UNREAD_MAIL_PER_AGENT); retry once it has read some`, { retryAfter: 30 });
    const mailId = sendMail(ctx, { from: agent.id, to, subject: args.subject ?? null, body: args.body, beadId: args.beadId ?? null });
    return { mailId, to };
  },

  /** Acknowledges handled mail, then hands out what is unacknowledged (at least once). */
  gt_mail_check: (ctx, agent, args) => {
    const acked = args.ack?.length ? ctx.mail.ack(agent.id, args.ack, ctx.now()) : 0;
    return { acked, mail: ctx.mail.deliver(agent.id, ctx.now(), ctx.config.mailLeaseSeconds * 1000).map(publicMail) };
  },

  gt_review_complete: (ctx, agent, args) => reviewOutcome(ctx, agent, args),
};

function beadOf(ctx: TownContext, agent: AgentRow) {
  const bead = agent.beadId ? ctx.beads.get(agent.beadId) : null;
  return bead && publicBead(bead);
}

function rigOf(ctx: TownContext, agent: AgentRow) {
  const rig = agent.rigId ? ctx.towns.rig(agent.rigId) : null;
  return rig && publicRig(rig);
}

function defaultRigId(ctx: TownContext): string {
  const existing = ctx.towns.rigs()[0];
  if (existing) return existing.id;
  return ctx.towns.createRig({ id: `rig-${crypto.randomUUID()}`, name: 'default', gitUrl: null }, ctx.now()).id;
}

/** An agent id, or a role name meaning that role's live agent. */
function resolveRecipient(ctx: TownContext, to: string): string {
  if (to === 'mayor' || to === 'refinery' || to === 'polecat') {
    const agent = ctx.agents.liveByRole(to)[0] ?? (to === 'mayor' ? ctx.agents.latestOfRole('mayor') : null);
    if (!agent) throw new AppError('not_found', `no ${to} in this town`);
    return agent.id;
  }
  if (!ctx.agents.get(to)) throw new AppError('not_found', `agent ${to} not found`);
  return to;
}

function sendMail(ctx: TownContext, m: { from: string; to: string; subject: string | null; body: string; beadId: string | null }): string {
  const id = `mail-${crypto.randomUUID()}`;
  ctx.mail.send({ id, ...m, sentAt: ctx.now() });
  ctx.emit('mail.sent', { mailId: id, from: m.from, to: m.to, subject: m.subject, beadId: m.beadId });
  return id;
}
