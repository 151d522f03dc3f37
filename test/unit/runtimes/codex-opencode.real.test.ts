/**
 * The real `codex` and `opencode` CLIs (pinned), offline: the configuration Gastown writes
 * is read by their own `mcp` commands (opencode connects to the real Gastown MCP server),
 * and whole agents run through the runner against the scripted model (Codex: Responses
 * API; opencode: its anthropic provider), calling Gastown tools through MCP.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { cliCommand } from '../../../container/src/runtimes/cli-bin.ts';
import { codex } from '../../../container/src/runtimes/codex.ts';
import { MCP_SERVER_FILE } from '../../../container/src/runtimes/instructions.ts';
import { opencode } from '../../../container/src/runtimes/opencode.ts';
import type { AgentSpec, RuntimeName } from '../../../container/src/runtimes/types.ts';
import { MAYOR_SCRIPT, POLECAT_SCRIPT, startScriptedModel, type ScriptedModel } from '../../support/scripted-model.ts';
import { startAgentFixture, type AgentFixture } from '../plugin/agent-fixture.ts';
import { startAgentProcess, type AgentProcess } from './agent-process.ts';

function run(argv: string[], env: Record<string, string>, cwd: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(argv[0]!, argv.slice(1), { cwd, env: { PATH: process.env.PATH ?? '', ...env }, timeout: 60_000 }, (err, stdout, stderr) =>
      resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr }));
  });
}

function specFor(f: AgentFixture, role: string, homeDir: string): AgentSpec {
  return {
    agentId: f.agentId, townId: f.townId, rigId: 'rig-1', role, beadId: null, apiUrl: f.env.GASTOWN_API_URL!, tokenFile: f.tokenFile,
    controlUrl: f.control.url, nonce: f.nonce, workDir: homeDir, homeDir, nodePath: process.execPath,
  };
}

const toolResults = (a: AgentProcess) => a.events.filter((e) => e.type === 'tool' && e.phase === 'result').map((e) => [e.name, e.ok]);

describe('codex and opencode accept the generated configuration offline', () => {
  let f: AgentFixture;
  let home: string;
  afterEach(async () => {
    rmSync(home, { recursive: true, force: true });
    await f?.close();
  });

  it('codex mcp list/get (CODEX_HOME) show the Gastown MCP server: the control server Node, the server file, identity env without a token', async () => {
    f = await startAgentFixture({ role: 'polecat' });
    home = mkdtempSync(join(tmpdir(), 'gastown-codex-home-'));
    const agent = specFor(f, 'polecat', home);
    await codex.prepare(agent, {});
    const env = { HOME: home, CODEX_HOME: join(home, '.codex') };
    const bin = cliCommand('@openai/codex', 'codex', process.execPath);
    const list = await run([...bin, 'mcp', 'list', '--json'], env, home);
    expect(list.code).toBe(0);
    const servers = JSON.parse(list.stdout) as Array<{ name: string; enabled: boolean; transport: { type: string; command: string; args: string[]; env: Record<string, string> } }>;
    expect(servers.map((s) => s.name)).toEqual(['gastown']);
    expect(servers[0]!.transport).toMatchObject({ type: 'stdio', command: process.execPath, args: [MCP_SERVER_FILE] });
    const get = await run([...bin, 'mcp', 'get', 'gastown', '--json'], env, home);
    expect(get.code).toBe(0);
    expect(get.stdout).toContain(f.agentId);
    expect(list.stdout + get.stdout).not.toMatch(/eyJ/);
  });

  it.each([
    ['polecat', 'workspace-write', 'enabled', {}],
    ['refinery', 'workspace-write', 'enabled', {}],
    ['mayor', 'read-only', 'restricted', {}],
    ['polecat whose GASTOWN_CODEX_CONFIG has its own [sandbox_workspace_write]', 'workspace-write', 'restricted', { GASTOWN_CODEX_CONFIG: '[sandbox_workspace_write]\nnetwork_access = false' }],
  ])('codex resolves the %s config to sandbox %s with network %s from its shell (codex debug prompt-input: what the model is told)', async (who, sandbox, network, env) => {
    const role = who.split(' ')[0]!;
    f = await startAgentFixture({ role });
    home = mkdtempSync(join(tmpdir(), 'gastown-codex-home-'));
    await codex.prepare(specFor(f, role, home), env);
    const shown = await run([...cliCommand('@openai/codex', 'codex', process.execPath), 'debug', 'prompt-input'], { HOME: home, CODEX_HOME: join(home, '.codex') }, home);
    expect(shown.code).toBe(0);
    expect(shown.stdout).toContain(`\`sandbox_mode\` is \`${sandbox}\``);
    expect(shown.stdout).toMatch(new RegExp(`Network access is ${network}\\b`));
  });

  it('opencode mcp list connects to the real Gastown MCP server with the generated opencode.json', async () => {
    f = await startAgentFixture({ role: 'mayor' });
    home = mkdtempSync(join(tmpdir(), 'gastown-opencode-home-'));
    const agent = specFor(f, 'mayor', home);
    await opencode.prepare(agent, {});
    const { env } = opencode.launch(agent, { prompt: '', sessionId: null });
    const listed = await run([...cliCommand('opencode-ai', 'opencode', process.execPath), 'mcp', 'list'], env, home);
    expect(listed.code).toBe(0);
    // eslint-disable-next-line no-control-regex
    const text = listed.stdout.replace(/\x1b\[[0-9;]*m/g, '');
    expect(text).toMatch(/✓ gastown\s+connected/);
    expect(text).toContain(MCP_SERVER_FILE);
  });
});

describe.each<[RuntimeName, (m: ScriptedModel) => Record<string, string>]>([
  ['codex', (m) => ({
    OPENAI_API_KEY: 'sk-scripted',
    GASTOWN_CODEX_CONFIG: `model = "gpt-5.1-codex"\nmodel_provider = "scripted"\n[model_providers.scripted]\nname = "scripted"\nbase_url = "${m.url}/v1"\nwire_api = "responses"\nenv_key = "OPENAI_API_KEY"\nrequest_max_retries = 0\nstream_max_retries = 0`,
  })],
  ['opencode', (m) => ({ ANTHROPIC_BASE_URL: `${m.url}/v1`, ANTHROPIC_API_KEY: 'sk-scripted', GASTOWN_OPENCODE_CONFIG: JSON.stringify({ model: 'anthropic/claude-sonnet-4-5' }) })],
])('%s runtime with the real CLI, one process per message', (runtime, modelEnv) => {
  let f: AgentFixture;
  let model: ScriptedModel;
  let agent: AgentProcess | null = null;
  afterEach(async () => {
    agent?.kill();
    agent = null;
    await model?.close();
    await f?.close();
  });

  it('polecat: gt_prime then gt_done through MCP, exits 0', async () => {
    f = await startAgentFixture({ role: 'polecat' });
    model = await startScriptedModel(POLECAT_SCRIPT);
    agent = startAgentProcess(runtime, { ...f.env, ...modelEnv(model), GASTOWN_BEAD_ID: 'bead-primed' });
    expect(await agent.exit).toBe(0);
    expect(toolResults(agent)).toEqual([['gt_prime', true], ['gt_done', true]]);
    expect(agent.events[0]).toMatchObject({ type: 'session', runtime });
    expect(agent.events.filter((e) => e.type === 'assistant').map((e) => e.text)).toEqual(['Done: reported my bead finished.']);
    expect(agent.events.filter((e) => e.type === 'result')).toMatchObject([{ ok: true }]);
    // the runner's own gt_prime at start (the bead's title), then the model's
    expect(f.worker.calls.map((c) => [c.kind, c.body])).toEqual([['tools/gt_prime', {}], ['tools/gt_prime', {}], ['tools/gt_done', { summary: 'worked on bead-primed' }]]);
    expect(model.unknownToolResults).toBe(0);
    expect(model.requests.filter((r) => !r.side)[0]!.raw).toMatch(/You are a polecat: you work one bead, bead bead-primed \(\\"primed work\\"\)/);
  });

  it('polecat whose token is revoked: the failed MCP calls are tool results with ok false and the error, never a token; exits 1', async () => {
    f = await startAgentFixture({ role: 'polecat' });
    model = await startScriptedModel(POLECAT_SCRIPT);
    f.worker.revoked.add(f.agentId);
    agent = startAgentProcess(runtime, { ...f.env, ...modelEnv(model), GASTOWN_BEAD_ID: 'bead-42' });
    expect(await agent.exit).toBe(1);
    expect(toolResults(agent)).toEqual([['gt_prime', false], ['gt_done', false]]);
    const done = agent.events.find((e) => e.type === 'tool' && e.phase === 'result' && e.name === 'gt_done')!;
    expect(JSON.parse(String(done.output))).toEqual({ error: { status: 401, code: 'token_revoked', message: '/tools/gt_done → 401 token_revoked' } });
    expect(JSON.stringify(agent.events)).not.toMatch(/eyJ/);
    expect(agent.events.at(-1)).toMatchObject({ type: 'error', code: 'not_done' });
  });

  it('mayor: each message is a process; the second resumes the first session (the model sees the whole conversation) and replies', async () => {
    f = await startAgentFixture({ role: 'mayor' });
    model = await startScriptedModel(MAYOR_SCRIPT);
    agent = startAgentProcess(runtime, { ...f.env, ...modelEnv(model) });
    agent.send('Fix the login page');
    await agent.waitFor((e) => e.type === 'reply' && /^Filed/.test(String(e.text)));
    const mark = agent.events.length;
    agent.send('Add a logout button');
    const second = await agent.waitFor((e) => e.type === 'reply' && /^Filed/.test(String(e.text)), 60_000, mark);
    expect(second.text).toMatch(/^Filed bead-3 and handed it to polecat-for-bead-3\.$/);
    const turns = model.requests.filter((r) => !r.side);
    const firstOfSecond = turns.find((r) => r.userText === 'Add a logout button')!;
    const lastOfFirst = turns.filter((r) => r.userText === 'Fix the login page').at(-1)!;
    expect(firstOfSecond.messages).toBeGreaterThan(lastOfFirst.messages);
    expect(f.worker.calls.map((c) => c.kind)).toEqual(['tools/gt_bead_create', 'tools/gt_sling', 'tools/gt_bead_create', 'tools/gt_sling']);
    agent.closeStdin();
    expect(await agent.exit).toBe(0);
  });
});
