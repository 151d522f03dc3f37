import { randomBytes } from 'node:crypto';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GastownApi } from '../lib/gastown-api.ts';
import { ROOT, startLocalTown } from '../lib/local-town.ts';
import { freePort } from '../lib/ports.ts';
import { startWranglerDev } from './wrangler-dev.ts';

const AGENT = join(ROOT, 'scripts/bench/ingest-agent.mjs');

/** One ingest measurement: events of one size, through the whole pipeline and into SQLite directly. */
export interface IngestRow {
  bytes: number;
  events: number;
  pipelineEventsPerS: number;
  pipelineMBPerS: number;
  floorEventsPerS: number;
  floorMBPerS: number;
}

/**
 * Event ingest: a real agent process prints `events` events of `bytes` each; they travel
 * its stdout → the control server (journal, outbox, batches) → the Worker (wrangler dev)
 * → the TownDO's SQLite; timed from dispatch until the town counts them all stored. The
 * floor: the same rows inserted into a Durable Object's SQLite directly, in transactions
 * of 100 (what one delivery is), inside one request (client-timed, T(n) − T(0)).
 */
export async function benchIngest(sizes: Array<{ bytes: number; events: number }>): Promise<IngestRow[]> {
  const pipeline = await measurePipeline(sizes);
  const floor = await measureFloor(sizes);
  return sizes.map((s, i) => ({
    ...s,
    pipelineEventsPerS: pipeline[i]!,
    pipelineMBPerS: (pipeline[i]! * s.bytes) / 1e6,
    floorEventsPerS: floor[i]!,
    floorMBPerS: (floor[i]! * s.bytes) / 1e6,
  }));
}

async function measurePipeline(sizes: Array<{ bytes: number; events: number }>): Promise<number[]> {
  const stateDir = mkdtempSync(join(tmpdir(), 'gastown-bench-ingest-'));
  chmodSync(stateDir, 0o711);
  const vars = {
    GASTOWN_JWT_SECRET: randomBytes(36).toString('base64url'),
    CONTAINER_CONTROL_SECRET: randomBytes(24).toString('base64url'),
    GASTOWN_CLIENT_ID: 'bench',
    GASTOWN_CLIENT_SECRET: randomBytes(24).toString('base64url'),
    HEARTBEAT_INTERVAL_SECONDS: '3600',
    MAX_EVENT_BYTES_PER_AGENT: String(64 * 1024 * 1024),
  };
  const town = await startLocalTown({ port: await freePort(), containerPort: await freePort(), vars, stateDir });
  try {
    const api = new GastownApi(town.workerUrl, vars.GASTOWN_CLIENT_ID, vars.GASTOWN_CLIENT_SECRET);
    const { id: townId } = await api.createTown('ingest');
    const rig = await api.createRig(townId, 'main');
    const rates: number[] = [];
    for (const { bytes, events } of sizes) {
      const t0 = performance.now();
      const agent = await api.dispatch(townId, rig.id, 'polecat', { command: ['env', `INGEST_EVENTS=${events}`, `INGEST_BYTES=${bytes}`, process.execPath, AGENT] });
      for (;;) {
        const view = await api.town(townId);
        const stored = view.agents.find((a: { id: string }) => a.id === agent.id)?.eventsStored ?? 0;
        if (stored >= events) break;
        await new Promise((r) => setTimeout(r, 50));
      }
      rates.push(events / ((performance.now() - t0) / 1000));
      await api.stop(townId, agent.id);
    }
    return rates;
  } finally {
    await town.stop();
    rmSync(stateDir, { recursive: true, force: true });
  }
}

async function measureFloor(sizes: Array<{ bytes: number; events: number }>): Promise<number[]> {
  const worker = await startWranglerDev('bench/wrangler.toml', { GASTOWN_JWT_SECRET: 'bench-jwt-secret-0123456789abcdef0123456789abcdef', CONTAINER_CONTROL_SECRET: 'bench-control-secret', GASTOWN_CLIENT_ID: 'bench', GASTOWN_CLIENT_SECRET: 'bench-secret-0123456789' });
  try {
    const insert = async (n: number, bytes: number) => {
      const t0 = performance.now();
      const res = await fetch(`${worker.url}/bench/ingest-floor?n=${n}&bytes=${bytes}&object=${randomBytes(8).toString('hex')}`, { method: 'POST' });
      if (!res.ok) throw new Error(`ingest floor: ${res.status} ${await res.text()}`);
      await res.arrayBuffer();
      return performance.now() - t0;
    };
    await insert(500, 100);
    const rates: number[] = [];
    for (const { bytes, events } of sizes) {
      const ms = (await insert(events, bytes)) - (await insert(0, bytes));
      rates.push(events / (ms / 1000));
    }
    return rates;
  } finally {
    await worker.stop();
  }
}
