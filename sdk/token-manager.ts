import { errorFromResponse, GastownError, networkError } from './errors.ts';
import { holdToken, refreshBackoffMs, REFRESH_BACKOFF_BASE_MS, REFRESH_BACKOFF_MAX_MS, tokenState, type HeldToken } from './token-policy.ts';

/** `fetch` as the SDK calls it; inject one to observe, proxy or fake the network. */
export type FetchLike = (input: string, init?: RequestInit) => Promise<Response>;

/** Where warnings go (`console` by default). */
export interface Logger {
  warn(message: string): void;
}

/** Where access tokens come from. The transport asks before each request. */
export interface TokenSource {
  /** False when a refused token cannot be replaced (a static token). */
  readonly renewable: boolean;
  /** A token to send now. */
  getToken(): Promise<string>;
  /** The server refused `rejected` with a 401: a replacement (one refresh for all callers holding it). */
  refreshAfterRejection(rejected: string): Promise<string>;
}

/** Options of {@link ClientCredentialsTokenManager}. */
export interface ClientCredentialsOptions {
  /** The Worker's base URL; the token endpoint is `${baseUrl}/api/auth/token`. */
  baseUrl: string;
  clientId: string;
  clientSecret: string;
  fetch?: FetchLike;
  /** The client's clock in ms (default `Date.now`). Only differences of it are used. */
  now?: () => number;
  /** Backoff after failed refreshes while the old token is still valid. */
  backoff?: { baseMs?: number; maxMs?: number };
}

/**
 * The OAuth 2.0 client-credentials grant, cached and renewed ahead of expiry.
 *
 * Policy (times on the client's own clock, measured from receipt of `expires_in`, so a
 * client clock skewed from the server's changes nothing):
 *  - fresh: the cached token is returned without a request;
 *  - less than min(5 min, lifetime / 5) left: one refresh, shared by every concurrent
 *    caller; when it fails, the next attempt waits a capped exponential backoff and the
 *    old token is used while it is still valid;
 *  - expired (or none yet): callers wait for a refresh (shared); its failure is theirs;
 *  - refused by the server (401): the refused token is dropped and one shared refresh
 *    replaces it; callers holding an older token get the current one.
 */
export class ClientCredentialsTokenManager implements TokenSource {
  readonly renewable = true;
  readonly #tokenUrl: string;
  readonly #clientId: string;
  readonly #clientSecret: string;
  readonly #fetch: FetchLike;
  readonly #now: () => number;
  readonly #backoffBaseMs: number;
  readonly #backoffMaxMs: number;
  #held: HeldToken | null = null;
  #inflight: Promise<HeldToken> | null = null;
  #failures = 0;
  #nextAttemptAt = 0;

  constructor(options: ClientCredentialsOptions) {
    if (!options.clientId || !options.clientSecret) throw new TypeError('clientId and clientSecret are required');
    this.#tokenUrl = `${options.baseUrl.replace(/\/+$/, '')}/api/auth/token`;
    this.#clientId = options.clientId;
    this.#clientSecret = options.clientSecret;
    this.#fetch = options.fetch ?? ((input, init) => globalThis.fetch(input, init));
    this.#now = options.now ?? (() => Date.now());
    this.#backoffBaseMs = options.backoff?.baseMs ?? REFRESH_BACKOFF_BASE_MS;
    this.#backoffMaxMs = options.backoff?.maxMs ?? REFRESH_BACKOFF_MAX_MS;
  }

  /** Consecutive failed refreshes (0 after a success). */
  get failures(): number {
    return this.#failures;
  }

  /** Client-clock time (ms) the held token expires, or null when none is held. */
  get expiresAt(): number | null {
    return this.#held?.expiresAt ?? null;
  }

  async getToken(): Promise<string> {
    const now = this.#now();
    const held = this.#held;
    const state = tokenState(held, now);
    if (state === 'fresh') return held!.value;
    if (state === 'expired') return (await this.#refresh()).value;
    if (!this.#inflight && now < this.#nextAttemptAt) return held!.value;
    try {
      return (await this.#refresh()).value;
    } catch (err) {
      const current = this.#held;
      if (current && tokenState(current, this.#now()) !== 'expired') return current.value;
      throw err;
    }
  }

  async refreshAfterRejection(rejected: string): Promise<string> {
    const current = this.#held;
    if (current && current.value !== rejected && tokenState(current, this.#now()) !== 'expired') return current.value;
    if (current?.value === rejected) this.#held = null;
    return (await this.#refresh()).value;
  }

  #refresh(): Promise<HeldToken> {
    this.#inflight ??= this.#request().then(
      (held) => {
        this.#held = held;
        this.#failures = 0;
        this.#nextAttemptAt = 0;
        this.#inflight = null;
        return held;
      },
      (err: unknown) => {
        this.#failures++;
        this.#nextAttemptAt = this.#now() + refreshBackoffMs(this.#failures, this.#backoffBaseMs, this.#backoffMaxMs);
        this.#inflight = null;
        throw err;
      },
    );
    return this.#inflight;
  }

  async #request(): Promise<HeldToken> {
    const body = new URLSearchParams({ grant_type: 'client_credentials', client_id: this.#clientId, client_secret: this.#clientSecret });
    let res: Response;
    try {
      res = await this.#fetch(this.#tokenUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
        body: body.toString(),
      });
    } catch (err) {
      throw networkError(`token request to ${this.#tokenUrl} failed`, err);
    }
    const receivedAt = this.#now();
    if (!res.ok) throw this.#scrub(await errorFromResponse(res, receivedAt));
    let json: { access_token?: unknown; expires_in?: unknown };
    try {
      json = (await res.json()) as typeof json;
    } catch {
      throw new GastownError(res.status, 'invalid_response', 'the token endpoint did not answer JSON');
    }
    if (typeof json.access_token !== 'string' || json.access_token === '') {
      throw new GastownError(res.status, 'invalid_response', 'the token endpoint answered without an access_token');
    }
    // Without expires_in the token is kept until the server refuses it (then the 401 path renews it).
    const expiresIn = typeof json.expires_in === 'number' && json.expires_in > 0 ? json.expires_in : Number.POSITIVE_INFINITY;
    return holdToken(json.access_token, expiresIn, receivedAt);
  }

  /** The server never echoes the secret; this guards against one that would. */
  #scrub(err: GastownError): GastownError {
    if (!err.message.includes(this.#clientSecret)) return err;
    const message = err.message.split(this.#clientSecret).join('[redacted]');
    return new GastownError(err.status, err.code, message, err.retryAfter === undefined ? {} : { retryAfter: err.retryAfter });
  }
}

/**
 * A token given as it is (pasted from elsewhere). It expires and nothing can renew it, so
 * the first use logs one warning saying so; a 401 is the caller's error.
 */
export class StaticTokenSource implements TokenSource {
  readonly renewable = false;
  readonly #token: string;
  readonly #logger: Logger;
  #warned = false;

  constructor(token: string, logger: Logger = console) {
    if (!token) throw new TypeError('token is required');
    this.#token = token;
    this.#logger = logger;
  }

  async getToken(): Promise<string> {
    if (!this.#warned) {
      this.#warned = true;
      this.#logger.warn('gastown: using a static access token; it will expire and nothing can renew it. Give clientId and clientSecret to have tokens renewed.');
    }
    return this.#token;
  }

  async refreshAfterRejection(): Promise<string> {
    throw new GastownError(401, 'token_expired', 'the static access token was refused and cannot be renewed');
  }
}
