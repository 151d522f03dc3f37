import { decodeClaims, type TokenClaims } from '../domain/jwt-claims.ts';
import { compareTokens, heldClaims, issuedInTheFuture, MAX_FUTURE_IAT_SECONDS, type HeldClaims } from '../domain/token-order.ts';

/** The outcome of offering a token to the store. */
export type OfferResult =
  | { status: 200; claims: TokenClaims; changed: boolean }
  | { status: 400; reason: string }
  | { status: 404 }
  | { status: 409; held: HeldClaims };

interface Entry {
  townId: string;
  token: string | null;
  claims: TokenClaims | null;
  /** When the held token was accepted (this process's clock), ms. */
  acceptedAt: number | null;
}

/**
 * One token per agent. A token is taken only if its claims name that agent and town, it
 * was not issued more than MAX_FUTURE_IAT_SECONDS in the future of this server's clock,
 * and it is not older than the one held: ordered by `gen` (absent = 0), then `iat`, then
 * `exp`. A different token of the same order (two mints in one second) replaces the held
 * one; the same token again is accepted unchanged; an older one is refused (409, with the
 * claims held, never the token) and nothing changes.
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

  /** The town an agent is registered for; null when it is not. */
  townOf(agentId: string): string | null {
    return this.#entries.get(agentId)?.townId ?? null;
  }

  /** Whether `token` could be this agent's (well-formed, its claims, not issued in the future); nothing is stored. */
  validate(agentId: string, townId: string, token: unknown): { ok: true; claims: TokenClaims } | { ok: false; reason: string } {
    const claims = decodeClaims(token);
    if (!claims) return { ok: false, reason: 'token is not a well-formed agent token' };
    if (claims.agentId !== agentId || claims.townId !== townId) return { ok: false, reason: 'token claims name another agent or town' };
    if (issuedInTheFuture(claims, this.#now())) return { ok: false, reason: `token issued more than ${MAX_FUTURE_IAT_SECONDS} s in the future of this server's clock` };
    return { ok: true, claims };
  }

  offer(agentId: string, token: unknown): OfferResult {
    const entry = this.#entries.get(agentId);
    if (!entry) return { status: 404 };
    const valid = this.validate(agentId, entry.townId, token);
    if (!valid.ok) return { status: 400, reason: valid.reason };
    const { claims } = valid;
    if (entry.token === token) return { status: 200, claims, changed: false };
    const held = entry.claims;
    if (held && compareTokens(claims, held) < 0) return { status: 409, held: heldClaims(held) };
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
