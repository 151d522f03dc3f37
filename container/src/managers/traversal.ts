import { statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';

/**
 * The first folder above `path` that users other than its owner cannot pass through (no
 * o+x), or null. Agents under uids of their own must pass every folder above their files
 * (and above the code they run).
 */
export function untraversableAncestor(path: string): string | null {
  for (let current = dirname(resolve(path)); ; current = dirname(current)) {
    if ((statSync(current).mode & 0o001) === 0) return current;
    if (dirname(current) === current) return null;
  }
}
