import { exports } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import { ORIGIN, api, dispatch, harness, newTown } from './helpers';

const post = (t: { townId: string }, id: string, token: string, events: unknown[]) => api(`/api/towns/${t.townId}/agents/${id}/events`, { token, body: { events } });
const view = async (t: { townId: string; token: string }) => (await api(`/api/towns/${t.townId}`, { token: t.token })).json;

/** The town's event stream as a client reads it, until `until` matches what arrived (or 5 s pass). */
async function streamUntil(t: { townId: string; token: string }, until: RegExp): Promise<Array<{ id: number; event: string; data: any }>> {
  const controller = new AbortController();
  const res = await exports.default.fetch(new Request(`${ORIGIN}/api/towns/${t.townId}/events`, { headers: { authorization: `Bearer ${t.token}` }, signal: controller.signal }));
  expect(res.status).toBe(200);
  const reader = res.body!.getReader();
  const giveUp = Date.now() + 5_000;
  let text = '';
  while (!until.test(text) && Date.now() < giveUp) {
    const chunk = await Promise.race([reader.read(), new Promise<null>((r) => setTimeout(() => r(null), 500))]);
    if (chunk?.done) break;
    if (chunk?.value) text += new TextDecoder().decode(chunk.value);
  }
  controller.abort();
  await reader.cancel().catch(() => {});
  return [...text.matchAll(/^id: (\d+)\nevent: (.+)\ndata: (.+)$/gm)].map((m) => ({ id: Number(m[1]), event: m[2]!, data: JSON.parse(m[3]!) }));
}

describe('agent events, answered per event', () => {
  it('one refused event is refused alone; an event with a wrong type is kept as output', async () => {
    const t = await newTown();
    const id = await dispatch(t);
    const token = await harness.token(id);
    const res = await post(t, id, token, [
      { id: 'a', type: 'output', text: 'fine' },
      { id: 'b', type: '', text: 'empty type' },
      { type: 'output', text: 'no id' },
      'not an object',
      { id: 'c', type: 42 },
      { id: 'd', type: 'x'.repeat(101) },
      { id: 'e', text: 'y'.repeat(70 * 1024) },
    ]);
    expect(res.status).toBe(200);
    expect(res.json.results.map((r: { id: string | null; status: string }) => `${r.id}:${r.status}`)).toEqual(['a:stored', 'b:stored', 'null:refused', 'null:refused', 'c:stored', 'd:stored', 'e:refused']);
    expect(res.json).toMatchObject({ accepted: 4, refused: 3, duplicates: 0 });
    const stored = (await api(`/api/towns/${t.townId}/agents/${id}/events`, { token: t.token })).json.events;
    expect(stored.find((e: { id: string }) => e.id === 'b')).toMatchObject({ type: 'output', originalType: '', text: 'empty type' });
    expect(stored.find((e: { id: string }) => e.id === 'c')).toMatchObject({ type: 'output', originalType: 'number' });
  });

  it("an agent's events are bounded by bytes: the oldest are trimmed, the trim counted and announced on the event stream", async () => {
    const t = await newTown();
    const id = await dispatch(t);
    const token = await harness.token(id);
    // the test town allows 64 KiB per agent: 40 events of ~4 KB
    for (let batch = 0; batch < 4; batch++) {
      const events = Array.from({ length: 10 }, (_, i) => ({ id: `e-${batch}-${i}`, type: 'output', text: 'z'.repeat(4_000) }));
      expect((await post(t, id, token, events)).json.accepted).toBe(10);
    }
    const v = await view(t);
    const agent = v.agents.find((a: { id: string }) => a.id === id);
    expect(agent.eventsStored).toBe(40);
    expect(agent.eventsTrimmed).toBeGreaterThan(20);
    expect(v.eventsTrimmed).toBe(agent.eventsTrimmed);
    const kept = (await api(`/api/towns/${t.townId}/agents/${id}/events?limit=1000`, { token: t.token })).json.events as Array<{ id: string }>;
    expect(kept.length).toBe(40 - agent.eventsTrimmed);
    expect(kept[0]!.id).toBe('e-3-9');
    await api(`/api/towns/${t.townId}/rigs`, { token: t.token, body: { name: 'marker' } });
    const trims = (await streamUntil(t, /event: rig\.created\ndata: .*"marker"/)).filter((e) => e.event === 'events.trimmed');
    expect(trims.length).toBeGreaterThan(0);
    expect(trims.reduce((n, e) => n + e.data.events, 0)).toBe(agent.eventsTrimmed);
    expect(trims[0]!.data).toMatchObject({ agentId: id, limitBytes: 65_536 });
  });
});

describe('drop reports from the container', () => {
  const drops = (townId: string, credential: string | null, body: unknown) => api(`/api/towns/${townId}/container/drops`, { ...(credential ? { token: credential } : {}), body });

  it('are counted by kind and cause in the town, once per report id', async () => {
    const t = await newTown();
    const id = await dispatch(t);
    const credential = (await harness.credential(t.townId))!;
    const reports = [
      { id: 'r1', agentId: id, kind: 'event', cause: 'overflow', count: 7 },
      { id: 'r2', agentId: id, kind: 'completed', cause: 'superseded', count: 1 },
    ];
    expect((await drops(t.townId, credential, { reports })).json).toEqual({ accepted: 2, duplicates: 0 });
    expect((await drops(t.townId, credential, { reports })).json).toEqual({ accepted: 0, duplicates: 2 });
    expect((await view(t)).drops).toEqual({ event: { overflow: 7 }, completed: { superseded: 1 } });
  });

  it('are announced on the town event stream, once per report', async () => {
    const t = await newTown();
    const id = await dispatch(t);
    const credential = (await harness.credential(t.townId))!;
    const report = { id: 'r-sse', agentId: id, kind: 'event', cause: 'agent_ended', count: 3 };
    expect((await drops(t.townId, credential, { reports: [report] })).json).toEqual({ accepted: 1, duplicates: 0 });
    expect((await drops(t.townId, credential, { reports: [report] })).json).toEqual({ accepted: 0, duplicates: 1 });
    await api(`/api/towns/${t.townId}/rigs`, { token: t.token, body: { name: 'marker' } });
    const events = await streamUntil(t, /event: rig\.created\ndata: .*"marker"/);
    expect(events.filter((e) => e.event === 'events.dropped').map((e) => e.data)).toEqual([{ agentId: id, kind: 'event', cause: 'agent_ended', count: 3 }]);
    expect(JSON.stringify(events)).not.toContain(credential);
  });

  it('need the town’s container credential: none → 401, an agent token → 401, another town’s → 403, bad body → 400; nothing counted', async () => {
    const t = await newTown();
    const id = await dispatch(t);
    const other = await newTown();
    await dispatch(other);
    const body = { reports: [{ id: 'x', agentId: id, kind: 'event', cause: 'overflow', count: 1 }] };
    expect((await drops(t.townId, null, body)).status).toBe(401);
    expect((await drops(t.townId, await harness.token(id), body)).status).toBe(401);
    expect((await drops(t.townId, (await harness.credential(other.townId))!, body)).status).toBe(403);
    const credential = (await harness.credential(t.townId))!;
    expect((await drops(t.townId, credential, { reports: [{ id: 'x', agentId: id, kind: 'telepathy', cause: 'overflow', count: 1 }] })).status).toBe(400);
    expect((await drops(t.townId, credential, { reports: [{ id: 'x', agentId: id, kind: 'event', cause: 'overflow', count: -1 }] })).status).toBe(400);
    expect((await view(t)).drops).toEqual({});
  });
});
