import { env } from 'cloudflare:workers';
import { evictDurableObject, runDurableObjectAlarm, runInDurableObject } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { api, dispatch, newTown, standIn } from './helpers';
import { RETRY_BASE_MS } from '../../src/domain/refresh-policy';

const stubOf = (townId: string) => env.TOWN.getByName(townId);

/**
 * Time passing, without sleeping: every live agent's scheduled refresh moves into the past,
 * and the tokens the stand-in holds age by a minute (so a new mint is strictly newer).
 */
async function makeAllDue(townId: string) {
  await standIn.get('age', townId, '&seconds=60');
  await runInDurableObject(stubOf(townId), async (_instance, state) => {
    state.storage.sql.exec(`UPDATE agents SET next_refresh_at = 1 WHERE status IN ('starting', 'working', 'idle')`);
  });
}

async function townAgents(t: { townId: string; token: string }) {
  return (await api(`/api/towns/${t.townId}`, { token: t.token })).json.agents as Array<{ id: string; status: string; refreshCount: number; tokenExpiresAt: string; refreshFailures: number; nextRefreshAt: string | null }>;
}

describe('the refresh alarm', () => {
  it('refreshes every live agent in ONE request to the control server', async () => {
    const t = await newTown();
    const ids = [await dispatch(t), await dispatch(t), await dispatch(t, 'refinery')];
    const before = await Promise.all(ids.map((id) => standIn.heldToken(t.townId, id)));
    await makeAllDue(t.townId);
    const logBefore = (await standIn.log(t.townId)).length;

    expect(await runDurableObjectAlarm(stubOf(t.townId))).toBe(true);

    const pass = (await standIn.log(t.townId)).slice(logBefore);
    expect(pass.map((l) => l.path)).toEqual(['/agents/refresh-tokens']);
    expect(pass[0]!.agentIds.sort()).toEqual([...ids].sort());
    const after = await Promise.all(ids.map((id) => standIn.heldToken(t.townId, id)));
    after.forEach((token, i) => expect(token).not.toBe(before[i]));
    for (const a of await townAgents(t)) expect(a.refreshCount).toBe(1);
    // each new token works for its own agent
    for (const [i, id] of ids.entries()) {
      expect((await api(`/api/towns/${t.townId}/agents/${id}/heartbeat`, { token: after[i], body: {} })).status).toBe(200);
    }
  });

  it('is safe to run twice: a second pass finds nothing due and pushes nothing', async () => {
    const t = await newTown();
    await dispatch(t);
    await makeAllDue(t.townId);
    await runDurableObjectAlarm(stubOf(t.townId));
    const n = (await standIn.log(t.townId)).length;
    await runInDurableObject(stubOf(t.townId), (_i, state) => state.storage.setAlarm(Date.now() + 60_000));
    await runDurableObjectAlarm(stubOf(t.townId));
    expect((await standIn.log(t.townId)).length).toBe(n);
    const alarm = await runInDurableObject(stubOf(t.townId), (_i, state) => state.storage.getAlarm());
    expect(alarm).toBeGreaterThan(Date.now() + 60_000);
  });

  it('keeps no alarm for a town with no live agent (an idle container can sleep)', async () => {
    const t = await newTown();
    const getAlarm = () => runInDurableObject(stubOf(t.townId), (_i, state) => state.storage.getAlarm());
    expect(await getAlarm()).toBeNull();
    const id = await dispatch(t);
    expect(await getAlarm()).not.toBeNull();
    await api(`/api/towns/${t.townId}/agents/${id}/stop`, { token: t.token, body: {} });
    expect(await getAlarm()).toBeNull();
  });

  it('schedules the next refresh within ±10% of the period, never past half the token lifetime', async () => {
    const t = await newTown();
    await dispatch(t);
    const [a] = await townAgents(t);
    const delay = Date.parse(a!.nextRefreshAt!) - Date.now();
    // wrangler.toml: interval 3600 s, TTL 28800 s → period 3600 s
    expect(delay).toBeGreaterThan(3600_000 * 0.9 - 5_000);
    expect(delay).toBeLessThan(3600_000 * 1.1);
  });
});

describe('stop revokes', () => {
  it('a token minted before stop is refused after it (token_revoked)', async () => {
    const t = await newTown();
    const id = await dispatch(t);
    const token = await standIn.heldToken(t.townId, id);
    expect((await api(`/api/towns/${t.townId}/agents/${id}/heartbeat`, { token, body: {} })).status).toBe(200);
    const stop = await api(`/api/towns/${t.townId}/agents/${id}/stop`, { token: t.token, body: {} });
    expect(stop.json.status).toBe('stopped');
    const res = await api(`/api/towns/${t.townId}/agents/${id}/heartbeat`, { token, body: {} });
    expect(res.status).toBe(401);
    expect(res.json.error.code).toBe('token_revoked');
    expect((await api(`/api/towns/${t.townId}/agents/${id}/tools/gt_status`, { token, body: {} })).json.error.code).toBe('token_revoked');
    expect((await standIn.log(t.townId)).some((l) => l.path === `/agents/${id}/stop`)).toBe(true);
  });
});

describe('one token per agent', () => {
  it("after agent A's refresh, agent B's heartbeat with B's own token still succeeds", async () => {
    const t = await newTown();
    const a = await dispatch(t);
    const b = await dispatch(t);
    const bToken = await standIn.heldToken(t.townId, b);
    const refreshed = await api(`/api/towns/${t.townId}/refresh-tokens`, { token: t.token, body: {} });
    expect(refreshed.status).toBe(200);
    expect(refreshed.json.refreshed).toBe(2);
    const aToken = await standIn.heldToken(t.townId, a);
    expect((await api(`/api/towns/${t.townId}/agents/${b}/heartbeat`, { token: bToken, body: {} })).status).toBe(200);
    expect((await api(`/api/towns/${t.townId}/agents/${a}/heartbeat`, { token: aToken, body: {} })).status).toBe(200);
    expect((await api(`/api/towns/${t.townId}/agents/${b}/heartbeat`, { token: aToken, body: {} })).status).toBe(403);
  });
});

describe('a failed push', () => {
  it('keeps the old token working, retries with backoff, lands, and the alarm stays armed across eviction', async () => {
    const t = await newTown();
    const id = await dispatch(t);
    const oldToken = await standIn.heldToken(t.townId, id);
    await makeAllDue(t.townId);
    await standIn.failPushes(t.townId, 2); // fail both the batch and the fallback
    const before = Date.now();
    await runDurableObjectAlarm(stubOf(t.townId));
    const after = Date.now();

    let [agent] = await townAgents(t);
    expect(agent!.refreshFailures).toBe(1);
    expect(agent!.refreshCount).toBe(0);
    // the first backoff step: 2.5–5 s after the failed pass (half to all of RETRY_BASE_MS)
    const retryAt = Date.parse(agent!.nextRefreshAt!);
    expect(retryAt).toBeGreaterThanOrEqual(before + RETRY_BASE_MS / 2);
    expect(retryAt).toBeLessThanOrEqual(after + RETRY_BASE_MS);
    expect(await standIn.heldToken(t.townId, id)).toBe(oldToken);
    expect((await api(`/api/towns/${t.townId}/agents/${id}/heartbeat`, { token: oldToken, body: {} })).status).toBe(200);
    const alarm = await runInDurableObject(stubOf(t.townId), (_i, state) => state.storage.getAlarm());
    expect(alarm).toBe(Date.parse(agent!.nextRefreshAt!));

    // Push the retry out of reach of the real clock, then evict: nothing may be lost.
    const retryAtMs = Date.now() + 600_000;
    await runInDurableObject(stubOf(t.townId), async (_i, state) => {
      state.storage.sql.exec(`UPDATE agents SET next_refresh_at = ?, stall_check_at = ?`, retryAtMs, retryAtMs);
      await state.storage.setAlarm(retryAtMs);
    });
    await evictDurableObject(stubOf(t.townId));
    const alarmAfterEviction = await runInDurableObject(stubOf(t.townId), (_i, state) => state.storage.getAlarm());
    expect(alarmAfterEviction).toBe(retryAtMs);
    [agent] = await townAgents(t);
    expect(agent!.refreshFailures).toBe(1);
    expect(Date.parse(agent!.nextRefreshAt!)).toBe(retryAtMs);

    await makeAllDue(t.townId);
    await runDurableObjectAlarm(stubOf(t.townId));
    [agent] = await townAgents(t);
    expect(agent!.refreshFailures).toBe(0);
    expect(agent!.refreshCount).toBe(1);
    const newToken = await standIn.heldToken(t.townId, id);
    expect(newToken).not.toBe(oldToken);
    expect((await api(`/api/towns/${t.townId}/agents/${id}/heartbeat`, { token: newToken, body: {} })).status).toBe(200);
  });

  it('falls back to one request per agent when the batched push fails', async () => {
    const t = await newTown();
    const ids = [await dispatch(t), await dispatch(t)];
    await makeAllDue(t.townId);
    await standIn.failPushes(t.townId, 1);
    const n = (await standIn.log(t.townId)).length;
    await runDurableObjectAlarm(stubOf(t.townId));
    const pass = (await standIn.log(t.townId)).slice(n);
    expect(pass.map((l) => l.path).sort()).toEqual(['/agents/refresh-tokens', ...ids.map((id) => `/agents/${id}/refresh-token`)].sort());
    for (const a of await townAgents(t)) expect(a.refreshCount).toBe(1);
  });

  it('restarts agents the container lost (it restarted) with fresh tokens and a new credential', async () => {
    const t = await newTown();
    const id = await dispatch(t);
    const credBefore = await standIn.credential(t.townId);
    await standIn.forget(t.townId);
    await makeAllDue(t.townId);
    await runDurableObjectAlarm(stubOf(t.townId));
    const token = await standIn.heldToken(t.townId, id);
    expect((await api(`/api/towns/${t.townId}/agents/${id}/heartbeat`, { token, body: {} })).status).toBe(200);
    expect(await standIn.credential(t.townId)).not.toBe(credBefore);
  });

  it('an alarm pass that throws still re-arms, with a stored failure count', async () => {
    const t = await newTown();
    await dispatch(t);
    await makeAllDue(t.townId);
    // without its town row the pass throws before refreshing anyone
    await runInDurableObject(stubOf(t.townId), (_i, state) => state.storage.sql.exec(`ALTER TABLE town RENAME TO town_away`));
    const before = Date.now();
    expect(await runDurableObjectAlarm(stubOf(t.townId))).toBe(true);
    const after = Date.now();
    const { alarm, failures } = await runInDurableObject(stubOf(t.townId), async (_i, state) => {
      const alarm = await state.storage.getAlarm();
      const failures = state.storage.sql.exec(`SELECT value FROM meta WHERE key = 'alarm_failures'`).one().value;
      state.storage.sql.exec(`ALTER TABLE town_away RENAME TO town`);
      return { alarm, failures };
    });
    expect(failures).toBe(1);
    expect(alarm).not.toBeNull();
    // the due agents are retried soon, after the first backoff step (1 s from the failed pass), not in a hot loop
    expect(alarm!).toBeGreaterThanOrEqual(before + 1_000);
    expect(alarm!).toBeLessThanOrEqual(after + 1_000);
  });
});

describe('a lost alarm', () => {
  it('is re-armed by the next heartbeat of a live agent', async () => {
    const t = await newTown();
    const id = await dispatch(t);
    await runInDurableObject(stubOf(t.townId), (_i, state) => state.storage.deleteAlarm());
    const token = await standIn.heldToken(t.townId, id);
    expect((await api(`/api/towns/${t.townId}/agents/${id}/heartbeat`, { token, body: {} })).status).toBe(200);
    const { alarm, due } = await runInDurableObject(stubOf(t.townId), async (_i, state) => ({
      alarm: await state.storage.getAlarm(),
      due: state.storage.sql.exec<{ at: number }>(`SELECT MIN(next_refresh_at, stall_check_at) AS at FROM agents`).one().at,
    }));
    // the earlier of its refresh and its stall check (a stall window after this heartbeat)
    expect(alarm).toBe(due);
    expect(alarm).toBeGreaterThan(Date.now());
  });
});
