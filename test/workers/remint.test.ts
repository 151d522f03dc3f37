import { describe, expect, it } from 'vitest';
import { api, dispatch, forgeToken, kidOf, newTown, standIn } from './helpers';
import { TEST_SECRETS } from './secrets';

const remint = (townId: string, agentId: string, credential: string | null) =>
  api(`/api/towns/${townId}/agents/${agentId}/token`, { body: {}, ...(credential ? { token: credential } : {}) });

describe('the 401 fallback: re-mint through the container credential', () => {
  it('re-mints for a running agent with the credential the TownDO handed the container', async () => {
    const t = await newTown();
    const id = await dispatch(t);
    const credential = await standIn.credential(t.townId);
    expect(credential).toMatch(/^[A-Za-z0-9_-]{40,}$/);
    const res = await remint(t.townId, id, credential);
    expect(res.status).toBe(200);
    expect(Date.parse(res.json.expiresAt)).toBeGreaterThan(Date.now());
    expect((await api(`/api/towns/${t.townId}/agents/${id}/heartbeat`, { token: res.json.token, body: {} })).status).toBe(200);
    // the TownDO keeps only a hash: the read model never shows it
    expect((await api(`/api/towns/${t.townId}`, { token: t.token })).text).not.toContain(credential);
  });

  it('an expired agent token alone never obtains a new one', async () => {
    const t = await newTown();
    const id = await dispatch(t);
    const now = Math.floor(Date.now() / 1000);
    const expired = await forgeToken({ kid: await kidOf(TEST_SECRETS.GASTOWN_JWT_SECRET), claims: { sub: id, agentId: id, townId: t.townId, userId: 'test-client', gen: 1, iat: now - 7200, exp: now - 3600 } });
    const res = await remint(t.townId, id, expired);
    expect(res.status).toBe(401);
    expect(res.json.error.code).toBe('unauthorized');
    const current = await standIn.heldToken(t.townId, id);
    expect((await remint(t.townId, id, current)).status).toBe(401);
    expect((await remint(t.townId, id, null)).status).toBe(401);
  });

  it("another town's credential does not work here", async () => {
    const a = await newTown();
    const b = await newTown();
    const idA = await dispatch(a);
    await dispatch(b);
    expect((await remint(a.townId, idA, await standIn.credential(b.townId))).status).toBe(401);
  });

  it('refuses agents that are not running, and unknown agents', async () => {
    const t = await newTown();
    const id = await dispatch(t);
    const credential = await standIn.credential(t.townId);
    await api(`/api/towns/${t.townId}/agents/${id}/stop`, { token: t.token, body: {} });
    expect((await remint(t.townId, id, credential)).status).toBe(403);
    expect((await remint(t.townId, 'polecat-nobody', credential)).status).toBe(404);
  });

  it('is rate-limited per agent', async () => {
    const t = await newTown();
    const id = await dispatch(t);
    const credential = await standIn.credential(t.townId);
    const statuses: number[] = [];
    for (let i = 0; i < 12; i++) statuses.push((await remint(t.townId, id, credential)).status);
    expect(statuses.slice(0, 10).every((s) => s === 200)).toBe(true);
    expect(statuses.slice(10)).toEqual([429, 429]);
  });
});
