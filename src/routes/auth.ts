import { Hono } from 'hono';
import type { AppEnv } from '../app-env';
import { readConfig } from '../domain/config';
import { constantTimeEqual } from '../domain/signing-keys';
import { mintUserToken } from '../domain/tokens';
import { AppError } from '../errors';
import { envKeys } from '../middleware/keys';
import { MAX_BODY_BYTES } from '../middleware/json-body';

/** Lifetime of a user access token. */
export const USER_TOKEN_TTL_SECONDS = 3_600;

/** `POST /api/auth/token`: OAuth 2.0 client-credentials grant, form or JSON. */
export const authRoutes = new Hono<AppEnv>().post('/token', async (c) => {
  const params = await readGrant(c.req.raw);
  if (params.grant_type !== 'client_credentials') throw new AppError('bad_request', 'grant_type must be client_credentials');
  const config = readConfig(c.env);
  if (!config.clientId || !config.clientSecret) throw new AppError('misconfigured', 'GASTOWN_CLIENT_ID / GASTOWN_CLIENT_SECRET are not set');
  const [idOk, secretOk] = await Promise.all([
    constantTimeEqual(String(params.client_id ?? ''), config.clientId),
    constantTimeEqual(String(params.client_secret ?? ''), config.clientSecret),
  ]);
  if (!idOk || !secretOk) throw new AppError('unauthorized', 'invalid client credentials');
  const minted = await mintUserToken(await envKeys(c.env), config.clientId, Date.now(), USER_TOKEN_TTL_SECONDS);
  c.header('cache-control', 'no-store');
  return c.json({ access_token: minted.token, token_type: 'Bearer', expires_in: USER_TOKEN_TTL_SECONDS });
});

async function readGrant(request: Request): Promise<Record<string, unknown>> {
  const text = await request.text();
  if (text.length > MAX_BODY_BYTES) throw new AppError('too_large', 'body too large');
  const type = request.headers.get('content-type') ?? '';
  if (type.includes('application/json')) {
    try {
      const value: unknown = JSON.parse(text);
      if (value && typeof value === 'object' && !Array.isArray(value)) return value as Record<string, unknown>;
    } catch {
      // falls through to the error below
    }
    throw new AppError('bad_request', 'malformed JSON body');
  }
  return Object.fromEntries(new URLSearchParams(text));
}
