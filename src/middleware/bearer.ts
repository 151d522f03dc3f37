import type { Context } from 'hono';
import { AppError } from '../errors';

/** The bearer token of a request, or a 401 when there is none. */
export function bearerToken(c: Context): string {
  const header = c.req.header('authorization') ?? '';
  const match = /^Bearer[ ]+([^\s]+)\s*$/i.exec(header);
  if (!match) throw new AppError('unauthorized', 'missing bearer token');
  return match[1]!;
}
