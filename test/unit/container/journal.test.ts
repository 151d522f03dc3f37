import { appendFileSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Journal } from '../../../container/src/managers/journal.ts';

const dirs: string[] = [];
const freshDir = () => {
  const dir = join(mkdtempSync(join(tmpdir(), 'gastown-journal-')), 'journal');
  dirs.push(dir);
  return dir;
};
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(join(dir, '..'), { recursive: true, force: true });
});

const item = (id: string, n = 0, agentId = 'a1') => ({ id, agentId, townId: 't1', apiUrl: 'http://w', kind: 'event' as const, body: JSON.stringify({ id, type: 'tick', n }) });
const segments = (dir: string) => readdirSync(dir).filter((n) => n.startsWith('segment-')).sort();

describe('journal', () => {
  it('makes appended items durable in one group commit before their callbacks run; replays only what was not acked, in order', async () => {
    const dir = freshDir();
    const { journal } = Journal.open(dir, { flushMs: 60_000 });
    const durable: string[] = [];
    for (let i = 1; i <= 5; i++) journal.appendItem(item(`e${i}`, i), () => durable.push(`e${i}`));
    expect(durable).toEqual([]);
    await journal.flush();
    expect(durable).toEqual(['e1', 'e2', 'e3', 'e4', 'e5']);
    journal.ack(['e2', 'e4']);
    await journal.close();
    const { replayed } = Journal.open(dir);
    expect(replayed.items.map((r) => [r.id, JSON.parse(r.body).n])).toEqual([['e1', 1], ['e3', 3], ['e5', 5]]);
    expect(replayed.torn).toBe(0);
  });

  it('is root-only: a 0700 directory of 0600 segments', async () => {
    const dir = freshDir();
    const { journal } = Journal.open(dir);
    journal.appendItem(item('e1'));
    await journal.close();
    expect(statSync(dir).mode & 0o777).toBe(0o700);
    for (const name of segments(dir)) expect(statSync(join(dir, name)).mode & 0o777).toBe(0o600);
  });

  it('crash mid-write: a torn tail record is skipped and counted; every complete record before it is replayed', async () => {
    const dir = freshDir();
    const { journal } = Journal.open(dir);
    for (let i = 1; i <= 3; i++) journal.appendItem(item(`e${i}`, i));
    await journal.close();
    const [segment] = segments(dir);
    const path = join(dir, segment!);
    truncateSync(path, statSync(path).size - 7); // the last record loses its end
    const { replayed, journal: reopened } = Journal.open(dir);
    expect(replayed.items.map((r) => r.id)).toEqual(['e1', 'e2']);
    expect(replayed.torn).toBe(1);
    expect(reopened.stats.tornRecordsSkipped).toBe(1);
    // whose item it was, from the head the torn record kept: lost, so counted against its agent
    expect(replayed.tornItems).toEqual([{ id: 'e3', agentId: 'a1', townId: 't1', apiUrl: 'http://w', kind: 'event' }]);
    // a new server appends to a new segment, never after the torn record
    reopened.appendItem(item('e4', 4));
    await reopened.close();
    expect(Journal.open(dir).replayed.items.map((r) => r.id)).toEqual(['e1', 'e2', 'e4']);
  });

  it('a corrupt record (checksum mismatch) in the middle is skipped; the records around it are replayed', async () => {
    const dir = freshDir();
    const { journal } = Journal.open(dir);
    for (let i = 1; i <= 3; i++) journal.appendItem(item(`e${i}`, i));
    await journal.close();
    const path = join(dir, segments(dir)[0]!);
    const lines = readFileSync(path, 'utf8').split('\n');
    lines[1] = lines[1]!.replace('"n":2', '"n":9');
    writeFileSync(path, lines.join('\n'));
    appendFileSync(path, '');
    const { replayed } = Journal.open(dir);
    expect(replayed.items.map((r) => r.id)).toEqual(['e1', 'e3']);
    expect(replayed.torn).toBe(1);
    expect(replayed.tornItems.map((i) => i.id)).toEqual(['e2']);
  });

  it('torn records that lost nothing are not counted as lost items: a torn copy of an item held intact elsewhere, a torn item acked later, a torn ack', async () => {
    const dir = freshDir();
    const { journal } = Journal.open(dir);
    for (let i = 1; i <= 3; i++) journal.appendItem(item(`e${i}`, i));
    await journal.flush();
    journal.ack(['e2']);
    await journal.close();
    const path = join(dir, segments(dir)[0]!);
    const lines = readFileSync(path, 'utf8').split('\n').filter(Boolean);
    const corrupt = (line: string) => line.replace(/"n":(\d)/, '"n":7$1');
    // e1 copied forward (its copy torn), e2's record torn (its ack intact), and an ack cut short at the tail
    writeFileSync(path, [lines[0], corrupt(lines[0]!), corrupt(lines[1]!), lines[2], lines[3], lines[3]!.slice(0, 12)].join('\n'));
    const { replayed } = Journal.open(dir);
    expect(replayed.torn).toBe(3);
    expect(replayed.items.map((r) => r.id)).toEqual(['e1', 'e3']);
    expect(replayed.tornItems).toEqual([]);
  });

  it('trims: segments go once everything in them and before them is acked, so disk stays bounded', async () => {
    const dir = freshDir();
    const { journal } = Journal.open(dir, { segmentBytes: 4_096 });
    for (let round = 0; round < 20; round++) {
      const ids = Array.from({ length: 50 }, (_, i) => `r${round}-${i}`);
      for (const id of ids) journal.appendItem(item(id));
      await journal.flush();
      journal.ack(ids);
      await journal.flush();
    }
    expect(journal.stats.segments).toBeLessThanOrEqual(2);
    expect(journal.stats.bytes).toBeLessThan(3 * 4_096 + 4_096);
    expect(segments(dir).length).toBe(journal.stats.segments);
    await journal.close();
    expect(Journal.open(dir).replayed.items).toEqual([]);
  });

  it('one item never acked does not pin the segments after it: it is copied forward, the old segments go, it is replayed once', async () => {
    const dir = freshDir();
    const { journal } = Journal.open(dir, { segmentBytes: 4_096 });
    journal.appendItem(item('stuck', 0, 'slow-agent'));
    for (let round = 0; round < 40; round++) {
      const ids = Array.from({ length: 20 }, (_, i) => `r${round}-${i}`);
      for (const id of ids) journal.appendItem(item(id));
      await journal.flush();
      journal.ack(ids);
      await journal.flush();
    }
    expect(journal.stats.segments).toBeLessThanOrEqual(4);
    await journal.close();
    const { replayed } = Journal.open(dir);
    expect(replayed.items.map((r) => r.id)).toEqual(['stuck']);
  });

  it('a drop report acks the items it drops; the same id again supersedes its count; an acked report is not replayed', async () => {
    const dir = freshDir();
    const { journal } = Journal.open(dir);
    for (let i = 1; i <= 4; i++) journal.appendItem(item(`e${i}`, i));
    const report = { id: 'r1', agentId: 'a1', townId: 't1', apiUrl: 'http://w', cause: 'overflow' as const, kind: 'event' as const };
    journal.appendReport({ ...report, count: 1, ack: ['e1'] });
    journal.appendReport({ ...report, count: 2, ack: ['e2'] });
    journal.appendReport({ ...report, id: 'r2', count: 1, ack: ['e3'] });
    journal.ack(['r2']);
    await journal.close();
    const { replayed } = Journal.open(dir);
    expect(replayed.items.map((r) => r.id)).toEqual(['e4']);
    expect(replayed.reports.map((r) => [r.id, r.count])).toEqual([['r1', 2]]);
  });
});
