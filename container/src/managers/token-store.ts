import { decodeClaims, type TokenClaims } from '../domain/jwt-claims.ts';

/** Strictly older: issued earlier, or issued in the same second and expiring earlier. */
function isOlder(a: TokenClaims, b: TokenClaims): boolean {
  return a.iat < b.iat || (a.iat === b.iat && a.exp < b.exp);
}

/** The outcome of offering a token to the store. */
export type OfferResult =
  | { status: 200; claims: TokenClaims; changed: boolean }
  | { status: 400; reason: string }
  | { status: 404 }
  | { status: 409 };

interface Entry {
  townId: string;
  token: string | null;
  claims: TokenClaims | null;
  /** When the held token was accepted (this process's clock), ms. */
  acceptedAt: number | null;
}

/**
 * One token per agent. A token is taken only if its claims name that agent and town and
 * it is not older than the one held: older is a lower `iat`, or the same `iat` and an
 * earlier `exp`. A different token of the same age (two mints in one second) replaces the
 * held one; the same token again is accepted unchanged; an older one is refused and
 * nothing changes.
 * Acceptance never depends on the clock (this container's clock may be skewed); the
 * injected clock only dates acceptance and reports time left.
 */
export class TokenStore {
  readonly #entries = new Map<string, Entry>();
  readonly #now: () => number;

  constructor(now: () => number = Date.now) {
    this.#now = now;
  }

  get size(): number {
    return this.#entries.size;
  }

  /** Registers an agent (its token is offered separately); offers for unregistered agents are 404. */
  register(agentId: string, townId: string): void {
    if (!this.#entries.has(agentId)) this.#entries.set(agentId, { townId, token: null, claims: null, acceptedAt: null });
  }

  offer(agentId: string, token: unknown): OfferResult {
    const entry = this.#entries.get(agentId);
    if (!entry) return { status: 404 };
    const claims = decodeClaims(token);
    if (!claims) return { status: 400, reason: 'token is not a well-formed agent token' };
    if (claims.agentId !== agentId || claims.townId !== entry.townId) return { status: 400, reason: 'token claims name another agent or town' };
    if (entry.token === token) return { status: 200, claims, changed: false };
    const held = entry.claims;
    if (held && isOlder(claims, held)) return { status: 409 };
    entry.token = token as string;
    entry.claims = claims;
    entry.acceptedAt = this.#now();
    return { status: 200, claims, changed: true };
  }

  /** When the held token was accepted, ms; null without one. */
  acceptedAt(agentId: string): number | null {
    return this.#entries.get(agentId)?.acceptedAt ?? null;
  }

  /** Time until the held token's `exp` by the injected clock (negative: past it); null without one. */
  expiresInMs(agentId: string): number | null {
    const claims = this.#entries.get(agentId)?.claims;
    return claims ? claims.exp * 1000 - this.#now() : null;
  }

  /** The agent's current token, read at the moment of a request. */
  token(agentId: string): string | null {
    return this.#entries.get(agentId)?.token ?? null;
  }

  claims(agentId: string): TokenClaims | null {
    return this.#entries.get(agentId)?.claims ?? null;
  }

  /** Releases the agent's entry (stop, or exit once its deliveries are done). */
  forget(agentId: string): void {
    this.#entries.delete(agentId);
  }
}
