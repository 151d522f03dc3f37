import type { TownDO } from './dos/town-do';
import type { TownContainer } from './dos/town-container';

/** Bindings, vars and secrets of the Worker (see wrangler.toml and the contract's configuration table). */
export interface Env {
  TOWN: DurableObjectNamespace<TownDO>;
  TOWN_CONTAINER: DurableObjectNamespace<TownContainer>;
  GASTOWN_JWT_SECRET?: string;
  GASTOWN_JWT_SECRET_PREVIOUS?: string;
  AGENT_TOKEN_TTL_SECONDS?: string;
  TOKEN_REFRESH_INTERVAL_SECONDS?: string;
  HEARTBEAT_INTERVAL_SECONDS?: string;
  STALL_AFTER_SECONDS?: string;
  CONTAINER_URL?: string;
  CONTAINER_CONTROL_SECRET?: string;
  GASTOWN_CLIENT_ID?: string;
  GASTOWN_CLIENT_SECRET?: string;
  /** Fault injection for the soak test only: percentage of alarm passes that throw. Unset in production. */
  FAULT_ALARM_THROW_PERCENT?: string;
}
