/**
 * Timing policy of the page, pure (time is passed in): when to renew the session, how
 * long to wait before trying again. Tested in Node (test/unit/web/dashboard-policy.test.ts).
 */

/** The page renews its access cookie when less than this remains, at most. */
export const MAX_REFRESH_MARGIN_MS = 5 * 60_000;
/** ... and at least a fifth of the cookie's lifetime before it expires. */
export const REFRESH_MARGIN_FRACTION = 1 / 5;
/** Waits between retries of a failed renewal or stream connection grow to this, at most. */
export const MAX_RETRY_MS = 30_000;

/** How long before the access cookie's expiry the page renews it: the smaller of 5 minutes or a fifth of its lifetime. */
export function refreshMarginMs(lifetimeMs) {
  return Math.min(MAX_REFRESH_MARGIN_MS, lifetimeMs * REFRESH_MARGIN_FRACTION);
}

/**
 * The session timing of a sign-in or renewal answer, on the page's clock. The access
 * cookie is taken to expire `lifetimeSeconds` after the request was *sent* (the cookie
 * was made after that, so this is never late), whatever the page's clock says about the
 * server's `expiresAt`: a page whose clock is off by minutes still renews on time.
 * @param {number} sentAt page time (ms) the request left
 * @param {number} lifetimeSeconds the access cookie's lifetime, from the answer
 * @returns {{expiresAt: number, refreshAt: number, lifetimeMs: number}}
 */
export function sessionTiming(sentAt, lifetimeSeconds) {
  const lifetimeMs = Math.max(0, lifetimeSeconds) * 1000;
  const expiresAt = sentAt + lifetimeMs;
  return { expiresAt, refreshAt: expiresAt - refreshMarginMs(lifetimeMs), lifetimeMs };
}

/** Whether a renewal is due at `now`. */
export function refreshDue(timing, now) {
  return timing !== null && now >= timing.refreshAt;
}

/**
 * Wait before retry number `failures` (1, 2, ...): 1 s doubling to MAX_RETRY_MS, never
 * past `ceilingMs` (a renewal retries well before the cookie it renews expires).
 */
export function retryDelayMs(failures, ceilingMs = MAX_RETRY_MS) {
  const delay = 1000 * 2 ** Math.max(0, failures - 1);
  return Math.max(250, Math.min(delay, MAX_RETRY_MS, ceilingMs));
}

/** The wait a `Retry-After` header asks for (its seconds form), or `fallbackMs`. */
export function retryAfterMs(header, fallbackMs) {
  const seconds = Number(header);
  return Number.isFinite(seconds) && seconds >= 0 ? Math.min(seconds * 1000, 5 * 60_000) : fallbackMs;
}
