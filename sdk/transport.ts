import { errorFromResponse, GastownError, isAbortError, networkError } from './errors.ts';
import type { FetchLike, TokenSource } from './token-manager.ts';

/** One request of the user API. */
export interface RequestOptions {
  body?: unknown;
  query?: Record<string, string | number | undefined>;
  headers?: Record<string, string>;
  signal?: AbortSignal;
}

/**
 * Authorized HTTP to the Worker: the token source's token on every request, and a 401
 * answered by one refresh and one retry (when the source can renew). Errors become
 * {@link GastownError}s; an abort of the caller's signal is rethrown as it is.
 */
export class Transport {
  readonly baseUrl: string;
  readonly #tokens: TokenSource;
  readonly #fetch: FetchLike;
  readonly #now: () => number;

  constructor(baseUrl: string, tokens: TokenSource, fetch: FetchLike, now: () => number) {
    this.baseUrl = baseUrl.replace(/\/+$/, '');
    this.#tokens = tokens;
    this.#fetch = fetch;
    this.#now = now;
  }

  /** Sends a request and parses the JSON answer; a non-2xx status is a {@link GastownError}. */
  async json<T>(method: string, path: string, options: RequestOptions = {}): Promise<T> {
    const res = await this.send(method, path, options);
    if (!res.ok) throw await errorFromResponse(res, this.#now());
    const text = await res.text();
    try {
      return (text === '' ? null : JSON.parse(text)) as T;
    } catch {
      throw new GastownError(res.status, 'invalid_response', `${method} ${path}: the answer is not JSON`);
    }
  }

  /** Sends a request, retrying once with a fresh token after a 401; returns the response whatever its status. */
  async send(method: string, path: string, options: RequestOptions = {}): Promise<Response> {
    const url = this.url(path, options.query);
    const body = options.body === undefined ? undefined : JSON.stringify(options.body);
    const attempt = async (token: string) => {
      const headers: Record<string, string> = { accept: 'application/json', ...options.headers, authorization: `Bearer ${token}` };
      if (body !== undefined) headers['content-type'] = 'application/json';
      try {
        return await this.#fetch(url, { method, headers, body, signal: options.signal });
      } catch (err) {
        if (isAbortError(err)) throw err;
        throw networkError(`${method} ${path} failed`, err);
      }
    };
    const token = await this.#tokens.getToken();
    const res = await attempt(token);
    if (res.status !== 401 || !this.#tokens.renewable) return res;
    await res.body?.cancel().catch(() => {});
    return attempt(await this.#tokens.refreshAfterRejection(token));
  }

  url(path: string, query?: Record<string, string | number | undefined>): string {
    const params = new URLSearchParams();
    for (const [name, value] of Object.entries(query ?? {})) if (value !== undefined) params.set(name, String(value));
    const search = params.toString();
    return `${this.baseUrl}${path}${search ? `?${search}` : ''}`;
  }
}
