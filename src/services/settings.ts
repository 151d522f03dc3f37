import type { TownContext } from './town-context';

/** The town's settings as users see them: the default runtime and the NAMES of the agents' environment (values are write-only). */
export function settingsView(ctx: TownContext) {
  const town = ctx.towns.get()!;
  return { runtime: town.defaultRuntime, agentEnvNames: ctx.towns.agentEnvNames() };
}

/**
 * Updates the default runtime and the agents' environment (a `null` value removes a
 * name). Values reach an agent only in its own environment at start; they are never
 * returned, logged or announced: the event names the variables only.
 */
export function updateSettings(ctx: TownContext, input: { runtime?: string; agentEnv?: Record<string, string | null> }) {
  ctx.transaction(() => {
    if (input.runtime) ctx.towns.setDefaultRuntime(input.runtime);
    if (input.agentEnv) ctx.towns.updateAgentEnv(input.agentEnv);
  });
  ctx.emit('settings.updated', { runtime: input.runtime ?? null, agentEnvNames: Object.keys(input.agentEnv ?? {}) });
  return settingsView(ctx);
}
