import { afterCursor, type Sql } from './sql';

export type BeadStatus = 'open' | 'assigned' | 'done' | 'closed';

/** A work item. */
export interface BeadRow {
  id: string;
  rigId: string | null;
  title: string;
  body: string | null;
  status: BeadStatus;
  assignee: string | null;
  createdBy: string | null;
  summary: string | null;
  createdAt: number;
  updatedAt: number;
}

const COLUMNS = `id, rig_id AS rigId, title, body, status, assignee, created_by AS createdBy, summary,
  created_at AS createdAt, updated_at AS updatedAt`;

/** SQL access to beads. */
export class BeadStore {
  readonly #sql: Sql;

  constructor(sql: Sql) {
    this.#sql = sql;
  }

  create(bead: { id: string; rigId: string | null; title: string; body: string | null; createdBy: string | null }, now: number): BeadRow {
    this.#sql.run(
      `INSERT INTO beads (id, rig_id, title, body, status, created_by, created_at, updated_at) VALUES (?, ?, ?, ?, 'open', ?, ?, ?)`,
      bead.id, bead.rigId, bead.title, bead.body, bead.createdBy, now, now,
    );
    return this.get(bead.id)!;
  }

  get(id: string): BeadRow | null {
    return this.#sql.one<BeadRow>(`SELECT ${COLUMNS} FROM beads WHERE id = ?`, id);
  }

  /** The most recently updated beads, `limit` at most, in creation order. */
  listForView(limit: number): BeadRow[] {
    return this.#sql
      .all<BeadRow>(`SELECT ${COLUMNS} FROM beads ORDER BY updated_at DESC, id LIMIT ?`, limit)
      .sort((a, b) => a.createdAt - b.createdAt || a.id.localeCompare(b.id));
  }

  /** One page of beads in creation order, optionally of one status, after the bead `after`. */
  page(options: { after?: string; limit: number; status?: string }): BeadRow[] {
    return this.#sql.all<BeadRow>(
      `SELECT ${COLUMNS} FROM beads
        WHERE (? IS NULL OR status = ?)
          AND ${afterCursor('beads')}
        ORDER BY created_at, id LIMIT ?`,
      options.status ?? null, options.status ?? null, options.after ?? null, options.after ?? null, options.limit,
    );
  }

  count(): number {
    return this.#sql.one<{ n: number }>(`SELECT COUNT(*) AS n FROM beads`)!.n;
  }

  countByStatus(): Record<string, number> {
    const rows = this.#sql.all<{ status: string; n: number }>(`SELECT status, COUNT(*) AS n FROM beads GROUP BY status`);
    return Object.fromEntries(rows.map((r) => [r.status, r.n]));
  }

  /**
   * Moves a bead from `from` (and, when given, from the assignee `assignedTo`) to a new
   * status; false, and nothing changed, when it was not in that state.
   */
  transition(id: string, from: { status: BeadStatus; assignee?: string | null }, to: { status: BeadStatus; assignee?: string | null; summary?: string | null }, now: number): boolean {
    return this.#sql.run(
      `UPDATE beads SET status = ?, assignee = CASE WHEN ? THEN ? ELSE assignee END, summary = COALESCE(?, summary), updated_at = ?
        WHERE id = ? AND status = ? AND (? = 0 OR assignee IS ?)`,
      to.status, to.assignee === undefined ? 0 : 1, to.assignee ?? null, to.summary ?? null, now,
      id, from.status, from.assignee === undefined ? 0 : 1, from.assignee ?? null,
    ) > 0;
  }
}
