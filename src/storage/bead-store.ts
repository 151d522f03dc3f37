import type { Sql } from './sql';

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

  list(): BeadRow[] {
    return this.#sql.all<BeadRow>(`SELECT ${COLUMNS} FROM beads ORDER BY created_at, id`);
  }

  update(id: string, changes: { status: BeadStatus; assignee?: string | null; summary?: string | null }, now: number): BeadRow {
    this.#sql.run(
      `UPDATE beads SET status = ?, assignee = CASE WHEN ? THEN ? ELSE assignee END,
        summary = COALESCE(?, summary), updated_at = ? WHERE id = ?`,
      changes.status, changes.assignee === undefined ? 0 : 1, changes.assignee ?? null, changes.summary ?? null, now, id,
    );
    return this.get(id)!;
  }
}
