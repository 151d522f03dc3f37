import { env } from 'cloudflare:workers';
import { runInDurableObject } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { MailStore } from '../../src/storage/mail-store';
import { Sql } from '../../src/storage/sql';
import { api, dispatch, harness, idleCommand, newTown } from './helpers';

async function tool(t: { townId: string }, agentId: string, name: string, args: object = {}) {
  const token = await harness.token(agentId);
  return api(`/api/towns/${t.townId}/agents/${agentId}/tools/${name}`, { token, body: args });
}

/** A town whose default runtime's agents are idle processes the test speaks for. */
async function idleTown() {
  const t = await newTown();
  const mayorId = await dispatch(t, 'mayor');
  return { ...t, mayorId };
}

describe('beads through mayor, polecat and refinery', () => {
  it('bead create → sling → polecat gt_done → refinery mail → review-complete closes it', async () => {
    const t = await idleTown();
    const mayorId = t.mayorId;
    const bead = (await tool(t, mayorId, 'gt_bead_create', { title: 'Build it', rigId: t.rigId })).json.bead;
    expect(bead.status).toBe('open');

    const sling = await tool(t, mayorId, 'gt_sling', { beadId: bead.id });
    expect(sling.status).toBe(200);
    const polecatId = sling.json.agentId as string;
    expect(sling.json.bead).toMatchObject({ status: 'assigned', assignee: polecatId });
    expect((await tool(t, mayorId, 'gt_sling', { beadId: bead.id })).status).toBe(409);

    const prime = await tool(t, polecatId, 'gt_prime');
    expect(prime.json).toMatchObject({ agent: { id: polecatId, role: 'polecat', beadId: bead.id }, bead: { id: bead.id } });
    expect((await tool(t, polecatId, 'gt_sling', { beadId: bead.id })).status).toBe(403);

    const done = await tool(t, polecatId, 'gt_done', { summary: 'did it' });
    expect(done.json.bead.status).toBe('done');
    const view = (await api(`/api/towns/${t.townId}`, { token: t.token })).json;
    const refinery = view.agents.find((a: { role: string }) => a.role === 'refinery');
    expect(refinery.status).toBe('working');

    const mail = (await tool(t, refinery.id, 'gt_mail_check')).json.mail;
    expect(mail).toHaveLength(1);
    expect(mail[0]).toMatchObject({ from: polecatId, subject: 'review', beadId: bead.id, deliveries: 1 });
    // leased: not handed out again at once; acknowledged: never again
    expect((await tool(t, refinery.id, 'gt_mail_check')).json.mail).toEqual([]);
    expect((await tool(t, refinery.id, 'gt_mail_check', { ack: [mail[0].id] })).json).toMatchObject({ acked: 1, mail: [] });

    const token = await harness.token(refinery.id);
    const review = await api(`/api/towns/${t.townId}/agents/${refinery.id}/review-complete`, { token, body: { beadId: bead.id, outcome: 'merged' } });
    expect(review.json.bead.status).toBe('closed');
    const again = await api(`/api/towns/${t.townId}/agents/${refinery.id}/review-complete`, { token, body: { beadId: bead.id, outcome: 'merged' } });
    expect(again.json.duplicate).toBe(true);

    // every time the API shows is ISO 8601, as for agents
    const isoTime = expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    const after = (await api(`/api/towns/${t.townId}`, { token: t.token })).json;
    expect(after.rigs[0]).toMatchObject({ id: t.rigId, createdAt: isoTime });
    expect(after.beads).toEqual([expect.objectContaining({ id: bead.id, status: 'closed', createdAt: isoTime, updatedAt: isoTime })]);
    expect(bead).toMatchObject({ createdAt: isoTime, updatedAt: isoTime });
    expect(mail[0]).toMatchObject({ sentAt: isoTime });

    const polecatToken = await harness.token(polecatId);
    const completed = await api(`/api/towns/${t.townId}/agents/${polecatId}/completed`, { token: polecatToken, body: { status: 'completed', summary: 'ok' } });
    expect(completed.json).toMatchObject({ status: 'exited', duplicate: false });
    // completion revokes its tokens at once: an exited agent has no tool access left
    const afterExit = await api(`/api/towns/${t.townId}/agents/${polecatId}/tools/gt_bead_create`, { token: polecatToken, body: { title: 'sneaky' } });
    expect(afterExit.status).toBe(401);
    expect(afterExit.json.error).toMatchObject({ code: 'token_revoked', agentEnded: true });
  });

  it('mail between agents by role name', async () => {
    const t = await idleTown();
    const mayorId = t.mayorId;
    const sent = await tool(t, mayorId, 'gt_mail_send', { to: 'mayor', body: 'note to self' });
    expect(sent.json.to).toBe(mayorId);
    expect((await tool(t, mayorId, 'gt_mail_check')).json.mail[0].body).toBe('note to self');
    expect((await tool(t, mayorId, 'gt_mail_send', { to: 'refinery', body: 'x' })).status).toBe(404);
  });
});

describe('mail is delivered at least once', () => {
  it('mail not acknowledged is handed out again once its lease runs out, and never after its acknowledgement', async () => {
    const t = await idleTown();
    const sent = await tool(t, t.mayorId, 'gt_mail_send', { to: t.mayorId, body: 'did you get this?' });
    const first = (await tool(t, t.mayorId, 'gt_mail_check')).json.mail;
    expect(first).toEqual([expect.objectContaining({ id: sent.json.mailId, deliveries: 1 })]);
    expect((await tool(t, t.mayorId, 'gt_mail_check')).json.mail).toEqual([]);
    // the lease the check took (MAIL_LEASE_SECONDS, 30 by default) ends; the reply carrying the mail was lost
    await runInDurableObject(env.TOWN.getByName(t.townId), (_i, state) => {
      const [row] = state.storage.sql.exec<{ lease: number }>(`SELECT lease_until AS lease FROM mail WHERE id = ?`, sent.json.mailId).toArray();
      expect(row!.lease - Date.now()).toBeGreaterThan(25_000);
      expect(row!.lease - Date.now()).toBeLessThanOrEqual(30_000);
      state.storage.sql.exec(`UPDATE mail SET lease_until = ? WHERE id = ?`, Date.now() - 1, sent.json.mailId);
    });
    const again = (await tool(t, t.mayorId, 'gt_mail_check')).json.mail;
    expect(again).toEqual([expect.objectContaining({ id: sent.json.mailId, body: 'did you get this?', deliveries: 2 })]);
    expect((await tool(t, t.mayorId, 'gt_mail_check', { ack: [sent.json.mailId] })).json).toEqual({ acked: 1, mail: [] });
    await runInDurableObject(env.TOWN.getByName(t.townId), (_i, state) => state.storage.sql.exec(`UPDATE mail SET lease_until = 0`));
    expect((await tool(t, t.mayorId, 'gt_mail_check')).json.mail).toEqual([]);
  });

  it('the lease is the time given: hidden until it ends, handed out again from its end (time passed in)', async () => {
    const t = await idleTown();
    await tool(t, t.mayorId, 'gt_mail_send', { to: t.mayorId, body: 'leased' });
    await runInDurableObject(env.TOWN.getByName(t.townId), (_i, state) => {
      const mail = new MailStore(new Sql(state.storage.sql));
      const at = Date.now();
      expect(mail.deliver(t.mayorId, at, 5_000).map((m) => m.deliveries)).toEqual([1]);
      expect(mail.deliver(t.mayorId, at + 4_999, 5_000)).toEqual([]);
      expect(mail.deliver(t.mayorId, at + 5_000, 5_000).map((m) => m.deliveries)).toEqual([2]);
      expect(mail.deliver(t.mayorId, at + 5_001, 5_000)).toEqual([]);
    });
  });
});

describe('a start that fails inside a tool gives back what it took', () => {
  const viewOf = async (t: { townId: string; token: string }) => (await api(`/api/towns/${t.townId}`, { token: t.token })).json;

  it('gt_sling whose polecat start is cut: a 502, the bead is open again with no assignee, the polecat failed, a re-sling answers 200', async () => {
    const t = await idleTown();
    const bead = (await tool(t, t.mayorId, 'gt_bead_create', { title: 'Sling me', rigId: t.rigId })).json.bead;
    await harness.fault(t.townId, { path: '^/agents/start$', kind: 'drop', count: 1 });
    const failed = await tool(t, t.mayorId, 'gt_sling', { beadId: bead.id });
    expect(failed.status).toBe(502);
    expect(failed.json.error.code).toBe('container_unavailable');
    const view = await viewOf(t);
    expect(view.beads.find((b: { id: string }) => b.id === bead.id)).toMatchObject({ status: 'open', assignee: null });
    const polecats = view.agents.filter((a: { role: string }) => a.role === 'polecat');
    expect(polecats).toEqual([expect.objectContaining({ beadId: bead.id, status: 'failed', endReason: expect.stringMatching(/did not start it/) })]);

    const again = await tool(t, t.mayorId, 'gt_sling', { beadId: bead.id });
    expect(again.status).toBe(200);
    expect(again.json.bead).toMatchObject({ status: 'assigned', assignee: again.json.agentId });
    expect(again.json.agentId).not.toBe(polecats[0].id);
  });

  it('gt_done whose refinery start fails: a 502, the bead stays as it was (not done without a review), no mail; the retry finishes it, not a duplicate', async () => {
    const t = await idleTown();
    const bead = (await tool(t, t.mayorId, 'gt_bead_create', { title: 'Review me', rigId: t.rigId })).json.bead;
    const polecatId = (await tool(t, t.mayorId, 'gt_sling', { beadId: bead.id })).json.agentId as string;
    const before = (await viewOf(t)).beads.find((b: { id: string }) => b.id === bead.id);
    expect(before).toMatchObject({ status: 'assigned', assignee: polecatId });

    await harness.fault(t.townId, { path: '^/agents/start$', status: 503, count: 1 });
    const failed = await tool(t, polecatId, 'gt_done', { summary: 'did it' });
    expect(failed.status).toBe(502);
    expect(failed.json.error.code).toBe('container_unavailable');
    const after = await viewOf(t);
    expect(after.beads.find((b: { id: string }) => b.id === bead.id)).toEqual(before);
    expect(after.agents.filter((a: { role: string }) => a.role === 'refinery')).toEqual([expect.objectContaining({ status: 'failed' })]);
    const mail = (await api(`/api/towns/${t.townId}/mail`, { token: t.token })).json.mail;
    expect(mail).toEqual([]);

    const retry = await tool(t, polecatId, 'gt_done', { summary: 'did it' });
    expect(retry.status).toBe(200);
    expect(retry.json.duplicate).toBeUndefined();
    expect(retry.json.bead).toMatchObject({ status: 'done', summary: 'did it' });
    const refinery = (await viewOf(t)).agents.find((a: { role: string; status: string }) => a.role === 'refinery' && a.status === 'working');
    const review = (await tool(t, refinery.id, 'gt_mail_check')).json.mail;
    expect(review).toEqual([expect.objectContaining({ from: polecatId, subject: 'review', beadId: bead.id })]);
  });
});

describe('town events over SSE', () => {
  it('streams the town events and honours Last-Event-ID', async () => {
    const t = await newTown();
    await api(`/api/towns/${t.townId}/mayor/messages`, { token: t.token, body: { text: 'hi' } });
    const read = async (lastId?: string) => {
      const { exports } = await import('cloudflare:workers');
      const controller = new AbortController();
      const res = await exports.default.fetch(
        new Request(`http://127.0.0.1:9/api/towns/${t.townId}/events`, {
          headers: { authorization: `Bearer ${t.token}`, ...(lastId ? { 'last-event-id': lastId } : {}) },
          signal: controller.signal,
        }),
      );
      expect(res.headers.get('content-type')).toBe('text/event-stream');
      const reader = res.body!.getReader();
      const { value } = await reader.read();
      controller.abort();
      await reader.cancel().catch(() => {});
      return new TextDecoder().decode(value);
    };
    const all = await read();
    const ids = [...all.matchAll(/^id: (\d+)$/gm)].map((m) => Number(m[1]));
    expect(all).toContain('event: town.created');
    expect(all).toContain('event: agent.started');
    expect(all).toContain('event: mayor.message');
    expect(ids.length).toBeGreaterThanOrEqual(4);
    const after = await read(String(ids[1]));
    const afterIds = [...after.matchAll(/^id: (\d+)$/gm)].map((m) => Number(m[1]));
    expect(afterIds).toEqual(ids.slice(2));
    expect(all).not.toMatch(/eyJ[A-Za-z0-9_-]+\.eyJ/);
  });

  it('a client reconnecting far behind gets every event since its Last-Event-ID, then live ones, with no gap', async () => {
    const t = await idleTown();
    const mayorId = t.mayorId;
    const beads = 1_200;
    // the backlog: 1,200 retained events, written as the town writes them
    await runInDurableObject(env.TOWN.getByName(t.townId), (_i, state) => {
      for (let i = 0; i < beads; i++) state.storage.sql.exec(`INSERT INTO town_events (type, data, at) VALUES ('bead.created', ?, ?)`, JSON.stringify({ title: `bead ${i}` }), Date.now());
    });
    const { exports } = await import('cloudflare:workers');
    const controller = new AbortController();
    const res = await exports.default.fetch(
      new Request(`http://127.0.0.1:9/api/towns/${t.townId}/events`, { headers: { authorization: `Bearer ${t.token}`, 'last-event-id': '1' }, signal: controller.signal }),
    );
    const reader = res.body!.getReader();
    // read until the live event arrives; a stream that stops short fails the test in 10 s rather than hanging
    const giveUp = Date.now() + 10_000;
    let text = '';
    let marked = false;
    while (!text.includes('"title":"marker"') && Date.now() < giveUp) {
      const chunk = await Promise.race([reader.read(), new Promise<null>((r) => setTimeout(() => r(null), 1_000))]);
      if (chunk?.done) break;
      if (chunk?.value) text += new TextDecoder().decode(chunk.value);
      if (!marked && text.includes('"title":"bead 1199"')) {
        marked = true; // the backlog is in: one live event after it
        await tool(t, mayorId, 'gt_bead_create', { title: 'marker', rigId: t.rigId });
      }
    }
    controller.abort();
    await reader.cancel().catch(() => {});
    const ids = [...text.matchAll(/^id: (\d+)$/gm)].map((m) => Number(m[1]));
    expect(ids[0]).toBe(2);
    expect(ids).toEqual(Array.from({ length: ids.length }, (_, i) => i + 2));
    expect(text.match(/^event: bead\.created$/gm)).toHaveLength(beads + 1);
    expect(text).toContain('"title":"marker"');
  });

  it('a client behind the retention window is told so with a gap frame, then gets what is retained', async () => {
    const t = await idleTown();
    await runInDurableObject(env.TOWN.getByName(t.townId), (_i, state) => {
      for (let i = 0; i < 10; i++) state.storage.sql.exec(`INSERT INTO town_events (type, data, at) VALUES ('bead.created', '{}', ?)`, Date.now());
      // what the retention trim does to old events
      state.storage.sql.exec(`DELETE FROM town_events WHERE id <= 5`);
    });
    const { exports } = await import('cloudflare:workers');
    const controller = new AbortController();
    const res = await exports.default.fetch(
      new Request(`http://127.0.0.1:9/api/towns/${t.townId}/events`, { headers: { authorization: `Bearer ${t.token}`, 'last-event-id': '2' }, signal: controller.signal }),
    );
    const reader = res.body!.getReader();
    const { value } = await reader.read();
    controller.abort();
    await reader.cancel().catch(() => {});
    const text = new TextDecoder().decode(value);
    expect(text).toMatch(/^retry: 2000\n\nevent: gap\ndata: \{"after":2,"oldest":6\}\n\nid: 6\n/);
  });
});
