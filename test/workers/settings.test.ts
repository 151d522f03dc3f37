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

  it('the runtimes\' own GASTOWN_CODEX_CONFIG and GASTOWN_OPENCODE_CONFIG may be set, and reach an agent in its start request', async () => {
    const t = await newTown();
    const codexToml = 'model = "gpt-5.1-codex"\n[model_providers.gw]\nbase_url = "http://127.0.0.1:1/v1"';
    const put = await api(`/api/towns/${t.townId}/settings`, { token: t.token, method: 'PUT', body: { agentEnv: { GASTOWN_CODEX_CONFIG: codexToml, GASTOWN_OPENCODE_CONFIG: '{"model":"anthropic/claude-sonnet-4-5"}' } } });
    expect(put.status).toBe(200);
    expect(put.json.agentEnvNames).toEqual(['GASTOWN_CODEX_CONFIG', 'GASTOWN_OPENCODE_CONFIG']);
    expect(put.text).not.toContain('model_providers');
    const id = await dispatch(t, 'polecat', { runtime: 'builtin' });
    const start = (await harness.seen(t.townId)).find((s) => s.path === '/agents/start' && s.agentIds[0] === id)!;
    expect(start.envNames).toEqual(['GASTOWN_CODEX_CONFIG', 'GASTOWN_OPENCODE_CONFIG']);
  });

  it.each([
    ['a GASTOWN_OPENCODE_CONFIG that is not JSON', { agentEnv: { GASTOWN_OPENCODE_CONFIG: '{"model": "anthropic/x"' } }, /GASTOWN_OPENCODE_CONFIG is not valid JSON/],
    ['a GASTOWN_OPENCODE_CONFIG that is JSON but not an object', { agentEnv: { GASTOWN_OPENCODE_CONFIG: '["anthropic/x"]' } }, /GASTOWN_OPENCODE_CONFIG must be a JSON object/],
    ['an empty GASTOWN_CODEX_CONFIG', { agentEnv: { GASTOWN_CODEX_CONFIG: ' \n' } }, /GASTOWN_CODEX_CONFIG is empty/],
  ])('%s → 400 naming it (never its value), nothing changed', async (_name, body, reason) => {
    const t = await newTown();
    const res = await api(`/api/towns/${t.townId}/settings`, { token: t.token, method: 'PUT', body });
    expect(res.status).toBe(400);
    expect(res.json.error.message).toMatch(reason);
    expect(res.text).not.toContain('anthropic/x');
    expect((await api(`/api/towns/${t.townId}/settings`, { token: t.token })).json).toEqual({ runtime: 'builtin', agentEnvNames: [] });
  });

  it.each([
    ['an unknown runtime', { runtime: 'gpt-shell' }],
    ['a reserved name', { agentEnv: { GASTOWN_AGENT_ID: 'me' } }],
    ['a GASTOWN_ name that is not a runtime\'s configuration', { agentEnv: { GASTOWN_CLAUDE_CONFIG: 'x' } }],
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
