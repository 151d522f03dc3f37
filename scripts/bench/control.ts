import { spawn } from 'node:child_process';
import { createServer } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { SignJWT } from 'jose';
import { ROOT } from '../lib/local-town.ts';
import { freePort } from '../lib/ports.ts';
import { percentile } from './stats.ts';

const SECRET = new TextEncoder().encode('bench-control-jwt-secret-0123456789abcdef');
const CONTROL = 'bench-control-secret';
const TOWN = 'town-bench';

const sign = (agentId: string, iat: number) =>
  new SignJWT({ agentId, townId: TOWN, userId: 'u', gen: 1 }).setProtectedHeader({ alg: 'HS256' }).setSubject(agentId).setIssuer('gastown').setAudience('gastown-agent').setIssuedAt(iat).setExpirationTime(iat + 600).setJti(crypto.randomUUID()).sign(SECRET);

export interface ControlBench {
  agents: number;
  p50Ms: number;
  p99Ms: number;
  pushes: number;
  rssPerAgentKb: number;
  heapPerAgentKb: number;
  churnCycles: number;
  heapStartMb: number;
  heapAfterChurnMb: number;
  /** Heap (MB) sampled every 2,000 cycles: a leak climbs, warm-up noise does not. */
  heapSamplesMb: number[];
}

/** The real control server process: refresh latency with many agents held, memory per agent, heap after churn. */
export async function benchControlServer(agentCount = 1_000, pushes = 3_000, churnCycles = 10_000): Promise<ControlBench> {
  const sink = createServer((req, res) => {
    req.resume();
    req.on('end', () => res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true,"accepted":0,"duplicates":0}'));
  });
  await new Promise<void>((r) => sink.listen(0, '127.0.0.1', r));
  const apiUrl = `http://127.0.0.1:${(sink.address() as { port: number }).port}`;
  const port = await freePort();
  const stateDir = mkdtempSync(join(tmpdir(), 'gastown-bench-control-'));
  const child = spawn(process.execPath, ['--expose-gc', '--import', join(ROOT, 'scripts/harness/gc-on-signal.mjs'), join(ROOT, 'container/src/main.ts')], {
    env: { ...process.env, PORT: String(port), HOST: '127.0.0.1', CONTAINER_CONTROL_SECRET: CONTROL, GASTOWN_STATE_DIR: stateDir, HEARTBEAT_INTERVAL_SECONDS: '30' },
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  // the harness preload answers SIGUSR2 with a collection and one line
  let gcDone: (() => void) | null = null;
  createInterface({ input: child.stdout! }).on('line', (line) => {
    if (line.includes('"harness":"gc"')) gcDone?.();
  });
  const collect = () => new Promise<void>((resolve) => {
    gcDone = resolve;
    child.kill('SIGUSR2');
  });
  const url = `http://127.0.0.1:${port}`;
  const call = async (path: string, body?: unknown) => {
    const res = await fetch(`${url}${path}`, { method: body === undefined ? 'GET' : 'POST', headers: { authorization: `Bearer ${CONTROL}`, 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
    return { status: res.status, json: (await res.json()) as any };
  };
  try {
    for (let i = 0; ; i++) {
      try {
        if ((await fetch(`${url}/health`)).ok) break;
      } catch {
        if (i > 100) throw new Error('control server did not start');
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    const memory = async () => {
      await collect();
      return (await call('/stats')).json.memory as { heapUsedBytes: number; rssBytes: number };
    };
    const base = Math.floor(Date.now() / 1000);
    const idle = ['cat'];

    // churn first, on an empty server: heap before and after
    const churnToken = await sign('churn', base);
    for (let i = 0; i < 1_000; i++) {
      await call('/agents/start', { agentId: 'churn', townId: TOWN, rigId: null, role: 'polecat', token: churnToken, apiUrl, command: idle });
      await call('/agents/churn/stop', {});
    }
    const heapStart = (await memory()).heapUsedBytes;
    const heapSamples: number[] = [];
    for (let i = 1; i <= churnCycles; i++) {
      await call('/agents/start', { agentId: 'churn', townId: TOWN, rigId: null, role: 'polecat', token: churnToken, apiUrl, command: idle });
      await call('/agents/churn/stop', {});
      if (i % 2_000 === 0) heapSamples.push((await memory()).heapUsedBytes / 1024 / 1024);
    }
    const heapAfterChurn = (await memory()).heapUsedBytes;

    // hold many agents
    const before = await memory();
    for (let i = 0; i < agentCount; i += 20) {
      await Promise.all(Array.from({ length: Math.min(20, agentCount - i) }, async (_, j) => {
        const id = `held-${i + j}`;
        const r = await call('/agents/start', { agentId: id, townId: TOWN, rigId: null, role: 'polecat', token: await sign(id, base), apiUrl, command: idle });
        if (r.status !== 201) throw new Error(`start ${id}: ${r.status}`);
      }));
    }
    const held = await memory();
    const tokens = await Promise.all(Array.from({ length: pushes }, (_, k) => sign(`held-${k % agentCount}`, base + 1 + Math.floor(k / agentCount))));
    const latencies: number[] = [];
    for (let k = 0; k < pushes; k++) {
      const id = `held-${k % agentCount}`;
      const t0 = performance.now();
      const r = await call(`/agents/${id}/refresh-token`, { token: tokens[k] });
      latencies.push(performance.now() - t0);
      if (r.status !== 200) throw new Error(`refresh ${id}: ${r.status}`);
    }
    latencies.sort((a, b) => a - b);
    return {
      agents: agentCount,
      pushes,
      p50Ms: percentile(latencies, 50),
      p99Ms: percentile(latencies, 99),
      rssPerAgentKb: (held.rssBytes - before.rssBytes) / agentCount / 1024,
      heapPerAgentKb: (held.heapUsedBytes - before.heapUsedBytes) / agentCount / 1024,
      churnCycles,
      heapStartMb: heapStart / 1024 / 1024,
      heapAfterChurnMb: heapAfterChurn / 1024 / 1024,
      heapSamplesMb: heapSamples,
    };
  } finally {
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
    sink.close();
    rmSync(stateDir, { recursive: true, force: true });
  }
}
