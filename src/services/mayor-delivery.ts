import type { TownContext } from './town-context';

/** One delivery run at a time per town, so concurrent messages reach the mayor once each and in order. */
const running = new WeakMap<TownContext, Promise<void>>();

/**
 * Delivers the user's messages waiting for the mayor, oldest first, each marked delivered
 * once the control server took it. Stops at the first refusal: what is left stays pending
 * for the next start, message or alarm.
 */
export function deliverPendingMessages(ctx: TownContext, mayorId: string): Promise<void> {
  const previous = running.get(ctx) ?? Promise.resolve();
  const next = previous.then(() => deliver(ctx, mayorId));
  running.set(ctx, next.catch(() => {}));
  return next;
}

async function deliver(ctx: TownContext, mayorId: string): Promise<void> {
  for (;;) {
    const mayor = ctx.agents.get(mayorId);
    if (!mayor || (mayor.status !== 'working' && mayor.status !== 'idle')) return;
    const pending = ctx.conversation.pending(20);
    if (pending.length === 0) return;
    for (const message of pending) {
      const result = await ctx.control.message(mayorId, message.text);
      if (result.status < 200 || result.status >= 300) return;
      ctx.conversation.markDelivered(message.id, mayorId, ctx.now());
    }
  }
}
