import type { Context } from 'hono';
import { deleteCookie, getCookie, setCookie } from 'hono/cookie';

/** The session's access cookie (sent with every API call from the page). */
export const ACCESS_COOKIE = 'gastown_session';
/** The session's refresh cookie (sent only to `/api/session`). */
export const REFRESH_COOKIE = 'gastown_refresh';
const REFRESH_PATH = '/api/session';

/** `HttpOnly`, `SameSite=Strict`, and `Secure` when served over https. */
function flags(c: Context, path: string, maxAge: number) {
  return { httpOnly: true, sameSite: 'Strict' as const, secure: new URL(c.req.url).protocol === 'https:', path, maxAge };
}

/** Sets both cookies of a session. */
export function setSessionCookies(c: Context, access: { token: string; ttlSeconds: number }, refresh: { token: string; ttlSeconds: number }): void {
  setCookie(c, ACCESS_COOKIE, access.token, flags(c, '/', access.ttlSeconds));
  setCookie(c, REFRESH_COOKIE, refresh.token, flags(c, REFRESH_PATH, refresh.ttlSeconds));
}

/** Clears both cookies. */
export function clearSessionCookies(c: Context): void {
  deleteCookie(c, ACCESS_COOKIE, { path: '/', secure: new URL(c.req.url).protocol === 'https:' });
  deleteCookie(c, REFRESH_COOKIE, { path: REFRESH_PATH, secure: new URL(c.req.url).protocol === 'https:' });
}

export function accessCookie(c: Context): string | undefined {
  return getCookie(c, ACCESS_COOKIE);
}

export function refreshCookie(c: Context): string | undefined {
  return getCookie(c, REFRESH_COOKIE);
}
