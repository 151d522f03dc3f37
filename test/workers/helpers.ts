import { exports } from 'cloudflare:workers';
import { SignJWT } from 'jose';
import { inject } from 'vitest';
import { TEST_SECRETS } from './secrets';

export const ORIGIN = 'http://gastown.test';

/** Calls the Worker (the real app in workerd). */
export async function api(path: string, init: { method?: string; body?: unknown; raw?: string; token?: string; headers?: Record<string, string> } = {}) {
  const headers: Record<string, string> = { ...init.headers };
  if (init.token) headers.authorization = `Bearer ${init.token}`;
  let body: string | undefined;
  if (init.raw !== undefined) body = init.raw;
  else if (init.body !== undefined) body = JSON.stringify(init.body);
  if (body !== undefined) headers['content-type'] ??= 'application/json';
  const res = await exports.default.fetch(new Request(`${ORIGIN}${path}`, { method: init.method ?? (body === undefined ? 'GET' : 'POST'), headers, body }));
  const text = await res.text();
  let json: any = null;
  try {
    json = text ? JSON.parse(text) : null;
  } catch {
    json = null;
  }
  return { status: res.status, json, headers: res.headers, text };
}

/** A user access token through the real client-credentials route. */
export async function userToken(): Promise<string> {
  const res = await api('/api/auth/token', {
    body: { grant_type: 'client_credentials', client_id: TEST_SECRETS.GASTOWN_CLIENT_ID, client_secret: TEST_SECRETS.GASTOWN_CLIENT_SECRET },
  });
  if (res.status !== 200) throw new Error(`token: ${res.status} ${res.text}`);
  return res.json.access_token;
}

/** A new town with one rig. */
export async function newTown() {
  const token = await userToken();
  const town = await api('/api/towns', { token, body: { name: 'test town' } });
  if (town.status !== 201) throw new Error(`town: ${town.status} ${town.text}`);
  const rig = await api(`/api/towns/${town.json.id}/rigs`, { token, body: { name: 'rig' } });
  return { token, townId: town.json.id as string, rigId: rig.json.id as string };
}

/** Dispatches an agent and returns its id. */
export async function dispatch(t: { token: string; townId: string; rigId: string }, role: 'polecat' | 'refinery' = 'polecat') {
  const res = await api(`/api/towns/${t.townId}/rigs/${t.rigId}/agents`, { token: t.token, body: { role } });
  if (res.status !== 201) throw new Error(`dispatch: ${res.status} ${res.text}`);
  return res.json.id as string;
}

/** The stand-in control server. */
export const standIn = {
  url: (path: string) => `http://127.0.0.1:${inject('standInPort')}${path}`,
  async get(path: string, townId: string, extra = '') {
    const res = await fetch(standIn.url(`/__test/${path}?townId=${townId}${extra}`));
    return res.json() as Promise<any>;
  },
  log: (townId: string) => standIn.get('log', townId) as Promise<Array<{ seq: number; path: string; agentIds: string[]; status: number; tokens: Array<{ agentId: string; jti: string; iat: number; exp: number }>; text?: string; hasCredential?: boolean }>>,
  failPushes: (townId: string, count: number) => standIn.get('fail-pushes', townId, `&count=${count}`),
  down: (townId: string, down: boolean) => standIn.get('down', townId, `&down=${down ? 1 : 0}`),
  forget: (townId: string) => standIn.get('forget', townId),
  credential: async (townId: string) => (await standIn.get('credential', townId)).credential as string | null,
  /** The token the stand-in holds for an agent: the newest one it accepted. */
  async heldToken(townId: string, agentId: string): Promise<string> {
    const agents = (await standIn.get('agents', townId)) as Array<{ agentId: string; token: string }>;
    const held = agents.find((a) => a.agentId === agentId);
    if (!held) throw new Error(`stand-in holds no token for ${agentId}`);
    return held.token;
  },
};

/** Signs a token as the Worker would, with overrides, for the token table. */
export async function forgeToken(opts: {
  secret?: string;
  kid?: string;
  claims?: Record<string, unknown>;
  omit?: string[];
  alg?: string;
}): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  const claims: Record<string, unknown> = { sub: 'a', agentId: 'a', townId: 't', userId: 'u', gen: 1, iat: now, exp: now + 600, jti: crypto.randomUUID(), iss: 'gastown', aud: 'gastown-agent', ...opts.claims };
  for (const k of opts.omit ?? []) delete claims[k];
  const secret = new TextEncoder().encode(opts.secret ?? TEST_SECRETS.GASTOWN_JWT_SECRET);
  return new SignJWT(claims).setProtectedHeader({ alg: opts.alg ?? 'HS256', typ: 'JWT', ...(opts.kid ? { kid: opts.kid } : {}) }).sign(secret);
}

/** The kid the Worker derives for a secret. */
export async function kidOf(secret: string): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(secret)));
  return `k${[...digest.subarray(0, 8)].map((b) => b.toString(16).padStart(2, '0')).join('')}`;
}
