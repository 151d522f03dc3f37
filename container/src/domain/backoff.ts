/** Capped exponential backoff with full jitter: a delay in [0, min(cap, base·2^attempt)). */
export function backoffDelayMs(attempt: number, random: number, baseMs = 200, capMs = 5_000): number {
  const ceiling = Math.min(capMs, baseMs * 2 ** Math.max(0, attempt));
  return Math.max(50, Math.floor(ceiling * random));
}
