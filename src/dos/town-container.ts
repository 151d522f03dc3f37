import { Container } from '@cloudflare/containers';
import type { Env } from '../env';

/** Port of the control server inside the container image. */
export const CONTROL_PORT = 8080;

/**
 * The town's container: runs the control server (container/), which runs the agents.
 * Reached by the TownDO through the TOWN_CONTAINER binding, one instance per town.
 * It sleeps after `sleepAfter` without requests: the TownDO refreshes only live agents
 * and keeps no alarm for an idle town, so an idle container is let go.
 */
export class TownContainer extends Container<Env> {
  defaultPort = CONTROL_PORT;
  sleepAfter = '15m';
  pingEndpoint = 'container/health';

  constructor(ctx: DurableObjectState<{}>, env: Env) {
    super(ctx, env);
    this.envVars = {
      PORT: String(CONTROL_PORT),
      CONTAINER_CONTROL_SECRET: env.CONTAINER_CONTROL_SECRET ?? '',
      HEARTBEAT_INTERVAL_SECONDS: env.HEARTBEAT_INTERVAL_SECONDS ?? '30',
      GASTOWN_STATE_DIR: '/var/lib/gastown',
    };
  }
}
