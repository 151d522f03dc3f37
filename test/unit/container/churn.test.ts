import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import v8 from 'node:v8';
import vm from 'node:vm';
import { createControlServer } from '../../../container/src/app.ts';
import type { ProcessHooks, ProcessManager } from '../../../container/src/managers/process-manager.ts';
import { CONTROL_SECRET, IDLE_COMMAND, startControl, until } from './harness.ts';
import { signAgentToken, startStandInWorker } from './stand-in-worker.ts';

/** A process manager behind the seam: no spawn, the same start/kill contract. */
class FakeProcesses {
  size = 0;
  uidsHeld = 0;
  recover() {
    return 0;
  }
  start(_id: string, _cmd: readonly string[], _prepare: unknown, hooks: ProcessHooks) {
    this.size++;
    let alive = true;
    return {
      pid: 1,
      owner: null,
      send: () => alive,
      kill: async () => {
        if (!alive) return;
        alive = false;
        this.size--;
        hooks.onExit(null, 'SIGTERM');
      },
    };
  }
}

/** A real collector: --expose-gc cannot be passed to vitest's workers, so expose it at run time. */
v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;
const heapMb = () => {
  gc();
  gc();
  return process.memoryUsage().heapUsed / 1024 / 1024;
};

describe('start/stop churn releases everything', () => {
  it('10,000 start/refresh/stop cycles through the HTTP routes leave every registry and the token files empty', async () => {
    const stateDir = mkdtempSync(join(tmpdir(), 'gastown-churn-'));
    const processes = new FakeProcesses();
    const control = createControlServer(
      { port: 1, host: '127.0.0.1', controlSecret: CONTROL_SECRET, heartbeatIntervalMs: 30_000, stateDir, isolation: 'auto' },
      { processes: processes as unknown as ProcessManager },
    );
    const post = async (path: string, body: unknown) =>
      (await control.app.request(path, { method: 'POST', headers: { authorization: `Bearer ${CONTROL_SECRET}`, 'content-type': 'application/json' }, body: JSON.stringify(body) })).status;
    const iat = Math.floor(Date.now() / 1000);
    const [token, newer] = await Promise.all([signAgentToken('churn', 'town-churn', iat), signAgentToken('churn', 'town-churn', iat + 1)]);
    const start = { agentId: 'churn', townId: 'town-churn', rigId: null, role: 'polecat', token, apiUrl: 'http://127.0.0.1:9', containerCredential: 'cred' };
    const cycle = async () => {
      expect(await post('/agents/start', start)).toBe(201);
      expect(await post('/agents/churn/refresh-token', { token: newer })).toBe(200);
      expect(await post('/agents/churn/stop', {})).toBe(200);
    };
    for (let i = 0; i < 1_000; i++) await cycle();
    const before = heapMb();
    const t0 = Date.now();
    for (let i = 0; i < 10_000; i++) await cycle();
    const after = heapMb();
    console.log(`churn: heap ${before.toFixed(2)} MB → ${after.toFixed(2)} MB (${(after - before >= 0 ? '+' : '') + (after - before).toFixed(2)} MB) after 10,000 start/refresh/stop cycles in ${Date.now() - t0} ms`);
    const { agents, tokens } = control;
    expect(agents.size).toBe(0);
    expect(tokens.size).toBe(0);
    expect(processes.size).toBe(0);
    expect(agents.heartbeats.size).toBe(0);
    expect(agents.reminter.inFlight).toBe(0);
    expect(agents.reminter.credentials).toBe(1); // one per town, not per start
    expect(readdirSync(join(stateDir, 'tokens'))).toEqual([]);
    // each cycle allocates a record, nonce, outbox and token entry: a leak of them would be ≥ 10 MB here
    expect(after - before).toBeLessThan(3);
    rmSync(stateDir, { recursive: true, force: true });
  });

  it('300 real spawn/stop cycles of distinct agents through HTTP leave nothing behind, on disk neither', async () => {
    const worker = await startStandInWorker();
    const c = await startControl({ heartbeatIntervalMs: 60_000 });
    try {
      const iat = Math.floor(Date.now() / 1000);
      for (let i = 0; i < 300; i++) {
        const agentId = `real-${i}`;
        const token = await signAgentToken(agentId, worker.townId, iat);
        const started = await c.call('POST', '/agents/start', { agentId, townId: worker.townId, rigId: null, role: 'polecat', token, apiUrl: worker.url, command: IDLE_COMMAND });
        expect(started.status).toBe(201);
        expect(existsSync(c.control.processes.workDirOf(agentId))).toBe(true);
        expect((await c.call('POST', '/agents/' + agentId + '/stop')).status).toBe(200);
      }
      await until(() => c.control.processes.removing === 0 && c.control.processes.uidsHeld === 0, 10_000, 'folders removed, uids released');
      for (const dir of ['work', 'home', 'processes', 'tokens']) expect([dir, readdirSync(join(c.stateDir, dir))]).toEqual([dir, []]);
      const stats = (await c.call('GET', '/stats')).json;
      expect(stats).toMatchObject({ agentsHeld: 0, tokensHeld: 0, processes: 0, heartbeatTargets: 0, agentsStarted: 300 });
      expect(readdirSync(join(c.stateDir, 'tokens'))).toEqual([]);
    } finally {
      await c.close();
      await worker.close();
    }
  });
});
