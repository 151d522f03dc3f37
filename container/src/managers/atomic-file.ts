import { randomBytes } from 'node:crypto';
import { chmodSync, chownSync, closeSync, fsyncSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

/** Who owns a file written for an agent (null: this process). */
export interface FileOwner {
  uid: number;
  gid: number;
}

/**
 * Writes `data` to `path` atomically: a unique temp file in the same directory, created
 * with `mode`, owned by `owner` and set to `mode` exactly before it gets its name, then
 * renamed over the target. A reader sees the old content or the new, never a partial file.
 */
export function writeFileAtomic(path: string, data: string, mode: number, owner: FileOwner | null = null, sync = false): void {
  const temp = join(dirname(path), `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`);
  const fd = openSync(temp, 'wx', mode);
  try {
    writeSync(fd, data);
    if (sync) fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  try {
    if (owner) chownSync(temp, owner.uid, owner.gid);
    chmodSync(temp, mode);
    renameSync(temp, path);
  } catch (err) {
    rmSync(temp, { force: true });
    throw err;
  }
}
