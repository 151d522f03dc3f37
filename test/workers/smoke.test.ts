import { describe, expect, it } from 'vitest';
import { api, dispatch, newTown, standIn } from './helpers';

describe('smoke', () => {
  it('creates a town and dispatches an agent into the stand-in control server', async () => {
    const t = await newTown();
    const agentId = await dispatch(t);
    const town = await api(`/api/towns/${t.townId}`, { token: t.token });
    expect(town.status).toBe(200);
    expect(town.json.agents[0].id).toBe(agentId);
    const token = await standIn.heldToken(t.townId, agentId);
    const hb = await api(`/api/towns/${t.townId}/agents/${agentId}/heartbeat`, { token, body: {} });
    expect(hb.status).toBe(200);
  });
});
