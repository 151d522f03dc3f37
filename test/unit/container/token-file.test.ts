import { describe, expect, it } from 'vitest';
import { until, useStandInPair } from './harness.ts';
import { signAgentToken } from './stand-in-worker.ts';

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
  const t = useStandInPair({ heartbeatIntervalMs: 60_000 });

  it('a child reading it in a tight loop during 1,000 refreshes never reads a partial or empty token', async () => {
    const base = Math.floor(Date.now() / 1000) - 1_000; // each refresh a second newer, none in the future
    const first = await signAgentToken('reader', t.worker.townId, base);
    const started = await t.c.call('POST', '/agents/start', { agentId: 'reader', townId: t.worker.townId, rigId: null, role: 'polecat', token: first, apiUrl: t.worker.url, command: [process.execPath, '-e', READER] });
    expect(started.status).toBe(201);
    for (let i = 1; i <= 1_000; i++) {
      const res = await t.c.call('POST', '/agents/reader/refresh-token', { token: await signAgentToken('reader', t.worker.townId, base + i) });
      expect(res.status).toBe(200);
    }
    await t.c.call('POST', '/agents/reader/message', { text: 'report' });
    await until(() => [...t.worker.events.values()].some((e) => (e as { type: string }).type === 'report'), 10_000, 'the reader report');
    const report = [...t.worker.events.values()].find((e) => (e as { type: string }).type === 'report') as { reads: number; bad: number; distinct: number };
    console.log(`token file reader: ${report.reads} reads, ${report.distinct} distinct tokens seen, ${report.bad} bad`);
    expect(report.bad).toBe(0);
    expect(report.reads).toBeGreaterThan(1_000);
    expect(report.distinct).toBeGreaterThan(10);
  });
});
