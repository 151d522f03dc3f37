import { DurableObject } from 'cloudflare:workers';
import type { Env } from '../env';
import { AppError, toResult } from '../errors';
import { Sql, afterCursor, hasTable } from '../storage/sql';

/** A town as its owner's directory lists it. */
export interface DirectoryEntry {
  id: string;
  name: string;
  createdAt: string;
}

const SCHEMA = `CREATE TABLE IF NOT EXISTS towns (id TEXT PRIMARY KEY, name TEXT NOT NULL, created_at INTEGER NOT NULL)`;
const SESSIONS = `CREATE TABLE IF NOT EXISTS sessions (id TEXT PRIMARY KEY, expires_at INTEGER NOT NULL)`;

/**
 * One user's towns and dashboard sessions (one Durable Object per user id): what
 * `GET /api/towns` lists, what the towns-per-user quota counts, and which sessions are
 * still open (a session ends when it is signed out or not refreshed for its max age).
 * Storage is created by the first town or session only, so reading an empty directory
 * writes nothing.
 */
export class TownDirectory extends DurableObject<Env> {
  readonly #sql: Sql;

  constructor(state: DurableObjectState, env: Env) {
    super(state, env);
    this.#sql = new Sql(state.storage.sql);
  }

  /** Records a new town, unless the user already has `limit` (429). */
  async addTown(entry: { id: string; name: string; createdAt: number }, limit: number) {
    return toResult(() => {
      this.ctx.storage.sql.exec(SCHEMA);
      const count = this.#sql.one<{ n: number }>(`SELECT COUNT(*) AS n FROM towns`)!.n;
      if (count >= limit) throw new AppError('rate_limited', `a user has at most ${limit} towns (MAX_TOWNS_PER_USER)`, { retryAfter: 3600 });
      this.#sql.run(`INSERT OR IGNORE INTO towns (id, name, created_at) VALUES (?, ?, ?)`, entry.id, entry.name, entry.createdAt);
      return { ok: true };
    });
  }

  /** Forgets a town whose creation failed. */
  async removeTown(id: string): Promise<void> {
    if (hasTable(this.ctx.storage.sql, 'towns')) this.#sql.run(`DELETE FROM towns WHERE id = ?`, id);
  }

  /** The user's towns, oldest first, `limit` at most after the town `after`. */
  async listTowns(options: { after?: string; limit: number }): Promise<{ towns: DirectoryEntry[] }> {
    if (!hasTable(this.ctx.storage.sql, 'towns')) return { towns: [] };
    const rows = this.#sql.all<{ id: string; name: string; createdAt: number }>(
      `SELECT id, name, created_at AS createdAt FROM towns
        WHERE ${afterCursor('towns')}
        ORDER BY created_at, id LIMIT ?`,
      options.after ?? null, options.after ?? null, options.limit,
    );
    return { towns: rows.map((r) => ({ id: r.id, name: r.name, createdAt: new Date(r.createdAt).toISOString() })) };
  }

  /** Opens a session until `expiresAt`, forgetting sessions that ended. */
  async openSession(sid: string, expiresAt: number): Promise<void> {
    this.ctx.storage.sql.exec(SESSIONS);
    this.#sql.run(`DELETE FROM sessions WHERE expires_at < ?`, Date.now());
    this.#sql.run(`INSERT INTO sessions (id, expires_at) VALUES (?, ?)`, sid, expiresAt);
  }

  /** Extends an open session to `expiresAt`; false when it was signed out or has expired. */
  async extendSession(sid: string, expiresAt: number): Promise<boolean> {
    if (!hasTable(this.ctx.storage.sql, 'sessions')) return false;
    return this.#sql.run(`UPDATE sessions SET expires_at = ? WHERE id = ? AND expires_at >= ?`, expiresAt, sid, Date.now()) > 0;
  }

  /** Whether a session is open: not signed out, and refreshed within its max age. */
  async hasSession(sid: string): Promise<boolean> {
    if (!hasTable(this.ctx.storage.sql, 'sessions')) return false;
    return this.#sql.one(`SELECT 1 AS open FROM sessions WHERE id = ? AND expires_at >= ?`, sid, Date.now()) !== null;
  }

  /** Ends a session (sign out). */
  async closeSession(sid: string): Promise<void> {
    if (hasTable(this.ctx.storage.sql, 'sessions')) this.#sql.run(`DELETE FROM sessions WHERE id = ?`, sid);
  }
}
