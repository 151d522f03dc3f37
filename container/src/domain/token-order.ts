import type { TokenClaims } from './jwt-claims.ts';

/** A token issued further than this in the future of this server's clock is refused. */
export const MAX_FUTURE_IAT_SECONDS = 30;

/** What a token store says it holds: never the token. */
export interface HeldClaims {
  gen: number;
  iat: number;
  exp: number;
}

/** The claims that order tokens (`gen` absent = 0). */
export function heldClaims(claims: TokenClaims): HeldClaims {
  return { gen: claims.gen ?? 0, iat: claims.iat, exp: claims.exp };
}

/**
 * Orders two agent tokens: by generation first (a restarted agent's tokens supersede the
 * previous generation's whatever their times), then `iat`, then `exp`. Negative: `a` is older.
 */
export function compareTokens(a: TokenClaims, b: TokenClaims): number {
  return (a.gen ?? 0) - (b.gen ?? 0) || a.iat - b.iat || a.exp - b.exp;
}

/** True when the token was issued more than MAX_FUTURE_IAT_SECONDS after `nowMs`. */
export function issuedInTheFuture(claims: TokenClaims, nowMs: number): boolean {
  return claims.iat > nowMs / 1000 + MAX_FUTURE_IAT_SECONDS;
}
