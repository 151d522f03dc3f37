import { exports } from 'cloudflare:workers';
import { SignJWT } from 'jose';
import { inject } from 'vitest';
import { TEST_SECRETS } from './secrets';

/**
 * The Worker's origin in these tests, which agents are told to call back: a closed port, so
 * real agent processes' callbacks fail at once (these tests act as the agents themselves).
 */
export const ORIGIN = 'http://127.0.0.1:9';

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

/** A user access token through the real client-credentials route (from an address of its own: the endpoint is rate limited per address). */
export async function userToken(): Promise<string> {
  const res = await api('/api/auth/token', {
    body: { grant_type: 'client_credentials', client_id: TEST_SECRETS.GASTOWN_CLIENT_ID, client_secret: TEST_SECRETS.GASTOWN_CLIENT_SECRET },
    headers: { 'cf-connecting-ip': `10.${Math.floor(Math.random() * 256)}.${Math.floor(Math.random() * 256)}.${Math.floor(Math.random() * 256)}` },
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

/** A real agent process that stays alive until the control server ends it (it never calls back). */
export function idleCommand(): string[] {
  return [inject('nodePath'), '-e', 'process.stdin.resume(); process.stdin.on("end", () => process.exit(0))'];
}

/** Dispatches an agent (an idle process unless a command or runtime is given) and returns its id. */
export async function dispatch(t: { token: string; townId: string; rigId: string }, role: 'polecat' | 'refinery' | 'mayor' = 'polecat', extra: { beadId?: string; command?: string[]; runtime?: string } = {}) {
  const body = { role, ...(extra.runtime ? {} : { command: idleCommand() }), ...extra };
  const res = await api(`/api/towns/${t.townId}/rigs/${t.rigId}/agents`, { token: t.token, body });
  if (res.status !== 201) throw new Error(`dispatch: ${res.status} ${res.text}`);
  return res.json.id as string;
}

export type { SeenRequest } from './control-harness';
import type { SeenRequest } from './control-harness';

/** A fault the harness proxy injects into the town's requests to the control server. */
export interface FaultSpec {
  /** Regular expression on the request path. */
  path: string;
  kind?: 'status' | 'drop' | 'delay';
  status?: number;
  ms?: number;
  /** How many matching requests (default: until cleared). */
  count?: number;
}

/**
 * The real control server (a Node process running real agent processes) and the fault
 * proxy in front of it (see control-harness.ts).
 */
export const harness = {
  url: (path: string) => `http://127.0.0.1:${inject('proxyPort')}${path}`,
  async get(path: string, params: Record<string, string | number>): Promise<any> {
    const query = new URLSearchParams(Object.entries(params).map(([k, v]) => [k, String(v)]));
    const res = await fetch(harness.url(`/__harness/${path}?${query}`));
    const text = await res.text();
    return text ? JSON.parse(text) : null;
  },
  fault: (townId: string, spec: FaultSpec) => harness.get('fault', { townId, ...spec } as Record<string, string | number>),
  clear: (townId: string) => harness.get('clear', { townId }),
  seen: (townId: string) => harness.get('seen', { townId }) as Promise<SeenRequest[]>,
  /** The agent's token file, as the agent reads it. */
  async token(agentId: string): Promise<string> {
    const { token } = await harness.get('token', { agentId });
    if (!token) throw new Error(`no token file for ${agentId}`);
    return token as string;
  },
  /** The container credential the Worker last handed the town's container. */
  credential: async (townId: string) => (await harness.get('credential', { townId })).credential as string | null,
  /** What the control server runs for the town (`GET /agents`). */
  containerAgents: (townId: string) =>
    harness.get('control', { townId, path: `/agents?townId=${encodeURIComponent(townId)}` }) as Promise<Array<{ agentId: string; status: string; tokenExpiresAt: string | null; pendingDeliveries: number; deliveryFailures: number }>>,
  /** From now on the town's requests go to a control server of its own (call before its first start). */
  ownServer: (townId: string) => harness.get('own-server', { townId }),
  /** Shuts the town's own control server down (its agents end) and forgets it. */
  dropServer: (townId: string) => harness.get('drop-server', { townId }),
  /** Kills the town's own control server with `signal` and starts a new one on its state directory. */
  restartServer: (townId: string, signal: NodeJS.Signals = 'SIGKILL') => harness.get('restart-server', { townId, signal }),
  /** Stops an agent in the container behind the town's back: the container has lost it. */
  loseAgent: (agentId: string) => harness.get('control', { path: `/agents/${encodeURIComponent(agentId)}/stop`, method: 'POST' }),
};

/** Reads a token's claims (no verification). */
export function claimsOf(token: string): Record<string, any> {
  return JSON.parse(atob(token.split('.')[1]!.replace(/-/g, '+').replace(/_/g, '/')));
}

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
