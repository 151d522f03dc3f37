import { crc32 } from 'node:zlib';
import type { DropCause, ItemKind } from '../domain/drops.ts';

/** An item to deliver: an event, a completion report or a review callback. `body` is its JSON text. */
export interface ItemRecord {
  t: 'i';
  seq: number;
  id: string;
  agentId: string;
  townId: string;
  apiUrl: string;
  kind: ItemKind;
  body: string;
}

/** A drop report to send, and the items its drop removed (`ack`). A later record with the same id supersedes it. */
export interface ReportRecord {
  t: 'd';
  seq: number;
  id: string;
  agentId: string;
  townId: string;
  apiUrl: string;
  cause: DropCause;
  kind: ItemKind;
  count: number;
  ack: string[];
}

/** Ids delivered (items) or accepted (reports): no longer live. */
export interface AckRecord {
  t: 'a';
  ids: string[];
}

export type JournalRecord = ItemRecord | ReportRecord | AckRecord;

/**
 * One record is one line: the CRC-32 of its JSON (8 hex digits), a space, the JSON, a
 * newline. JSON never holds a raw newline, so a line is a record; a line whose checksum
 * does not match, or a last line without its newline, is a torn record (a crash mid-write).
 * An item's body is embedded as JSON text, serialized once by the outbox.
 */
export function encodeRecord(record: JournalRecord): string {
  const json = record.t === 'i' ? encodeItem(record) : JSON.stringify(record);
  return `${crc32(json).toString(16).padStart(8, '0')} ${json}\n`;
}

function encodeItem(r: ItemRecord): string {
  const head = JSON.stringify({ t: r.t, seq: r.seq, id: r.id, agentId: r.agentId, townId: r.townId, apiUrl: r.apiUrl, kind: r.kind });
  return `${head.slice(0, -1)},"body":${r.body}}`;
}

/** Whose item a torn record held, read from the head it kept: the item is lost unless another record holds it. */
export interface TornItem {
  id: string;
  agentId: string;
  townId: string;
  apiUrl: string;
  kind: ItemKind;
}

/** The records of one segment file, how many torn or corrupt records were skipped, and the items those held (where their head says). */
export function decodeSegment(data: Buffer): { records: JournalRecord[]; torn: number; tornItems: TornItem[] } {
  const records: JournalRecord[] = [];
  const tornItems: TornItem[] = [];
  let torn = 0;
  let start = 0;
  while (start < data.length) {
    let end = data.indexOf(0x0a, start);
    // no newline: the tail a crash cut short
    const record = end < 0 ? null : decodeLine(data.subarray(start, end));
    if (end < 0) end = data.length;
    if (record) records.push(record);
    else {
      torn++;
      const item = tornItemHead(data.subarray(start, end));
      if (item) tornItems.push(item);
    }
    start = end + 1;
  }
  return { records, torn, tornItems };
}

const JSON_STRING = '("(?:[^"\\\\]|\\\\.)*")';
/** An item record's head, written before its body (see encodeItem): what a record cut in its body still holds. */
const ITEM_HEAD = new RegExp(`^[0-9a-f]{8} \\{"t":"i","seq":\\d+,"id":${JSON_STRING},"agentId":${JSON_STRING},"townId":${JSON_STRING},"apiUrl":${JSON_STRING},"kind":"(event|completed|reviewComplete)"`);

function tornItemHead(line: Buffer): TornItem | null {
  // an item's head is short; its body, which may be long, comes after it
  const m = ITEM_HEAD.exec(line.subarray(0, 4_096).toString('utf8'));
  if (!m) return null;
  try {
    const [id, agentId, townId, apiUrl] = [m[1]!, m[2]!, m[3]!, m[4]!].map((s) => JSON.parse(s) as string);
    return { id: id!, agentId: agentId!, townId: townId!, apiUrl: apiUrl!, kind: m[5] as ItemKind };
  } catch {
    return null;
  }
}

function decodeLine(line: Buffer): JournalRecord | null {
  if (line.length < 10 || line[8] !== 0x20) return null;
  const json = line.subarray(9);
  if (crc32(json).toString(16).padStart(8, '0') !== line.subarray(0, 8).toString('latin1')) return null;
  try {
    const value = JSON.parse(json.toString('utf8')) as Record<string, unknown>;
    if (value.t === 'i') return { ...(value as unknown as ItemRecord), body: JSON.stringify(value.body) };
    if (value.t === 'd' || value.t === 'a') return value as unknown as JournalRecord;
    return null;
  } catch {
    return null;
  }
}
