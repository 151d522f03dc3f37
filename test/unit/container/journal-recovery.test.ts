import { mkdtempSync, readdirSync, rmSync, statSync, truncateSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { alive, startControl, until } from './harness.ts';
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

  it('crash mid-write: a journal cut inside its last record loses that record alone (skipped, counted, logged, reported as a journal_torn drop of its agent); the rest is stored once', async () => {
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
    await until(() => worker.dropTotals()['event/journal_torn'] === 1, 10_000, 'the lost event reported');
    expect([...worker.drops.values()]).toEqual([{ id: expect.any(String), agentId: 'ticker', cause: 'journal_torn', kind: 'event', count: 1 }]);
    expect((await second.call('GET', '/stats')).json.drops.event.journal_torn).toBe(1);
    expect(second.lines.some((l) => l.includes('"msg":"items dropped"') && l.includes('"cause":"journal_torn"'))).toBe(true);
  });
});

describe('recovering agents (what a previous server journaled, delivered by the next)', () => {
  const now = () => Math.floor(Date.now() / 1000);
  const PRINT5 = (exit: boolean) => [process.execPath, '-e', `for (let n = 1; n <= 5; n++) console.log(JSON.stringify({ type: 'left', n })); ${exit ? 'process.exit(0)' : 'setInterval(() => {}, 1000)'}`];
  const left = (worker: StandInWorker) => [...worker.events.values()].filter((e) => (e as { type: string }).type === 'left').length;

  /** A server that journaled 5 events of `agentId` (the Worker down), then shut down; its state dir. */
  async function previousServer(worker: StandInWorker, agentId: string, exit = false) {
    worker.down = true;
    const c = await startControl({ heartbeatIntervalMs: 60_000 });
    cleanup.push(() => rmSync(c.stateDir, { recursive: true, force: true }));
    const token = await signAgentToken(agentId, worker.townId, now() - 100);
    const started = await c.call('POST', '/agents/start', { agentId, townId: worker.townId, rigId: null, role: 'polecat', token, apiUrl: worker.url, command: PRINT5(exit), containerCredential: worker.credential });
    expect(started.status).toBe(201);
    await until(() => c.control.stats.eventsJournaled >= 5 && (!exit || c.control.agents.get(agentId)?.status === 'exited'), 10_000, 'the events journaled');
    await c.close(true);
    return c.stateDir;
  }

  it('a recovering agent whose kept token has expired heals through the container credential the previous server kept on disk', async () => {
    const worker = await startStandInWorker();
    cleanup.push(() => worker.close());
    const stateDir = await previousServer(worker, 'healer');
    worker.minIat = now() - 50; // the token in its file is refused as expired now
    worker.down = false;
    const remints = worker.remints;
    const c = await startControl({ stateDir, heartbeatIntervalMs: 60_000 });
    cleanup.push(() => c.close());
    await until(() => left(worker) === 5, 10_000, 'the recovered events delivered');
    expect(worker.remints - remints).toBe(1);
    await until(() => c.control.agents.list().length === 0, 10_000, 'the recovering outbox released');
  });

  it('a recovering agent the Worker says has ended: what is left is dropped (agent_ended) and reported', async () => {
    const worker = await startStandInWorker();
    cleanup.push(() => worker.close());
    const stateDir = await previousServer(worker, 'gone');
    worker.revoked.add('gone');
    worker.down = false;
    const c = await startControl({ stateDir, heartbeatIntervalMs: 60_000 });
    cleanup.push(() => c.close());
    await until(() => (worker.dropTotals()['event/agent_ended'] ?? 0) === 5, 10_000, 'the drop reported');
    expect(left(worker)).toBe(0);
    expect(c.control.agents.list()).toEqual([]);
  });

  it('the TownDO starts a recovering agent again: refresh says 404 until then; the new start adopts its outbox (old completion superseded, old events with the new token)', async () => {
    const worker = await startStandInWorker();
    cleanup.push(() => worker.close());
    const stateDir = await previousServer(worker, 'lazarus', true);
    const c = await startControl({ stateDir, heartbeatIntervalMs: 60_000 });
    cleanup.push(() => c.close());
    expect(c.control.agents.list()).toMatchObject([{ agentId: 'lazarus', status: 'recovering', pendingDeliveries: 6, pid: null }]);
    const fresh = await signAgentToken('lazarus', worker.townId, now(), 600, 2);
    expect((await c.call('POST', '/agents/lazarus/refresh-token', { token: fresh })).status).toBe(404);
    worker.currentGen.set('lazarus', 2);
    const started = await c.call('POST', '/agents/start', { agentId: 'lazarus', townId: worker.townId, rigId: null, role: 'polecat', token: fresh, apiUrl: worker.url, command: [process.execPath, '-e', 'process.stdin.resume()'], containerCredential: worker.credential });
    expect(started.status).toBe(201);
    worker.down = false;
    await until(() => left(worker) === 5 && (worker.dropTotals()['completed/superseded'] ?? 0) === 1, 10_000, 'the old events and the drop report');
    expect(worker.seen.filter((s) => s.kind === 'events' && s.status === 200).every((s) => s.tokenGen === 2)).toBe(true);
    expect(worker.calls.filter((x) => x.kind === 'completed')).toEqual([]);
    expect(c.control.agents.list()).toMatchObject([{ agentId: 'lazarus', status: 'running' }]);
  });
});
