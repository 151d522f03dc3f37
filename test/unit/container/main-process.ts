import { spawn, type SpawnOptions } from 'node:child_process';
import { createInterface } from 'node:readline';
import { CONTROL_SECRET } from './harness.ts';

const MAIN = new URL('../../../container/src/main.ts', import.meta.url).pathname;

/** A real control server process (`node container/src/main.ts`), its output lines and a client. */
export function runMain(env: Record<string, string>, options: Pick<SpawnOptions, 'uid' | 'gid'> = {}) {
  const child = spawn(process.execPath, [MAIN], { env: { PATH: process.env.PATH ?? '', ...env }, stdio: ['ignore', 'pipe', 'pipe'], ...options });
  const lines: string[] = [];
  const waiters: Array<() => void> = [];
  for (const stream of [child.stdout!, child.stderr!]) createInterface({ input: stream }).on('line', (l) => (lines.push(l), waiters.splice(0).forEach((w) => w())));
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  const line = (match: RegExp) =>
    new Promise<string>((resolve, reject) => {
      const check = () => {
        const found = lines.find((l) => match.test(l));
        if (found) resolve(found);
        else waiters.push(check);
      };
      void exited.then(() => reject(new Error(`exited before ${match}: ${lines.join('\n')}`)));
      check();
    });
  let url = '';
  /** Waits for "listening" and returns the server's URL. */
  const listening = async () => {
    const { port } = JSON.parse(await line(/listening/)) as { port: number };
    url = `http://127.0.0.1:${port}`;
    return url;
  };
  const call = async (method: string, path: string, body?: unknown, secret = env.CONTAINER_CONTROL_SECRET ?? CONTROL_SECRET) => {
    const res = await fetch(`${url}${path}`, { method, headers: { authorization: `Bearer ${secret}`, 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
    const text = await res.text();
    return { status: res.status, json: text ? JSON.parse(text) : null };
  };
  return { child, lines, exited, line, listening, call };
}

/** The environment of a control server on `stateDir` with the tests' secret, on any free port. */
export function mainEnv(stateDir: string, extra: Record<string, string> = {}): Record<string, string> {
  return { PORT: '0', CONTAINER_CONTROL_SECRET: CONTROL_SECRET, GASTOWN_STATE_DIR: stateDir, HEARTBEAT_INTERVAL_SECONDS: '60', ...extra };
}
