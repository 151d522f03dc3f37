import { describe, expect, it } from 'vitest';
import { api, dispatch, newTown, harness } from './helpers';

describe('agent and user bodies: strict where the contract names values, lenient where it does not', () => {
  it.each([
    ['malformed JSON', 400, 'bad_request', { raw: '{"name": ' }],
    ['wrong type', 400, 'bad_request', { body: { name: 42 } }],
    ['unknown field', 400, 'bad_request', { body: { name: 'x', admin: true } }],
    ['array body', 400, 'bad_request', { body: ['x'] }],
    ['2 MB body', 413, 'too_large', { raw: JSON.stringify({ name: 'x'.repeat(2 * 1024 * 1024) }) }],
  ])('POST /api/towns/:id/rigs with %s → %i %s', async (_n, status, code, init) => {
    const t = await newTown();
    const before = (await api(`/api/towns/${t.townId}`, { token: t.token })).json;
    const res = await api(`/api/towns/${t.townId}/rigs`, { token: t.token, ...init });
    expect(res.status).toBe(status);
    expect(res.json.error.code).toBe(code);
    expect(res.headers.get('content-type')).toContain('application/json');
    expect((await api(`/api/towns/${t.townId}`, { token: t.token })).json).toEqual(before);
  });

  it('agent routes: malformed events, wrong types and 2 MB bodies store nothing', async () => {
    const t = await newTown();
    const id = await dispatch(t);
    const token = await harness.token(id);
    const base = `/api/towns/${t.townId}/agents/${id}`;
    expect((await api(`${base}/events`, { token, raw: '{"events": [' })).status).toBe(400);
    const numericId = await api(`${base}/events`, { token, body: { events: [{ id: 1, type: 'x' }] } });
    expect(numericId.status).toBe(200);
    expect(numericId.json).toMatchObject({ accepted: 0, refused: 1, results: [{ id: null, status: 'refused', error: { code: 'bad_request' } }] });
    expect((await api(`${base}/events`, { token, raw: JSON.stringify({ events: [{ id: 'e', type: 'x', text: 'y'.repeat(2 * 1024 * 1024) }] }) })).status).toBe(413);
    expect((await api(`${base}/heartbeat`, { token, body: { status: 5 } })).status).toBe(400);
    expect((await api(`${base}/completed`, { token, body: { status: 'sideways' } })).status).toBe(400);
    expect((await api(`${base}/completed`, { token, body: {} })).status).toBe(400);
    expect((await api(`${base}/tools/gt_bead_create`, { token, body: { title: '' } })).status).toBe(400);
    expect((await api(`${base}/tools/gt_status`, { token, body: { unexpected: 1 } })).status).toBe(400);
    const unknown = await api(`${base}/tools/gt_teleport`, { token, body: {} });
    expect(unknown.status).toBe(404);
    expect(unknown.json.error.code).toBe('not_found');
    const view = (await api(`/api/towns/${t.townId}`, { token: t.token })).json;
    expect(view.agents[0].eventsStored).toBe(0);
    expect(view.agents[0].status).toBe('working');
    expect(view.beads).toEqual([]);
  });

  it('agent bodies take the contract loosely where it names no values: any heartbeat status keeps the agent alive, an event without a type is output, completion synonyms', async () => {
    const t = await newTown();
    const id = await dispatch(t);
    const token = await harness.token(id);
    const base = `/api/towns/${t.townId}/agents/${id}`;
    const agentView = async () => (await api(`/api/towns/${t.townId}`, { token: t.token })).json.agents.find((a: { id: string }) => a.id === id);
    expect((await api(`${base}/heartbeat`, { token, body: { status: 'idle' } })).status).toBe(200);
    expect((await agentView()).status).toBe('idle');
    const busy = await api(`${base}/heartbeat`, { token, body: { status: 'busy', detail: 'compiling' } });
    expect(busy.status).toBe(200);
    expect((await agentView()).status).toBe('working');
    const events = await api(`${base}/events`, { token, body: { events: [{ id: 'untyped', text: 'hello' }] } });
    expect(events.json).toMatchObject({ accepted: 1, duplicates: 0, refused: 0 });
    const stored = await api(`${base}/events`, { token: t.token });
    expect(stored.json.events[0]).toMatchObject({ id: 'untyped', type: 'output', text: 'hello' });
    const done = await api(`${base}/completed`, { token, body: { status: 'Done', summary: 'finished' } });
    expect(done.status).toBe(200);
    expect((await agentView()).status).toBe('exited');
  });

  it('a completion reported as an error marks the agent failed', async () => {
    const t = await newTown();
    const id = await dispatch(t);
    const token = await harness.token(id);
    expect((await api(`/api/towns/${t.townId}/agents/${id}/completed`, { token, body: { status: 'error' } })).status).toBe(200);
    expect((await api(`/api/towns/${t.townId}`, { token: t.token })).json.agents.find((a: { id: string }) => a.id === id).status).toBe('failed');
  });

  it('events are stored idempotently by id', async () => {
    const t = await newTown();
    const id = await dispatch(t);
    const token = await harness.token(id);
    const events = [{ id: 'e1', type: 'output', text: 'a' }, { id: 'e2', type: 'output', text: 'b' }];
    const first = await api(`/api/towns/${t.townId}/agents/${id}/events`, { token, body: { events } });
    expect(first.json).toMatchObject({ accepted: 2, duplicates: 0 });
    const again = await api(`/api/towns/${t.townId}/agents/${id}/events`, { token, body: { events: [...events, { id: 'e3', type: 'output' }] } });
    expect(again.json).toMatchObject({ accepted: 1, duplicates: 2, results: [{ id: 'e1', status: 'duplicate' }, { id: 'e2', status: 'duplicate' }, { id: 'e3', status: 'stored' }] });
    expect((await api(`/api/towns/${t.townId}`, { token: t.token })).json.agents[0].eventsStored).toBe(3);
    const stored = await api(`/api/towns/${t.townId}/agents/${id}/events`, { token: t.token });
    expect(stored.json.events.map((e: { id: string }) => e.id)).toEqual(['e3', 'e2', 'e1']);
  });

  it('unknown routes are JSON 404s', async () => {
    const res = await api('/nope');
    expect(res.status).toBe(404);
    expect(res.json.error.code).toBe('not_found');
  });
});
