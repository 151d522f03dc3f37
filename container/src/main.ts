/** The control server process: `node container/src/main.ts` (see container/README.md). */
import { serve } from '@hono/node-server';
import { createControlServer } from './app.ts';
import { readControlConfig, type ControlConfig } from './config.ts';

let config: ControlConfig;
try {
  config = readControlConfig(process.env);
} catch (err) {
  console.error(JSON.stringify({ msg: 'control server refuses to start', error: (err as Error).message }));
  process.exit(1);
}
// the secret lives in the config alone: nothing this process spawns or prints can inherit it
delete process.env.CONTAINER_CONTROL_SECRET;
const server = createControlServer(config);
const http = serve({ fetch: server.app.fetch, port: config.port, hostname: config.host }, (info) => {
  config.port = info.port; // PORT=0 picks a free port; agents reach this one
  console.log(JSON.stringify({ msg: 'control server listening', host: config.host, port: info.port, stateDir: config.stateDir, isolated: server.isolated }));
});

let stopping = false;
async function shutdown(signal: string) {
  if (stopping) return;
  stopping = true;
  console.log(JSON.stringify({ msg: 'shutting down', signal, agents: server.agents.size }));
  await server.close(5_000);
  console.log(JSON.stringify({ msg: 'final stats', stats: server.stats }));
  http.close();
  process.exit(0);
}
process.on('SIGTERM', () => void shutdown('SIGTERM'));
process.on('SIGINT', () => void shutdown('SIGINT'));
