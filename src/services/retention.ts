import type { TownContext } from './town-context';

/** Ended agents whose events are deleted per pass; the rest are due at once (the alarm runs again). */
export const PURGE_AGENTS_PER_PASS = 20;
/** Acknowledged mails deleted per pass. */
export const PURGE_MAIL_PER_PASS = 1_000;

/** What one retention pass deleted. */
export interface RetentionReport {
  /** Ended agents whose events and token history were deleted (their rows stay). */
  agents: number;
  events: number;
  tokens: number;
  mail: number;
}

/** Meta counter prefix of what retention deleted, by kind (the town view's `purged`). */
const COUNTER = 'purged:';

/**
 * Retention, run by the alarm: RETENTION_SECONDS after an agent ended, its events and
 * token history are deleted (the agent row stays, as beads, mail and the listings name
 * it); acknowledged mail goes the same time after its acknowledgement. Bounded per pass;
 * what was deleted is counted in the town, announced and logged.
 */
export function retentionPass(ctx: TownContext): RetentionReport {
  const now = ctx.now();
  const cutoff = now - ctx.config.retentionSeconds * 1000;
  const report: RetentionReport = { agents: 0, events: 0, tokens: 0, mail: 0 };
  for (const agent of ctx.agents.endedUnpurged(cutoff, PURGE_AGENTS_PER_PASS)) {
    ctx.transaction(() => {
      if (!ctx.agents.markPurged(agent.id, now)) return;
      report.agents++;
      report.events += ctx.events.deleteAgentEvents(agent.id);
      report.tokens += ctx.tokenHistory.deleteForAgent(agent.id);
    });
  }
  report.mail = ctx.transaction(() => ctx.mail.deleteAckedBefore(cutoff, PURGE_MAIL_PER_PASS));
  if (report.agents + report.mail === 0) return report;
  for (const [kind, n] of Object.entries(report)) if (n > 0) ctx.towns.addToCounter(`${COUNTER}${kind}`, n);
  ctx.emit('town.purged', { ...report, retentionSeconds: ctx.config.retentionSeconds });
  console.log(JSON.stringify({ msg: 'retention deleted what ended before the retention period (RETENTION_SECONDS)', town: ctx.towns.get()?.id ?? null, ...report }));
  return report;
}

/** When retention next has something to delete; null when nothing ended or was acknowledged. */
export function retentionDueAt(ctx: TownContext): number | null {
  const times = [ctx.agents.earliestUnpurgedEnd(), ctx.mail.earliestAck()].filter((t): t is number => t !== null);
  return times.length > 0 ? Math.min(...times) + ctx.config.retentionSeconds * 1000 : null;
}

/** What retention deleted in the town so far, by kind. */
export function purgedCounters(ctx: TownContext): Partial<RetentionReport> {
  return ctx.towns.countersWithPrefix(COUNTER);
}
