import { describe, expect, it } from 'vitest';
import { formatSoakReport, runSoak } from '../../scripts/lib/soak-runner.ts';

/** The short soak of `npm test`: two minutes of load with every fault injected. */
describe('soak under faults (short)', () => {
  it('no request fails for an expired token and no event is lost', async () => {
    const report = await runSoak({ agents: 12, minutes: 2, ttl: 20, faults: true, log: (l) => console.log(`[soak] ${l}`) });
    console.log(formatSoakReport(report));
    expect(report.restarts).toEqual({ controlServerTerm: 1, controlServerKill: 1, worker: 1 });
    expect(report.leftoverAgentsEnded).toBeGreaterThan(0);
    expect(report.refreshPushesDropped).toBeGreaterThan(0);
    expect(report.refreshesPushed).toBeGreaterThan(report.agents * 2);
    expect(report.failures.expired401).toBe(0);
    expect(report.events.queued).toBeGreaterThan(0);
    expect(report.events.stored).toBeGreaterThan(0);
    expect(report.events.lost).toBe(0);
  });
});
