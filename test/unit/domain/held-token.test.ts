import { describe, expect, it } from 'vitest';
import { judgeHeldToken } from '../../../src/domain/held-token';
import { restartDelayMs } from '../../../src/domain/refresh-policy';

describe('what the TownDO makes of a 409', () => {
  const agent = { tokenGen: 3, lastMintedIat: 1_000 };
  const TTL = 1_000;
  it.each([
    ['its own token (same generation, minted in the same second)', { gen: 3, iat: 1_000, exp: 2_000 }, { kind: 'ours', expiresAt: 2_000_000 }],
    ['its own earlier mint of this generation', { gen: 3, iat: 990, exp: 1_990 }, { kind: 'ours', expiresAt: 1_990_000 }],
    ['same generation and iat, a longer lifetime (someone else minted it)', { gen: 3, iat: 1_000, exp: 9_000 }, { kind: 'foreign', nextGen: 4 }],
    ['same generation and iat, a shorter lifetime (someone else minted it)', { gen: 3, iat: 1_000, exp: 1_500 }, { kind: 'foreign', nextGen: 4 }],
    ['an earlier iat of this generation with a lifetime not its own', { gen: 3, iat: 990, exp: 1_991 }, { kind: 'foreign', nextGen: 4 }],
    ['a later iat of this generation (someone else minted it)', { gen: 3, iat: 1_005, exp: 9_999 }, { kind: 'foreign', nextGen: 4 }],
    ['a higher generation (forged or pushed by someone with the control secret)', { gen: 99, iat: 1, exp: 2 }, { kind: 'foreign', nextGen: 100 }],
    ['a token without gen (counts as generation 0)', { gen: null, iat: 5_000, exp: 6_000 }, { kind: 'foreign', nextGen: 4 }],
    ['nothing said', undefined, { kind: 'unknown' }],
    ['a malformed answer', { gen: 3, iat: 'soon', exp: 1 }, { kind: 'unknown' }],
  ])('%s', (_name, held, verdict) => {
    expect(judgeHeldToken(held as never, agent, TTL)).toEqual(verdict);
  });

  it('without a recorded mint nothing held is its own', () => {
    expect(judgeHeldToken({ gen: 3, iat: 1_000, exp: 2_000 }, { tokenGen: 3, lastMintedIat: null }, 1_000)).toEqual({ kind: 'foreign', nextGen: 4 });
  });
});

describe('restart backoff', () => {
  it.each([
    [0, 0],
    [1, 2_000],
    [2, 4_000],
    [5, 32_000],
    [6, 60_000],
    [40, 60_000],
  ])('after %i restarts: %i ms', (restarts, delay) => {
    expect(restartDelayMs(restarts)).toBe(delay);
  });
});
