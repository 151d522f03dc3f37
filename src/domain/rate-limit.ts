/** A fixed-window counter whose state is stored (not held in memory) so eviction cannot reset it. */
export interface WindowState {
  windowStart: number | null;
  count: number;
}

/** Re-mints allowed per agent per window through the container-credential route. */
export const REMINT_LIMIT = 10;
export const REMINT_WINDOW_MS = 60_000;

/** Decides whether one more event fits the window; returns the state to store. */
export function takeFromWindow(
  state: WindowState,
  nowMs: number,
  limit = REMINT_LIMIT,
  windowMs = REMINT_WINDOW_MS,
): { allowed: boolean; next: WindowState } {
  const fresh = state.windowStart === null || nowMs - state.windowStart >= windowMs || nowMs < state.windowStart;
  const current = fresh ? { windowStart: nowMs, count: 0 } : state;
  if (current.count >= limit) return { allowed: false, next: current };
  return { allowed: true, next: { windowStart: current.windowStart, count: current.count + 1 } };
}
