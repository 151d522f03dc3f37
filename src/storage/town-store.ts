import type { Sql } from './sql';

/** The town row. */
export interface TownRow {
  id: string;
  name: string;
  userId: string;
  apiUrl: string | null;
  containerCredentialHash: string | null;
  createdAt: number;
}

/** A rig row. */
export interface RigRow {
  id: string;
  name: string;
  gitUrl: string | null;
  createdAt: number;
}

/** SQL access to the town, its rigs and its persistent counters. */
export class TownStore {
  readonly #sql: Sql;

  constructor(sql: Sql) {
    this.#sql = sql;
  }

  get(): TownRow | null {
    return this.#sql.one<TownRow>(
      `SELECT id, name, user_id AS userId, api_url AS apiUrl, container_credential_hash AS containerCredentialHash,
        created_at AS createdAt FROM town LIMIT 1`,
    );
  }

  create(town: { id: string; name: string; userId: string; apiUrl: string | null }, now: number): void {
    this.#sql.run(`INSERT INTO town (id, name, user_id, api_url, created_at) VALUES (?, ?, ?, ?, ?)`, town.id, town.name, town.userId, town.apiUrl, now);
  }

  setApiUrl(apiUrl: string): void {
    this.#sql.run(`UPDATE town SET api_url = ? WHERE api_url IS NOT ?`, apiUrl, apiUrl);
  }

  setCredentialHash(hash: string): void {
    this.#sql.run(`UPDATE town SET container_credential_hash = ?`, hash);
  }

  createRig(rig: { id: string; name: string; gitUrl: string | null }, now: number): RigRow {
    this.#sql.run(`INSERT INTO rigs (id, name, git_url, created_at) VALUES (?, ?, ?, ?)`, rig.id, rig.name, rig.gitUrl, now);
    return { ...rig, createdAt: now };
  }

  rigs(): RigRow[] {
    return this.#sql.all<RigRow>(`SELECT id, name, git_url AS gitUrl, created_at AS createdAt FROM rigs ORDER BY created_at, id`);
  }

  rig(id: string): RigRow | null {
    return this.#sql.one<RigRow>(`SELECT id, name, git_url AS gitUrl, created_at AS createdAt FROM rigs WHERE id = ?`, id);
  }

  counter(key: string): number {
    return this.#sql.one<{ value: number }>(`SELECT value FROM meta WHERE key = ?`, key)?.value ?? 0;
  }

  setCounter(key: string, value: number): void {
    this.#sql.run(`INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value`, key, value);
  }
}
