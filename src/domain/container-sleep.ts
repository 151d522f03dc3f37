/** Consecutive failed checks after which an unanswering container is let go. */
export const MAX_FAILED_CHECKS = 3;

/** What the control server's `/stats` said when the container's activity window ran out. */
export type IdleCheck = { agentsRunning: number } | { failed: true };

/**
 * Whether a container whose `sleepAfter` window ran out may sleep. Agents call out to the
 * Worker, and nothing calls in while they work, so a quiet container is not an idle one:
 * it sleeps only when the control server says no agent runs, or has not answered
 * MAX_FAILED_CHECKS windows in a row (a wedged server; the TownDO then starts its agents
 * in a new one). `failedChecks` counts earlier consecutive failures.
 */
export function mayContainerSleep(check: IdleCheck, failedChecks: number): { sleep: boolean; failedChecks: number } {
  if ('failed' in check) {
    const failures = failedChecks + 1;
    return { sleep: failures >= MAX_FAILED_CHECKS, failedChecks: failures };
  }
  return { sleep: check.agentsRunning === 0, failedChecks: 0 };
}
