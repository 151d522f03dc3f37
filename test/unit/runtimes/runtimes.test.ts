/**
 * Each runtime module on its own: the files it writes, the argv and env it returns, how it
 * adapts messages, and how it parses output lines captured from the real CLIs
 * (fixtures/*.jsonl, recorded against the scripted model).
 */
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BUILTIN_AGENT_FILE, ContractLineParser, builtin } from '../../../container/src/runtimes/builtin.ts';
import { CLAUDE_GASTOWN_TOOLS, ClaudeStreamParser, claudeAllowedTools, claudeCode } from '../../../container/src/runtimes/claude-code.ts';
import { CodexJsonParser, codex, codexConfig } from '../../../container/src/runtimes/codex.ts';
import { RUNTIMES, RUN_AGENT_FILE, agentCommand, isRuntimeName } from '../../../container/src/runtimes/index.ts';
import { GT_BIN_DIR } from '../../../container/src/runtimes/cli-bin.ts';
import { MCP_SERVER_FILE, roleInstructions } from '../../../container/src/runtimes/instructions.ts';
import { OpencodeJsonParser, opencode, opencodeConfig } from '../../../container/src/runtimes/opencode.ts';
import { gastownToolName, type AgentSpec, type GastownEvent, type OutputParser } from '../../../container/src/runtimes/types.ts';

const IDENTITY = {
  GASTOWN_AGENT_ID: 'polecat-1', GASTOWN_TOWN_ID: 'town-1', GASTOWN_RIG_ID: 'rig-1', GASTOWN_ROLE: 'polecat', GASTOWN_API_URL: 'http://worker',
  GASTOWN_TOKEN_FILE: '/state/tokens/polecat-1.jwt', GASTOWN_CONTROL_URL: 'http://127.0.0.1:8080', GASTOWN_AGENT_NONCE: 'nonce-1',
};

let home: string;
const spec = (role = 'polecat', extra: Partial<AgentSpec> = {}): AgentSpec => ({
  agentId: IDENTITY.GASTOWN_AGENT_ID, townId: 'town-1', rigId: 'rig-1', role, beadId: 'bead-9', beadTitle: 'Fix login', apiUrl: 'http://worker',
  tokenFile: IDENTITY.GASTOWN_TOKEN_FILE, controlUrl: IDENTITY.GASTOWN_CONTROL_URL, nonce: 'nonce-1', workDir: '/work/polecat-1', homeDir: home, nodePath: '/opt/node/bin/node', ...extra,
});
const fixture = (name: string) => readFileSync(new URL(`./fixtures/${name}`, import.meta.url), 'utf8').split('\n').filter(Boolean);
const parseAll = (parser: OutputParser, lines: string[]) => lines.flatMap((l) => parser.parse(l));
const shape = (events: GastownEvent[]) => events.map((e) => (e.type === 'tool' ? `tool:${e.phase}:${e.name}${e.phase === 'result' ? `:${e.ok}` : ''}` : e.type));

beforeEach(() => {
  home = mkdtempSync(join(tmpdir(), 'gastown-runtime-unit-'));
});
afterEach(() => rmSync(home, { recursive: true, force: true }));

describe('registry and command', () => {
  it('names the four runtimes; builtin runs the built-in agent directly, CLI runtimes run under the runner', () => {
    expect(Object.keys(RUNTIMES)).toEqual(['builtin', 'claude-code', 'codex', 'opencode']);
    expect(isRuntimeName('codex')).toBe(true);
    expect(isRuntimeName('bash')).toBe(false);
    expect(agentCommand('builtin', '/n')).toEqual(['/n', BUILTIN_AGENT_FILE]);
    expect(agentCommand('opencode', '/n')).toEqual(['/n', RUN_AGENT_FILE, 'opencode']);
  });

  it('builtin speaks the contract: messages as contract lines, each JSON line is its event', () => {
    expect(builtin.encodeMessage('hi')).toBe('{"type":"message","text":"hi"}');
    expect(builtin.launch(spec()).argv).toEqual(['/opt/node/bin/node', BUILTIN_AGENT_FILE]);
    expect(new ContractLineParser().parse('{"type":"reply","text":"x"}')).toEqual([{ type: 'reply', text: 'x' }]);
    expect(new ContractLineParser().parse('plain')).toEqual([{ type: 'output', text: 'plain' }]);
  });

  it('maps CLI tool names to Gastown tool names, other tools unchanged', () => {
    expect(gastownToolName('mcp__gastown__gt_done')).toBe('gt_done');
    expect(gastownToolName('gastown_gt_mail_check')).toBe('gt_mail_check');
    expect(gastownToolName('Bash')).toBe('Bash');
    expect(gastownToolName('mcp__other__gt_done')).toBe('mcp__other__gt_done');
  });
});

describe('role instructions', () => {
  it('only roles with a shell are told about gt: the mayor has none in any runtime, so its instructions say it works through the tools only', () => {
    const mayor = roleInstructions(spec('mayor'));
    expect(mayor).not.toMatch(/`gt`|gt --help/);
    expect(mayor).toContain('you run no shell commands');
    // what the mayor may run, runtime by runtime
    expect(claudeAllowedTools({ role: 'mayor' })).toEqual(CLAUDE_GASTOWN_TOOLS);
    expect(codexConfig(spec('mayor'))).toContain('sandbox_mode = "read-only"');
    expect(opencodeConfig(spec('mayor')).permission).toMatchObject({ bash: 'deny' });
    for (const role of ['polecat', 'refinery']) {
      expect(roleInstructions(spec(role))).toContain('a shell command, `gt` (`gt --help`)');
      expect(claudeAllowedTools({ role })).toContain('Bash');
    }
  });
});

describe('claude-code', () => {
  it('writes CLAUDE.md with the role instructions and an MCP config with identity env, never a token', async () => {
    await claudeCode.prepare(spec('polecat'));
    const md = readFileSync(join(home, '.claude', 'CLAUDE.md'), 'utf8');
    expect(md).toMatch(/You are a polecat: you work one bead, bead bead-9 \("Fix login"\)/);
    for (const tool of ['gt_prime', 'gt_done', 'gt_status', 'gt_mail_send']) expect(md).toContain(tool);
    const path = join(home, '.gastown', 'claude-mcp.json');
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(JSON.parse(readFileSync(path, 'utf8'))).toEqual({ mcpServers: { gastown: { type: 'stdio', command: '/opt/node/bin/node', args: [MCP_SERVER_FILE], env: IDENTITY } } });
  });

  it('argv: print mode, stream-json both ways, strict MCP config, allowed tools by role; env: home, gt on PATH', () => {
    const { argv, env, defaults } = claudeCode.launch(spec('mayor'));
    expect(argv.slice(1)).toEqual(['-p', '--input-format', 'stream-json', '--output-format', 'stream-json', '--verbose', '--mcp-config', join(home, '.gastown', 'claude-mcp.json'), '--strict-mcp-config', '--allowedTools', CLAUDE_GASTOWN_TOOLS.join(',')]);
    expect(argv).not.toContain('--dangerously-skip-permissions');
    expect(env).toMatchObject({ HOME: home, GASTOWN_NODE: '/opt/node/bin/node' });
    expect(env.PATH!.split(':')[0]).toBe(GT_BIN_DIR);
    expect(defaults).toMatchObject({ ENABLE_TOOL_SEARCH: 'false' });
    expect(claudeAllowedTools({ role: 'polecat' })).toEqual([...CLAUDE_GASTOWN_TOOLS, 'Bash', 'Edit', 'Write', 'Read', 'NotebookEdit']);
    expect(claudeAllowedTools({ role: 'refinery' })).toEqual([...CLAUDE_GASTOWN_TOOLS, 'Bash', 'Read']);
  });

  it('a message is one stream-json user line; only a polecat has its stdin closed after a turn', () => {
    expect(JSON.parse(claudeCode.encodeMessage('Fix "it"\nnow'))).toEqual({ type: 'user', message: { role: 'user', content: 'Fix "it"\nnow' } });
    expect(['mayor', 'polecat', 'refinery'].map((role) => claudeCode.closeAfterTurn(spec(role)))).toEqual([false, true, false]);
  });

  it('parses a real mayor stream: session with MCP status, replies, tool calls and results by Gastown name, the result', () => {
    const parser = new ClaudeStreamParser({ role: 'mayor' });
    const events = parseAll(parser, fixture('claude-code-mayor.jsonl'));
    expect(shape(events)).toEqual(['session', 'reply', 'tool:call:gt_bead_create', 'tool:result:gt_bead_create:true', 'tool:call:gt_sling', 'tool:result:gt_sling:true', 'reply', 'result']);
    expect(events[0]).toMatchObject({ mcpServers: [{ name: 'gastown', status: 'connected' }] });
    expect(events[2]).toMatchObject({ input: { title: 'Please fix the login page' } });
    expect(events.at(-1)).toMatchObject({ type: 'result', ok: true, text: 'Filed bead-1 and handed it to polecat-for-bead-1.', turns: 3, usage: { inputTokens: 300, outputTokens: 60 } });
    expect(parser.sessionId).toBe('17a0522b-e72d-4562-85dc-1e9e6c07b542');
  });

  it('assistant text is an assistant event for other roles; unknown and non-JSON lines are output', () => {
    const parser = new ClaudeStreamParser({ role: 'polecat' });
    expect(parser.parse('{"type":"assistant","message":{"content":[{"type":"text","text":"hi"}]}}')).toEqual([{ type: 'assistant', text: 'hi' }]);
    expect(parser.parse('{"type":"rate_limit_event"}')).toEqual([{ type: 'output', text: '{"type":"rate_limit_event"}' }]);
    expect(parser.parse('not json')).toEqual([{ type: 'output', text: 'not json' }]);
    const failed = parser.parse('{"type":"user","message":{"content":[{"type":"tool_result","tool_use_id":"t1","is_error":true,"content":"{\\"error\\":{\\"status\\":401}}"}]}}');
    expect(failed).toEqual([{ type: 'tool', phase: 'result', id: 't1', name: null, ok: false, output: '{"error":{"status":401}}' }]);
  });
});

describe('codex', () => {
  it('writes config.toml (sandbox by role, the MCP server with identity env) and AGENTS.md into CODEX_HOME', async () => {
    await codex.prepare(spec('mayor'), {});
    const toml = readFileSync(join(home, '.codex', 'config.toml'), 'utf8');
    expect(toml).toContain('approval_policy = "never"\nsandbox_mode = "read-only"');
    expect(toml).toContain(`[mcp_servers.gastown]\ncommand = "/opt/node/bin/node"\nargs = [${JSON.stringify(MCP_SERVER_FILE)}]`);
    expect(toml).toContain('GASTOWN_TOKEN_FILE = "/state/tokens/polecat-1.jwt"');
    expect(toml).not.toMatch(/SESSION_TOKEN|eyJ/);
    expect(readFileSync(join(home, '.codex', 'AGENTS.md'), 'utf8')).toMatch(/You are the mayor/);
  });

  it("the user's TOML goes before Gastown's tables, and a top-level key it sets is not written twice", () => {
    const toml = codexConfig(spec('polecat'), 'model = "o9"\nsandbox_mode = "danger-full-access"\n[model_providers.x]\nname = "x"');
    expect(toml.match(/sandbox_mode/g)).toHaveLength(1);
    expect(toml.indexOf('[model_providers.x]')).toBeLessThan(toml.indexOf('[mcp_servers.gastown]'));
    expect(codexConfig(spec('polecat'))).toContain('sandbox_mode = "workspace-write"');
  });

  it('polecats and the refinery (workspace-write) get network from their shell, for gt, git push and installs; the mayor (read-only) does not', () => {
    for (const role of ['polecat', 'refinery']) expect(codexConfig(spec(role))).toContain('\n[sandbox_workspace_write]\nnetwork_access = true\n');
    expect(codexConfig(spec('mayor'))).not.toContain('sandbox_workspace_write');
    // a table the user's TOML already defines is not written twice (TOML refuses that)
    const own = codexConfig(spec('polecat'), '[sandbox_workspace_write]\nnetwork_access = false');
    expect(own.match(/sandbox_workspace_write/g)).toHaveLength(1);
    expect(codexConfig(spec('polecat'), 'sandbox_workspace_write.writable_roots = ["/cache"]').match(/sandbox_workspace_write/g)).toHaveLength(1);
  });

  it('first turn: exec with the prompt on stdin; later turns: exec resume <thread id>', () => {
    const first = codex.launch(spec(), { prompt: 'do it', sessionId: null });
    expect(first.argv.slice(-4)).toEqual(['exec', '--json', '--skip-git-repo-check', '-']);
    expect(first.stdin).toBe('do it');
    expect(first.env.CODEX_HOME).toBe(join(home, '.codex'));
    const later = codex.launch(spec(), { prompt: 'again', sessionId: 'thread-1' });
    expect(later.argv.slice(-6)).toEqual(['exec', 'resume', '--json', '--skip-git-repo-check', 'thread-1', '-']);
  });

  it('parses real exec --json lines of two turns: session, tool calls by Gastown name, the answer, one result per turn', () => {
    const parser = new CodexJsonParser({ role: 'polecat' });
    const events = parseAll(parser, fixture('codex-polecat-resume.jsonl'));
    // each process starts with the thread and Codex's non-fatal note on an unknown model
    const turn = ['session', 'error', 'tool:call:gt_prime', 'tool:result:gt_prime:true', 'tool:call:gt_done', 'tool:result:gt_done:true', 'assistant', 'result'];
    expect(shape(events)).toEqual([...turn, ...turn]);
    expect(events[1]).toMatchObject({ type: 'error', fatal: false });
    expect(events.find((e) => e.phase === 'call' && e.name === 'gt_done')).toMatchObject({ input: { summary: 'worked on bead-primed' } });
    expect(parser.sessionId).toBe('01a2104b-3343-7452-a553-b7dc485df940');
    expect(new CodexJsonParser({ role: 'mayor' }).parse('{"type":"turn.failed","error":{"message":"quota"}}')).toEqual([{ type: 'result', ok: false, error: 'quota', sessionId: null }]);
  });
});

describe('opencode', () => {
  it('writes opencode.json (local MCP server, instructions file, permissions by role) and the instructions', async () => {
    await opencode.prepare(spec('refinery'), { GASTOWN_OPENCODE_CONFIG: '{"model":"anthropic/x","mcp":{"evil":{}}}' });
    const config = JSON.parse(readFileSync(join(home, '.config', 'opencode', 'opencode.json'), 'utf8'));
    expect(config).toMatchObject({
      model: 'anthropic/x',
      permission: { edit: 'deny', bash: 'allow' },
      mcp: { gastown: { type: 'local', command: ['/opt/node/bin/node', MCP_SERVER_FILE], environment: { ...IDENTITY, GASTOWN_ROLE: 'refinery' }, enabled: true } },
      instructions: [join(home, '.gastown', 'GASTOWN.md')],
    });
    expect(Object.keys(config.mcp)).toEqual(['gastown']);
    expect(readFileSync(join(home, '.gastown', 'GASTOWN.md'), 'utf8')).toMatch(/You are the refinery[\s\S]*gt_review_complete/);
    await expect(opencode.prepare(spec(), { GASTOWN_OPENCODE_CONFIG: '[1]' })).rejects.toThrow(/JSON object/);
    expect(opencodeConfig(spec('mayor')).permission).toEqual({ edit: 'deny', bash: 'deny', webfetch: 'deny' });
  });

  it('run --format json with the prompt on stdin; later turns --session <id>; config and data under the home', () => {
    const first = opencode.launch(spec(), { prompt: 'p', sessionId: null });
    expect(first.argv.slice(1)).toEqual(['run', '--format', 'json']);
    expect(first.stdin).toBe('p');
    expect(first.env).toMatchObject({ HOME: home, OPENCODE_CONFIG: join(home, '.config', 'opencode', 'opencode.json'), XDG_DATA_HOME: join(home, '.local', 'share') });
    expect(opencode.launch(spec(), { prompt: 'q', sessionId: 'ses_1' }).argv.slice(-2)).toEqual(['--session', 'ses_1']);
  });

  it('parses real run --format json lines of two turns: tool calls and results, text, one result per turn with summed usage', () => {
    const parser = new OpencodeJsonParser({ role: 'polecat' });
    const events = parseAll(parser, fixture('opencode-polecat-resume.jsonl'));
    const turn = ['tool:call:gt_prime', 'tool:result:gt_prime:true', 'tool:call:gt_done', 'tool:result:gt_done:true', 'assistant', 'result'];
    expect(shape(events)).toEqual(['session', ...turn, ...turn]);
    expect(events.filter((e) => e.type === 'result').map((e) => e.usage)).toEqual([{ inputTokens: 300, outputTokens: 60 }, { inputTokens: 600, outputTokens: 120 }]);
    expect(parser.sessionId).toBe(JSON.parse(fixture('opencode-polecat-resume.jsonl')[0]!).sessionID);
  });
});
