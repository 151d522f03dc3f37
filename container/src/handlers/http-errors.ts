import { createHash, timingSafeEqual } from 'node:crypto';
import type { Context } from 'hono';
import { MAX_JSON_DEPTH, jsonDepth } from '../domain/json-depth.ts';

/** Error codes of the control server, with their statuses. */
export const CONTROL_STATUS = {
  bad_request: 400,
  unauthorized: 401,
  not_found: 404,
  conflict: 409,
  too_large: 413,
  internal: 500,
  remint_failed: 502,
  shutting_down: 503,
  no_capacity: 503,
} as const;
export type ControlErrorCode = keyof typeof CONTROL_STATUS;

/** A failure rendered as `{error: {code, message}}`. Messages never carry a token or secret. */
export class ControlError extends Error {
  readonly code: ControlErrorCode;
  constructor(code: ControlErrorCode, message: string) {
    super(message);
    this.code = code;
  }
}

/** Largest request body: 1 MiB. */
export const MAX_BODY_BYTES = 1024 * 1024;

/**
 * Reads a JSON object body, counting bytes as they stream in: 413 past `maxBytes`, 400
 * when nested deeper than MAX_JSON_DEPTH (checked before parsing), malformed or not an
 * object. An empty body reads as `{}`.
 */
export async function readJsonObject(c: Context, maxBytes = MAX_BODY_BYTES): Promise<Record<string, unknown>> {
  if (Number(c.req.header('content-length') ?? 0) > maxBytes) throw new ControlError('too_large', `body over ${maxBytes} bytes`);
  const chunks: Uint8Array[] = [];
  let size = 0;
  const body = c.req.raw.body;
  if (body) {
    const reader = body.getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      size += value.byteLength;
      if (size > maxBytes) {
        await reader.cancel().catch(() => {});
        throw new ControlError('too_large', `body over ${maxBytes} bytes`);
      }
      chunks.push(value);
    }
  }
  const text = Buffer.concat(chunks).toString('utf8');
  if (!text.trim()) return {};
  if (jsonDepth(text) > MAX_JSON_DEPTH) throw new ControlError('bad_request', `JSON nested deeper than ${MAX_JSON_DEPTH} levels`);
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
