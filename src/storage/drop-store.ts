import type { Sql } from './sql';

/** A report from the container of items it could not deliver. */
export interface DropReport {
  id: string;
  agentId: string;
  kind: string;
  cause: string;
  count: number;
}

/** Reports remembered for idempotency; older ones are forgotten (a retry comes within minutes). */
const REPORTS_KEPT = 10_000;

/** Drop reports, idempotent by id. Counters by kind and cause live in the town's meta table. */
export class DropStore {
  readonly #sql: Sql;

  constructor(sql: Sql) {
    this.#sql = sql;
  }

  /** Records a report unless its id was seen; true when new. */
  add(report: DropReport, now: number): boolean {
    const inserted = this.#sql.all(
      `INSERT OR IGNORE INTO drop_reports (id, agent_id, kind, cause, count, at) VALUES (?, ?, ?, ?, ?, ?) RETURNING id`,
      report.id, report.agentId, report.kind, report.cause, report.count, now,
    );
    return inserted.length > 0;
  }

  /** Forgets all but the most recent reports. */
  trim(): void {
    this.#sql.run(`DELETE FROM drop_reports WHERE rowid <= (SELECT rowid FROM drop_reports ORDER BY rowid DESC LIMIT 1 OFFSET ?)`, REPORTS_KEPT);
  }
}
