/** The one error model of the Worker: every failure is an AppError rendered as `{error: {code, message}}`. */
export type ErrorCode =
  | 'bad_request'
  | 'unauthorized'
  | 'token_invalid'
  | 'token_expired'
  | 'token_revoked'
  | 'forbidden'
  | 'not_found'
  | 'conflict'
  | 'too_large'
  | 'rate_limited'
  | 'container_unavailable'
  | 'misconfigured'
  | 'internal';

/** HTTP status of each error code. */
export const STATUS: Record<ErrorCode, number> = {
  bad_request: 400,
  unauthorized: 401,
  token_invalid: 401,
  token_expired: 401,
  token_revoked: 401,
  forbidden: 403,
  not_found: 404,
  conflict: 409,
  too_large: 413,
  rate_limited: 429,
  container_unavailable: 502,
  misconfigured: 500,
  internal: 500,
};

const CODE_PREFIX = /^([a-z_]+): ([\s\S]*)$/;

/** Extra fields of an error object. */
export type ErrorExtra = Record<string, string | number | boolean | null>;

/** An error as it travels in a Result and is rendered in a response. */
export interface ErrorData {
  code: ErrorCode;
  message: string;
  extra?: ErrorExtra;
  retryAfter?: number;
}

/**
 * A failure with a code and a message safe to show a client (never a token or secret).
 * The code is carried in `message` too, so it survives Durable Object RPC, which keeps
 * only an error's message.
 */
export class AppError extends Error {
  readonly code: ErrorCode;
  readonly detail: string;
  /** Extra fields of the error object a client may act on (e.g. `agentEnded`); never a secret. */
  readonly extra: ErrorExtra | undefined;
  /** Seconds a client should wait before retrying (429), sent as `Retry-After`. */
  readonly retryAfter: number | undefined;

  constructor(code: ErrorCode, detail: string, options: { extra?: ErrorExtra; retryAfter?: number } = {}) {
    super(`${code}: ${detail}`);
    this.name = 'AppError';
    this.code = code;
    this.detail = detail;
    this.extra = options.extra;
    this.retryAfter = options.retryAfter;
  }

  get status(): number {
    return STATUS[this.code];
  }
}

/** Recovers an AppError from anything thrown, including one that crossed an RPC boundary. */
export function toAppError(err: unknown): AppError | undefined {
  if (err instanceof AppError) return err;
  if (!(err instanceof Error)) return undefined;
  const match = CODE_PREFIX.exec(err.message);
  if (match && match[1]! in STATUS) return new AppError(match[1] as ErrorCode, match[2]!);
  return undefined;
}

/** The JSON body of an error response: `{error: {code, message, ...extra}}`. */
export function errorBody(err: AppError): { error: { code: ErrorCode; message: string } & ErrorExtra } {
  return { error: { ...err.extra, code: err.code, message: err.detail } };
}

/**
 * What a Durable Object method returns: an expected failure travels as data, so the
 * runtime does not log it as an uncaught exception; unexpected ones still throw.
 */
export type Result<T> = { ok: true; value: T } | { ok: false; error: ErrorData };

/** Runs `fn`, turning an AppError into a failed Result. */
export async function toResult<T>(fn: () => T | Promise<T>): Promise<Result<T>> {
  try {
    return { ok: true, value: await fn() };
  } catch (err) {
    const appError = toAppError(err);
    if (!appError) throw err;
    return { ok: false, error: { code: appError.code, message: appError.detail, extra: appError.extra, retryAfter: appError.retryAfter } };
  }
}

/** The value of a Result, or its AppError thrown. */
export function unwrap<T>(result: Result<T>): T {
  if (result.ok) return result.value;
  throw new AppError(result.error.code, result.error.message, { extra: result.error.extra, retryAfter: result.error.retryAfter });
}
