/**
 * The Worker's own secrets. A control server never needs them: a deployed container never
 * has them, a local one could inherit them from `npm start`, and with them an agent could
 * mint tokens.
 */
export const WORKER_SECRETS: readonly string[] = ['GASTOWN_JWT_SECRET', 'GASTOWN_JWT_SECRET_PREVIOUS', 'GASTOWN_CLIENT_SECRET'];

/** A copy of `env` without the Worker's secrets. */
export function withoutWorkerSecrets(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const copy = { ...env };
  for (const name of WORKER_SECRETS) delete copy[name];
  return copy;
}
