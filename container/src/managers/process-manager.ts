import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, renameSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';

/** Longest output line turned into an event; longer ones are cut. */
export const MAX_LINE_CHARS = 16_000;
const KILL_GRACE_MS = 2_000;
const STDIO_DRAIN_MS = 2_000;

/** What a started process reports. */
export interface ProcessHooks {
  onStdoutLine(line: string): void;
  onStderrLine(line: string): void;
  onExit(code: number | null, signal: NodeJS.Signals | null): void;
}

/** A running agent process. */
export interface AgentProcess {
  pid: number;
  /** Writes one line to stdin; false once the process has exited or closed stdin. */
  send(line: string): boolean;
  /** Ends the whole process tree: SIGTERM to the group, SIGKILL after a grace period. */
  kill(): Promise<void>;
}

/**
 * Runs agents as real child processes, each in its own working directory and process
 * group (so stop ends the whole tree), argv spawned without a shell. stdout and stderr
 * are split into lines (each cut at MAX_LINE_CHARS); a process that cannot be spawned
 * reports an exit with code 127. When a process ends, its working directory goes too
 * (unless a new process of the same agent holds it already): disk does not grow with
 * every agent a long-lived container has run.
 */
export class ProcessManager {
  readonly #workRoot: string;
  readonly #children = new Map<string, ChildProcess>();
  #removing = 0;

  constructor(stateDir: string) {
    this.#workRoot = join(stateDir, 'work');
    mkdirSync(this.#workRoot, { recursive: true });
  }

  get size(): number {
    return this.#children.size;
  }

  /** Working directories of ended processes still being deleted. */
  get removing(): number {
    return this.#removing;
  }

  /** Working directory of an agent. */
  workDirOf(agentId: string): string {
    return join(this.#workRoot, encodeURIComponent(agentId));
  }

  start(agentId: string, command: readonly string[], env: NodeJS.ProcessEnv, hooks: ProcessHooks): AgentProcess {
    const cwd = this.workDirOf(agentId);
    mkdirSync(cwd, { recursive: true });
    const child = spawn(command[0]!, command.slice(1), { cwd, env, stdio: ['pipe', 'pipe', 'pipe'], detached: true });
    this.#children.set(agentId, child);
    splitLines(child.stdout!, hooks.onStdoutLine);
    splitLines(child.stderr!, hooks.onStderrLine);
    child.stdin!.on('error', () => {});
    let exited = false;
    const done = new Promise<void>((resolve) => {
      const finish = (code: number | null, signal: NodeJS.Signals | null) => {
        if (exited) return;
        exited = true;
        // a restarted agent of the same id may already hold the slot (and the directory)
        if (this.#children.get(agentId) === child) {
          this.#children.delete(agentId);
          this.#removeWorkDir(agentId);
        }
        hooks.onExit(code, signal);
        resolve();
      };
      // 'close' comes once stdout and stderr are drained, so the last lines precede the exit
      // report; a grandchild holding the pipes open only delays it by STDIO_DRAIN_MS
      child.once('exit', (code, signal) => {
        const timer = setTimeout(() => finish(code, signal), STDIO_DRAIN_MS);
        child.once('close', () => {
          clearTimeout(timer);
          finish(code, signal);
        });
      });
      child.once('error', () => finish(127, null));
    });
    return {
      pid: child.pid ?? -1,
      // write() returning false is backpressure, not failure: the line is queued
      send: (line) => {
        if (exited || !child.stdin!.writable) return false;
        child.stdin!.write(`${line}\n`);
        return true;
      },
      kill: async () => {
        if (exited) return;
        signalGroup(child, 'SIGTERM');
        const timer = setTimeout(() => signalGroup(child, 'SIGKILL'), KILL_GRACE_MS);
        await done;
        clearTimeout(timer);
        signalGroup(child, 'SIGKILL');
      },
    };
  }

  /** Moves the directory aside at once (a new start gets a fresh one), then deletes it in the background. */
  #removeWorkDir(agentId: string): void {
    const trash = join(this.#workRoot, `.ended-${randomBytes(6).toString('hex')}`);
    try {
      renameSync(this.workDirOf(agentId), trash);
    } catch {
      return; // already gone
    }
    this.#removing++;
    void rm(trash, { recursive: true, force: true, maxRetries: 3 })
      .catch((err: NodeJS.ErrnoException) => console.warn(JSON.stringify({ msg: 'work dir not removed', agentId, code: err.code })))
      .finally(() => this.#removing--);
  }
}

function signalGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  try {
    if (child.pid) process.kill(-child.pid, signal);
  } catch {
    // the group is gone already
  }
}

function splitLines(stream: NodeJS.ReadableStream, onLine: (line: string) => void): void {
  let buffer = '';
  stream.setEncoding('utf8');
  stream.on('data', (chunk: string) => {
    buffer += chunk;
    let i: number;
    while ((i = buffer.indexOf('\n')) >= 0) {
      const line = buffer.slice(0, i);
      buffer = buffer.slice(i + 1);
      if (line.trim()) onLine(line.slice(0, MAX_LINE_CHARS));
    }
    if (buffer.length > MAX_LINE_CHARS) {
      onLine(buffer.slice(0, MAX_LINE_CHARS));
      buffer = '';
    }
  });
  stream.on('end', () => {
    if (buffer.trim()) onLine(buffer.slice(0, MAX_LINE_CHARS));
    buffer = '';
  });
}
