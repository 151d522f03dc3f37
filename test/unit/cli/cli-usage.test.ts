import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeWorker } from './fake-worker.ts';
import { cleanEnv, json, removeHomes, ROOT, runCli } from './run-cli.ts';

const SECRET = 's3cret-value-that-must-never-be-printed';
let worker: Awaited<ReturnType<typeof startFakeWorker>>;

beforeAll(async () => {
  worker = await startFakeWorker({ clients: { alice: SECRET, 'from-flag': SECRET, 'from-env': SECRET, 'from-file': SECRET } });
});
afterAll(async () => {
  removeHomes();
  await worker.close();
});

const configured = (extra: Record<string, string | undefined> = {}) => cleanEnv({ GASTOWN_URL: worker.url, GASTOWN_CLIENT_ID: 'alice', GASTOWN_CLIENT_SECRET: SECRET, ...extra });

describe('exit codes', () => {
  it.each([
    { name: 'unknown command', args: ['frobnicate'] },
    { name: 'unknown option', args: ['towns', 'list', '--frob'] },
    { name: 'missing argument', args: ['towns', 'create'] },
    { name: 'too many arguments', args: ['towns', 'list', 'extra'] },
    { name: 'a group without its subcommand', args: ['agents'] },
    { name: 'an invalid --role choice', args: ['agents', 'start', 't', 'r', '--role', 'king'] },
    { name: 'a missing mandatory --role', args: ['agents', 'start', 't', 'r'] },
    { name: 'a non-integer --limit', args: ['agents', 'events', 't', 'a', '--limit', 'ten'] },
    { name: 'settings set with nothing to change', args: ['settings', 'set', 'town-1'] },
  ])('usage error ($name) → 2', async ({ args }) => {
    const result = await runCli(args, { env: configured() });
    expect(result.code, result.stderr).toBe(2);
    expect(result.stdout).toBe('');
    expect(result.stderr).not.toBe('');
  });

  it('a usage error with --json → 2 and one JSON error on stdout', async () => {
    const result = await runCli(['agents', 'start', 't', 'r', '--role', 'king', '--json'], { env: configured() });
    expect(result.code).toBe(2);
    expect(json(result).error.code).toBe('usage');
  });

  it('not configured (no URL, no credentials) → 2 naming what to give', async () => {
    const result = await runCli(['towns', 'list']);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/GASTOWN_URL.*gastown login/);
  });

  it('--help and --version → 0 on stdout', async () => {
    const help = await runCli(['--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/Usage: gastown/);
    expect(help.stdout).toMatch(/Exit codes: 0 ok, 1 failure, 2 usage/);
    const version = await runCli(['--version']);
    expect(version).toMatchObject({ code: 0, stdout: '0.1.0\n' });
  });

  it('an API error → 1; with --json the error object on stdout, no token anywhere', async () => {
    const result = await runCli(['agents', 'list', 'no-such-town', '--json'], { env: configured() });
    expect(result.code).toBe(1);
    expect(json(result)).toEqual({ error: { code: 'not_found', message: 'town no-such-town not found', status: 404 } });
    expect(result.stderr).toMatch(/not_found, HTTP 404/);
    for (const token of worker.state.issued) expect(result.stdout + result.stderr).not.toContain(token);
  });

  it('wrong client secret → 1 with the token endpoint’s 401, the secret not printed', async () => {
    const result = await runCli(['towns', 'list', '--json'], { env: configured({ GASTOWN_CLIENT_SECRET: 'wrong-secret' }) });
    expect(result.code).toBe(1);
    expect(json(result).error).toMatchObject({ code: 'unauthorized', status: 401 });
    expect(result.stdout + result.stderr).not.toContain('wrong-secret');
  });

  it('the Worker unreachable → 1 network_error', async () => {
    const result = await runCli(['towns', 'list', '--json'], { env: configured({ GASTOWN_URL: 'http://127.0.0.1:9' }) });
    expect(result.code).toBe(1);
    expect(json(result).error).toMatchObject({ code: 'network_error', status: 0 });
  });
});

describe('the launcher', () => {
  // Where the machine's Node strips types itself (≥ 22.18) this runs the CLI in-process instead.
  it('runs on the machine’s older Node (re-runs the CLI with the project’s Node 22)', async () => {
    const system = spawnSync('sh', ['-c', 'command -v node'], { encoding: 'utf8', env: { PATH: '/usr/local/bin:/usr/bin:/bin' } }).stdout.trim();
    if (!system) return;
    const result = await runCli(['--version'], { node: system });
    expect(result).toMatchObject({ code: 0, stdout: '0.1.0\n' });
    const usage = await runCli(['towns', 'list', 'x'], { node: system });
    expect(usage.code).toBe(2);
  });

  it('npx gastown in the checkout resolves to this CLI (from a shell whose PATH has only the system Node)', () => {
    const PATH = (process.env.PATH ?? '').split(':').filter((dir) => !dir.includes('node_modules')).join(':');
    const result = spawnSync('npx', ['--no-install', 'gastown', '--version'], { cwd: ROOT, encoding: 'utf8', env: cleanEnv({ PATH }) });
    expect(result.status, result.stderr).toBe(0);
    expect(result.stdout).toBe('0.1.0\n');
  });
});

describe('configuration', () => {
  it('flags override the environment, which overrides the config file', async () => {
    const env = cleanEnv({ GASTOWN_URL: worker.url });
    const file = join(env.XDG_CONFIG_HOME!, 'gastown', 'config.json');
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, JSON.stringify({ url: 'http://127.0.0.1:9', clientId: 'from-file', clientSecret: SECRET }), { mode: 0o600 });
    const used = async (e: NodeJS.ProcessEnv, flags: string[] = []) => {
      worker.state.tokenRequests.length = 0;
      const result = await runCli(['towns', 'list', '--json', ...flags], { env: e });
      expect(result.code, result.stderr).toBe(0);
      return worker.state.tokenRequests;
    };
    expect(await used(env)).toEqual(['from-file']);
    expect(await used({ ...env, GASTOWN_CLIENT_ID: 'from-env' })).toEqual(['from-env']);
    expect(await used({ ...env, GASTOWN_CLIENT_ID: 'from-env' }, ['--client-id', 'from-flag'])).toEqual(['from-flag']);
  });

  it('XDG_CONFIG_HOME unset: ~/.config/gastown/config.json', async () => {
    const env = cleanEnv({ XDG_CONFIG_HOME: undefined });
    const result = await runCli(['login', '--url', worker.url, '--client-id', 'alice', '--client-secret', SECRET, '--json'], { env });
    expect(result.code, result.stderr).toBe(0);
    expect(json(result).configFile).toBe(join(env.HOME!, '.config', 'gastown', 'config.json'));
  });

  it('login stores the credentials with mode 0600, prints no secret (not with --json), and later commands use them', async () => {
    const env = cleanEnv();
    const file = join(env.XDG_CONFIG_HOME!, 'gastown', 'config.json');
    const human = await runCli(['login', '--url', worker.url, '--client-id', 'alice', '--client-secret-stdin'], { env, input: `${SECRET}\n` });
    expect(human.code, human.stderr).toBe(0);
    expect(human.stdout).toMatch(/logged in to .* as alice; saved to .*config\.json \(mode 600\)/);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(statSync(dirname(file)).mode & 0o777).toBe(0o700);
    expect(JSON.parse(readFileSync(file, 'utf8'))).toEqual({ url: worker.url, clientId: 'alice', clientSecret: SECRET });

    const again = await runCli(['login', '--url', worker.url, '--client-id', 'alice', '--client-secret', SECRET, '--json'], { env });
    expect(json(again)).toEqual({ url: worker.url, clientId: 'alice', configFile: file, verified: true });
    for (const result of [human, again]) expect(result.stdout + result.stderr).not.toContain(SECRET);

    const towns = await runCli(['towns', 'list', '--json'], { env });
    expect(towns.code, towns.stderr).toBe(0);

    const logout = await runCli(['logout', '--json'], { env });
    expect(json(logout)).toEqual({ configFile: file, removed: true });
    expect(existsSync(file)).toBe(false);
  });

  it('login with a wrong secret → 1 and nothing stored', async () => {
    const env = cleanEnv();
    const result = await runCli(['login', '--url', worker.url, '--client-id', 'alice', '--client-secret', 'nope-secret'], { env });
    expect(result.code).toBe(1);
    expect(existsSync(join(env.XDG_CONFIG_HOME!, 'gastown', 'config.json'))).toBe(false);
    expect(result.stdout + result.stderr).not.toContain('nope-secret');
  });

  it('login without a secret and no terminal → 2', async () => {
    const result = await runCli(['login', '--url', worker.url, '--client-id', 'alice']);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/--client-secret/);
  });

  it('a config file others can read gets a warning on stderr', async () => {
    const env = cleanEnv();
    const file = join(env.XDG_CONFIG_HOME!, 'gastown', 'config.json');
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, JSON.stringify({ url: worker.url, clientId: 'alice', clientSecret: SECRET }), { mode: 0o644 });
    const result = await runCli(['towns', 'list'], { env });
    expect(result.code).toBe(0);
    expect(result.stderr).toMatch(/readable by others.*chmod 600/);
    expect(result.stderr).not.toContain(SECRET);
  });
});
