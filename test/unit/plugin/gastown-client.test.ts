import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GastownCallError, GastownClient, createGastownClient, optionsFromEnv } from '../../../container/plugin/gastown-client.ts';
import { startControl } from '../container/harness.ts';
import { signAgentToken, startStandInWorker, type StandInWorker } from '../container/stand-in-worker.ts';

describe('plugin client', () => {
  let worker: StandInWorker;
  let c: Awaited<ReturnType<typeof startControl>>;
  beforeAll(async () => {
    worker = await startStandInWorker();
    c = await startControl({ heartbeatIntervalMs: 60_000 });
  });
  afterAll(async () => {
    await c.close();
    await worker.close();
  });

  async function agentClient(agentId: string, credential = worker.credential, remintRetryMs?: number) {
    const iat = Math.floor(Date.now() / 1000) - 100;
    await c.call('POST', '/agents/start', {
      agentId, townId: worker.townId, rigId: null, role: 'polecat', token: await signAgentToken(agentId, worker.townId, iat),
      apiUrl: worker.url, command: [process.execPath, '-e', 'process.stdin.resume()'], containerCredential: credential,
    });
    const record = c.control.agents.get(agentId)!;
    return createGastownClient({ apiUrl: worker.url, townId: worker.townId, agentId, tokenFile: `${c.stateDir}/tokens/${agentId}.jwt`, controlUrl: c.url, nonce: record.nonce, remintRetryMs });
  }

  it('100 concurrent 401s → one re-mint, and all 100 calls succeed', async () => {
    const client = await agentClient('busy');
    worker.minIat = Math.floor(Date.now() / 1000) - 50; // the held token is now "expired"
    const remintsBefore = worker.remints;
    const results = await Promise.all(Array.from({ length: 100 }, () => client.callTool<{ ok: boolean }>('gt_status')));
    expect(results.every((r) => r.ok)).toBe(true);
    expect(worker.remints - remintsBefore).toBe(1);
    expect(client.remints).toBe(1);
    const denied = worker.seen.filter((s) => s.pathAgent === 'busy' && s.status === 401).length;
    expect(denied).toBe(100);
  });

  it('a token refreshed in the file meanwhile is used without a re-mint', async () => {
    const client = await agentClient('fresh');
    worker.minIat = Math.floor(Date.now() / 1000) - 50;
    const newer = await signAgentToken('fresh', worker.townId, Math.floor(Date.now() / 1000));
    const remintsBefore = worker.remints;
    expect((await c.call('POST', '/agents/fresh/refresh-token', { token: newer })).status).toBe(200);
    expect((await client.callTool<{ ok: boolean }>('gt_status')).ok).toBe(true);
    expect(worker.remints).toBe(remintsBefore);
  });

  it('the local re-mint route refuses a wrong nonce; a failed call carries status and code, never the token', async () => {
    await agentClient('nonce');
    const res = await fetch(`${c.url}/local/agents/nonce/remint`, { method: 'POST', headers: { authorization: 'Bearer guess' } });
    expect(res.status).toBe(401);
    const bad = new GastownClient({ apiUrl: worker.url, townId: worker.townId, agentId: 'nonce', tokenFile: `${c.stateDir}/tokens/nonce.jwt`, controlUrl: c.url, nonce: 'guess' });
    worker.minIat = Math.floor(Date.now() / 1000) + 1_000;
    const err = await bad.callTool('gt_status').catch((e: unknown) => e);
    worker.minIat = 0;
    expect(err).toBeInstanceOf(GastownCallError);
    expect(err).toMatchObject({ status: 401, code: 'token_expired' });
    expect(String((err as Error).message)).not.toMatch(/eyJ/);
  });

  it('a failed re-mint is not sticky: once the control server can re-mint again, the next call heals', async () => {
    const client = await agentClient('flaky', 'not-the-credential', 0);
    worker.minIat = Math.floor(Date.now() / 1000) - 50;
    const err = await client.callTool('gt_status').catch((e: unknown) => e);
    expect(err).toMatchObject({ status: 401, code: 'token_expired' });
    // the TownDO hands the container its current credential (latest wins)
    await c.call('POST', '/agents/start', { agentId: 'other', townId: worker.townId, rigId: null, role: 'polecat', token: await signAgentToken('other', worker.townId, Math.floor(Date.now() / 1000)), apiUrl: worker.url, command: [process.execPath, '-e', 'process.stdin.resume()'], containerCredential: worker.credential });
    expect((await client.callTool<{ ok: boolean }>('gt_status')).ok).toBe(true);
    expect(client.remints).toBe(2);
    worker.minIat = 0;
  });

  it('reads its options from the agent environment, and says which one is missing', () => {
    const env = { GASTOWN_API_URL: 'http://w', GASTOWN_TOWN_ID: 't', GASTOWN_AGENT_ID: 'a', GASTOWN_TOKEN_FILE: '/f', GASTOWN_CONTROL_URL: 'http://c', GASTOWN_AGENT_NONCE: 'n' };
    expect(optionsFromEnv(env)).toEqual({ apiUrl: 'http://w', townId: 't', agentId: 'a', tokenFile: '/f', controlUrl: 'http://c', nonce: 'n' });
    expect(() => optionsFromEnv({ ...env, GASTOWN_TOKEN_FILE: '' })).toThrow(/GASTOWN_TOKEN_FILE/);
    expect(createGastownClient({ ...optionsFromEnv(env) })).toBeInstanceOf(GastownClient);
  });
});
