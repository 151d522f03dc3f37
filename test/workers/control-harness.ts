import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, request as httpRequest, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { freePort } from '../../scripts/lib/ports.ts';

const ROOT = resolve(import.meta.dirname, '../..');

/** A fault the proxy injects into requests of one town whose path matches. */
interface Fault {
  townId: string;
  path: RegExp;
  /** How many matching requests it applies to (Infinity: until cleared). */
  remaining: number;
  /** `status`: answer with it; `drop`: cut the connection (no answer); `delay`: forward after `ms`. */
  action: { kind: 'status'; status: number } | { kind: 'drop' } | { kind: 'delay'; ms: number };
}

/** One request the Worker made to the control server, as the proxy saw it. */
export interface SeenRequest {
  seq: number;
  method: string;
  path: string;
  townId: string | null;
  agentIds: string[];
  status: number;
  injected: string | null;
  /** For a start: the runtime asked for and the names (never the values) of the environment given. */
  runtime?: string | null;
  envNames?: string[];
}

/** A running control server: its process, port and state directory. */
interface ControlServer {
  child: ChildProcess;
  port: number;
  stateDir: string;
  output: string[];
}

/**
 * The workers tests' neighbour: the REAL control server (`container/src/main.ts`, a Node
 * process running real agent processes) behind a proxy that records what the Worker sends
 * and injects faults per town on request (a status, a cut connection, a delay). A town can
 * have a control server of its own, which a test can kill (any signal) and start again on
 * the same state directory, as a container's control server crashes and comes back.
 * Tests drive it through `/__harness/*` on the proxy; the product is never told it is
 * tested.
 */
export async function startControlHarness(controlSecret: string, options: { env?: Record<string, string> } = {}): Promise<{ proxyPort: number; close(): Promise<void> }> {
  const spawnControl = async (stateDir: string): Promise<ControlServer> => {
    const port = await freePort();
    const child = spawn(process.execPath, [join(ROOT, 'container/src/main.ts')], {
      env: { ...process.env, PORT: String(port), HOST: '127.0.0.1', CONTAINER_CONTROL_SECRET: controlSecret, GASTOWN_STATE_DIR: stateDir, HEARTBEAT_INTERVAL_SECONDS: '5', GASTOWN_POLECAT_STEPS: '1000000', ...options.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const output: string[] = [];
    for (const stream of [child.stdout!, child.stderr!]) stream.on('data', (chunk: Buffer) => output.push(chunk.toString()));
    await waitHealthy(`http://127.0.0.1:${port}/health`, child, output);
    return { child, port, stateDir, output };
  };
  const stopControl = async (server: ControlServer, signal: NodeJS.Signals = 'SIGTERM') => {
    if (server.child.exitCode === null && server.child.signalCode === null) {
      const exited = new Promise((r) => server.child.once('exit', r));
      server.child.kill(signal);
      await exited;
    }
  };

  const shared = await spawnControl(mkdtempSync(join(tmpdir(), 'gastown-workers-control-')));
  /** Towns with a control server of their own. */
  const own = new Map<string, ControlServer>();
  const serverOf = (townId: string | null) => (townId && own.get(townId)) || shared;

  const faults: Fault[] = [];
  const seen: SeenRequest[] = [];
  const agentTowns = new Map<string, string>();
  /** The latest container credential the Worker handed the container, per town (as it passed through). */
  const credentials = new Map<string, string>();
  let seq = 0;

  const harness = async (url: URL, res: ServerResponse) => {
    const townId = url.searchParams.get('townId') ?? '';
    const json = (body: unknown) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    switch (url.pathname) {
      case '/__harness/fault': {
        const kind = url.searchParams.get('kind') ?? 'status';
        const action: Fault['action'] =
          kind === 'drop' ? { kind: 'drop' } : kind === 'delay' ? { kind: 'delay', ms: Number(url.searchParams.get('ms') ?? 1000) } : { kind: 'status', status: Number(url.searchParams.get('status') ?? 503) };
        const count = url.searchParams.get('count');
        faults.push({ townId, path: new RegExp(url.searchParams.get('path') ?? '.'), remaining: count === null ? Number.POSITIVE_INFINITY : Number(count), action });
        return json({ ok: true });
      }
      case '/__harness/clear':
        for (let i = faults.length - 1; i >= 0; i--) if (faults[i]!.townId === townId) faults.splice(i, 1);
        return json({ ok: true });
      case '/__harness/credential':
        return json({ credential: credentials.get(townId) ?? null });
      case '/__harness/seen':
        return json(seen.filter((s) => s.townId === townId));
      case '/__harness/token': {
        // the agent's token file, as the agent reads it (the harness runs as root, like the control server)
        const agentId = url.searchParams.get('agentId') ?? '';
        const file = join(serverOf(agentTowns.get(agentId) ?? null).stateDir, 'tokens', `${encodeURIComponent(agentId)}.jwt`);
        return json({ token: existsSync(file) ? readFileSync(file, 'utf8').trim() : null });
      }
      case '/__harness/control': {
        // a call straight to the town's control server, with its secret: what the container really holds
        const path = url.searchParams.get('path') ?? '/agents';
        const method = url.searchParams.get('method') ?? 'GET';
        const agentId = /^\/agents\/([^/?]+)\//.exec(path)?.[1];
        const server = serverOf(townId || agentTowns.get(decodeURIComponent(agentId ?? '')) || null);
        const upstream = await fetch(`http://127.0.0.1:${server.port}${path}`, { method, headers: { authorization: `Bearer ${controlSecret}`, 'content-type': 'application/json' }, body: method === 'GET' ? undefined : '{}' });
        return res.writeHead(upstream.status, { 'content-type': 'application/json' }).end(await upstream.text());
      }
      case '/__harness/own-server': {
        // before the town's first start: its requests go to a control server of its own from now on
        if (!own.has(townId)) own.set(townId, await spawnControl(mkdtempSync(join(tmpdir(), 'gastown-workers-control-'))));
        return json({ ok: true });
      }
      case '/__harness/drop-server': {
        // the test is done with the town's own control server: it shuts down (ending its agents)
        const server = own.get(townId);
        own.delete(townId);
        if (server) {
          await stopControl(server);
          rmSync(server.stateDir, { recursive: true, force: true });
        }
        return json({ ok: true });
      }
      case '/__harness/restart-server': {
        // the town's own control server dies by `signal` and a new one starts on its state directory
        const server = own.get(townId);
        if (!server) return res.writeHead(400).end('the town has no control server of its own');
        await stopControl(server, (url.searchParams.get('signal') ?? 'SIGKILL') as NodeJS.Signals);
        own.set(townId, await spawnControl(server.stateDir));
        return json({ ok: true });
      }
      default:
        return res.writeHead(404).end();
    }
  };

  const proxy: Server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://harness');
    if (url.pathname.startsWith('/__harness/')) {
      req.resume();
      void harness(url, res).catch((err) => res.writeHead(500).end(String(err)));
      return;
    }
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => void forward(req, res, url, Buffer.concat(chunks)));
  });

  async function forward(req: IncomingMessage, res: ServerResponse, url: URL, body: Buffer) {
    const { townId, agentIds, credential, start } = describe(url, body, agentTowns);
    const entry: SeenRequest = { seq: ++seq, method: req.method ?? 'GET', path: url.pathname, townId, agentIds, status: 0, injected: null, ...start };
    seen.push(entry);
    const fault = faults.find((f) => f.townId === townId && f.remaining > 0 && f.path.test(url.pathname));
    if (fault) {
      fault.remaining--;
      entry.injected = fault.action.kind;
      if (fault.action.kind === 'drop') return void req.socket.destroy();
      if (fault.action.kind === 'status') {
        entry.status = fault.action.status;
        return void res.writeHead(fault.action.status, { 'content-type': 'application/json' }).end(JSON.stringify({ error: { code: 'injected', message: 'fault injected by the test harness' } }));
      }
      await new Promise((r) => setTimeout(r, (fault.action as { ms: number }).ms));
    }
    const upstream = httpRequest({ host: '127.0.0.1', port: serverOf(townId).port, method: req.method, path: req.url, headers: req.headers }, (up) => {
      entry.status = up.statusCode ?? 0;
      if (credential && townId && entry.status >= 200 && entry.status < 300) credentials.set(townId, credential);
      res.writeHead(up.statusCode ?? 502, up.headers);
      up.pipe(res);
    });
    upstream.on('error', () => res.destroy());
    upstream.end(body);
  }

  const proxyPort = await new Promise<number>((r) => proxy.listen(0, '127.0.0.1', () => r((proxy.address() as { port: number }).port)));
  return {
    proxyPort,
    async close() {
      proxy.closeAllConnections();
      await new Promise<void>((r) => proxy.close(() => r()));
      for (const server of [shared, ...own.values()]) {
        await stopControl(server);
        rmSync(server.stateDir, { recursive: true, force: true });
      }
    },
  };
}

/** The town and agents a control request concerns (learned from start requests and token claims). */
function describe(url: URL, body: Buffer, agentTowns: Map<string, string>): { townId: string | null; agentIds: string[]; credential?: string; start?: Pick<SeenRequest, 'runtime' | 'envNames'> } {
  let parsed: Record<string, unknown> = {};
  try {
    parsed = body.length ? JSON.parse(body.toString('utf8')) : {};
  } catch {
    // not JSON: nothing to learn
  }
  if (url.pathname === '/agents/start') {
    const agentId = String(parsed.agentId);
    agentTowns.set(agentId, String(parsed.townId));
    return {
      townId: String(parsed.townId),
      agentIds: [agentId],
      credential: typeof parsed.containerCredential === 'string' ? parsed.containerCredential : undefined,
      start: { runtime: typeof parsed.runtime === 'string' ? parsed.runtime : null, envNames: Object.keys((parsed.env as object) ?? {}).sort() },
    };
  }
  if (url.pathname === '/agents/refresh-tokens') {
    const agentIds = ((parsed.tokens as Array<{ agentId: string }>) ?? []).map((t) => t.agentId);
    return { townId: agentTowns.get(agentIds[0] ?? '') ?? null, agentIds };
  }
  if (url.pathname === '/agents') return { townId: url.searchParams.get('townId'), agentIds: [] };
  const m = /^\/agents\/([^/]+)\//.exec(url.pathname);
  if (m) {
    const agentId = decodeURIComponent(m[1]!);
    return { townId: agentTowns.get(agentId) ?? null, agentIds: [agentId] };
  }
  return { townId: null, agentIds: [] };
}

async function waitHealthy(url: string, child: ChildProcess, output: string[]): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`the control server exited (${child.exitCode}): ${output.join('')}`);
    try {
      if ((await fetch(url)).ok) return;
    } catch {
      // not up yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`the control server did not become healthy: ${output.join('')}`);
}
