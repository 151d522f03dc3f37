/**
 * Runs a CLI runtime as a contract agent process, so the control server treats every
 * runtime alike: messages arrive on this process's stdin as `{"type":"message","text"}`
 * lines, every event leaves on stdout as one JSON line, and its exit is the agent's.
 *
 * - persistent runtimes (Claude Code): one CLI process; each message becomes the CLI's
 *   stdin line; a polecat's CLI stdin is closed after its first `result`, so it exits.
 * - per-message runtimes (codex, opencode): one CLI process per message, one at a time,
 *   the next resuming the session the previous one reported.
 * - polecats and the refinery start with their initial message; the mayor waits.
 * - the refinery is woken by mail: while idle, its mailbox is checked every `mailPollMs`
 *   and new mail (by id) becomes its next message.
 * - a polecat exits 0 only if a gt_done call succeeded (the MCP tool, or `gt done` in the
 *   CLI's shell tool); 1 otherwise (its bead is not done).
 * - when this process's stdin closes (its control server is gone) the CLI's stdin is closed
 *   too, and it is ended after `stopGraceMs`.
 * - the CLI never gets GASTOWN_SESSION_TOKEN (it goes stale); tools read the token file.
 * - an agent whose files cannot be written (e.g. a GASTOWN_OPENCODE_CONFIG that is not a JSON
 *   object) never starts its CLI: one `error` event (`bad_config`, or `prepare_failed`) says
 *   why, and the exit code is PREPARE_FAILED_EXIT.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import type { ToolCaller } from '../../plugin/gastown-client.ts';
import { initialMessage, mailMessage } from './instructions.ts';
import { RuntimeConfigError } from './user-config.ts';
import { roleOf, type AgentSpec, type GastownEvent, type Launch, type OutputParser, type Runtime } from './types.ts';

/** What the runner needs from its surroundings. */
export interface RunnerOptions {
  runtime: Runtime;
  agent: AgentSpec;
  /** The environment the CLI inherits (the agent's own). */
  env: NodeJS.ProcessEnv;
  /** Writes one event (a stdout line). */
  emit(event: GastownEvent): void;
  /** Calls a Gastown tool as this agent (the refinery's mail check). */
  call: ToolCaller;
  mailPollMs: number;
  stopGraceMs: number;
}

/** The runner's exit code when the agent could not be set up (its CLI never ran). */
export const PREPARE_FAILED_EXIT = 2;

/** The CLIs' shell tools (Claude Code, opencode, codex's command execution as the parsers name it). */
const SHELL_TOOLS = new Set(['Bash', 'bash', 'shell']);

interface Mail {
  id: string;
  from?: string;
  subject?: string | null;
  body?: string;
  beadId?: string | null;
}

/** Drives one agent's CLI; `run()` resolves to the exit code. */
export class AgentRunner {
  readonly #o: RunnerOptions;
  readonly #role: 'mayor' | 'polecat' | 'refinery';
  readonly #queue: string[] = [];
  readonly #seenMail = new Set<string>();
  #child: ChildProcess | null = null;
  #sessionId: string | null = null;
  #busy = false;
  #inputClosed = false;
  #done = false;
  #finish: (code: number) => void = () => {};
  readonly #exited = new Promise<number>((resolve) => (this.#finish = resolve));
  #pollTimer: NodeJS.Timeout | null = null;
  #prepared = false;
  #gtDone = false;
  readonly #shellGtDone = new Set<string>();

  constructor(options: RunnerOptions) {
    this.#o = options;
    this.#role = roleOf(options.agent);
  }

  async run(): Promise<number> {
    const { runtime, agent } = this.#o;
    try {
      await runtime.prepare(agent, this.#o.env);
    } catch (err) {
      // the agent cannot start: say why as its last event instead of dying with a stack
      const bad = err instanceof RuntimeConfigError;
      this.#o.emit({ type: 'error', code: bad ? 'bad_config' : 'prepare_failed', message: err instanceof Error ? err.message : String(err) });
      this.#exit(PREPARE_FAILED_EXIT);
      return this.#exited;
    }
    if (this.#inputClosed) {
      this.#exit(this.#exitCode(0));
      return this.#exited;
    }
    const first = initialMessage(agent);
    if (runtime.mode === 'persistent') {
      this.#child = this.#spawn(runtime.launch(agent), runtime.createParser(agent), (code) => this.#exit(this.#exitCode(code)));
      // messages that arrived while the files were written go after the initial one
      const early = this.#queue.splice(0);
      if (first) this.deliver(first);
      for (const text of early) this.deliver(text);
    } else {
      if (first) this.#queue.unshift(first);
      this.#prepared = true;
      this.#nextTurn();
    }
    if (this.#role === 'refinery') this.#schedulePoll();
    return this.#exited;
  }

  /** A message for the agent (from the control server, or its mail). */
  deliver(text: string): void {
    const { runtime } = this.#o;
    if (this.#done) return;
    if (runtime.mode === 'persistent') {
      if (!this.#child) return void this.#queue.push(text);
      this.#busy = true;
      this.#child.stdin?.write(`${runtime.encodeMessage(text)}\n`);
      return;
    }
    this.#queue.push(text);
    this.#nextTurn();
  }

  /** This process's stdin closed: no more messages will come. */
  closeInput(): void {
    this.#inputClosed = true;
    this.#stopPolling();
    this.#queue.length = 0;
    if (this.#o.runtime.mode === 'persistent') this.#endChild();
    else if (!this.#busy) this.#exit(this.#exitCode(0));
    else this.#endChild();
  }

  /** Starts the next per-message turn when none runs. */
  #nextTurn(): void {
    const { runtime, agent } = this.#o;
    if (runtime.mode !== 'per-message' || !this.#prepared || this.#busy || this.#done) return;
    const prompt = this.#queue.shift();
    if (prompt === undefined) return;
    this.#busy = true;
    const parser = runtime.createParser(agent);
    this.#child = this.#spawn(runtime.launch(agent, { prompt, sessionId: this.#sessionId }), parser, (code) => {
      this.#sessionId = parser.sessionId ?? this.#sessionId;
      this.#busy = false;
      this.#child = null;
      if (code !== 0) this.#o.emit({ type: 'error', code: 'turn_failed', exitCode: code });
      if (this.#role === 'polecat' || (this.#inputClosed && !this.#queue.length)) return this.#exit(this.#exitCode(code));
      this.#nextTurn();
      if (this.#role === 'refinery') this.#schedulePoll();
    });
  }

  #spawn(launch: Launch, parser: OutputParser, onExit: (code: number) => void): ChildProcess {
    const { agent, env, emit } = this.#o;
    const childEnv: NodeJS.ProcessEnv = { ...launch.defaults, ...env, ...launch.env };
    // the start token goes stale: nothing the CLI spawns (MCP server, gt, the model's shell) should see it
    delete childEnv.GASTOWN_SESSION_TOKEN;
    const child = spawn(launch.argv[0]!, launch.argv.slice(1), { cwd: agent.workDir, env: childEnv, stdio: ['pipe', 'pipe', 'pipe'] });
    child.stdin!.on('error', () => {});
    if (launch.stdin !== undefined) child.stdin!.end(launch.stdin);
    createInterface({ input: child.stdout! }).on('line', (line) => {
      for (const event of parser.parse(line)) {
        this.#noteGtDone(event);
        emit(event);
        if (event.type === 'result') this.#turnEnded();
      }
    });
    createInterface({ input: child.stderr! }).on('line', (line) => process.stderr.write(`${line}\n`));
    let reported = false;
    const report = (code: number) => {
      if (reported) return;
      reported = true;
      onExit(code);
    };
    child.once('error', (err) => {
      emit({ type: 'error', code: 'spawn_failed', message: `${launch.argv[0]}: ${(err as NodeJS.ErrnoException).code ?? err.message}` });
      report(127);
    });
    child.once('close', (code, signal) => report(code ?? (signal ? 128 : 1)));
    return child;
  }

  /** A successful gt_done: the MCP tool, or `gt done` run in the CLI's shell tool (exit 0). */
  #noteGtDone(event: GastownEvent): void {
    if (event.type !== 'tool') return;
    if (event.phase === 'call' && SHELL_TOOLS.has(String(event.name)) && /(^|[\s;&|('"])gt\s+done\b/.test(String((event.input as { command?: unknown } | undefined)?.command ?? ''))) {
      this.#shellGtDone.add(String(event.id));
    }
    if (event.phase === 'result' && event.ok === true && (event.name === 'gt_done' || this.#shellGtDone.has(String(event.id)))) this.#gtDone = true;
  }

  /** A persistent CLI finished a turn. */
  #turnEnded(): void {
    const { runtime, agent } = this.#o;
    if (runtime.mode !== 'persistent') return;
    this.#busy = false;
    if (runtime.closeAfterTurn(agent)) this.#child?.stdin?.end();
    else if (this.#role === 'refinery') this.#schedulePoll();
  }

  #schedulePoll(): void {
    if (this.#pollTimer || this.#inputClosed || this.#done) return;
    this.#pollTimer = setTimeout(() => {
      this.#pollTimer = null;
      void this.#pollMail();
    }, this.#o.mailPollMs);
  }

  #stopPolling(): void {
    if (this.#pollTimer) clearTimeout(this.#pollTimer);
    this.#pollTimer = null;
  }

  async #pollMail(): Promise<void> {
    if (this.#busy || this.#done) return;
    let mail: Mail[] = [];
    try {
      mail = ((await this.#o.call('gt_mail_check', {})) as { mail?: Mail[] } | null)?.mail ?? [];
    } catch (err) {
      const e = err as { status?: number; code?: string };
      this.#o.emit({ type: 'error', tool: 'gt_mail_check', status: e.status ?? 0, code: e.code ?? 'error' });
    }
    const fresh = mail.filter((m) => typeof m.id === 'string' && !this.#seenMail.has(m.id));
    for (const m of fresh) this.#seenMail.add(m.id);
    if (fresh.length && !this.#busy && !this.#done) this.deliver(mailMessage(fresh));
    else this.#schedulePoll();
  }

  #endChild(): void {
    const child = this.#child;
    if (!child) return;
    child.stdin?.end();
    const timer = setTimeout(() => child.kill('SIGTERM'), this.#o.stopGraceMs);
    child.once('close', () => clearTimeout(timer));
  }

  #exitCode(code: number): number {
    if (code !== 0) return code;
    if (this.#role !== 'polecat' || this.#gtDone) return 0;
    this.#o.emit({ type: 'error', code: 'not_done', message: 'the polecat ended without a successful gt_done' });
    return 1;
  }

  #exit(code: number): void {
    if (this.#done) return;
    this.#done = true;
    this.#stopPolling();
    this.#finish(code);
  }
}
