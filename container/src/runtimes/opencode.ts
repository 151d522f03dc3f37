/**
 * opencode as a Gastown agent: one `opencode run --format json` process per message, the
 * prompt on its stdin; later messages continue the session the first one reported
 * (`--session <id>`).
 *
 * Files (in the agent's home, named by OPENCODE_CONFIG): `.config/opencode/opencode.json`
 * (the Gastown MCP server as a local `mcp` entry, `instructions` naming
 * `.gastown/GASTOWN.md`, permissions by role) and that instructions file. opencode's data
 * (sessions) lives under the home's XDG dirs. `GASTOWN_OPENCODE_CONFIG` (a JSON object, e.g.
 * `{"model": "anthropic/claude-sonnet-4-5"}` or a `provider` block) is merged over the
 * top level of Gastown's configuration, `mcp` and `instructions` excepted.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { cliCommand } from './cli-bin.ts';
import { cliBaseEnv, gastownMcpServer, roleInstructions } from './instructions.ts';
import { runtimeConfigValue } from './user-config.ts';
import { clip, gastownToolName, parseJsonObject, roleOf, textEvent, type AgentSpec, type GastownEvent, type OutputParser, type PerMessageRuntime } from './types.ts';

const configPath = (agent: AgentSpec) => join(agent.homeDir, '.config', 'opencode', 'opencode.json');
const instructionsPath = (agent: AgentSpec) => join(agent.homeDir, '.gastown', 'GASTOWN.md');

/** What each role may do without asking: the mayor only talks, the refinery reads and runs, polecats edit and run. */
const PERMISSIONS = {
  mayor: { edit: 'deny', bash: 'deny', webfetch: 'deny' },
  refinery: { edit: 'deny', bash: 'allow' },
  polecat: { edit: 'allow', bash: 'allow' },
} as const;

/** The opencode.json Gastown writes for an agent (`extra`: the user's JSON, merged over the top level). */
export function opencodeConfig(agent: AgentSpec, extra: Record<string, unknown> = {}): Record<string, unknown> {
  const mcp = gastownMcpServer(agent);
  const { mcp: _mcp, instructions: _instructions, ...rest } = extra;
  return {
    $schema: 'https://opencode.ai/config.json',
    permission: PERMISSIONS[roleOf(agent)],
    autoupdate: false,
    ...rest,
    mcp: { gastown: { type: 'local', command: [mcp.command, ...mcp.args], environment: mcp.env, enabled: true } },
    instructions: [instructionsPath(agent)],
  };
}

/** The user's GASTOWN_OPENCODE_CONFIG; a value that is not a JSON object throws RuntimeConfigError. */
function extraConfig(env: NodeJS.ProcessEnv): Record<string, unknown> {
  const raw = runtimeConfigValue(env, 'GASTOWN_OPENCODE_CONFIG');
  return raw === undefined ? {} : (JSON.parse(raw) as Record<string, unknown>);
}

export const opencode: PerMessageRuntime = {
  name: 'opencode',
  mode: 'per-message',

  async prepare(agent, env = process.env) {
    await mkdir(join(agent.homeDir, '.config', 'opencode'), { recursive: true });
    await mkdir(join(agent.homeDir, '.gastown'), { recursive: true });
    await writeFile(instructionsPath(agent), roleInstructions(agent));
    await writeFile(configPath(agent), `${JSON.stringify(opencodeConfig(agent, extraConfig(env)), null, 2)}\n`, { mode: 0o600 });
  },

  launch(agent, turn) {
    const argv = [...cliCommand('opencode-ai', 'opencode', agent.nodePath), 'run', '--format', 'json', ...(turn.sessionId ? ['--session', turn.sessionId] : [])];
    const env = {
      ...cliBaseEnv(agent, process.env.PATH),
      OPENCODE_CONFIG: configPath(agent),
      XDG_CONFIG_HOME: join(agent.homeDir, '.config'),
      XDG_DATA_HOME: join(agent.homeDir, '.local', 'share'),
      XDG_STATE_HOME: join(agent.homeDir, '.local', 'state'),
      XDG_CACHE_HOME: join(agent.homeDir, '.cache'),
    };
    return { argv, env, stdin: turn.prompt };
  },

  createParser(agent) {
    return new OpencodeJsonParser(agent);
  },
};

interface Part {
  type?: string;
  text?: string;
  tool?: string;
  callID?: string;
  reason?: string;
  cost?: number;
  tokens?: { input?: number; output?: number };
  state?: { status?: string; input?: unknown; output?: string; error?: string };
}

/** `opencode run --format json` lines → Gastown events; a `result` when a step finishes for any reason but more tool calls. */
export class OpencodeJsonParser implements OutputParser {
  readonly #agent: Pick<AgentSpec, 'role'>;
  #tokens = { input: 0, output: 0 };
  #cost = 0;
  sessionId: string | null = null;

  constructor(agent: Pick<AgentSpec, 'role'>) {
    this.#agent = agent;
  }

  parse(line: string): GastownEvent[] {
    const o = parseJsonObject(line);
    if (!o) return line.trim() ? [{ type: 'output', text: line }] : [];
    const first = this.sessionId === null && typeof o.sessionID === 'string';
    if (typeof o.sessionID === 'string') this.sessionId = o.sessionID;
    const session: GastownEvent[] = first ? [{ type: 'session', runtime: 'opencode', sessionId: this.sessionId }] : [];
    const part = (o.part ?? {}) as Part;
    switch (o.type) {
      case 'step_start':
        return session;
      case 'text':
        return part.text ? [...session, textEvent(this.#agent, part.text)] : session;
      case 'tool_use': {
        const name = gastownToolName(part.tool ?? '');
        const state = part.state ?? {};
        return [
          ...session,
          { type: 'tool', phase: 'call', id: part.callID ?? null, name, input: state.input ?? {} },
          { type: 'tool', phase: 'result', id: part.callID ?? null, name, ok: state.status === 'completed', output: clip(state.output ?? state.error ?? '') },
        ];
      }
      case 'step_finish':
        this.#tokens.input += part.tokens?.input ?? 0;
        this.#tokens.output += part.tokens?.output ?? 0;
        this.#cost += part.cost ?? 0;
        if (part.reason === 'tool-calls') return session;
        return [...session, { type: 'result', ok: true, reason: part.reason ?? null, usage: { inputTokens: this.#tokens.input, outputTokens: this.#tokens.output }, costUsd: this.#cost, sessionId: this.sessionId }];
      case 'error':
        return [...session, { type: 'error', code: 'runtime', message: clip(JSON.stringify(o.error ?? o.message ?? null)) }];
    }
    return [...session, { type: 'output', text: line }];
  }
}
