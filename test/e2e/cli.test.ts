import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GastownClient } from '../../sdk/index.ts';
import { cleanEnv, json, removeHomes, runCli, startCli, type CliResult } from '../unit/cli/run-cli.ts';
import { eventually, startTownFixture, type TownFixture } from './local-town-fixture.ts';

const TTL_SECONDS = 3;
const CLIENT_ID = 'cli-e2e';
const CLIENT_SECRET = randomBytes(24).toString('base64url');
const ENV_VALUE = 'agent-env-value-never-shown';

/** `gastown` run as a subprocess against a real local town whose access tokens live 3 s. */
describe('gastown CLI against a local town with 3 s access tokens', () => {
  let f: TownFixture;
  let env: NodeJS.ProcessEnv;
  let sdk: GastownClient;

  beforeAll(async () => {
    f = await startTownFixture({ vars: { USER_TOKEN_TTL_SECONDS: String(TTL_SECONDS), GASTOWN_CLIENT_ID: CLIENT_ID, GASTOWN_CLIENT_SECRET: CLIENT_SECRET } });
    env = cleanEnv({ GASTOWN_URL: f.town.workerUrl, GASTOWN_CLIENT_ID: CLIENT_ID, GASTOWN_CLIENT_SECRET: CLIENT_SECRET });
    sdk = new GastownClient({ baseUrl: f.town.workerUrl, clientId: CLIENT_ID, clientSecret: CLIENT_SECRET });
  });
  afterAll(async () => {
    removeHomes();
    await f?.close();
  });

  /** Runs `gastown ...args --json`, expects exit 0 and no secret in the output, returns the parsed stdout. */
  async function ok<T = any>(...args: string[]): Promise<T> {
    const result = await runCli([...args, '--json'], { env });
    expect(result.code, `gastown ${args.join(' ')}\n${result.stderr}`).toBe(0);
    noSecrets(result);
    return json<T>(result);
  }
  const noSecrets = (result: CliResult) => {
    expect(result.stdout + result.stderr).not.toContain(CLIENT_SECRET);
    expect(result.stdout + result.stderr).not.toContain(ENV_VALUE);
  };

  it('each command with --json: towns, rigs, settings, mayor, agents, tokens, refresh, token inspect', async () => {
    const town = await ok('towns', 'create', 'cli-e2e');
    expect(town).toEqual({ id: expect.any(String), name: 'cli-e2e' });
    expect((await ok('towns', 'list')).towns).toEqual([expect.objectContaining({ id: town.id, name: 'cli-e2e' })]);
    const rig = await ok('rigs', 'create', town.id, 'main');
    expect(rig).toMatchObject({ id: expect.any(String), name: 'main' });

    const settings = await ok('settings', 'set', town.id, '--runtime', 'builtin', '--env', `E2E_FLAG=${ENV_VALUE}`);
    expect(settings).toMatchObject({ runtime: 'builtin', agentEnvNames: ['E2E_FLAG'] });
    expect(await ok('settings', 'show')).toMatchObject({ runtime: 'builtin', agentEnvNames: ['E2E_FLAG'] });

    const chat = await ok('mayor', town.id, 'please fix the flaky build', '--timeout', '60');
    expect(chat).toMatchObject({ delivered: true, messageId: expect.any(Number) });
    expect(chat.replies.length).toBeGreaterThan(0);
    expect(chat.replies.every((m: { from: string; id: number }) => m.from === 'mayor' && m.id > chat.messageId)).toBe(true);

    // the only town is the default
    const agents = (await ok('agents', 'list')).agents as Array<{ id: string; role: string; status: string }>;
    const mayor = agents.find((a) => a.role === 'mayor')!;
    expect(mayor.id).toBe(chat.agentId);

    const tokens = await ok('tokens');
    const mayorRow = tokens.agents.find((a: { agentId: string }) => a.agentId === mayor.id);
    expect(mayorRow).toMatchObject({ role: 'mayor', attention: null });
    expect(mayorRow.expiresInSeconds).toBeGreaterThan(0);

    const refresh = await ok('refresh', town.id);
    expect(refresh.results).toContainEqual(expect.objectContaining({ agentId: mayor.id, result: 'refreshed' }));
    expect(refresh.refreshed).toBeGreaterThanOrEqual(1);

    const polecat = await ok('agents', 'start', town.id, rig.id, '--role', 'polecat');
    expect(polecat).toMatchObject({ id: expect.any(String), role: 'polecat' });
    await eventually(async () => (await ok('agents', 'events', town.id, polecat.id)).events.length > 0, 20_000, 'the polecat to report events');
    expect(await ok('agents', 'stop', town.id, polecat.id)).toEqual({ id: polecat.id, role: 'polecat', status: 'stopped' });

    const tokenFile = join(f.stateDir, 'control', 'tokens', `${mayor.id}.jwt`);
    const token = readFileSync(tokenFile, 'utf8').trim();
    const inspect = await runCli(['token', 'inspect', tokenFile, '--json'], { env: cleanEnv() });
    expect(inspect.code).toBe(0);
    expect(json(inspect)).toMatchObject({ signatureVerified: false, source: 'file', kind: 'agent', expired: false, claims: { agentId: mayor.id, townId: town.id, aud: 'gastown-agent' } });
    expect(inspect.stdout).not.toContain(token);

    const missing = await runCli(['agents', 'stop', town.id, 'no-such-agent', '--json'], { env });
    expect(missing.code).toBe(1);
    expect(json(missing).error).toMatchObject({ code: 'not_found', status: 404 });
  });

  it('events --follow across 5 token lifetimes while the mayor works, then Ctrl-C → exit 0', async () => {
    const townId = (await sdk.listTowns())[0]!.id;
    const child = startCli(['events', townId, '--follow', '--json'], { env });
    const lines = () => child.output().split('\n').filter(Boolean).map((l) => JSON.parse(l) as { id?: number; type: string });
    await eventually(async () => lines().length > 0, 20_000, 'the replay to arrive');

    const started = Date.now();
    let sent = 0;
    while (Date.now() - started < 5 * TTL_SECONDS * 1000) {
      await sdk.sendMayorMessage(townId, `follow-up ${++sent}`);
      await new Promise((r) => setTimeout(r, 3_000));
    }
    await eventually(async () => lines().filter((l) => l.type === 'mayor.message').length >= sent + 1, 20_000, 'every mayor message in the stream');
    child.kill('SIGINT');
    const result = await child.result;
    expect(result.code, result.stderr).toBe(0);
    noSecrets(result);

    const items = lines();
    expect(items.filter((l) => l.type === 'gap')).toEqual([]);
    const ids = items.map((l) => l.id!);
    expect(ids.every((id, i) => i === 0 || id > ids[i - 1]!)).toBe(true);
  });
});
