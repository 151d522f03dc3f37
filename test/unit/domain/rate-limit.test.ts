import { describe, expect, it } from 'vitest';
import { takeFromWindow } from '../../../src/domain/rate-limit';

describe('stored fixed-window rate limit', () => {
  it('allows `limit` per window, then refuses until the window passes', () => {
    let state = { windowStart: null as number | null, count: 0 };
    const results: boolean[] = [];
    for (let i = 0; i < 4; i++) {
      const r = takeFromWindow(state, 1000 + i, 3, 60_000);
      results.push(r.allowed);
      state = r.next;
    }
    expect(results).toEqual([true, true, true, false]);
    expect(takeFromWindow(state, 1000 + 60_000, 3, 60_000).allowed).toBe(true);
  });

  it('a clock that went backwards starts a new window rather than locking out', () => {
    expect(takeFromWindow({ windowStart: 10_000, count: 99 }, 5_000, 3, 60_000).allowed).toBe(true);
  });
});
