import { mkdtempSync, readdirSync, rmSync, statSync, truncateSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { alive, until } from './harness.ts';
import { mainEnv, runMain } from './main-process.ts';
import { signAgentToken, startStandInWorker, type StandInWorker } from './stand-in-worker.ts';

const N = 300;
/** Prints N tick events, then keeps running whatever happens to its stdin. */
const TICKER = [process.execPath, '-e', `for (let n = 1; n <= ${N}; n++) console.log(JSON.stringify({ type: 'tick', n })); setInterval(() => {}, 1000);`];

const cleanup: Array<() => unknown> = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

/** A control server on a fresh state dir, an agent that printed N events it could not deliver (the Worker is down), then SIGKILL. */
async function killedWithUndeliveredEvents(worker: StandInWorker) {
  const stateDir = mkdtempSync(join(tmpdir(), 'gastown-recovery-'));
  cleanup.push(() => rmSync(stateDir, { recursive: true, force: true }));
  const first = runMain(mainEnv(stateDir));
  cleanup.push(() => first.child.kill('SIGKILL'));
  await first.listening();
  const token = await signAgentToken('ticker', worker.townId, Math.floor(Date.now() / 1000));
  const started = await first.call('POST', '/agents/start', { agentId: 'ticker', townId: worker.townId, rigId: null, role: 'polecat', token, apiUrl: worker.url, command: TICKER, containerCredential: worker.credential });
  expect(started.status).toBe(201);
  await until(async () => (await first.call('GET', '/stats')).json.eventsJournaled >= N, 10_000, 'every event journaled');
  first.child.kill('SIGKILL');
  await first.exited;
  expect(alive(started.json.pid)).toBe(true); // the agent outlived its control server
  return { stateDir, agentPid: started.json.pid as number };
}

const ticks = (worker: StandInWorker) => [...worker.events.values()].filter((e) => (e as { type: string }).type === 'tick').map((e) => (e as { n: number }).n);

describe('the journal across a control server killed with SIGKILL (real processes)', () => {
  it('SIGKILL replay: every event the killed server read is stored exactly once by the restarted one, with the token from its file', async () => {
    const worker = await startStandInWorker();
    cleanup.push(() => worker.close());
    worker.down = true;
    const { stateDir, agentPid } = await killedWithUndeliveredEvents(worker);
    expect(worker.events.size).toBe(0);
    const second = runMain(mainEnv(stateDir));
    cleanup.push(() => second.child.kill('SIGKILL'));
    await second.listening();
    // the agent its predecessor left behind is ended; its events are recovered
    await until(() => !alive(agentPid), 5_000, 'the leftover agent to be ended');
    const listed = (await second.call('GET', '/agents')).json as Array<{ agentId: string; status: string; pendingDeliveries: number }>;
    expect(listed).toMatchObject([{ agentId: 'ticker', status: 'recovering', pendingDeliveries: N }]);
    worker.down = false;
    await until(() => ticks(worker).length >= N, 20_000, 'the recovered events stored');
    await until(async () => ((await second.call('GET', '/agents')).json as unknown[]).length === 0, 10_000, 'the recovering outbox released');
    expect([...ticks(worker)].sort((a, b) => a - b)).toEqual(Array.from({ length: N }, (_, i) => i + 1));
    expect(worker.events.size).toBe(N);
    expect(worker.seen.filter((s) => s.kind === 'events' && s.status === 200).every((s) => s.tokenAgent === 'ticker')).toBe(true);
    // delivered: the journal is trimmed, the token file removed
    await until(() => readdirSync(join(stateDir, 'tokens')).length === 0, 5_000, 'the token file removed');
    const stats = (await second.call('GET', '/stats')).json;
    expect(stats.journal.liveRecords).toBe(0);
    expect(stats.leftoverAgentsEnded).toBe(1);
  });

  it('crash mid-write: a journal cut inside its last record loses that record alone (skipped, counted, logged); the rest is stored once', async () => {
    const worker = await startStandInWorker();
    cleanup.push(() => worker.close());
    worker.down = true;
    const { stateDir } = await killedWithUndeliveredEvents(worker);
    const journalDir = join(stateDir, 'journal');
    const last = join(journalDir, readdirSync(journalDir).filter((n) => n.startsWith('segment-')).sort().at(-1)!);
    truncateSync(last, statSync(last).size - 5); // the tick N record is cut short
    const second = runMain(mainEnv(stateDir));
    cleanup.push(() => second.child.kill('SIGKILL'));
    await second.listening();
    expect(JSON.parse(await second.line(/torn records skipped/))).toMatchObject({ count: 1 });
    expect((await second.call('GET', '/stats')).json.journal.tornRecordsSkipped).toBe(1);
    worker.down = false;
    await until(() => ticks(worker).length >= N - 1, 20_000, 'the recovered events stored');
    await until(async () => ((await second.call('GET', '/agents')).json as unknown[]).length === 0, 10_000, 'the recovering outbox released');
    expect([...ticks(worker)].sort((a, b) => a - b)).toEqual(Array.from({ length: N - 1 }, (_, i) => i + 1));
  });
});
