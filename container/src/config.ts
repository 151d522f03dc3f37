import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Configuration of the control server, from its environment. */
export interface ControlConfig {
  /** Listen port (0: any free port; the server writes back the one it got). */
  port: number;
  /** Listen address: loopback unless HOST says otherwise (the image sets 0.0.0.0). */
  host: string;
  controlSecret: string;
  heartbeatIntervalMs: number;
  stateDir: string;
  /**
   * `auto` (default): each agent under a uid of its own when this server runs as root.
   * `off`: agents run as this server's uid even as root — for a developer's checkout other
   * users cannot enter (a uid of their own could not run them there); said loudly at start.
   */
  isolation: 'auto' | 'off';
}

/** Reads the environment; refuses to start without CONTAINER_CONTROL_SECRET. */
export function readControlConfig(env: NodeJS.ProcessEnv): ControlConfig {
  const controlSecret = env.CONTAINER_CONTROL_SECRET ?? '';
  if (!controlSecret) throw new Error('CONTAINER_CONTROL_SECRET is not set: the control server refuses to start without it');
  const port = Number(env.PORT ?? 8080);
  const heartbeat = Number(env.HEARTBEAT_INTERVAL_SECONDS ?? 30);
  if (!Number.isInteger(port) || port < 0) throw new Error(`PORT must be a port number, got "${env.PORT}"`);
  if (!(heartbeat > 0)) throw new Error(`HEARTBEAT_INTERVAL_SECONDS must be positive, got "${env.HEARTBEAT_INTERVAL_SECONDS}"`);
  const isolation = env.GASTOWN_ISOLATION || 'auto';
  if (isolation !== 'auto' && isolation !== 'off') throw new Error(`GASTOWN_ISOLATION must be auto or off, got "${isolation}"`);
  return {
    port,
    host: env.HOST || '127.0.0.1',
    controlSecret,
    heartbeatIntervalMs: heartbeat * 1000,
    stateDir: env.GASTOWN_STATE_DIR || join(tmpdir(), `gastown-${port}`),
    isolation,
  };
}

/** Where agents reach this server's agent-facing routes: loopback, unless it listens on one address only. */
export function controlUrlOf(config: Pick<ControlConfig, 'host' | 'port'>): string {
  const wildcard = ['0.0.0.0', '::', '', '127.0.0.1', 'localhost'].includes(config.host);
  const host = wildcard ? '127.0.0.1' : config.host.includes(':') ? `[${config.host}]` : config.host;
  return `http://${host}:${config.port}`;
}
