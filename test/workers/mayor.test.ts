import { describe, expect, it } from 'vitest';
import { api, claimsOf, harness, idleCommand, newTown } from './helpers';

const lastSeq = async (townId: string) => (await harness.seen(townId)).at(-1)?.seq ?? 0;
const seenSince = async (townId: string, from: number) => (await harness.seen(townId)).filter((s) => s.seq > from);
const tell = (t: { townId: string; token: string }, text: string) => api(`/api/towns/${t.townId}/mayor/messages`, { token: t.token, body: { text } });
const conversation = async (t: { townId: string; token: string }, after = 0) =>
  (await api(`/api/towns/${t.townId}/mayor/messages?after=${after}`, { token: t.token })).json.messages as Array<{ id: number; from: string; text: string; at: string }>;

/** A town whose mayor is an idle process (dispatched with a command): the test speaks for it. */
async function townWithMayor() {
  const t = await newTown();
  const res = await api(`/api/towns/${t.townId}/rigs/${t.rigId}/agents`, { token: t.token, body: { role: 'mayor', command: idleCommand() } });
  return { ...t, mayorId: res.json.id as string };
}

describe('a message to the mayor', () => {
  it('starts a missing mayor with a fresh token, then delivers', async () => {
    const t = await newTown();
    const from = await lastSeq(t.townId);
    const res = await tell(t, 'hello');
    expect(res.status).toBe(200);
    expect(res.json).toMatchObject({ delivered: true, status: 'working', messageId: expect.any(Number) });
    const seen = await seenSince(t.townId, from);
    expect(seen.map((l) => l.path)).toEqual(['/agents/start', `/agents/${res.json.agentId}/message`]);
  });

  it('to a live mayor: the control server holds the fresh token before it sees the message', async () => {
    const t = await townWithMayor();
    const before = claimsOf(await harness.token(t.mayorId));
    const from = await lastSeq(t.townId);
    const res = await tell(t, 'two');
    expect(res.status).toBe(200);
    expect(res.json).toMatchObject({ agentId: t.mayorId, delivered: true });
    const seen = await seenSince(t.townId, from);
    expect(seen.map((l) => l.path)).toEqual(['/agents/refresh-tokens', `/agents/${t.mayorId}/message`]);
    expect(seen[0]!.status).toBe(200);
    const held = await harness.token(t.mayorId);
    expect(claimsOf(held).jti).not.toBe(before.jti);
    expect(new Date(claimsOf(held).exp * 1000).toISOString()).toBe(res.json.tokenExpiresAt);
    expect((await api(`/api/towns/${t.townId}/agents/${t.mayorId}/heartbeat`, { token: held, body: {} })).status).toBe(200);
  });

  it('a mayor the container lost is started again before the message', async () => {
    const t = await townWithMayor();
    await harness.loseAgent(t.mayorId);
    const from = await lastSeq(t.townId);
    const res = await tell(t, 'two');
    expect(res.json).toMatchObject({ agentId: t.mayorId, delivered: true });
    const seen = await seenSince(t.townId, from);
    expect(seen.map((l) => l.path)).toEqual(['/agents/refresh-tokens', '/agents/start', `/agents/${t.mayorId}/message`]);
    expect(claimsOf(await harness.token(t.mayorId)).gen).toBe(2);
  });

  it('a stopped mayor is revived under a new generation: its old token stays revoked', async () => {
    const t = await townWithMayor();
    const oldToken = await harness.token(t.mayorId);
    await api(`/api/towns/${t.townId}/agents/${t.mayorId}/stop`, { token: t.token, body: {} });
    await tell(t, 'back?');
    const newToken = await harness.token(t.mayorId);
    expect((await api(`/api/towns/${t.townId}/agents/${t.mayorId}/heartbeat`, { token: oldToken, body: {} })).json.error.code).toBe('token_revoked');
    expect((await api(`/api/towns/${t.townId}/agents/${t.mayorId}/heartbeat`, { token: newToken, body: {} })).status).toBe(200);
  });

  it('a mayor can be dispatched: it belongs to the town, one at a time, and receives the messages', async () => {
    const t = await townWithMayor();
    expect(claimsOf(await harness.token(t.mayorId))).toMatchObject({ agentId: t.mayorId, townId: t.townId });
    expect(claimsOf(await harness.token(t.mayorId))).not.toHaveProperty('rigId');
    const base = `/api/towns/${t.townId}/rigs/${t.rigId}/agents`;
    const again = await api(base, { token: t.token, body: { role: 'mayor' } });
    expect(again.status).toBe(409);
    expect((await tell(t, 'hi')).json.agentId).toBe(t.mayorId);
    expect((await api(`/api/towns/${t.townId}/agents/${t.mayorId}/stop`, { token: t.token, body: {} })).status).toBe(200);
    const next = await api(base, { token: t.token, body: { role: 'mayor', command: idleCommand() } });
    expect(next.status).toBe(201);
    expect(next.json.id).not.toBe(t.mayorId);
  });

  it('the control server not answering → 502, and the message is kept and delivered with the next one', async () => {
    const t = await townWithMayor();
    await harness.fault(t.townId, { path: '.', status: 503 });
    const res = await tell(t, 'first');
    await harness.clear(t.townId);
    expect(res.status).toBe(502);
    expect(res.json.error.code).toBe('container_unavailable');
    const from = await lastSeq(t.townId);
    expect((await tell(t, 'second')).json.delivered).toBe(true);
    expect((await seenSince(t.townId, from)).filter((s) => s.path.endsWith('/message'))).toHaveLength(2);
  });
});

describe('the mayor conversation', () => {
  it("lists the user's messages and the mayor's replies in order, after a cursor; a reply event is stored once", async () => {
    const t = await townWithMayor();
    await tell(t, 'what is up?');
    const token = await harness.token(t.mayorId);
    const events = [
      { id: 'e-1', type: 'reply', text: 'all good' },
      { id: 'e-2', type: 'output', text: 'not a reply' },
    ];
    const stored = await api(`/api/towns/${t.townId}/agents/${t.mayorId}/events`, { token, body: { events } });
    expect(stored.json.accepted).toBe(2);
    // a redelivery of the same events adds nothing
    await api(`/api/towns/${t.townId}/agents/${t.mayorId}/events`, { token, body: { events } });
    await tell(t, 'thanks');
    const all = await conversation(t);
    expect(all.map((m) => `${m.from}:${m.text}`)).toEqual(['user:what is up?', 'mayor:all good', 'user:thanks']);
    expect(all.every((m) => /^\d{4}-\d\d-\d\dT/.test(m.at))).toBe(true);
    expect((await conversation(t, all[0]!.id)).map((m) => m.text)).toEqual(['all good', 'thanks']);
    const page = await api(`/api/towns/${t.townId}/mayor/messages?after=0&limit=1`, { token: t.token });
    expect(page.json.messages).toHaveLength(1);
    expect((await api(`/api/towns/${t.townId}/mayor/messages?after=-1`, { token: t.token })).status).toBe(400);
  });
});
