import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { HeartbeatScheduler } from '../../../container/src/services/heartbeats.ts';

describe('heartbeat scheduler: one timer for every agent', () => {
  beforeEach(() => vi.useFakeTimers({ now: 1_000_000 }));
  afterEach(() => vi.useRealTimers());

  it('each agent beats once soon after it is added, then once per interval', async () => {
    const sent: string[] = [];
    const hb = new HeartbeatScheduler(5_000, async (id) => (sent.push(id), true));
    hb.add('a');
    hb.add('b');
    expect(vi.getTimerCount()).toBe(1);
    await vi.advanceTimersByTimeAsync(1_000);
    expect(sent.sort()).toEqual(['a', 'b']);
    await vi.advanceTimersByTimeAsync(3_900);
    expect(sent).toHaveLength(2);
    await vi.advanceTimersByTimeAsync(10_100);
    expect(sent.filter((id) => id === 'a')).toHaveLength(3);
    expect(sent.filter((id) => id === 'b')).toHaveLength(3);
  });

  it('removing the last agent clears the timer; a removed agent is never sent again', async () => {
    const sent: string[] = [];
    const hb = new HeartbeatScheduler(1_000, async (id) => (sent.push(id), true));
    hb.add('a');
    hb.add('b');
    hb.remove('a');
    await vi.advanceTimersByTimeAsync(3_000);
    expect(new Set(sent)).toEqual(new Set(['b']));
    hb.remove('b');
    expect(hb.size).toBe(0);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('bounds concurrent requests, and an agent whose heartbeat hangs is not sent twice at once', async () => {
    let inFlight = 0;
    let peak = 0;
    const releases: Array<() => void> = [];
    const perAgent = new Map<string, number>();
    const hb = new HeartbeatScheduler(1_000, (id) => {
      perAgent.set(id, (perAgent.get(id) ?? 0) + 1);
      peak = Math.max(peak, ++inFlight);
      return new Promise<boolean>((resolve) => releases.push(() => (inFlight--, resolve(true))));
    });
    for (let i = 0; i < 100; i++) hb.add(`agent-${i}`);
    await vi.advanceTimersByTimeAsync(5_000);
    expect(peak).toBe(32);
    expect(Math.max(...perAgent.values())).toBe(1);
    // released: the next 32 are agents that have not had a turn yet (round-robin, no starvation)
    releases.splice(0).forEach((r) => r());
    await vi.advanceTimersByTimeAsync(1_000);
    expect(perAgent.size).toBe(64);
    releases.splice(0).forEach((r) => r());
    await vi.advanceTimersByTimeAsync(1_000);
    releases.splice(0).forEach((r) => r());
    await vi.advanceTimersByTimeAsync(1_000);
    expect(perAgent.size).toBe(100);
    expect(peak).toBe(32);
    releases.splice(0).forEach((r) => r());
    hb.stop();
  });
});
