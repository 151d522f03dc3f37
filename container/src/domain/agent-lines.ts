import { MAX_EVENT_BYTES } from './event-limits.ts';

/** Longest `type` an agent's event may carry; any other type makes the line an output event. */
export const MAX_EVENT_TYPE_CHARS = 100;

/** One line of an agent's output: whole, or its first bytes when it was longer than the reader keeps. */
export interface OutputLine {
  text: string;
  /** Bytes of the line as printed (without its newline). */
  bytes: number;
  /** Only the first bytes were kept (`bytes` says how many there were). */
  truncated: boolean;
}

/** A review callback an agent asked for with a `review-complete` line. */
export interface ReviewCallback {
  beadId: string;
  outcome: 'merged' | 'rejected';
}

/** What one stdout line becomes: an event (always), and a review callback or an error event. */
export interface StdoutLine {
  event: Record<string, unknown>;
  review: ReviewCallback | null;
  /** An extra event saying why a `review-complete` line was not forwarded. */
  reviewError: Record<string, unknown> | null;
}

/**
 * Turns an agent's stdout line into its event. A line that, trimmed, is a JSON object is
 * that object, when its `type` is a non-empty string of at most MAX_EVENT_TYPE_CHARS;
 * an object with any other `type` is kept whole under `raw` of an `output` event (the
 * Worker would refuse it); any other line is `{type: "output", text}`. A `review-complete`
 * line is also a review callback when `beadId` is a non-empty string and `outcome` is
 * `merged` or `rejected`; otherwise it adds an error event `bad_review_outcome`.
 */
export function parseStdoutLine(line: string): StdoutLine {
  const object = parseJsonObject(line);
  if (!object) return { event: { type: 'output', text: line }, review: null, reviewError: null };
  if (!isEventType(object.type)) return { event: { type: 'output', raw: object }, review: null, reviewError: null };
  if (object.type !== 'review-complete') return { event: object, review: null, reviewError: null };
  const { beadId, outcome } = object;
  if (typeof beadId === 'string' && beadId.length > 0 && (outcome === 'merged' || outcome === 'rejected')) {
    return { event: object, review: { beadId, outcome }, reviewError: null };
  }
  return {
    event: object,
    review: null,
    reviewError: {
      type: 'error',
      code: 'bad_review_outcome',
      message: 'review-complete needs beadId (a non-empty string) and outcome "merged" or "rejected"; not forwarded',
    },
  };
}

/** A stderr line's event. */
export function stderrEvent(line: string): Record<string, unknown> {
  return { type: 'stderr', text: line };
}

/** An event ready for the outbox: its JSON (at most MAX_EVENT_BYTES), and whether the line had to be cut to fit. */
export interface FittedEvent {
  event: { id: string; type: string; ts: string; [field: string]: unknown };
  json: string;
  truncated: boolean;
}

/**
 * Serializes the event a line became (its `id` and `ts` set). When the line was longer than
 * its reader kept, or the event's JSON is over MAX_EVENT_BYTES (the most the Worker stores),
 * it becomes `{id, type: cutType, ts, truncated: true, originalBytes, text}`: as much of
 * the line as fits, cut at a character, with the size it had as printed.
 */
export function fitEvent(event: FittedEvent['event'], line: OutputLine, cutType: 'output' | 'stderr'): FittedEvent {
  if (!line.truncated) {
    const json = JSON.stringify(event);
    if (fits(json)) return { event, json, truncated: false };
  }
  const head = { id: event.id, type: cutType, ts: event.ts, truncated: true, originalBytes: line.bytes };
  const room = MAX_EVENT_BYTES - utf8Bytes(JSON.stringify({ ...head, text: '' }));
  const cut = { ...head, text: prefixWithin(line.text, room) };
  return { event: cut, json: JSON.stringify(cut), truncated: true };
}

/** Whether JSON text takes at most MAX_EVENT_BYTES of UTF-8. */
function fits(json: string): boolean {
  // a UTF-16 code unit is at most 3 bytes of UTF-8: most events need no encoding to be measured
  return json.length * 3 <= MAX_EVENT_BYTES || utf8Bytes(json) <= MAX_EVENT_BYTES;
}

function utf8Bytes(text: string): number {
  return new TextEncoder().encode(text).byteLength;
}

/** The longest prefix of `text` whose JSON string body (escapes included) takes at most `room` UTF-8 bytes. */
function prefixWithin(text: string, room: number): string {
  let used = 0;
  let i = 0;
  while (i < text.length) {
    const c = text.charCodeAt(i);
    let bytes: number;
    let width = 1;
    if (c === 0x22 || c === 0x5c) bytes = 2; // \" and \\
    else if (c < 0x20) bytes = c === 8 || c === 9 || c === 10 || c === 12 || c === 13 ? 2 : 6; // \n, or \u00XX
    else if (c < 0x80) bytes = 1;
    else if (c < 0x800) bytes = 2;
    else if (c >= 0xd800 && c <= 0xdbff && (text.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      bytes = 4; // a surrogate pair is one 4-byte character, never split
      width = 2;
    } else if (c >= 0xd800 && c <= 0xdfff) bytes = 6; // a lone surrogate is escaped
    else bytes = 3;
    if (used + bytes > room) break;
    used += bytes;
    i += width;
  }
  return text.slice(0, i);
}

function isEventType(type: unknown): type is string {
  return typeof type === 'string' && type.length > 0 && type.length <= MAX_EVENT_TYPE_CHARS;
}

/** The line's JSON object (surrounding whitespace ignored); null for anything else, JSON arrays, strings and numbers included. */
export function parseJsonObject(line: string): Record<string, unknown> | null {
  const trimmed = line.trim();
  if (!trimmed.startsWith('{')) return null;
  try {
    const value: unknown = JSON.parse(trimmed);
    return value && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}
