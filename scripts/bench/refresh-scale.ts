import { keyRing } from '../../src/domain/signing-keys.ts';
import { mintAgentToken } from '../../src/domain/tokens.ts';
import { REFRESH_BATCH_SIZE } from '../../src/services/control-client.ts';
import { startControlHarness } from '../../test/workers/control-harness.ts';
import { GastownApi } from '../lib/gastown-api.ts';
import { startWranglerDev } from './wrangler-dev.ts';

const SECRET = 'bench-jwt-secret-0123456789abcdef0123456789abcdef';
const CONTROL = 'bench-control-secret';

export interface RefreshRow {
  agents: number;
  mode: 'batched' | 'per-agent';
  subrequests: number;
  wallMs: number;
  refreshed: number;
}

/**
 * Refresh passes of 10, 100 and 1,000 live agents in one TownDO (real workerd), batched vs
 * one request per agent, against the real control server holding real agent processes
 * (`cat`: they hold a token and nothing else). Per-agent mode is "the batch route is
 * missing": the harness proxy answers the batch route 404.
 */
export async function benchRefreshScale(sizes: number[]): Promise<RefreshRow[]> {
  const control = await startControlHarness(CONTROL, { env: { HEARTBEAT_INTERVAL_SECONDS: '3600' } });
  const admin = (path: string) => fetch(`http://127.0.0.1:${control.proxyPort}/__harness/${path}`).then((r) => r.json());
  const worker = await startWranglerDev('wrangler.toml', {
    GASTOWN_JWT_SECRET: SECRET,
    CONTAINER_CONTROL_SECRET: CONTROL,
    CONTAINER_URL: `http://127.0.0.1:${control.proxyPort}`,
    GASTOWN_CLIENT_ID: 'bench',
    GASTOWN_CLIENT_SECRET: 'bench-secret-0123456789',
    MAX_LIVE_AGENTS_PER_TOWN: String(Math.max(...sizes)),
  });
  const rows: RefreshRow[] = [];
  try {
    const api = new GastownApi(worker.url, 'bench', 'bench-secret-0123456789');
    for (const n of sizes) {
      const town = await api.createTown(`bench-${n}`);
      const rig = await api.createRig(town.id, 'main');
      for (let i = 0; i < n; i += 10) {
        await Promise.all(Array.from({ length: Math.min(10, n - i) }, () => api.dispatch(town.id, rig.id, 'polecat', { command: ['cat'] })));
      }
      for (const mode of ['batched', 'per-agent'] as const) {
        if (mode === 'per-agent') await admin(`fault?townId=${town.id}&path=${encodeURIComponent('^/agents/refresh-tokens$')}&status=404`);
        const t0 = performance.now();
        const report = await api.ok('POST', `/api/towns/${town.id}/refresh-tokens`, {});
        rows.push({ agents: n, mode, subrequests: report.subrequests, wallMs: performance.now() - t0, refreshed: report.refreshed });
      }
      await admin(`clear?townId=${town.id}`);
      for (const agent of (await api.town(town.id)).agents) await api.stop(town.id, agent.id);
    }
  } finally {
    await worker.stop();
    await control.close();
  }
  return rows;
}

/** CPU per agent token mint (jose, cached key) beside a bare HMAC-SHA256 sign of the same size, in Node. */
export async function benchMintCpu(count = 20_000): Promise<{ mintUs: number; hmacUs: number; tokenBytes: number }> {
  const keys = await keyRing(SECRET);
  const subject = { agentId: 'polecat-0000', rigId: 'rig-0000', townId: 'town-0000', userId: 'user', gen: 1 };
  const sample = await mintAgentToken(keys, subject, Date.now(), 28_800);
  const signingInput = new TextEncoder().encode(sample.token.slice(0, sample.token.lastIndexOf('.')));
  for (let i = 0; i < 2_000; i++) await mintAgentToken(keys, subject, Date.now(), 28_800);
  let t0 = process.cpuUsage();
  for (let i = 0; i < count; i++) await mintAgentToken(keys, subject, Date.now(), 28_800);
  let used = process.cpuUsage(t0);
  const mintUs = (used.user + used.system) / count;
  for (let i = 0; i < 2_000; i++) await crypto.subtle.sign('HMAC', keys.current.key, signingInput);
  t0 = process.cpuUsage();
  for (let i = 0; i < count; i++) await crypto.subtle.sign('HMAC', keys.current.key, signingInput);
  used = process.cpuUsage(t0);
  return { mintUs, hmacUs: (used.user + used.system) / count, tokenBytes: sample.token.length };
}

export { REFRESH_BATCH_SIZE };
