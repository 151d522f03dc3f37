import { Hono } from 'hono';
import type { AppEnv } from '../app-env';
import { clientCredentialsOf, readConfig } from '../domain/config';
import { constantTimeEqual } from '../domain/signing-keys';
import { mintUserToken } from '../domain/tokens';
import { AppError } from '../errors';
import { formOrJson } from '../middleware/body';
import { envKeys } from '../middleware/keys';
import { limitByAddress } from '../middleware/rate-limit';

/** A token request is a few form fields: anything larger is refused as it streams in. */
export const MAX_GRANT_BYTES = 8 * 1024;

/**
 * `POST /api/auth/token`: OAuth 2.0 client-credentials grant. Parameters as a form or JSON
 * (JSON also without a JSON content type, when the body is an object); the client
 * authenticates in the body or with HTTP Basic, the default of OAuth client libraries.
 */
export const authRoutes = new Hono<AppEnv>().post('/token', async (c) => {
  const config = readConfig(c.env);
  const client = clientCredentialsOf(config);
  await limitByAddress(c, c.env.AUTH_LIMITER, 'token endpoint');
  const params = await formOrJson(c.req.raw, MAX_GRANT_BYTES);
  if (params.grant_type !== 'client_credentials') throw new AppError('bad_request', 'grant_type must be client_credentials');
  if (!(await credentialsMatch(clientCredentials(c.req.header('authorization'), params), client))) {
    throw new AppError('unauthorized', 'invalid client credentials');
  }
  const minted = await mintUserToken(await envKeys(c.env), client.clientId, Date.now(), config.userTokenTtlSeconds);
  c.header('cache-control', 'no-store');
  return c.json({ access_token: minted.token, token_type: 'Bearer', expires_in: config.userTokenTtlSeconds });
});

/**
 * Whether any candidate is the configured client. Id and secret are both compared, in
 * constant time, for every candidate: a wrong id and a wrong secret take the same time
 * and get the same answer.
 */
export async function credentialsMatch(candidates: ClientCredentials[], client: { clientId: string; clientSecret: string }): Promise<boolean> {
  let match = false;
  for (const candidate of candidates) {
    const [idOk, secretOk] = await Promise.all([constantTimeEqual(candidate.id, client.clientId), constantTimeEqual(candidate.secret, client.clientSecret)]);
    match = match || (idOk && secretOk);
  }
  return match;
}

export interface ClientCredentials {
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
