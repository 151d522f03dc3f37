import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Configuration of the control server, from its environment. */
export interface ControlConfig {
  port: number;
  controlSecret: string;
  heartbeatIntervalMs: number;
  stateDir: string;
  /** Offset of this process's clock (fault-injection tests skew it). */
  clockSkewMs: number;
}

/** Reads the environment; refuses to start without CONTAINER_CONTROL_SECRET. */
export function readControlConfig(env: NodeJS.ProcessEnv): ControlConfig {
  const controlSecret = env.CONTAINER_CONTROL_SECRET ?? '';
  if (!controlSecret) throw new Error('CONTAINER_CONTROL_SECRET is not set: the control server refuses to start without it');
  const port = Number(env.PORT ?? 8080);
  const heartbeat = Number(env.HEARTBEAT_INTERVAL_SECONDS ?? 30);
  if (!Number.isInteger(port) || port < 0) throw new Error(`PORT must be a port number, got "${env.PORT}"`);
  if (!(heartbeat > 0)) throw new Error(`HEARTBEAT_INTERVAL_SECONDS must be positive, got "${env.HEARTBEAT_INTERVAL_SECONDS}"`);
  return {
    port,
    controlSecret,
    heartbeatIntervalMs: heartbeat * 1000,
    stateDir: env.GASTOWN_STATE_DIR || join(tmpdir(), `gastown-${port}`),
    clockSkewMs: Number(env.GASTOWN_CLOCK_SKEW_MS ?? 0) || 0,
  };
}
