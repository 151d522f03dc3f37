import { describe, expect, it } from 'vitest';
import { api, dispatch, harness, newTown } from './helpers';

const SECRET_VALUE = 'sk-ant-test-0123456789-value-that-must-never-come-back';

describe('town settings', () => {
  it('start as builtin with no environment', async () => {
    const t = await newTown();
    expect((await api(`/api/towns/${t.townId}/settings`, { token: t.token })).json).toEqual({ runtime: 'builtin', agentEnvNames: [] });
  });

  it('values are write-only: only names come back, in settings, the town view and the event stream; they reach an agent in its start request', async () => {
    const t = await newTown();
    const put = await api(`/api/towns/${t.townId}/settings`, { token: t.token, method: 'PUT', body: { runtime: 'claude-code', agentEnv: { ANTHROPIC_API_KEY: SECRET_VALUE, ANTHROPIC_BASE_URL: 'http://127.0.0.1:1' } } });
    expect(put.status).toBe(200);
    expect(put.json).toEqual({ runtime: 'claude-code', agentEnvNames: ['ANTHROPIC_API_KEY', 'ANTHROPIC_BASE_URL'] });
    expect(put.text).not.toContain(SECRET_VALUE);
    expect((await api(`/api/towns/${t.townId}/settings`, { token: t.token })).text).not.toContain(SECRET_VALUE);
    expect((await api(`/api/towns/${t.townId}`, { token: t.token })).text).not.toContain(SECRET_VALUE);

    const id = await dispatch(t, 'polecat', { runtime: 'builtin' });
    const start = (await harness.seen(t.townId)).find((s) => s.path === '/agents/start' && s.agentIds[0] === id)!;
    expect(start).toMatchObject({ runtime: 'builtin', envNames: ['ANTHROPIC_API_KEY', 'ANTHROPIC_BASE_URL'] });
    // without a runtime the town's default is used
    const bare = await api(`/api/towns/${t.townId}/rigs/${t.rigId}/agents`, { token: t.token, body: { role: 'refinery' } });
    expect(bare.json.runtime).toBe('claude-code');

    const removed = await api(`/api/towns/${t.townId}/settings`, { token: t.token, method: 'PUT', body: { agentEnv: { ANTHROPIC_BASE_URL: null } } });
    expect(removed.json.agentEnvNames).toEqual(['ANTHROPIC_API_KEY']);
  });

  it.each([
    ['an unknown runtime', { runtime: 'gpt-shell' }],
    ['a reserved name', { agentEnv: { GASTOWN_AGENT_ID: 'me' } }],
    ['the control secret', { agentEnv: { CONTAINER_CONTROL_SECRET: 'x' } }],
    ['a name that is not one', { agentEnv: { 'A-B': 'x' } }],
    ['a value that is not a string', { agentEnv: { A: 5 } }],
    ['an unknown field', { runtime: 'builtin', colour: 'red' }],
  ])('%s → 400, nothing changed', async (_name, body) => {
    const t = await newTown();
    const res = await api(`/api/towns/${t.townId}/settings`, { token: t.token, method: 'PUT', body });
    expect(res.status).toBe(400);
    expect((await api(`/api/towns/${t.townId}/settings`, { token: t.token })).json).toEqual({ runtime: 'builtin', agentEnvNames: [] });
  });
});
