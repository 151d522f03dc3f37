import { isLive } from '../domain/refresh-policy';
import { mintFor, recordDelivered } from './agent-tokens';
import { expectOk } from './control-client';
import { dispatch, revive } from './dispatcher';
import type { TownContext } from './town-context';

/**
 * Delivers a user's message to the mayor. A live mayor first gets a fresh token, pushed
 * and acknowledged before the message goes out; a dead or missing mayor is started with
 * a fresh token. Either way the mayor never reads a message holding a stale credential.
 */
export async function sendMayorMessage(ctx: TownContext, text: string) {
  let mayor = ctx.agents.byRole('mayor');
  if (!mayor) {
    const id = `mayor-${crypto.randomUUID()}`;
    ctx.agents.insert({ id, rigId: null, role: 'mayor', beadId: null, command: null }, ctx.now());
    mayor = await dispatch(ctx, id);
  } else if (!isLive(mayor.status)) {
    mayor = await revive(ctx, mayor.id);
  } else {
    const minted = await mintFor(ctx, mayor);
    const push = await ctx.control.refreshToken(mayor.id, minted.token);
    if (push.status === 200 || push.status === 409) {
      recordDelivered(ctx, mayor.id, minted.expiresAt);
      mayor = ctx.agents.get(mayor.id)!;
    } else if (push.status === 404) {
      mayor = await revive(ctx, mayor.id, { freshContainer: true });
    } else {
      expectOk({ status: push.status, body: null }, 'refreshing the mayor token');
    }
  }
  expectOk(await ctx.control.message(mayor.id, text), 'delivering the message');
  ctx.emit('mayor.message', { agentId: mayor.id, length: text.length });
  return { agentId: mayor.id, delivered: true, tokenExpiresAt: new Date(mayor.tokenExpiresAt!).toISOString() };
}
