import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { REPORTS_PER_REQUEST } from '../../../container/src/domain/drops.ts';
import { Journal } from '../../../container/src/managers/journal.ts';
import { DropReporter } from '../../../container/src/services/drop-reporter.ts';
import { Stats } from '../../../container/src/services/stats.ts';
import { FAST_BACKOFF, until } from './harness.ts';
import { startStandInWorker, type StandInWorker } from './stand-in-worker.ts';

const cleanup: Array<() => unknown> = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

async function setup() {
  const dir = mkdtempSync(join(tmpdir(), 'gastown-drops-'));
  cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
  const worker = await startStandInWorker();
  cleanup.push(() => worker.close());
  return { dir, worker };
}

/** Credentials by town, with the listener the reporter registers. */
function credentials(initial: Record<string, string> = {}) {
  const map = new Map(Object.entries(initial));
  const listeners: Array<(townId: string) => void> = [];
  return {
    credential: (townId: string) => map.get(townId) ?? null,
    onCredential: (l: (townId: string) => void) => listeners.push(l),
    set(townId: string, value: string) {
      map.set(townId, value);
      listeners.forEach((l) => l(townId));
    },
  };
}

function open(dir: string, worker: StandInWorker, creds = credentials({ [worker.townId]: worker.credential })) {
  const { journal, replayed } = Journal.open(join(dir, 'journal'));
  const reporter = new DropReporter(journal, new Stats(), creds, FAST_BACKOFF);
  reporter.restore(replayed.reports);
  return { journal, reporter, replayed };
}

describe('drop reports', () => {
  it(`are sent at most ${REPORTS_PER_REQUEST} per request, each once`, async () => {
    const { dir, worker } = await setup();
    const { journal, reporter } = open(dir, worker);
    for (let i = 0; i < 1_200; i++) reporter.add({ agentId: `agent-${i}`, townId: worker.townId, apiUrl: worker.url }, 'overflow', 'event', 1, []);
    await until(() => worker.drops.size === 1_200 && reporter.pending === 0, 10_000, 'every report accepted');
    expect(worker.dropRequests.map((r) => r.reports)).toEqual([500, 500, 200]);
    await journal.close();
  });

  it('survive a restart: journaled before they are sent, replayed with the same id, stored once', async () => {
    const { dir, worker } = await setup();
    worker.down = true;
    const first = open(dir, worker);
    first.reporter.add({ agentId: 'a1', townId: worker.townId, apiUrl: worker.url }, 'refused', 'event', 2, []);
    first.reporter.add({ agentId: 'a1', townId: worker.townId, apiUrl: worker.url }, 'superseded', 'completed', 1, []);
    await until(() => worker.dropRequests.length === 0 && first.journal.stats.liveRecords === 2, 5_000, 'the reports journaled');
    first.reporter.halt();
    await first.journal.close();
    worker.down = false;
    const second = open(dir, worker);
    expect(second.replayed.reports.map((r) => [r.cause, r.kind, r.count])).toEqual([['refused', 'event', 2], ['superseded', 'completed', 1]]);
    await until(() => second.reporter.pending === 0, 10_000, 'the replayed reports accepted');
    expect(worker.dropTotals()).toEqual({ 'event/refused': 2, 'completed/superseded': 1 });
    await second.journal.close();
    expect(Journal.open(join(dir, 'journal')).replayed.reports).toEqual([]);
  });

  it('without a credential they wait, joined per agent, cause and kind; the next credential sends them', async () => {
    const { dir, worker } = await setup();
    const creds = credentials();
    const { journal, reporter } = open(dir, worker, creds);
    const agent = { agentId: 'a1', townId: worker.townId, apiUrl: worker.url };
    for (let i = 0; i < 5; i++) reporter.add(agent, 'overflow', 'event', 1, []);
    reporter.add(agent, 'agent_ended', 'completed', 1, []);
    await journal.flush();
    expect(worker.dropRequests).toEqual([]);
    creds.set(worker.townId, worker.credential);
    await until(() => reporter.pending === 0, 10_000, 'the reports sent');
    expect([...worker.drops.values()].map((d) => [d.cause, d.kind, d.count])).toEqual([['overflow', 'event', 5], ['agent_ended', 'completed', 1]]);
    await journal.close();
  });
});
