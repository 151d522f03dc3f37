/** A value that can be bound to a SQL parameter. */
export type SqlValue = string | number | null;

/** One typed query helper over Durable Object SQLite storage. */
export class Sql {
  readonly #storage: SqlStorage;

  constructor(storage: SqlStorage) {
    this.#storage = storage;
  }

  /** All rows of a query. */
  all<T>(query: string, ...args: SqlValue[]): T[] {
    return this.#storage.exec(query, ...args).toArray() as T[];
  }

  /** The first row of a query, or null. */
  one<T>(query: string, ...args: SqlValue[]): T | null {
    const rows = this.#storage.exec(query, ...args).toArray();
    return (rows[0] as T | undefined) ?? null;
  }

  /** Runs a statement; returns the rows written as SQLite counts them (index writes included). */
  run(query: string, ...args: SqlValue[]): number {
    return this.#storage.exec(query, ...args).rowsWritten;
  }
}

/**
 * The keyset-pagination condition of a listing in creation order: rows after the row
 * whose id is the cursor (both `?` take the cursor, null for the first page).
 */
export function afterCursor(table: 'agents' | 'beads' | 'towns'): string {
  return `(? IS NULL OR (created_at, id) > (SELECT created_at, id FROM ${table} WHERE id = ?))`;
}

/** Whether a table exists (reading the schema writes nothing, so an unused object stays empty). */
export function hasTable(sql: SqlStorage, name: string): boolean {
  return sql.exec(`SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?`, name).toArray().length > 0;
}

/** One numbered schema migration. */
export interface Migration {
  version: number;
  sql: string;
}

/**
 * Applies, in order, each migration newer than the recorded version. Call it under
 * `blockConcurrencyWhile` so no request sees a half-migrated schema.
 */
export function applyMigrations(storage: DurableObjectStorage, migrations: readonly Migration[]): number {
  const sql = storage.sql;
  sql.exec('CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)');
  const row = sql.exec<{ v: number | null }>('SELECT MAX(version) AS v FROM schema_migrations').one();
  let current = row.v ?? 0;
  for (const m of [...migrations].sort((a, b) => a.version - b.version)) {
    if (m.version <= current) continue;
    storage.transactionSync(() => {
      sql.exec(m.sql);
      sql.exec('INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)', m.version, Date.now());
    });
    current = m.version;
  }
  return current;
}
