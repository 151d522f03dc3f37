import { spawn, type ChildProcess } from 'node:child_process';
import type { OutputLine } from '../domain/agent-lines.ts';
import { MAX_EVENT_BYTES } from '../domain/event-limits.ts';
import { AgentDirs, type AgentFolders } from './agent-dirs.ts';
import type { FileOwner } from './atomic-file.ts';
import { LineSplitter } from './line-splitter.ts';
import { findProcesses, processStartTime, signalAll } from './proc.ts';
import { ProcessRecords } from './process-records.ts';
import { removeSharedLeftovers, sharedEntries } from './shared-leftovers.ts';
import { UidPool } from './uid-pool.ts';

/**
 * Bytes kept of one output line: a line is whole up to the most an event can hold (its
 * event could not hold more), and only counted past it.
 */
export const MAX_LINE_BYTES = MAX_EVENT_BYTES;
/** From SIGTERM to SIGKILL. */
export const KILL_GRACE_MS = 2_000;
const STDIO_DRAIN_MS = 2_000;
/** After SIGKILL, how long to wait for the processes to be gone before giving up on their uid. */
const GONE_AFTER_KILL_MS = 5_000;
const POLL_MS = 20;

/** What a started process reports. */
export interface ProcessHooks {
  onStdoutLine(line: OutputLine): void;
  onStderrLine(line: OutputLine): void;
  onExit(code: number | null, signal: NodeJS.Signals | null): void;
}

/** Who an agent runs as, and where: handed to `prepare` before the spawn. */
export interface AgentIdentity extends AgentFolders {
  /** The agent's own uid and gid; null when agents are not isolated (they run as this server). */
  owner: FileOwner | null;
}

/** A running agent process. */
export interface AgentProcess {
  pid: number;
  owner: FileOwner | null;
  /** Writes one line to stdin; false once the process has exited or closed stdin. */
  send(line: string): boolean;
  /** Stops reading its stdout and stderr (its writes block once the pipes fill): backpressure from its outbox. */
  pauseOutput(): void;
  /** Reads its output again. */
  resumeOutput(): void;
  /** Ends everything the agent runs: SIGTERM, SIGKILL after KILL_GRACE_MS; resolves once it is all gone. */
  kill(): Promise<void>;
}

/** What a process manager is built with beyond its state dir. */
export interface ProcessManagerOptions {
  /** The uids agents get when isolated (default: AGENT_UID_FIRST to AGENT_UID_LAST). */
  uids?: UidPool;
}

/** No uid is left for another agent. */
export class NoUidError extends Error {}

/**
 * Runs agents as real child processes, argv spawned without a shell, each in a process
 * group of its own with its own folders. When this server is root (`isolated`), each agent
 * also runs under a uid of its own from a pool, taken back only once every process of that
 * uid is gone and what it left in the shared temporary folders is removed. When the
 * agent's main process exits, what it leaves behind (its group; when isolated, anything of
 * its uid) gets SIGTERM, then SIGKILL after the grace period.
 * stdout and stderr are split into lines (at most MAX_LINE_BYTES of each kept, the rest
 * counted: see LineSplitter); a process that cannot be spawned reports an exit with code
 * 127. Each running agent is recorded on disk (pid, start time, group, uid) until its
 * processes are gone.
 */
export class ProcessManager {
  readonly isolated: boolean;
  readonly dirs: AgentDirs;
  readonly records: ProcessRecords;
  readonly #uids: UidPool;
  readonly #children = new Map<string, ChildProcess>();

  constructor(stateDir: string, isolated: boolean, options: ProcessManagerOptions = {}) {
    this.isolated = isolated;
    this.dirs = new AgentDirs(stateDir, isolated);
    this.records = new ProcessRecords(stateDir);
    this.#uids = options.uids ?? new UidPool();
  }

  get size(): number {
    return this.#children.size;
  }

  /** Agent folders still being deleted. */
  get removing(): number {
    return this.dirs.removing;
  }

  /** Uids held by agents (running, or ending). */
  get uidsHeld(): number {
    return this.#uids.held;
  }

  workDirOf(agentId: string): string {
    return this.dirs.workDirOf(agentId);
  }

  /**
   * At boot: ends what a previous server left running, clears the agent folders, and (when
   * isolated) removes what agents left in the shared folders under uids of this pool before
   * those uids are handed out again. Returns how many agents were ended.
   */
  recover(): number {
    const ended = this.records.reapLeftovers();
    this.dirs.clear();
    if (this.isolated) {
      for (const uid of sharedEntries((uid) => this.#uids.includes(uid)).keys()) {
        if (this.#uids.hold(uid)) void this.#sweep(uid);
      }
    }
    return ended;
  }

  /** A held uid's shared leftovers go, then the uid; one still running belongs to a live agent (of another server, which removes them). */
  async #sweep(uid: number): Promise<void> {
    const deadline = Date.now() + GONE_AFTER_KILL_MS;
    // a leftover SIGKILLed a moment ago may not be gone yet
    while (findProcesses({ uid }).length > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, POLL_MS));
    if (findProcesses({ uid }).length > 0 || (await removeSharedLeftovers({ uid, gid: uid }))) this.#uids.release(uid);
  }

  /**
   * Spawns an agent. `prepare` gets its identity (uid, folders) before the spawn and
   * returns its environment. Throws NoUidError when the pool is exhausted, and what spawn
   * throws for arguments it cannot pass; nothing stays held then.
   */
  start(agentId: string, command: readonly string[], prepare: (identity: AgentIdentity) => NodeJS.ProcessEnv, hooks: ProcessHooks): AgentProcess {
    let owner: FileOwner | null = null;
    if (this.isolated) {
      const uid = this.#uids.allocate();
      if (uid === null) throw new NoUidError('no uid left for another agent');
      owner = { uid, gid: uid };
    }
    let child: ChildProcess;
    try {
      const folders = this.dirs.create(agentId, owner);
      const env = prepare({ ...folders, owner });
      child = spawn(command[0]!, command.slice(1), { cwd: folders.cwd, env, stdio: ['pipe', 'pipe', 'pipe'], detached: true, ...(owner ?? {}) });
    } catch (err) {
      void this.dirs.remove(agentId);
      if (owner) this.#uids.release(owner.uid);
      throw err;
    }
    this.#children.set(agentId, child);
    const pid = child.pid ?? -1;
    try {
      if (pid > 0) this.records.write({ agentId, pid, pgid: pid, startTime: processStartTime(pid) ?? '', uid: owner?.uid ?? null });
    } catch (err) {
      console.error(JSON.stringify({ msg: 'process record not written: a restarted server could not end this agent', agentId, code: (err as NodeJS.ErrnoException).code }));
    }
    splitLines(child.stdout!, hooks.onStdoutLine);
    splitLines(child.stderr!, hooks.onStderrLine);
    child.stdin!.on('error', () => {});
    const ending = new Ending(pid, owner);
    let exited = false;
    const reported = new Promise<void>((resolve) => {
      const finish = (code: number | null, signal: NodeJS.Signals | null) => {
        if (exited) return;
        exited = true;
        hooks.onExit(code, signal);
        resolve();
      };
      // 'close' comes once stdout and stderr are drained, so the last lines precede the exit
      // report; what the agent left behind holding the pipes is ended meanwhile
      child.once('exit', (code, signal) => {
        ending.terminate();
        const timer = setTimeout(() => finish(code, signal), STDIO_DRAIN_MS);
        child.once('close', () => {
          clearTimeout(timer);
          finish(code, signal);
        });
      });
      child.once('error', () => {
        ending.terminate();
        finish(127, null);
      });
    });
    const released = reported.then(() => ending.gone()).then(async (gone) => {
      // a restarted agent of the same id may already hold the slot (and the folders)
      const current = this.#children.get(agentId) === child;
      if (current) this.#children.delete(agentId);
      if (!gone) {
        console.error(JSON.stringify({ msg: 'agent processes would not end; their uid stays held', agentId, pid }));
        return;
      }
      if (current) {
        this.records.remove(agentId);
        await this.dirs.remove(agentId);
      }
      // what it left in /tmp and the like would be readable by the next agent of its uid
      if (owner && (await removeSharedLeftovers(owner))) this.#uids.release(owner.uid);
    });
    return {
      pid,
      owner,
      // write() returning false is backpressure, not failure: the line is queued
      send: (line) => {
        if (exited || !child.stdin!.writable) return false;
        child.stdin!.write(`${line}\n`);
        return true;
      },
      pauseOutput: () => {
        child.stdout!.pause();
        child.stderr!.pause();
      },
      resumeOutput: () => {
        child.stdout!.resume();
        child.stderr!.resume();
      },
      kill: async () => {
        ending.terminate();
        await released;
      },
    };
  }
}

/**
 * Ending one agent: SIGTERM to its group (and, when isolated, every process of its uid),
 * SIGKILL to what is left after the grace period; `gone()` resolves (true) once nothing is
 * left, or false when something survives SIGKILL.
 */
class Ending {
  readonly #pgid: number;
  readonly #owner: FileOwner | null;
  #killAt = 0;
  #timer: ReturnType<typeof setTimeout> | null = null;

  constructor(pgid: number, owner: FileOwner | null) {
    this.#pgid = pgid;
    this.#owner = owner;
  }

  /** The processes left: everything of the agent's uid, else its group's members. */
  #left(): number[] {
    if (this.#pgid <= 0) return [];
    if (this.#owner) return findProcesses({ uid: this.#owner.uid });
    try {
      process.kill(-this.#pgid, 0);
    } catch {
      return [];
    }
    return findProcesses({ pgid: this.#pgid });
  }

  #signal(signal: NodeJS.Signals): void {
    if (this.#pgid > 0) signalAll(this.#pgid, this.#owner ? this.#left() : [], signal);
  }

  terminate(): void {
    if (this.#killAt > 0) return;
    this.#killAt = Date.now() + KILL_GRACE_MS;
    this.#signal('SIGTERM');
    this.#timer = setTimeout(() => this.#signal('SIGKILL'), KILL_GRACE_MS);
  }

  /** Polls until nothing is left (call once the main process has ended). */
  async gone(): Promise<boolean> {
    this.terminate();
    try {
      for (;;) {
        const left = this.#left();
        if (left.length === 0) return true;
        if (Date.now() >= this.#killAt) {
          signalAll(this.#pgid, left, 'SIGKILL');
          if (Date.now() >= this.#killAt + GONE_AFTER_KILL_MS) return false;
        }
        await new Promise((r) => setTimeout(r, POLL_MS));
      }
    } finally {
      if (this.#timer) clearTimeout(this.#timer);
    }
  }
}

function splitLines(stream: NodeJS.ReadableStream, onLine: (line: OutputLine) => void): void {
  const splitter = new LineSplitter(MAX_LINE_BYTES, onLine);
  stream.on('data', (chunk: Buffer) => splitter.push(chunk));
  stream.on('end', () => splitter.end());
}
