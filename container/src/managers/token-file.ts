import { chmodSync, chownSync, mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic, type FileOwner } from './atomic-file.ts';

const SUFFIX = '.jwt';

/**
 * Token files: where an agent reads its current token. Each write goes to a unique temp
 * file (mode 0600, owned by the agent's uid when agents are isolated) in the same
 * directory, renamed over the target: a reader sees the old token or the new one, never a
 * partial file. The directory is root's and not listable by agents (0711 when isolated).
 * An ended agent's file is handed back to this server (`disown`) before its uid can go to
 * another agent; it stays while the agent has undelivered items, so a restarted server can
 * deliver them with it.
 */
export class TokenFiles {
  readonly #dir: string;

  constructor(stateDir: string, isolated: boolean) {
    this.#dir = join(stateDir, 'tokens');
    mkdirSync(this.#dir, { recursive: true, mode: 0o700 });
    chmodSync(this.#dir, isolated ? 0o711 : 0o700);
  }

  pathOf(agentId: string): string {
    return join(this.#dir, `${encodeURIComponent(agentId)}${SUFFIX}`);
  }

  write(agentId: string, token: string, owner: FileOwner | null): void {
    writeFileAtomic(this.pathOf(agentId), token, 0o600, owner);
  }

  /** The file becomes this server's alone (its agent's uid is about to be released). */
  disown(agentId: string): void {
    try {
      chownSync(this.pathOf(agentId), process.getuid?.() ?? 0, process.getgid?.() ?? 0);
    } catch {
      // no file: nothing to hand back
    }
  }

  read(agentId: string): string | null {
    try {
      return readFileSync(this.pathOf(agentId), 'utf8').trim() || null;
    } catch {
      return null;
    }
  }

  remove(agentId: string): void {
    rmSync(this.pathOf(agentId), { force: true });
  }

  /** At boot: keeps (as this server's) the files of `keep`, removes every other file. */
  prune(keep: ReadonlySet<string>): void {
    for (const name of readdirSync(this.#dir)) {
      const agentId = name.endsWith(SUFFIX) && !name.startsWith('.') ? decodeURIComponent(name.slice(0, -SUFFIX.length)) : null;
      if (agentId !== null && keep.has(agentId)) this.disown(agentId);
      else rmSync(join(this.#dir, name), { force: true });
    }
  }
}
