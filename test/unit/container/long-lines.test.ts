import { describe, expect, it, vi } from 'vitest';
import type { OutputLine } from '../../../container/src/domain/agent-lines.ts';
import { fitEvent } from '../../../container/src/domain/agent-lines.ts';
import { MAX_EVENT_BYTES } from '../../../container/src/domain/event-limits.ts';
import { LineSplitter } from '../../../container/src/managers/line-splitter.ts';
import { until, useStandInPair } from './harness.ts';
import { signAgentToken } from './stand-in-worker.ts';

const lines = (maxBytes: number, feed: (s: LineSplitter) => void) => {
  const out: OutputLine[] = [];
  const splitter = new LineSplitter(maxBytes, (l) => out.push(l));
  feed(splitter);
  return out;
};

describe('reading long output lines', () => {
  it('a line split across chunks is one line; a blank line is skipped; the last line needs no newline', () => {
    const out = lines(100, (s) => {
      s.push(Buffer.from('{"type":"a",'));
      s.push(Buffer.from('"n":1}\n  \nsecond\nthi'));
      s.push(Buffer.from('rd'));
      s.end();
    });
    expect(out).toEqual([
      { text: '{"type":"a","n":1}', bytes: 18, truncated: false },
      { text: 'second', bytes: 6, truncated: false },
      { text: 'third', bytes: 5, truncated: false },
    ]);
  });

  it('a line over the bound is one truncated line (its first bytes, cut at a character, and its size as printed); the next line is whole', () => {
    // 'é' is 2 bytes: 7 bytes kept would cut the fourth in half
    const out = lines(7, (s) => s.push(Buffer.from(`${'é'.repeat(10)}\nnext\n`)));
    expect(out).toEqual([
      { text: 'ééé', bytes: 20, truncated: true },
      { text: 'next', bytes: 4, truncated: false },
    ]);
  });

  it('a giant line: memory stays bounded while it is read (its bytes past the bound are counted, not kept)', () => {
    const chunk = Buffer.alloc(64 * 1024, 'x');
    const out: OutputLine[] = [];
    const splitter = new LineSplitter(MAX_EVENT_BYTES, (l) => out.push(l));
    const before = process.memoryUsage().arrayBuffers;
    for (let i = 0; i < 1_024; i++) splitter.push(chunk); // 64 MiB without a newline
    const grown = process.memoryUsage().arrayBuffers - before;
    splitter.push(Buffer.from('\n'));
    expect(grown).toBeLessThan(8 * 1024 * 1024);
    expect(out).toHaveLength(1);
    expect(out[0]).toMatchObject({ bytes: 64 * 1024 * 1024, truncated: true });
    expect(out[0]!.text.length).toBe(MAX_EVENT_BYTES);
  });

  it.each([
    ['quotes and backslashes (2 bytes each in JSON)', '"\\'.repeat(20_000)],
    ['control characters (6 bytes each in JSON)', '\u0001'.repeat(20_000)],
    ['3-byte characters', '€'.repeat(30_000)],
    ['4-byte characters (surrogate pairs, never split)', '😀'.repeat(20_000)],
  ])('an event whose JSON is over the limit is cut to fit exactly within it: %s', (_name, text) => {
    const fitted = fitEvent({ id: 'e1', type: 'output', ts: '2030-01-01T00:00:00.000Z', text }, { text, bytes: Buffer.byteLength(text), truncated: false }, 'output');
    expect(fitted.truncated).toBe(true);
    const bytes = Buffer.byteLength(fitted.json);
    expect(bytes).toBeLessThanOrEqual(MAX_EVENT_BYTES);
    expect(bytes).toBeGreaterThan(MAX_EVENT_BYTES - 7);
    const parsed = JSON.parse(fitted.json) as { text: string; originalBytes: number };
    expect(text.startsWith(parsed.text)).toBe(true);
    expect(parsed.originalBytes).toBe(Buffer.byteLength(text));
    expect(parsed.text).not.toMatch(/[\ud800-\udbff](?![\udc00-\udfff])/); // no pair cut in half
  });
});

describe('long lines from real agents: kept whole up to the per-event limit, truncated and counted past it', () => {
  const t = useStandInPair({ heartbeatIntervalMs: 60_000 });
  const now = () => Math.floor(Date.now() / 1000);
  const start = async (agentId: string, script: string) =>
    t.c.call('POST', '/agents/start', {
      agentId, townId: t.worker.townId, rigId: 'rig-1', role: 'mayor', apiUrl: t.worker.url, containerCredential: t.worker.credential,
      command: [process.execPath, '-e', `${script}; process.stdin.resume(); process.stdin.on('end', () => process.exit(0));`],
      token: await signAgentToken(agentId, t.worker.townId, now()),
    });
  const stored = () => [...t.worker.events.values()] as Array<Record<string, unknown>>;

  it('a 20 KB JSON line (a mayor reply) is stored whole, as the JSON event it is', async () => {
    const text = 'r'.repeat(20_000);
    expect((await start('long-reply', `process.stdout.write(JSON.stringify({ type: 'reply', text: ${JSON.stringify(text)} }) + '\\n')`)).status).toBe(201);
    await until(() => stored().some((e) => e.type === 'reply'), 10_000, 'the reply stored');
    const reply = stored().find((e) => e.type === 'reply')!;
    expect(reply.text).toBe(text);
    expect(reply.truncated).toBeUndefined();
    expect(t.c.control.stats.drops.event.truncated).toBe(0);
    await t.c.call('POST', '/agents/long-reply/stop');
  });

  it('truncated: a 200 KB stdout line and a 200 KB stderr line are each one event within the limit, marked truncated with their size, counted (truncated) in /stats, reported and logged; the line after is whole', async () => {
    const warn = vi.spyOn(console, 'warn');
    try {
      const script = `process.stdout.write('o'.repeat(200000) + '\\n' + JSON.stringify({ type: 'after', n: 1 }) + '\\n'); process.stderr.write('e'.repeat(200000) + '\\nstderr after\\n')`;
      expect((await start('giant-lines', script)).status).toBe(201);
      await until(() => stored().filter((e) => e.truncated === true).length === 2 && stored().some((e) => e.text === 'stderr after') && t.worker.dropTotals()['event/truncated'] === 2, 10_000, 'both lines stored and the truncations reported');
      const cut = stored().filter((e) => e.truncated === true);
      expect(cut.map((e) => [e.type, e.originalBytes])).toEqual(expect.arrayContaining([['output', 200_000], ['stderr', 200_000]]));
      for (const e of cut) {
        expect(Buffer.byteLength(JSON.stringify(e))).toBeLessThanOrEqual(MAX_EVENT_BYTES);
        expect((e.text as string).length).toBeGreaterThan(60_000);
      }
      expect(stored().filter((e) => e.type === 'after')).toEqual([expect.objectContaining({ type: 'after', n: 1 })]);
      expect(t.c.control.stats.drops.event.truncated).toBe(2);
      const reports = [...t.worker.drops.values()].filter((d) => d.agentId === 'giant-lines');
      expect(reports.every((d) => d.cause === 'truncated' && d.kind === 'event')).toBe(true);
      expect(reports.reduce((n, d) => n + d.count, 0)).toBe(2);
      expect(warn.mock.calls.map((c) => String(c[0])).some((l) => l.includes('"msg":"items dropped"') && l.includes('"cause":"truncated"'))).toBe(true);
      expect(t.worker.refusedEvents.size).toBe(0);
    } finally {
      warn.mockRestore();
    }
    await t.c.call('POST', '/agents/giant-lines/stop');
  });

  it('a JSON line under the read bound whose event is over the limit (escapes count) is stored as a truncated output event, never refused', async () => {
    // 40,000 quotes: 40 KB as printed, 80 KB once escaped in the event's JSON
    expect((await start('escaped', `process.stdout.write(JSON.stringify({ type: 'quoted', text: '"'.repeat(40000) }) + '\\n')`)).status).toBe(201);
    await until(() => stored().some((e) => e.truncated === true && e.originalBytes === Buffer.byteLength(JSON.stringify({ type: 'quoted', text: '"'.repeat(40_000) }))), 10_000, 'the cut event');
    expect(t.worker.refusedEvents.size).toBe(0);
    expect(t.c.control.stats.drops.event.too_large).toBe(0);
    await t.c.call('POST', '/agents/escaped/stop');
  });
});
