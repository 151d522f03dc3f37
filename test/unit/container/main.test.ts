import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { describe, expect, it } from 'vitest';
import { IDLE_COMMAND } from './harness.ts';
import { signAgentToken } from './stand-in-worker.ts';

const MAIN = new URL('../../../container/src/main.ts', import.meta.url).pathname;

function run(env: Record<string, string>) {
  const child = spawn(process.execPath, [MAIN], { env: { PATH: process.env.PATH ?? '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: string[] = [];
  const waiters: Array<() => void> = [];
  for (const stream of [child.stdout, child.stderr]) createInterface({ input: stream }).on('line', (l) => (lines.push(l), waiters.splice(0).forEach((w) => w())));
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  const line = (match: RegExp) =>
    new Promise<string>((resolve, reject) => {
      const check = () => {
        const found = lines.find((l) => match.test(l));
        if (found) resolve(found);
        else waiters.push(check);
      };
      exited.then(() => reject(new Error(`exited before ${match}: ${lines.join('\n')}`)));
      check();
    });
  return { child, lines, exited, line };
}

describe('node container/src/main.ts', () => {
  it('refuses to start without CONTAINER_CONTROL_SECRET', async () => {
    const p = run({ PORT: '0' });
    expect(await p.exited).toBe(1);
    expect(p.lines.join('\n')).toMatch(/CONTAINER_CONTROL_SECRET/);
  });

  it('serves on PORT=0, and on SIGTERM ends its agents and exits 0', async () => {
    const stateDir = mkdtempSync(join(tmpdir(), 'gastown-main-'));
    const secret = 'main-test-secret';
    const p = run({ PORT: '0', CONTAINER_CONTROL_SECRET: secret, GASTOWN_STATE_DIR: stateDir });
    try {
      const { port } = JSON.parse(await p.line(/listening/)) as { port: number };
      const url = `http://127.0.0.1:${port}`;
      expect(await (await fetch(`${url}/health`)).json()).toEqual({ ok: true });
      const token = await signAgentToken('main-agent', 'town-main', Math.floor(Date.now() / 1000));
      const started = await fetch(`${url}/agents/start`, {
        method: 'POST', headers: { authorization: `Bearer ${secret}`, 'content-type': 'application/json' },
        body: JSON.stringify({ agentId: 'main-agent', townId: 'town-main', rigId: null, role: 'polecat', token, apiUrl: 'http://127.0.0.1:9', command: IDLE_COMMAND }),
      });
      expect(started.status).toBe(201);
      const { pid } = (await started.json()) as { pid: number };
      p.child.kill('SIGTERM');
      expect(await p.exited).toBe(0);
      expect(() => process.kill(pid, 0)).toThrow();
      expect(p.lines.join('\n')).not.toContain(secret);
      expect(p.lines.join('\n')).not.toContain(token);
    } finally {
      p.child.kill('SIGKILL');
      rmSync(stateDir, { recursive: true, force: true });
    }
  });
});
