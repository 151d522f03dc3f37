import { describe, expect, it, vi } from 'vitest';
import { readFileSync, existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { IDLE_COMMAND, until, useStandInPair } from './harness.ts';
import { signAgentToken } from './stand-in-worker.ts';

const now = () => Math.floor(Date.now() / 1000);

describe('control server', () => {
  const t = useStandInPair();

  const start = async (agentId: string, iat = now(), extra: Record<string, unknown> = {}) =>
    t.c.call('POST', '/agents/start', { agentId, townId: t.worker.townId, rigId: null, role: 'polecat', token: await signAgentToken(agentId, t.worker.townId, iat), apiUrl: t.worker.url, command: IDLE_COMMAND, ...extra });

  it('refuses requests without the control secret, or with a wrong one', async () => {
    expect((await t.c.call('GET', '/agents', undefined, null)).status).toBe(401);
    expect((await t.c.call('GET', '/agents', undefined, 'wrong')).status).toBe(401);
    expect((await t.c.call('GET', '/health', undefined, null)).json).toEqual({ ok: true });
  });

  it('two agents, one refreshed: both keep heartbeating 2xx, each with its own token', async () => {
    const startedAt = now();
    expect((await start('hb-a', startedAt)).status).toBe(201);
    expect((await start('hb-b', startedAt)).status).toBe(201);
    await until(() => t.worker.seen.filter((s) => s.kind === 'heartbeat' && s.pathAgent === 'hb-b').length >= 2, 10_000, 'first heartbeats');
    const refreshed = await t.c.call('POST', '/agents/hb-a/refresh-token', { token: await signAgentToken('hb-a', t.worker.townId, startedAt + 5) });
    expect(refreshed.status).toBe(200);
    const mark = t.worker.seen.length;
    await until(() => ['hb-a', 'hb-b'].every((id) => t.worker.seen.slice(mark).filter((s) => s.kind === 'heartbeat' && s.pathAgent === id).length >= 3), 10_000, 'heartbeats after the refresh');
    const after = t.worker.seen.slice(mark).filter((s) => s.kind === 'heartbeat');
    expect(after.every((s) => s.status === 200 && s.tokenAgent === s.pathAgent)).toBe(true);
    // each read its own agent's token at send time: hb-a the refreshed one, hb-b still its first
    expect(new Set(after.filter((s) => s.pathAgent === 'hb-a').slice(1).map((s) => s.tokenIat))).toEqual(new Set([startedAt + 5]));
    expect(new Set(after.filter((s) => s.pathAgent === 'hb-b').map((s) => s.tokenIat))).toEqual(new Set([startedAt]));
    const list = (await t.c.call('GET', '/agents')).json as Array<{ agentId: string; heartbeatFailures: number; lastHeartbeatOkAt: string }>;
    for (const id of ['hb-a', 'hb-b']) expect(list.find((a) => a.agentId === id)).toMatchObject({ heartbeatFailures: 0 });
    expect(JSON.stringify(list)).not.toMatch(/eyJ/);
  });

  it('an older token after a newer one → 409 with what is held (gen, iat, exp; never the token) and unchanged; another agent\'s token → 400; unknown agent → 404', async () => {
    const t0 = now();
    await start('order', t0 - 200);
    const newer = await signAgentToken('order', t.worker.townId, t0 - 50);
    const older = await signAgentToken('order', t.worker.townId, t0 - 100);
    expect((await t.c.call('POST', '/agents/order/refresh-token', { token: newer })).status).toBe(200);
    const refused = await t.c.call('POST', '/agents/order/refresh-token', { token: older });
    expect(refused).toEqual({ status: 409, json: { error: { code: 'conflict', message: expect.any(String) }, held: { gen: 1, iat: t0 - 50, exp: t0 - 50 + 600 } } });
    expect(t.c.control.tokens.token('order')).toBe(newer);
    const file = readFileSync(`${t.c.stateDir}/tokens/order.jwt`, 'utf8');
    expect(file).toBe(newer);
    const other = await t.c.call('POST', '/agents/order/refresh-token', { token: await signAgentToken('someone-else', t.worker.townId, now()) });
    expect(other.status).toBe(400);
    expect(t.c.control.tokens.token('order')).toBe(newer);
    expect((await t.c.call('POST', '/agents/nobody/refresh-token', { token: newer })).status).toBe(404);
    const batch = await t.c.call('POST', '/agents/refresh-tokens', { tokens: [{ agentId: 'order', token: older }, { agentId: 'nobody', token: older }, { agentId: 'hb-a', token: await signAgentToken('hb-a', t.worker.townId, now() + 10) }] });
    expect(batch.json.results.map((r: { status: number }) => r.status)).toEqual([409, 404, 200]);
    expect(batch.json.results[0]).toEqual({ agentId: 'order', status: 409, error: { code: 'conflict', message: expect.any(String) }, held: { gen: 1, iat: t0 - 50, exp: t0 - 50 + 600 } });
    expect(JSON.stringify(batch.json)).not.toContain('eyJ');
  });

  it('token ordering and future iat: a newer generation wins over a later iat of an older one; a token issued more than 30 s in the future → 400, unchanged', async () => {
    const t0 = now();
    await start('gens', t0 - 100);
    const gen2 = await signAgentToken('gens', t.worker.townId, t0 - 60, 600, 2);
    const gen1Later = await signAgentToken('gens', t.worker.townId, t0 - 10, 600, 1);
    expect((await t.c.call('POST', '/agents/gens/refresh-token', { token: gen2 })).status).toBe(200);
    expect((await t.c.call('POST', '/agents/gens/refresh-token', { token: gen1Later })).json).toMatchObject({ held: { gen: 2, iat: t0 - 60 } });
    const future = await t.c.call('POST', '/agents/gens/refresh-token', { token: await signAgentToken('gens', t.worker.townId, now() + 45, 600, 3) });
    expect(future.status).toBe(400);
    expect(future.json.error.message).toMatch(/future/);
    expect(t.c.control.tokens.token('gens')).toBe(gen2);
    const listed = (await t.c.call('GET', `/agents?townId=${t.worker.townId}`)).json as Array<{ agentId: string; tokenGen: number }>;
    expect(listed.find((a) => a.agentId === 'gens')?.tokenGen).toBe(2);
    expect((await t.c.call('GET', '/agents?townId=another-town')).json).toEqual([]);
    await t.c.call('POST', '/agents/gens/stop');
  });

  it('a different token of the same age (same iat and exp, another jti) is not older: 200, stored and written, alone or in a batch', async () => {
    const iat = now();
    await start('twin', iat);
    await start('twin-b', iat);
    const file = (agentId: string) => readFileSync(`${t.c.stateDir}/tokens/${agentId}.jwt`, 'utf8');
    const twin = await signAgentToken('twin', t.worker.townId, iat);
    const res = await t.c.call('POST', '/agents/twin/refresh-token', { token: twin });
    expect(res).toEqual({ status: 200, json: { agentId: 'twin', expiresAt: new Date((iat + 600) * 1000).toISOString() } });
    expect(t.c.control.tokens.token('twin')).toBe(twin);
    expect(file('twin')).toBe(twin);
    expect((await t.c.call('POST', '/agents/twin/refresh-token', { token: twin })).status).toBe(200);
    expect(file('twin')).toBe(twin);
    const [again, twinB] = await Promise.all([signAgentToken('twin', t.worker.townId, iat), signAgentToken('twin-b', t.worker.townId, iat)]);
    const batch = await t.c.call('POST', '/agents/refresh-tokens', { tokens: [{ agentId: 'twin', token: again }, { agentId: 'twin-b', token: twinB }] });
    expect(batch.json.results.map((r: { status: number }) => r.status)).toEqual([200, 200]);
    expect([file('twin'), file('twin-b')]).toEqual([again, twinB]);
    const older = await signAgentToken('twin', t.worker.townId, iat - 1, 601); // same exp, earlier iat
    expect((await t.c.call('POST', '/agents/twin/refresh-token', { token: older })).status).toBe(409);
    expect(file('twin')).toBe(again);
    for (const id of ['twin', 'twin-b']) await t.c.call('POST', `/agents/${id}/stop`);
  });

  it('bad input → JSON errors', async () => {
    expect((await t.c.call('POST', '/agents/start', { agentId: 'x' })).status).toBe(400);
    const res = await fetch(`${t.c.url}/agents/start`, { method: 'POST', headers: { authorization: 'Bearer control-secret-for-tests' }, body: '{"agentId":' });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('bad_request');
    expect((await start('bad-cmd', now(), { command: 'rm -rf /' })).status).toBe(400);
  });

  it('stop ends the process, forgets the token and removes its file', async () => {
    await start('stopper');
    const path = `${t.c.stateDir}/tokens/stopper.jwt`;
    expect(existsSync(path)).toBe(true);
    const pid = t.c.control.agents.get('stopper')!.pid;
    expect((await t.c.call('POST', '/agents/stopper/stop')).status).toBe(200);
    expect(existsSync(path)).toBe(false);
    expect(t.c.control.tokens.token('stopper')).toBeNull();
    expect(() => process.kill(pid, 0)).toThrow();
    expect((await t.c.call('POST', '/agents/stopper/stop')).status).toBe(404);
  });

  it('an exit sends the completion report with the agent\'s own token, then forgets everything', async () => {
    const before = t.worker.seen.filter((s) => s.kind === 'completed').length;
    await start('quick', now(), { command: [process.execPath, '-e', 'console.log(JSON.stringify({type:"hello"}))'] });
    await until(() => !t.c.control.agents.get('quick'), 10_000, 'the exited agent to be forgotten');
    const completed = t.worker.seen.filter((s) => s.kind === 'completed').slice(before);
    expect(completed).toEqual([{ kind: 'completed', pathAgent: 'quick', tokenAgent: 'quick', status: 200, tokenIat: expect.any(Number), tokenGen: 1 }]);
    expect([...t.worker.events.values()].some((e) => (e as { type: string }).type === 'hello')).toBe(true);
    expect(existsSync(`${t.c.stateDir}/tokens/quick.jwt`)).toBe(false);
  });

  it('a stdout line is its JSON object once trimmed (indented, trailing spaces, CRLF); other JSON and non-JSON stay output text', async () => {
    const lines = ['  {"type":"ws-indented","n":1}  ', '\t{"type":"ws-tabbed"}', '{"type":"ws-crlf"}\r', '[1,"ws-array"]', '  ["ws-array-indented"]', '"ws-string"', '4242.5', 'null', '{ws-broken', 'ws-plain'];
    const outputs = new Set(lines.slice(3));
    const before = new Set(t.worker.events.keys());
    await start('shape', now(), { command: [process.execPath, '-e', `process.stdout.write(${JSON.stringify(lines.join('\n') + '\n')})`] });
    await until(() => !t.c.control.agents.get('shape'), 10_000, 'the agent to exit and deliver');
    const events = [...t.worker.events.entries()].filter(([id]) => !before.has(id)).map(([, e]) => e as Record<string, unknown>);
    expect(events.filter((e) => String(e.type).startsWith('ws-')).map(({ type, n }) => ({ type, n }))).toEqual([
      { type: 'ws-indented', n: 1 },
      { type: 'ws-tabbed', n: undefined },
      { type: 'ws-crlf', n: undefined },
    ]);
    const texts = events.filter((e) => e.type === 'output' && outputs.has(String(e.text))).map((e) => e.text);
    expect(texts).toEqual(lines.slice(3));
  });

  it('gives agents their identity and a token file, and never the control secret', async () => {
    const script = 'const e=process.env;console.log(JSON.stringify({type:"env",id:e.GASTOWN_AGENT_ID,role:e.GASTOWN_ROLE,file:e.GASTOWN_TOKEN_FILE,secret:e.CONTAINER_CONTROL_SECRET??null,token:require("fs").readFileSync(e.GASTOWN_TOKEN_FILE,"utf8").length>0}))';
    process.env.CONTAINER_CONTROL_SECRET = 'leak-me-not';
    await start('envy', now(), { command: [process.execPath, '-e', script], role: 'refinery' });
    delete process.env.CONTAINER_CONTROL_SECRET;
    await until(() => [...t.worker.events.values()].some((e) => (e as { type: string }).type === 'env'), 10_000, 'the env event');
    const event = [...t.worker.events.values()].find((e) => (e as { type: string }).type === 'env') as Record<string, unknown>;
    expect(event).toMatchObject({ role: 'refinery', secret: null, token: true });
    expect(String(event.file)).toContain('envy.jwt');
  });

  it('never passes the Worker\'s secrets from its own environment to agents; the start request\'s env is passed as given', async () => {
    const secrets = ['CONTAINER_CONTROL_SECRET', 'GASTOWN_JWT_SECRET', 'GASTOWN_JWT_SECRET_PREVIOUS', 'GASTOWN_CLIENT_SECRET'];
    const script = 'console.log(JSON.stringify({type:"full-env",env:process.env}))';
    for (const name of secrets) process.env[name] = `inherited-${name}`;
    process.env.GASTOWN_HARMLESS = 'inherited';
    try {
      await start('env-all', now(), { command: [process.execPath, '-e', script], env: { GASTOWN_CLIENT_SECRET: 'deliberate', CONTAINER_CONTROL_SECRET: 'deliberate' } });
    } finally {
      for (const name of [...secrets, 'GASTOWN_HARMLESS']) delete process.env[name];
    }
    await until(() => [...t.worker.events.values()].some((e) => (e as { type: string }).type === 'full-env'), 10_000, 'the env event');
    const { env } = [...t.worker.events.values()].find((e) => (e as { type: string }).type === 'full-env') as { env: Record<string, string> };
    expect(secrets.filter((name) => name in env && env[name] !== 'deliberate')).toEqual([]);
    expect(env).toMatchObject({ GASTOWN_HARMLESS: 'inherited', GASTOWN_CLIENT_SECRET: 'deliberate', GASTOWN_AGENT_ID: 'env-all' });
    expect(env.CONTAINER_CONTROL_SECRET).toBeUndefined();
  });

  it('a Worker it cannot reach: /agents says why (no answer, ECONNREFUSED) and one warning is logged, without the token', async () => {
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', () => r()));
    const deadUrl = `http://127.0.0.1:${(closed.address() as { port: number }).port}`;
    await new Promise<void>((r) => closed.close(() => r()));
    const warn = vi.spyOn(console, 'warn');
    const token = await signAgentToken('lost', t.worker.townId, now());
    await t.c.call('POST', '/agents/start', { agentId: 'lost', townId: t.worker.townId, rigId: null, role: 'polecat', token, apiUrl: deadUrl, command: IDLE_COMMAND });
    await until(() => (t.c.control.agents.get('lost')?.heartbeats.failures ?? 0) >= 4, 10_000, 'heartbeats to fail');
    const listed = ((await t.c.call('GET', '/agents')).json as Array<Record<string, unknown>>).find((a) => a.agentId === 'lost');
    expect(listed).toMatchObject({ lastHeartbeatFailure: { status: 0, code: 'unreachable', detail: 'ECONNREFUSED' } });
    const warnings = warn.mock.calls.map((args) => String(args[0])).filter((l) => l.includes('"lost"'));
    warn.mockRestore();
    expect(warnings.filter((l) => l.includes('"heartbeats failing"'))).toHaveLength(1);
    expect(JSON.parse(warnings.find((l) => l.includes('"heartbeats failing"'))!)).toMatchObject({ apiUrl: deadUrl, failures: 3, detail: 'ECONNREFUSED' });
    expect(warnings.join('\n')).not.toContain(token);
    await t.c.call('POST', '/agents/lost/stop');
  });
});
