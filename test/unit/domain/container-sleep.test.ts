import { describe, expect, it } from 'vitest';
import { MAX_FAILED_CHECKS, mayContainerSleep } from '../../../src/domain/container-sleep';

describe('mayContainerSleep: a quiet container is not an idle one', () => {
  it('stays up while any agent runs, and sleeps when none does', () => {
    expect(mayContainerSleep({ agentsRunning: 3 }, 0)).toEqual({ sleep: false, failedChecks: 0 });
    expect(mayContainerSleep({ agentsRunning: 0 }, 0)).toEqual({ sleep: true, failedChecks: 0 });
  });

  it('lets an unanswering control server go only after consecutive failed checks', () => {
    let failed = 0;
    const decisions: boolean[] = [];
    for (let i = 0; i < MAX_FAILED_CHECKS; i++) {
      const d = mayContainerSleep({ failed: true }, failed);
      decisions.push(d.sleep);
      failed = d.failedChecks;
    }
    expect(decisions).toEqual([...Array(MAX_FAILED_CHECKS - 1).fill(false), true]);
  });

  it('an answer resets the failure count', () => {
    expect(mayContainerSleep({ agentsRunning: 1 }, MAX_FAILED_CHECKS - 1)).toEqual({ sleep: false, failedChecks: 0 });
  });
});
