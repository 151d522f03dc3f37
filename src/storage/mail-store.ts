import type { Sql } from './sql';

/** A message between agents. */
export interface MailRow {
  id: string;
  from: string;
  to: string;
  subject: string | null;
  body: string;
  beadId: string | null;
  sentAt: number;
}

/** SQL access to mail. */
export class MailStore {
  readonly #sql: Sql;

  constructor(sql: Sql) {
    this.#sql = sql;
  }

  send(mail: MailRow): void {
    this.#sql.run(
      `INSERT INTO mail (id, from_agent, to_agent, subject, body, bead_id, sent_at) VALUES (?, ?, ?, ?, ?, ?, ?)`,
      mail.id, mail.from, mail.to, mail.subject, mail.body, mail.beadId, mail.sentAt,
    );
  }

  /** Unread mail of an agent, marked read as it is returned. */
  takeUnread(agentId: string, now: number): MailRow[] {
    const rows = this.#sql.all<MailRow>(
      `SELECT id, from_agent AS "from", to_agent AS "to", subject, body, bead_id AS beadId, sent_at AS sentAt
        FROM mail WHERE to_agent = ? AND read_at IS NULL ORDER BY sent_at, id LIMIT 100`,
      agentId,
    );
    for (const row of rows) this.#sql.run(`UPDATE mail SET read_at = ? WHERE id = ?`, now, row.id);
    return rows;
  }
}
