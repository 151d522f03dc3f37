import { randomBytes } from 'node:crypto';
import { mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

/**
 * Token files: where a child process reads its current token. Each write goes to a
 * unique temp file (mode 0600) in the same directory, then is renamed over the target,
 * so a reader sees the old token or the new one, never a partial or empty file.
 */
export class TokenFiles {
  readonly #dir: string;

  constructor(stateDir: string) {
    this.#dir = join(stateDir, 'tokens');
    mkdirSync(this.#dir, { recursive: true, mode: 0o700 });
  }

  pathOf(agentId: string): string {
    return join(this.#dir, `${encodeURIComponent(agentId)}.jwt`);
  }

  write(agentId: string, token: string): void {
    const target = this.pathOf(agentId);
    const temp = join(dirname(target), `.${encodeURIComponent(agentId)}.${randomBytes(6).toString('hex')}.tmp`);
    writeFileSync(temp, token, { mode: 0o600 });
    renameSync(temp, target);
  }

  remove(agentId: string): void {
    rmSync(this.pathOf(agentId), { force: true });
  }
}
