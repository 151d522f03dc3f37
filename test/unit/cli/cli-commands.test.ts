import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { SignJWT } from 'jose';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startFakeWorker } from './fake-worker.ts';
import { cleanEnv, json, removeHomes, runCli, startCli } from './run-cli.ts';

const SECRET = 'cli-commands-secret-never-printed';
let worker: Awaited<ReturnType<typeof startFakeWorker>>;
let env: NodeJS.ProcessEnv;

beforeAll(async () => {
  worker = await startFakeWorker({ clients: { alice: SECRET } });
  env = cleanEnv({ GASTOWN_URL: worker.url, GASTOWN_CLIENT_ID: 'alice', GASTOWN_CLIENT_SECRET: SECRET });
});
afterAll(async () => {
  removeHomes();
  await worker.close();
});

const iso = (offsetMs: number) => new Date(Date.now() + offsetMs).toISOString();
const agent = (id: string, fields: Record<string, unknown>) => ({
  id,
  role: 'polecat',
  rigId: 'rig-1',
  beadId: null,
  status: 'working',
  tokenExpiresAt: iso(7 * 3_600_000 + 30_000),
  tokenRefreshedAt: iso(-3_600_000),
  refreshCount: 3,
  refreshFailures: 0,
  nextRefreshAt: iso(3_600_000),
  lastHeartbeatAt: iso(-30_000),
  eventsStored: 4,
  summary: null,
  createdAt: iso(-4 * 3_600_000),
  endedAt: null,
  ...fields,
});

/** Runs a command, expects exit 0, and checks no secret or token reached either stream. */
async function ok(args: string[], options: { env?: NodeJS.ProcessEnv } = {}) {
  const result = await runCli(args, { env: options.env ?? env });
  expect(result.code, `${args.join(' ')}\n${result.stderr}`).toBe(0);
  expect(result.stdout + result.stderr).not.toContain(SECRET);
  for (const token of worker.state.issued) expect(result.stdout + result.stderr).not.toContain(token);
  return result;
}

describe('commands against a Worker', () => {
  beforeEach(() => {
    worker.state.agents = [];
  });

  it('towns create and list (--json is the API shape; human is a table)', async () => {
    const created = json(await ok(['towns', 'create', 'alpha', '--json']));
    expect(created).toEqual({ id: 'town-1', name: 'alpha' });
    const listed = json(await ok(['towns', 'list', '--json']));
    expect(listed).toEqual({ towns: worker.state.towns });
    const human = await ok(['towns', 'list']);
    expect(human.stdout).toMatch(/^ID\s+NAME\s+CREATED\ntown-1\s+alpha\s+\d+(\.\d)?s ago\n$/);
    expect(human.stderr).toBe('');
  });

  it('rigs create passes --git-url', async () => {
    expect(json(await ok(['rigs', 'create', 'town-1', 'main', '--git-url', 'https://example.com/r.git', '--json']))).toEqual({ id: 'rig-2', name: 'main', gitUrl: 'https://example.com/r.git' });
  });

  it('with exactly one town the town argument may be left out; with two it is a usage error listing them', async () => {
    worker.state.agents = [agent('agent-1', {})];
    expect(json(await ok(['agents', 'list', '--json']))).toMatchObject({ townId: 'town-1', agents: [{ id: 'agent-1' }] });
    worker.state.towns.push({ id: 'town-2', name: 'beta', createdAt: iso(0) });
    const result = await runCli(['agents', 'list'], { env });
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/2 towns.*town-1 \(alpha\).*town-2 \(beta\)/);
    worker.state.towns.pop();
  });

  it('agents start sends role, runtime, bead and an argv command; stop; events oldest first', async () => {
    worker.state.agents = [agent('agent-1', {})];
    const started = json(await ok(['agents', 'start', 'town-1', 'rig-1', '--role', 'polecat', '--bead', 'b-1', '--command', 'node', 'agent.js', '--json']));
    expect(started).toEqual({ id: 'agent-new', role: 'polecat', status: 'starting', echo: { role: 'polecat', beadId: 'b-1', command: ['node', 'agent.js'] } });
    const withRuntime = json(await ok(['agents', 'start', 'town-1', 'rig-1', '--role', 'refinery', '--runtime', 'codex', '--json']));
    expect(withRuntime.echo).toEqual({ role: 'refinery', runtime: 'codex' });
    expect(json(await ok(['agents', 'stop', 'town-1', 'agent-1', '--json']))).toEqual({ id: 'agent-1', role: 'polecat', status: 'stopped' });
    const events = await ok(['agents', 'events', 'town-1', 'agent-1']);
    expect(events.stdout).toMatch(/output {2}first\n.*reply {2}second\n$/);
    expect(json(await ok(['agents', 'events', 'town-1', 'agent-1', '--limit', '1', '--json'])).events).toHaveLength(1);
  });

  it('tokens: stalled, expiring and expired rows stand out; ended agents only with --all', async () => {
    worker.state.agents = [
      agent('healthy', {}),
      agent('stalled', { status: 'stalled', lastHeartbeatAt: iso(-300_000) }),
      agent('expiring', { tokenExpiresAt: iso(90_000), tokenRefreshedAt: iso(-8 * 3_600_000 + 90_000) }),
      agent('expired', { tokenExpiresAt: iso(-10_000) }),
      agent('failing', { refreshFailures: 2 }),
      agent('ended', { status: 'exited', tokenExpiresAt: iso(-3_600_000), endedAt: iso(-60_000) }),
    ];
    const human = await ok(['tokens', 'town-1']);
    const row = (id: string) => human.stdout.split('\n').find((l) => l.startsWith(id)) ?? '';
    expect(human.stdout.split('\n')[0]).toMatch(/^AGENT\s+ROLE\s+STATUS\s+EXPIRES\s+REFRESHED\s+REFRESHES\s+HEARTBEAT\s+NOTE$/);
    expect(row('healthy')).toMatch(/working\s+in 7h\s+1h ago\s+3\s+3\ds ago$/);
    expect(row('stalled')).toMatch(/! stalled$/);
    expect(row('expiring')).toMatch(/in 1m \d+s.*! expires soon$/);
    expect(row('expired')).toMatch(/ago.*! token expired$/);
    expect(row('failing')).toMatch(/3 \(2 failed\).*! refresh failing$/);
    expect(row('ended')).toBe('');
    const all = json(await ok(['tokens', 'town-1', '--all', '--json']));
    expect(all.agents.map((a: { agentId: string; attention: string | null }) => [a.agentId, a.attention])).toEqual([
      ['healthy', null],
      ['stalled', 'stalled'],
      ['expiring', 'expires soon'],
      ['expired', 'token expired'],
      ['failing', 'refresh failing'],
      ['ended', null],
    ]);
    expect(all.agents[0].expiresInSeconds).toBeGreaterThan(7 * 3600 - 60);
  });

  it('refresh shows each agent’s result; --json is the report', async () => {
    worker.state.agents = [agent('agent-1', {}), agent('agent-2', {})];
    const human = await ok(['refresh', 'town-1']);
    expect(human.stdout).toMatch(/AGENT\s+RESULT\s+STATUS\s+TOKEN EXPIRES\nagent-1\s+refreshed\s+200\s+in (8h|7h 59m)\nagent-2.*\nrefreshed 2, failed 0, restarted 0/);
    expect(json(await ok(['refresh', 'town-1', '--json']))).toMatchObject({ refreshed: 2, results: [{ agentId: 'agent-1', result: 'refreshed' }, { agentId: 'agent-2' }] });
  });

  it('mayor sends, waits for the reply in the conversation and prints it', async () => {
    const human = await ok(['mayor', 'town-1', 'build the thing']);
    expect(human.stdout).toBe('on it: build the thing\n');
    const machine = json(await ok(['mayor', 'and test it', '--json']));
    expect(machine).toMatchObject({ agentId: 'mayor-1', delivered: true, replies: [{ from: 'mayor', text: 'on it: and test it' }] });
    expect(machine.replies[0].id).toBeGreaterThan(machine.messageId);
  });

  it('mayor without a reply before --timeout → 1 no_reply', async () => {
    worker.state.mayorReplies = false;
    try {
      const result = await runCli(['mayor', 'town-1', 'hello?', '--timeout', '1', '--json'], { env });
      expect(result.code).toBe(1);
      expect(json(result).error.code).toBe('no_reply');
    } finally {
      worker.state.mayorReplies = true;
    }
  });

  it('settings: env values are write-only and may come from the caller’s environment', async () => {
    const set = json(await ok(['settings', 'set', 'town-1', '--runtime', 'codex', '--env', 'OPENAI_API_KEY', '--env', 'MODE=fast', '--json'], { env: { ...env, OPENAI_API_KEY: 'sk-from-env' } }));
    expect(set).toEqual({ runtime: 'codex', agentEnvNames: ['OPENAI_API_KEY', 'MODE'] });
    expect(worker.state.lastSettingsBody).toEqual({ runtime: 'codex', agentEnv: { OPENAI_API_KEY: 'sk-from-env', MODE: 'fast' } });
    const shown = await ok(['settings', 'show', 'town-1']);
    expect(shown.stdout).toBe('runtime: codex\nagent env: OPENAI_API_KEY, MODE\n');
    expect(shown.stdout).not.toContain('sk-from-env');
    json(await ok(['settings', 'set', 'town-1', '--unset', 'MODE', '--json']));
    expect(worker.state.lastSettingsBody).toEqual({ agentEnv: { MODE: null } });
    const missing = await runCli(['settings', 'set', 'town-1', '--env', 'NOT_SET_ANYWHERE'], { env });
    expect(missing.code).toBe(2);
  });

  it('events: the retained events, then exits; --json is one object a line', async () => {
    worker.publish('agent.started', { agentId: 'a1' });
    worker.publish('bead.created', { beadId: 'b1' });
    const human = await ok(['events', 'town-1']);
    expect(human.stdout).toBe('#1  agent.started  {"agentId":"a1"}\n#2  bead.created  {"beadId":"b1"}\n');
    const machine = await ok(['events', 'town-1', '--json', '--after', '1']);
    expect(machine.stdout.trim().split('\n').map((l) => JSON.parse(l))).toEqual([{ id: 2, type: 'bead.created', data: { beadId: 'b1' } }]);
  });

  const systemNode = spawnSync('sh', ['-c', 'command -v node'], { encoding: 'utf8', env: { PATH: '/usr/local/bin:/usr/bin:/bin' } }).stdout.trim();
  it.each([
    { launcher: 'the project’s Node 22', node: undefined },
    ...(systemNode ? [{ launcher: `the system Node (${systemNode}, the launcher passes the signal on)`, node: systemNode }] : []),
  ])('events --follow under $launcher: survives a stream ended by the server and an expired token; Ctrl-C → exit 0', async ({ node }) => {
    const child = startCli(['events', 'town-1', '--follow', '--json'], { env, ...(node ? { node } : {}) });
    const lines = () => child.output().trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as { id: number });
    await expect.poll(lines, { timeout: 10_000 }).toHaveLength(worker.state.events.length);
    const before = worker.state.tokenRequests.length;
    for (const token of worker.state.issued) worker.state.revoked.add(token);
    worker.endStreams();
    worker.publish('agent.completed', { agentId: 'a1' });
    await expect.poll(() => lines().at(-1)?.id, { timeout: 10_000 }).toBe(worker.state.events.length);
    expect(worker.state.tokenRequests.length).toBe(before + 1);
    expect(new Set(lines().map((l) => l.id)).size).toBe(lines().length);
    child.kill('SIGINT');
    const result = await child.result;
    expect(result.code, result.stderr).toBe(0);
    expect(result.signal).toBeNull();
  });

  it('token inspect: a user token from the Worker, an agent token file, an expired token; never the token itself', async () => {
    json(await ok(['towns', 'list', '--json']));
    const userToken = worker.state.issued.at(-1)!;
    const user = json(await ok(['token', 'inspect', userToken, '--json']));
    expect(user).toMatchObject({ signatureVerified: false, source: 'argument', kind: 'user', subject: 'user access token of client alice', expired: false });
    expect(user.expiresInSeconds).toBeGreaterThan(3500);

    const key = new TextEncoder().encode('an-agent-secret-of-at-least-32-bytes!!');
    const agentToken = await new SignJWT({ agentId: 'agent-9', townId: 'town-1', rigId: 'rig-1', userId: 'alice', gen: 4 })
      .setProtectedHeader({ alg: 'HS256', kid: 'k2' }).setSubject('agent-9').setIssuer('gastown').setAudience('gastown-agent')
      .setIssuedAt(Math.floor(Date.now() / 1000) - 7200).setExpirationTime(Math.floor(Date.now() / 1000) - 60).sign(key);
    const file = join(env.HOME!, 'agent-9.jwt');
    writeFileSync(file, `${agentToken}\n`);
    const human = await runCli(['token', 'inspect', file], { env: cleanEnv() });
    expect(human.code).toBe(0);
    expect(human.stdout).toMatch(/signature: NOT verified/);
    expect(human.stdout).toMatch(/for: +agent agent-9 in town town-1, rig rig-1, user alice/);
    expect(human.stdout).toMatch(/expires: .*EXPIRED 1m( \d+s)? ago; lifetime 1h 59m/);
    expect(human.stdout).toMatch(/generation 4, key id k2/);
    expect(human.stdout + human.stderr).not.toContain(agentToken);
    expect(human.stdout).not.toContain(agentToken.split('.')[2]);

    const piped = json(await runCli(['token', 'inspect', '-', '--json'], { env: cleanEnv(), input: agentToken }));
    expect(piped).toMatchObject({ source: 'stdin', kind: 'agent', expired: true });

    const garbage = join(env.HOME!, 'garbage.jwt');
    writeFileSync(garbage, 'not a token\n');
    const bad = await runCli(['token', 'inspect', garbage, '--json'], { env: cleanEnv() });
    expect(bad.code).toBe(1);
    expect(json(bad).error.code).toBe('invalid_token');
  });

  it.each([
    ['a missing file', () => join(env.HOME!, 'no-such-token.jwt')],
    ['a missing file without a dot', () => join(env.HOME!, 'no-such-token')],
    ['a directory', () => env.HOME!],
    ['neither a file nor a JWT', () => 'not.a.jwt'],
  ])('token inspect of %s is a usage error: exit 2, said without echoing the argument', async (_what, arg) => {
    const path = arg();
    const result = await runCli(['token', 'inspect', path, '--json'], { env: cleanEnv() });
    expect(result.code).toBe(2);
    expect(json(result)).toEqual({ error: { code: 'usage', message: 'the argument is neither a JWT nor an existing file' } });
    expect(result.stderr).toBe('gastown: the argument is neither a JWT nor an existing file\n');
    expect(result.stdout + result.stderr).not.toContain(path);
  });
});
