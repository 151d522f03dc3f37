import { isLive } from '../domain/refresh-policy';
import { AppError } from '../errors';
import { createAndDispatch, revive, startAgent } from './dispatcher';
import { deliverPendingMessages } from './mayor-delivery';
import { refreshAgents } from './refresher';
import { requireTown, type TownContext } from './town-context';

/**
 * A user's message to the mayor. It is stored first (the conversation keeps it, and it is
 * delivered at least once, in order). A running mayor gets a fresh token, pushed and
 * acknowledged, before the message goes out; a mayor that is starting gets it when its
 * start completes; a dead or missing mayor is started (with a fresh token) and then gets
 * it. `delivered` says whether the control server took it now.
 */
export async function sendMayorMessage(ctx: TownContext, text: string) {
  const messageId = ctx.conversation.addUserMessage(text, ctx.now());
  ctx.emit('mayor.message', { messageId, length: text.length });
  let mayor = ctx.agents.latestOfRole('mayor');
  if (!mayor) {
    const town = requireTown(ctx);
    mayor = await createAndDispatch(ctx, { role: 'mayor', rigId: null, beadId: null, command: null, runtime: town.defaultRuntime });
  } else if (!isLive(mayor.status)) {
    mayor = await revive(ctx, mayor);
  } else if (mayor.status !== 'starting') {
    mayor = await pushFreshToken(ctx, mayor.id);
    await deliverPendingMessages(ctx, mayor.id);
  }
  const current = ctx.agents.get(mayor.id)!;
  return {
    agentId: mayor.id,
    messageId,
    delivered: ctx.conversation.isDelivered(messageId),
    status: current.status,
    tokenExpiresAt: current.tokenExpiresAt === null ? null : new Date(current.tokenExpiresAt).toISOString(),
  };
}

/**
 * Pushes the running mayor a fresh token before a message (as a refresh, superseding a
 * token the TownDO did not mint). A mayor the container lost is started again at once.
 */
async function pushFreshToken(ctx: TownContext, mayorId: string) {
  const mayor = ctx.agents.get(mayorId)!;
  const outcomes = await refreshAgents(ctx, [mayor]);
  const last = outcomes.at(-1);
  if (last?.result === 'restarting') return startAgent(ctx, mayor.id, 'restart');
  if (last?.result !== 'refreshed') {
    throw new AppError('container_unavailable', `refreshing the mayor's token failed at the control server (status ${last?.status ?? 0}); your message is kept and delivered once it answers`);
  }
  return ctx.agents.get(mayor.id)!;
}
