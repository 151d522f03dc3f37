import { jwtVerify } from 'jose';
import { keyRing } from '../../src/domain/signing-keys.ts';
import { mintAgentToken, verifyAgentToken } from '../../src/domain/tokens.ts';
import { startStandIn } from '../../test/workers/stand-in-server.ts';
import { GastownApi } from '../lib/gastown-api.ts';
import { startWranglerDev, throughput } from './wrangler-dev.ts';

const SECRET = 'bench-jwt-secret-0123456789abcdef0123456789abcdef';
const CONTROL = 'bench-control-secret';
const OPTIONS = { algorithms: ['HS256'], issuer: 'gastown', audience: 'gastown-agent', requiredClaims: ['exp', 'iat', 'sub', 'jti'], clockTolerance: 30 };

/** Verification alone, in Node: cached CryptoKey vs jose given the raw secret (imported on every call). */
export async function benchVerifyMicro(ms = 2_000): Promise<{ cachedOps: number; rawOps: number }> {
  const keys = await keyRing(SECRET);
  const { token } = await mintAgentToken(keys, { agentId: 'a', rigId: 'r', townId: 't', userId: 'u', gen: 1 }, Date.now(), 600);
  const raw = new TextEncoder().encode(SECRET);
  const rate = async (fn: () => Promise<unknown>) => {
    let n = 0;
    const end = performance.now() + ms;
    while (performance.now() < end) {
      await fn();
      n++;
    }
    return n / (ms / 1000);
  };
  const results = { cachedOps: 0, rawOps: 0 };
  for (let round = 0; round < 3; round++) {
    results.cachedOps += (await rate(() => verifyAgentToken(keys, token, Date.now()))) / 3;
    results.rawOps += (await rate(() => jwtVerify(token, raw, OPTIONS))) / 3;
  }
  return results;
}

/** The same heartbeat route in real workerd: verified, bare, raw secret. Rounds interleave the variants. */
export async function benchAuthRoute(seconds = 3, rounds = 3, concurrency = 16): Promise<Record<'verified' | 'bare' | 'raw-secret', number>> {
  const standIn = await startStandIn(CONTROL);
  const worker = await startWranglerDev('bench/wrangler.toml', {
    GASTOWN_JWT_SECRET: SECRET,
    CONTAINER_CONTROL_SECRET: CONTROL,
    CONTAINER_URL: `http://127.0.0.1:${standIn.port}`,
    GASTOWN_CLIENT_ID: 'bench',
    GASTOWN_CLIENT_SECRET: 'bench-secret',
  });
  try {
    const api = new GastownApi(worker.url, 'bench', 'bench-secret');
    const town = await api.createTown('auth-bench');
    const rig = await api.createRig(town.id, 'main');
    const agent = await api.dispatch(town.id, rig.id, 'polecat');
    const agents = (await (await fetch(`http://127.0.0.1:${standIn.port}/__test/agents?townId=${town.id}`)).json()) as Array<{ agentId: string; token: string }>;
    const token = agents.find((a) => a.agentId === agent.id)!.token;
    const variants = ['verified', 'bare', 'raw-secret'] as const;
    const call = (variant: string) => async () => {
      const res = await fetch(`${worker.url}/bench/${variant}/${town.id}/${agent.id}`, { method: 'POST', headers: { authorization: `Bearer ${token}` }, body: '{}' });
      if (res.status !== 200) throw new Error(`${variant}: ${res.status} ${await res.text()}`);
      await res.arrayBuffer();
    };
    for (const v of variants) await throughput(call(v), concurrency, 500);
    const totals = { verified: 0, bare: 0, 'raw-secret': 0 };
    for (let r = 0; r < rounds; r++) {
      for (const v of variants) totals[v] += (await throughput(call(v), concurrency, seconds * 1000)) / rounds;
    }
    return totals;
  } finally {
    await worker.stop();
    await standIn.close();
  }
}
