import { Hono } from 'hono';
import type { ControlConfig } from './config.ts';
import { agentRoutes } from './handlers/agent-routes.ts';
import { CONTROL_STATUS, ControlError, bearer, secretsEqual } from './handlers/http-errors.ts';
import { localRoutes } from './handlers/local-routes.ts';
import { ProcessManager } from './managers/process-manager.ts';
import { TokenFiles } from './managers/token-file.ts';
import { TokenStore } from './managers/token-store.ts';
import { AgentService } from './services/agents.ts';
import { Stats } from './services/stats.ts';

/** The control server: its Hono app and the service behind it. */
export interface ControlServer {
  app: Hono;
  agents: AgentService;
  tokens: TokenStore;
  processes: ProcessManager;
  stats: Stats;
}

/** Seams for tests: a process manager that does not spawn. */
export interface ControlServerOptions {
  processes?: ProcessManager;
}

/** Builds the control server. Every route but /health (and the nonce-authenticated /local) needs the control secret. */
export function createControlServer(config: ControlConfig, options: ControlServerOptions = {}): ControlServer {
  const tokens = new TokenStore(() => Date.now() + config.clockSkewMs);
  const processes = options.processes ?? new ProcessManager(config.stateDir);
  const stats = new Stats();
  const agents = new AgentService({ config, tokens, files: new TokenFiles(config.stateDir), processes, stats });
  const app = new Hono();
  app.get('/health', (c) => c.json({ ok: true }));
  app.route('/local', localRoutes(agents));
  app.use('*', async function controlAuth(c, next) {
    if (!secretsEqual(bearer(c), config.controlSecret)) throw new ControlError('unauthorized', 'control secret required');
    await next();
  });
  app.route('/agents', agentRoutes(agents));
  app.get('/stats', (c) => {
    // ?gc=1 collects garbage first when the process runs with --expose-gc (benchmarks)
    if (c.req.query('gc') === '1') (globalThis as { gc?: () => void }).gc?.();
    const memory = process.memoryUsage();
    return c.json({
      agentsRunning: agents.list().filter((a) => a.status === 'running').length,
      agentsHeld: agents.size,
      tokensHeld: tokens.size,
      processes: processes.size,
      heartbeatTargets: agents.heartbeats.size,
      townCredentials: agents.reminter.credentials,
      remintsInFlight: agents.reminter.inFlight,
      memory: { heapUsedBytes: memory.heapUsed, rssBytes: memory.rss },
      ...stats,
    });
  });
  app.notFound((c) => c.json({ error: { code: 'not_found', message: 'no such route' } }, 404));
  app.onError((err, c) => {
    if (err instanceof ControlError) {
      if (err.code === 'unauthorized') c.header('WWW-Authenticate', 'Bearer realm="gastown-control"');
      return c.json({ error: { code: err.code, message: err.message } }, CONTROL_STATUS[err.code]);
    }
    console.error(JSON.stringify({ msg: 'unhandled error', error: String(err?.message ?? err).slice(0, 300) }));
    return c.json({ error: { code: 'internal', message: 'internal error' } }, 500);
  });
  return { app, agents, tokens, processes, stats };
}

/** The control server's Hono app alone (its agents are reachable only over HTTP). */
export function createControlApp(config: ControlConfig, options: ControlServerOptions = {}): Hono {
  return createControlServer(config, options).app;
}
