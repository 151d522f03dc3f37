import { env } from 'cloudflare:workers';
import { evictDurableObject, runDurableObjectAlarm, runInDurableObject } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { reportContainerStopped } from '../../src/services/container-lifecycle';
import { api, dispatch, newTown, standIn } from './helpers';

const STALL_AFTER_MS = 120_000; // wrangler.toml
const stubOf = (townId: string) => env.TOWN.getByName(townId);

/** Reads agents' schedule columns straight from the TownDO's SQLite. */
function schedule(townId: string) {
  return runInDurableObject(stubOf(townId), (_i, state) =>
    state.storage.sql
      .exec<{ id: string; nextRefreshAt: number; stallCheckAt: number | null }>(`SELECT id, next_refresh_at AS nextRefreshAt, stall_check_at AS stallCheckAt FROM agents ORDER BY id`)
      .toArray(),
  );
}

/** Time passing for silent agents only: their stall check moves into the past; their refresh stays an hour away. */
function fallSilent(townId: string, ids: string[]) {
  return runInDurableObject(stubOf(townId), (_i, state) => {
    for (const id of ids) state.storage.sql.exec(`UPDATE agents SET stall_check_at = 1 WHERE id = ?`, id);
  });
}

describe('the stall check: agents a restarted container lost come back within a stall window', () => {
  it('arms the alarm no later than the stall window, and every heartbeat pushes the check forward', async () => {
    const t = await newTown();
    const started = Date.now();
    const id = await dispatch(t);
    const [row] = await schedule(t.townId);
    expect(row!.stallCheckAt).toBeGreaterThanOrEqual(started + STALL_AFTER_MS);
    expect(row!.nextRefreshAt).toBeGreaterThan(row!.stallCheckAt!);
    const alarm = await runInDurableObject(stubOf(t.townId), (_i, state) => state.storage.getAlarm());
    expect(alarm).toBe(row!.stallCheckAt);

    await new Promise((r) => setTimeout(r, 20));
    const token = await standIn.heldToken(t.townId, id);
    expect((await api(`/api/towns/${t.townId}/agents/${id}/heartbeat`, { token, body: {} })).status).toBe(200);
    const [after] = await schedule(t.townId);
    expect(after!.stallCheckAt).toBeGreaterThan(row!.stallCheckAt!);
  });

  it('a silent agent the container lost is started again at once, though its refresh is an hour away', async () => {
    const t = await newTown();
    const silent = await dispatch(t);
    const talking = await dispatch(t, 'refinery');
    const credBefore = await standIn.credential(t.townId);
    await standIn.forget(t.townId); // the container restarted: it holds no agent
    await fallSilent(t.townId, [silent]);
    const logBefore = (await standIn.log(t.townId)).length;

    expect(await runDurableObjectAlarm(stubOf(t.townId))).toBe(true);

    const pass = (await standIn.log(t.townId)).slice(logBefore);
    expect(pass.map((l) => [l.path, l.agentIds])).toEqual([
      ['/agents/refresh-tokens', [silent]],
      ['/agents/start', [silent]],
    ]);
    expect(await standIn.credential(t.townId)).not.toBe(credBefore);
    const token = await standIn.heldToken(t.townId, silent);
    expect((await api(`/api/towns/${t.townId}/agents/${silent}/heartbeat`, { token, body: {} })).status).toBe(200);
    const view = (await api(`/api/towns/${t.townId}`, { token: t.token })).json;
    expect(view.agents.find((a: { id: string }) => a.id === silent).status).toBe('working');
    // the agent that kept talking was not touched: its own check comes when it falls silent
    expect(pass.some((l) => l.agentIds.includes(talking))).toBe(false);
  });

  it('a silent agent the container still holds is checked once per stall window, not on every alarm', async () => {
    const t = await newTown();
    const id = await dispatch(t);
    await standIn.get('age', t.townId, '&seconds=60');
    await fallSilent(t.townId, [id]);
    const logBefore = (await standIn.log(t.townId)).length;

    await runDurableObjectAlarm(stubOf(t.townId));
    const checked = Date.now();
    const first = (await standIn.log(t.townId)).slice(logBefore);
    expect(first.map((l) => [l.path, l.status])).toEqual([['/agents/refresh-tokens', 200]]);
    const [row] = await schedule(t.townId);
    expect(row!.stallCheckAt).toBeGreaterThanOrEqual(checked + STALL_AFTER_MS - 1_000);

    // another alarm inside the window pushes nothing
    await runInDurableObject(stubOf(t.townId), (_i, state) => state.storage.setAlarm(Date.now() + 60_000));
    await runDurableObjectAlarm(stubOf(t.townId));
    expect((await standIn.log(t.townId)).length).toBe(logBefore + 1);
    const alarm = await runInDurableObject(stubOf(t.townId), (_i, state) => state.storage.getAlarm());
    expect(alarm).toBe(row!.stallCheckAt);
  });
});

describe('an alarm later than the due work', () => {
  it('is pulled in when the object wakes (an alarm stored under an older schedule never leaves a due agent waiting)', async () => {
    const t = await newTown();
    const id = await dispatch(t);
    const hourAway = Date.now() + 3_600_000;
    await runInDurableObject(stubOf(t.townId), (_i, state) => state.storage.setAlarm(hourAway));
    await fallSilent(t.townId, [id]);
    await evictDurableObject(stubOf(t.townId));

    const logBefore = (await standIn.log(t.townId)).length;
    expect((await api(`/api/towns/${t.townId}`, { token: t.token })).status).toBe(200);

    // the pulled-in alarm fires by itself and checks the silent agent, an hour early
    const deadline = Date.now() + 10_000;
    let pushes: string[][] = [];
    while (Date.now() < deadline && pushes.length === 0) {
      pushes = (await standIn.log(t.townId)).slice(logBefore).filter((l) => l.path === '/agents/refresh-tokens').map((l) => l.agentIds);
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(pushes).toEqual([[id]]);
    const alarm = await runInDurableObject(stubOf(t.townId), (_i, state) => state.storage.getAlarm());
    expect(alarm).toBeLessThan(hourAway);
  });
});

describe('a stopped container', () => {
  it('makes the TownDO check for every live agent at once; the ones lost are started again', async () => {
    const t = await newTown();
    const ids = [await dispatch(t), await dispatch(t, 'refinery')];
    await standIn.forget(t.townId);
    const logBefore = (await standIn.log(t.townId)).length;

    // what TownContainer.onStop does when the container exits (the class itself needs a container runtime)
    await reportContainerStopped(env, t.townId, { exitCode: 137, reason: 'runtime_signal' });
    const alarm = await runInDurableObject(stubOf(t.townId), (_i, state) => state.storage.getAlarm());
    expect(alarm).toBeLessThanOrEqual(Date.now());
    await runDurableObjectAlarm(stubOf(t.townId));

    const pass = (await standIn.log(t.townId)).slice(logBefore);
    expect(pass[0]!.path).toBe('/agents/refresh-tokens');
    expect(pass[0]!.agentIds.sort()).toEqual([...ids].sort());
    expect(pass.filter((l) => l.path === '/agents/start').flatMap((l) => l.agentIds).sort()).toEqual([...ids].sort());
    for (const id of ids) {
      const token = await standIn.heldToken(t.townId, id);
      expect((await api(`/api/towns/${t.townId}/agents/${id}/heartbeat`, { token, body: {} })).status).toBe(200);
    }
  });

  it('with no live agent, changes nothing and arms no alarm', async () => {
    const t = await newTown();
    const result = await stubOf(t.townId).containerStopped({ exitCode: 0, reason: 'exit' });
    expect(result).toEqual({ ok: true, value: { liveAgents: 0 } });
    expect(await runInDurableObject(stubOf(t.townId), (_i, state) => state.storage.getAlarm())).toBeNull();
  });
});
