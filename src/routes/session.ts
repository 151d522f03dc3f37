import { Hono, type Context } from 'hono';
import type { AppEnv } from '../app-env';
import { clientCredentialsOf, readConfig } from '../domain/config';
import { REFRESH_AUDIENCE, SESSION_AUDIENCE, mintSessionToken, verifySessionToken } from '../domain/tokens';
import { AppError } from '../errors';
import { formOrJson } from '../middleware/body';
import { envKeys } from '../middleware/keys';
import { limitByAddress } from '../middleware/rate-limit';
import { requireSameOrigin } from '../middleware/same-origin';
import { accessCookie, clearSessionCookies, refreshCookie, setSessionCookies } from '../middleware/session-cookies';
import { MAX_GRANT_BYTES, clientCredentials, credentialsMatch } from './auth';

/**
 * The dashboard's session: sign in once with the client credentials; the browser then
 * holds only two `HttpOnly`, `SameSite=Strict` cookies: a short-lived access cookie
 * (`USER_TOKEN_TTL_SECONDS`) and a refresh cookie, sent only here, that renews it while
 * the session is open (`SESSION_MAX_AGE_SECONDS` since its last refresh). No token is
 * ever in a response body, the page or its URL. Every state-changing call must come from
 * this origin.
 */
export const sessionRoutes = new Hono<AppEnv>()
  .get('/', async (c) => {
    const keys = await envKeys(c.env);
    // a cookie counts only while its session is open: a signed-out session's cookies are worth nothing
    const valid = async (audience: typeof SESSION_AUDIENCE | typeof REFRESH_AUDIENCE, cookie: string | undefined) => {
      const claims = cookie ? await verifySessionToken(keys, audience, cookie, Date.now()).catch(() => null) : null;
      return claims && (await c.env.DIRECTORY.getByName(claims.sub).hasSession(claims.sid)) ? claims : null;
    };
    const access = await valid(SESSION_AUDIENCE, accessCookie(c));
    const refreshable = (await valid(REFRESH_AUDIENCE, refreshCookie(c))) !== null;
    const lifetimeSeconds = readConfig(c.env).userTokenTtlSeconds;
    if (!access) return c.json({ signedIn: false, refreshable, lifetimeSeconds });
    return c.json({ signedIn: true, refreshable, lifetimeSeconds, expiresAt: new Date(access.exp * 1000).toISOString() });
  })
  .post('/', async (c) => {
    requireSameOrigin(c);
    const client = clientCredentialsOf(readConfig(c.env));
    await limitByAddress(c, c.env.AUTH_LIMITER, 'sign-in');
    const params = await formOrJson(c.req.raw, MAX_GRANT_BYTES);
    if (!(await credentialsMatch(clientCredentials(undefined, params), client))) throw new AppError('unauthorized', 'invalid client credentials');
    const sid = crypto.randomUUID();
    const config = readConfig(c.env);
    await c.env.DIRECTORY.getByName(client.clientId).openSession(sid, Date.now() + config.sessionMaxAgeSeconds * 1000);
    return issue(c, client.clientId, sid);
  })
  .post('/refresh', async (c) => {
    requireSameOrigin(c);
    const claims = await refreshClaims(c);
    const config = readConfig(c.env);
    if (!(await c.env.DIRECTORY.getByName(claims.sub).extendSession(claims.sid, Date.now() + config.sessionMaxAgeSeconds * 1000))) {
      clearSessionCookies(c);
      throw new AppError('unauthorized', 'the session has ended; sign in again');
    }
    return issue(c, claims.sub, claims.sid);
  })
  .post('/sign-out', async (c) => {
    requireSameOrigin(c);
    const cookie = refreshCookie(c);
    if (cookie) {
      const claims = await verifySessionToken(await envKeys(c.env), REFRESH_AUDIENCE, cookie, Date.now()).catch(() => null);
      if (claims) await c.env.DIRECTORY.getByName(claims.sub).closeSession(claims.sid);
    }
    clearSessionCookies(c);
    return c.json({ signedIn: false });
  });

async function refreshClaims(c: Context<AppEnv>) {
  const cookie = refreshCookie(c);
  if (!cookie) throw new AppError('unauthorized', 'no session');
  try {
    return await verifySessionToken(await envKeys(c.env), REFRESH_AUDIENCE, cookie, Date.now());
  } catch {
    clearSessionCookies(c);
    throw new AppError('unauthorized', 'the session has ended; sign in again');
  }
}

/** Sets fresh access and refresh cookies for the session; the body says only when they expire. */
async function issue(c: Context<AppEnv>, userId: string, sid: string) {
  const config = readConfig(c.env);
  const keys = await envKeys(c.env);
  const now = Date.now();
  const access = await mintSessionToken(keys, SESSION_AUDIENCE, userId, sid, now, config.userTokenTtlSeconds);
  const refresh = await mintSessionToken(keys, REFRESH_AUDIENCE, userId, sid, now, config.sessionMaxAgeSeconds);
  setSessionCookies(c, { token: access.token, ttlSeconds: config.userTokenTtlSeconds }, { token: refresh.token, ttlSeconds: config.sessionMaxAgeSeconds });
  c.header('cache-control', 'no-store');
  return c.json({ signedIn: true, expiresAt: new Date(access.expiresAt).toISOString(), sessionExpiresAt: new Date(refresh.expiresAt).toISOString(), lifetimeSeconds: config.userTokenTtlSeconds });
}
