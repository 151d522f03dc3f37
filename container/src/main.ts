/** The control server process: `node container/src/main.ts` (see container/README.md). */
import { serve } from '@hono/node-server';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { createControlServer } from './app.ts';
import { readControlConfig, type ControlConfig } from './config.ts';

let config: ControlConfig;
try {
  config = readControlConfig(process.env);
} catch (err) {
  console.error(JSON.stringify({ msg: 'control server refuses to start', error: (err as Error).message }));
  process.exit(1);
}
// A new control server starts clean: files of a previous run belong to agents that are gone.
// Only its own subfolders are removed, never the state dir itself (it may be a shared path).
for (const sub of ['tokens', 'work']) rmSync(join(config.stateDir, sub), { recursive: true, force: true });
const server = createControlServer(config);
const http = serve({ fetch: server.app.fetch, port: config.port, hostname: process.env.HOST ?? '0.0.0.0' }, (info) => {
  config.port = info.port; // PORT=0 picks a free port; agents reach this one
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
