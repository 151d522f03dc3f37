import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GastownCallError, GastownClient } from '../../../container/plugin/gastown-client.ts';
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

  async function agentClient(agentId: string) {
    const iat = Math.floor(Date.now() / 1000) - 100;
    await c.call('POST', '/agents/start', {
      agentId, townId: worker.townId, rigId: null, role: 'polecat', token: await signAgentToken(agentId, worker.townId, iat),
      apiUrl: worker.url, command: [process.execPath, '-e', 'process.stdin.resume()'], containerCredential: worker.credential,
    });
    const record = c.control.agents.get(agentId)!;
    return new GastownClient({ apiUrl: worker.url, townId: worker.townId, agentId, tokenFile: `${c.stateDir}/tokens/${agentId}.jwt`, controlUrl: c.url, nonce: record.nonce });
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
});
