import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { withoutWorkerSecrets } from '../../container/src/domain/worker-secrets.ts';
import { formatVars } from './dev-secrets.ts';
import { portInUse } from './ports.ts';

/** The repository root. */
export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const WRANGLER = join(ROOT, 'node_modules/.bin/wrangler');
const CONTROL_MAIN = join(ROOT, 'container/src/main.ts');
/** The control server's shutdown: agents ended (≤ 4 s) and deliveries flushed (≤ 5 s), with a margin. */
const CONTROL_SHUTDOWN_GRACE_MS = 12_000;

/** How to run a local town. `vars` are the Worker's vars and secrets. */
export interface LocalTownOptions {
  port: number;
  containerPort: number;
  vars: Record<string, string>;
  /** Where wrangler keeps local Durable Object state and the control server its files. */
  stateDir: string;
  /** Extra environment of the control server (agent pacing, fault injection). */
  controlEnv?: Record<string, string>;
  /** Where the Worker reaches the control server (default: the control server itself; the soak puts a fault proxy here). */
  workerContainerUrl?: string;
  /** Run the local control server (default true). False: the Worker uses `workerContainerUrl`, a control server run by someone else. */
  controlServer?: boolean;
  /** The Worker's entry, instead of the product's own (`src/index.ts`): a harness wrapping it (the soak's alarm faults). */
  workerMain?: string;
  /** Node options of the control server process (a harness preload such as the soak's clock skew). */
  controlNodeArgs?: string[];
  /** Every output line of both processes, tagged. */
  onLine?: (source: 'worker' | 'control', line: string) => void;
  /** A process exited on its own after the town was up (not stopped or restarted by us). */
  onExit?: (source: 'worker' | 'control', code: number | null, signal: NodeJS.Signals | null) => void;
}

/** Where a local town's Worker reads its vars and keeps its Durable Objects. */
export interface TownState {
  /** The Worker's vars and secrets (`wrangler dev --env-file`): 0600. */
  envFile: string;
  /** wrangler's local state, every town's SQLite with its `agentEnv` values (`--persist-to`): 0700. */
  persistDir: string;
}

/**
 * Prepares a local town's state dir. The dir itself is 0711: a control server running as
 * root gives each agent a uid of its own, and agents must pass through it to their folders
 * (as through the image's /var/lib/gastown). What the Worker keeps there is the owner's
 * alone, so no agent can read another town's storage or the secrets: wrangler's folder is
 * 0700 and the vars file 0600, whatever modes an earlier run left.
 */
export function prepareTownState(stateDir: string, vars: Record<string, string>): TownState {
  mkdirSync(stateDir, { recursive: true });
  chmodSync(stateDir, 0o711);
  const persistDir = join(stateDir, 'wrangler');
  mkdirSync(persistDir, { recursive: true, mode: 0o700 });
  chmodSync(persistDir, 0o700);
  const envFile = join(stateDir, 'worker.env');
  // written fresh: a mode given to writeFileSync applies only to a file it creates
  rmSync(envFile, { force: true });
  writeFileSync(envFile, formatVars(vars), { mode: 0o600, flag: 'wx' });
  return { envFile, persistDir };
}

/** A port of the town is taken: the processes would fail to listen while the other server answered health checks. */
export class PortInUseError extends Error {
  readonly port: number;
  readonly role: 'worker' | 'control';
  constructor(port: number, role: 'worker' | 'control') {
    super(`port ${port} (${role === 'worker' ? 'the Worker' : 'the control server'}) is already in use`);
    this.port = port;
    this.role = role;
  }
}

/** A running local town: the Worker under wrangler dev and the control server as a Node process. */
export interface LocalTown {
  workerUrl: string;
  containerUrl: string;
  vars: Record<string, string>;
  /** The control server's process id (null without a local one). */
  controlPid(): number | null;
  /** Stops the control server (`signal`, default SIGTERM) and starts a new one on the same port, with extra env. */
  restartControl(signal?: NodeJS.Signals, env?: Record<string, string>): Promise<void>;
  /** Stops the control server (SIGTERM: it delivers what it holds, then exits) and waits until its output is read. */
  stopControl(): Promise<void>;
  /** Stops wrangler dev and starts it again on the same persisted state: every Durable Object is evicted. */
  restartWorker(): Promise<void>;
  stop(): Promise<void>;
}

/** Starts both processes, wired by CONTAINER_URL, and waits until both are healthy. */
export async function startLocalTown(options: LocalTownOptions): Promise<LocalTown> {
  const runControl = options.controlServer ?? true;
  if (!runControl && !options.workerContainerUrl) throw new Error('without a local control server the Worker needs workerContainerUrl');
  const workerUrl = `http://127.0.0.1:${options.port}`;
  const containerUrl = runControl ? `http://127.0.0.1:${options.containerPort}` : options.workerContainerUrl!;
  // both listen on loopback; the control server's port is checked on every interface, as a
  // listener on any of them would make its own listen fail too
  if (await portInUse(options.port, '127.0.0.1')) throw new PortInUseError(options.port, 'worker');
  if (runControl && (await portInUse(options.containerPort, '0.0.0.0'))) throw new PortInUseError(options.containerPort, 'control');
  const vars: Record<string, string> = { ...options.vars, CONTAINER_URL: options.workerContainerUrl ?? containerUrl };
  const { envFile, persistDir } = prepareTownState(options.stateDir, vars);

  /** Children we are ending ourselves; any other exit after start-up is reported. */
  const ending = new Set<ChildProcess>();
  let up = false;
  const track = (child: ChildProcess, source: 'worker' | 'control') => {
    forwardLines(child, source, options.onLine);
    child.once('exit', (code, signal) => {
      if (up && !ending.delete(child)) options.onExit?.(source, code, signal);
    });
    return child;
  };
  const end = (child: ChildProcess) => (ending.add(child), child);

  let controlEnv = { ...options.controlEnv };
  const startControl = () =>
    track(
      spawn(process.execPath, [...(options.controlNodeArgs ?? []), CONTROL_MAIN], {
        cwd: ROOT,
        env: {
          ...withoutWorkerSecrets(process.env),
          ...controlEnv,
          PORT: String(options.containerPort),
          CONTAINER_CONTROL_SECRET: vars.CONTAINER_CONTROL_SECRET ?? '',
          HEARTBEAT_INTERVAL_SECONDS: vars.HEARTBEAT_INTERVAL_SECONDS ?? '30',
          GASTOWN_STATE_DIR: join(options.stateDir, 'control'),
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      }),
      'control',
    );
  let control: ChildProcess | null = runControl ? startControl() : null;
  const localControl = (): ChildProcess => {
    if (!control) throw new Error('this town runs no local control server');
    return control;
  };
  // a harness entry runs under the product's own configuration, with only `main` changed
  const config = options.workerMain ? harnessConfig(options.workerMain) : null;
  const startWorker = () => track(
    spawn(
      WRANGLER,
      ['dev', ...(config ? ['-c', config.path] : []), '--ip', '127.0.0.1', '--port', String(options.port), '--env-file', envFile, '--persist-to', persistDir, '--show-interactive-dev-session=false', '--log-level', 'log'],
      { cwd: ROOT, env: { ...process.env, WRANGLER_SEND_METRICS: 'false', NO_COLOR: '1', FORCE_COLOR: '0' }, stdio: ['ignore', 'pipe', 'pipe'], detached: true },
    ),
    'worker',
  );
  let worker = startWorker();

  // the control server first, while the Worker still takes what it delivers on its way out
  // (agents end, buffered events flush: CONTROL_SHUTDOWN_GRACE_MS covers both), then wrangler
  const stop = async () => {
    if (control) await terminate(end(control), false, CONTROL_SHUTDOWN_GRACE_MS);
    await terminate(end(worker), true);
    config?.remove();
  };
  try {
    await Promise.all([waitHealthy(`${workerUrl}/health`, worker, 90_000), control && waitHealthy(`${containerUrl}/health`, control, 30_000)]);
  } catch (err) {
    await stop();
    throw err;
  }
  up = true;
  return {
    workerUrl,
    containerUrl,
    vars,
    controlPid: () => control?.pid ?? null,
    async restartControl(signal: NodeJS.Signals = 'SIGTERM', env: Record<string, string> = {}) {
      const old = end(localControl());
      old.kill(signal);
      await exited(old);
      controlEnv = { ...controlEnv, ...env };
      control = startControl();
      await waitHealthy(`${containerUrl}/health`, control, 30_000);
    },
    async stopControl() {
      const current = end(localControl());
      current.kill('SIGTERM');
      await closed(current);
    },
    async restartWorker() {
      await terminate(end(worker), true);
      worker = startWorker();
      await waitHealthy(`${workerUrl}/health`, worker, 90_000);
    },
    stop,
  };
}

/**
 * The product's wrangler.toml with another `main`, written beside it (so every other path
 * in it still resolves) under a name git ignores, and removed when the town stops.
 */
function harnessConfig(main: string): { path: string; remove(): void } {
  const path = join(ROOT, `.wrangler-harness-${process.pid}-${Date.now()}.toml`);
  const product = readFileSync(join(ROOT, 'wrangler.toml'), 'utf8');
  if (!/^main = "src\/index\.ts"$/m.test(product)) throw new Error('wrangler.toml: main is not src/index.ts');
  writeFileSync(path, product.replace(/^main = "src\/index\.ts"$/m, `main = ${JSON.stringify(relative(ROOT, main))}`));
  return { path, remove: () => rmSync(path, { force: true }) };
}

function forwardLines(child: ChildProcess, source: 'worker' | 'control', onLine: LocalTownOptions['onLine']): void {
  for (const stream of [child.stdout, child.stderr]) {
    let buffer = '';
    stream?.setEncoding('utf8');
    stream?.on('data', (chunk: string) => {
      buffer += chunk;
      let i: number;
      while ((i = buffer.indexOf('\n')) >= 0) {
        const line = buffer.slice(0, i).replace(/\x1b\[[0-9;]*m/g, '');
        buffer = buffer.slice(i + 1);
        onLine?.(source, line);
      }
    });
  }
}

async function waitHealthy(url: string, child: ChildProcess, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`${url}: process exited with ${child.exitCode ?? child.signalCode}`);
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(2_000) });
      if (res.ok) return;
    } catch {
      // not up yet
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`${url} did not become healthy in ${timeoutMs} ms`);
}

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((r) => child.once('exit', () => r()));
}

/** Exited and every line of its output read ('close' follows 'exit' once stdio ends). */
function closed(child: ChildProcess): Promise<void> {
  if ((child.exitCode !== null || child.signalCode !== null) && child.stdout?.readableEnded !== false) return Promise.resolve();
  return new Promise((r) => child.once('close', () => r()));
}

async function terminate(child: ChildProcess, group: boolean, graceMs = 5_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const kill = (signal: NodeJS.Signals) => {
    try {
      if (group && child.pid) process.kill(-child.pid, signal);
      else child.kill(signal);
    } catch {
      // already gone
    }
  };
  kill('SIGTERM');
  const timer = setTimeout(() => kill('SIGKILL'), graceMs);
  await exited(child);
  clearTimeout(timer);
}
