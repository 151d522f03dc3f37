import { SignJWT, jwtVerify, errors } from 'jose';
import { createServer, type Server } from 'node:http';
import { MAX_EVENT_BYTES } from '../../../container/src/domain/event-limits.ts';
import { normalizeEvent } from '../../../container/src/domain/event-shape.ts';

/** A real HTTP server standing in for the Worker in control-server tests: verifies HS256 agent tokens. */
export const WORKER_SECRET = 'stand-in-worker-secret-0123456789abcdef0123';
const key = new TextEncoder().encode(WORKER_SECRET);
/** The Worker's request body limit. */
export const WORKER_MAX_BODY_BYTES = 1024 * 1024;

/** Signs an agent token as the TownDO would. */
export function signAgentToken(agentId: string, townId: string, iat: number, ttlSeconds = 600, gen = 1): Promise<string> {
  return new SignJWT({ agentId, townId, userId: 'u', gen })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setSubject(agentId)
    .setIssuer('gastown')
    .setAudience('gastown-agent')
    .setIssuedAt(iat)
    .setExpirationTime(iat + ttlSeconds)
    .setJti(crypto.randomUUID())
    .sign(key);
}

/** A drop report as the Worker stored it. */
export interface StoredDrop {
  id: string;
  agentId: string;
  cause: string;
  kind: string;
  count: number;
}

/** What the stand-in saw, and the knobs a test turns. */
export interface StandInWorker {
  url: string;
  port: number;
  /** Requests by kind, with the agent of the path and of the token. */
  seen: Array<{ kind: string; pathAgent: string; tokenAgent: string | null; status: number; tokenIat?: number; tokenGen?: number }>;
  /** Unique event ids stored, and how many deliveries repeated an id already stored. */
  events: Map<string, unknown>;
  duplicateEvents: number;
  /** Events refused (by id), and the sizes of the event batches it answered. */
  refusedEvents: Set<string>;
  batches: Array<{ count: number; bytes: number; status: number }>;
  remints: number;
  /** While true every request is answered 503. */
  down: boolean;
  /** Tokens issued before this (seconds) are refused as expired. */
  minIat: number;
  /** The credential the re-mint and drops routes accept. */
  credential: string;
  /** Agents that ended for good: their tokens get 401 token_revoked with agentEnded true. */
  revoked: Set<string>;
  /** Agents restarted by the TownDO: tokens of an older generation get 401 token_revoked, agentEnded false. */
  currentGen: Map<string, number>;
  /** Bodies above this many bytes get 413. */
  maxBodyBytes: number;
  /**
   * Events (as sent) this returns true for are refused too (one result each), beyond what
   * the real Worker refuses (not an object, no id of 1-200 chars, over MAX_EVENT_BYTES); by
   * default none. A wrong `type` is kept as `output` (`originalType`), as the Worker keeps it.
   */
  refuseEvent: (event: Record<string, unknown>) => boolean;
  /** Status the review-complete route answers (200 by default). */
  reviewStatus: number;
  /** Mail per agent, handed out by gt_mail_check until acknowledged (`ack`). */
  mailbox: Map<string, Array<Record<string, unknown>>>;
  /** Drop reports stored by id, how many repeated an id already stored, and the requests. */
  drops: Map<string, StoredDrop>;
  duplicateDrops: number;
  dropRequests: Array<{ status: number; reports: number }>;
  /** Bodies of accepted non-event requests (tools, completed, review-complete, heartbeat), in order. */
  calls: Array<{ kind: string; pathAgent: string; body: Record<string, unknown> }>;
  townId: string;
  /** Drops stored, summed by `kind/cause` (e.g. `event/overflow`). */
  dropTotals(): Record<string, number>;
  close(): Promise<void>;
}

export async function startStandInWorker(townId = 'town-test'): Promise<StandInWorker> {
  const state: Omit<StandInWorker, 'url' | 'port' | 'close' | 'dropTotals'> = {
    seen: [], events: new Map(), duplicateEvents: 0, refusedEvents: new Set(), batches: [], remints: 0, down: false, minIat: 0,
    credential: 'container-credential', townId, revoked: new Set(), currentGen: new Map(), maxBodyBytes: WORKER_MAX_BODY_BYTES,
    refuseEvent: () => false, reviewStatus: 200, mailbox: new Map(), drops: new Map(), duplicateDrops: 0, dropRequests: [], calls: [],
  };
  const server: Server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const raw = Buffer.concat(chunks);
    const send = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    if (state.down) return send(503, { error: { code: 'unavailable', message: 'down' } });
    if (raw.length > state.maxBodyBytes) {
      if (req.url?.endsWith('/events')) state.batches.push({ count: JSON.parse(raw.toString('utf8')).events.length, bytes: raw.length, status: 413 });
      return send(413, { error: { code: 'too_large', message: 'body too large' } });
    }
    const bearer = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1] ?? '';
    const body = raw.length ? JSON.parse(raw.toString('utf8')) : {};
    const drops = /^\/api\/towns\/([^/]+)\/container\/drops$/.exec(req.url ?? '');
    if (drops) {
      if (bearer !== state.credential) {
        state.dropRequests.push({ status: 401, reports: body.reports?.length ?? 0 });
        return send(401, { error: { code: 'unauthorized', message: 'bad credential' } });
      }
      let accepted = 0;
      for (const r of body.reports as StoredDrop[]) {
        if (state.drops.has(r.id)) state.duplicateDrops++;
        else {
          state.drops.set(r.id, r);
          accepted++;
        }
      }
      state.dropRequests.push({ status: 200, reports: body.reports.length });
      return send(200, { accepted, duplicates: body.reports.length - accepted });
    }
    const m = /^\/api\/towns\/([^/]+)\/agents\/([^/]+)\/(.+)$/.exec(req.url ?? '');
    if (!m) return send(404, { error: { code: 'not_found', message: 'no route' } });
    const [, pathTown, pathAgent, rest] = m;
    const kind = rest!.startsWith('tools/') ? 'tool' : rest!;
    if (kind === 'token') {
      if (bearer !== state.credential) return send(401, { error: { code: 'unauthorized', message: 'bad credential' } });
      state.remints++;
      const iat = Math.max(Math.floor(Date.now() / 1000), state.minIat);
      return send(200, { token: await signAgentToken(pathAgent!, pathTown!, iat, 600, state.currentGen.get(pathAgent!) ?? 1), expiresAt: new Date((iat + 600) * 1000).toISOString() });
    }
    let tokenAgent: string | null = null;
    let tokenIat: number | undefined;
    let tokenGen: number | undefined;
    let status = 200;
    try {
      const { payload } = await jwtVerify(bearer, key, { algorithms: ['HS256'], issuer: 'gastown', audience: 'gastown-agent' });
      tokenAgent = payload.agentId as string;
      tokenIat = payload.iat;
      tokenGen = payload.gen as number;
      if (state.revoked.has(tokenAgent)) throw new Error('ended');
      if ((tokenGen ?? 0) < (state.currentGen.get(tokenAgent) ?? 0)) throw new Error('superseded');
      if ((payload.iat ?? 0) < state.minIat) throw new errors.JWTExpired('expired', payload);
      if (tokenAgent !== pathAgent || payload.townId !== pathTown) status = 403;
    } catch (err) {
      state.seen.push({ kind, pathAgent: pathAgent!, tokenAgent, status: 401, tokenIat, tokenGen });
      const why = (err as Error).message;
      if (why === 'ended' || why === 'superseded') return send(401, { error: { code: 'token_revoked', message: 'no', agentEnded: why === 'ended' } });
      return send(401, { error: { code: err instanceof errors.JWTExpired ? 'token_expired' : 'token_invalid', message: 'no' } });
    }
    state.seen.push({ kind, pathAgent: pathAgent!, tokenAgent, status, tokenIat, tokenGen });
    if (status === 403) return send(403, { error: { code: 'forbidden', message: 'other agent' } });
    if (kind === 'events') {
      const results: Array<{ id: string | null; status: string; error?: { code: string; message: string } }> = [];
      for (const raw of body.events as unknown[]) {
        const e = normalizeEvent(raw);
        const refused = 'refused' in e ? e.refused : state.refuseEvent(raw as Record<string, unknown>) ? { code: 'bad_event', message: 'refused' } : null;
        if (refused) {
          if (e.id !== null) state.refusedEvents.add(e.id);
          results.push({ id: e.id, status: 'refused', error: refused });
        } else if (state.events.has(e.id!)) {
          state.duplicateEvents++;
          results.push({ id: e.id, status: 'duplicate' });
        } else {
          state.events.set(e.id!, (e as { value: Record<string, unknown> }).value);
          results.push({ id: e.id, status: 'stored' });
        }
      }
      state.batches.push({ count: body.events.length, bytes: raw.length, status: 200 });
      const count = (s: string) => results.filter((r) => r.status === s).length;
      return send(200, { results, accepted: count('stored'), duplicates: count('duplicate'), refused: count('refused') });
    }
    if (kind === 'review-complete' && state.reviewStatus !== 200) return send(state.reviewStatus, { error: { code: 'conflict', message: 'bead not in review' } });
    state.calls.push({ kind: kind === 'tool' ? rest! : kind, pathAgent: pathAgent!, body });
    if (kind === 'tool') return send(200, answerTool(state, pathAgent!, rest!.slice('tools/'.length), body));
    return send(200, { ok: true });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  return Object.assign(state, {
    url: `http://127.0.0.1:${port}`,
    port,
    dropTotals() {
      const totals: Record<string, number> = {};
      for (const d of state.drops.values()) totals[`${d.kind}/${d.cause}`] = (totals[`${d.kind}/${d.cause}`] ?? 0) + d.count;
      return totals;
    },
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
      // mail is delivered again until acknowledged
      const acked = new Set(Array.isArray(args.ack) ? (args.ack as string[]) : []);
      const mail = (state.mailbox.get(agentId) ?? []).filter((m) => !acked.has(m.id as string));
      if (mail.length > 0) state.mailbox.set(agentId, mail);
      else state.mailbox.delete(agentId);
      return { ok: true, mail };
    }
    default:
      return { ok: true, agent, bead: null };
  }
}
