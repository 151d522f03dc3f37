import { Hono } from 'hono';
import type { AppEnv } from '../app-env';
import { AppError, unwrap } from '../errors';
import { agentAuth } from '../middleware/agent-auth';
import { containerAuth } from '../middleware/container-auth';
import { jsonBody } from '../middleware/body';
import { CompletedBody, DropsBody, EventsBody, HeartbeatBody, ReviewCompleteBody, TOOL_DEFINITIONS, isToolName } from './schemas';
import { townStub } from './town-stub';

const agent = agentAuth();

/** Agent-facing routes (bearer = agent token) and the container's re-mint route, under `/api/towns/:townId/agents/:agentId`. */
export const agentRoutes = new Hono<AppEnv>()
  .post('/heartbeat', agent, async (c) => c.json(unwrap(await townStub(c).heartbeat(c.get('agent'), await jsonBody(c, HeartbeatBody)))))
  .post('/events', agent, async (c) => {
    const { events } = await jsonBody(c, EventsBody);
    return c.json(unwrap(await townStub(c).storeEvents(c.get('agent'), events)));
  })
  .post('/completed', agent, async (c) => c.json(unwrap(await townStub(c).completed(c.get('agent'), await jsonBody(c, CompletedBody)))))
  .post('/review-complete', agent, async (c) =>
    c.json(unwrap(await townStub(c).reviewComplete(c.get('agent'), await jsonBody(c, ReviewCompleteBody)))),
  )
  .post('/tools/:tool', agent, async (c) => {
    const tool = c.req.param('tool');
    if (!isToolName(tool)) throw new AppError('not_found', `unknown tool ${tool}`);
    const args = await jsonBody(c, TOOL_DEFINITIONS[tool].input);
    return c.json(unwrap(await townStub(c).callTool(c.get('agent'), tool, args)));
  })
  .post('/token', containerAuth(), async (c) => c.json(unwrap(await townStub(c).remintForContainer(c.get('container'), c.req.param('agentId') ?? ''))));

/** Container-facing routes under `/api/towns/:townId/container` (bearer = the container credential). */
export const containerRoutes = new Hono<AppEnv>().post('/drops', containerAuth(), async (c) => {
  const { reports } = await jsonBody(c, DropsBody);
  return c.json(unwrap(await townStub(c).storeDropReports(c.get('container'), reports)));
});
