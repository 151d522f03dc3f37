import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GastownApi } from '../../scripts/lib/gastown-api.ts';
import { startLocalTown, type LocalTown } from '../../scripts/lib/local-town.ts';
import { freePort } from '../../scripts/lib/ports.ts';
import { workerStatusCounter } from '../../scripts/lib/worker-log.ts';

/** A real local town for an e2e test: wrangler dev + control server + agent processes. */
export interface TownFixture {
  town: LocalTown;
  api: GastownApi;
  stateDir: string;
  worker: ReturnType<typeof workerStatusCounter>;
  controlStats(): Promise<any>;
  close(): Promise<void>;
}

/** Starts a town with short lifetimes; `vars` and `controlEnv` override the defaults. */
export async function startTownFixture(options: { vars?: Record<string, string>; controlEnv?: Record<string, string> } = {}): Promise<TownFixture> {
  const stateDir = mkdtempSync(join(tmpdir(), 'gastown-e2e-'));
  const worker = workerStatusCounter();
  const vars = {
    GASTOWN_JWT_SECRET: randomBytes(36).toString('base64url'),
    CONTAINER_CONTROL_SECRET: randomBytes(24).toString('base64url'),
    GASTOWN_CLIENT_ID: 'e2e',
    GASTOWN_CLIENT_SECRET: randomBytes(24).toString('base64url'),
    AGENT_TOKEN_TTL_SECONDS: '20',
    TOKEN_REFRESH_INTERVAL_SECONDS: '5',
    HEARTBEAT_INTERVAL_SECONDS: '2',
    STALL_AFTER_SECONDS: '30',
    ...options.vars,
  };
  const town = await startLocalTown({
    port: await freePort(),
    containerPort: await freePort(),
    vars,
    stateDir,
    controlEnv: { GASTOWN_AGENT_STEP_MS: '1500', GASTOWN_POLECAT_STEPS: '4', GASTOWN_REFINERY_POLL_MS: '1000', ...options.controlEnv },
    onLine: (source, line) => {
      if (source === 'worker') worker.feed(line);
      if (process.env.GASTOWN_E2E_VERBOSE) console.log(`[${source}] ${line}`);
    },
  });
  const api = new GastownApi(town.workerUrl, vars.GASTOWN_CLIENT_ID, vars.GASTOWN_CLIENT_SECRET);
  return {
    town,
    api,
    stateDir,
    worker,
    async controlStats() {
      const res = await fetch(`${town.containerUrl}/stats`, { headers: { authorization: `Bearer ${vars.CONTAINER_CONTROL_SECRET}` } });
      return res.json();
    },
    async close() {
      await town.stop();
      rmSync(stateDir, { recursive: true, force: true });
    },
  };
}

/** Polls `check` until it returns a truthy value or the deadline passes. */
export async function eventually<T>(check: () => Promise<T | undefined | null | false>, timeoutMs: number, what: string): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await check();
      if (value) return value;
    } catch (err) {
      last = err;
    }
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
}
