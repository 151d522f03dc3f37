import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { startControl, until } from './harness.ts';
import { signAgentToken, startStandInWorker, type StandInWorker } from './stand-in-worker.ts';

const TICKS = 400;
/** 400 events, one every 100 ms (40 s, spanning the outage), then exit 0. */
const EMITTER = `let n = 0; const t = setInterval(() => { console.log(JSON.stringify({ type: 'tick', n: ++n })); if (n >= ${TICKS}) { clearInterval(t); process.exit(0); } }, 100);`;

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

  it('afterwards every event arrives, each exactly once, and the completion report once', async () => {
    const token = await signAgentToken('emitter', worker.townId, Math.floor(Date.now() / 1000));
    await c.call('POST', '/agents/start', { agentId: 'emitter', townId: worker.townId, rigId: null, role: 'polecat', token, apiUrl: worker.url, command: [process.execPath, '-e', EMITTER] });
    await until(() => worker.events.size >= 20, 10_000, 'the first events');
    worker.down = true;
    const outageStart = Date.now();
    const warn = vi.spyOn(console, 'warn');
    const log = vi.spyOn(console, 'log');
    await until(() => (c.control.agents.get('emitter')?.heartbeats.failures ?? 0) >= 3, 10_000, 'heartbeats to fail');
    const listed = ((await c.call('GET', '/agents')).json as Array<Record<string, unknown>>).find((a) => a.agentId === 'emitter')!;
    expect(listed).toMatchObject({ lastHeartbeatFailure: { status: 503, code: 'unavailable', detail: null } });
    expect((listed.heartbeatFailures as number)).toBeGreaterThanOrEqual(3);
    expect((listed.deliveryFailures as number)).toBeGreaterThanOrEqual(1);
    await new Promise((r) => setTimeout(r, 30_000 - (Date.now() - outageStart))); // the outage itself: real time
    const bufferedAtEnd = c.control.agents.get('emitter')!.outbox.pending;
    worker.down = false;
    await until(() => !c.control.agents.get('emitter'), 30_000, 'all events and the completion report delivered');
    const lines = (spy: typeof warn) => spy.mock.calls.map((args) => String(args[0]));
    expect(lines(warn).filter((l) => l.includes('"heartbeats failing"') && l.includes('"emitter"'))).toHaveLength(1);
    expect(lines(warn).filter((l) => l.includes('"deliveries failing"') && l.includes('"emitter"'))).toHaveLength(1);
    expect(lines(log).some((l) => l.includes('"deliveries recovered"'))).toBe(true);
    expect(lines(log).some((l) => l.includes('"heartbeats recovered"'))).toBe(true);
    warn.mockRestore();
    log.mockRestore();
    const ticks = [...worker.events.values()].filter((e) => (e as { type: string }).type === 'tick').map((e) => (e as { n: number }).n);
    expect(ticks.length).toBe(TICKS);
    expect([...ticks].sort((a, b) => a - b)).toEqual(Array.from({ length: TICKS }, (_, i) => i + 1));
    const completed = worker.calls.filter((x) => x.kind === 'completed' && x.pathAgent === 'emitter');
    expect(completed).toEqual([{ kind: 'completed', pathAgent: 'emitter', body: { status: 'completed', summary: 'exited 0' } }]);
    const { stats } = c.control;
    expect(stats.eventsDropped).toBe(0);
    expect(stats.eventsDelivered).toBe(stats.eventsQueued);
    expect(bufferedAtEnd).toBeGreaterThan(200);
    console.log(`outage: ${bufferedAtEnd} events buffered at the end of the 30 s outage; ${ticks.length} stored once each; ${worker.duplicateEvents} re-deliveries of an id already stored (refused by id)`);
  });
});
