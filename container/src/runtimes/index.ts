/**
 * The runtimes, and the one call the control server makes to start an agent of any of
 * them: `agentCommand(runtime, nodePath)` → the argv to spawn (in the agent's working dir,
 * with the agent environment). Every command it returns speaks the agent contract:
 * `{"type":"message","text"}` lines on stdin, one JSON event per stdout line, exit = the
 * agent's end. CLI runtimes run under the runner (run-agent.ts), which writes their
 * configuration into the agent's home, adapts messages and parses their output.
 */
import { fileURLToPath } from 'node:url';
import { builtin, BUILTIN_AGENT_FILE } from './builtin.ts';
import { claudeCode } from './claude-code.ts';
import { codex } from './codex.ts';
import { opencode } from './opencode.ts';
import { RUNTIME_NAMES, type Runtime, type RuntimeName } from './types.ts';

export * from './types.ts';

/** Every runtime by name. */
export const RUNTIMES: Record<RuntimeName, Runtime> = { builtin, 'claude-code': claudeCode, codex, opencode };

/** The runner entry: `node run-agent.ts <runtime>`. */
export const RUN_AGENT_FILE = fileURLToPath(new URL('./run-agent.ts', import.meta.url));

/** True for a runtime name of the contract. */
export function isRuntimeName(name: unknown): name is RuntimeName {
  return typeof name === 'string' && (RUNTIME_NAMES as readonly string[]).includes(name);
}

/**
 * The command that runs an agent of `runtime`, with `nodePath` (the control server's own
 * `process.execPath`). Spawn it like any agent command: cwd = the agent's working dir, env =
 * the agent environment (GASTOWN_* identity, token file, nonce; optionally GASTOWN_BEAD_ID
 * and GASTOWN_AGENT_HOME), stdin/stdout as the contract says.
 */
export function agentCommand(runtime: RuntimeName, nodePath: string = process.execPath): string[] {
  return runtime === 'builtin' ? [nodePath, BUILTIN_AGENT_FILE] : [nodePath, RUN_AGENT_FILE, runtime];
}
