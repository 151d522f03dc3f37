import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { alive, CONTROL_SECRET, IDLE_COMMAND, until, useStandInPair } from './harness.ts';
import { signAgentToken } from './stand-in-worker.ts';

const now = () => Math.floor(Date.now() / 1000);


/** Echoes each stdin line back as an event, and stays alive until stdin closes. */
const ECHO = [process.execPath, '-e', `require('readline').createInterface({input: process.stdin}).on('line', (l) => console.log(JSON.stringify({type: 'echo', line: l})));`];

describe('agent lifecycle through the control server', () => {
  const t = useStandInPair({ heartbeatIntervalMs: 200 });

  const startBody = async (agentId: string, iat = now(), extra: Record<string, unknown> = {}) => ({
    agentId, townId: t.worker.townId, rigId: 'rig-1', role: 'polecat', token: await signAgentToken(agentId, t.worker.townId, iat), apiUrl: t.worker.url, command: IDLE_COMMAND, ...extra,
  });
  const tokenFile = (agentId: string) => readFileSync(`${t.c.stateDir}/tokens/${agentId}.jwt`, 'utf8');
  const eventsOf = (type: string) => [...t.worker.events.values()].filter((e) => (e as { type: string }).type === type) as Array<Record<string, unknown>>;

  it('starting a running agent again is idempotent: 200, same pid, a newer token taken, an older one ignored', async () => {
    const first = await t.c.call('POST', '/agents/start', await startBody('twice', now()));
    expect(first.status).toBe(201);
    const processes = t.c.control.processes.size;
    const newer = await startBody('twice', now() + 10);
    const again = await t.c.call('POST', '/agents/start', newer);
    expect(again.status).toBe(200);
    expect(again.json.pid).toBe(first.json.pid);
    expect(t.c.control.processes.size).toBe(processes);
    expect(tokenFile('twice')).toBe(newer.token);
    const older = await t.c.call('POST', '/agents/start', await startBody('twice', now() - 10));
    expect(older.status).toBe(200);
    expect(tokenFile('twice')).toBe(newer.token);
  });

  it('a message stores its token first, then reaches stdin as a JSON line; a bad token is 400 and not delivered', async () => {
    await t.c.call('POST', '/agents/start', await startBody('echo', now(), { command: ECHO }));
    const fresh = await signAgentToken('echo', t.worker.townId, now() + 20);
    const res = await t.c.call('POST', '/agents/echo/message', { text: 'hello there', token: fresh });
    expect(res).toEqual({ status: 200, json: { agentId: 'echo', delivered: true } });
    expect(tokenFile('echo')).toBe(fresh);
    await until(() => eventsOf('echo').length > 0, 10_000, 'the echo');
    expect(JSON.parse(eventsOf('echo')[0]!.line as string)).toEqual({ type: 'message', text: 'hello there' });
    // an older token in a message is ignored (409 swallowed), the message still goes
    const stale = await t.c.call('POST', '/agents/echo/message', { text: 'again', token: await signAgentToken('echo', t.worker.townId, now() - 100) });
    expect(stale.status).toBe(200);
    expect(tokenFile('echo')).toBe(fresh);
    const bad = await t.c.call('POST', '/agents/echo/message', { text: 'no', token: await signAgentToken('intruder', t.worker.townId, now() + 30) });
    expect(bad.status).toBe(400);
    await until(() => eventsOf('echo').length >= 2, 10_000, 'the second echo');
    expect(eventsOf('echo').map((e) => JSON.parse(e.line as string).text)).toEqual(['hello there', 'again']);
  });

  it('stop ends the whole process tree, grandchildren included', async () => {
    const PARENT = `const { spawn } = require('child_process'); const g = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' }); console.log(JSON.stringify({ type: 'grandchild', pid: g.pid })); process.stdin.resume();`;
    await t.c.call('POST', '/agents/start', await startBody('tree', now(), { command: [process.execPath, '-e', PARENT] }));
    await until(() => eventsOf('grandchild').length > 0, 10_000, 'the grandchild pid');
    const pid = eventsOf('grandchild')[0]!.pid as number;
    expect(alive(pid)).toBe(true);
    expect((await t.c.call('POST', '/agents/tree/stop')).status).toBe(200);
    await until(() => !alive(pid), 5_000, 'the grandchild to be gone');
  });

  it('grandchildren: an agent that forks and exits takes its grandchildren with it, in its group or escaped with setsid; then its uid is released', async () => {
    const FORKER = `const { spawn } = require('child_process');
      const inGroup = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
      const escaped = spawn(process.execPath, ['-e', 'process.on("SIGTERM", () => {}); setInterval(() => {}, 1000)'], { stdio: 'ignore', detached: true });
      console.log(JSON.stringify({ type: 'forked', pids: [inGroup.pid, escaped.pid] }));
      setTimeout(() => process.exit(0), 200);`;
    t.worker.down = true; // the exited agent is still delivering: its token file stays, as the server's
    const held = t.c.control.processes.uidsHeld;
    await t.c.call('POST', '/agents/start', await startBody('forker', now(), { command: [process.execPath, '-e', FORKER] }));
    const uid = t.c.control.agents.get('forker')!.process.owner!.uid;
    await until(() => t.c.control.agents.get('forker')?.status === 'exited', 10_000, 'the agent to exit');
    const { statSync } = await import('node:fs');
    expect(statSync(`${t.c.stateDir}/tokens/forker.jwt`).uid).toBe(0);
    t.worker.down = false;
    await until(() => eventsOf('forked').length > 0, 10_000, 'the grandchild pids');
    const pids = eventsOf('forked')[0]!.pids as number[];
    await until(() => pids.every((pid) => !alive(pid)), 10_000, 'the grandchildren to be gone');
    await until(() => t.c.control.processes.uidsHeld === held, 10_000, 'the uid released');
    expect((await import('../../../container/src/managers/proc.ts')).findProcesses({ uid })).toEqual([]);
  });

  it('errors are JSON: 401 with WWW-Authenticate, 404 unknown agent, 413 over 1 MiB, 400 bad types', async () => {
    const res = await fetch(`${t.c.url}/agents`, { headers: { authorization: 'Bearer nope' } });
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toMatch(/^Bearer/);
    expect(await res.json()).toEqual({ error: { code: 'unauthorized', message: expect.any(String) } });
    for (const path of ['/agents/ghost/message', '/agents/ghost/stop', '/agents/ghost/refresh-token']) {
      const r = await t.c.call('POST', path, { text: 'x', token: await signAgentToken('ghost', t.worker.townId, now()) });
      expect([path, r.status, r.json.error.code]).toEqual([path, 404, 'not_found']);
    }
    const big = await fetch(`${t.c.url}/agents/start`, { method: 'POST', headers: { authorization: `Bearer ${CONTROL_SECRET}`, 'content-type': 'application/json' }, body: JSON.stringify({ pad: 'x'.repeat(1024 * 1024) }) });
    expect(big.status).toBe(413);
    expect(((await big.json()) as { error: { code: string } }).error.code).toBe('too_large');
    expect((await t.c.call('POST', '/agents/start', { ...(await startBody('typed')), rigId: 7 })).status).toBe(400);
    expect((await t.c.call('POST', '/agents/start', { ...(await startBody('typed')), role: 'king' })).status).toBe(400);
    expect((await t.c.call('POST', '/agents/start', { ...(await startBody('typed')), env: { A: 1 } })).status).toBe(400);
    expect((await t.c.call('POST', '/agents/refresh-tokens', { tokens: 'nope' })).status).toBe(400);
    const unspawnable = await t.c.call('POST', '/agents/start', await startBody('nul', now(), { command: [process.execPath, '-e', 'x\u0000y'] }));
    expect(unspawnable.status).toBe(400);
    expect(t.c.control.agents.get('nul')).toBeUndefined();
    expect(t.c.control.tokens.token('nul')).toBeNull();
    expect(existsSync(`${t.c.stateDir}/tokens/nul.jwt`)).toBe(false);
    for (const agentId of ['..', '../escape', 'a/b', '.hidden']) {
      expect((await t.c.call('POST', '/agents/start', { ...(await startBody('typed')), agentId })).status).toBe(400);
    }
    const listed = await t.c.call('GET', '/agents');
    expect(JSON.stringify(listed.json)).not.toContain('eyJ');
  });

  it('deep JSON: a body nested past 32 levels is a 400 JSON error on every body route, checked before parsing; 32 levels are parsed', async () => {
    // an object holding arrays nested `levels - 1` deep: `levels` levels in all
    const deep = (levels: number) => `{"tokens":${'['.repeat(levels - 1)}${']'.repeat(levels - 1)}}`;
    const post = (path: string, body: string) => fetch(`${t.c.url}${path}`, { method: 'POST', headers: { authorization: `Bearer ${CONTROL_SECRET}`, 'content-type': 'application/json' }, body });
    for (const path of ['/agents/start', '/agents/refresh-tokens', '/agents/ghost/message', '/agents/ghost/refresh-token']) {
      for (const levels of [33, 100_000]) {
        const res = await post(path, deep(levels));
        expect([path, levels, res.status, await res.json()]).toEqual([path, levels, 400, { error: { code: 'bad_request', message: 'JSON nested deeper than 32 levels' } }]);
      }
    }
    // at the limit the body is parsed, and answered for what it holds (no token among the entries)
    const atLimit = await post('/agents/refresh-tokens', deep(32));
    expect(atLimit.status).toBe(200);
    expect(JSON.stringify(await atLimit.json())).not.toMatch(/nested/);
  });

  it('heartbeats answered 401 token_expired are healed by one re-mint through the container credential', async () => {
    await t.c.call('POST', '/agents/start', await startBody('healed', now() - 100, { containerCredential: t.worker.credential }));
    const before = tokenFile('healed');
    const remints = t.worker.remints;
    t.worker.minIat = now() - 50; // the held token is now refused as expired
    const mark = t.worker.seen.length;
    await until(() => t.worker.seen.slice(mark).some((s) => s.kind === 'heartbeat' && s.pathAgent === 'healed' && s.status === 200), 10_000, 'a healed heartbeat');
    t.worker.minIat = 0;
    expect(t.worker.remints - remints).toBe(1);
    expect(tokenFile('healed')).not.toBe(before);
    expect(t.c.control.tokens.token('healed')).toBe(tokenFile('healed'));
    const stats = (await t.c.call('GET', '/stats')).json;
    expect(stats.remints).toBeGreaterThanOrEqual(1);
    expect(stats.responses['401_expired']).toBeGreaterThanOrEqual(1);
  });

  it('ended: a 401 token_revoked with agentEnded true ends the agent\'s process group; its undelivered events are dropped (agent_ended) and reported', async () => {
    const stats = t.c.control.stats;
    const before = stats.drops.event.agent_ended;
    await t.c.call('POST', '/agents/start', await startBody('revoked', now(), { command: ECHO, containerCredential: t.worker.credential }));
    const pid = t.c.control.agents.get('revoked')!.pid;
    t.worker.revoked.add('revoked');
    await t.c.call('POST', '/agents/revoked/message', { text: 'one' });
    await until(() => !t.c.control.agents.get('revoked'), 10_000, 'the ended agent to be released');
    expect(alive(pid)).toBe(false);
    expect(stats.drops.event.agent_ended - before).toBeGreaterThanOrEqual(1);
    expect(eventsOf('echo').some((e) => String(e.line).includes('"one"'))).toBe(false);
    await until(() => (t.worker.dropTotals()['event/agent_ended'] ?? 0) >= 1, 10_000, 'the drop report');
    t.worker.revoked.delete('revoked');
  });

  it('ended while silent: a heartbeat answered 401 token_revoked with agentEnded true ends the agent that sends nothing else', async () => {
    await t.c.call('POST', '/agents/start', await startBody('quiet', now(), { command: IDLE_COMMAND, containerCredential: t.worker.credential }));
    const pid = t.c.control.agents.get('quiet')!.pid;
    const mark = t.worker.seen.length;
    t.worker.revoked.add('quiet');
    await until(() => !alive(pid), 10_000, 'the ended agent\'s process to go');
    const refused = t.worker.seen.slice(mark).filter((s) => s.pathAgent === 'quiet' && s.status === 401);
    // no event or message was sent: the heartbeat alone carried the Worker's answer
    expect(refused.length).toBeGreaterThanOrEqual(1);
    expect(refused[0]!.kind).toBe('heartbeat');
    await until(() => !t.c.control.agents.get('quiet'), 10_000, 'the ended agent to be released');
    t.worker.revoked.delete('quiet');
  });

  it('revoked but not ended: events wait (nothing dropped) until the new generation\'s token arrives, then are delivered with it', async () => {
    const stats = t.c.control.stats;
    const dropsBefore = JSON.stringify(stats.drops);
    await t.c.call('POST', '/agents/start', await startBody('regen', now(), { command: ECHO }));
    t.worker.currentGen.set('regen', 2); // the TownDO restarted it: gen-1 tokens are revoked, agentEnded false
    await t.c.call('POST', '/agents/regen/message', { text: 'waiting' });
    await until(() => t.worker.seen.filter((s) => s.pathAgent === 'regen' && s.kind === 'events' && s.status === 401).length >= 3, 10_000, 'refused deliveries');
    expect(t.c.control.agents.get('regen')!.outbox.pending).toBeGreaterThan(0);
    const fresh = await signAgentToken('regen', t.worker.townId, now(), 600, 2);
    expect((await t.c.call('POST', '/agents/regen/refresh-token', { token: fresh })).status).toBe(200);
    await until(() => eventsOf('echo').some((e) => String(e.line).includes('"waiting"')), 10_000, 'the event delivered with the new token');
    expect(JSON.stringify(stats.drops)).toBe(dropsBefore);
    expect(t.worker.seen.filter((s) => s.pathAgent === 'regen' && s.kind === 'events' && s.status === 200).every((s) => s.tokenGen === 2)).toBe(true);
    t.worker.currentGen.delete('regen');
    await t.c.call('POST', '/agents/regen/stop');
  });

  it('the local re-mint route needs the agent nonce, re-mints, rewrites the file and returns only the expiry', async () => {
    await t.c.call('POST', '/agents/start', await startBody('local', now() - 100, { containerCredential: t.worker.credential }));
    const nonce = t.c.control.agents.get('local')!.nonce;
    const denied = await fetch(`${t.c.url}/local/agents/local/remint`, { method: 'POST', headers: { authorization: `Bearer ${CONTROL_SECRET}` } });
    expect(denied.status).toBe(401);
    const before = tokenFile('local');
    const res = await fetch(`${t.c.url}/local/agents/local/remint`, { method: 'POST', headers: { authorization: `Bearer ${nonce}` } });
    expect(res.status).toBe(200);
    const body = (await res.json()) as Record<string, string>;
    expect(Object.keys(body).sort()).toEqual(['agentId', 'expiresAt']);
    expect(new Date(body.expiresAt!).getTime()).toBeGreaterThan(Date.now());
    expect(tokenFile('local')).not.toBe(before);
  });

  it('a re-mint the Worker refuses is a 502 at the local route', async () => {
    await t.c.call('POST', '/agents/start', await startBody('nocred', now(), { containerCredential: 'wrong-credential', townId: t.worker.townId }));
    const nonce = t.c.control.agents.get('nocred')!.nonce;
    const res = await fetch(`${t.c.url}/local/agents/nocred/remint`, { method: 'POST', headers: { authorization: `Bearer ${nonce}` } });
    expect(res.status).toBe(502);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('remint_failed');
    // the latest credential of the town wins
    await t.c.call('POST', '/agents/start', await startBody('nocred', now(), { containerCredential: t.worker.credential }));
    expect((await fetch(`${t.c.url}/local/agents/nocred/remint`, { method: 'POST', headers: { authorization: `Bearer ${nonce}` } })).status).toBe(200);
  });

  it('GET /stats reports the counters and registry sizes, never a token', async () => {
    const stats = (await t.c.call('GET', '/stats')).json;
    expect(stats).toMatchObject({
      agentsRunning: expect.any(Number),
      requests: { heartbeat: expect.any(Number), events: expect.any(Number), completed: expect.any(Number), reviewComplete: expect.any(Number) },
      responses: { '2xx': expect.any(Number), '401_expired': expect.any(Number), '401_revoked': expect.any(Number), '401_other': expect.any(Number), '403': expect.any(Number), other: expect.any(Number) },
      remints: expect.any(Number), remintFailures: expect.any(Number), tokensAccepted: expect.any(Number), tokensRejected409: expect.any(Number),
      eventsQueued: expect.any(Number), eventsDelivered: expect.any(Number),
      drops: {
        event: { overflow: expect.any(Number), too_large: expect.any(Number), refused: expect.any(Number), agent_ended: expect.any(Number), superseded: expect.any(Number) },
        completed: expect.any(Object),
        reviewComplete: expect.any(Object),
      },
      journal: { segments: expect.any(Number), bytes: expect.any(Number), liveRecords: expect.any(Number), tornRecordsSkipped: 0 },
    });
    expect(stats.tokensRejected409).toBeGreaterThanOrEqual(1);
    expect(JSON.stringify(stats)).not.toContain('eyJ');
  });
});
