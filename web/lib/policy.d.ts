/** Types of policy.js (the page ships plain JavaScript; these serve the tests). */
export declare const MAX_REFRESH_MARGIN_MS: number;
export declare const REFRESH_MARGIN_FRACTION: number;
export declare const MAX_RETRY_MS: number;
export interface SessionTiming {
  expiresAt: number;
  refreshAt: number;
  lifetimeMs: number;
}
export declare function refreshMarginMs(lifetimeMs: number): number;
export declare function sessionTiming(sentAt: number, lifetimeSeconds: number): SessionTiming;
export declare function refreshDue(timing: SessionTiming | null, now: number): boolean;
export declare function retryDelayMs(failures: number, ceilingMs?: number): number;
export declare function retryAfterMs(header: string | null, fallbackMs: number): number;
