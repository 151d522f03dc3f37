import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { until, useStandInPair } from './harness.ts';
import { signAgentToken } from './stand-in-worker.ts';

const FAST = { GASTOWN_AGENT_STEP_MS: '10', GASTOWN_POLECAT_STEPS: '2', GASTOWN_REFINERY_POLL_MS: '50' };

describe('the built-in agent (default command) against the stand-in Worker', () => {
  const t = useStandInPair({ heartbeatIntervalMs: 60_000 });

  const start = async (agentId: string, role: string, env: Record<string, string> = {}) =>
    t.c.call('POST', '/agents/start', {
      agentId, townId: t.worker.townId, rigId: role === 'mayor' ? null : 'rig-1', role, apiUrl: t.worker.url, env: { ...FAST, ...env },
      token: await signAgentToken(agentId, t.worker.townId, Math.floor(Date.now() / 1000)), containerCredential: t.worker.credential,
    });
  const callsOf = (agentId: string) => t.worker.calls.filter((x) => x.pathAgent === agentId);

  it('polecat: gt_prime, N steps of gt_status, gt_done, exit 0 → completion "completed", then forgotten', async () => {
    expect((await start('pc-1', 'polecat')).status).toBe(201);
    await until(() => !t.c.control.agents.get('pc-1'), 20_000, 'the polecat to finish and be forgotten');
    const calls = callsOf('pc-1').map((x) => x.kind).filter((k) => k !== 'heartbeat');
    expect(calls).toEqual(['tools/gt_prime', 'tools/gt_status', 'tools/gt_status', 'tools/gt_done', 'completed']);
    expect(callsOf('pc-1').at(-1)!.body).toMatchObject({ status: 'completed' });
    expect(callsOf('pc-1').find((x) => x.kind === 'tools/gt_done')!.body).toEqual({ summary: 'worked 2 steps on primed work' });
    const steps = [...t.worker.events.values()].filter((e) => (e as { type: string }).type === 'step').map((e) => (e as { n: number }).n);
    expect(steps).toEqual([1, 2]);
    expect(existsSync(`${t.c.stateDir}/tokens/pc-1.jwt`)).toBe(false);
  });

  it('refinery: a review mail becomes a review-complete callback with its own token; it exits when stopped', async () => {
    t.worker.mailbox.set('ref-1', [{ id: 'm1', from: 'pc-9', subject: 'review', body: 'please', beadId: 'bead-42', sentAt: new Date().toISOString() }]);
    expect((await start('ref-1', 'refinery')).status).toBe(201);
    await until(() => callsOf('ref-1').some((x) => x.kind === 'review-complete'), 10_000, 'the review callback');
    expect(callsOf('ref-1').find((x) => x.kind === 'review-complete')!.body).toEqual({ beadId: 'bead-42', outcome: 'merged' });
    expect(t.worker.seen.filter((s) => s.kind === 'review-complete').every((s) => s.tokenAgent === 'ref-1')).toBe(true);
    expect((await t.c.call('POST', '/agents/ref-1/stop')).status).toBe(200);
    expect(t.c.control.agents.get('ref-1')).toBeUndefined();
  });

  it('mayor: a message is filed as a bead and slung; "status" is answered from gt_status', async () => {
    expect((await start('mayor-1', 'mayor')).status).toBe(201);
    await t.c.call('POST', '/agents/mayor-1/message', { text: 'Add a README to the rig' });
    await until(() => callsOf('mayor-1').some((x) => x.kind === 'tools/gt_sling'), 10_000, 'the sling');
    const created = callsOf('mayor-1').find((x) => x.kind === 'tools/gt_bead_create')!;
    expect(created.body).toEqual({ title: 'Add a README to the rig', body: 'Add a README to the rig' });
    const slung = callsOf('mayor-1').find((x) => x.kind === 'tools/gt_sling')!;
    expect(slung.body.beadId).toMatch(/^bead-/);
    await until(() => [...t.worker.events.values()].some((e) => (e as { type: string }).type === 'reply'), 10_000, 'the reply');
    const reply = [...t.worker.events.values()].find((e) => (e as { type: string }).type === 'reply') as { text: string; beadId: string };
    expect(reply.beadId).toBe(slung.body.beadId);
    expect(reply.text).toContain(`for polecat-for-${reply.beadId}`);
    await t.c.call('POST', '/agents/mayor-1/message', { text: 'status' });
    await until(() => [...t.worker.events.values()].filter((e) => (e as { type: string }).type === 'reply').length >= 2, 10_000, 'the status reply');
    const replies = [...t.worker.events.values()].filter((e) => (e as { type: string }).type === 'reply') as Array<{ text: string }>;
    expect(replies[1]!.text).toBe('mayor is working');
    expect(callsOf('mayor-1').some((x) => x.kind === 'tools/gt_mail_check')).toBe(true);
    // no tool call failed so far in this town
    expect([...t.worker.events.values()].filter((e) => (e as { type: string }).type === 'error')).toEqual([]);
  });

  it('a polecat whose tokens are revoked (a newer generation is coming) gives up after 5 refused calls instead of spinning (no re-mint for a revoked token)', async () => {
    t.worker.currentGen.set('pc-revoked', 2); // its gen-1 tokens: 401 token_revoked, agentEnded false
    const remints = t.worker.remints;
    expect((await start('pc-revoked', 'polecat', { GASTOWN_POLECAT_STEPS: '20' })).status).toBe(201);
    await until(() => t.c.control.agents.get('pc-revoked')?.status === 'exited', 20_000, 'the revoked polecat to exit');
    const refusedTools = t.worker.seen.filter((s) => s.pathAgent === 'pc-revoked' && s.kind === 'tool' && s.status === 401);
    expect(refusedTools).toHaveLength(5);
    expect(t.worker.remints).toBe(remints);
    // its events wait for the newer generation's token; the TownDO stops it instead
    expect(t.c.control.agents.get('pc-revoked')!.outbox.pending).toBeGreaterThan(0);
    expect((await t.c.call('POST', '/agents/pc-revoked/stop')).status).toBe(200);
    t.worker.currentGen.delete('pc-revoked');
  });

  it('mail the Worker delivers again until acknowledged is handled once, and acknowledged on the next gt_mail_check', async () => {
    t.worker.mailbox.set('ref-2', [
      { id: 'm-a', from: 'pc-1', subject: 'review', body: 'please', beadId: 'bead-a', sentAt: new Date().toISOString() },
      { id: 'm-b', from: 'pc-2', subject: 'review', body: 'please', beadId: 'bead-b', sentAt: new Date().toISOString() },
    ]);
    expect((await start('ref-2', 'refinery')).status).toBe(201);
    await until(() => !t.worker.mailbox.has('ref-2'), 10_000, 'the mail to be acknowledged');
    const checks = callsOf('ref-2').filter((x) => x.kind === 'tools/gt_mail_check');
    expect(checks[0]!.body).toEqual({});
    expect(checks[1]!.body).toEqual({ ack: ['m-a', 'm-b'] });
    // the same mail arrives again (redelivered before the ack landed): not handled twice
    t.worker.mailbox.set('ref-2', [{ id: 'm-a', from: 'pc-1', subject: 'review', body: 'please', beadId: 'bead-a', sentAt: new Date().toISOString() }]);
    await until(() => !t.worker.mailbox.has('ref-2'), 10_000, 'the redelivered mail to be acknowledged again');
    await until(() => callsOf('ref-2').filter((x) => x.kind === 'review-complete').length >= 2, 10_000, 'the review callbacks');
    const reviews = callsOf('ref-2').filter((x) => x.kind === 'review-complete').map((x) => x.body.beadId);
    expect(reviews).toEqual(['bead-a', 'bead-b']);
    expect((await t.c.call('POST', '/agents/ref-2/stop')).status).toBe(200);
  });
});
