import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, cpSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/client';
import { StdioClientTransport } from '@modelcontextprotocol/client/stdio';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TOOL_NAMES } from '../../container/plugin/tool-definitions.ts';
import { ROOT } from '../../scripts/lib/local-town.ts';
import { freePort } from '../../scripts/lib/ports.ts';

const SECRET = 'image-test-control-secret';

/**
 * There is no Docker engine here, so the image is checked the way it is built: the
 * Dockerfile's COPY lines into a fresh folder (outside this checkout, so nothing resolves
 * from its node_modules), its `npm ci --omit=dev`, and its CMD with its ENV.
 */
describe('the container image, installed and started as the Dockerfile does', () => {
  const app = mkdtempSync(join(tmpdir(), 'gastown-image-'));
  const state = mkdtempSync(join(tmpdir(), 'gastown-image-state-'));
  let server: ChildProcess;
  let url: string;
  const call = async (path: string, body?: unknown) => {
    const res = await fetch(`${url}${path}`, { method: body === undefined ? 'GET' : 'POST', headers: { authorization: `Bearer ${SECRET}`, 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
    return { status: res.status, json: (await res.json()) as any };
  };

  beforeAll(async () => {
    const dockerfile = readFileSync(join(ROOT, 'container/Dockerfile'), 'utf8');
    const copied = [...dockerfile.matchAll(/^COPY (.+) \S+$/gm)].flatMap((m) => m[1]!.split(/\s+/));
    expect(copied.sort()).toEqual(['bin', 'package-lock.json', 'package.json', 'plugin', 'src']);
    for (const path of copied) cpSync(join(ROOT, 'container', path), join(app, path), { recursive: true });
    execFileSync('npm', ['ci', '--omit=dev', '--no-audit', '--no-fund'], { cwd: app, stdio: 'ignore', env: { ...process.env, NODE_ENV: 'production' } });
    // the Dockerfile's RUN chmod: what agents execute is readable by any uid, the state dir traversable
    expect(dockerfile).toContain('chmod -R a+rX,go-w /app && mkdir -p /var/lib/gastown && chmod 0711 /var/lib/gastown');
    execFileSync('chmod', ['-R', 'a+rX,go-w', app]);
    chmodSync(state, 0o711);
    const port = await freePort();
    url = `http://127.0.0.1:${port}`;
    const cmd = JSON.parse(/^CMD (\[.*\])$/m.exec(dockerfile)![1]!) as string[];
    expect(cmd).toEqual(['node', 'src/main.ts']);
    server = spawn(process.execPath, cmd.slice(1), {
      cwd: app,
      // the image's ENV, a loopback host instead of 0.0.0.0, and the secret the Worker would give
      env: { PATH: process.env.PATH, NODE_ENV: 'production', GASTOWN_STATE_DIR: state, PORT: String(port), HOST: '127.0.0.1', CONTAINER_CONTROL_SECRET: SECRET },
      stdio: 'ignore',
    });
    for (let i = 0; ; i++) {
      try {
        if ((await fetch(`${url}/health`)).ok) break;
      } catch {
        if (i > 200) throw new Error('the installed control server did not start');
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }, 180_000);

  afterAll(async () => {
    server?.kill('SIGTERM');
    if (server && server.exitCode === null) await new Promise((r) => server.once('exit', r));
    rmSync(app, { recursive: true, force: true });
    rmSync(state, { recursive: true, force: true });
  });

  it('pins the agent CLIs it installs, and each one runs', () => {
    for (const [bin, version] of [['claude', '2.1.331'], ['codex', '0.169.0'], ['opencode', '1.18.33']] as const) {
      expect(execFileSync(join(app, 'node_modules/.bin', bin), ['--version'], { encoding: 'utf8', env: { PATH: process.env.PATH, HOME: state } })).toContain(version);
    }
  });

  it('runs the Gastown MCP server from the installed copy as the runtimes launch it: the official MCP client lists every tool, and a call goes through', async () => {
    // the launch the installed runtimes write into every CLI's MCP configuration, computed by the installed code
    const spec = { agentId: 'agent-mcp', townId: 'town-1', rigId: 'rig-1', role: 'polecat', beadId: null, apiUrl: 'http://127.0.0.1:9', tokenFile: join(state, 'agent-mcp.jwt'), controlUrl: 'http://127.0.0.1:9', nonce: 'n', workDir: state, homeDir: state, nodePath: process.execPath };
    const printLaunch = "import { gastownMcpServer } from './src/runtimes/instructions.ts'; console.log(JSON.stringify(gastownMcpServer(JSON.parse(process.argv[1]))))";
    const launch = JSON.parse(execFileSync(process.execPath, ['--input-type=module', '-e', printLaunch, JSON.stringify(spec)], { cwd: app, encoding: 'utf8', env: { PATH: process.env.PATH, NODE_ENV: 'production' } })) as { command: string; args: string[]; env: Record<string, string> };
    expect(launch).toMatchObject({ command: process.execPath, args: [join(app, 'plugin/mcp-server.ts')] });
    const client = new Client({ name: 'image-test', version: '1.0.0' });
    await client.connect(new StdioClientTransport({ command: launch.command, args: launch.args, env: { PATH: process.env.PATH ?? '', NODE_ENV: 'production', ...launch.env }, cwd: state, stderr: 'pipe' }));
    try {
      expect((await client.listTools()).tools.map((t) => t.name).sort()).toEqual([...TOOL_NAMES].sort());
      // no token file here: the installed client answers with an error result, not a crash
      const result = await client.callTool({ name: 'gt_status', arguments: {} });
      expect(result.isError).toBe(true);
      expect(JSON.parse((result.content as Array<{ text: string }>)[0]!.text)).toMatchObject({ error: { code: 'no_token_file' } });
    } finally {
      await client.close();
    }
  });

  it('runs an agent from the installed copy, with gt on its PATH and its token in its own file', async () => {
    const now = Math.floor(Date.now() / 1000);
    const claims = Buffer.from(JSON.stringify({ sub: 'agent-1', agentId: 'agent-1', townId: 'town-1', gen: 1, iat: now, exp: now + 600 })).toString('base64url');
    const token = `eyJhbGciOiJIUzI1NiJ9.${claims}.c2ln`;
    const script = 'test -r "$GASTOWN_TOKEN_FILE" && command -v gt >/dev/null && gt --help >/dev/null && touch ready; cat';
    const start = await call('/agents/start', { agentId: 'agent-1', townId: 'town-1', rigId: null, role: 'polecat', token, apiUrl: 'http://127.0.0.1:9', command: ['sh', '-c', script] });
    expect(start.status).toBe(201);
    const listed = (await call('/agents?townId=town-1')).json as Array<{ agentId: string; status: string }>;
    expect(listed).toEqual([expect.objectContaining({ agentId: 'agent-1', status: 'running' })]);
    // the agent made its marker in its own working directory: it could read its token and run gt
    const marker = join(state, 'work', 'agent-1', 'ready');
    for (let i = 0; !existsSync(marker); i++) {
      if (i > 100) throw new Error('the agent did not find its token file and gt');
      await new Promise((r) => setTimeout(r, 100));
    }
    expect((await call('/agents/agent-1/stop', {})).status).toBe(200);
  });
});
