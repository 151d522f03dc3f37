import { describe, expect, it, vi } from 'vitest';
import { until, useStandInPair } from './harness.ts';
import { signAgentToken } from './stand-in-worker.ts';

const TICKS = 400;
/** 400 events, one every 10 ms, then it waits for a line on stdin and exits 0: the outage spans its output. */
const EMITTER = `let n = 0; const t = setInterval(() => { console.log(JSON.stringify({ type: 'tick', n: ++n })); if (n >= ${TICKS}) { clearInterval(t); process.stdin.once('data', () => process.exit(0)); } }, 10);`;

describe('the Worker down for a long outage (retries shortened through the backoff configuration)', () => {
  const t = useStandInPair({ heartbeatIntervalMs: 100 });

  it('afterwards every event arrives, each exactly once, and the completion report once', async () => {
    const token = await signAgentToken('emitter', t.worker.townId, Math.floor(Date.now() / 1000));
    await t.c.call('POST', '/agents/start', { agentId: 'emitter', townId: t.worker.townId, rigId: null, role: 'polecat', token, apiUrl: t.worker.url, command: [process.execPath, '-e', EMITTER] });
    await until(() => t.worker.events.size >= 20, 10_000, 'the first events');
    t.worker.down = true;
    const warn = vi.spyOn(console, 'warn');
    const log = vi.spyOn(console, 'log');
    await until(() => (t.c.control.agents.get('emitter')?.heartbeats.failures ?? 0) >= 3, 10_000, 'heartbeats to fail');
    const listed = ((await t.c.call('GET', '/agents')).json as Array<Record<string, unknown>>).find((a) => a.agentId === 'emitter')!;
    expect(listed).toMatchObject({ lastHeartbeatFailure: { status: 503, code: 'unavailable', detail: null } });
    expect(listed.heartbeatFailures as number).toBeGreaterThanOrEqual(3);
    // the outage lasts until the agent has printed everything and many retries have failed
    const outbox = () => t.c.control.agents.get('emitter')!.outbox;
    await until(() => t.worker.events.size + outbox().pending >= TICKS && outbox().failures.failures >= 20, 30_000, 'the outage to span the output');
    const bufferedAtEnd = outbox().pending;
    t.worker.down = false;
    await until(() => t.c.control.agents.get('emitter')!.heartbeats.failures === 0, 10_000, 'heartbeats to recover');
    await t.c.call('POST', '/agents/emitter/message', { text: 'exit' });
    await until(() => !t.c.control.agents.get('emitter'), 30_000, 'all events and the completion report delivered');
    const lines = (spy: typeof warn) => spy.mock.calls.map((args) => String(args[0]));
    expect(lines(warn).filter((l) => l.includes('"heartbeats failing"') && l.includes('"emitter"'))).toHaveLength(1);
    expect(lines(warn).filter((l) => l.includes('"deliveries failing"') && l.includes('"emitter"'))).toHaveLength(1);
    expect(lines(log).some((l) => l.includes('"deliveries recovered"'))).toBe(true);
    expect(lines(log).some((l) => l.includes('"heartbeats recovered"'))).toBe(true);
    warn.mockRestore();
    log.mockRestore();
    const ticks = [...t.worker.events.values()].filter((e) => (e as { type: string }).type === 'tick').map((e) => (e as { n: number }).n);
    expect(ticks.length).toBe(TICKS);
    expect([...ticks].sort((a, b) => a - b)).toEqual(Array.from({ length: TICKS }, (_, i) => i + 1));
    const completed = t.worker.calls.filter((x) => x.kind === 'completed' && x.pathAgent === 'emitter');
    expect(completed).toEqual([{ kind: 'completed', pathAgent: 'emitter', body: { status: 'completed', summary: 'exited 0' } }]);
    const { stats } = t.c.control;
    expect(JSON.stringify(stats.drops)).not.toMatch(/[1-9]/);
    expect(stats.eventsDelivered).toBe(stats.eventsQueued);
    expect(bufferedAtEnd).toBeGreaterThan(200);
    console.log(`outage: ${bufferedAtEnd} events buffered at the end of the outage; ${ticks.length} stored once each; ${t.worker.duplicateEvents} re-deliveries of an id already stored (refused by id)`);
  });
});
