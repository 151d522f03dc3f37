import type { ErrorCode } from '../src/errors.ts';

/**
 * Codes the Worker answers with (`{"error": {"code", "message"}}`), plus the client's own:
 * `network_error` (no response), `invalid_response` (a body that is not the expected JSON)
 * and `http_<status>` for an error without the Worker's error body. Kept open: a newer
 * Worker may send codes this list does not know yet.
 */
export type GastownErrorCode = ErrorCode | 'network_error' | 'invalid_response' | (string & {});

/** Options of a {@link GastownError}. */
export interface GastownErrorOptions {
  /** Seconds the server asked to wait (`Retry-After`), when it did. */
  retryAfter?: number;
  cause?: unknown;
}

/**
 * Every failure of the SDK: an HTTP error of the Worker (`status` ≥ 400), or `status` 0 when
 * no response arrived. The message never holds a token or a secret.
 */
export class GastownError extends Error {
  readonly status: number;
  readonly code: GastownErrorCode;
  readonly retryAfter?: number;

  constructor(status: number, code: GastownErrorCode, message: string, options: GastownErrorOptions = {}) {
    super(redactSecrets(message), options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'GastownError';
    this.status = status;
    this.code = code;
    if (options.retryAfter !== undefined) this.retryAfter = options.retryAfter;
  }
}

const JWT_LIKE = /\beyJ[\w-]*\.[\w-]+\.[\w-]*/g;
const BEARER = /\b(Bearer|Basic)\s+[\w.~+/=-]+/gi;

/** Removes anything shaped like a JWT or a credential header from text that may be shown. */
export function redactSecrets(text: string): string {
  return text.replace(JWT_LIKE, '[redacted token]').replace(BEARER, '$1 [redacted]');
}

/** Seconds to wait from a `Retry-After` header (delay-seconds or an HTTP date), if any. */
export function parseRetryAfter(value: string | null, now: number): number | undefined {
  if (value === null || value.trim() === '') return undefined;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed);
  const at = Date.parse(trimmed);
  return Number.isNaN(at) ? undefined : Math.max(0, Math.ceil((at - now) / 1000));
}

/** The {@link GastownError} for a non-2xx response; reads (and so consumes) its body. */
export async function errorFromResponse(res: Response, now: number): Promise<GastownError> {
  const retryAfter = parseRetryAfter(res.headers.get('retry-after'), now);
  const options = retryAfter === undefined ? {} : { retryAfter };
  let text = '';
  try {
    text = await res.text();
  } catch {
    // the body could not be read: the status alone describes the failure
  }
  const body = parseErrorBody(text);
  if (body) return new GastownError(res.status, body.code, body.message, options);
  const reason = res.statusText ? ` ${res.statusText}` : '';
  return new GastownError(res.status, `http_${res.status}`, `HTTP ${res.status}${reason}`, options);
}

function parseErrorBody(text: string): { code: string; message: string } | undefined {
  try {
    const value = JSON.parse(text) as { error?: { code?: unknown; message?: unknown } };
    const error = value?.error;
    if (error && typeof error.code === 'string') {
      return { code: error.code, message: typeof error.message === 'string' ? error.message : error.code };
    }
  } catch {
    // not the Worker's error body
  }
  return undefined;
}

/** A {@link GastownError} for a request that got no response (DNS, refused, reset, timeout). */
export function networkError(what: string, cause: unknown): GastownError {
  const reason = cause instanceof Error ? cause.message : String(cause);
  return new GastownError(0, 'network_error', `${what}: ${reason}`, { cause });
}

/** True for an abort of the caller's own signal (not a failure to report). */
export function isAbortError(err: unknown): boolean {
  return typeof err === 'object' && err !== null && (err as { name?: unknown }).name === 'AbortError';
}
