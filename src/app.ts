import { Hono } from 'hono';
import type { AppEnv } from './app-env';
import { readConfig } from './domain/config';
import { AppError, errorBody, toAppError } from './errors';
import { agentRoutes, containerRoutes } from './routes/agents';
import { authRoutes } from './routes/auth';
import { sessionRoutes } from './routes/session';
import { townRoutes } from './routes/towns';

/** Builds the Worker's HTTP app from the route modules, with the one error renderer. */
export function createApp() {
  const app = new Hono<AppEnv>();
  // Health reads the configuration as every route does, so a deploy or `npm start` health
  // check fails (500 misconfigured, naming the variable) where the routes would.
  app.get('/health', (c) => {
    readConfig(c.env);
    return c.json({ ok: true });
  });
  app.route('/api/auth', authRoutes);
  app.route('/api/session', sessionRoutes);
  app.route('/api/towns/:townId/agents/:agentId', agentRoutes);
  app.route('/api/towns/:townId/container', containerRoutes);
  app.route('/api/towns', townRoutes);
  app.notFound((c) => renderError(new AppError('not_found', 'no such route'), c.req.raw));
  app.onError((err, c) => {
    const appError = toAppError(err);
    if (appError) return renderError(appError, c.req.raw);
    console.error(JSON.stringify({ msg: 'unhandled error', error: String((err as Error)?.message ?? err).slice(0, 500) }));
    return renderError(new AppError('internal', 'internal error'), c.req.raw);
  });
  return app;
}

function renderError(err: AppError, request: Request): Response {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (err.status === 401) headers['www-authenticate'] = challenge(err, request);
  if (err.retryAfter !== undefined) headers['retry-after'] = String(Math.max(1, Math.ceil(err.retryAfter)));
  return new Response(JSON.stringify(errorBody(err)), { status: err.status, headers });
}

/** A bearer token in the Authorization header (any other scheme, or none, is no token). */
const BEARER_TOKEN = /^Bearer[ ]+\S/i;

/**
 * The challenge of a 401. The token endpoint authenticates clients, Basic among them
 * (RFC 6749 §2.3.1, §5.2). Elsewhere a request without a bearer token gets no `error`
 * attribute (RFC 6750 §3.1); a token that was presented and refused is `invalid_token`,
 * with the project's code as its description.
 */
function challenge(err: AppError, request: Request): string {
  const path = new URL(request.url).pathname;
  if (path.startsWith('/api/auth/')) return 'Basic realm="gastown"';
  if (path.startsWith('/api/session')) return 'Cookie realm="gastown"';
  if (!BEARER_TOKEN.test(request.headers.get('authorization') ?? '')) return 'Bearer realm="gastown"';
  return `Bearer realm="gastown", error="invalid_token", error_description="${err.code}"`;
}
