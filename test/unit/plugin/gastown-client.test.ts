import { describe, expect, it } from 'vitest';
import { GastownCallError, GastownClient, createGastownClient, optionsFromEnv } from '../../../container/plugin/gastown-client.ts';
import { useStandInPair } from '../container/harness.ts';
import { signAgentToken } from '../container/stand-in-worker.ts';

describe('plugin client', () => {
  const t = useStandInPair({ heartbeatIntervalMs: 60_000 });

  async function agentClient(agentId: string, credential = t.worker.credential, remintRetryMs?: number) {
    const iat = Math.floor(Date.now() / 1000) - 100;
    await t.c.call('POST', '/agents/start', {
      agentId, townId: t.worker.townId, rigId: null, role: 'polecat', token: await signAgentToken(agentId, t.worker.townId, iat),
      apiUrl: t.worker.url, command: [process.execPath, '-e', 'process.stdin.resume()'], containerCredential: credential,
    });
    const record = t.c.control.agents.get(agentId)!;
    return createGastownClient({ apiUrl: t.worker.url, townId: t.worker.townId, agentId, tokenFile: `${t.c.stateDir}/tokens/${agentId}.jwt`, controlUrl: t.c.url, nonce: record.nonce, remintRetryMs });
  }

  it('100 concurrent 401s → one re-mint, and all 100 calls succeed', async () => {
    const client = await agentClient('busy');
    t.worker.minIat = Math.floor(Date.now() / 1000) - 50; // the held token is now "expired"
    const remintsBefore = t.worker.remints;
    const results = await Promise.all(Array.from({ length: 100 }, () => client.callTool<{ ok: boolean }>('gt_status')));
    expect(results.every((r) => r.ok)).toBe(true);
    expect(t.worker.remints - remintsBefore).toBe(1);
    expect(client.remints).toBe(1);
    const denied = t.worker.seen.filter((s) => s.pathAgent === 'busy' && s.status === 401).length;
    expect(denied).toBe(100);
  });

  it('a token refreshed in the file meanwhile is used without a re-mint', async () => {
    const client = await agentClient('fresh');
    t.worker.minIat = Math.floor(Date.now() / 1000) - 50;
    const newer = await signAgentToken('fresh', t.worker.townId, Math.floor(Date.now() / 1000));
    const remintsBefore = t.worker.remints;
    expect((await t.c.call('POST', '/agents/fresh/refresh-token', { token: newer })).status).toBe(200);
    expect((await client.callTool<{ ok: boolean }>('gt_status')).ok).toBe(true);
    expect(t.worker.remints).toBe(remintsBefore);
  });

  it('the local re-mint route refuses a wrong nonce; a failed call carries status and code, never the token', async () => {
    await agentClient('nonce');
    const res = await fetch(`${t.c.url}/local/agents/nonce/remint`, { method: 'POST', headers: { authorization: 'Bearer guess' } });
    expect(res.status).toBe(401);
    const bad = new GastownClient({ apiUrl: t.worker.url, townId: t.worker.townId, agentId: 'nonce', tokenFile: `${t.c.stateDir}/tokens/nonce.jwt`, controlUrl: t.c.url, nonce: 'guess' });
    t.worker.minIat = Math.floor(Date.now() / 1000) + 1_000;
    const err = await bad.callTool('gt_status').catch((e: unknown) => e);
    t.worker.minIat = 0;
    expect(err).toBeInstanceOf(GastownCallError);
    expect(err).toMatchObject({ status: 401, code: 'token_expired' });
    expect(String((err as Error).message)).not.toMatch(/eyJ/);
  });

  it('a failed re-mint is not sticky: once the control server can re-mint again, the next call heals', async () => {
    const client = await agentClient('flaky', 'not-the-credential', 0);
    t.worker.minIat = Math.floor(Date.now() / 1000) - 50;
    const err = await client.callTool('gt_status').catch((e: unknown) => e);
    expect(err).toMatchObject({ status: 401, code: 'token_expired' });
    // the TownDO hands the container its current credential (latest wins)
    await t.c.call('POST', '/agents/start', { agentId: 'other', townId: t.worker.townId, rigId: null, role: 'polecat', token: await signAgentToken('other', t.worker.townId, Math.floor(Date.now() / 1000)), apiUrl: t.worker.url, command: [process.execPath, '-e', 'process.stdin.resume()'], containerCredential: t.worker.credential });
    expect((await client.callTool<{ ok: boolean }>('gt_status')).ok).toBe(true);
    expect(client.remints).toBe(2);
    t.worker.minIat = 0;
  });

  it('reads its options from the agent environment, and says which one is missing', () => {
    const env = { GASTOWN_API_URL: 'http://w', GASTOWN_TOWN_ID: 't', GASTOWN_AGENT_ID: 'a', GASTOWN_TOKEN_FILE: '/f', GASTOWN_CONTROL_URL: 'http://c', GASTOWN_AGENT_NONCE: 'n' };
    expect(optionsFromEnv(env)).toEqual({ apiUrl: 'http://w', townId: 't', agentId: 'a', tokenFile: '/f', controlUrl: 'http://c', nonce: 'n' });
    expect(() => optionsFromEnv({ ...env, GASTOWN_TOKEN_FILE: '' })).toThrow(/GASTOWN_TOKEN_FILE/);
    expect(createGastownClient({ ...optionsFromEnv(env) })).toBeInstanceOf(GastownClient);
  });
});
