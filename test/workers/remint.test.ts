import { describe, expect, it } from 'vitest';
import { api, claimsOf, dispatch, forgeToken, harness, kidOf, newTown } from './helpers';
import { TEST_SECRETS } from './secrets';

const remint = (townId: string, agentId: string, credential: string | null) =>
  api(`/api/towns/${townId}/agents/${agentId}/token`, { body: {}, ...(credential ? { token: credential } : {}) });

describe('the 401 fallback: re-mint through the container credential', () => {
  it('re-mints for a running agent with the credential the TownDO handed the container', async () => {
    const t = await newTown();
    const id = await dispatch(t);
    const credential = (await harness.credential(t.townId))!;
    expect(claimsOf(credential)).toMatchObject({ aud: 'gastown-container', townId: t.townId, cgen: 1 });
    const res = await remint(t.townId, id, credential);
    expect(res.status).toBe(200);
    expect(Date.parse(res.json.expiresAt)).toBeGreaterThan(Date.now());
    expect((await api(`/api/towns/${t.townId}/agents/${id}/heartbeat`, { token: res.json.token, body: {} })).status).toBe(200);
    expect((await api(`/api/towns/${t.townId}`, { token: t.token })).text).not.toContain(credential);
  });

  it('an expired agent token alone never obtains a new one; neither does a current one', async () => {
    const t = await newTown();
    const id = await dispatch(t);
    const now = Math.floor(Date.now() / 1000);
    const expired = await forgeToken({ kid: await kidOf(TEST_SECRETS.GASTOWN_JWT_SECRET), claims: { sub: id, agentId: id, townId: t.townId, userId: 'test-client', gen: 1, iat: now - 7200, exp: now - 3600 } });
    const res = await remint(t.townId, id, expired);
    expect(res.status).toBe(401);
    expect((await remint(t.townId, id, await harness.token(id))).status).toBe(401);
    expect((await remint(t.townId, id, null)).status).toBe(401);
  });

  it("another town's credential is refused before the Durable Object is reached (403)", async () => {
    const a = await newTown();
    const b = await newTown();
    const idA = await dispatch(a);
    await dispatch(b);
    expect((await remint(a.townId, idA, (await harness.credential(b.townId))!)).status).toBe(403);
  });

  it("a replaced container's credential no longer works once a newer one was handed out", async () => {
    const t = await newTown();
    const id = await dispatch(t);
    const first = (await harness.credential(t.townId))!;
    await api(`/api/towns/${t.townId}/agents/${id}/stop`, { token: t.token, body: {} });
    const next = await dispatch(t); // no other agent runs: the container may be new, it gets a new credential
    const second = (await harness.credential(t.townId))!;
    expect(claimsOf(second).cgen).toBe(2);
    expect((await remint(t.townId, next, first)).status).toBe(401);
    expect((await remint(t.townId, next, second)).status).toBe(200);
  });

  it('refuses agents that are not running (saying they ended), and unknown agents', async () => {
    const t = await newTown();
    const id = await dispatch(t);
    const keep = await dispatch(t);
    const credential = (await harness.credential(t.townId))!;
    await api(`/api/towns/${t.townId}/agents/${id}/stop`, { token: t.token, body: {} });
    const stopped = await remint(t.townId, id, credential);
    expect(stopped.status).toBe(403);
    expect(stopped.json.error.agentEnded).toBe(true);
    expect((await remint(t.townId, 'polecat-nobody', credential)).status).toBe(404);
    expect((await remint(t.townId, keep, credential)).status).toBe(200);
  });

  it('is rate-limited per agent, with Retry-After', async () => {
    const t = await newTown();
    const id = await dispatch(t);
    const credential = (await harness.credential(t.townId))!;
    const answers: Array<{ status: number; retryAfter: string | null }> = [];
    for (let i = 0; i < 12; i++) {
      const res = await remint(t.townId, id, credential);
      answers.push({ status: res.status, retryAfter: res.headers.get('retry-after') });
    }
    expect(answers.slice(0, 10).every((a) => a.status === 200)).toBe(true);
    expect(answers.slice(10)).toEqual([{ status: 429, retryAfter: '60' }, { status: 429, retryAfter: '60' }]);
  });
});
