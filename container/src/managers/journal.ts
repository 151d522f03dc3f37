import { closeSync, fdatasync, fsyncSync, mkdirSync, openSync, readdirSync, readFileSync, unlinkSync, write } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { decodeSegment, encodeRecord, type ItemRecord, type JournalRecord, type ReportRecord, type TornItem } from './journal-records.ts';

const writeAsync = promisify(write);
const datasyncAsync = promisify(fdatasync);

/** Tuning of the journal (tests shorten the segment size). */
export interface JournalOptions {
  /** Longest a record waits for its group commit (ms). */
  flushMs: number;
  /** A commit starts at once when this many bytes wait. */
  flushBytes: number;
  /** A segment file is closed for appends past this size. */
  segmentBytes: number;
}

export const JOURNAL_DEFAULTS: JournalOptions = { flushMs: 10, flushBytes: 256 * 1024, segmentBytes: 4 * 1024 * 1024 };
const RETRY_FAILED_FLUSH_MS = 1_000;

/** What a journal held when it was opened: live items and reports, oldest first. */
export interface Replayed {
  items: ItemRecord[];
  reports: ReportRecord[];
  /** Torn or corrupt records skipped. */
  torn: number;
  /** Items only a torn record held (no intact copy, never acked): lost, to be counted and reported. */
  tornItems: TornItem[];
}

type LiveRecord = ItemRecord | ReportRecord;
interface Live {
  record: LiveRecord;
  bytes: number;
  /** Segment the record is durable in; -1 until its commit. */
  segment: number;
}
interface Segment {
  n: number;
  path: string;
  size: number;
  live: number;
  liveBytes: number;
}
interface Pending {
  line: string;
  entry: Live | null;
  onDurable: (() => void) | null;
}

/**
 * The control server's durable journal: one directory of append-only segment files. Every
 * item and drop report is appended and made durable by a group commit (one write and one
 * `fdatasync` for everything waiting, at most `flushMs` after the first record or at
 * `flushBytes`) before its `onDurable` runs: only then may it be sent. Acks (delivered
 * items, accepted reports) are appended too and trim the journal: a segment goes once it
 * and every older segment hold nothing live (so an ack never outlives what it acks), and
 * the oldest segment's live records are copied forward when garbage dominates, so disk
 * stays near twice the live bytes. A new journal always appends to a new segment.
 */
export class Journal {
  readonly #dir: string;
  readonly #o: JournalOptions;
  readonly #segments: Segment[] = [];
  readonly #live = new Map<string, Live>();
  #fd: number | null = null;
  #pending: Pending[] = [];
  #pendingBytes = 0;
  #acks: string[] = [];
  #timer: ReturnType<typeof setTimeout> | null = null;
  #flushing: Promise<void> | null = null;
  #seq = 0;
  #closed = false;
  #failing = false;
  /** The next commit opens a new segment (the last write failed). */
  #rotate = false;
  /** The segment whose live records are being copied forward. */
  #compacting: number | null = null;
  /** Torn or corrupt records skipped at open. */
  readonly torn: number;

  private constructor(dir: string, options: JournalOptions, torn: number) {
    this.#dir = dir;
    this.#o = options;
    this.torn = torn;
  }

  /** Opens (creating, root-only) the journal in `dir` and replays what is live. */
  static open(dir: string, options: Partial<JournalOptions> = {}): { journal: Journal; replayed: Replayed } {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const names = readdirSync(dir).filter((n) => /^segment-\d+\.log$/.test(n)).sort();
    let torn = 0;
    const tornItems = new Map<string, TornItem>();
    const decoded: Array<{ segment: Segment; records: JournalRecord[] }> = [];
    for (const name of names) {
      const path = join(dir, name);
      const data = readFileSync(path);
      const result = decodeSegment(data);
      torn += result.torn;
      for (const item of result.tornItems) tornItems.set(item.id, item);
      decoded.push({ segment: { n: Number(name.slice(8, -4)), path, size: data.length, live: 0, liveBytes: 0 }, records: result.records });
    }
    // a torn copy of an item held intact elsewhere (copied forward), or acked, lost nothing
    for (const { records } of decoded) {
      for (const r of records) {
        if (r.t === 'i') tornItems.delete(r.id);
        else for (const id of r.t === 'a' ? r.ids : r.ack) tornItems.delete(id);
      }
    }
    const journal = new Journal(dir, { ...JOURNAL_DEFAULTS, ...options }, torn);
    for (const { segment, records } of decoded) {
      journal.#segments.push(segment);
      for (const record of records) journal.#replay(record, segment);
    }
    journal.#openSegment((decoded.at(-1)?.segment.n ?? 0) + 1);
    journal.#collect();
    const live = [...journal.#live.values()].map((l) => l.record).sort((a, b) => a.seq - b.seq);
    return {
      journal,
      replayed: { items: live.filter((r): r is ItemRecord => r.t === 'i'), reports: live.filter((r): r is ReportRecord => r.t === 'd'), torn, tornItems: [...tornItems.values()] },
    };
  }

  /** Appends an item; `onDurable` runs once it is committed. */
  appendItem(record: Omit<ItemRecord, 't' | 'seq'>, onDurable?: () => void): void {
    this.#append({ ...record, t: 'i', seq: ++this.#seq }, onDurable);
  }

  /** Appends a drop report (the same id again supersedes it) that also acks the items it drops. */
  appendReport(record: Omit<ReportRecord, 't' | 'seq'>, onDurable?: () => void): void {
    this.#append({ ...record, t: 'd', seq: ++this.#seq }, onDurable);
    this.#forget(record.ack);
  }

  /** Items delivered or reports accepted: no longer live. */
  ack(ids: readonly string[]): void {
    if (this.#closed) return;
    this.#forget(ids);
    this.#acks.push(...ids);
    this.#schedule();
  }

  /** Commits everything waiting now; resolves once it is durable. */
  async flush(): Promise<void> {
    while (this.#flushing) await this.#flushing;
    if (this.#pending.length === 0 && this.#acks.length === 0) return;
    this.#flushing = this.#commit().finally(() => (this.#flushing = null));
    await this.#flushing;
  }

  /** Commits what waits, then closes; later appends are ignored. */
  async close(): Promise<void> {
    if (this.#closed) return;
    await this.flush().catch(() => {});
    this.#closed = true;
    if (this.#timer) clearTimeout(this.#timer);
    if (this.#fd !== null) closeSync(this.#fd);
    this.#fd = null;
  }

  get stats() {
    const bytes = this.#segments.reduce((sum, s) => sum + s.size, 0);
    return { segments: this.#segments.length, bytes, liveRecords: this.#live.size, tornRecordsSkipped: this.torn };
  }

  #append(record: LiveRecord, onDurable: (() => void) | undefined): void {
    if (this.#closed) return;
    const line = encodeRecord(record);
    const entry: Live = { record, bytes: Buffer.byteLength(line), segment: -1 };
    this.#retire(this.#live.get(record.id));
    this.#live.set(record.id, entry);
    this.#push({ line, entry, onDurable: onDurable ?? null });
  }

  #push(p: Pending): void {
    this.#pending.push(p);
    this.#pendingBytes += p.entry?.bytes ?? p.line.length;
    if (this.#pendingBytes >= this.#o.flushBytes) void this.flush().catch(() => {});
    else this.#schedule();
  }

  #forget(ids: readonly string[]): void {
    for (const id of ids) {
      this.#retire(this.#live.get(id));
      this.#live.delete(id);
    }
  }

  /** A live record superseded or acked: its segment holds one live record less. */
  #retire(entry: Live | undefined): void {
    if (!entry || entry.segment < 0) return;
    const segment = this.#segments.find((s) => s.n === entry.segment);
    if (!segment) return;
    segment.live--;
    segment.liveBytes -= entry.bytes;
  }

  #schedule(): void {
    if (this.#timer || this.#closed) return;
    this.#timer = setTimeout(() => {
      this.#timer = null;
      void this.flush().catch(() => {});
    }, this.#o.flushMs);
    this.#timer.unref?.();
  }

  async #commit(): Promise<void> {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
    const batch = this.#pending;
    const acks = this.#acks;
    this.#pending = [];
    this.#pendingBytes = 0;
    this.#acks = [];
    if ((batch.length === 0 && acks.length === 0) || this.#closed) return;
    const lines = batch.map((p) => p.line);
    if (acks.length > 0) lines.push(encodeRecord({ t: 'a', ids: acks }));
    const data = Buffer.from(lines.join(''));
    let current = this.#segments.at(-1)!;
    try {
      if (this.#rotate || current.size >= this.#o.segmentBytes) current = this.#openSegment(current.n + 1);
      this.#rotate = false;
      await writeAsync(this.#fd!, data, 0, data.length, null);
      await datasyncAsync(this.#fd!);
    } catch (err) {
      this.#failed(batch, acks, err as NodeJS.ErrnoException);
      return;
    }
    if (this.#failing) console.log(JSON.stringify({ msg: 'journal writes recovered' }));
    this.#failing = false;
    current.size += data.length;
    for (const p of batch) {
      if (p.entry && this.#live.get(p.entry.record.id) === p.entry) {
        this.#retire(p.entry); // a copy moved forward leaves its old segment
        p.entry.segment = current.n;
        current.live++;
        current.liveBytes += p.entry.bytes;
      }
    }
    for (const p of batch) p.onDurable?.();
    this.#collect();
  }

  /** A failed write may have left part of a record behind: the batch is retried, whole, in a fresh segment. */
  #failed(batch: Pending[], acks: string[], err: NodeJS.ErrnoException): void {
    if (!this.#failing) console.error(JSON.stringify({ msg: 'journal write failed; retrying', code: err.code ?? 'error' }));
    this.#failing = true;
    this.#rotate = true;
    this.#pending = [...batch, ...this.#pending];
    this.#pendingBytes = this.#pending.reduce((sum, p) => sum + p.line.length, 0);
    this.#acks = [...acks, ...this.#acks];
    setTimeout(() => void this.flush().catch(() => {}), RETRY_FAILED_FLUSH_MS).unref?.();
  }

  #openSegment(n: number): Segment {
    const previous = this.#fd;
    this.#fd = null;
    if (previous !== null) {
      try {
        closeSync(previous);
      } catch {
        // already unusable: a new segment replaces it either way
      }
    }
    const path = join(this.#dir, `segment-${String(n).padStart(8, '0')}.log`);
    this.#fd = openSync(path, 'a', 0o600);
    // the new file's directory entry must survive a crash too
    const dirFd = openSync(this.#dir, 'r');
    try {
      fsyncSync(dirFd);
    } finally {
      closeSync(dirFd);
    }
    const segment: Segment = { n, path, size: 0, live: 0, liveBytes: 0 };
    this.#segments.push(segment);
    return segment;
  }

  /**
   * Deletes the oldest segments while nothing in them is live; when garbage dominates
   * (more than twice the live bytes plus a segment), copies the oldest segment's live
   * records forward so it can go at the next commit.
   */
  #collect(): void {
    while (this.#segments.length > 1 && this.#segments[0]!.live === 0) {
      const gone = this.#segments.shift()!;
      if (this.#compacting === gone.n) this.#compacting = null;
      try {
        unlinkSync(gone.path);
      } catch {
        // already gone
      }
    }
    const total = this.#segments.reduce((sum, s) => sum + s.size, 0);
    const live = this.#segments.reduce((sum, s) => sum + s.liveBytes, 0);
    const oldest = this.#segments[0]!;
    if (this.#segments.length < 3 || total <= 2 * live + this.#o.segmentBytes || this.#compacting !== null) return;
    this.#compacting = oldest.n;
    for (const entry of this.#live.values()) {
      if (entry.segment !== oldest.n) continue;
      this.#push({ line: encodeRecord(entry.record), entry: { ...entry, segment: entry.segment }, onDurable: null });
    }
    this.#relink(oldest.n);
  }

  /** The pending copies replace their live entries (same record and bytes, old segment kept until committed). */
  #relink(segment: number): void {
    for (const p of this.#pending) {
      if (p.entry && p.entry.segment === segment) this.#live.set(p.entry.record.id, p.entry);
    }
  }

  #replay(record: JournalRecord, segment: Segment): void {
    if (record.t === 'a') return this.#forget(record.ids);
    this.#seq = Math.max(this.#seq, record.seq);
    if (record.t === 'd') this.#forget(record.ack);
    const bytes = Buffer.byteLength(encodeRecord(record));
    this.#retire(this.#live.get(record.id));
    this.#live.set(record.id, { record, bytes, segment: segment.n });
    segment.live++;
    segment.liveBytes += bytes;
  }
}
