import { randomBytes } from 'node:crypto';
import { chmodSync, chownSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { FileOwner } from './atomic-file.ts';

/** An agent's own folders. */
export interface AgentFolders {
  cwd: string;
  home: string;
  /** Its temporary files (TMPDIR), in its home: they go with it, never into a shared /tmp. */
  tmp: string;
  /** Its runtime files (XDG_RUNTIME_DIR: sockets and the like), in its home. */
  run: string;
}

/**
 * Each agent's working directory (`work/<agentId>/`) and home (`home/<agentId>/`, with its
 * `.tmp/` and `.run/`): mode
 * 0700, owned by the agent's uid when agents are isolated, under root-owned parents that
 * agents may traverse but not list (0711). Removed when the agent's processes are gone:
 * moved aside at once (a new start gets fresh folders), deleted in the background.
 */
export class AgentDirs {
  readonly #roots: { work: string; home: string };
  readonly #rootMode: number;
  #removing = 0;

  constructor(stateDir: string, isolated: boolean) {
    this.#roots = { work: join(stateDir, 'work'), home: join(stateDir, 'home') };
    this.#rootMode = isolated ? 0o711 : 0o700;
    for (const root of Object.values(this.#roots)) this.#makeRoot(root);
  }

  #makeRoot(root: string): void {
    mkdirSync(root, { recursive: true, mode: 0o700 });
    chmodSync(root, this.#rootMode);
  }

  /** Folders of ended agents still being deleted. */
  get removing(): number {
    return this.#removing;
  }

  workDirOf(agentId: string): string {
    return join(this.#roots.work, encodeURIComponent(agentId));
  }

  homeDirOf(agentId: string): string {
    return join(this.#roots.home, encodeURIComponent(agentId));
  }

  create(agentId: string, owner: FileOwner | null): AgentFolders {
    const home = this.homeDirOf(agentId);
    const folders = { cwd: this.workDirOf(agentId), home, tmp: join(home, '.tmp'), run: join(home, '.run') };
    for (const dir of Object.values(folders)) {
      mkdirSync(dir, { recursive: true, mode: 0o700 });
      if (owner) chownSync(dir, owner.uid, owner.gid);
      chmodSync(dir, 0o700);
    }
    return folders;
  }

  /** Removes both folders; resolves once they are deleted. */
  async remove(agentId: string): Promise<void> {
    await Promise.all([this.#removeOne(this.#roots.work, this.workDirOf(agentId)), this.#removeOne(this.#roots.home, this.homeDirOf(agentId))]);
  }

  /** At boot: everything under both roots belongs to agents that are gone. */
  clear(): void {
    for (const root of Object.values(this.#roots)) {
      rmSync(root, { recursive: true, force: true, maxRetries: 3 });
      this.#makeRoot(root);
    }
  }

  async #removeOne(root: string, dir: string): Promise<void> {
    const trash = join(root, `.ended-${randomBytes(6).toString('hex')}`);
    try {
      renameSync(dir, trash);
    } catch {
      return; // already gone
    }
    this.#removing++;
    try {
      await rm(trash, { recursive: true, force: true, maxRetries: 3 });
    } catch (err) {
      console.warn(JSON.stringify({ msg: 'agent folder not removed', code: (err as NodeJS.ErrnoException).code }));
    } finally {
      this.#removing--;
    }
  }
}
