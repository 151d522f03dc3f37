/** Longest `type` an agent's event may carry; any other type makes the line an output event. */
export const MAX_EVENT_TYPE_CHARS = 100;
/** Longest stderr line kept. */
export const MAX_STDERR_CHARS = 4_000;

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
  return { type: 'stderr', text: line.slice(0, MAX_STDERR_CHARS) };
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
