import { createHash, timingSafeEqual } from 'node:crypto';
import type { Context } from 'hono';

/** Error codes of the control server, with their statuses. */
export const CONTROL_STATUS = { bad_request: 400, unauthorized: 401, not_found: 404, conflict: 409, too_large: 413, internal: 500 } as const;
export type ControlErrorCode = keyof typeof CONTROL_STATUS;

/** A failure rendered as `{error: {code, message}}`. Messages never carry a token or secret. */
export class ControlError extends Error {
  readonly code: ControlErrorCode;
  constructor(code: ControlErrorCode, message: string) {
    super(message);
    this.code = code;
  }
}

/** Largest body accepted (a batch of thousands of tokens fits). */
export const MAX_BODY_BYTES = 4 * 1024 * 1024;

/** Reads a JSON object body: 413 when too large, 400 when malformed. */
export async function readJsonObject(c: Context): Promise<Record<string, unknown>> {
  if (Number(c.req.header('content-length') ?? 0) > MAX_BODY_BYTES) throw new ControlError('too_large', 'body too large');
  const text = await c.req.text();
  if (text.length > MAX_BODY_BYTES) throw new ControlError('too_large', 'body too large');
  if (!text.trim()) return {};
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new ControlError('bad_request', 'malformed JSON body');
  }
  if (!value || typeof value !== 'object' || Array.isArray(value)) throw new ControlError('bad_request', 'body must be a JSON object');
  return value as Record<string, unknown>;
}

/** Compares secrets in constant time (digests first, so lengths do not leak). */
export function secretsEqual(presented: string, expected: string): boolean {
  const a = createHash('sha256').update(presented).digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b);
}

/** The bearer of a request, or ''. */
export function bearer(c: Context): string {
  const m = /^Bearer[ ]+(\S+)\s*$/i.exec(c.req.header('authorization') ?? '');
  return m ? m[1]! : '';
}
