import { env } from 'cloudflare:workers';
import { runInDurableObject } from 'cloudflare:test';
import { SignJWT, type JWTHeaderParameters } from 'jose';
import { describe, expect, it } from 'vitest';
import { api, dispatch, kidOf, newTown } from './helpers';
import { TEST_SECRETS } from './secrets';

/**
 * A test harness that knows GASTOWN_JWT_SECRET (the contract's Local run section) mints
 * agent tokens with exactly the contract's claims: no `gen`, and no `kid` unless it
 * chooses one. Such tokens were refused (gen claim missing, kid required).
 */
async function contractToken(
  ids: { agentId: string; townId: string; rigId?: string },
  opts: { iat?: number; secret?: string; header?: Partial<JWTHeaderParameters> } = {},
): Promise<string> {
  const iat = opts.iat ?? Math.floor(Date.now() / 1000);
  const claims: Record<string, unknown> = { agentId: ids.agentId, townId: ids.townId, userId: TEST_SECRETS.GASTOWN_CLIENT_ID };
  if (ids.rigId) claims.rigId = ids.rigId;
  return new SignJWT(claims)
    .setProtectedHeader({ alg: 'HS256', ...opts.header })
    .setSubject(ids.agentId)
    .setIssuedAt(iat)
    .setExpirationTime(iat + 600)
    .setJti(crypto.randomUUID())
    .setIssuer('gastown')
    .setAudience('gastown-agent')
    .sign(new TextEncoder().encode(opts.secret ?? TEST_SECRETS.GASTOWN_JWT_SECRET));
}

const heartbeat = (townId: string, agentId: string, token: string) => api(`/api/towns/${townId}/agents/${agentId}/heartbeat`, { token, body: {} });

describe('agent tokens with only the contract claims (no gen, no kid)', () => {
  it('work on agent routes while the agent is live; stop revokes them', async () => {
    const t = await newTown();
    const agentId = await dispatch(t);
    const token = await contractToken({ agentId, townId: t.townId, rigId: t.rigId });

    const ok = await heartbeat(t.townId, agentId, token);
    expect(ok.status).toBe(200);
    const tool = await api(`/api/towns/${t.townId}/agents/${agentId}/tools/gt_status`, { token, body: {} });
    expect(tool.status).toBe(200);

    expect((await api(`/api/towns/${t.townId}/agents/${agentId}/stop`, { token: t.token, body: {} })).status).toBe(200);
    const after = await heartbeat(t.townId, agentId, token);
    expect(after.status).toBe(401);
    expect(after.json.error.code).toBe('token_revoked');
  });

  it('are verified with the previous secret too (rotation), tried after the current one', async () => {
    const t = await newTown();
    const agentId = await dispatch(t);
    const token = await contractToken({ agentId, townId: t.townId, rigId: t.rigId }, { secret: TEST_SECRETS.GASTOWN_JWT_SECRET_PREVIOUS });
    expect((await heartbeat(t.townId, agentId, token)).status).toBe(200);
  });

  it('with a kid: the derived kid works, an unknown kid is 401 token_invalid', async () => {
    const t = await newTown();
    const agentId = await dispatch(t);
    const ids = { agentId, townId: t.townId, rigId: t.rigId };
    const named = await contractToken(ids, { header: { kid: await kidOf(TEST_SECRETS.GASTOWN_JWT_SECRET) } });
    expect((await heartbeat(t.townId, agentId, named)).status).toBe(200);
    const unknown = await heartbeat(t.townId, agentId, await contractToken(ids, { header: { kid: 'harness-key-1' } }));
    expect(unknown.status).toBe(401);
    expect(unknown.json.error.code).toBe('token_invalid');
  });

  it('a mayor (no rigId): issued before its restart → revoked; issued after → accepted', async () => {
    const t = await newTown();
    const first = await api(`/api/towns/${t.townId}/mayor/messages`, { token: t.token, body: { text: 'one' } });
    const mayorId = first.json.agentId as string;
    // the mayor has run for a minute, so a token issued 5 s ago belongs to its current generation
    await runInDurableObject(env.TOWN.getByName(t.townId), (_i, state) => {
      state.storage.sql.exec('UPDATE agents SET created_at = created_at - 60000, token_gen_started_at = token_gen_started_at - 60000 WHERE id = ?', mayorId);
    });
    const before = await contractToken({ agentId: mayorId, townId: t.townId }, { iat: Math.floor(Date.now() / 1000) - 5 });
    expect((await heartbeat(t.townId, mayorId, before)).status).toBe(200);

    await api(`/api/towns/${t.townId}/agents/${mayorId}/stop`, { token: t.token, body: {} });
    expect((await heartbeat(t.townId, mayorId, before)).json.error.code).toBe('token_revoked');
    await api(`/api/towns/${t.townId}/mayor/messages`, { token: t.token, body: { text: 'back?' } });
    expect((await heartbeat(t.townId, mayorId, before)).json.error.code).toBe('token_revoked');
    expect((await heartbeat(t.townId, mayorId, await contractToken({ agentId: mayorId, townId: t.townId }))).status).toBe(200);
  });

  it("an ended agent's token without gen is revoked (it holds only while the agent is live)", async () => {
    const t = await newTown();
    const agentId = await dispatch(t);
    const token = await contractToken({ agentId, townId: t.townId, rigId: t.rigId });
    const done = await api(`/api/towns/${t.townId}/agents/${agentId}/completed`, { token, body: { status: 'completed' } });
    expect(done.status).toBe(200);
    expect((await heartbeat(t.townId, agentId, token)).json.error.code).toBe('token_revoked');
  });
});
