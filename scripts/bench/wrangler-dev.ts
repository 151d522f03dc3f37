import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { formatVars } from '../lib/dev-secrets.ts';
import { ROOT } from '../lib/local-town.ts';
import { freePort } from '../lib/ports.ts';

/** A wrangler dev process for a benchmark, on fresh local state. */
export async function startWranglerDev(config: string, vars: Record<string, string>): Promise<{ url: string; stop(): Promise<void> }> {
  const dir = mkdtempSync(join(tmpdir(), 'gastown-bench-'));
  const envFile = join(dir, 'env');
  writeFileSync(envFile, formatVars(vars), { mode: 0o600 });
  const port = await freePort();
  const child: ChildProcess = spawn(join(ROOT, 'node_modules/.bin/wrangler'), ['dev', '-c', config, '--ip', '127.0.0.1', '--port', String(port), '--env-file', envFile, '--persist-to', join(dir, 'state'), '--show-interactive-dev-session=false', '--log-level', 'warn'], {
    cwd: ROOT,
    env: { ...process.env, WRANGLER_SEND_METRICS: 'false' },
    stdio: 'ignore',
    detached: true,
  });
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 90_000;
  for (;;) {
    try {
      if ((await fetch(`${url}/health`)).ok) break;
    } catch {
      // not up yet
    }
    if (Date.now() > deadline || child.exitCode !== null) throw new Error('wrangler dev did not start');
    await new Promise((r) => setTimeout(r, 300));
  }
  return {
    url,
    async stop() {
      try {
        process.kill(-child.pid!, 'SIGTERM');
      } catch {
        // gone
      }
      await new Promise((r) => setTimeout(r, 500));
    },
  };
}

/** Runs `fn` with `concurrency` in flight for `ms`; returns completed calls per second. */
export async function throughput(fn: () => Promise<void>, concurrency: number, ms: number): Promise<number> {
  let done = 0;
  const end = Date.now() + ms;
  const started = Date.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (Date.now() < end) {
        await fn();
        done++;
      }
    }),
  );
  return done / ((Date.now() - started) / 1000);
}
