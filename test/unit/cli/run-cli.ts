import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

/** The checkout root, where `npx gastown` is run. */
export const ROOT = resolve(import.meta.dirname, '../../..');
/** The project's Node 22, which runs the CLI's TypeScript directly. */
export const PROJECT_NODE = join(ROOT, 'node_modules', '.bin', 'node');
export const LAUNCHER = join(ROOT, 'cli', 'gastown.mjs');

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

const homes: string[] = [];

/** Removes the config directories `cleanEnv` made (call from `afterAll`). */
export function removeHomes(): void {
  for (const dir of homes.splice(0)) rmSync(dir, { recursive: true, force: true });
}

/**
 * An environment with nothing of the caller's Gastown settings: a fresh config directory
 * (XDG_CONFIG_HOME and HOME), no GASTOWN_* variables, no colour.
 */
export function cleanEnv(extra: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
  const home = mkdtempSync(join(tmpdir(), 'gastown-cli-home-'));
  homes.push(home);
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) if (!name.startsWith('GASTOWN_')) env[name] = value;
  return { ...env, HOME: home, XDG_CONFIG_HOME: join(home, 'config'), NO_COLOR: '1', ...extra };
}

/** Starts `gastown args...` (the launcher under `node`, default the project's Node 22). */
export function startCli(args: string[], options: { env?: NodeJS.ProcessEnv; node?: string; input?: string } = {}): ChildProcess & { result: Promise<CliResult>; output(): string } {
  const child = spawn(options.node ?? PROJECT_NODE, [LAUNCHER, ...args], { cwd: ROOT, env: options.env ?? cleanEnv(), stdio: ['pipe', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (s: string) => (stdout += s));
  child.stderr!.setEncoding('utf8').on('data', (s: string) => (stderr += s));
  if (options.input !== undefined) child.stdin!.end(options.input);
  else child.stdin!.end();
  const result = new Promise<CliResult>((resolve) => child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr })));
  return Object.assign(child, { result, output: () => stdout });
}

/** Runs `gastown args...` to completion. */
export function runCli(args: string[], options: { env?: NodeJS.ProcessEnv; node?: string; input?: string } = {}): Promise<CliResult> {
  return startCli(args, options).result;
}

/** Parses stdout as one JSON document. */
export function json<T = any>(result: CliResult): T {
  try {
    return JSON.parse(result.stdout) as T;
  } catch {
    throw new Error(`stdout is not JSON (exit ${result.code}):\n${result.stdout}\nstderr:\n${result.stderr}`);
  }
}
