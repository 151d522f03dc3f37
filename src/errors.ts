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

/**
 * A failure with a code and a message safe to show a client (never a token or secret).
 * The code is carried in `message` too, so it survives Durable Object RPC, which keeps
 * only an error's message.
 */
export class AppError extends Error {
  readonly code: ErrorCode;
  readonly detail: string;

  constructor(code: ErrorCode, detail: string) {
    super(`${code}: ${detail}`);
    this.name = 'AppError';
    this.code = code;
    this.detail = detail;
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

/** The JSON body of an error response. */
export function errorBody(err: AppError): { error: { code: ErrorCode; message: string } } {
  return { error: { code: err.code, message: err.detail } };
}

/**
 * What a Durable Object method returns: an expected failure travels as data, so the
 * runtime does not log it as an uncaught exception; unexpected ones still throw.
 */
export type Result<T> = { ok: true; value: T } | { ok: false; error: { code: ErrorCode; message: string } };

/** Runs `fn`, turning an AppError into a failed Result. */
export async function toResult<T>(fn: () => T | Promise<T>): Promise<Result<T>> {
  try {
    return { ok: true, value: await fn() };
  } catch (err) {
    const appError = toAppError(err);
    if (!appError) throw err;
    return { ok: false, error: { code: appError.code, message: appError.detail } };
  }
}

/** The value of a Result, or its AppError thrown. */
export function unwrap<T>(result: Result<T>): T {
  if (result.ok) return result.value;
  throw new AppError(result.error.code, result.error.message);
}
