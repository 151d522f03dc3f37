import { Hono } from 'hono';
import type { AppEnv } from '../app-env';
import { unwrap } from '../errors';
import { jsonBody } from '../middleware/json-body';
import { userAuth } from '../middleware/user-auth';
import { CreateRigBody, CreateTownBody, DispatchAgentBody, MayorMessageBody } from './schemas';
import { newTownId, townStub, userCall } from './town-stub';

/** User-facing routes under `/api/towns`. */
export const townRoutes = new Hono<AppEnv>()
  .use(userAuth())
  .post('/', async (c) => {
    const { name } = await jsonBody(c, CreateTownBody);
    const id = newTownId();
    const town = unwrap(await c.env.TOWN.getByName(id).createTown({ id, name, ...userCall(c) }));
    return c.json(town, 201);
  })
  .get('/:townId', async (c) => c.json(unwrap(await townStub(c).getTown(userCall(c)))))
  .post('/:townId/rigs', async (c) => {
    const body = await jsonBody(c, CreateRigBody);
    return c.json(unwrap(await townStub(c).createRig(userCall(c), body)), 201);
  })
  .post('/:townId/rigs/:rigId/agents', async (c) => {
    const body = await jsonBody(c, DispatchAgentBody);
    const agent = unwrap(await townStub(c).dispatchAgent(userCall(c), { rigId: c.req.param('rigId'), ...body }));
    return c.json(agent, 201);
  })
  .post('/:townId/mayor/messages', async (c) => {
    const { text } = await jsonBody(c, MayorMessageBody);
    return c.json(unwrap(await townStub(c).sendMayorMessage(userCall(c), text)));
  })
  .post('/:townId/agents/:agentId/stop', async (c) => c.json(unwrap(await townStub(c).stopAgent(userCall(c), c.req.param('agentId')))))
  .get('/:townId/agents/:agentId/events', async (c) => {
    const limit = Math.min(1_000, Math.max(1, Number(c.req.query('limit') ?? 100) || 100));
    return c.json(unwrap(await townStub(c).agentEvents(userCall(c), c.req.param('agentId'), limit)));
  })
  .post('/:townId/refresh-tokens', async (c) => c.json(unwrap(await townStub(c).refreshNow(userCall(c)))))
  .get('/:townId/events', async (c) => {
    const stub = townStub(c);
    unwrap(await stub.getTown(userCall(c)));
    const headers = new Headers();
    const lastId = c.req.header('last-event-id');
    if (lastId) headers.set('last-event-id', lastId);
    return stub.fetch(new Request(`http://town/events${new URL(c.req.url).search}`, { headers, signal: c.req.raw.signal }));
  });
