import { describe, expect, it } from 'vitest';
import { api, newTown, standIn } from './helpers';

describe('a message to the mayor', () => {
  it('starts a missing mayor with a fresh token, then delivers', async () => {
    const t = await newTown();
    const res = await api(`/api/towns/${t.townId}/mayor/messages`, { token: t.token, body: { text: 'hello' } });
    expect(res.status).toBe(200);
    expect(res.json).toMatchObject({ delivered: true });
    const log = await standIn.log(t.townId);
    expect(log.map((l) => l.path)).toEqual(['/agents/start', `/agents/${res.json.agentId}/message`]);
    expect(log[1]!.text).toBe('hello');
  });

  it('to a live mayor: the control server holds the fresh token before it sees the message', async () => {
    const t = await newTown();
    const first = await api(`/api/towns/${t.townId}/mayor/messages`, { token: t.token, body: { text: 'one' } });
    const mayorId = first.json.agentId as string;
    await standIn.get('age', t.townId, '&seconds=60');
    const n = (await standIn.log(t.townId)).length;

    const second = await api(`/api/towns/${t.townId}/mayor/messages`, { token: t.token, body: { text: 'two' } });
    expect(second.status).toBe(200);
    expect(second.json.agentId).toBe(mayorId);
    const log = (await standIn.log(t.townId)).slice(n);
    expect(log.map((l) => l.path)).toEqual([`/agents/${mayorId}/refresh-token`, `/agents/${mayorId}/message`]);
    expect(log[0]!.status).toBe(200);
    expect(log[0]!.seq).toBeLessThan(log[1]!.seq);
    expect(log[1]!.text).toBe('two');
    // the token pushed first is the one the mayor now holds, and it works
    const held = await standIn.heldToken(t.townId, mayorId);
    const claims = JSON.parse(atob(held.split('.')[1]!.replace(/-/g, '+').replace(/_/g, '/')));
    expect(claims.jti).toBe(log[0]!.tokens[0]!.jti);
    expect(new Date(claims.exp * 1000).toISOString()).toBe(second.json.tokenExpiresAt);
    expect((await api(`/api/towns/${t.townId}/agents/${mayorId}/heartbeat`, { token: held, body: {} })).status).toBe(200);
  });

  it('a mayor the container lost is started again before the message', async () => {
    const t = await newTown();
    const first = await api(`/api/towns/${t.townId}/mayor/messages`, { token: t.token, body: { text: 'one' } });
    await standIn.forget(t.townId);
    const n = (await standIn.log(t.townId)).length;
    const res = await api(`/api/towns/${t.townId}/mayor/messages`, { token: t.token, body: { text: 'two' } });
    expect(res.json.agentId).toBe(first.json.agentId);
    const log = (await standIn.log(t.townId)).slice(n);
    expect(log.map((l) => l.path)).toEqual([`/agents/${first.json.agentId}/refresh-token`, '/agents/start', `/agents/${first.json.agentId}/message`]);
    expect(log[1]!.hasCredential).toBe(true);
  });

  it('a stopped mayor is revived under a new generation: its old token stays revoked', async () => {
    const t = await newTown();
    const first = await api(`/api/towns/${t.townId}/mayor/messages`, { token: t.token, body: { text: 'one' } });
    const mayorId = first.json.agentId as string;
    const oldToken = await standIn.heldToken(t.townId, mayorId);
    await api(`/api/towns/${t.townId}/agents/${mayorId}/stop`, { token: t.token, body: {} });
    await api(`/api/towns/${t.townId}/mayor/messages`, { token: t.token, body: { text: 'back?' } });
    const newToken = await standIn.heldToken(t.townId, mayorId);
    expect((await api(`/api/towns/${t.townId}/agents/${mayorId}/heartbeat`, { token: oldToken, body: {} })).json.error.code).toBe('token_revoked');
    expect((await api(`/api/towns/${t.townId}/agents/${mayorId}/heartbeat`, { token: newToken, body: {} })).status).toBe(200);
  });

  it('a mayor can be dispatched (e.g. with its own command): it belongs to the town, one at a time, and receives the messages', async () => {
    const t = await newTown();
    const base = `/api/towns/${t.townId}/rigs/${t.rigId}/agents`;
    const res = await api(base, { token: t.token, body: { role: 'mayor', command: ['node', 'my-mayor.js'] } });
    expect(res.status).toBe(201);
    expect(res.json).toMatchObject({ role: 'mayor', status: 'working' });
    const mayorId = res.json.id as string;
    const claims = JSON.parse(Buffer.from((await standIn.heldToken(t.townId, mayorId)).split('.')[1]!, 'base64url').toString());
    expect(claims).toMatchObject({ agentId: mayorId, townId: t.townId });
    expect(claims).not.toHaveProperty('rigId');

    const again = await api(base, { token: t.token, body: { role: 'mayor' } });
    expect(again.status).toBe(409);
    expect(again.json.error.code).toBe('conflict');
    const view = (await api(`/api/towns/${t.townId}`, { token: t.token })).json;
    expect(view.agents.filter((a: { role: string }) => a.role === 'mayor')).toHaveLength(1);

    const message = await api(`/api/towns/${t.townId}/mayor/messages`, { token: t.token, body: { text: 'hi' } });
    expect(message.json.agentId).toBe(mayorId);
    expect((await api(`/api/towns/${t.townId}/agents/${mayorId}/stop`, { token: t.token, body: {} })).status).toBe(200);
    const next = await api(base, { token: t.token, body: { role: 'mayor' } });
    expect(next.status).toBe(201);
    expect(next.json.id).not.toBe(mayorId);
  });

  it('the control server down → 502 JSON error, nothing delivered', async () => {
    const t = await newTown();
    await standIn.down(t.townId, true);
    const res = await api(`/api/towns/${t.townId}/mayor/messages`, { token: t.token, body: { text: 'x' } });
    await standIn.down(t.townId, false);
    expect(res.status).toBe(502);
    expect(res.json.error.code).toBe('container_unavailable');
    expect((await standIn.log(t.townId)).some((l) => l.path.endsWith('/message'))).toBe(false);
  });
});
