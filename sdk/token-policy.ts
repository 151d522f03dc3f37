/** Never refresh earlier than this before expiry (the buffer is the smaller of this and a fifth of the lifetime). */
export const MAX_REFRESH_BUFFER_MS = 5 * 60_000;
/** First delay after a failed refresh; doubles per consecutive failure. */
export const REFRESH_BACKOFF_BASE_MS = 1_000;
/** Longest delay between refresh attempts while the old token is still valid. */
export const REFRESH_BACKOFF_MAX_MS = 60_000;

/** An access token as the client holds it: times on the client's own clock, at receipt. */
export interface HeldToken {
  value: string;
  /** Client clock (ms) when the token endpoint's answer arrived. */
  receivedAt: number;
  /** `receivedAt + expires_in`: the server's clock is never consulted. */
  expiresAt: number;
  /** When to start refreshing: `expiresAt` minus min(5 min, lifetime / 5). */
  refreshAt: number;
}

/** Holds a token from the token endpoint's `expires_in`, measured from the client's clock at receipt. */
export function holdToken(value: string, expiresInSeconds: number, receivedAt: number): HeldToken {
  const lifetimeMs = Math.max(0, expiresInSeconds * 1000);
  const bufferMs = Math.min(MAX_REFRESH_BUFFER_MS, lifetimeMs / 5);
  return { value, receivedAt, expiresAt: receivedAt + lifetimeMs, refreshAt: receivedAt + lifetimeMs - bufferMs };
}

/** What to do with the held token at `now`. */
export type TokenState = 'fresh' | 'refresh' | 'expired';

/**
 * `fresh` before the refresh point; `refresh` from there until expiry (usable, renew it);
 * `expired` at and after expiry, or when nothing is held.
 */
export function tokenState(token: HeldToken | null, now: number): TokenState {
  if (!token || now >= token.expiresAt) return 'expired';
  return now >= token.refreshAt ? 'refresh' : 'fresh';
}

/** Delay before the next refresh attempt after `failures` consecutive failures (capped exponential). */
export function refreshBackoffMs(failures: number, baseMs = REFRESH_BACKOFF_BASE_MS, maxMs = REFRESH_BACKOFF_MAX_MS): number {
  if (failures <= 0) return 0;
  return Math.min(maxMs, baseMs * 2 ** Math.min(failures - 1, 30));
}
