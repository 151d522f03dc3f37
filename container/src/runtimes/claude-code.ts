/**
 * Claude Code as a Gastown agent: one persistent `claude -p` process in stream-json mode
 * for the agent's life. Each message is a stream-json user line on stdin; a polecat's stdin
 * is closed once its turn ends with a `result`, so it exits.
 *
 * Files (in the agent's home): `~/.claude/CLAUDE.md` (role instructions, read as user
 * memory) and `~/.gastown/claude-mcp.json` (the Gastown MCP server, passed with
 * `--mcp-config` and `--strict-mcp-config`). Tools are allowed with `--allowedTools`, so
 * no `--dangerously-skip-permissions` (refused as root) is needed.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { TOOL_NAMES } from '../../plugin/tool-definitions.ts';
import { cliCommand } from './cli-bin.ts';
import { cliBaseEnv, gastownMcpServer, roleInstructions } from './instructions.ts';
import { clip, gastownToolName, parseJsonObject, roleOf, textEvent, type AgentSpec, type GastownEvent, type Launch, type OutputParser, type PersistentRuntime } from './types.ts';

/** The Gastown tools as Claude Code names them. */
export const CLAUDE_GASTOWN_TOOLS = TOOL_NAMES.map((name) => `mcp__gastown__${name}`);
/** Claude Code's own tools, by role: polecats edit and run; the refinery reads and runs (tests, git); the mayor only talks. */
const OWN_TOOLS = { mayor: [], polecat: ['Bash', 'Edit', 'Write', 'Read', 'NotebookEdit'], refinery: ['Bash', 'Read'] } as const;

/** What a Claude Code agent may use without asking. */
export function claudeAllowedTools(agent: Pick<AgentSpec, 'role'>): string[] {
  return [...CLAUDE_GASTOWN_TOOLS, ...OWN_TOOLS[roleOf(agent)]];
}

/**
 * Set unless the town's agent environment sets them: Gastown tools loaded up front (not
 * behind tool search), no self-update or non-essential traffic from a container.
 */
export const CLAUDE_ENV_DEFAULTS = { ENABLE_TOOL_SEARCH: 'false', DISABLE_AUTOUPDATER: '1', CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1' };

const mcpConfigPath = (agent: AgentSpec) => join(agent.homeDir, '.gastown', 'claude-mcp.json');

/** Claude Code, persistent, stream-json in and out. */
export const claudeCode: PersistentRuntime = {
  name: 'claude-code',
  mode: 'persistent',

  async prepare(agent) {
    await mkdir(join(agent.homeDir, '.claude'), { recursive: true });
    await mkdir(join(agent.homeDir, '.gastown'), { recursive: true });
    await writeFile(join(agent.homeDir, '.claude', 'CLAUDE.md'), roleInstructions(agent));
    const config = { mcpServers: { gastown: { type: 'stdio', ...gastownMcpServer(agent) } } };
    await writeFile(mcpConfigPath(agent), `${JSON.stringify(config, null, 2)}\n`, { mode: 0o600 });
  },

  launch(agent): Launch {
    const argv = [
      ...cliCommand('@anthropic-ai/claude-code', 'claude', agent.nodePath),
      '-p', '--input-format', 'stream-json', '--output-format', 'stream-json', '--verbose',
      '--mcp-config', mcpConfigPath(agent), '--strict-mcp-config',
      '--allowedTools', claudeAllowedTools(agent).join(','),
    ];
    return { argv, env: cliBaseEnv(agent, process.env.PATH), defaults: CLAUDE_ENV_DEFAULTS };
  },

  encodeMessage(text) {
    return JSON.stringify({ type: 'user', message: { role: 'user', content: text } });
  },

  closeAfterTurn(agent) {
    return roleOf(agent) === 'polecat';
  },

  createParser(agent) {
    return new ClaudeStreamParser(agent);
  },
};

interface Block {
  type?: string;
  text?: string;
  id?: string;
  name?: string;
  input?: unknown;
  tool_use_id?: string;
  content?: unknown;
  is_error?: boolean;
}

/** Claude Code's stream-json output → Gastown events. */
export class ClaudeStreamParser implements OutputParser {
  readonly #agent: Pick<AgentSpec, 'role'>;
  readonly #toolNames = new Map<string, string>();
  sessionId: string | null = null;

  constructor(agent: Pick<AgentSpec, 'role'>) {
    this.#agent = agent;
  }

  parse(line: string): GastownEvent[] {
    const o = parseJsonObject(line);
    if (!o) return line.trim() ? [{ type: 'output', text: line }] : [];
    if (typeof o.session_id === 'string') this.sessionId = o.session_id;
    const content = ((o.message as { content?: unknown } | undefined)?.content ?? []) as Block[] | string;
    const blocks = typeof content === 'string' ? [{ type: 'text', text: content }] : Array.isArray(content) ? content : [];
    switch (o.type) {
      case 'system':
        if (o.subtype !== 'init') break;
        return [{
          type: 'session', runtime: 'claude-code', sessionId: this.sessionId, model: o.model ?? null,
          mcpServers: Array.isArray(o.mcp_servers) ? (o.mcp_servers as Array<{ name: string; status: string }>).map(({ name, status }) => ({ name, status })) : [],
        }];
      case 'assistant':
        return blocks.flatMap((b): GastownEvent[] => {
          if (b.type === 'text' && b.text) return [textEvent(this.#agent, b.text)];
          if (b.type === 'tool_use' && b.id && b.name) {
            const name = gastownToolName(b.name);
            this.#toolNames.set(b.id, name);
            return [{ type: 'tool', phase: 'call', id: b.id, name, input: b.input ?? {} }];
          }
          return [];
        });
      case 'user':
        return blocks
          .filter((b) => b.type === 'tool_result' && b.tool_use_id)
          .map((b) => ({ type: 'tool', phase: 'result', id: b.tool_use_id, name: this.#toolNames.get(b.tool_use_id!) ?? null, ok: b.is_error !== true, output: clip(resultText(b.content)) }));
      case 'result': {
        const usage = (o.usage ?? {}) as { input_tokens?: number; output_tokens?: number };
        return [{
          type: 'result', ok: o.is_error !== true && o.subtype === 'success', subtype: o.subtype ?? null,
          text: typeof o.result === 'string' ? o.result : null, turns: o.num_turns ?? null, durationMs: o.duration_ms ?? null,
          costUsd: o.total_cost_usd ?? null, usage: { inputTokens: usage.input_tokens ?? null, outputTokens: usage.output_tokens ?? null }, sessionId: this.sessionId,
        }];
      }
    }
    return [{ type: 'output', text: line }];
  }
}

function resultText(content: unknown): string {
  if (typeof content === 'string') return content;
  if (Array.isArray(content)) return (content as Block[]).map((c) => c.text ?? '').join('');
  return '';
}
