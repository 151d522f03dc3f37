import { env } from 'cloudflare:workers';
import { runDurableObjectAlarm, runInDurableObject } from 'cloudflare:test';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { api, claimsOf, dispatch, harness, idleCommand, newTown } from './helpers';

const stubOf = (townId: string) => env.TOWN.getByName(townId);
const sql = (townId: string, query: string, ...args: (string | number | null)[]) =>
  runInDurableObject(stubOf(townId), (_i, state) => state.storage.sql.exec(query, ...args).toArray());
const reconcileNow = (townId: string) => sql(townId, `UPDATE meta SET value = 1 WHERE key = 'next_reconcile_at'`);
const heartbeat = (townId: string, agentId: string, token: string) => api(`/api/towns/${townId}/agents/${agentId}/heartbeat`, { token, body: {} });

async function agentOf(t: { townId: string; token: string }, id: string) {
  const view = (await api(`/api/towns/${t.townId}`, { token: t.token })).json;
  return view.agents.find((a: { id: string }) => a.id === id) as { id: string; status: string; tokenGen: number; restartCount: number; endReason: string | null; refreshCount: number };
}

async function beadOf(t: { townId: string; token: string }, id: string) {
  const view = (await api(`/api/towns/${t.townId}`, { token: t.token })).json;
  return view.beads.find((b: { id: string }) => b.id === id) as { id: string; status: string; assignee: string | null };
}

/** A bead filed by a running mayor (an idle process the test speaks for). */
async function newBead(t: { townId: string; token: string; rigId: string }, title = 'work') {
  const mayorId = await dispatch(t, 'mayor');
  const created = await api(`/api/towns/${t.townId}/agents/${mayorId}/tools/gt_bead_create`, { token: await harness.token(mayorId), body: { title, rigId: t.rigId } });
  expect(created.status).toBe(200);
  return { beadId: created.json.bead.id as string, mayorId };
}

/** Waits for what an alarm due now does, whether the test runs it or the runtime fires it first. */
async function eventually(check: () => Promise<boolean>, timeoutMs = 5_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function seenSince(townId: string, from: number) {
  return (await harness.seen(townId)).filter((s) => s.seq > from);
}
const lastSeq = async (townId: string) => (await harness.seen(townId)).at(-1)?.seq ?? 0;

describe('reconciliation with the container', () => {
  it('an agent the container lost is started again under a new generation; its old token is revoked but not ended', async () => {
    const t = await newTown();
    const id = await dispatch(t);
    const oldToken = await harness.token(id);
    await harness.loseAgent(id);
    expect((await harness.containerAgents(t.townId)).map((a) => a.agentId)).not.toContain(id);

    await reconcileNow(t.townId);
    await runDurableObjectAlarm(stubOf(t.townId));

    expect((await harness.containerAgents(t.townId)).map((a) => a.agentId)).toContain(id);
    const agent = await agentOf(t, id);
    expect(agent).toMatchObject({ status: 'working', tokenGen: 2, restartCount: 1 });
    expect(claimsOf(await harness.token(id)).gen).toBe(2);
    const stale = await heartbeat(t.townId, id, oldToken);
    expect(stale.status).toBe(401);
    expect(stale.json.error).toMatchObject({ code: 'token_revoked', agentEnded: false });
    expect((await heartbeat(t.townId, id, await harness.token(id))).status).toBe(200);
  });

  it('a stop that never reached the container is retried: reconciliation stops what the town ended', async () => {
    const t = await newTown();
    const keep = await dispatch(t);
    const id = await dispatch(t);
    await harness.fault(t.townId, { path: `^/agents/${id}/stop$`, status: 503, count: 1 });
    expect((await api(`/api/towns/${t.townId}/agents/${id}/stop`, { token: t.token, body: {} })).json.status).toBe('stopped');
    expect((await harness.containerAgents(t.townId)).map((a) => a.agentId)).toContain(id);

    await reconcileNow(t.townId);
    await runDurableObjectAlarm(stubOf(t.townId));
    const running = (await harness.containerAgents(t.townId)).map((a) => a.agentId);
    expect(running).not.toContain(id);
    expect(running).toContain(keep);
  });

  it('past the restart cap an agent lost again fails with the reason, and its bead goes back', async () => {
    const t = await newTown();
    const { beadId } = await newBead(t);
    const id = await dispatch(t, 'polecat', { beadId });
    expect(await beadOf(t, beadId)).toMatchObject({ status: 'assigned', assignee: id });
    await sql(t.townId, `UPDATE agents SET restart_count = 5 WHERE id = ?`, id);
    await harness.loseAgent(id);
    await reconcileNow(t.townId);
    await runDurableObjectAlarm(stubOf(t.townId));
    const agent = await agentOf(t, id);
    expect(agent.status).toBe('failed');
    expect(agent.endReason).toMatch(/restarted 5 times.*MAX_RESTARTS/);
    expect(await beadOf(t, beadId)).toMatchObject({ status: 'open', assignee: null });
  });

  it('the container stopping makes the town reconcile at once', async () => {
    const t = await newTown();
    await dispatch(t);
    const result = await stubOf(t.townId).containerStopped({ exitCode: 137, reason: 'exit' });
    expect(result).toMatchObject({ ok: true, value: { liveAgents: 1 } });
    const [row] = (await sql(t.townId, `SELECT value FROM meta WHERE key = 'next_reconcile_at'`)) as Array<{ value: number }>;
    expect(row!.value).toBeLessThanOrEqual(Date.now());
    const alarm = await runInDurableObject(stubOf(t.townId), (_i, state) => state.storage.getAlarm());
    expect(alarm).toBeLessThanOrEqual(Date.now() + 1_000);
  });
});

describe('an agent whose control server crashed (recovering: its journal replayed, no process)', () => {
  /** An agent that prints one event (undeliverable here: the Worker's origin is a closed port), then idles. */
  const chatty = () => [inject('nodePath'), '-e', 'console.log(JSON.stringify({ type: "output", text: "before the crash" })); process.stdin.resume(); process.stdin.on("end", () => process.exit(0))'];

  const towns: string[] = [];
  afterEach(async () => {
    for (const townId of towns.splice(0)) await harness.dropServer(townId);
  });

  /** A town with its own control server and one running agent, whose server is then killed and started again. */
  async function crashedTown() {
    const t = await newTown();
    await harness.ownServer(t.townId);
    towns.push(t.townId);
    const id = await dispatch(t, 'polecat', { command: chatty() });
    // its event is journaled and its delivery tried before the crash
    await eventually(async () => (await harness.containerAgents(t.townId)).some((a) => a.agentId === id && a.pendingDeliveries > 0 && a.deliveryFailures > 0));
    await harness.restartServer(t.townId, 'SIGKILL');
    expect((await harness.containerAgents(t.townId)).map((a) => `${a.agentId}:${a.status}`)).toEqual([`${id}:recovering`]);
    expect(await agentOf(t, id)).toMatchObject({ status: 'working', tokenGen: 1 });
    return { t, id };
  }

  it('reconciliation starts it again, as a refresh push finding it gone does: not left working with no process', async () => {
    const { t, id } = await crashedTown();
    await reconcileNow(t.townId);
    await runDurableObjectAlarm(stubOf(t.townId));
    await runDurableObjectAlarm(stubOf(t.townId));
    expect(await agentOf(t, id)).toMatchObject({ status: 'working', tokenGen: 2, restartCount: 1 });
    expect((await harness.containerAgents(t.townId)).map((a) => `${a.agentId}:${a.status}`)).toEqual([`${id}:running`]);
    expect(claimsOf(await harness.token(id)).gen).toBe(2);
  });

  it('a refresh push to it answers 404 and starts it again: the same rule', async () => {
    const { t, id } = await crashedTown();
    const forced = await api(`/api/towns/${t.townId}/refresh-tokens`, { token: t.token, body: {} });
    expect(forced.json.results).toEqual([expect.objectContaining({ agentId: id, status: 404, result: 'restarting' })]);
    await runDurableObjectAlarm(stubOf(t.townId));
    expect(await agentOf(t, id)).toMatchObject({ status: 'working', tokenGen: 2, restartCount: 1 });
    expect((await harness.containerAgents(t.townId)).map((a) => `${a.agentId}:${a.status}`)).toEqual([`${id}:running`]);
  });
});

describe('starts never stay stuck', () => {
  it('a start whose answer the TownDO never saw is taken as started once its deadline passes, if the container runs it', async () => {
    const t = await newTown();
    const id = await dispatch(t);
    // as if the TownDO had been evicted while its start request was in flight
    await sql(t.townId, `UPDATE agents SET status = 'starting', start_deadline_at = 1, next_refresh_at = NULL WHERE id = ?`, id);
    const from = await lastSeq(t.townId);
    await runDurableObjectAlarm(stubOf(t.townId));
    expect((await agentOf(t, id)).status).toBe('working');
    expect((await seenSince(t.townId, from)).map((s) => s.path)).not.toContain('/agents/start');
    // it is refreshed at once (the alarm is due now: it may fire on its own), which settles what the container holds
    await runDurableObjectAlarm(stubOf(t.townId));
    await eventually(async () => (await agentOf(t, id)).refreshCount >= 1);
  });

  it('a stop made while the alarm waits for the container list is never undone: the agent stays stopped and is not started', async () => {
    const t = await newTown();
    const id = await dispatch(t);
    await harness.loseAgent(id);
    // a start past its deadline, which the container does not run: the alarm would start it again
    await sql(t.townId, `UPDATE agents SET status = 'starting', start_deadline_at = 1, next_refresh_at = NULL WHERE id = ?`, id);
    const from = await lastSeq(t.townId);
    await harness.fault(t.townId, { path: '^/agents$', kind: 'delay', ms: 1_000, count: 1 });
    const alarm = runDurableObjectAlarm(stubOf(t.townId));
    await eventually(async () => (await seenSince(t.townId, from)).some((s) => s.path === '/agents'));
    expect((await api(`/api/towns/${t.townId}/agents/${id}/stop`, { token: t.token, body: {} })).json.status).toBe('stopped');
    await alarm;
    // whatever the first alarm left due runs too
    await runDurableObjectAlarm(stubOf(t.townId));
    const agent = await agentOf(t, id);
    expect(agent).toMatchObject({ status: 'stopped', restartCount: 0 });
    expect((await seenSince(t.townId, from)).map((s) => s.path)).not.toContain('/agents/start');
    expect((await harness.containerAgents(t.townId)).map((a) => a.agentId)).not.toContain(id);
  });

  it('a start that never reached the container is started again after its deadline', async () => {
    const t = await newTown();
    const id = `polecat-${crypto.randomUUID()}`;
    const now = Date.now();
    await sql(
      t.townId,
      `INSERT INTO agents (id, rig_id, role, status, command, runtime, created_at, token_gen_started_at, start_deadline_at) VALUES (?, ?, 'polecat', 'starting', ?, NULL, ?, ?, 1)`,
      id, t.rigId, JSON.stringify(idleCommand()), now, now,
    );
    await runInDurableObject(stubOf(t.townId), (_i, state) => state.storage.setAlarm(Date.now()));
    await runDurableObjectAlarm(stubOf(t.townId));
    await runDurableObjectAlarm(stubOf(t.townId));
    expect(await agentOf(t, id)).toMatchObject({ status: 'working', restartCount: 1 });
    expect((await harness.containerAgents(t.townId)).map((a) => a.agentId)).toContain(id);
  });

  it('a dispatch whose start fails: the agent fails with the reason, the bead it took goes back, a new dispatch takes it', async () => {
    const t = await newTown();
    const { beadId } = await newBead(t);
    await harness.fault(t.townId, { path: '^/agents/start$', status: 503, count: 1 });
    const failed = await api(`/api/towns/${t.townId}/rigs/${t.rigId}/agents`, { token: t.token, body: { role: 'polecat', beadId, command: idleCommand() } });
    expect(failed.status).toBe(502);
    expect(failed.json.error.code).toBe('container_unavailable');
    expect(await beadOf(t, beadId)).toMatchObject({ status: 'open', assignee: null });
    const view = (await api(`/api/towns/${t.townId}`, { token: t.token })).json;
    const dead = view.agents.find((a: { role: string; status: string }) => a.role === 'polecat');
    expect(dead).toMatchObject({ status: 'failed', endReason: expect.stringMatching(/did not start it/) });

    const id = await dispatch(t, 'polecat', { beadId });
    expect(await beadOf(t, beadId)).toMatchObject({ status: 'assigned', assignee: id });
  });

  it('a failed start does not move the container credential on: the generation stays, the credential the container holds keeps working', async () => {
    const t = await newTown();
    const first = await dispatch(t);
    const credential = (await harness.credential(t.townId))!;
    const drops = (token: string, id: string) =>
      api(`/api/towns/${t.townId}/container/drops`, { token, body: { reports: [{ id, agentId: first, kind: 'event', cause: 'overflow', count: 1 }] } });
    const credentialGen = async () => ((await sql(t.townId, `SELECT container_credential_gen AS gen FROM town`)) as Array<{ gen: number }>)[0]!.gen;
    expect(await credentialGen()).toBe(1);
    // nothing else runs: the next start hands the container a new credential
    await api(`/api/towns/${t.townId}/agents/${first}/stop`, { token: t.token, body: {} });
    await harness.fault(t.townId, { path: '^/agents/start$', status: 503, count: 1 });
    const failed = await api(`/api/towns/${t.townId}/rigs/${t.rigId}/agents`, { token: t.token, body: { role: 'polecat', command: idleCommand() } });
    expect(failed.status).toBe(502);
    expect(await credentialGen()).toBe(1);
    expect(await harness.credential(t.townId)).toBe(credential);
    expect((await drops(credential, 'after-failed-start')).status).toBe(200);

    // a start that succeeds does move it on, and the old credential is refused from then on
    await dispatch(t);
    expect(await credentialGen()).toBe(2);
    expect(await harness.credential(t.townId)).not.toBe(credential);
    expect((await drops(credential, 'after-new-container')).status).toBe(401);
  });

  it('dispatch with a bead that is not open is a 409 that changes nothing', async () => {
    const t = await newTown();
    const { beadId } = await newBead(t);
    await dispatch(t, 'polecat', { beadId });
    const before = (await api(`/api/towns/${t.townId}`, { token: t.token })).json;
    const again = await api(`/api/towns/${t.townId}/rigs/${t.rigId}/agents`, { token: t.token, body: { role: 'polecat', beadId, command: idleCommand() } });
    expect(again.status).toBe(409);
    const after = (await api(`/api/towns/${t.townId}`, { token: t.token })).json;
    expect(after.agents).toHaveLength(before.agents.length);
  });

  it('a push to an agent whose start is in flight never starts it a second time: a second mayor message waits for the start', async () => {
    const t = await newTown();
    const from = await lastSeq(t.townId);
    await harness.fault(t.townId, { path: '^/agents/start$', kind: 'delay', ms: 1_500, count: 1 });
    const first = api(`/api/towns/${t.townId}/mayor/messages`, { token: t.token, body: { text: 'one' } });
    await new Promise((r) => setTimeout(r, 500));
    const second = await api(`/api/towns/${t.townId}/mayor/messages`, { token: t.token, body: { text: 'two' } });
    const forced = await api(`/api/towns/${t.townId}/refresh-tokens`, { token: t.token, body: {} });
    expect(second.json).toMatchObject({ delivered: false, status: 'starting' });
    expect(forced.json.results).toEqual([]);
    const done = await first;
    expect(done.json).toMatchObject({ delivered: true, status: 'working' });
    const seen = await seenSince(t.townId, from);
    expect(seen.filter((s) => s.path === '/agents/start')).toHaveLength(1);
    expect(seen.filter((s) => s.path.endsWith('/message'))).toHaveLength(2);
    const conversation = (await api(`/api/towns/${t.townId}/mayor/messages`, { token: t.token })).json.messages;
    expect(conversation.map((m: { from: string; text: string }) => `${m.from}:${m.text}`)).toEqual(['user:one', 'user:two']);
  });

  it('a refresh result is written only for the generation it minted: stopped while its push was in flight, nothing is recorded', async () => {
    const t = await newTown();
    const id = await dispatch(t);
    await harness.fault(t.townId, { path: '^/agents/refresh-tokens$', kind: 'delay', ms: 1_000, count: 1 });
    const refresh = api(`/api/towns/${t.townId}/refresh-tokens`, { token: t.token, body: {} });
    await new Promise((r) => setTimeout(r, 300));
    await api(`/api/towns/${t.townId}/agents/${id}/stop`, { token: t.token, body: {} });
    await refresh;
    expect(await agentOf(t, id)).toMatchObject({ status: 'stopped', refreshCount: 0 });
  });
});
