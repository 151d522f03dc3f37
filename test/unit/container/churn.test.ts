import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { TokenFiles } from '../../../container/src/managers/token-file.ts';
import type { ProcessHooks, ProcessManager } from '../../../container/src/managers/process-manager.ts';
import { TokenStore } from '../../../container/src/managers/token-store.ts';
import { AgentService } from '../../../container/src/services/agents.ts';
import { Stats } from '../../../container/src/services/stats.ts';
import { IDLE_COMMAND, startControl } from './harness.ts';
import { signAgentToken, startStandInWorker } from './stand-in-worker.ts';

/** A process manager behind the seam: no spawn, the same start/kill contract. */
class FakeProcesses {
  size = 0;
  start(_id: string, _cmd: readonly string[], _env: NodeJS.ProcessEnv, hooks: ProcessHooks) {
    this.size++;
    let alive = true;
    return {
      pid: 1,
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

const heapMb = () => {
  (globalThis as { gc?: () => void }).gc?.();
  return process.memoryUsage().heapUsed / 1024 / 1024;
};

describe('start/stop churn releases everything', () => {
  it('10,000 cycles through the agent service leave the registries and token files empty', async () => {
    const stateDir = mkdtempSync(join(tmpdir(), 'gastown-churn-'));
    const tokens = new TokenStore();
    const processes = new FakeProcesses();
    const agents = new AgentService({
      config: { port: 1, controlSecret: 'x', heartbeatIntervalMs: 30_000, stateDir, clockSkewMs: 0 },
      tokens,
      files: new TokenFiles(stateDir),
      processes: processes as unknown as ProcessManager,
      stats: new Stats(),
    });
    const token = await signAgentToken('churn', 'town-churn', Math.floor(Date.now() / 1000));
    const cycle = async () => {
      const r = agents.start({ agentId: 'churn', townId: 'town-churn', rigId: null, role: 'polecat', token, apiUrl: 'http://127.0.0.1:9', containerCredential: 'cred' });
      expect(r.status).toBe(201);
      await agents.stop('churn');
    };
    for (let i = 0; i < 500; i++) await cycle();
    const before = heapMb();
    for (let i = 0; i < 10_000; i++) await cycle();
    const after = heapMb();
    console.log(`churn: heap ${before.toFixed(1)} MB → ${after.toFixed(1)} MB after 10,000 start/stop cycles`);
    expect(agents.size).toBe(0);
    expect(tokens.size).toBe(0);
    expect(processes.size).toBe(0);
    expect(agents.heartbeats.size).toBe(0);
    expect(agents.reminter.inFlight).toBe(0);
    expect(readdirSync(join(stateDir, 'tokens'))).toEqual([]);
    expect(after - before).toBeLessThan(20);
    rmSync(stateDir, { recursive: true, force: true });
  });

  it('300 real spawn/stop cycles through HTTP leave nothing behind', async () => {
    const worker = await startStandInWorker();
    const c = await startControl({ heartbeatIntervalMs: 60_000 });
    try {
      const token = await signAgentToken('real', worker.townId, Math.floor(Date.now() / 1000));
      for (let i = 0; i < 300; i++) {
        const started = await c.call('POST', '/agents/start', { agentId: 'real', townId: worker.townId, rigId: null, role: 'polecat', token, apiUrl: worker.url, command: IDLE_COMMAND });
        expect(started.status).toBe(201);
        expect((await c.call('POST', '/agents/real/stop')).status).toBe(200);
      }
      const stats = (await c.call('GET', '/stats')).json;
      expect(stats).toMatchObject({ agentsHeld: 0, tokensHeld: 0, processes: 0, heartbeatTargets: 0, agentsStarted: 300 });
      expect(readdirSync(join(c.stateDir, 'tokens'))).toEqual([]);
    } finally {
      await c.close();
      await worker.close();
    }
  });
});
