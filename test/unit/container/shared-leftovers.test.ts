import { chownSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { busyUids } from '../../../container/src/managers/proc.ts';
import { ProcessManager } from '../../../container/src/managers/process-manager.ts';
import { AGENT_UID_FIRST, AGENT_UID_LAST, UidPool } from '../../../container/src/managers/uid-pool.ts';
import { startControl, until } from './harness.ts';
import { signAgentToken, startStandInWorker, type StandInWorker } from './stand-in-worker.ts';

/** A pool uid no process holds now (other control servers on this machine allocate from the same range). */
function freePoolUid(): number {
  const busy = busyUids();
  for (;;) {
    const uid = AGENT_UID_FIRST + Math.floor(Math.random() * (AGENT_UID_LAST - AGENT_UID_FIRST + 1));
    if (!busy.has(uid)) return uid;
  }
}

/** What the first agent of a uid leaves outside its folders, then what the next agent of that uid can read of it. */
const LEAVE = `
const fs = require('fs');
const uid = process.getuid();
const target = process.env.PROBE_TARGET;
fs.mkdirSync('/tmp/gastown-left-' + uid + '/locked', { recursive: true });
fs.writeFileSync('/tmp/gastown-left-' + uid + '/secret', 'secret of the first agent');
fs.writeFileSync('/tmp/gastown-left-' + uid + '/locked/secret', 'secret of the first agent');
fs.chmodSync('/tmp/gastown-left-' + uid + '/locked', 0o500);
fs.writeFileSync('/var/tmp/gastown-left-' + uid, 'secret of the first agent');
fs.writeFileSync('/dev/shm/gastown-left-' + uid, 'secret of the first agent');
fs.symlinkSync(target, '/tmp/gastown-link-' + uid);
fs.writeFileSync(require('os').tmpdir() + '/own-tmp', 'secret of the first agent');
console.log(JSON.stringify({ type: 'left', uid, tmpdir: require('os').tmpdir(), env: { TMPDIR: process.env.TMPDIR, XDG_RUNTIME_DIR: process.env.XDG_RUNTIME_DIR, XDG_CACHE_HOME: process.env.XDG_CACHE_HOME } }));
`;
const READ = `
const fs = require('fs');
const uid = process.getuid();
const read = (p) => { try { fs.readFileSync(p); return 'read'; } catch (err) { return err.code; } };
console.log(JSON.stringify({ type: 'read', uid, tmpDir: read('/tmp/gastown-left-' + uid + '/secret'), locked: read('/tmp/gastown-left-' + uid + '/locked/secret'), varTmp: read('/var/tmp/gastown-left-' + uid), shm: read('/dev/shm/gastown-left-' + uid), link: read('/tmp/gastown-link-' + uid) }));
process.stdin.resume(); process.stdin.on('end', () => process.exit(0));
`;

describe('a reused uid: the next agent cannot read what the previous one left outside its folders (root, isolated)', () => {
  const uid = freePoolUid();
  const stateDir = mkdtempSync(join(tmpdir(), 'gastown-reuse-'));
  const t = {} as { worker: StandInWorker; c: Awaited<ReturnType<typeof startControl>> };
  const cleanup: Array<() => void> = [];
  afterAll(async () => {
    await t.c?.close();
    await t.worker?.close();
    for (const fn of cleanup) fn();
  });
  const start = async (agentId: string, script: string, env: Record<string, string> = {}) =>
    t.c.call('POST', '/agents/start', {
      agentId, townId: t.worker.townId, rigId: 'rig-1', role: 'polecat', apiUrl: t.worker.url, containerCredential: t.worker.credential, env,
      command: [process.execPath, '-e', script], token: await signAgentToken(agentId, t.worker.townId, Math.floor(Date.now() / 1000)),
    });
  const eventOf = (type: string) => [...t.worker.events.values()].find((e) => (e as { type: string }).type === type) as Record<string, unknown> | undefined;
  const leftPaths = [`/tmp/gastown-left-${uid}`, `/var/tmp/gastown-left-${uid}`, `/dev/shm/gastown-left-${uid}`, `/tmp/gastown-link-${uid}`];
  cleanup.push(() => {
    for (const p of leftPaths) rmSync(p, { recursive: true, force: true });
  });

  it('uid reuse: files the first agent left in /tmp, /var/tmp and /dev/shm (a locked folder, a symlink out) are gone before its uid is handed out again; the link\'s target stays', async () => {
    t.worker = await startStandInWorker();
    t.c = await startControl({ stateDir, heartbeatIntervalMs: 60_000 }, { processes: new ProcessManager(stateDir, true, { uids: new UidPool({ first: uid, last: uid }) }) });
    expect(t.c.control.isolated).toBe(true);
    // root's folder, which a symlink the agent leaves points into
    const target = mkdtempSync(join(tmpdir(), 'gastown-link-target-'));
    cleanup.push(() => rmSync(target, { recursive: true, force: true }));
    writeFileSync(join(target, 'keep'), 'not the agent\'s');
    expect((await start('first', LEAVE, { PROBE_TARGET: target })).status).toBe(201);
    await until(() => eventOf('left') !== undefined && t.c.control.processes.uidsHeld === 0, 15_000, 'the first agent to leave its files, end, and give its uid back');
    const left = eventOf('left')!;
    expect(left.uid).toBe(uid);
    const home = join(stateDir, 'home', 'first');
    expect(left).toMatchObject({ tmpdir: join(home, '.tmp'), env: { TMPDIR: join(home, '.tmp'), XDG_RUNTIME_DIR: join(home, '.run'), XDG_CACHE_HOME: join(home, '.cache') } });
    for (const p of leftPaths) expect([p, existsSync(p) || isLink(p)]).toEqual([p, false]);
    expect(readFileSync(join(target, 'keep'), 'utf8')).toBe('not the agent\'s');

    expect((await start('second', READ)).status).toBe(201);
    await until(() => eventOf('read') !== undefined, 10_000, 'the second agent\'s attempts');
    expect(eventOf('read')).toMatchObject({ uid, tmpDir: 'ENOENT', locked: 'ENOENT', varTmp: 'ENOENT', shm: 'ENOENT', link: 'ENOENT' });
    await t.c.call('POST', '/agents/second/stop');
  });

  it('leftovers it cannot remove (a folder of root\'s inside its own): the uid stays held, logged, never handed to another agent', async () => {
    const error = vi.spyOn(console, 'error');
    try {
      const stuck = `/tmp/gastown-left-${uid}`;
      expect((await start('stuck', 'process.stdin.resume(); process.stdin.on("end", () => process.exit(0));')).status).toBe(201);
      // the agent's own folder in /tmp, holding one of root's it may not empty
      mkdirSync(join(stuck, 'roots'), { recursive: true });
      writeFileSync(join(stuck, 'roots', 'file'), 'root');
      chownSync(stuck, uid, uid);
      expect((await t.c.call('POST', '/agents/stuck/stop')).status).toBe(200);
      await until(() => error.mock.calls.some((c) => String(c[0]).includes('files an ended agent left in shared folders were not all removed')), 15_000, 'the error line');
      expect(t.c.control.processes.uidsHeld).toBe(1);
      const refused = await start('after-stuck', 'process.stdin.resume()');
      expect(refused).toEqual({ status: 503, json: { error: { code: 'no_capacity', message: expect.any(String) } } });
    } finally {
      error.mockRestore();
    }
  });

  it('boot: files under a pool uid in /tmp (a killed server\'s agent left them) are removed before that uid is handed out', async () => {
    const otherState = mkdtempSync(join(tmpdir(), 'gastown-reuse-boot-'));
    const bootUid = freePoolUid();
    const leftover = `/tmp/gastown-boot-left-${bootUid}`;
    writeFileSync(leftover, 'secret of an agent a killed server ran');
    chownSync(leftover, bootUid, bootUid);
    cleanup.push(() => rmSync(leftover, { force: true }));
    const c = await startControl({ stateDir: otherState, heartbeatIntervalMs: 60_000 }, { processes: new ProcessManager(otherState, true, { uids: new UidPool({ first: bootUid, last: bootUid }) }) });
    try {
      await until(() => !existsSync(leftover) && c.control.processes.uidsHeld === 0, 15_000, 'the leftover removed and the uid free');
    } finally {
      await c.close();
    }
  });
});

function isLink(path: string): boolean {
  try {
    return lstatSync(path).isSymbolicLink();
  } catch {
    return false;
  }
}
