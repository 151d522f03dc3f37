/**
 * The runtime interface: what an agent process is (`builtin`, `claude-code`, `codex`,
 * `opencode`). A runtime writes its CLI's configuration for one agent, says what to spawn,
 * adapts Gastown messages to the CLI's input, and turns the CLI's output into Gastown events.
 */

/** The runtimes the contract names (an explicit `command` is not a runtime). */
export const RUNTIME_NAMES = ['builtin', 'claude-code', 'codex', 'opencode'] as const;
export type RuntimeName = (typeof RUNTIME_NAMES)[number];

/** Everything a runtime needs to know about the agent it runs. */
export interface AgentSpec {
  agentId: string;
  townId: string;
  /** None for the mayor. */
  rigId: string | null;
  /** `mayor`, `polecat` or `refinery` (any other word is treated as a polecat). */
  role: string;
  /** The bead the agent works on, when known at start. */
  beadId: string | null;
  /** Its title, when known: named in the instructions. */
  beadTitle?: string | null;
  apiUrl: string;
  tokenFile: string;
  controlUrl: string;
  nonce: string;
  /** Where the agent works (its cwd); runtimes write nothing here. */
  workDir: string;
  /** The agent's own home: every file a runtime writes (configuration, instructions, sessions) goes here. */
  homeDir: string;
  /** The Node that runs the control server: it runs the Gastown MCP server and `gt`. */
  nodePath: string;
}

/** A process to spawn: argv (no shell) and the variables to set on top of the agent environment. */
export interface Launch {
  argv: string[];
  /** Set over the agent environment (HOME, PATH, the CLI's config location). */
  env: Record<string, string>;
  /** Set only where the agent environment (the town's `agentEnv` included) has no value. */
  defaults?: Record<string, string>;
  /** Written to the process's stdin, which is then closed (per-message runtimes: the prompt). */
  stdin?: string;
}

/** One Gastown event (a stdout line of a contract agent): always a `type`. */
export type GastownEvent = { type: string } & Record<string, unknown>;

/** Turns one CLI process's stdout lines into Gastown events. Stateful: one per process. */
export interface OutputParser {
  parse(line: string): GastownEvent[];
  /** The CLI's session id, once seen (what a later turn resumes). */
  readonly sessionId: string | null;
}

/** A persistent runtime: one process for the agent's life, each message a line on its stdin. */
export interface PersistentRuntime {
  readonly name: RuntimeName;
  readonly mode: 'persistent';
  /** Writes the runtime's files into the agent's home (idempotent); `env` is the agent environment (the user's extra CLI configuration: a value it cannot use rejects with RuntimeConfigError). */
  prepare(agent: AgentSpec, env?: NodeJS.ProcessEnv): Promise<void>;
  /** The process to spawn once, in `agent.workDir`. */
  launch(agent: AgentSpec): Launch;
  /** The stdin line (without newline) that delivers `text` to the process. */
  encodeMessage(text: string): string;
  /** True when the process's stdin should be closed once a turn ends with a `result` (it then exits). */
  closeAfterTurn(agent: AgentSpec): boolean;
  createParser(agent: AgentSpec): OutputParser;
}

/** A runtime that takes one prompt per process, resuming its own session for later turns. */
export interface PerMessageRuntime {
  readonly name: RuntimeName;
  readonly mode: 'per-message';
  prepare(agent: AgentSpec, env?: NodeJS.ProcessEnv): Promise<void>;
  /** The process for one turn; `sessionId` is null for the first turn (a new session). */
  launch(agent: AgentSpec, turn: { prompt: string; sessionId: string | null }): Launch;
  createParser(agent: AgentSpec): OutputParser;
}

export type Runtime = PersistentRuntime | PerMessageRuntime;

/** The role a runtime acts: anything but mayor and refinery works a bead like a polecat. */
export function roleOf(agent: Pick<AgentSpec, 'role'>): 'mayor' | 'polecat' | 'refinery' {
  return agent.role === 'mayor' || agent.role === 'refinery' ? agent.role : 'polecat';
}

/** Assistant text as an event: a reply to the user for the mayor, else an assistant note. */
export function textEvent(agent: Pick<AgentSpec, 'role'>, text: string): GastownEvent {
  return { type: roleOf(agent) === 'mayor' ? 'reply' : 'assistant', text };
}

/** The Gastown tool a CLI's tool name stands for (`mcp__gastown__gt_done`, `gastown_gt_done` → `gt_done`), else the name. */
export function gastownToolName(name: string): string {
  const m = /(?:^|__|_)(gt_[a-z_]+)$/.exec(name);
  return m && /gastown/.test(name) ? m[1]! : name;
}

/** Longest tool output carried in an event. */
export const MAX_TOOL_OUTPUT_CHARS = 2_000;

/** Cuts long text for an event. */
export function clip(text: string, max = MAX_TOOL_OUTPUT_CHARS): string {
  return text.length > max ? `${text.slice(0, max)}…` : text;
}

/** The line's JSON object, or null (the control server's own parser of agent lines). */
export { parseJsonObject } from '../domain/agent-lines.ts';
