import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';

/**
 * A real HTTP server standing in for the container control server in workers tests
 * (containers cannot run under the test pool). It speaks the contract's control API,
 * keeps one token per agent with the contract's newer-only rule, records every request
 * in order, and can be told to fail pushes for a town.
 */
interface HeldAgent {
  townId: string;
  role: string;
  token: string;
  iat: number;
  exp: number;
}

interface Logged {
  seq: number;
  path: string;
  townId: string | null;
  agentIds: string[];
  status: number;
  tokens: Array<{ agentId: string; jti: string; iat: number; exp: number }>;
  text?: string;
  hasCredential?: boolean;
}

export interface StandIn {
  server: Server;
  port: number;
  close(): Promise<void>;
}

function decode(token: string): Record<string, unknown> | null {
  try {
    return JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString('utf8'));
  } catch {
    return null;
  }
}

export async function startStandIn(secret: string): Promise<StandIn> {
  const agents = new Map<string, HeldAgent>();
  const credentials = new Map<string, string>();
  const log: Logged[] = [];
  const failPushes = new Map<string, number>();
  const downTowns = new Set<string>();
  let batchRoute = true;
  let seq = 0;

  const hold = (agentId: string, token: string, townId?: string): { status: number; expiresAt?: string } => {
    const claims = decode(token);
    const held = agents.get(agentId);
    if (!held) return { status: 404 };
    if (!claims || claims.agentId !== agentId || claims.townId !== (townId ?? held.townId)) return { status: 400 };
    const iat = Number(claims.iat);
    const exp = Number(claims.exp);
    if (token !== held.token && !(iat > held.iat || (iat === held.iat && exp > held.exp))) return { status: 409 };
    Object.assign(held, { token, iat, exp });
    return { status: 200, expiresAt: new Date(exp * 1000).toISOString() };
  };
  const shouldFail = (townId: string | null) => {
    if (!townId) return false;
    if (downTowns.has(townId)) return true;
    const n = failPushes.get(townId) ?? 0;
    if (n <= 0) return false;
    failPushes.set(townId, n - 1);
    return true;
  };

  const handle = async (req: IncomingMessage, res: ServerResponse, body: any) => {
    const url = new URL(req.url ?? '/', 'http://stand-in');
    const path = url.pathname;
    const send = (status: number, payload: unknown, entry?: Omit<Logged, 'seq' | 'path' | 'status'>) => {
      if (entry) log.push({ seq: ++seq, path, status, ...entry });
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(payload));
    };
    if (path.startsWith('/__test/')) {
      const townId = url.searchParams.get('townId');
      if (path === '/__test/log') return send(200, log.filter((l) => l.townId === townId));
      if (path === '/__test/fail-pushes') {
        failPushes.set(townId!, Number(url.searchParams.get('count') ?? 1));
        return send(200, { ok: true });
      }
      if (path === '/__test/down') {
        if (url.searchParams.get('down') === '1') downTowns.add(townId!);
        else downTowns.delete(townId!);
        return send(200, { ok: true });
      }
      if (path === '/__test/forget') {
        for (const [id, a] of agents) if (a.townId === townId) agents.delete(id);
        return send(200, { ok: true });
      }
      if (path === '/__test/batch-route') {
        batchRoute = url.searchParams.get('on') !== '0';
        return send(200, { ok: true });
      }
      if (path === '/__test/counts') return send(200, { requests: seq });
      if (path === '/__test/age') {
        const seconds = Number(url.searchParams.get('seconds') ?? 60);
        for (const a of agents.values()) if (a.townId === townId) Object.assign(a, { iat: a.iat - seconds, exp: a.exp - seconds });
        return send(200, { ok: true });
      }
      if (path === '/__test/credential') return send(200, { credential: credentials.get(townId!) ?? null });
      if (path === '/__test/agents') {
        return send(200, [...agents].filter(([, a]) => a.townId === townId).map(([id, a]) => ({ agentId: id, role: a.role, iat: a.iat, exp: a.exp, token: a.token })));
      }
    }
    if (path === '/health') return send(200, { ok: true });
    if (req.headers.authorization !== `Bearer ${secret}`) return send(401, { error: { code: 'unauthorized', message: 'control secret required' } });

    const tokenInfo = (agentId: string, token: string) => {
      const c = decode(token) ?? {};
      return { agentId, jti: String(c.jti), iat: Number(c.iat), exp: Number(c.exp) };
    };
    if (path === '/agents/start') {
      const townId = body.townId as string;
      if (shouldFail(townId)) return send(503, { error: { code: 'unavailable', message: 'injected' } }, { townId, agentIds: [body.agentId], tokens: [] });
      if (body.containerCredential) credentials.set(townId, body.containerCredential);
      const claims = decode(body.token) ?? {};
      agents.set(body.agentId, { townId, role: body.role, token: body.token, iat: Number(claims.iat), exp: Number(claims.exp) });
      return send(201, { agentId: body.agentId, pid: 1, status: 'running' }, {
        townId, agentIds: [body.agentId], tokens: [tokenInfo(body.agentId, body.token)], hasCredential: Boolean(body.containerCredential),
      });
    }
    if (path === '/agents/refresh-tokens' && !batchRoute) {
      return send(404, { error: { code: 'not_found', message: 'no batch route' } }, { townId: null, agentIds: [], tokens: [] });
    }
    if (path === '/agents/refresh-tokens') {
      const entries = body.tokens as Array<{ agentId: string; token: string }>;
      const townId = (agents.get(entries[0]?.agentId ?? '')?.townId ?? decode(entries[0]?.token ?? '')?.townId ?? null) as string | null;
      if (shouldFail(townId)) return send(503, { error: { code: 'unavailable', message: 'injected' } }, { townId, agentIds: entries.map((e) => e.agentId), tokens: [] });
      const results = entries.map((e) => ({ agentId: e.agentId, ...hold(e.agentId, e.token) }));
      return send(200, { results }, { townId, agentIds: entries.map((e) => e.agentId), tokens: entries.map((e) => tokenInfo(e.agentId, e.token)) });
    }
    const m = /^\/agents\/([^/]+)\/(refresh-token|message|stop)$/.exec(path);
    if (m) {
      const agentId = decodeURIComponent(m[1]!);
      const held = agents.get(agentId);
      const townId = held?.townId ?? ((decode(body.token ?? '')?.townId as string | undefined) ?? null);
      if (m[2] === 'refresh-token') {
        if (shouldFail(townId)) return send(503, { error: { code: 'unavailable', message: 'injected' } }, { townId, agentIds: [agentId], tokens: [] });
        const r = hold(agentId, body.token);
        return send(r.status, r.status === 200 ? { agentId, expiresAt: r.expiresAt } : { error: { code: String(r.status), message: 'refused' } }, {
          townId, agentIds: [agentId], tokens: [tokenInfo(agentId, body.token)],
        });
      }
      if (!held) return send(404, { error: { code: 'not_found', message: 'unknown agent' } }, { townId, agentIds: [agentId], tokens: [] });
      if (m[2] === 'message') {
        return send(200, { agentId, delivered: true }, { townId, agentIds: [agentId], tokens: [], text: body.text });
      }
      agents.delete(agentId);
      return send(200, { agentId, stopped: true }, { townId, agentIds: [agentId], tokens: [] });
    }
    return send(404, { error: { code: 'not_found', message: 'no route' } });
  };

  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      let body: any = {};
      try {
        body = chunks.length ? JSON.parse(Buffer.concat(chunks).toString('utf8')) : {};
      } catch {
        res.writeHead(400).end();
        return;
      }
      handle(req, res, body).catch((err) => {
        res.writeHead(500).end(String(err));
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  return { server, port, close: () => new Promise((resolve) => server.close(() => resolve())) };
}
