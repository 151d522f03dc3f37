import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { agentCommand, type RuntimeName } from '../../../container/src/runtimes/index.ts';

/** An agent process as the control server runs it: the runtime's command, contract messages in, events out. */
export interface AgentProcess {
  child: ChildProcess;
  events: Array<Record<string, unknown>>;
  stderr: string[];
  workDir: string;
  /** Writes a contract message line. */
  send(text: string): void;
  closeStdin(): void;
  /** Resolves with the first event (from `from` on) that matches; rejects after `timeoutMs`. */
  waitFor(match: (e: Record<string, unknown>) => boolean, timeoutMs?: number, from?: number): Promise<Record<string, unknown>>;
  exit: Promise<number>;
  /** Kills the process group (if still running) and removes the working dir. */
  kill(): void;
}

/** Spawns `agentCommand(runtime)` in a fresh working dir with exactly `env` (plus PATH). */
export function startAgentProcess(runtime: RuntimeName, env: Record<string, string>): AgentProcess {
  const workDir = mkdtempSync(join(tmpdir(), `gastown-work-${runtime}-`));
  const [command, ...args] = agentCommand(runtime, process.execPath);
  const child = spawn(command!, args, { cwd: workDir, env: { PATH: process.env.PATH ?? '', ...env }, stdio: ['pipe', 'pipe', 'pipe'], detached: true });
  const events: Array<Record<string, unknown>> = [];
  const stderr: string[] = [];
  const waiters = new Set<() => void>();
  createInterface({ input: child.stdout! }).on('line', (line) => {
    try {
      events.push(JSON.parse(line) as Record<string, unknown>);
    } catch {
      events.push({ type: 'not-json', text: line });
    }
    for (const w of waiters) w();
  });
  createInterface({ input: child.stderr! }).on('line', (line) => stderr.push(line));
  const exit = new Promise<number>((resolve) => child.once('close', (code, signal) => resolve(code ?? (signal ? 128 : 1))));
  return {
    child, events, stderr, workDir, exit,
    send: (text) => child.stdin!.write(`${JSON.stringify({ type: 'message', text })}\n`),
    closeStdin: () => child.stdin!.end(),
    waitFor(match, timeoutMs = 60_000, from = 0) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const found = events.slice(from).find(match);
          if (!found) return;
          waiters.delete(check);
          clearTimeout(timer);
          resolve(found);
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`no matching event in ${timeoutMs} ms; events: ${JSON.stringify(events).slice(-3000)}; stderr: ${stderr.join('\n').slice(-2000)}`));
        }, timeoutMs);
        waiters.add(check);
        check();
      });
    },
    kill() {
      try {
        if (child.pid) process.kill(-child.pid, 'SIGKILL');
      } catch {
        // already gone
      }
      rmSync(workDir, { recursive: true, force: true });
    },
  };
}
