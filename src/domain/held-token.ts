/** What the control server says it holds when it refuses a token as older (409). */
export interface HeldClaims {
  gen: number | null;
  iat: number;
  exp: number;
}

/** What the TownDO makes of a 409. */
export type HeldVerdict =
  /** The container holds a token this TownDO minted for the current generation: delivered, expiring at `expiresAt` (ms). */
  | { kind: 'ours'; expiresAt: number }
  /** It holds a token the TownDO did not mint (a higher generation or a later `iat`): a new generation must supersede it. */
  | { kind: 'foreign'; nextGen: number }
  /** The answer named nothing usable: retried on the failure schedule. */
  | { kind: 'unknown' };

/**
 * Judges a 409. Tokens are ordered by generation, then `iat`; the TownDO knows its
 * current generation, the latest `iat` it minted for it, and its token lifetime (every
 * token it mints expires exactly `ttlSeconds` after its `iat`). A held token of that
 * generation, issued no later, with that lifetime is one of its own (two mints in the same
 * second); anything else was pushed by someone else, including a token of the same
 * generation and `iat` whose lifetime differs. (The 409 names no `jti`: a foreign token
 * identical in all three claims is indistinguishable, and orders equal to the TownDO's
 * own.) A lifetime changed by a redeploy makes the TownDO's older tokens count as
 * foreign: the cost is a new generation, pushed at once. Pure.
 */
export function judgeHeldToken(held: HeldClaims | undefined | null, agent: { tokenGen: number; lastMintedIat: number | null }, ttlSeconds: number): HeldVerdict {
  if (!held || typeof held.iat !== 'number' || typeof held.exp !== 'number') return { kind: 'unknown' };
  const gen = typeof held.gen === 'number' ? held.gen : 0;
  const ours = gen === agent.tokenGen && agent.lastMintedIat !== null && held.iat <= agent.lastMintedIat && held.exp === held.iat + ttlSeconds;
  if (ours) return { kind: 'ours', expiresAt: held.exp * 1000 };
  return { kind: 'foreign', nextGen: Math.max(gen, agent.tokenGen) + 1 };
}
