import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SignJWT } from 'jose';

/**
 * A small real HTTP server speaking the user API the way the contract describes it, for
 * the CLI's argument, exit-code, --json and config tests. Tokens are HS256 JWTs with a key
 * of its own; the ones in `revoked` are refused with 401.
 */
export async function startFakeWorker(options: { clients: Record<string, string>; tokenTtlSeconds?: number }) {
  const key = randomBytes(32);
  const now = () => Date.now();
  const iso = (ms: number) => new Date(ms).toISOString();
  const state = {
    tokenRequests: [] as string[],
    issued: [] as string[],
    revoked: new Set<string>(),
    requests: [] as string[],
    towns: [] as Array<{ id: string; name: string; createdAt: string }>,
    agents: [] as Array<Record<string, unknown>>,
    messages: [] as Array<{ id: number; from: 'user' | 'mayor'; text: string; at: string }>,
    mayorReplies: true,
    events: [] as Array<{ id: number; type: string; data: unknown }>,
    settings: { runtime: 'builtin', agentEnvNames: [] as string[] },
    lastSettingsBody: null as unknown,
    streams: 0,
  };
  const held = new Set<ServerResponse>();

  const send = (res: ServerResponse, status: number, body: unknown) => res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
  const fail = (res: ServerResponse, status: number, code: string, message: string) => send(res, status, { error: { code, message } });
  const readBody = async (req: IncomingMessage) => {
    let text = '';
    for await (const chunk of req) text += chunk;
    return text;
  };

  async function handle(req: IncomingMessage, res: ServerResponse) {
    const url = new URL(req.url ?? '/', 'http://x');
    const path = url.pathname;
    state.requests.push(`${req.method} ${path}`);
    if (req.method === 'POST' && path === '/api/auth/token') {
      const form = new URLSearchParams(await readBody(req));
      const id = form.get('client_id') ?? '';
      state.tokenRequests.push(id);
      if (options.clients[id] === undefined || options.clients[id] !== form.get('client_secret')) return fail(res, 401, 'unauthorized', 'invalid client credentials');
      const ttl = options.tokenTtlSeconds ?? 3600;
      const token = await new SignJWT({}).setProtectedHeader({ alg: 'HS256', typ: 'JWT', kid: 'k1' }).setSubject(id).setIssuer('gastown').setAudience('gastown-user')
        .setIssuedAt().setExpirationTime(`${ttl}s`).setJti(`jti-${state.issued.length + 1}`).sign(key);
      state.issued.push(token);
      return send(res, 200, { access_token: token, token_type: 'Bearer', expires_in: ttl });
    }
    const bearer = (req.headers.authorization ?? '').replace(/^Bearer /, '');
    if (!state.issued.includes(bearer)) return fail(res, 401, 'token_invalid', 'missing or unknown token');
    if (state.revoked.has(bearer)) return fail(res, 401, 'token_expired', 'access token expired');
    const body = req.method === 'GET' ? {} : (JSON.parse((await readBody(req)) || '{}') as Record<string, any>);

    if (path === '/api/towns' && req.method === 'GET') return send(res, 200, { towns: state.towns });
    if (path === '/api/towns' && req.method === 'POST') {
      if (!body.name) return fail(res, 400, 'bad_request', 'name is required');
      const town = { id: `town-${state.towns.length + 1}`, name: body.name, createdAt: iso(now()) };
      state.towns.push(town);
      return send(res, 201, { id: town.id, name: town.name });
    }
    const m = /^\/api\/towns\/([^/]+)(\/.*)?$/.exec(path);
    const town = m && state.towns.find((t) => t.id === m[1]);
    if (!m || !town) return fail(res, 404, 'not_found', `town ${m?.[1]} not found`);
    const rest = m[2] ?? '';
    if (rest === '' && req.method === 'GET') return send(res, 200, { ...town, rigs: [{ id: 'rig-1', name: 'main' }], agents: state.agents, beads: [] });
    if (rest === '/rigs' && req.method === 'POST') return send(res, 201, { id: 'rig-2', name: body.name, ...(body.gitUrl ? { gitUrl: body.gitUrl } : {}) });
    let a = /^\/rigs\/([^/]+)\/agents$/.exec(rest);
    if (a && req.method === 'POST') return send(res, 201, { id: 'agent-new', role: body.role, status: 'starting', echo: body });
    a = /^\/agents\/([^/]+)\/(stop|events)$/.exec(rest);
    if (a) {
      const agent = state.agents.find((x) => x.id === a![1]);
      if (!agent) return fail(res, 404, 'not_found', `agent ${a[1]} not found`);
      if (a[2] === 'stop') return send(res, 200, { id: agent.id, role: agent.role, status: 'stopped' });
      const events = [
        { id: 'e2', type: 'reply', text: 'second', storedAt: iso(now()) },
        { id: 'e1', type: 'output', text: 'first', storedAt: iso(now() - 1000) },
      ];
      return send(res, 200, { agentId: agent.id, events: events.slice(0, Number(url.searchParams.get('limit') ?? 100)) });
    }
    if (rest === '/settings' && req.method === 'GET') return send(res, 200, state.settings);
    if (rest === '/settings' && req.method === 'PUT') {
      state.lastSettingsBody = body;
      if (body.runtime) state.settings.runtime = body.runtime;
      for (const [name, value] of Object.entries(body.agentEnv ?? {})) {
        state.settings.agentEnvNames = state.settings.agentEnvNames.filter((n) => n !== name);
        if (value !== null) state.settings.agentEnvNames.push(name);
      }
      return send(res, 200, state.settings);
    }
    if (rest === '/mayor/messages' && req.method === 'POST') {
      const id = state.messages.length + 1;
      state.messages.push({ id, from: 'user', text: body.text, at: iso(now()) });
      if (state.mayorReplies) setTimeout(() => state.messages.push({ id: state.messages.length + 1, from: 'mayor', text: `on it: ${body.text}`, at: iso(now()) }), 300);
      return send(res, 200, { agentId: 'mayor-1', delivered: true, tokenExpiresAt: iso(now() + 3_600_000), messageId: id });
    }
    if (rest === '/mayor/messages' && req.method === 'GET') {
      const after = Number(url.searchParams.get('after') ?? 0);
      return send(res, 200, { messages: state.messages.filter((x) => x.id > after) });
    }
    if (rest === '/refresh-tokens' && req.method === 'POST') {
      const results = state.agents.map((x) => ({ agentId: x.id, result: 'refreshed', status: 200, tokenExpiresAt: iso(now() + 28_800_000) }));
      return send(res, 200, { refreshed: results.length, failed: 0, restarted: 0, subrequests: 1, results });
    }
    if (rest === '/events' && req.method === 'GET') {
      const after = Number(req.headers['last-event-id'] ?? 0);
      state.streams++;
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      held.add(res);
      res.on('close', () => held.delete(res));
      for (const e of state.events.filter((x) => x.id > after)) res.write(`id: ${e.id}\nevent: ${e.type}\ndata: ${JSON.stringify(e.data)}\n\n`);
      return;
    }
    return fail(res, 404, 'not_found', `no route ${req.method} ${path}`);
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => fail(res, 500, 'internal', String(err)));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    state,
    /** Appends an event and sends it to open streams. */
    publish(type: string, data: unknown) {
      const event = { id: state.events.length + 1, type, data };
      state.events.push(event);
      for (const res of held) res.write(`id: ${event.id}\nevent: ${type}\ndata: ${JSON.stringify(data)}\n\n`);
    },
    /** Ends every open stream (as a restarting Worker would). */
    endStreams() {
      for (const res of held) {
        held.delete(res);
        res.end();
      }
    },
    async close() {
      for (const res of held) res.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
