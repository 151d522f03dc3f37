import { AppError } from '../errors';
import type { AgentRow } from '../storage/agent-store';
import type { ToolArgs, ToolName } from '../routes/schemas';
import { reviewOutcome } from './agent-api';
import { dispatch, ensureRefinery } from './dispatcher';
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
    const rigId = args.rigId ?? agent.rigId ?? defaultRigId(ctx);
    if (!ctx.towns.rig(rigId)) throw new AppError('not_found', `rig ${rigId} not found`);
    const bead = ctx.beads.create({ id: `bead-${crypto.randomUUID()}`, rigId, title: args.title, body: args.body ?? null, createdBy: agent.id }, ctx.now());
    ctx.emit('bead.created', { beadId: bead.id, rigId, title: bead.title, createdBy: agent.id });
    return { bead: publicBead(bead) };
  },

  gt_sling: async (ctx, agent, args) => {
    if (agent.role !== 'mayor') throw new AppError('forbidden', 'only the mayor slings beads');
    const bead = ctx.beads.get(args.beadId);
    if (!bead) throw new AppError('not_found', `bead ${args.beadId} not found`);
    if (bead.status !== 'open') throw new AppError('conflict', `bead ${bead.id} is ${bead.status}`);
    const polecatId = `polecat-${crypto.randomUUID()}`;
    ctx.beads.update(bead.id, { status: 'assigned', assignee: polecatId }, ctx.now());
    ctx.agents.insert({ id: polecatId, rigId: args.rigId ?? bead.rigId, role: 'polecat', beadId: bead.id, command: null }, ctx.now());
    ctx.emit('bead.updated', { beadId: bead.id, status: 'assigned', assignee: polecatId });
    await dispatch(ctx, polecatId);
    return { bead: publicBead(ctx.beads.get(bead.id)!), agentId: polecatId };
  },

  gt_done: async (ctx, agent, args) => {
    const beadId = args.beadId ?? agent.beadId;
    if (!beadId) throw new AppError('bad_request', 'no bead to finish');
    const bead = ctx.beads.get(beadId);
    if (!bead) throw new AppError('not_found', `bead ${beadId} not found`);
    if (bead.assignee !== agent.id) throw new AppError('forbidden', `bead ${beadId} is not assigned to ${agent.id}`);
    if (bead.status === 'done' || bead.status === 'closed') return { bead: publicBead(bead), duplicate: true };
    const done = ctx.beads.update(bead.id, { status: 'done', summary: args.summary ?? null }, ctx.now());
    ctx.emit('bead.updated', { beadId: bead.id, status: 'done', by: agent.id });
    const refinery = await ensureRefinery(ctx, bead.rigId);
    sendMail(ctx, { from: agent.id, to: refinery.id, subject: 'review', body: `Please review ${bead.title}`, beadId: bead.id });
    return { bead: publicBead(done) };
  },

  gt_mail_send: (ctx, agent, args) => {
    const to = resolveRecipient(ctx, args.to);
    const mailId = sendMail(ctx, { from: agent.id, to, subject: args.subject ?? null, body: args.body, beadId: args.beadId ?? null });
    return { mailId, to };
  },

  gt_mail_check: (ctx, agent) => ({ mail: ctx.mail.takeUnread(agent.id, ctx.now()).map(publicMail) }),

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
  const rig = ctx.towns.rigs()[0] ?? ctx.towns.createRig({ id: `rig-${crypto.randomUUID()}`, name: 'default', gitUrl: null }, ctx.now());
  return rig.id;
}

/** An agent id, or a role name meaning that role's live agent. */
function resolveRecipient(ctx: TownContext, to: string): string {
  if (to === 'mayor' || to === 'refinery' || to === 'polecat') {
    const agent = ctx.agents.liveByRole(to)[0] ?? (to === 'mayor' ? ctx.agents.byRole('mayor') : null);
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
