import type { AgentClaims, ContainerClaims } from './domain/tokens';
import type { Env } from './env';

/** Hono environment: bindings and the typed variables the middlewares set. */
export interface AppEnv {
  Bindings: Env;
  Variables: {
    userId: string;
    /** When the caller's user credential stops being accepted (ms since epoch). */
    credentialExpiresAt: number;
    agent: AgentClaims;
    container: ContainerClaims;
  };
}
