import { Hono } from 'hono';
import type { AgentService } from '../services/agents.ts';
import { ControlError, bearer, secretsEqual } from './http-errors.ts';

/**
 * Routes for an agent's own plugin, authenticated with that agent's nonce (never the
 * control secret): `POST /local/agents/:id/remint` re-mints through the container
 * credential and rewrites the token file. The token itself is not returned.
 */
export function localRoutes(agents: AgentService) {
  return new Hono().post('/agents/:id/remint', async (c) => {
    const record = agents.get(c.req.param('id'));
    if (!record || !secretsEqual(bearer(c), record.nonce)) throw new ControlError('unauthorized', 'agent nonce required');
    if (record.status !== 'running') throw new ControlError('conflict', 'agent is not running');
    const result = await agents.reminter.remint(record);
    if (!result.ok) throw new ControlError('remint_failed', `the Worker did not re-mint (status ${result.status})`);
    return c.json({ agentId: record.agentId, expiresAt: result.expiresAt });
  });
}
