import { spawn } from 'node:child_process';
import { lstatSync, opendirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FileOwner } from './atomic-file.ts';

/** Folders any uid may write outside its own: what an agent leaves there outlives it. */
export const SHARED_TMP_DIRS: readonly string[] = ['/tmp', '/var/tmp', '/dev/shm'];
/** Entries looked at per folder: a bound on the scan, whatever fills the folder. */
const MAX_SCANNED = 100_000;
/** Longest the removal of one uid's leftovers may take before it is given up. */
const REMOVE_TIMEOUT_MS = 30_000;
const REMOVER = fileURLToPath(new URL('./remove-own-files.ts', import.meta.url));

/**
 * The top-level entries of `dirs` whose owner (lstat: a symlink is an entry of its own,
 * never followed) is a uid `wanted` accepts, by uid.
 */
export function sharedEntries(wanted: (uid: number) => boolean, dirs: readonly string[] = SHARED_TMP_DIRS): Map<number, string[]> {
  const found = new Map<number, string[]>();
  for (const dir of dirs) {
    let handle;
    try {
      handle = opendirSync(dir);
    } catch {
      continue; // no such folder here
    }
    try {
      for (let i = 0, entry = handle.readSync(); entry && i < MAX_SCANNED; i++, entry = handle.readSync()) {
        const path = join(dir, entry.name);
        let uid: number;
        try {
          uid = lstatSync(path).uid;
        } catch {
          continue; // gone meanwhile
        }
        if (!wanted(uid)) continue;
        const paths = found.get(uid) ?? [];
        paths.push(path);
        found.set(uid, paths);
      }
    } finally {
      handle.closeSync();
    }
  }
  return found;
}

/**
 * Removes what `owner` left at the top of the shared folders (`/tmp`, `/var/tmp`,
 * `/dev/shm`), recursively, so the next agent given its uid cannot read it. The removal
 * runs as that uid (remove-own-files.ts), so a symlink or a race in a tree an agent built
 * can never make root delete anything else. Call once nothing runs under the uid. Resolves
 * true when nothing of it is left there; otherwise logs what stayed and resolves false.
 */
export async function removeSharedLeftovers(owner: FileOwner, dirs: readonly string[] = SHARED_TMP_DIRS): Promise<boolean> {
  const mine = (uid: number) => uid === owner.uid;
  const paths = sharedEntries(mine, dirs).get(owner.uid) ?? [];
  if (paths.length === 0) return true;
  const result = await runRemover(owner, paths);
  const left = sharedEntries(mine, dirs).get(owner.uid)?.length ?? 0;
  if (result.ok && left === 0) return true;
  console.error(JSON.stringify({ msg: 'files an ended agent left in shared folders were not all removed', uid: owner.uid, entries: paths.length, left, failed: result.failed, detail: result.detail }));
  return false;
}

async function runRemover(owner: FileOwner, paths: readonly string[]): Promise<{ ok: boolean; failed: number | null; detail: string | null }> {
  return new Promise((resolve) => {
    // no environment of this server's: the remover needs none
    const child = spawn(process.execPath, [REMOVER], { uid: owner.uid, gid: owner.gid, cwd: '/', env: {}, stdio: ['pipe', 'pipe', 'ignore'] });
    let out = '';
    const timer = setTimeout(() => child.kill('SIGKILL'), REMOVE_TIMEOUT_MS);
    child.stdout!.setEncoding('utf8').on('data', (d: string) => {
      if (out.length < 1_000) out += d;
    });
    child.stdin!.on('error', () => {});
    child.stdin!.end(JSON.stringify(paths));
    child.once('error', (err) => {
      clearTimeout(timer);
      resolve({ ok: false, failed: null, detail: (err as NodeJS.ErrnoException).code ?? 'spawn failed' });
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      let failed: number | null = null;
      try {
        failed = (JSON.parse(out) as { failed: number }).failed;
      } catch {
        // no report: the exit says why
      }
      resolve({ ok: code === 0, failed, detail: code === 0 ? null : signal ? `remover ${signal}` : `remover exited ${code}` });
    });
  });
}
