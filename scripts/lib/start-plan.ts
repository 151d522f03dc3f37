import { untraversableAncestor } from '../../container/src/managers/traversal.ts';
import { withEnvOverrides } from './dev-secrets.ts';

/** What `npm start` runs, from `.dev.vars` and the environment. */
export interface StartPlan {
  /** The Worker's vars: `.dev.vars` overridden by any contract variable set in the environment. */
  vars: Record<string, string>;
  /** CONTAINER_URL, when set: the Worker uses that control server and none is started locally. */
  externalControlUrl: string | null;
  /** How to get a user token, as a shell command (never the secret itself when it lives in a file or the environment). */
  tokenCommand(workerUrl: string): string;
  /** The client secret as a shell expression (never its value). */
  secretExpression: string;
}

export function startPlan(fileVars: Record<string, string>, env: NodeJS.ProcessEnv): StartPlan {
  const vars = withEnvOverrides(fileVars, env);
  const secretFromEnv = Boolean(env.GASTOWN_CLIENT_SECRET);
  const secret = secretFromEnv ? '"$GASTOWN_CLIENT_SECRET"' : `$(grep GASTOWN_CLIENT_SECRET .dev.vars | cut -d'"' -f2)`;
  return {
    vars,
    externalControlUrl: vars.CONTAINER_URL ? vars.CONTAINER_URL.replace(/\/+$/, '') : null,
    secretExpression: secret,
    tokenCommand: (workerUrl) => `curl -s ${workerUrl}/api/auth/token -d grant_type=client_credentials -d client_id=${vars.GASTOWN_CLIENT_ID} -d client_secret=${secret}`,
  };
}

/**
 * Whether agents can run under uids of their own from this checkout: only as root, and
 * only if other users can pass every folder above it (they must run its code and reach
 * their files). Otherwise `npm start` runs them as itself (GASTOWN_ISOLATION=off) and
 * says why; `closed` names the folder in the way.
 */
export function isolationPlan(root: string, uid: number | undefined): { isolate: boolean; closed: string | null } {
  if (uid !== 0) return { isolate: false, closed: null };
  const closed = untraversableAncestor(`${root}/container`);
  return { isolate: closed === null, closed };
}
