/** Tuning of the retry delay (tests shorten it). */
export interface BackoffOptions {
  baseMs: number;
  capMs: number;
  /** Shortest delay, so a zero draw does not spin. */
  floorMs: number;
}

/** Delivery retries: 200 ms base, 5 s cap, at least 50 ms. */
export const BACKOFF_DEFAULTS: BackoffOptions = { baseMs: 200, capMs: 5_000, floorMs: 50 };

/**
 * Capped exponential backoff with full jitter: `random` (in [0, 1)) scales the ceiling
 * min(cap, base·2^attempt); the result is never below the floor.
 */
export function backoffDelayMs(attempt: number, random: number, options: BackoffOptions = BACKOFF_DEFAULTS): number {
  const ceiling = Math.min(options.capMs, options.baseMs * 2 ** Math.max(0, Math.min(attempt, 30)));
  return Math.max(options.floorMs, Math.floor(ceiling * random));
}
