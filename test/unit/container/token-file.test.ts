import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startControl, until } from './harness.ts';
import { signAgentToken, startStandInWorker, type StandInWorker } from './stand-in-worker.ts';

/** A child that reads its token file in a tight loop and reports anything that is not a whole JWT. */
const READER = `
const fs = require('fs');
const file = process.env.GASTOWN_TOKEN_FILE;
let reads = 0, bad = 0, last = '';
const seen = new Set();
const loop = () => {
  for (let i = 0; i < 200; i++) {
    let t = '';
    try { t = fs.readFileSync(file, 'utf8'); } catch { bad++; continue; }
    reads++;
    if (!/^[A-Za-z0-9_-]+\\.[A-Za-z0-9_-]+\\.[A-Za-z0-9_-]+$/.test(t)) bad++;
    else if (t !== last) { seen.add(t); last = t; }
  }
  setImmediate(loop);
};
process.stdin.on('data', () => console.log(JSON.stringify({ type: 'report', reads, bad, distinct: seen.size })));
loop();
`;

describe('token file', () => {
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

  it('a child reading it in a tight loop during 1,000 refreshes never reads a partial or empty token', async () => {
    const base = Math.floor(Date.now() / 1000);
    const first = await signAgentToken('reader', worker.townId, base);
    const started = await c.call('POST', '/agents/start', { agentId: 'reader', townId: worker.townId, rigId: null, role: 'polecat', token: first, apiUrl: worker.url, command: [process.execPath, '-e', READER] });
    expect(started.status).toBe(201);
    for (let i = 1; i <= 1_000; i++) {
      const res = await c.call('POST', '/agents/reader/refresh-token', { token: await signAgentToken('reader', worker.townId, base + i) });
      expect(res.status).toBe(200);
    }
    await c.call('POST', '/agents/reader/message', { text: 'report' });
    await until(() => [...worker.events.values()].some((e) => (e as { type: string }).type === 'report'), 10_000, 'the reader report');
    const report = [...worker.events.values()].find((e) => (e as { type: string }).type === 'report') as { reads: number; bad: number; distinct: number };
    console.log(`token file reader: ${report.reads} reads, ${report.distinct} distinct tokens seen, ${report.bad} bad`);
    expect(report.bad).toBe(0);
    expect(report.reads).toBeGreaterThan(1_000);
    expect(report.distinct).toBeGreaterThan(10);
  });
});
