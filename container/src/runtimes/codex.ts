/**
 * Codex as a Gastown agent: one `codex exec --json` process per message, the prompt on its
 * stdin (`-`); later messages resume the thread the first one reported
 * (`codex exec resume <thread_id> -`).
 *
 * Files (CODEX_HOME = `<home>/.codex`): `config.toml` (approvals never asked, a sandbox
 * by role — read-only for the mayor, workspace-write with network for the others — the
 * Gastown MCP server as `[mcp_servers.gastown]`) and `AGENTS.md` (role
 * instructions, which Codex reads from CODEX_HOME). `GASTOWN_CODEX_CONFIG` (TOML, e.g. a
 * model provider) is written between Gastown's top-level keys and its tables; a top-level
 * key it sets is not written by Gastown.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { cliCommand } from './cli-bin.ts';
import { cliBaseEnv, gastownMcpServer, roleInstructions } from './instructions.ts';
import { runtimeConfigValue } from './user-config.ts';
import { clip, parseJsonObject, roleOf, textEvent, type AgentSpec, type GastownEvent, type OutputParser, type PerMessageRuntime } from './types.ts';

const codexHome = (agent: AgentSpec) => join(agent.homeDir, '.codex');
const toml = (value: string) => JSON.stringify(value);

/** The config.toml Gastown writes for an agent (`extra`: the user's TOML). */
export function codexConfig(agent: AgentSpec, extra = ''): string {
  const mcp = gastownMcpServer(agent);
  const top: Record<string, string> = {
    approval_policy: toml('never'),
    // the mayor only talks; polecats and the refinery build and test in their working dir
    sandbox_mode: toml(roleOf(agent) === 'mayor' ? 'read-only' : 'workspace-write'),
  };
  const lines = ['# Written by Gastown for agent ' + agent.agentId];
  for (const [key, value] of Object.entries(top)) if (!new RegExp(`^\\s*${key}\\s*=`, 'm').test(extra)) lines.push(`${key} = ${value}`);
  if (extra.trim()) lines.push('', extra.trim());
  // workspace-write cuts the shell off the network unless this says otherwise: gt, git push
  // and package installs need it. A table the user's TOML defines is theirs (TOML refuses two).
  if (roleOf(agent) !== 'mayor' && !/^\s*(\[\s*sandbox_workspace_write\s*\]|sandbox_workspace_write\s*[.=])/m.test(extra)) {
    lines.push('', '[sandbox_workspace_write]', 'network_access = true');
  }
  lines.push(
    '',
    '[mcp_servers.gastown]',
    `command = ${toml(mcp.command)}`,
    `args = [${mcp.args.map(toml).join(', ')}]`,
    `env = { ${Object.entries(mcp.env).map(([k, v]) => `${k} = ${toml(v)}`).join(', ')} }`,
    'startup_timeout_sec = 30',
    '',
  );
  return lines.join('\n');
}

export const codex: PerMessageRuntime = {
  name: 'codex',
  mode: 'per-message',

  async prepare(agent, env = process.env) {
    await mkdir(codexHome(agent), { recursive: true });
    await writeFile(join(codexHome(agent), 'config.toml'), codexConfig(agent, runtimeConfigValue(env, 'GASTOWN_CODEX_CONFIG')), { mode: 0o600 });
    await writeFile(join(codexHome(agent), 'AGENTS.md'), roleInstructions(agent));
  },

  launch(agent, turn) {
    const argv = [
      ...cliCommand('@openai/codex', 'codex', agent.nodePath),
      'exec', ...(turn.sessionId ? ['resume'] : []), '--json', '--skip-git-repo-check',
      ...(turn.sessionId ? [turn.sessionId] : []), '-',
    ];
    return { argv, env: { ...cliBaseEnv(agent, process.env.PATH), CODEX_HOME: codexHome(agent) }, stdin: turn.prompt };
  },

  createParser(agent) {
    return new CodexJsonParser(agent);
  },
};

interface CodexItem {
  id?: string;
  type?: string;
  text?: string;
  message?: string;
  server?: string;
  tool?: string;
  arguments?: unknown;
  result?: { content?: Array<{ text?: string }>; is_error?: boolean } | null;
  error?: { message?: string } | null;
  status?: string;
  command?: string;
  aggregated_output?: string;
  exit_code?: number | null;
  changes?: Array<{ path?: string; kind?: string }>;
}

/** `codex exec --json` lines → Gastown events. */
export class CodexJsonParser implements OutputParser {
  readonly #agent: Pick<AgentSpec, 'role'>;
  sessionId: string | null = null;

  constructor(agent: Pick<AgentSpec, 'role'>) {
    this.#agent = agent;
  }

  parse(line: string): GastownEvent[] {
    const o = parseJsonObject(line);
    if (!o) return line.trim() ? [{ type: 'output', text: line }] : [];
    const item = (o.item ?? {}) as CodexItem;
    switch (o.type) {
      case 'thread.started':
        this.sessionId = typeof o.thread_id === 'string' ? o.thread_id : this.sessionId;
        return [{ type: 'session', runtime: 'codex', sessionId: this.sessionId }];
      case 'turn.started':
      case 'item.updated':
        return [];
      case 'item.started':
        if (item.type === 'mcp_tool_call') return [{ type: 'tool', phase: 'call', id: item.id, name: toolName(item), input: item.arguments ?? {} }];
        if (item.type === 'command_execution') return [{ type: 'tool', phase: 'call', id: item.id, name: 'shell', input: { command: item.command } }];
        return [];
      case 'item.completed':
        return this.#completed(item, line);
      case 'turn.completed': {
        const usage = (o.usage ?? {}) as { input_tokens?: number; output_tokens?: number };
        return [{ type: 'result', ok: true, usage: { inputTokens: usage.input_tokens ?? null, outputTokens: usage.output_tokens ?? null }, sessionId: this.sessionId }];
      }
      case 'turn.failed':
        return [{ type: 'result', ok: false, error: (o.error as { message?: string } | undefined)?.message ?? 'turn failed', sessionId: this.sessionId }];
      case 'error':
        return [{ type: 'error', code: 'runtime', message: String(o.message ?? '') }];
    }
    return [{ type: 'output', text: line }];
  }

  #completed(item: CodexItem, line: string): GastownEvent[] {
    switch (item.type) {
      case 'agent_message':
        return item.text ? [textEvent(this.#agent, item.text)] : [];
      case 'reasoning':
        return [];
      case 'mcp_tool_call': {
        const ok = item.status === 'completed' && !item.error && item.result?.is_error !== true;
        const output = item.error?.message ?? (item.result?.content ?? []).map((c) => c.text ?? '').join('');
        return [{ type: 'tool', phase: 'result', id: item.id, name: toolName(item), ok, output: clip(output) }];
      }
      case 'command_execution':
        return [{ type: 'tool', phase: 'result', id: item.id, name: 'shell', ok: item.exit_code === 0, exitCode: item.exit_code ?? null, output: clip(item.aggregated_output ?? '') }];
      case 'file_change':
        return [{ type: 'tool', phase: 'result', id: item.id, name: 'file_change', ok: item.status === 'completed', changes: item.changes ?? [] }];
      case 'error':
        // Codex reports non-fatal problems as error items (e.g. unknown model metadata)
        return [{ type: 'error', code: 'runtime', message: item.message ?? '', fatal: false }];
    }
    return [{ type: 'output', text: line }];
  }
}

/** Gastown tools by their own name; another server's tools as `server.tool`. */
function toolName(item: CodexItem): string {
  return item.server === 'gastown' ? String(item.tool) : `${item.server}.${item.tool}`;
}
