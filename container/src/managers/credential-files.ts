import { mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from './atomic-file.ts';

/**
 * The towns' container credentials, kept so a restarted control server can still re-mint
 * for the agents whose items it recovers. Root-only: a 0700 directory of 0600 files under
 * the state dir, never anywhere an agent can read. Kept only where agents are isolated
 * (the control server runs as root); otherwise agents share this server's uid and could
 * read the files, so nothing is written.
 */
export class CredentialFiles {
  readonly #dir: string;
  readonly #enabled: boolean;

  constructor(stateDir: string, enabled: boolean) {
    this.#dir = join(stateDir, 'credentials');
    this.#enabled = enabled;
    if (enabled) mkdirSync(this.#dir, { recursive: true, mode: 0o700 });
    else {
      try {
        rmSync(this.#dir, { recursive: true, force: true });
      } catch {
        // a root server's files this user cannot remove: never read either
      }
    }
  }

  write(townId: string, credential: string): void {
    if (this.#enabled) writeFileAtomic(join(this.#dir, encodeURIComponent(townId)), credential, 0o600, null, true);
  }

  /** Every credential kept, by town. */
  readAll(): Map<string, string> {
    const all = new Map<string, string>();
    if (!this.#enabled) return all;
    for (const name of readdirSync(this.#dir)) {
      if (name.startsWith('.')) continue;
      const value = readFileSync(join(this.#dir, name), 'utf8').trim();
      if (value) all.set(decodeURIComponent(name), value);
    }
    return all;
  }
}
