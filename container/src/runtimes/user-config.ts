/**
 * The runtimes' extra configuration a user sets in the town's `agentEnv`: the only GASTOWN_*
 * names a town may set. One definition for both sides: the Worker checks a value when the
 * settings are saved (a bad one is a 400), and the runtime checks it again when it writes
 * the CLI's files (a bad one that still arrives ends the agent with a `bad_config` event).
 * Imports nothing: the Worker bundles this file.
 */

/** Names of the town's `agentEnv` that start with GASTOWN_ and are still the user's to set. */
export const RUNTIME_CONFIG_ENV = ['GASTOWN_CODEX_CONFIG', 'GASTOWN_OPENCODE_CONFIG'] as const;
export type RuntimeConfigName = (typeof RUNTIME_CONFIG_ENV)[number];

/** True for a name of RUNTIME_CONFIG_ENV. */
export function isRuntimeConfigName(name: string): name is RuntimeConfigName {
  return (RUNTIME_CONFIG_ENV as readonly string[]).includes(name);
}

/**
 * Why `value` cannot be used as `name`, or null when it can: Codex's TOML must be some
 * text (Codex parses it itself), opencode's must be a JSON object. The answer names the
 * variable and never quotes the value: settings values are write-only, and a JSON parse
 * error message would echo part of it.
 */
export function runtimeConfigProblem(name: RuntimeConfigName, value: string): string | null {
  if (!value.trim()) return `${name} is empty`;
  if (name === 'GASTOWN_OPENCODE_CONFIG') {
    let parsed: unknown;
    try {
      parsed = JSON.parse(value);
    } catch {
      return `${name} is not valid JSON`;
    }
    if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) return `${name} must be a JSON object`;
  }
  return null;
}

/** A runtime configuration value the runtime cannot use; the message names it, never its value. */
export class RuntimeConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RuntimeConfigError';
  }
}

/** `env[name]` when set and usable, undefined when unset; throws RuntimeConfigError otherwise. */
export function runtimeConfigValue(env: Readonly<Record<string, string | undefined>>, name: RuntimeConfigName): string | undefined {
  const value = env[name];
  if (value === undefined) return undefined;
  const problem = runtimeConfigProblem(name, value);
  if (problem) throw new RuntimeConfigError(problem);
  return value;
}
