import { delimiter, join } from 'node:path';
import { withoutWorkerSecrets } from '../domain/worker-secrets.ts';
import { GT_BIN_DIR } from '../runtimes/cli-bin.ts';

/** What an agent's environment is built from beyond the start request. */
export interface AgentEnvInputs {
  agentId: string;
  townId: string;
  rigId: string | null;
  role: string;
  apiUrl: string;
  token: string;
  tokenFile: string;
  controlUrl: string;
  nonce: string;
  /** The agent's own home (isolated agents); null keeps this server's HOME. */
  home: string | null;
  /** The agent's own folder for its runtime's files (GASTOWN_AGENT_HOME), isolated or not. */
  agentHome: string;
  /** Its own temporary folder (TMPDIR) and runtime folder (XDG_RUNTIME_DIR), in its home. */
  tmpDir: string;
  runtimeDir: string;
  /** The bead a polecat works on (GASTOWN_BEAD_ID). */
  beadId: string | null;
  /** The start request's `env`: the TownDO's deliberate choice, passed as given. */
  requested?: Record<string, string>;
}

/**
 * An agent's environment: this server's, minus every secret an agent must never hold (the
 * Worker's secrets, the control secret), then the start request's `env` (minus the control
 * secret), then the agent's identity, token file, control URL and nonce, its bead and its
 * runtime's home, and `gt` on its PATH. Temporary, cache, state and runtime files go to
 * folders in its own home (TMPDIR, XDG_*), not to a shared /tmp where they would outlive it
 * for the next agent of its uid to read.
 */
export function agentEnvironment(base: NodeJS.ProcessEnv, i: AgentEnvInputs): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...withoutWorkerSecrets(base), ...i.requested };
  delete env.CONTAINER_CONTROL_SECRET;
  Object.assign(env, {
    GASTOWN_AGENT_ID: i.agentId,
    GASTOWN_TOWN_ID: i.townId,
    GASTOWN_RIG_ID: i.rigId ?? '',
    GASTOWN_ROLE: i.role,
    GASTOWN_API_URL: i.apiUrl,
    GASTOWN_TOKEN_FILE: i.tokenFile,
    GASTOWN_SESSION_TOKEN: i.token,
    GASTOWN_CONTROL_URL: i.controlUrl,
    GASTOWN_AGENT_NONCE: i.nonce,
  });
  if (i.beadId) env.GASTOWN_BEAD_ID = i.beadId;
  env.GASTOWN_AGENT_HOME = i.agentHome;
  Object.assign(env, {
    TMPDIR: i.tmpDir,
    TMP: i.tmpDir,
    TEMP: i.tmpDir,
    XDG_RUNTIME_DIR: i.runtimeDir,
    XDG_CACHE_HOME: join(i.agentHome, '.cache'),
    XDG_STATE_HOME: join(i.agentHome, '.local', 'state'),
  });
  // `gt` first on the PATH, for agents that prefer their shell
  env.PATH = [GT_BIN_DIR, env.PATH].filter(Boolean).join(delimiter);
  if (i.home) env.HOME = i.home;
  return env;
}
