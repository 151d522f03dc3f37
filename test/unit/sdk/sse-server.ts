import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** What the server does with one events connection (consumed in order; the last repeats). */
export interface ConnectionPlan {
  /** Answer with this status and an error body instead of a stream. */
  status?: number;
  retryAfter?: string;
  /** Send the events after this id instead of after Last-Event-ID (a server replaying too much). */
  replayFrom?: number;
  /** How many events to send before ending (default: all retained). */
  count?: number;
  /**
   * After sending: `end` the response, end it in the middle of the next event's frame
   * (`end-mid-frame`, as a server ending a stream at a deadline may), `hold` it open, go
   * `silent` (no keep-alive), or `destroy` the socket.
   */
  then?: 'end' | 'end-mid-frame' | 'hold' | 'silent' | 'destroy';
}

export interface SeenConnection {
  token: string;
  lastEventId: string | null;
  status: number;
}

/**
 * A real HTTP server standing in for the Worker's token endpoint and one town's SSE route,
 * with events 1..`latest` of which it retains `oldest`..`latest`. Tokens t1, t2, ... are
 * refused (401) once put in `expired`.
 */
export async function startSseServer() {
  const state = {
    latest: 0,
    oldest: 1,
    plans: [] as ConnectionPlan[],
    expired: new Set<string>(),
    tokenRequests: 0,
    connections: [] as SeenConnection[],
    open: 0,
    closed: 0,
  };
  const held = new Set<ServerResponse>();
  const server = createServer((req, res) => void handle(req, res));

  async function handle(req: IncomingMessage, res: ServerResponse) {
    const url = new URL(req.url ?? '/', 'http://x');
    if (req.method === 'POST' && url.pathname === '/api/auth/token') {
      for await (const _ of req) void _;
      state.tokenRequests++;
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ access_token: `t${state.tokenRequests}`, token_type: 'Bearer', expires_in: 3600 }));
      return;
    }
    const token = (req.headers.authorization ?? '').replace(/^Bearer /, '');
    const lastEventId = (req.headers['last-event-id'] as string | undefined) ?? null;
    const seen: SeenConnection = { token, lastEventId, status: 200 };
    state.connections.push(seen);
    const error = (status: number, code: string, headers: Record<string, string> = {}) => {
      seen.status = status;
      res.writeHead(status, { 'content-type': 'application/json', ...headers }).end(JSON.stringify({ error: { code, message: `${code} (${status})` } }));
    };
    if (!/^\/api\/towns\/[^/]+\/events$/.test(url.pathname)) return error(404, 'not_found');
    if (state.expired.has(token)) return error(401, 'token_expired', { 'www-authenticate': 'Bearer error="invalid_token"' });
    const plan = (state.plans.length > 1 ? state.plans.shift() : state.plans[0]) ?? {};
    if (plan.status) return error(plan.status, plan.status === 429 ? 'rate_limited' : 'unavailable', plan.retryAfter ? { 'retry-after': plan.retryAfter } : {});

    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
    state.open++;
    held.add(res);
    res.on('close', () => {
      state.open--;
      state.closed++;
      held.delete(res);
    });
    res.write('retry: 2000\n\n');
    const after = plan.replayFrom ?? (lastEventId === null ? 0 : Number(lastEventId));
    let from = after + 1;
    if (lastEventId !== null && after + 1 < state.oldest) {
      res.write(`event: gap\ndata: ${JSON.stringify({ after, oldest: state.oldest })}\n\n`);
    }
    from = Math.max(from, state.oldest);
    const last = Math.min(state.latest, from + (plan.count ?? Number.MAX_SAFE_INTEGER) - 1);
    for (let id = from; id <= last; id++) res.write(`id: ${id}\nevent: test.event\ndata: ${JSON.stringify({ n: id })}\n\n`);
    const then = plan.then ?? 'end';
    if (then === 'end') res.end();
    else if (then === 'end-mid-frame') res.end(`id: ${last + 1}\nevent: test.event\nda`);
    else if (then === 'destroy') res.write(': about to break\n\n', () => res.socket?.destroy());
    else if (then === 'hold') res.write(': keep-alive\n\n');
  }

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    state,
    /** Appends `n` events and sends them to every held connection. */
    publish(n: number) {
      for (let i = 0; i < n; i++) {
        state.latest++;
        for (const res of held) res.write(`id: ${state.latest}\nevent: test.event\ndata: ${JSON.stringify({ n: state.latest })}\n\n`);
      }
    },
    async close() {
      for (const res of held) res.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
