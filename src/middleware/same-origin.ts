import type { Context } from 'hono';
import { AppError } from '../errors';

/** Methods that change nothing: a cross-site GET with a session cookie cannot act. */
const SAFE = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * CSRF defence for requests authenticated by a cookie: a state-changing request must come
 * from this origin (its `Origin` header names it). The session cookies are also
 * `SameSite=Strict`, so browsers do not send them cross-site at all; this holds even
 * where they would.
 */
export function requireSameOrigin(c: Context): void {
  if (SAFE.has(c.req.method)) return;
  const origin = c.req.header('origin');
  if (!origin || origin !== new URL(c.req.url).origin) throw new AppError('forbidden', 'cross-site request refused');
}
