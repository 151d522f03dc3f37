/**
 * `node remove-own-files.ts` with a JSON array of absolute paths on stdin, run under the
 * uid whose files these are, never as root: what it may delete is what that uid could,
 * whatever the tree holds. Removes each path recursively without following a symlink (a
 * link goes, never its target); a folder is made writable by its owner first, so a tree
 * the agent locked against itself goes too. At most MAX_ENTRIES entries. Prints
 * `{removed, failed}` as one JSON line; exits 0 only when every path is gone.
 */
import { chmodSync, lstatSync, readdirSync, readFileSync, rmdirSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Most entries one run removes: a bound on its time, whatever an agent left. */
export const MAX_ENTRIES = 1_000_000;

/** Removes the trees at `paths`; counts what went and what could not. */
export function removeTrees(paths: readonly string[], maxEntries = MAX_ENTRIES): { removed: number; failed: number } {
  let removed = 0;
  let failed = 0;
  // depth-first without recursion: an agent may nest folders deeper than a call stack goes
  const stack: Array<{ path: string; expanded: boolean }> = paths.map((path) => ({ path, expanded: false }));
  while (stack.length > 0) {
    if (removed + failed >= maxEntries) return { removed, failed: failed + stack.length };
    const top = stack[stack.length - 1]!;
    let isDir: boolean;
    try {
      isDir = lstatSync(top.path).isDirectory();
    } catch (err) {
      stack.pop();
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') failed++;
      continue;
    }
    try {
      if (isDir && !top.expanded) {
        top.expanded = true;
        chmodSync(top.path, 0o700);
        for (const name of readdirSync(top.path)) stack.push({ path: join(top.path, name), expanded: false });
        continue;
      }
      stack.pop();
      if (isDir) rmdirSync(top.path);
      else unlinkSync(top.path);
      removed++;
    } catch {
      if (stack.at(-1) === top) stack.pop();
      failed++;
    }
  }
  return { removed, failed };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const paths = JSON.parse(readFileSync(0, 'utf8')) as unknown;
  const result = removeTrees(Array.isArray(paths) ? paths.filter((p): p is string => typeof p === 'string' && p.startsWith('/')) : []);
  process.stdout.write(`${JSON.stringify(result)}\n`);
  process.exitCode = result.failed === 0 ? 0 : 1;
}
