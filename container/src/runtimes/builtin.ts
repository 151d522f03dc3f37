/**
 * The built-in agent as a runtime: it already speaks the agent contract (messages as
 * `{"type":"message","text"}` lines on stdin, events as JSON lines on stdout), so it needs
 * no files, no adapter and no runner: the control server spawns it directly.
 */
import { fileURLToPath } from 'node:url';
import { GT_BIN_DIR } from './cli-bin.ts';
import { parseJsonObject, type GastownEvent, type OutputParser, type PersistentRuntime } from './types.ts';

/** The built-in agent's entry file. */
export const BUILTIN_AGENT_FILE = fileURLToPath(new URL('../agent/builtin-agent.ts', import.meta.url));

/** Each line is its own event (a JSON object), else output text. */
export class ContractLineParser implements OutputParser {
  readonly sessionId = null;
  parse(line: string): GastownEvent[] {
    const o = parseJsonObject(line);
    return [o ? ({ ...o, type: typeof o.type === 'string' ? o.type : 'output' } as GastownEvent) : { type: 'output', text: line }];
  }
}

export const builtin: PersistentRuntime = {
  name: 'builtin',
  mode: 'persistent',
  async prepare() {},
  launch(agent) {
    return { argv: [agent.nodePath, BUILTIN_AGENT_FILE], env: { GASTOWN_NODE: agent.nodePath, PATH: `${GT_BIN_DIR}:${process.env.PATH ?? ''}` } };
  },
  encodeMessage(text) {
    return JSON.stringify({ type: 'message', text });
  },
  closeAfterTurn() {
    return false;
  },
  createParser() {
    return new ContractLineParser();
  },
};
