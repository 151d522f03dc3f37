import { serve } from '@hono/node-server';
import { afterAll, beforeAll } from 'vitest';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createControlServer, type ControlServer, type ControlServerOptions } from '../../../container/src/app.ts';
import type { ControlConfig } from '../../../container/src/config.ts';
import { startStandInWorker, type StandInWorker } from './stand-in-worker.ts';

export const CONTROL_SECRET = 'control-secret-for-tests';
/** Delivery retries shortened through configuration: tests never wait out real backoff. */
export const FAST_BACKOFF = { baseMs: 5, capMs: 50, floorMs: 1 };

/** A real control server on a loopback port, in this process (on `stateDir` when given, else a fresh one). */
export async function startControl(overrides: Partial<ControlConfig> = {}, options: ControlServerOptions = {}) {
  const stateDir = overrides.stateDir ?? mkdtempSync(join(tmpdir(), 'gastown-control-'));
  const config: ControlConfig = { port: 0, host: '127.0.0.1', controlSecret: CONTROL_SECRET, heartbeatIntervalMs: 200, isolation: 'auto', ...overrides, stateDir };
  const control: ControlServer = createControlServer(config, { backoff: FAST_BACKOFF, ...options });
  const http = await new Promise<ReturnType<typeof serve>>((resolve) => {
    const s = serve({ fetch: control.app.fetch, port: 0, hostname: '127.0.0.1' }, (info) => {
      config.port = info.port;
      resolve(s);
    });
  });
  const url = `http://127.0.0.1:${config.port}`;
  const call = async (method: string, path: string, body?: unknown, secret: string | null = CONTROL_SECRET) => {
    const res = await fetch(`${url}${path}`, {
      method,
      headers: { ...(secret ? { authorization: `Bearer ${secret}` } : {}), 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, json: text ? JSON.parse(text) : null };
  };
  return {
    control,
    config,
    url,
    stateDir,
    call,
    /** Shuts the server down; `keepState` leaves its state dir for another server. */
    async close(keepState = false) {
      await control.close(0);
      await new Promise<void>((r) => http.close(() => r()));
      if (!keepState) rmSync(stateDir, { recursive: true, force: true });
    },
  };
}

/** Polls until `check` is truthy (for conditions outside this process's control). */
export async function until(check: () => boolean | Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** A command that stays alive until its stdin closes. */
export const IDLE_COMMAND = [process.execPath, '-e', 'process.stdin.resume(); process.stdin.on("end", () => process.exit(0))'];

/** Running (a killed orphan may linger as a zombie until it is reaped: that counts as dead). */
export function alive(pid: number): boolean {
  try {
    return !/^\d+ \(.*\) [ZX]/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

/**
 * A stand-in Worker and a control server for one `describe` block: started before its
 * tests, closed after them. Read `t.worker` and `t.c` inside the tests.
 */
export function useStandInPair(overrides: Partial<ControlConfig> = {}, options: ControlServerOptions = {}) {
  const t = {} as { worker: StandInWorker; c: Awaited<ReturnType<typeof startControl>> };
  beforeAll(async () => {
    t.worker = await startStandInWorker();
    t.c = await startControl(overrides, options);
  });
  afterAll(async () => {
    await t.c?.close();
    await t.worker?.close();
  });
  return t;
}
