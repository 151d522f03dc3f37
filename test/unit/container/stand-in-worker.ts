import { SignJWT, jwtVerify, errors } from 'jose';
import { createServer, type Server } from 'node:http';

/** A real HTTP server standing in for the Worker in control-server tests: verifies HS256 agent tokens. */
export const WORKER_SECRET = 'stand-in-worker-secret-0123456789abcdef0123';
const key = new TextEncoder().encode(WORKER_SECRET);

/** Signs an agent token as the TownDO would. */
export function signAgentToken(agentId: string, townId: string, iat: number, ttlSeconds = 600): Promise<string> {
  return new SignJWT({ agentId, townId, userId: 'u', gen: 1 })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setSubject(agentId)
    .setIssuer('gastown')
    .setAudience('gastown-agent')
    .setIssuedAt(iat)
    .setExpirationTime(iat + ttlSeconds)
    .setJti(crypto.randomUUID())
    .sign(key);
}

/** What the stand-in saw. */
export interface StandInWorker {
  url: string;
  port: number;
  /** Requests by kind, with the agent of the path and of the token. */
  seen: Array<{ kind: string; pathAgent: string; tokenAgent: string | null; status: number; tokenIat?: number }>;
  /** Unique event ids stored, and how many deliveries repeated an id already stored. */
  events: Map<string, unknown>;
  duplicateEvents: number;
  remints: number;
  /** While true every request is answered 503. */
  down: boolean;
  /** Tokens issued before this (seconds) are refused as expired. */
  minIat: number;
  /** The credential the re-mint route accepts. */
  credential: string;
  /** Agents whose tokens are answered 401 token_revoked. */
  revoked: Set<string>;
  /** Mail waiting per agent, handed out (and cleared) by gt_mail_check. */
  mailbox: Map<string, Array<Record<string, unknown>>>;
  /** Bodies of accepted non-event requests (tools, completed, review-complete, heartbeat), in order. */
  calls: Array<{ kind: string; pathAgent: string; body: Record<string, unknown> }>;
  townId: string;
  close(): Promise<void>;
}

export async function startStandInWorker(townId = 'town-test'): Promise<StandInWorker> {
  const state: Omit<StandInWorker, 'url' | 'port' | 'close'> = {
    seen: [], events: new Map(), duplicateEvents: 0, remints: 0, down: false, minIat: 0, credential: 'container-credential', townId,
    revoked: new Set(), mailbox: new Map(), calls: [],
  };
  const server: Server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const send = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    const m = /^\/api\/towns\/([^/]+)\/agents\/([^/]+)\/(.+)$/.exec(req.url ?? '');
    if (!m) return send(404, { error: { code: 'not_found', message: 'no route' } });
    const [, pathTown, pathAgent, rest] = m;
    const kind = rest!.startsWith('tools/') ? 'tool' : rest!;
    if (state.down) return send(503, { error: { code: 'unavailable', message: 'down' } });
    const bearer = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1] ?? '';
    const body = chunks.length ? JSON.parse(Buffer.concat(chunks).toString('utf8')) : {};
    if (kind === 'token') {
      if (bearer !== state.credential) return send(401, { error: { code: 'unauthorized', message: 'bad credential' } });
      state.remints++;
      const iat = Math.max(Math.floor(Date.now() / 1000), state.minIat);
      return send(200, { token: await signAgentToken(pathAgent!, pathTown!, iat), expiresAt: new Date((iat + 600) * 1000).toISOString() });
    }
    let tokenAgent: string | null = null;
    let tokenIat: number | undefined;
    let status = 200;
    try {
      const { payload } = await jwtVerify(bearer, key, { algorithms: ['HS256'], issuer: 'gastown', audience: 'gastown-agent' });
      tokenAgent = payload.agentId as string;
      tokenIat = payload.iat;
      if (state.revoked.has(tokenAgent)) throw new Error('revoked');
      if ((payload.iat ?? 0) < state.minIat) throw new errors.JWTExpired('expired', payload);
      if (tokenAgent !== pathAgent || payload.townId !== pathTown) status = 403;
    } catch (err) {
      state.seen.push({ kind, pathAgent: pathAgent!, tokenAgent, status: 401 });
      const code = err instanceof errors.JWTExpired ? 'token_expired' : (err as Error).message === 'revoked' ? 'token_revoked' : 'token_invalid';
      return send(401, { error: { code, message: 'no' } });
    }
    state.seen.push({ kind, pathAgent: pathAgent!, tokenAgent, status, tokenIat });
    if (status === 403) return send(403, { error: { code: 'forbidden', message: 'other agent' } });
    if (kind === 'events') {
      let accepted = 0;
      for (const e of body.events as Array<{ id: string }>) {
        if (state.events.has(e.id)) state.duplicateEvents++;
        else {
          state.events.set(e.id, e);
          accepted++;
        }
      }
      return send(200, { accepted, duplicates: body.events.length - accepted });
    }
    state.calls.push({ kind: kind === 'tool' ? rest! : kind, pathAgent: pathAgent!, body });
    if (kind === 'tool') return send(200, answerTool(state, pathAgent!, rest!.slice('tools/'.length), body));
    return send(200, { ok: true });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  return Object.assign(state, {
    url: `http://127.0.0.1:${port}`,
    port,
    close: () => new Promise<void>((r) => {
      server.closeAllConnections();
      server.close(() => r());
    }),
  }) as StandInWorker;
}

/** Answers a tool call the way the Worker shapes its results (enough for the built-in agent). */
function answerTool(state: Pick<StandInWorker, 'mailbox' | 'calls'>, agentId: string, tool: string, args: Record<string, unknown>): Record<string, unknown> {
  const agent = { id: agentId, role: 'polecat', rigId: 'rig-1', beadId: null, status: 'working' };
  switch (tool) {
    case 'gt_prime':
      return { ok: true, agent, bead: { id: 'bead-primed', title: 'primed work', status: 'assigned' }, town: { id: 'town', name: 'test' } };
    case 'gt_bead_create':
      return { ok: true, bead: { id: `bead-${state.calls.length}`, title: args.title, status: 'open' } };
    case 'gt_sling':
      return { ok: true, bead: { id: args.beadId, status: 'assigned' }, agentId: `polecat-for-${String(args.beadId)}` };
    case 'gt_mail_check': {
      const mail = state.mailbox.get(agentId) ?? [];
      state.mailbox.delete(agentId);
      return { ok: true, mail };
    }
    default:
      return { ok: true, agent, bead: null };
  }
}
