import type { ConfigName } from './domain/config';
import type { TownDirectory } from './dos/town-directory';
import type { TownDO } from './dos/town-do';
import type { TownContainer } from './dos/town-container';

/** Bindings, vars and secrets of the Worker (see wrangler.toml and the README's configuration table). */
export interface Env extends Partial<Record<ConfigName, string>> {
  TOWN: DurableObjectNamespace<TownDO>;
  TOWN_CONTAINER: DurableObjectNamespace<TownContainer>;
  /** One directory per user: the towns they own (`GET /api/towns`, the towns quota). */
  DIRECTORY: DurableObjectNamespace<TownDirectory>;
  /** Workers rate limiting: token-endpoint attempts per client address. */
  AUTH_LIMITER?: RateLimit;
}
