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

/**
 * `POST /api/auth/token`: OAuth 2.0 client-credentials grant. Parameters as a form or JSON
 * (JSON also without a JSON content type, when the body is an object); the client
 * authenticates in the body or with HTTP Basic, the default of OAuth client libraries.
 */
export const authRoutes = new Hono<AppEnv>().post('/token', async (c) => {
  const params = await readGrant(c.req.raw);
  if (params.grant_type !== 'client_credentials') throw new AppError('bad_request', 'grant_type must be client_credentials');
  const candidates = clientCredentials(c.req.header('authorization'), params);
  const config = readConfig(c.env);
  if (!config.clientId || !config.clientSecret) throw new AppError('misconfigured', 'GASTOWN_CLIENT_ID / GASTOWN_CLIENT_SECRET are not set');
  const matches = await Promise.all(
    candidates.map(async (client) => (await constantTimeEqual(client.id, config.clientId!)) && (await constantTimeEqual(client.secret, config.clientSecret!))),
  );
  if (!matches.includes(true)) throw new AppError('unauthorized', 'invalid client credentials');
  const minted = await mintUserToken(await envKeys(c.env), config.clientId, Date.now(), USER_TOKEN_TTL_SECONDS);
  c.header('cache-control', 'no-store');
  return c.json({ access_token: minted.token, token_type: 'Bearer', expires_in: USER_TOKEN_TTL_SECONDS });
});

interface ClientCredentials {
  id: string;
  secret: string;
}

/**
 * The client's credentials, from the body or an `Authorization: Basic` header (RFC 6749
 * §2.3.1: each part form-urlencoded, then joined by a colon and base64-encoded). Sent
 * both ways, they must be the same client. Many clients (`curl -u`) skip the urlencoding,
 * so Basic credentials are tried decoded and as sent.
 */
export function clientCredentials(authorization: string | undefined, params: Record<string, unknown>): ClientCredentials[] {
  const basic = /^Basic[ ]+([^\s]*)\s*$/i.exec(authorization ?? '');
  if (!basic) return [{ id: String(params.client_id ?? ''), secret: String(params.client_secret ?? '') }];
  const raw = decodeBasic(basic[1]!);
  const decoded = { id: formDecode(raw.id), secret: formDecode(raw.secret) };
  const same = (value: unknown, header: keyof ClientCredentials) => value === undefined || String(value) === decoded[header] || String(value) === raw[header];
  if (!same(params.client_id, 'id') || !same(params.client_secret, 'secret')) {
    throw new AppError('bad_request', 'invalid_request: client credentials in the Authorization header and the body differ');
  }
  return [decoded, raw];
}

/** `user:password` of a Basic header, as sent. */
function decodeBasic(encoded: string): ClientCredentials {
  let decoded: string;
  try {
    decoded = new TextDecoder().decode(Uint8Array.from(atob(encoded), (ch) => ch.charCodeAt(0)));
  } catch {
    throw new AppError('bad_request', 'invalid_request: malformed Basic credentials');
  }
  const colon = decoded.indexOf(':');
  if (colon < 0) throw new AppError('bad_request', 'invalid_request: malformed Basic credentials');
  return { id: decoded.slice(0, colon), secret: decoded.slice(colon + 1) };
}

/** application/x-www-form-urlencoded decoding of one value; a stray `%` is kept as it is. */
function formDecode(value: string): string {
  const spaced = value.replace(/\+/g, ' ');
  try {
    return decodeURIComponent(spaced);
  } catch {
    return spaced;
  }
}

async function readGrant(request: Request): Promise<Record<string, unknown>> {
  const text = new TextDecoder().decode(await request.arrayBuffer());
  if (text.length > MAX_BODY_BYTES) throw new AppError('too_large', 'body too large');
  const type = (request.headers.get('content-type') ?? '').toLowerCase();
  const looksJson = !type.includes('application/x-www-form-urlencoded') && text.trimStart().startsWith('{');
  if (type.includes('json') || looksJson) {
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
