import { Container, type StopParams } from '@cloudflare/containers';
import { mayContainerSleep } from '../domain/container-sleep';
import type { Env } from '../env';
import { checkIdle, reportContainerStopped } from '../services/container-lifecycle';

/** Port of the control server inside the container image. */
export const CONTROL_PORT = 8080;

const FAILED_CHECKS_KEY = 'idle_check_failures';

/**
 * The town's container: runs the control server (container/), which runs the agents.
 * Reached by the TownDO through the TOWN_CONTAINER binding, one instance per town (named
 * by the town id).
 *
 * Sleep: after `sleepAfter` without inbound requests it asks the control server whether an
 * agent still runs, and stays up while one does (agents only call out, so silence inbound
 * is not idleness). The TownDO refreshes only live agents and keeps no alarm for an idle
 * town, so a container with no agent is let go.
 * Stop: when the container stops for any reason, the TownDO is told, and checks for every
 * live agent at once (starting again the ones a new container does not have).
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

  override async onActivityExpired(): Promise<void> {
    const failed = (await this.ctx.storage.get<number>(FAILED_CHECKS_KEY)) ?? 0;
    const check = await checkIdle((init) => this.containerFetch('http://container/stats', init), this.env.CONTAINER_CONTROL_SECRET ?? '');
    const decision = mayContainerSleep(check, failed);
    await this.ctx.storage.put(FAILED_CHECKS_KEY, decision.failedChecks);
    // staying up: the base class renews the activity window after this returns
    if (decision.sleep) await this.stop();
  }

  override async onStop(params: StopParams): Promise<void> {
    await this.ctx.storage.put(FAILED_CHECKS_KEY, 0);
    const townId = this.ctx.id.name;
    if (townId) await reportContainerStopped(this.env, townId, params);
  }
}
