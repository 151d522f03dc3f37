import type { Sql } from './sql';

/** The town row. */
export interface TownRow {
  id: string;
  name: string;
  userId: string;
  apiUrl: string | null;
  /** Generation of the container credential the current container holds (0: none handed out). */
  containerCredentialGen: number;
  defaultRuntime: string;
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
      `SELECT id, name, user_id AS userId, api_url AS apiUrl, container_credential_gen AS containerCredentialGen,
        default_runtime AS defaultRuntime, created_at AS createdAt FROM town LIMIT 1`,
    );
  }

  create(town: { id: string; name: string; userId: string; apiUrl: string | null }, now: number): void {
    this.#sql.run(`INSERT INTO town (id, name, user_id, api_url, created_at) VALUES (?, ?, ?, ?, ?)`, town.id, town.name, town.userId, town.apiUrl, now);
  }

  setApiUrl(apiUrl: string): void {
    this.#sql.run(`UPDATE town SET api_url = ? WHERE api_url IS NOT ?`, apiUrl, apiUrl);
  }

  /** The container holding the credential of generation `gen` is the town's container now. */
  setCredentialGen(gen: number): void {
    this.#sql.run(`UPDATE town SET container_credential_gen = MAX(container_credential_gen, ?)`, gen);
  }

  setDefaultRuntime(runtime: string): void {
    this.#sql.run(`UPDATE town SET default_runtime = ?`, runtime);
  }

  /** Names of the agents' environment (never the values). */
  agentEnvNames(): string[] {
    return this.#sql.all<{ name: string }>(`SELECT name FROM agent_env ORDER BY name`).map((r) => r.name);
  }

  /** The agents' environment, for a start request only. */
  agentEnv(): Record<string, string> {
    return Object.fromEntries(this.#sql.all<{ name: string; value: string }>(`SELECT name, value FROM agent_env`).map((r) => [r.name, r.value]));
  }

  /** Sets (or, with null, removes) environment variables of the town's agents. */
  updateAgentEnv(changes: Record<string, string | null>): void {
    for (const [name, value] of Object.entries(changes)) {
      if (value === null) this.#sql.run(`DELETE FROM agent_env WHERE name = ?`, name);
      else this.#sql.run(`INSERT INTO agent_env (name, value) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET value = excluded.value`, name, value);
    }
  }

  countRigs(): number {
    return this.#sql.one<{ n: number }>(`SELECT COUNT(*) AS n FROM rigs`)!.n;
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

  /** Counters whose key starts with `prefix`, by the rest of the key. */
  countersWithPrefix(prefix: string): Record<string, number> {
    const rows = this.#sql.all<{ key: string; value: number }>(`SELECT key, value FROM meta WHERE key >= ? AND key < ? ORDER BY key`, prefix, `${prefix}\uffff`);
    return Object.fromEntries(rows.map((r) => [r.key.slice(prefix.length), r.value]));
  }

  addToCounter(key: string, n: number): void {
    this.#sql.run(`INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = value + excluded.value`, key, n);
  }

  counter(key: string): number {
    return this.#sql.one<{ value: number }>(`SELECT value FROM meta WHERE key = ?`, key)?.value ?? 0;
  }

  setCounter(key: string, value: number): void {
    this.#sql.run(`INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value`, key, value);
  }
}
