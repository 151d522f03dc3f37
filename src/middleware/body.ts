import type { Context } from 'hono';
import type { z } from 'zod';
import { MAX_JSON_DEPTH, jsonDepth } from '../../container/src/domain/json-depth';
import { AppError } from '../errors';

export { MAX_JSON_DEPTH, jsonDepth };

/** Largest request body accepted, in bytes (a route may ask for less). */
export const MAX_BODY_BYTES = 1024 * 1024;

/**
 * The one body reader of the Worker: counts bytes as they stream in and stops at
 * `maxBytes` (413) without buffering the rest, whatever Content-Length claims.
 */
export async function readBodyText(request: Request, maxBytes = MAX_BODY_BYTES): Promise<string> {
  const declared = Number(request.headers.get('content-length') ?? 0);
  if (declared > maxBytes) throw tooLarge(maxBytes);
  if (!request.body) return '';
  const reader = request.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > maxBytes) {
      await reader.cancel().catch(() => {});
      throw tooLarge(maxBytes);
    }
    chunks.push(value);
  }
  const bytes = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return new TextDecoder().decode(bytes);
}

/** Parses JSON text, refusing nesting deeper than MAX_JSON_DEPTH (400) before the parser recurses. */
export function parseJson(text: string): unknown {
  if (jsonDepth(text) > MAX_JSON_DEPTH) throw new AppError('bad_request', `JSON nested deeper than ${MAX_JSON_DEPTH} levels`);
  try {
    return JSON.parse(text);
  } catch {
    throw new AppError('bad_request', 'malformed JSON body');
  }
}

/** Reads and validates a JSON body: 413 when too large, 400 when malformed, too deep or of the wrong shape. An empty body reads as `{}`. */
export async function jsonBody<S extends z.ZodType>(c: Context, schema: S, maxBytes = MAX_BODY_BYTES): Promise<z.infer<S>> {
  const raw = await readBodyText(c.req.raw, maxBytes);
  const value = raw.trim() === '' ? {} : parseJson(raw);
  const parsed = schema.safeParse(value);
  if (!parsed.success) {
    const issues = parsed.error.issues.slice(0, 5).map((i) => `${i.path.join('.') || '(body)'}: ${i.message}`);
    throw new AppError('bad_request', `invalid body: ${issues.join('; ')}`);
  }
  return parsed.data;
}

/**
 * A small form's parameters, from `application/x-www-form-urlencoded` or a JSON object (a
 * JSON object is taken whatever its content type, as OAuth clients send it).
 */
export async function formOrJson(request: Request, maxBytes: number): Promise<Record<string, unknown>> {
  const text = await readBodyText(request, maxBytes);
  const type = (request.headers.get('content-type') ?? '').toLowerCase();
  const looksJson = !type.includes('application/x-www-form-urlencoded') && text.trimStart().startsWith('{');
  if (type.includes('json') || looksJson) {
    const value = parseJson(text);
    if (value && typeof value === 'object' && !Array.isArray(value)) return value as Record<string, unknown>;
    throw new AppError('bad_request', 'the JSON body must be an object');
  }
  return Object.fromEntries(new URLSearchParams(text));
}

function tooLarge(maxBytes: number): AppError {
  return new AppError('too_large', `body larger than ${maxBytes} bytes`);
}
