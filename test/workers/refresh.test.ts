import { env } from 'cloudflare:workers';
import { evictDurableObject, runDurableObjectAlarm, runInDurableObject } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { RETRY_BASE_MS } from '../../src/domain/refresh-policy';
import { api, claimsOf, dispatch, forgeToken, harness, kidOf, newTown } from './helpers';
import { TEST_QUOTAS, TEST_SECRETS } from './secrets';

const stubOf = (townId: string) => env.TOWN.getByName(townId);

/** Time passing, without sleeping: every running agent's scheduled refresh moves into the past. */
async function makeAllDue(townId: string) {
  await runInDurableObject(stubOf(townId), async (_instance, state) => {
    state.storage.sql.exec(`UPDATE agents SET next_refresh_at = 1 WHERE status IN ('working', 'idle')`);
  });
}

async function townAgents(t: { townId: string; token: string }) {
  return (await api(`/api/towns/${t.townId}`, { token: t.token })).json.agents as Array<{ id: string; status: string; tokenGen: number; refreshCount: number; tokenExpiresAt: string; refreshFailures: number; nextRefreshAt: string | null }>;
}

const heartbeat = (townId: string, agentId: string, token: string) => api(`/api/towns/${townId}/agents/${agentId}/heartbeat`, { token, body: {} });

/** Requests the Worker made to the control server after `from`. */
async function seenSince(townId: string, from: number) {
  return (await harness.seen(townId)).filter((s) => s.seq > from);
}

async function lastSeq(townId: string) {
  return (await harness.seen(townId)).at(-1)?.seq ?? 0;
}

describe('the refresh alarm', () => {
  it('refreshes every running agent in ONE request to the control server, which writes each its own token', async () => {
    const t = await newTown();
    const ids = [await dispatch(t), await dispatch(t), await dispatch(t, 'refinery')];
    const before = await Promise.all(ids.map((id) => harness.token(id)));
    await makeAllDue(t.townId);
    const from = await lastSeq(t.townId);

    expect(await runDurableObjectAlarm(stubOf(t.townId))).toBe(true);

    const pass = await seenSince(t.townId, from);
    expect(pass.map((l) => l.path)).toEqual(['/agents/refresh-tokens']);
    expect(pass[0]!.agentIds.sort()).toEqual([...ids].sort());
    const after = await Promise.all(ids.map((id) => harness.token(id)));
    after.forEach((token, i) => expect(claimsOf(token).jti).not.toBe(claimsOf(before[i]!).jti));
    for (const a of await townAgents(t)) expect(a.refreshCount).toBe(1);
    for (const [i, id] of ids.entries()) expect((await heartbeat(t.townId, id, after[i]!)).status).toBe(200);
  });

  it('is safe to run twice: a second pass finds nothing due and pushes nothing', async () => {
    const t = await newTown();
    await dispatch(t);
    await makeAllDue(t.townId);
    await runDurableObjectAlarm(stubOf(t.townId));
    const from = await lastSeq(t.townId);
    await runInDurableObject(stubOf(t.townId), (_i, state) => state.storage.setAlarm(Date.now() + 60_000));
    await runDurableObjectAlarm(stubOf(t.townId));
    expect(await seenSince(t.townId, from)).toEqual([]);
    const alarm = await runInDurableObject(stubOf(t.townId), (_i, state) => state.storage.getAlarm());
    expect(alarm).toBeGreaterThan(Date.now() + 60_000);
  });

  it('keeps no alarm for a town with no live agent but retention\'s, which asks nothing of the container (an idle container can sleep)', async () => {
    const t = await newTown();
    const getAlarm = () => runInDurableObject(stubOf(t.townId), (_i, state) => state.storage.getAlarm());
    expect(await getAlarm()).toBeNull();
    const id = await dispatch(t);
    expect(await getAlarm()).not.toBeNull();
    const stoppedAt = Date.now();
    await api(`/api/towns/${t.townId}/agents/${id}/stop`, { token: t.token, body: {} });
    expect(await getAlarm()).toBeGreaterThanOrEqual(stoppedAt + Number(TEST_QUOTAS.RETENTION_SECONDS) * 1000);
    const from = await lastSeq(t.townId);
    await runDurableObjectAlarm(stubOf(t.townId));
    expect(await seenSince(t.townId, from)).toEqual([]);
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
  it('a token minted before stop is refused after it (token_revoked, agentEnded), and the container ends the process', async () => {
    const t = await newTown();
    const id = await dispatch(t);
    const token = await harness.token(id);
    expect((await heartbeat(t.townId, id, token)).status).toBe(200);
    const stop = await api(`/api/towns/${t.townId}/agents/${id}/stop`, { token: t.token, body: {} });
    expect(stop.json.status).toBe('stopped');
    const res = await heartbeat(t.townId, id, token);
    expect(res.status).toBe(401);
    expect(res.json.error).toMatchObject({ code: 'token_revoked', agentEnded: true });
    expect((await api(`/api/towns/${t.townId}/agents/${id}/tools/gt_status`, { token, body: {} })).json.error.code).toBe('token_revoked');
    expect((await harness.containerAgents(t.townId)).map((a) => a.agentId)).not.toContain(id);
  });
});

describe('one token per agent', () => {
  it("after agent A's refresh, agent B's heartbeat with B's own token still succeeds", async () => {
    const t = await newTown();
    const a = await dispatch(t);
    const b = await dispatch(t);
    const bToken = await harness.token(b);
    const refreshed = await api(`/api/towns/${t.townId}/refresh-tokens`, { token: t.token, body: {} });
    expect(refreshed.status).toBe(200);
    expect(refreshed.json.refreshed).toBe(2);
    const aToken = await harness.token(a);
    expect((await heartbeat(t.townId, b, bToken)).status).toBe(200);
    expect((await heartbeat(t.townId, a, aToken)).status).toBe(200);
    expect((await heartbeat(t.townId, b, aToken)).status).toBe(403);
  });
});

describe('a failed push', () => {
  it('keeps the old token working, retries with backoff, lands, and the alarm stays armed across eviction', async () => {
    const t = await newTown();
    const id = await dispatch(t);
    const oldToken = await harness.token(id);
    await makeAllDue(t.townId);
    await harness.fault(t.townId, { path: '^/agents/refresh-tokens$', status: 503, count: 1 });
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
    expect(await harness.token(id)).toBe(oldToken);
    expect((await heartbeat(t.townId, id, oldToken)).status).toBe(200);
    const alarm = await runInDurableObject(stubOf(t.townId), (_i, state) => state.storage.getAlarm());
    expect(alarm).toBe(retryAt);

    // Push the retry out of reach of the real clock, then evict: nothing may be lost.
    const retryAtMs = Date.now() + 600_000;
    await runInDurableObject(stubOf(t.townId), async (_i, state) => {
      state.storage.sql.exec(`UPDATE agents SET next_refresh_at = ?`, retryAtMs);
      state.storage.sql.exec(`UPDATE meta SET value = ? WHERE key = 'next_reconcile_at'`, retryAtMs + 1);
      await state.storage.setAlarm(retryAtMs);
    });
    await evictDurableObject(stubOf(t.townId));
    expect(await runInDurableObject(stubOf(t.townId), (_i, state) => state.storage.getAlarm())).toBe(retryAtMs);
    [agent] = await townAgents(t);
    expect(agent!.refreshFailures).toBe(1);

    await makeAllDue(t.townId);
    await runDurableObjectAlarm(stubOf(t.townId));
    [agent] = await townAgents(t);
    expect(agent!.refreshFailures).toBe(0);
    expect(agent!.refreshCount).toBe(1);
    const newToken = await harness.token(id);
    expect(newToken).not.toBe(oldToken);
    expect((await heartbeat(t.townId, id, newToken)).status).toBe(200);
  });

  it('the batch route missing (404) → one request per agent', async () => {
    const t = await newTown();
    const ids = [await dispatch(t), await dispatch(t)];
    await makeAllDue(t.townId);
    await harness.fault(t.townId, { path: '^/agents/refresh-tokens$', status: 404, count: 1 });
    const from = await lastSeq(t.townId);
    await runDurableObjectAlarm(stubOf(t.townId));
    const pass = await seenSince(t.townId, from);
    expect(pass.map((l) => l.path).sort()).toEqual(['/agents/refresh-tokens', ...ids.map((id) => `/agents/${id}/refresh-token`)].sort());
    for (const a of await townAgents(t)) expect(a.refreshCount).toBe(1);
  });

  it('a batch that gets no answer (a hung or cut connection) is NOT repeated per agent: one request, retries scheduled', async () => {
    const t = await newTown();
    await dispatch(t);
    await dispatch(t);
    await makeAllDue(t.townId);
    await harness.fault(t.townId, { path: '^/agents/refresh-tokens$', kind: 'drop', count: 1 });
    const from = await lastSeq(t.townId);
    await runDurableObjectAlarm(stubOf(t.townId));
    expect((await seenSince(t.townId, from)).map((l) => l.path)).toEqual(['/agents/refresh-tokens']);
    for (const a of await townAgents(t)) {
      expect(a.refreshFailures).toBe(1);
      expect(a.refreshCount).toBe(0);
    }
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
    // retried after the first backoff step (1 s from the failed pass), not in a hot loop
    expect(alarm!).toBeGreaterThanOrEqual(before + 1_000);
    expect(alarm!).toBeLessThanOrEqual(after + 1_000);
  });
});

describe('a 409 from the container', () => {
  it('holding a token the TownDO did not mint (a higher generation) → a new generation supersedes it, pushed at once', async () => {
    const t = await newTown();
    const id = await dispatch(t);
    // someone holding the control secret pushed a token claiming generation 99
    const now = Math.floor(Date.now() / 1000);
    const foreign = await forgeToken({ kid: await kidOf(TEST_SECRETS.GASTOWN_JWT_SECRET), claims: { sub: id, agentId: id, townId: t.townId, rigId: t.rigId, userId: 'test-client', gen: 99, iat: now, exp: now + 30_000 } });
    const direct = await pushDirect(id, foreign);
    expect(direct).toBe(200);

    await makeAllDue(t.townId);
    await runDurableObjectAlarm(stubOf(t.townId));
    const [agent] = await townAgents(t);
    expect(agent!.tokenGen).toBe(100);
    expect(agent!.refreshCount).toBe(1);
    const held = await harness.token(id);
    expect(claimsOf(held).gen).toBe(100);
    expect((await heartbeat(t.townId, id, held)).status).toBe(200);
    // the forged generation was never the TownDO's: it stays refused
    expect((await heartbeat(t.townId, id, foreign)).json.error.code).toBe('token_revoked');
  });
});

describe('a 409 naming a token of the same generation and second as the TownDO\'s latest mint', () => {
  it('whose lifetime is not the TownDO\'s is foreign, not counted as delivered: a new generation supersedes it', async () => {
    const t = await newTown();
    const id = await dispatch(t);
    const ttl = 28_800;
    await harness.fault(t.townId, { path: '^/agents/refresh-tokens$', kind: 'delay', ms: 1_000, count: 1 });
    const from = await lastSeq(t.townId);
    const forced = api(`/api/towns/${t.townId}/refresh-tokens`, { token: t.token, body: {} });
    // while the TownDO's push is on its way: someone holding the control secret pushes a token
    // of the same generation and the same iat as that push, with a longer lifetime
    await eventually(async () => (await seenSince(t.townId, from)).some((s) => s.path === '/agents/refresh-tokens'));
    const iat = await runInDurableObject(stubOf(t.townId), (_i, state) => state.storage.sql.exec<{ iat: number }>(`SELECT last_minted_iat AS iat FROM agents WHERE id = ?`, id).one().iat);
    const foreign = await forgeToken({ kid: await kidOf(TEST_SECRETS.GASTOWN_JWT_SECRET), claims: { sub: id, agentId: id, townId: t.townId, rigId: t.rigId, userId: 'test-client', gen: 1, iat, exp: iat + ttl + 600 } });
    expect(await pushDirect(id, foreign)).toBe(200);

    const results = (await forced).json.results;
    expect(results.map((r: { result: string; status: number }) => `${r.status}:${r.result}`)).toEqual(['409:superseded', '200:refreshed']);
    const [agent] = await townAgents(t);
    expect(agent).toMatchObject({ tokenGen: 2, refreshCount: 1 });
    const held = await harness.token(id);
    expect(claimsOf(held)).toMatchObject({ gen: 2 });
    expect(Date.parse(agent!.tokenExpiresAt) / 1000).toBe(claimsOf(held).exp);
    expect((await heartbeat(t.townId, id, foreign)).json.error.code).toBe('token_revoked');
  });
});

/** Waits for something the test set in motion (never for time itself). */
async function eventually(check: () => Promise<boolean>, timeoutMs = 5_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Pushes a token to the real control server as the Worker would (with the control secret), past the proxy. */
async function pushDirect(agentId: string, token: string): Promise<number> {
  const res = await fetch(harness.url(`/agents/${encodeURIComponent(agentId)}/refresh-token`), {
    method: 'POST',
    headers: { authorization: `Bearer ${TEST_SECRETS.CONTAINER_CONTROL_SECRET}`, 'content-type': 'application/json' },
    body: JSON.stringify({ token }),
  });
  await res.body?.cancel();
  return res.status;
}

describe('a lost alarm', () => {
  it('is re-armed by the next heartbeat of a live agent', async () => {
    const t = await newTown();
    const id = await dispatch(t);
    await runInDurableObject(stubOf(t.townId), (_i, state) => state.storage.deleteAlarm());
    const token = await harness.token(id);
    expect((await heartbeat(t.townId, id, token)).status).toBe(200);
    const { alarm, due } = await runInDurableObject(stubOf(t.townId), async (_i, state) => ({
      alarm: await state.storage.getAlarm(),
      due: Math.min(
        state.storage.sql.exec<{ at: number }>(`SELECT MIN(next_refresh_at) AS at FROM agents`).one().at,
        state.storage.sql.exec<{ at: number }>(`SELECT value AS at FROM meta WHERE key = 'next_reconcile_at'`).one().at,
      ),
    }));
    expect(alarm).toBe(due);
    expect(alarm).toBeGreaterThan(Date.now());
  });
});
