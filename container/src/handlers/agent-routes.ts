import { Hono } from 'hono';
import { RUNTIME_NAMES, isRuntimeName, type RuntimeName } from '../runtimes/index.ts';
import type { AgentService, StartRequest } from '../services/agents.ts';
import { ControlError, MAX_BODY_BYTES, readJsonObject } from './http-errors.ts';

const isString = (v: unknown): v is string => typeof v === 'string' && v.length > 0;
/** Agent and town ids name files and folders: no separators, no leading dot. */
const SAFE_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
const ROLES = new Set(['mayor', 'polecat', 'refinery']);
/** Most tokens in one batched refresh request. */
export const MAX_BATCH = 5_000;
/** A full batch of 5,000 tokens (~500 bytes each) needs more than the usual 1 MiB. */
const MAX_BATCH_BODY_BYTES = 4 * MAX_BODY_BYTES;

function parseStart(body: Record<string, unknown>): StartRequest {
  const { agentId, townId, rigId, role, token, apiUrl, command, env, containerCredential, runtime, beadId } = body;
  if (!isString(agentId) || !isString(townId) || !isString(role) || !ROLES.has(role) || !isString(token) || !isString(apiUrl)) {
    throw new ControlError('bad_request', 'agentId, townId, role (mayor|polecat|refinery), token and apiUrl are required strings');
  }
  if (!SAFE_ID.test(agentId) || !SAFE_ID.test(townId)) throw new ControlError('bad_request', 'agentId and townId must be 1-128 letters, digits, ".", "_" or "-", starting with a letter or digit');
  if (rigId !== undefined && rigId !== null && typeof rigId !== 'string') throw new ControlError('bad_request', 'rigId must be a string or null');
  if (command !== undefined && (!Array.isArray(command) || command.length === 0 || !command.every(isString))) {
    throw new ControlError('bad_request', 'command must be a non-empty argv array of strings');
  }
  if (env !== undefined && (!env || typeof env !== 'object' || Array.isArray(env) || !Object.values(env).every((v) => typeof v === 'string'))) {
    throw new ControlError('bad_request', 'env must be an object of strings');
  }
  if (containerCredential !== undefined && !isString(containerCredential)) throw new ControlError('bad_request', 'containerCredential must be a string');
  if (runtime !== undefined && runtime !== null && !isRuntimeName(runtime)) throw new ControlError('bad_request', `runtime must be one of ${RUNTIME_NAMES.join(', ')}`);
  if (beadId !== undefined && beadId !== null && !isString(beadId)) throw new ControlError('bad_request', 'beadId must be a string or null');
  if (!/^https?:\/\//.test(apiUrl)) throw new ControlError('bad_request', 'apiUrl must be an http(s) URL');
  return { agentId, townId, rigId: (rigId as string | null | undefined) ?? null, role, token, apiUrl: apiUrl.replace(/\/+$/, ''), command: command as string[] | undefined, env: env as Record<string, string> | undefined, containerCredential, runtime: (runtime ?? undefined) as RuntimeName | undefined, beadId: (beadId as string | null | undefined) ?? null };
}

/** Routes under /agents (control secret required). */
export function agentRoutes(agents: AgentService) {
  const refreshOne = (agentId: string, token: unknown) => {
    const result = agents.refresh(agentId, token);
    switch (result.status) {
      case 200:
        return { agentId, status: 200, expiresAt: new Date(result.claims.exp * 1000).toISOString() };
      case 400:
        return { agentId, status: 400, error: { code: 'bad_request', message: result.reason } };
      case 404:
        return { agentId, status: 404, error: { code: 'not_found', message: 'unknown agent' } };
      default:
        return { agentId, status: 409, error: { code: 'conflict', message: 'older than the token held' }, held: result.held };
    }
  };

  return new Hono()
    .get('/', (c) => c.json(agents.list(c.req.query('townId'))))
    .post('/start', async (c) => {
      if (agents.shuttingDown) throw new ControlError('shutting_down', 'the control server is shutting down');
      const req = parseStart(await readJsonObject(c));
      const result = agents.start(req);
      if (result.status === 400) throw new ControlError('bad_request', result.error);
      if (result.status === 503) throw new ControlError(result.code, result.error);
      return c.json({ agentId: result.agentId, pid: result.pid, status: 'running', hasCredential: agents.reminter.hasCredential(req.townId) }, result.status);
    })
    .post('/refresh-tokens', async (c) => {
      const { tokens } = await readJsonObject(c, MAX_BATCH_BODY_BYTES);
      if (!Array.isArray(tokens) || tokens.length > MAX_BATCH) throw new ControlError('bad_request', `tokens must be an array of at most ${MAX_BATCH}`);
      const results = tokens.map((entry: unknown) => {
        const { agentId, token } = (entry ?? {}) as { agentId?: unknown; token?: unknown };
        if (!isString(agentId)) return { agentId: String(agentId), status: 400, error: { code: 'bad_request', message: 'agentId required' } };
        return refreshOne(agentId, token);
      });
      return c.json({ results });
    })
    .post('/:id/refresh-token', async (c) => {
      const { token } = await readJsonObject(c);
      const { agentId, status, ...rest } = refreshOne(c.req.param('id'), token);
      return c.json(status === 200 ? { agentId, ...rest } : rest, status as 200);
    })
    .post('/:id/message', async (c) => {
      const id = c.req.param('id');
      const { text, token } = await readJsonObject(c);
      if (typeof text !== 'string') throw new ControlError('bad_request', 'text must be a string');
      if (!agents.get(id)) throw new ControlError('not_found', 'unknown agent');
      if (token !== undefined) {
        const r = agents.refresh(id, token);
        if (r.status === 400) throw new ControlError('bad_request', r.reason);
      }
      if (!agents.message(id, text)) throw new ControlError('conflict', 'agent is not running');
      return c.json({ agentId: id, delivered: true });
    })
    .post('/:id/stop', async (c) => {
      const id = c.req.param('id');
      if (!(await agents.stop(id))) throw new ControlError('not_found', 'unknown agent');
      return c.json({ agentId: id, stopped: true });
    });
}
