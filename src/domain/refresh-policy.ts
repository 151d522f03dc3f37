/**
 * When an agent's token is re-minted, and how failed pushes back off. Pure: time and
 * randomness are arguments.
 */

/** ±10% jitter on each refresh so a town's agents do not refresh in lockstep. */
export const REFRESH_JITTER = 0.1;
/** Base and cap of the backoff after a failed push (ms). */
export const RETRY_BASE_MS = 5_000;
export const RETRY_CAP_MS = 5 * 60_000;
/** Agents due within this fraction of the period are refreshed in the same pass (coalescing). */
export const COALESCE_FRACTION = 0.05;

/** Statuses of an agent the container is running: these are refreshed. Stalled is derived from these. */
export const LIVE_STATUSES = ['starting', 'working', 'idle'] as const;
export type LiveStatus = (typeof LIVE_STATUSES)[number];
export type AgentStatus = LiveStatus | 'exited' | 'failed' | 'stopped';

/** True when the container is believed to run the agent. */
export function isLive(status: string): status is LiveStatus {
  return (LIVE_STATUSES as readonly string[]).includes(status);
}

/**
 * The refresh period: the configured interval, but never more than half the token's
 * lifetime, so a token is always renewed long before it expires.
 */
export function refreshPeriodMs(intervalSeconds: number, ttlSeconds: number): number {
  return Math.min(intervalSeconds, ttlSeconds / 2) * 1000;
}

/** The next refresh time after a successful push: one period ±10%. `random` is in [0, 1). */
export function nextRefreshAt(nowMs: number, periodMs: number, random: number): number {
  const factor = 1 - REFRESH_JITTER + 2 * REFRESH_JITTER * random;
  return nowMs + Math.round(periodMs * factor);
}

/**
 * The next attempt after `failures` consecutive failed pushes: capped exponential
 * backoff with jitter, and never later than a tenth of the period before the old
 * token expires (while there is still time).
 */
export function retryAt(nowMs: number, failures: number, oldExpiresAtMs: number | null, periodMs: number, random: number): number {
  const exp = Math.min(RETRY_CAP_MS, RETRY_BASE_MS * 2 ** Math.max(0, failures - 1));
  const delay = Math.max(1_000, Math.round(exp * (0.5 + random / 2)));
  let at = nowMs + delay;
  if (oldExpiresAtMs !== null) {
    const deadline = oldExpiresAtMs - periodMs / 10;
    if (deadline > nowMs + 1_000) at = Math.min(at, deadline);
  }
  return at;
}

/** The horizon of a pass: agents due before it are refreshed now. */
export function dueHorizon(nowMs: number, periodMs: number): number {
  return nowMs + Math.max(1_000, Math.round(periodMs * COALESCE_FRACTION));
}

/** Longest the alarm backs off after passes that threw. */
export const ALARM_RETRY_CAP_MS = 60_000;

/** Backoff of the alarm itself after a pass that threw (consecutive failures). */
export function alarmRetryDelayMs(failures: number): number {
  return Math.min(ALARM_RETRY_CAP_MS, 1_000 * 2 ** Math.max(0, failures - 1));
}

/** Base and cap of the delay before restarting an agent the container lost again. */
export const RESTART_BASE_MS = 2_000;
export const RESTART_CAP_MS = 60_000;

/**
 * Delay before the next restart of an agent already restarted `restarts` times since it
 * last ran a whole stall window: none the first time (a restarted container lost every
 * agent at once), then capped exponential backoff, so a crash loop does not spin.
 */
export function restartDelayMs(restarts: number): number {
  if (restarts <= 0) return 0;
  return Math.min(RESTART_CAP_MS, RESTART_BASE_MS * 2 ** (restarts - 1));
}

/** Status shown for an agent: live agents silent for longer than the stall window are `stalled`. */
export function displayStatus(status: string, lastSeenAtMs: number, nowMs: number, stallAfterSeconds: number): string {
  if (isLive(status) && status !== 'starting' && nowMs - lastSeenAtMs > stallAfterSeconds * 1000) return 'stalled';
  return status;
}
