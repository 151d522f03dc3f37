import { describe, expect, it } from 'vitest';
import {
  RETRY_CAP_MS,
  alarmRetryDelayMs,
  displayStatus,
  dueHorizon,
  isLive,
  nextRefreshAt,
  refreshPeriodMs,
  retryAt,
} from '../../../src/domain/refresh-policy';

const NOW = 1_800_000_000_000;

describe('refresh policy', () => {
  it.each([
    [3600, 28800, 3600_000],
    [3600, 3600, 1800_000], // never later than half the lifetime
    [5, 20, 5_000],
    [60, 20, 10_000],
  ])('period(interval %i s, ttl %i s) = %i ms', (interval, ttl, expected) => {
    expect(refreshPeriodMs(interval, ttl)).toBe(expected);
  });

  it.each([
    [0, 0.9],
    [0.5, 1.0],
    [0.999999, 1.1],
  ])('jitter: random %f → %f × period', (random, factor) => {
    expect(nextRefreshAt(NOW, 1000_000, random) - NOW).toBeCloseTo(1000_000 * factor, -1);
  });

  it.each([
    [1, 0, 2_500],
    [1, 0.999, 5_000],
    [2, 0.999, 10_000],
    [20, 0.999, RETRY_CAP_MS * 0.9995],
  ])('backoff after %i failures with random %f ≈ %i ms', (failures, random, expected) => {
    expect(retryAt(NOW, failures, null, 3600_000, random) - NOW).toBeCloseTo(expected, -3);
  });

  it('retries before the old token expires while there is time', () => {
    const oldExp = NOW + 60_000;
    const at = retryAt(NOW, 20, oldExp, 30_000, 0.999);
    expect(at).toBe(oldExp - 3_000);
    expect(at).toBeLessThan(NOW + RETRY_CAP_MS);
  });

  it('coalesces agents due within 5% of the period, at least 1 s', () => {
    expect(dueHorizon(NOW, 3600_000)).toBe(NOW + 180_000);
    expect(dueHorizon(NOW, 5_000)).toBe(NOW + 1_000);
  });

  it.each([
    [1, 1_000],
    [2, 2_000],
    [10, 60_000],
  ])('alarm retry after %i failures = %i ms', (failures, delay) => expect(alarmRetryDelayMs(failures)).toBe(delay));

  it.each([
    ['working', 10_000, 'working'],
    ['working', 200_000, 'stalled'],
    ['idle', 200_000, 'stalled'],
    ['starting', 200_000, 'starting'],
    ['exited', 200_000, 'exited'],
  ])('%s silent for %i ms shows as %s', (status, silentMs, shown) => {
    expect(displayStatus(status, NOW - silentMs, NOW, 120)).toBe(shown);
  });

  it('live statuses are refreshed; ended ones are not', () => {
    expect(['starting', 'working', 'idle'].every(isLive)).toBe(true);
    expect(['exited', 'failed', 'stopped'].some(isLive)).toBe(false);
  });
});
