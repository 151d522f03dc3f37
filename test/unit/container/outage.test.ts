import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startControl, until } from './harness.ts';
import { signAgentToken, startStandInWorker, type StandInWorker } from './stand-in-worker.ts';

const EMITTER = `let n = 0; const t = setInterval(() => { console.log(JSON.stringify({ type: 'tick', n: ++n })); if (n >= 400) clearInterval(t); }, 100); process.stdin.resume();`;

describe('the Worker down for 30 s', () => {
  let worker: StandInWorker;
  let c: Awaited<ReturnType<typeof startControl>>;
  beforeAll(async () => {
    worker = await startStandInWorker();
    c = await startControl({ heartbeatIntervalMs: 1_000 });
  });
  afterAll(async () => {
    await c.close();
    await worker.close();
  });

  it('afterwards every event arrives, each exactly once', async () => {
    const token = await signAgentToken('emitter', worker.townId, Math.floor(Date.now() / 1000));
    await c.call('POST', '/agents/start', { agentId: 'emitter', townId: worker.townId, rigId: null, role: 'polecat', token, apiUrl: worker.url, command: [process.execPath, '-e', EMITTER] });
    await until(() => worker.events.size >= 20, 10_000, 'the first events');
    worker.down = true;
    await new Promise((r) => setTimeout(r, 30_000));
    worker.down = false;
    await until(() => [...worker.events.values()].filter((e) => (e as { type: string }).type === 'tick').length >= 400, 30_000, 'all 400 ticks');
    const ticks = [...worker.events.values()].filter((e) => (e as { type: string }).type === 'tick').map((e) => (e as { n: number }).n).sort((a, b) => a - b);
    expect(ticks).toEqual(Array.from({ length: 400 }, (_, i) => i + 1));
    expect(c.control.stats.eventsDropped).toBe(0);
    console.log(`outage: ${worker.duplicateEvents} duplicate deliveries refused by id at the stand-in`);
  });
});
