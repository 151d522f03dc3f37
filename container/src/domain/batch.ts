/** Most events in one POST. */
export const EVENTS_PER_BATCH = 100;
/** Largest JSON body of one events POST: well under the Worker's 1 MiB limit. */
export const MAX_BATCH_BYTES = 256 * 1024;
/** Bytes of `{"events":[` and `]}` around the events. */
const ENVELOPE_BYTES = '{"events":[]}'.length;

/** Body bytes of a batch of events whose JSON sizes are given (commas included). */
export function batchBodyBytes(sizes: readonly number[]): number {
  return ENVELOPE_BYTES + sizes.reduce((sum, n) => sum + n, 0) + Math.max(0, sizes.length - 1);
}

/**
 * How many events from the head make the next batch: at most `limit` and EVENTS_PER_BATCH,
 * with a JSON body of at most MAX_BATCH_BYTES; always at least one (an event too large
 * alone is sent alone, and the Worker decides).
 */
export function nextBatchSize(sizes: readonly number[], limit = EVENTS_PER_BATCH): number {
  const most = Math.min(sizes.length, limit, EVENTS_PER_BATCH);
  let bytes = ENVELOPE_BYTES;
  let n = 0;
  while (n < most) {
    const next = bytes + sizes[n]! + (n > 0 ? 1 : 0);
    if (n > 0 && next > MAX_BATCH_BYTES) break;
    bytes = next;
    n++;
  }
  return n;
}

/** The body of an events POST from the events' JSON texts (each serialized once). */
export function eventsBody(jsons: readonly string[]): string {
  return `{"events":[${jsons.join(',')}]}`;
}
