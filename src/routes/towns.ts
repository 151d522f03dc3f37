import { Hono } from 'hono';
import type { AppEnv } from '../app-env';
import { readConfig } from '../domain/config';
import { AppError, unwrap } from '../errors';
import { jsonBody } from '../middleware/body';
import { endStreamAfter } from '../services/event-hub';
import { userAuth } from '../middleware/user-auth';
import { CreateRigBody, CreateTownBody, DispatchAgentBody, MayorMessageBody, SettingsBody, pageQuery } from './schemas';
import { newTownId, townStub, userCall } from './town-stub';

const STATUS_FILTER = /^[a-z]{1,20}$/;

function statusFilter(value: string | undefined): string | undefined {
  if (value !== undefined && !STATUS_FILTER.test(value)) throw new AppError('bad_request', 'status must be a status word');
  return value;
}

/** User-facing routes under `/api/towns`. */
export const townRoutes = new Hono<AppEnv>()
  .use(userAuth())
  .get('/', async (c) => {
    const { after, limit } = pageQuery(c.req.query(), 500, 100);
    return c.json(await c.env.DIRECTORY.getByName(c.get('userId')).listTowns({ after, limit }));
  })
  .post('/', async (c) => {
    const { name } = await jsonBody(c, CreateTownBody);
    const id = newTownId();
    const directory = c.env.DIRECTORY.getByName(c.get('userId'));
    unwrap(await directory.addTown({ id, name, createdAt: Date.now() }, readConfig(c.env).quotas.townsPerUser));
    const created = await c.env.TOWN.getByName(id).createTown({ id, name, ...userCall(c) });
    if (!created.ok) await directory.removeTown(id);
    return c.json(unwrap(created), 201);
  })
  .get('/:townId', async (c) => c.json(unwrap(await townStub(c).getTown(userCall(c)))))
  .get('/:townId/agents', async (c) => {
    const page = { ...pageQuery(c.req.query(), 500, 100), status: statusFilter(c.req.query('status')) };
    return c.json(unwrap(await townStub(c).listAgents(userCall(c), page)));
  })
  .get('/:townId/beads', async (c) => {
    const page = { ...pageQuery(c.req.query(), 500, 100), status: statusFilter(c.req.query('status')) };
    return c.json(unwrap(await townStub(c).listBeads(userCall(c), page)));
  })
  .post('/:townId/rigs', async (c) => {
    const body = await jsonBody(c, CreateRigBody);
    return c.json(unwrap(await townStub(c).createRig(userCall(c), body)), 201);
  })
  .post('/:townId/rigs/:rigId/agents', async (c) => {
    const body = await jsonBody(c, DispatchAgentBody);
    const agent = unwrap(await townStub(c).dispatchAgent(userCall(c), { rigId: c.req.param('rigId'), ...body }));
    return c.json(agent, 201);
  })
  .get('/:townId/settings', async (c) => c.json(unwrap(await townStub(c).getSettings(userCall(c)))))
  .put('/:townId/settings', async (c) => {
    const body = await jsonBody(c, SettingsBody);
    return c.json(unwrap(await townStub(c).putSettings(userCall(c), body)));
  })
  .post('/:townId/mayor/messages', async (c) => {
    const { text } = await jsonBody(c, MayorMessageBody);
    return c.json(unwrap(await townStub(c).sendMayorMessage(userCall(c), text)));
  })
  .get('/:townId/mayor/messages', async (c) => {
    const after = Number(c.req.query('after') ?? 0);
    if (!Number.isInteger(after) || after < 0) throw new AppError('bad_request', 'after must be a message id');
    const { limit } = pageQuery({ limit: c.req.query('limit') }, 500, 100);
    return c.json(unwrap(await townStub(c).listMayorMessages(userCall(c), { after, limit })));
  })
  .post('/:townId/agents/:agentId/stop', async (c) => c.json(unwrap(await townStub(c).stopAgent(userCall(c), c.req.param('agentId')))))
  .get('/:townId/agents/:agentId/events', async (c) => {
    const { limit } = pageQuery({ limit: c.req.query('limit') }, 1_000, 100);
    return c.json(unwrap(await townStub(c).agentEvents(userCall(c), c.req.param('agentId'), limit)));
  })
  .get('/:townId/token-history', async (c) => {
    const hours = Number(c.req.query('hours') ?? 6);
    if (!(hours > 0 && hours <= 168)) throw new AppError('bad_request', 'hours must be from 0 to 168');
    const { limit } = pageQuery({ limit: c.req.query('limit') }, 5_000, 2_000);
    return c.json(unwrap(await townStub(c).tokenHistory(userCall(c), Date.now() - hours * 3_600_000, limit)));
  })
  .get('/:townId/mail', async (c) => {
    const { limit } = pageQuery({ limit: c.req.query('limit') }, 500, 100);
    return c.json(unwrap(await townStub(c).listMail(userCall(c), limit)));
  })
  .post('/:townId/refresh-tokens', async (c) => c.json(unwrap(await townStub(c).refreshNow(userCall(c)))))
  .get('/:townId/events', async (c) => {
    const stub = townStub(c);
    unwrap(await stub.access(userCall(c)));
    const headers = new Headers();
    const lastId = c.req.header('last-event-id');
    if (lastId) headers.set('last-event-id', lastId);
    const res = await stub.fetch(new Request(`http://town/events${new URL(c.req.url).search}`, { headers, signal: c.req.raw.signal }));
    if (res.status === 429) throw new AppError('rate_limited', ((await res.json()) as { error: { message: string } }).error.message, { retryAfter: 5 });
    if (!res.ok || !res.body) return res;
    // the stream lives no longer than the credential it was opened with: expired or signed out, it is not renewed by staying open
    return new Response(endStreamAfter(res.body, c.get('credentialExpiresAt') - Date.now()), res);
  });
