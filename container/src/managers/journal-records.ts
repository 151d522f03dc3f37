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

/** The records of one segment file, and how many torn or corrupt records were skipped. */
export function decodeSegment(data: Buffer): { records: JournalRecord[]; torn: number } {
  const records: JournalRecord[] = [];
  let torn = 0;
  let start = 0;
  while (start < data.length) {
    const end = data.indexOf(0x0a, start);
    if (end < 0) {
      torn++; // the tail a crash cut short
      break;
    }
    const record = decodeLine(data.subarray(start, end));
    if (record) records.push(record);
    else torn++;
    start = end + 1;
  }
  return { records, torn };
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
