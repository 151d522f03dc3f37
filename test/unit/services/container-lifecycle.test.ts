import { describe, expect, it } from 'vitest';
import { checkIdle } from '../../../src/services/container-lifecycle';
import { CONTROL_SECRET, IDLE_COMMAND, useStandInPair } from '../container/harness.ts';
import { signAgentToken } from '../container/stand-in-worker.ts';

/** TownContainer's idle check, against a real control server (what containerFetch reaches in a deployed town). */
describe('the container idle check', () => {
  const t = useStandInPair();
  const fetchStats = (init: RequestInit) => fetch(`${t.c.url}/stats`, init);

  it('counts the agents running, so a quiet container with agents stays up', async () => {
    expect(await checkIdle(fetchStats, CONTROL_SECRET)).toEqual({ agentsRunning: 0 });
    const token = await signAgentToken('idle-check', t.worker.townId, Math.floor(Date.now() / 1000));
    const start = await t.c.call('POST', '/agents/start', { agentId: 'idle-check', townId: t.worker.townId, rigId: null, role: 'polecat', token, apiUrl: t.worker.url, command: IDLE_COMMAND });
    expect(start.status).toBe(201);
    expect(await checkIdle(fetchStats, CONTROL_SECRET)).toEqual({ agentsRunning: 1 });
    expect((await t.c.call('POST', '/agents/idle-check/stop', {})).status).toBe(200);
    expect(await checkIdle(fetchStats, CONTROL_SECRET)).toEqual({ agentsRunning: 0 });
  });

  it('a refused, wrong or missing answer is a failed check, never a count', async () => {
    expect(await checkIdle(fetchStats, 'wrong-secret')).toEqual({ failed: true });
    expect(await checkIdle(() => Promise.resolve(Response.json({ hello: 1 })), CONTROL_SECRET)).toEqual({ failed: true });
    expect(await checkIdle(() => fetch('http://127.0.0.1:9/stats'), CONTROL_SECRET)).toEqual({ failed: true });
  });
});
