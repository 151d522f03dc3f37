import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, startTownFixture, type TownFixture } from './local-town-fixture.ts';

const TTL_SECONDS = 20;
const LIFETIMES = 5;

/**
 * The promise end to end: a real Worker (wrangler dev), the real control server and real
 * agent processes, with 20 s tokens refreshed every 5 s, working for more than five token
 * lifetimes with not one 401 or 403 anywhere.
 */
describe('a town at work for five token lifetimes', () => {
  let f: TownFixture;
  let townId: string;

  beforeAll(async () => {
    f = await startTownFixture();
    townId = (await f.api.createTown('e2e')).id;
    await f.api.createRig(townId, 'main');
  });
  afterAll(async () => f?.close());

  it('chats with the mayor while polecats and the refinery work through beads, with zero 401/403', async () => {
    const started = Date.now();
    const runMs = (LIFETIMES * TTL_SECONDS + 10) * 1000;
    let n = 0;
    while (Date.now() - started < runMs) {
      const res = await f.api.tellMayor(townId, `task ${++n}: make the build green`);
      expect(res.delivered).toBe(true);
      await new Promise((r) => setTimeout(r, 10_000));
    }
    const view = await eventually(async () => {
      const v = await f.api.town(townId);
      return v.beads.length >= n && v.beads.every((b: { status: string }) => b.status === 'closed') ? v : null;
    }, 90_000, 'every bead to be closed by the refinery');

    const mayor = view.agents.find((a: { role: string }) => a.role === 'mayor');
    const polecats = view.agents.filter((a: { role: string }) => a.role === 'polecat');
    const refinery = view.agents.find((a: { role: string }) => a.role === 'refinery');
    expect(view.beads.length).toBeGreaterThanOrEqual(LIFETIMES * 2);
    expect(polecats.length).toBe(view.beads.length);
    expect(polecats.every((p: { status: string }) => p.status === 'exited')).toBe(true);
    expect(mayor.status).not.toBe('stalled');
    // the mayor outlived its first token many times over, on fresh tokens
    expect(Date.now() - Date.parse(mayor.createdAt)).toBeGreaterThan(LIFETIMES * TTL_SECONDS * 1000);
    expect(mayor.refreshCount).toBeGreaterThanOrEqual(LIFETIMES * 3);
    expect(refinery.refreshCount).toBeGreaterThan(0);

    // zero 401/403: at the Worker, at the control server, in agent output
    expect(f.worker.counts.denied).toEqual([]);
    expect(f.worker.counts.total).toBeGreaterThan(100);
    const stats = await f.controlStats();
    expect(stats.responses['401_expired'] + stats.responses['401_revoked'] + stats.responses['401_other'] + stats.responses['403']).toBe(0);
    expect(stats.responses['2xx']).toBeGreaterThan(100);
    for (const agent of view.agents) {
      const { events } = await f.api.ok('GET', `/api/towns/${townId}/agents/${agent.id}/events?limit=1000`);
      const denied = events.filter((e: { type: string; status?: number }) => e.type === 'error' && (e.status === 401 || e.status === 403));
      expect(denied, `${agent.role} ${agent.id}`).toEqual([]);
    }
    const replies = (await f.api.ok('GET', `/api/towns/${townId}/agents/${mayor.id}/events?limit=1000`)).events.filter((e: { type: string }) => e.type === 'reply');
    expect(replies.length).toBeGreaterThanOrEqual(n);
  });

  it("a token used for another agent → 403; after stop, the agent's last token → 401", async () => {
    const view = await f.api.town(townId);
    const mayor = view.agents.find((a: { role: string }) => a.role === 'mayor');
    const refinery = view.agents.find((a: { role: string; status: string }) => a.role === 'refinery' && a.status !== 'exited');
    const tokenFile = (id: string) => join(f.stateDir, 'control', 'tokens', `${id}.jwt`);
    expect(existsSync(tokenFile(mayor.id))).toBe(true);
    const mayorToken = readFileSync(tokenFile(mayor.id), 'utf8').trim();
    const refineryToken = readFileSync(tokenFile(refinery.id), 'utf8').trim();

    const heartbeat = (agentId: string, token: string) =>
      fetch(`${f.town.workerUrl}/api/towns/${townId}/agents/${agentId}/heartbeat`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: '{}',
      });
    expect((await heartbeat(refinery.id, refineryToken)).status).toBe(200);
    const crossed = await heartbeat(refinery.id, mayorToken);
    expect(crossed.status).toBe(403);

    await f.api.stop(townId, refinery.id);
    const revoked = await heartbeat(refinery.id, refineryToken);
    expect(revoked.status).toBe(401);
    expect(((await revoked.json()) as { error: { code: string } }).error.code).toBe('token_revoked');
    await eventually(async () => !existsSync(tokenFile(refinery.id)), 10_000, 'the stopped agent token file to be removed');
  });
});
