import { chmodSync, mkdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { Hono } from 'hono';
import type { ControlConfig } from './config.ts';
import type { BackoffOptions } from './domain/backoff.ts';
import { agentRoutes } from './handlers/agent-routes.ts';
import { CONTROL_STATUS, ControlError, bearer, secretsEqual } from './handlers/http-errors.ts';
import { localRoutes } from './handlers/local-routes.ts';
import { CredentialFiles } from './managers/credential-files.ts';
import { untraversableAncestor } from './managers/traversal.ts';
import { Journal, type JournalOptions } from './managers/journal.ts';
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
  journal: Journal;
  stats: Stats;
  /** Agents run under uids of their own (this server is root). */
  isolated: boolean;
  /** Shuts down: agents ended, deliveries tried for `deliverMs`, the journal committed and closed. */
  close(deliverMs?: number): Promise<void>;
}

/** Seams and tuning: a process manager that does not spawn, shorter retries, a smaller journal. */
export interface ControlServerOptions {
  processes?: ProcessManager;
  backoff?: BackoffOptions;
  journal?: Partial<JournalOptions>;
}

let warnedNotIsolated = false;

/**
 * Builds the control server on its state dir, recovering what a previous server left
 * there: its agents still running are ended, its journal is replayed (undelivered items
 * and drop reports are sent again). Every route but /health (and the nonce-authenticated
 * /local) needs the control secret.
 */
export function createControlServer(config: ControlConfig, options: ControlServerOptions = {}): ControlServer {
  const isolated = process.getuid?.() === 0 && config.isolation !== 'off';
  prepareStateDir(config.stateDir, isolated, config.isolation);
  const stats = new Stats();
  const processes = options.processes ?? new ProcessManager(config.stateDir, isolated);
  stats.leftoverAgentsEnded = processes.recover();
  const { journal, replayed } = Journal.open(join(config.stateDir, 'journal'), options.journal);
  if (replayed.torn > 0) console.warn(JSON.stringify({ msg: 'journal: torn records skipped', count: replayed.torn }));
  const tokens = new TokenStore();
  const files = new TokenFiles(config.stateDir, isolated);
  const credentials = new CredentialFiles(config.stateDir, isolated);
  const agents = new AgentService({ config, tokens, files, processes, stats, journal, replayed, credentials, backoff: options.backoff });
  const app = new Hono();
  app.get('/health', (c) => c.json({ ok: true }));
  app.route('/local', localRoutes(agents));
  app.use('*', async function controlAuth(c, next) {
    if (!secretsEqual(bearer(c), config.controlSecret)) throw new ControlError('unauthorized', 'control secret required');
    await next();
  });
  app.route('/agents', agentRoutes(agents));
  app.get('/stats', (c) => {
    const memory = process.memoryUsage();
    const listed = agents.list();
    return c.json({
      isolated,
      agentsRunning: listed.filter((a) => a.status === 'running').length,
      agentsRecovering: listed.filter((a) => a.status === 'recovering').length,
      agentsHeld: agents.size,
      tokensHeld: tokens.size,
      processes: processes.size,
      uidsHeld: processes.uidsHeld,
      heartbeatTargets: agents.heartbeats.size,
      townCredentials: agents.reminter.credentials,
      remintsInFlight: agents.reminter.inFlight,
      dropReportsPending: agents.reporter.pending,
      journal: journal.stats,
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
  const close = async (deliverMs = 0) => {
    await agents.shutdown(deliverMs);
    await journal.close();
  };
  return { app, agents, tokens, processes, journal, stats, isolated, close };
}

/** The control server's Hono app alone (its agents are reachable only over HTTP). */
export function createControlApp(config: ControlConfig, options: ControlServerOptions = {}): Hono {
  return createControlServer(config, options).app;
}

/**
 * The state dir exists; isolated agents may pass through it (to their token file and
 * folders) but never list it: execute for others is added, nothing is taken away (it may
 * be a shared path).
 */
function prepareStateDir(stateDir: string, isolated: boolean, isolation: ControlConfig['isolation']): void {
  mkdirSync(stateDir, { recursive: true, mode: 0o711 });
  if (!isolated) {
    if (!warnedNotIsolated) {
      warnedNotIsolated = true;
      const who = isolation === 'off' ? 'GASTOWN_ISOLATION=off' : `this control server runs as uid ${process.getuid?.()}, not root`;
      console.warn(JSON.stringify({
        msg: 'agents are NOT isolated',
        why: `${who}: agents run under its uid and can read each other's token files and process environments`,
      }));
    }
    return;
  }
  const mode = statSync(stateDir).mode & 0o7777;
  if ((mode & 0o011) !== 0o011) chmodSync(stateDir, mode | 0o011);
  const closed = untraversableAncestor(stateDir);
  if (closed) {
    throw new Error(`${closed} is not traversable by other users: isolated agents could not reach their token files and folders under ${stateDir} (give it o+x, or choose another GASTOWN_STATE_DIR)`);
  }
}

