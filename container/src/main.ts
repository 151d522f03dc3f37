/** The control server process: `node container/src/main.ts` (see container/README.md). */
import { serve } from '@hono/node-server';
import { rmSync } from 'node:fs';
import { createControlServer } from './app.ts';
import { readControlConfig } from './config.ts';

const config = readControlConfig(process.env);
// A new control server starts clean: files of a previous run belong to agents that are gone.
rmSync(config.stateDir, { recursive: true, force: true });
const server = createControlServer(config);
const http = serve({ fetch: server.app.fetch, port: config.port, hostname: process.env.HOST ?? '0.0.0.0' }, (info) => {
  console.log(JSON.stringify({ msg: 'control server listening', port: info.port, stateDir: config.stateDir }));
});

let stopping = false;
async function shutdown(signal: string) {
  if (stopping) return;
  stopping = true;
  console.log(JSON.stringify({ msg: 'shutting down', signal, agents: server.agents.size }));
  await server.agents.shutdown(5_000);
  console.log(JSON.stringify({ msg: 'final stats', stats: server.stats }));
  http.close();
  process.exit(0);
}
process.on('SIGTERM', () => void shutdown('SIGTERM'));
process.on('SIGINT', () => void shutdown('SIGINT'));
