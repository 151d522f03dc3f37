import { env } from 'cloudflare:workers';
import { runDurableObjectAlarm, runInDurableObject } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { api, dispatch, harness, newTown } from './helpers';
import { TEST_QUOTAS } from './secrets';

/** The retention period these tests configure (RETENTION_SECONDS). */
const RETENTION_MS = Number(TEST_QUOTAS.RETENTION_SECONDS) * 1000;

const stubOf = (townId: string) => env.TOWN.getByName(townId);
const sql = <T = Record<string, unknown>>(townId: string, query: string, ...args: (string | number | null)[]) =>
  runInDurableObject(stubOf(townId), (_i, state) => state.storage.sql.exec(query, ...args).toArray() as T[]);
/** Time passing, without sleeping: the agent ended longer than the retention period ago. */
const endedLongAgo = (townId: string, agentId: string) => sql(townId, `UPDATE agents SET ended_at = ended_at - ? WHERE id = ?`, RETENTION_MS + 1, agentId);
const alarmOf = (townId: string) => runInDurableObject(stubOf(townId), (_i, state) => state.storage.getAlarm());

const view = async (t: { townId: string; token: string }) => (await api(`/api/towns/${t.townId}`, { token: t.token })).json;
const eventsOf = async (t: { townId: string; token: string }, agentId: string) => (await api(`/api/towns/${t.townId}/agents/${agentId}/events?limit=1000`, { token: t.token })).json.events as unknown[];
const tokensOf = async (t: { townId: string; token: string }, agentId: string) =>
  ((await api(`/api/towns/${t.townId}/token-history?hours=24`, { token: t.token })).json.tokens as Array<{ agentId: string }>).filter((x) => x.agentId === agentId);
const tool = async (t: { townId: string }, agentId: string, name: string, args: object = {}) =>
  api(`/api/towns/${t.townId}/agents/${agentId}/tools/${name}`, { token: await harness.token(agentId), body: args });

async function withEvents(t: { townId: string; token: string; rigId: string }, count: number) {
  const id = await dispatch(t);
  const events = Array.from({ length: count }, (_, i) => ({ id: `e${i}`, type: 'output', text: `line ${i}` }));
  expect((await api(`/api/towns/${t.townId}/agents/${id}/events`, { token: await harness.token(id), body: { events } })).json.accepted).toBe(count);
  return id;
}

describe('retention (RETENTION_SECONDS): town storage does not grow without bound', () => {
  it('an agent ended longer ago loses its events and token history but keeps its row; acknowledged mail that old goes; the rest stays; all of it counted', async () => {
    const t = await newTown();
    const mayorId = await dispatch(t, 'mayor');
    const old = await withEvents(t, 5);
    const recent = await withEvents(t, 3);
    const oldAck = (await tool(t, mayorId, 'gt_mail_send', { to: mayorId, body: 'read long ago' })).json.mailId as string;
    const newAck = (await tool(t, mayorId, 'gt_mail_send', { to: mayorId, body: 'read just now' })).json.mailId as string;
    expect((await tool(t, mayorId, 'gt_mail_check', { ack: [oldAck, newAck] })).json.acked).toBe(2);
    const unread = (await tool(t, mayorId, 'gt_mail_send', { to: mayorId, body: 'never read' })).json.mailId as string;
    for (const id of [old, recent]) await api(`/api/towns/${t.townId}/agents/${id}/stop`, { token: t.token, body: {} });
    expect((await tokensOf(t, old)).length).toBeGreaterThan(0);

    await endedLongAgo(t.townId, old);
    await sql(t.townId, `UPDATE mail SET read_at = read_at - ? WHERE id = ?`, RETENTION_MS + 1, oldAck);
    await sql(t.townId, `UPDATE mail SET sent_at = sent_at - ? WHERE id = ?`, 2 * RETENTION_MS, unread);
    await runDurableObjectAlarm(stubOf(t.townId));

    expect(await eventsOf(t, old)).toEqual([]);
    expect(await tokensOf(t, old)).toEqual([]);
    expect(await eventsOf(t, recent)).toHaveLength(3);
    expect((await tokensOf(t, recent)).length).toBeGreaterThan(0);
    const after = await view(t);
    expect(after.agents.find((a: { id: string }) => a.id === old)).toMatchObject({ status: 'stopped', eventsStored: 5 });
    const mail = (await api(`/api/towns/${t.townId}/mail`, { token: t.token })).json.mail as Array<{ id: string }>;
    expect(mail.map((m) => m.id).sort()).toEqual([newAck, unread].sort());
    expect(after.purged).toEqual({ agents: 1, events: 5, tokens: expect.any(Number), mail: 1 });
    const [announced] = await sql<{ data: string }>(t.townId, `SELECT data FROM town_events WHERE type = 'town.purged'`);
    expect(JSON.parse(announced!.data)).toMatchObject({ agents: 1, events: 5, mail: 1, retentionSeconds: RETENTION_MS / 1000 });

    // nothing is deleted twice
    await runDurableObjectAlarm(stubOf(t.townId));
    expect((await view(t)).purged).toEqual(after.purged);
  });

  it('a town with nothing live keeps an alarm for its retention, and none once nothing is left to delete', async () => {
    const t = await newTown();
    const id = await withEvents(t, 2);
    await api(`/api/towns/${t.townId}/agents/${id}/stop`, { token: t.token, body: {} });
    const [{ endedAt }] = (await sql<{ endedAt: number }>(t.townId, `SELECT ended_at AS endedAt FROM agents WHERE id = ?`, id)) as [{ endedAt: number }];
    expect(await alarmOf(t.townId)).toBe(endedAt + RETENTION_MS);

    await endedLongAgo(t.townId, id);
    expect(await runDurableObjectAlarm(stubOf(t.townId))).toBe(true);
    expect(await eventsOf(t, id)).toEqual([]);
    expect(await alarmOf(t.townId)).toBeNull();
  });

  it('a mayor started again after its events were deleted has them deleted again once it ends again', async () => {
    const t = await newTown();
    expect((await api(`/api/towns/${t.townId}/mayor/messages`, { token: t.token, body: { text: 'hello' } })).status).toBe(200);
    const mayorId = (await view(t)).agents[0].id as string;
    await api(`/api/towns/${t.townId}/agents/${mayorId}/stop`, { token: t.token, body: {} });
    await endedLongAgo(t.townId, mayorId);
    await runDurableObjectAlarm(stubOf(t.townId));
    expect((await view(t)).purged).toMatchObject({ agents: 1 });

    expect((await api(`/api/towns/${t.townId}/mayor/messages`, { token: t.token, body: { text: 'again' } })).json).toMatchObject({ agentId: mayorId, status: 'working' });
    const events = [{ id: 'after-revival', type: 'output', text: 'new life' }];
    expect((await api(`/api/towns/${t.townId}/agents/${mayorId}/events`, { token: await harness.token(mayorId), body: { events } })).json.accepted).toBe(1);
    await api(`/api/towns/${t.townId}/agents/${mayorId}/stop`, { token: t.token, body: {} });
    await endedLongAgo(t.townId, mayorId);
    await runDurableObjectAlarm(stubOf(t.townId));
    expect(await eventsOf(t, mayorId)).toEqual([]);
    expect((await view(t)).purged).toMatchObject({ agents: 2 });
  });
});
