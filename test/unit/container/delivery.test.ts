import { describe, expect, it } from 'vitest';
import { IDLE_COMMAND, until, useStandInPair } from './harness.ts';
import { OUTBOX_MAX_EVENTS, OUTBOX_PAUSE_EVENTS } from '../../../container/src/services/outbox.ts';
import { signAgentToken } from './stand-in-worker.ts';

const now = () => Math.floor(Date.now() / 1000);
/** Prints `lines` at once (one write), then stays until stdin closes. */
const printing = (lines: string[]) => [process.execPath, '-e', `process.stdout.write(${JSON.stringify(lines.join('\n') + '\n')}); process.stdin.resume(); process.stdin.on('end', () => process.exit(0));`];
/** Prints `lines`, then exits 0. */
const printingThenExit = (lines: string[]) => [process.execPath, '-e', `process.stdout.write(${JSON.stringify(lines.join('\n') + '\n')}, () => process.exit(0));`];

describe('deliveries to the Worker: nothing lost, nothing dropped silently', () => {
  const t = useStandInPair({ heartbeatIntervalMs: 60_000 });

  const start = async (agentId: string, command: string[], extra: Record<string, unknown> = {}, gen = 1, townId = t.worker.townId) =>
    t.c.call('POST', '/agents/start', {
      agentId, townId, rigId: 'rig-1', role: 'polecat', apiUrl: t.worker.url, command, containerCredential: t.worker.credential,
      token: await signAgentToken(agentId, townId, now(), 600, gen), ...extra,
    });
  const storedOf = (agentId: string) => [...t.worker.events.values()].filter((e) => (e as { agentOf?: string }).agentOf === agentId) as Array<Record<string, unknown>>;
  const reportsOf = (agentId: string) => [...t.worker.drops.values()].filter((d) => d.agentId === agentId);

  it('a burst far past the outbox bound while the Worker is down is held back in the pipe (output paused), not dropped: every line is stored once', async () => {
    const count = OUTBOX_MAX_EVENTS + OUTBOX_PAUSE_EVENTS;
    // a real agent that writes as fast as its pipe takes it, then waits
    const burst = [process.execPath, '-e', `let i = 0; const w = () => { while (i < ${count}) { if (!process.stdout.write(JSON.stringify({ type: 'burst', n: ++i, agentOf: 'burster' }) + '\\n')) return process.stdout.once('drain', w); } }; w(); process.stdin.resume(); process.stdin.on('end', () => process.exit(0));`];
    t.worker.down = true;
    const started = await start('burster', burst);
    expect(started.status).toBe(201);
    await until(() => t.c.control.agents.deliveries.get('burster')?.pressured === true, 10_000, 'the outbox to pause the output');
    const queuedWhilePaused = t.c.control.stats.eventsQueued;
    expect(t.c.control.stats.drops.event.overflow).toBe(0);
    t.worker.down = false;
    await until(() => storedOf('burster').length === count, 30_000, 'every line stored');
    expect(new Set(storedOf('burster').map((e) => e.n)).size).toBe(count);
    expect(reportsOf('burster')).toEqual([]);
    expect(t.c.control.stats.drops.event.overflow).toBe(0);
    expect(queuedWhilePaused).toBeLessThan(count);
    await t.c.call('POST', '/agents/burster/stop');
  });

  it('refusal: the one event the Worker refuses is dropped alone (cause refused) and reported; its 49 neighbours are stored', async () => {
    t.worker.refuseEvent = (e) => e.type === 'poison';
    try {
      const lines = Array.from({ length: 50 }, (_, i) => JSON.stringify({ type: i === 24 ? 'poison' : 'fine', n: i + 1, agentOf: 'refuser' }));
      expect((await start('refuser', printing(lines))).status).toBe(201);
      await until(() => storedOf('refuser').length === 49 && reportsOf('refuser').length === 1, 10_000, 'the neighbours stored and the drop reported');
    } finally {
      t.worker.refuseEvent = () => false;
    }
    expect(storedOf('refuser').map((e) => e.n)).toEqual(Array.from({ length: 50 }, (_, i) => i + 1).filter((n) => n !== 25));
    expect(reportsOf('refuser')).toEqual([{ id: expect.any(String), agentId: 'refuser', cause: 'refused', kind: 'event', count: 1 }]);
    expect(t.c.control.stats.drops.event.refused).toBeGreaterThanOrEqual(1);
    await t.c.call('POST', '/agents/refuser/stop');
  });

  it('a JSON line whose type is not a non-empty string of at most 100 chars is kept as an output event, the object under raw (never sent with a wrong type)', async () => {
    // a Worker that refused every wrong type would refuse nothing here: the server never sends one
    t.worker.refuseEvent = (e) => typeof e.type !== 'string' || !e.type || e.type.length > 100;
    const odd = [{ type: 5, agentOf: 'typeless' }, { type: '', agentOf: 'typeless' }, { type: 'x'.repeat(101), agentOf: 'typeless' }, { agentOf: 'typeless', note: 'no type' }];
    const before = t.worker.refusedEvents.size;
    const typeless = () => [...t.worker.events.values()].filter((e) => (e as { raw?: { agentOf?: string } }).raw?.agentOf === 'typeless') as Array<{ type: string; raw: unknown }>;
    try {
      expect((await start('typeless', printing(odd.map((o) => JSON.stringify(o))))).status).toBe(201);
      await until(() => typeless().length === 4, 10_000, 'the odd lines stored');
    } finally {
      t.worker.refuseEvent = () => false;
    }
    expect(typeless().map((e) => e.type)).toEqual(['output', 'output', 'output', 'output']);
    expect(typeless().map((e) => e.raw)).toEqual(odd);
    expect(t.worker.refusedEvents.size).toBe(before);
    await t.c.call('POST', '/agents/typeless/stop');
  });

  it('413: a batch over the Worker\'s body limit is split in halves; an event that alone is too large is dropped (too_large) and reported', async () => {
    t.worker.maxBodyBytes = 12_000;
    t.worker.batches.length = 0; // only this test's batches
    const lines = Array.from({ length: 40 }, (_, i) => JSON.stringify({ type: 'chunk', n: i + 1, agentOf: 'bulky', pad: 'x'.repeat(i === 9 ? 15_000 : 1_000) }));
    try {
      expect((await start('bulky', printing(lines))).status).toBe(201);
      await until(() => storedOf('bulky').length === 39 && reportsOf('bulky').length === 1, 15_000, 'the rest stored and the drop reported');
    } finally {
      t.worker.maxBodyBytes = 1024 * 1024;
    }
    expect(storedOf('bulky').map((e) => e.n)).toEqual(Array.from({ length: 40 }, (_, i) => i + 1).filter((n) => n !== 10));
    expect(reportsOf('bulky')).toMatchObject([{ cause: 'too_large', kind: 'event', count: 1 }]);
    expect(t.worker.batches.some((b) => b.status === 413 && b.count > 1)).toBe(true);
    expect(Math.max(...t.worker.batches.filter((b) => b.status === 200).map((b) => b.bytes))).toBeLessThanOrEqual(12_000);
    await t.c.call('POST', '/agents/bulky/stop');
  });

  it('review-complete is forwarded only with a non-empty beadId and outcome merged or rejected; otherwise an error event bad_review_outcome', async () => {
    const lines = [
      { type: 'review-complete', beadId: 'bead-ok', outcome: 'rejected', agentOf: 'reviewer' },
      { type: 'review-complete', beadId: 'bead-bad', outcome: 'maybe', agentOf: 'reviewer' },
      { type: 'review-complete', beadId: '', outcome: 'merged', agentOf: 'reviewer' },
      { type: 'review-complete', outcome: 'merged', agentOf: 'reviewer' },
    ].map((l) => JSON.stringify(l));
    expect((await start('reviewer', printing(lines))).status).toBe(201);
    const reviews = () => t.worker.calls.filter((c) => c.kind === 'review-complete' && c.pathAgent === 'reviewer');
    // the callback goes after the events it was read with
    await until(() => [...t.worker.events.values()].filter((e) => (e as { code?: string }).code === 'bad_review_outcome').length >= 3 && storedOf('reviewer').length === 4 && reviews().length > 0, 10_000, 'the events and the callback');
    expect(reviews().map((r) => r.body)).toEqual([{ beadId: 'bead-ok', outcome: 'rejected' }]);
    await t.c.call('POST', '/agents/reviewer/stop');
  });

  it('a review callback the Worker refuses (4xx) is dropped (cause refused, kind reviewComplete) and reported', async () => {
    t.worker.reviewStatus = 409;
    try {
      expect((await start('late-review', printing([JSON.stringify({ type: 'review-complete', beadId: 'bead-gone', outcome: 'merged' })]))).status).toBe(201);
      await until(() => reportsOf('late-review').length === 1, 10_000, 'the drop report');
    } finally {
      t.worker.reviewStatus = 200;
    }
    expect(reportsOf('late-review')).toMatchObject([{ cause: 'refused', kind: 'reviewComplete', count: 1 }]);
    expect(t.c.control.stats.drops.reviewComplete.refused).toBeGreaterThanOrEqual(1);
    await t.c.call('POST', '/agents/late-review/stop');
  });

  it('stop: a stopped agent\'s undelivered events are dropped (cause agent_ended) and reported once the Worker is back', async () => {
    t.worker.down = true;
    const lines = Array.from({ length: 7 }, (_, i) => JSON.stringify({ type: 'unsent', n: i, agentOf: 'stopped' }));
    expect((await start('stopped', printing(lines))).status).toBe(201);
    await until(() => t.c.control.stats.eventsJournaled >= 7 && (t.c.control.agents.get('stopped')?.outbox.pending ?? 0) === 7, 10_000, 'the events journaled');
    expect((await t.c.call('POST', '/agents/stopped/stop')).status).toBe(200);
    t.worker.down = false;
    await until(() => reportsOf('stopped').length > 0, 10_000, 'the drop report');
    expect(reportsOf('stopped')).toMatchObject([{ cause: 'agent_ended', kind: 'event', count: 7 }]);
    expect(storedOf('stopped')).toEqual([]);
  });

  it('superseded: a new start of an agent still delivering drops its old completion report, and delivers its old events with the new token', async () => {
    t.worker.down = true;
    const lines = Array.from({ length: 5 }, (_, i) => JSON.stringify({ type: 'old-life', n: i + 1, agentOf: 'phoenix' }));
    expect((await start('phoenix', printingThenExit(lines))).status).toBe(201);
    await until(() => t.c.control.agents.get('phoenix')?.status === 'exited', 10_000, 'the first incarnation to exit');
    expect(t.c.control.agents.get('phoenix')!.outbox.pending).toBe(6); // 5 events and the completion report
    t.worker.currentGen.set('phoenix', 2); // the TownDO restarted it: generation 1 is revoked (not ended)
    expect((await start('phoenix', IDLE_COMMAND, {}, 2)).status).toBe(201);
    t.worker.down = false;
    await until(() => storedOf('phoenix').length === 5 && reportsOf('phoenix').length === 1, 10_000, 'the old events and the drop report');
    expect(t.worker.seen.filter((s) => s.pathAgent === 'phoenix' && s.kind === 'events' && s.status === 200).every((s) => s.tokenGen === 2)).toBe(true);
    expect(t.worker.calls.filter((c) => c.kind === 'completed' && c.pathAgent === 'phoenix')).toEqual([]);
    expect(reportsOf('phoenix')).toMatchObject([{ cause: 'superseded', kind: 'completed', count: 1 }]);
    t.worker.currentGen.delete('phoenix');
    await t.c.call('POST', '/agents/phoenix/stop');
  });

  it('drop reports wait for a credential (none for the town yet, or one a 401 refused), joined per agent, cause and kind meanwhile', async () => {
    const town = 'town-without-credential';
    t.worker.refuseEvent = (e) => e.type === 'poison';
    const poison = Array.from({ length: 3 }, () => JSON.stringify({ type: 'poison' }));
    expect((await start('uncredentialed', printing(poison), { containerCredential: undefined }, 1, town)).status).toBe(201);
    await until(() => t.c.control.stats.drops.event.refused >= 3 && t.c.control.agents.reporter.pending > 0, 10_000, 'the drops');
    expect(t.worker.dropRequests.filter((r) => r.status === 401)).toEqual([]);
    expect(reportsOf('uncredentialed')).toEqual([]);
    // a stale credential: refused with 401, the reports wait for the next one
    expect((await start('other-1', IDLE_COMMAND, { containerCredential: 'stale-credential' }, 1, town)).status).toBe(201);
    await until(() => t.worker.dropRequests.some((r) => r.status === 401), 10_000, 'the 401');
    const refusedRequests = t.worker.dropRequests.length;
    expect(reportsOf('uncredentialed')).toEqual([]);
    expect((await start('other-2', IDLE_COMMAND, { containerCredential: t.worker.credential }, 1, town)).status).toBe(201);
    await until(() => reportsOf('uncredentialed').length > 0, 10_000, 'the reports sent with the new credential');
    expect(reportsOf('uncredentialed')).toEqual([{ id: expect.any(String), agentId: 'uncredentialed', cause: 'refused', kind: 'event', count: 3 }]);
    expect(t.worker.dropRequests.length).toBe(refusedRequests + 1);
    t.worker.refuseEvent = () => false;
    for (const id of ['uncredentialed', 'other-1', 'other-2']) await t.c.call('POST', `/agents/${id}/stop`);
  });

  it('a failed start leaves the town\'s credential as it was; a successful one replaces it', async () => {
    const town = 'town-credential-kept';
    expect((await start('keeper', IDLE_COMMAND, { containerCredential: 'first' }, 1, town)).status).toBe(201);
    expect(t.c.control.agents.reminter.credential(town)).toBe('first');
    expect((await start('bad-start', [process.execPath, '-e', 'x\u0000y'], { containerCredential: 'second' }, 1, town)).status).toBe(400);
    expect((await start('bad-token', IDLE_COMMAND, { containerCredential: 'third', token: 'not-a-token' }, 1, town)).status).toBe(400);
    expect(t.c.control.agents.reminter.credential(town)).toBe('first');
    expect((await start('keeper-2', IDLE_COMMAND, { containerCredential: 'fourth' }, 1, town)).status).toBe(201);
    expect(t.c.control.agents.reminter.credential(town)).toBe('fourth');
    for (const id of ['keeper', 'keeper-2']) await t.c.call('POST', `/agents/${id}/stop`);
  });
});
