import { keyRing } from '../../src/domain/signing-keys.ts';
import { AGENT_AUDIENCE, mintAgentToken, verifyAgentToken, verifySignedToken } from '../../src/domain/tokens.ts';
import { startControlHarness } from '../../test/workers/control-harness.ts';
import { GastownApi } from '../lib/gastown-api.ts';
import { median } from './stats.ts';
import { startWranglerDev, throughput } from './wrangler-dev.ts';

const SECRET = 'bench-jwt-secret-0123456789abcdef0123456789abcdef';
const CONTROL = 'bench-control-secret';

/** Verification alone, in Node: cached CryptoKey vs jose given the raw secret (imported on every call). */
export async function benchVerifyMicro(ms = 2_000): Promise<{ productionOps: number; cachedKeyOps: number; rawOps: number }> {
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
  const results = { productionOps: 0, cachedKeyOps: 0, rawOps: 0 };
  for (let round = 0; round < 3; round++) {
    results.productionOps += (await rate(() => verifyAgentToken(keys, token, Date.now()))) / 3;
    results.cachedKeyOps += (await rate(() => verifySignedToken(keys.current.key, token, AGENT_AUDIENCE, Date.now()))) / 3;
    results.rawOps += (await rate(() => verifySignedToken(raw, token, AGENT_AUDIENCE, Date.now()))) / 3;
  }
  return results;
}

/** The same heartbeat route in real workerd: verified, bare, raw secret; then verification alone, `n` per request (median µs per mode over `verifyRounds`). Each round runs every variant back to back, in alternating order; a round's verified/bare ratio is a paired comparison. */
export async function benchAuthRoute(seconds = 3, rounds = 3, concurrency = 16, verifyRounds = 8): Promise<{ route: Record<'verified' | 'bare' | 'raw-secret', number>; verifyUs: { production: number; 'cached-key': number; raw: number }; roundRatios: number[]; keyRoundRatios: number[] }> {
  const control = await startControlHarness(CONTROL, { env: { HEARTBEAT_INTERVAL_SECONDS: '3600' } });
  const worker = await startWranglerDev('bench/wrangler.toml', {
    GASTOWN_JWT_SECRET: SECRET,
    CONTAINER_CONTROL_SECRET: CONTROL,
    CONTAINER_URL: `http://127.0.0.1:${control.proxyPort}`,
    GASTOWN_CLIENT_ID: 'bench',
    GASTOWN_CLIENT_SECRET: 'bench-secret-0123456789',
    TOOL_CALLS_PER_SECOND: '100000',
  });
  try {
    const api = new GastownApi(worker.url, 'bench', 'bench-secret-0123456789');
    const town = await api.createTown('auth-bench');
    const rig = await api.createRig(town.id, 'main');
    const agent = await api.dispatch(town.id, rig.id, 'polecat', { command: ['cat'] });
    const { token } = (await (await fetch(`http://127.0.0.1:${control.proxyPort}/__harness/token?agentId=${agent.id}`)).json()) as { token: string };
    const variants = ['verified', 'bare', 'raw-secret'] as const;
    const call = (variant: string) => async () => {
      const res = await fetch(`${worker.url}/bench/${variant}/${town.id}/${agent.id}`, { method: 'POST', headers: { authorization: `Bearer ${token}` }, body: '{}' });
      if (res.status !== 200) throw new Error(`${variant}: ${res.status} ${await res.text()}`);
      await res.arrayBuffer();
    };
    for (const v of variants) await throughput(call(v), concurrency, 500);
    const totals = { verified: 0, bare: 0, 'raw-secret': 0 };
    const roundRatios: number[] = [];
    for (let r = 0; r < rounds; r++) {
      const round = { verified: 0, bare: 0, 'raw-secret': 0 };
      // alternate the order (ABC, CBA, ...) so no variant always runs first after a pause or last before GC
      for (const v of r % 2 === 0 ? variants : [...variants].reverse()) {
        round[v] = await throughput(call(v), concurrency, seconds * 1000);
        totals[v] += round[v] / rounds;
      }
      roundRatios.push(round.verified / round.bare);
    }
    const loop = async (mode: string, n: number) => {
      const t0 = performance.now();
      const res = await fetch(`${worker.url}/bench/verify-loop/${mode}?n=${n}`, { method: 'POST', headers: { authorization: `Bearer ${token}` } });
      if (res.status !== 200) throw new Error(`verify-loop ${mode}: ${res.status}`);
      await res.arrayBuffer();
      return performance.now() - t0;
    };
    // per round, every mode back to back (alternating order): the raw/cached ratio of a round
    // is a paired comparison; the machine's noise moves whole rounds, so medians are reported
    const n = 5_000;
    const modes = ['production', 'cached-key', 'raw'] as const;
    const perRound: Record<(typeof modes)[number], number[]> = { production: [], 'cached-key': [], raw: [] };
    for (const mode of modes) await loop(mode, 500);
    for (let r = 0; r < verifyRounds; r++) {
      for (const mode of r % 2 === 0 ? modes : [...modes].reverse()) perRound[mode].push((((await loop(mode, n)) - (await loop(mode, 0))) * 1000) / n);
    }
    const verifyUs = { production: median(perRound.production), 'cached-key': median(perRound['cached-key']), raw: median(perRound.raw) };
    const keyRoundRatios = perRound.raw.map((raw, i) => raw / perRound['cached-key'][i]!);
    return { route: totals, verifyUs, roundRatios, keyRoundRatios };
  } finally {
    await worker.stop();
    await control.close();
  }
}
