import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { CliContext } from '../../../cli/context.ts';
import { withProgress } from '../../../cli/output.ts';
import { createProgram } from '../../../cli/program.ts';

/** A terminal (or a pipe, with `isTTY` false) that keeps what is written to it. */
function fakeStream(isTTY: boolean) {
  const writes: string[] = [];
  const stream = { isTTY, write: (text: string, done?: () => void) => (writes.push(text), done?.(), true) };
  return { stream: stream as unknown as NodeJS.WriteStream, writes };
}

/** A promise settled from outside. */
function deferred<T>() {
  let resolve!: (value: T) => void;
  let reject!: (err: unknown) => void;
  const promise = new Promise<T>((res, rej) => ((resolve = res), (reject = rej)));
  return { promise, resolve, reject };
}

const CLEAR = '\r\x1b[K';

describe('the progress spinner (fake timers)', () => {
  beforeEach(() => void vi.useFakeTimers());
  afterEach(() => void vi.useRealTimers());

  it('a wait of more than a second on a terminal: nothing for the first second, then a spinner, cleared when the work is done', async () => {
    const tty = fakeStream(true);
    const work = deferred<string>();
    const result = withProgress('reading the town', work.promise, tty.stream);
    await vi.advanceTimersByTimeAsync(999);
    expect(tty.writes).toEqual([]);
    await vi.advanceTimersByTimeAsync(301);
    expect(tty.writes).toEqual(['\r⠋ reading the town', '\r⠙ reading the town', '\r⠹ reading the town']);
    work.resolve('done');
    expect(await result).toBe('done');
    expect(tty.writes.at(-1)).toBe(CLEAR);
    const count = tty.writes.length;
    await vi.advanceTimersByTimeAsync(5_000);
    expect(tty.writes).toHaveLength(count);
  });

  it('a wait shorter than a second shows nothing at all', async () => {
    const tty = fakeStream(true);
    const result = withProgress('listing towns', new Promise((r) => setTimeout(() => r('quick'), 900)), tty.stream);
    await vi.advanceTimersByTimeAsync(900);
    expect(await result).toBe('quick');
    await vi.advanceTimersByTimeAsync(5_000);
    expect(tty.writes).toEqual([]);
  });

  it('a failed wait clears the spinner and passes the error on', async () => {
    const tty = fakeStream(true);
    const work = deferred<never>();
    const result = withProgress('refreshing tokens', work.promise, tty.stream);
    result.catch(() => {});
    await vi.advanceTimersByTimeAsync(1_500);
    work.reject(new Error('boom'));
    await expect(result).rejects.toThrow('boom');
    expect(tty.writes.at(-1)).toBe(CLEAR);
    const count = tty.writes.length;
    await vi.advanceTimersByTimeAsync(1_000);
    expect(tty.writes).toHaveLength(count);
  });

  it('stderr that is not a terminal (a pipe, a file) gets nothing, however long the wait', async () => {
    const pipe = fakeStream(false);
    const work = deferred<number>();
    const result = withProgress('waiting', work.promise, pipe.stream);
    await vi.advanceTimersByTimeAsync(60_000);
    work.resolve(1);
    expect(await result).toBe(1);
    expect(pipe.writes).toEqual([]);
  });
});

describe('the spinner in a command (a real HTTP server that answers late; fake timers)', () => {
  let held: ServerResponse | null;
  let server: ReturnType<typeof createServer>;
  let url: string;

  beforeEach(async () => {
    held = null;
    server = createServer((req, res) => {
      if (req.url === '/api/auth/token') res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ access_token: 'tok', token_type: 'Bearer', expires_in: 3600 }));
      else held = res; // answered when the test says so
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    // only the timers the spinner uses: the HTTP client and server keep their own
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval'] });
  });
  afterEach(async () => {
    vi.useRealTimers();
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  async function run(args: string[]) {
    const stdout = fakeStream(false);
    const stderr = fakeStream(true);
    const cli = new CliContext({ env: { GASTOWN_URL: url, GASTOWN_CLIENT_ID: 'me', GASTOWN_CLIENT_SECRET: 'a-secret-of-some-length', XDG_CONFIG_HOME: '/nonexistent' }, stdout: stdout.stream, stderr: stderr.stream });
    const done = createProgram(cli).parseAsync(['node', 'gastown', ...args]);
    for (let i = 0; i < 1_000 && !held; i++) await new Promise((r) => setImmediate(r));
    expect(held, 'the request reached the server').not.toBeNull();
    await vi.advanceTimersByTimeAsync(2_000);
    const during = [...stderr.writes];
    held!.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ towns: [] }));
    await done;
    return { during, stderr: stderr.writes, stdout: stdout.writes.join('') };
  }

  it('towns list on a terminal: the spinner shows while the answer is late, then is cleared', async () => {
    const { during, stderr } = await run(['towns', 'list']);
    expect(during[0]).toBe('\r⠋ listing towns');
    expect(during.length).toBeGreaterThan(5);
    expect(stderr.at(-1)).toBe(CLEAR);
  });

  it('towns list --json: no spinner at all, even on a terminal; stdout is the JSON alone', async () => {
    const { stderr, stdout } = await run(['towns', 'list', '--json']);
    expect(stderr).toEqual([]);
    expect(JSON.parse(stdout)).toEqual({ towns: [] });
  });
});
