import { Hono } from 'hono';
import type { AppEnv } from './app-env';
import { AppError, errorBody, toAppError } from './errors';
import { agentRoutes } from './routes/agents';
import { authRoutes } from './routes/auth';
import { townRoutes } from './routes/towns';

/** Builds the Worker's HTTP app from the route modules, with the one error renderer. */
export function createApp() {
  const app = new Hono<AppEnv>();
  app.get('/health', (c) => c.json({ ok: true }));
  app.route('/api/auth', authRoutes);
  app.route('/api/towns/:townId/agents/:agentId', agentRoutes);
  app.route('/api/towns', townRoutes);
  app.notFound(() => renderError(new AppError('not_found', 'no such route')));
  app.onError((err) => {
    const appError = toAppError(err);
    if (appError) return renderError(appError);
    console.error(JSON.stringify({ msg: 'unhandled error', error: String((err as Error)?.message ?? err).slice(0, 500) }));
    return renderError(new AppError('internal', 'internal error'));
  });
  return app;
}

function renderError(err: AppError): Response {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (err.status === 401) {
    const code = err.code === 'unauthorized' ? 'invalid_request' : 'invalid_token';
    headers['www-authenticate'] = `Bearer realm="gastown", error="${code}", error_description="${err.code}"`;
  }
  return new Response(JSON.stringify(errorBody(err)), { status: err.status, headers });
}
