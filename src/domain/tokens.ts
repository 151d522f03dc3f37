import { SignJWT, decodeProtectedHeader, errors, jwtVerify, type JWTPayload } from 'jose';
import { AppError } from '../errors';
import { isLive } from './refresh-policy';
import type { KeyRing, SigningKey } from './signing-keys';

/** Issuer of every Gastown token. */
export const ISSUER = 'gastown';
/** Audience of agent tokens. */
export const AGENT_AUDIENCE = 'gastown-agent';
/** Audience of user access tokens. */
export const USER_AUDIENCE = 'gastown-user';
/** Audience of a dashboard session's access cookie. */
export const SESSION_AUDIENCE = 'gastown-session';
/** Audience of a dashboard session's refresh cookie. */
export const REFRESH_AUDIENCE = 'gastown-refresh';
/** Audience of container credentials. */
export const CONTAINER_AUDIENCE = 'gastown-container';
/**
 * Lifetime of a container credential. A credential is revoked by the next one (its
 * generation), not by time: this only bounds a credential that leaked from a container
 * that was never replaced.
 */
export const CONTAINER_CREDENTIAL_TTL_SECONDS = 365 * 24 * 3600;
/** Leeway for clock differences between the Worker and the container. */
export const CLOCK_TOLERANCE_SECONDS = 30;
/**
 * Leeway for user access tokens: the Worker mints and checks them itself, on synchronized
 * clocks, so an expired one is refused within seconds (clients must refresh, not lean on
 * the container's leeway).
 */
export const USER_CLOCK_TOLERANCE_SECONDS = 2;

/** The leeway of each audience. */
function toleranceOf(audience: string): number {
  return audience === USER_AUDIENCE || audience === SESSION_AUDIENCE || audience === REFRESH_AUDIENCE ? USER_CLOCK_TOLERANCE_SECONDS : CLOCK_TOLERANCE_SECONDS;
}
/** A token longer than this is refused before any parsing. */
export const MAX_TOKEN_LENGTH = 4096;
/** Verified tokens remembered per isolate (an agent presents the same token until its next refresh). */
export const VERIFIED_CACHE_MAX = 4096;
/** How long a verification is remembered, at most (never past the token's own expiry). */
export const VERIFIED_CACHE_TTL_MS = 5 * 60_000;

interface VerifiedEntry {
  payload: JWTPayload;
  kid: string;
  until: number;
}

/**
 * Successful verifications by exact token string (and audience). A hit skips the HMAC but
 * not the checks that depend on time or configuration: the entry ends at the token's
 * expiry, and its key must still be in the ring. Revocation is checked by the TownDO on
 * every request, so remembering a signature check cannot resurrect a revoked token.
 */
const verifiedCache = new Map<string, VerifiedEntry>();

/**
 * Claims of an agent token (see the contract). `gen` is the agent's token generation (stop
 * bumps it); the TownDO always sets it, but a token minted elsewhere from the contract's
 * claims alone has none (see `agentTokenGranted`).
 */
export interface AgentClaims {
  sub: string;
  agentId: string;
  rigId?: string;
  townId: string;
  userId: string;
  gen?: number;
  iat: number;
  exp: number;
  jti: string;
}

/** Claims of a user access token. */
export interface UserClaims {
  sub: string;
  iat: number;
  exp: number;
  jti: string;
}

/** What an agent token is minted for. */
export interface AgentTokenSubject {
  agentId: string;
  rigId: string | null;
  townId: string;
  userId: string;
  gen: number;
}

/** A freshly minted token and its expiry (ms since epoch). */
export interface MintedToken {
  token: string;
  expiresAt: number;
  issuedAt: number;
}

/** Mints an agent token valid for `ttlSeconds` from `nowMs`. */
export async function mintAgentToken(
  keys: KeyRing,
  subject: AgentTokenSubject,
  nowMs: number,
  ttlSeconds: number,
): Promise<MintedToken> {
  const claims: Record<string, unknown> = {
    agentId: subject.agentId,
    townId: subject.townId,
    userId: subject.userId,
    gen: subject.gen,
  };
  if (subject.rigId) claims.rigId = subject.rigId;
  return sign(keys, claims, subject.agentId, AGENT_AUDIENCE, nowMs, ttlSeconds);
}

/** Mints a user access token. */
export function mintUserToken(keys: KeyRing, userId: string, nowMs: number, ttlSeconds: number): Promise<MintedToken> {
  return sign(keys, {}, userId, USER_AUDIENCE, nowMs, ttlSeconds);
}

async function sign(
  keys: KeyRing,
  claims: Record<string, unknown>,
  sub: string,
  audience: string,
  nowMs: number,
  ttlSeconds: number,
): Promise<MintedToken> {
  const iat = Math.floor(nowMs / 1000);
  const exp = iat + ttlSeconds;
  const token = await new SignJWT(claims)
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT', kid: keys.current.kid })
    .setSubject(sub)
    .setIssuer(ISSUER)
    .setAudience(audience)
    .setIssuedAt(iat)
    .setExpirationTime(exp)
    .setJti(crypto.randomUUID())
    .sign(keys.current.key);
  return { token, expiresAt: exp * 1000, issuedAt: iat * 1000 };
}

/** Claims of a container credential: the town it serves and its generation. */
export interface ContainerClaims {
  sub: string;
  townId: string;
  cgen: number;
  iat: number;
  exp: number;
  jti: string;
}

/**
 * Mints the credential the TownDO hands a container with its first start: it lets the
 * container ask for an agent's token (the 401 fallback) and report drops. Signed, so the
 * Worker checks it before any Durable Object is touched; generation `gen` revokes every
 * earlier credential of the town.
 */
export async function mintContainerCredential(keys: KeyRing, townId: string, gen: number, nowMs: number): Promise<string> {
  return (await sign(keys, { townId, cgen: gen }, townId, CONTAINER_AUDIENCE, nowMs, CONTAINER_CREDENTIAL_TTL_SECONDS)).token;
}

/** Verifies a container credential; throws a 401 AppError otherwise. */
export async function verifyContainerCredential(keys: KeyRing, token: string, nowMs: number): Promise<ContainerClaims> {
  const payload = await verify(keys, token, CONTAINER_AUDIENCE, nowMs);
  if (typeof payload.townId !== 'string' || payload.townId !== payload.sub) throw invalid('townId claim missing or not the subject');
  if (typeof payload.cgen !== 'number' || !Number.isInteger(payload.cgen)) throw invalid('cgen claim missing');
  return payload as unknown as ContainerClaims;
}

/** Verifies an agent token's signature and claims; throws a 401 AppError with a code otherwise. */
export async function verifyAgentToken(keys: KeyRing, token: string, nowMs: number): Promise<AgentClaims> {
  const payload = await verify(keys, token, AGENT_AUDIENCE, nowMs);
  const { agentId, townId, userId, gen, rigId } = payload;
  if (typeof agentId !== 'string' || agentId !== payload.sub) throw invalid('agentId claim missing or not the subject');
  if (typeof townId !== 'string' || !townId) throw invalid('townId claim missing');
  if (typeof userId !== 'string') throw invalid('userId claim missing');
  if (gen !== undefined && (typeof gen !== 'number' || !Number.isInteger(gen))) throw invalid('gen claim malformed');
  if (rigId !== undefined && typeof rigId !== 'string') throw invalid('rigId claim malformed');
  return payload as unknown as AgentClaims;
}

/** What the revocation check reads of an agent. */
export interface AgentTokenState {
  status: string;
  tokenGen: number;
  /** When the current generation began (ms); null while a revived agent has not started yet. */
  tokenGenStartedAt: number | null;
}

/**
 * The revocation check: whether the agent's current state still grants a verified token.
 * A token carrying `gen` holds while the agent is live and that is its generation; an
 * agent that ended (stopped, completed, failed, exited) is refused whatever its tokens
 * (ending also moves its generation on). A token without `gen` holds only while the agent
 * is live and only if it was issued no earlier than the second its current generation
 * began, so a stop or restart revokes it like any other.
 */
export function agentTokenGranted(claims: Pick<AgentClaims, 'gen' | 'iat'>, agent: AgentTokenState): boolean {
  if (claims.gen !== undefined) return isLive(agent.status) && claims.gen === agent.tokenGen;
  if (!isLive(agent.status) || agent.tokenGenStartedAt === null) return false;
  return claims.iat >= Math.floor(agent.tokenGenStartedAt / 1000);
}

/** Claims of a dashboard session cookie (access or refresh): the user and the session id. */
export interface SessionClaims {
  sub: string;
  sid: string;
  iat: number;
  exp: number;
  jti: string;
}

/** Mints a session cookie's token: access (`SESSION_AUDIENCE`) or refresh (`REFRESH_AUDIENCE`). */
export function mintSessionToken(keys: KeyRing, audience: typeof SESSION_AUDIENCE | typeof REFRESH_AUDIENCE, userId: string, sid: string, nowMs: number, ttlSeconds: number): Promise<MintedToken> {
  return sign(keys, { sid }, userId, audience, nowMs, ttlSeconds);
}

/** Verifies a session cookie's token of the given audience. */
export async function verifySessionToken(keys: KeyRing, audience: typeof SESSION_AUDIENCE | typeof REFRESH_AUDIENCE, token: string, nowMs: number): Promise<SessionClaims> {
  const payload = await verify(keys, token, audience, nowMs);
  if (typeof payload.sid !== 'string' || !payload.sid) throw invalid('sid claim missing');
  return payload as unknown as SessionClaims;
}

/** Verifies a user access token. */
export async function verifyUserToken(keys: KeyRing, token: string, nowMs: number): Promise<UserClaims> {
  return (await verify(keys, token, USER_AUDIENCE, nowMs)) as unknown as UserClaims;
}

async function verify(keys: KeyRing, token: string, audience: string, nowMs: number): Promise<JWTPayload> {
  if (token.length > MAX_TOKEN_LENGTH) throw invalid('token too large');
  const cacheKey = `${audience} ${token}`;
  const hit = verifiedCache.get(cacheKey);
  if (hit) {
    if (hit.until > nowMs && keys.byKid.has(hit.kid)) return hit.payload;
    verifiedCache.delete(cacheKey);
  }
  let kid: string | undefined;
  try {
    kid = decodeProtectedHeader(token).kid;
  } catch {
    throw invalid('token is not a JWT');
  }
  let candidates: readonly SigningKey[] = keys.keys;
  if (kid !== undefined) {
    const named = keys.byKid.get(kid);
    if (!named) throw invalid('token signed with an unknown key');
    candidates = [named];
  }
  const { payload, key } = await verifyWithAnyKey(candidates, token, audience, nowMs);
  const until = Math.min(nowMs + VERIFIED_CACHE_TTL_MS, (payload.exp! + toleranceOf(audience)) * 1000);
  if (verifiedCache.size >= VERIFIED_CACHE_MAX) verifiedCache.delete(verifiedCache.keys().next().value!);
  verifiedCache.set(cacheKey, { payload, kid: key.kid, until });
  return payload;
}

/**
 * Tries the candidate keys in order; only a signature mismatch moves on to the next key
 * (jose checks the signature before the claims, so any other failure is the token's own).
 */
async function verifyWithAnyKey(candidates: readonly SigningKey[], token: string, audience: string, nowMs: number) {
  let failure: unknown;
  for (const key of candidates) {
    try {
      return { payload: await joseVerify(key.key, token, audience, nowMs), key };
    } catch (err) {
      if (!(err instanceof errors.JWSSignatureVerificationFailed)) throw toTokenError(err);
      failure = err;
    }
  }
  throw toTokenError(failure);
}

/** Signature and claims with jose, errors mapped to 401 codes. Exported for the benchmark (no verification cache). */
export async function verifySignedToken(key: CryptoKey | Uint8Array, token: string, audience: string, nowMs: number): Promise<JWTPayload> {
  try {
    return await joseVerify(key, token, audience, nowMs);
  } catch (err) {
    throw toTokenError(err);
  }
}

/** Nothing beyond the contract's claims is required: `exp`, `iat`, `sub`, `jti`, issuer and audience. */
async function joseVerify(key: CryptoKey | Uint8Array, token: string, audience: string, nowMs: number): Promise<JWTPayload> {
  const { payload } = await jwtVerify(token, key, {
    algorithms: ['HS256'],
    issuer: ISSUER,
    audience,
    requiredClaims: ['exp', 'iat', 'sub', 'jti'],
    clockTolerance: toleranceOf(audience),
    currentDate: new Date(nowMs),
  });
  if (payload.iat! * 1000 > nowMs + toleranceOf(audience) * 1000) throw invalid('token not yet valid');
  return payload;
}

function toTokenError(err: unknown): AppError {
  if (err instanceof AppError) return err;
  if (err instanceof errors.JWTExpired) return new AppError('token_expired', 'token expired');
  if (err instanceof errors.JWTClaimValidationFailed) return invalid(`claim "${err.claim}" invalid`);
  if (err instanceof errors.JWSSignatureVerificationFailed) return invalid('signature invalid');
  if (err instanceof errors.JOSEAlgNotAllowed) return invalid('algorithm not allowed');
  return invalid('token malformed');
}

function invalid(detail: string): AppError {
  return new AppError('token_invalid', detail);
}
