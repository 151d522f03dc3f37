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
  /** How many times it was handed out (more than once: it was not acknowledged in time). */
  deliveries: number;
  /** When its recipient acknowledged it (null: not yet). */
  readAt: number | null;
}

/** Mail handed out per check. */
export const MAIL_PER_CHECK = 100;

const COLUMNS = `id, from_agent AS "from", to_agent AS "to", subject, body, bead_id AS beadId, sent_at AS sentAt, deliveries, read_at AS readAt`;

/**
 * SQL access to mail. Delivery is at least once: a check hands out unacknowledged mail
 * and leases it (MAIL_LEASE_SECONDS); mail acknowledged by its recipient is done
 * (`read_at`), mail whose lease ran out is handed out again.
 */
export class MailStore {
  readonly #sql: Sql;

  constructor(sql: Sql) {
    this.#sql = sql;
  }

  send(mail: Omit<MailRow, 'deliveries' | 'readAt'>): void {
    this.#sql.run(
      `INSERT INTO mail (id, from_agent, to_agent, subject, body, bead_id, sent_at) VALUES (?, ?, ?, ?, ?, ?, ?)`,
      mail.id, mail.from, mail.to, mail.subject, mail.body, mail.beadId, mail.sentAt,
    );
  }

  /** Acknowledges mail of `agentId` (ids of other recipients are ignored); returns how many were acknowledged. */
  ack(agentId: string, ids: readonly string[], now: number): number {
    let acked = 0;
    for (const id of ids) acked += this.#sql.run(`UPDATE mail SET read_at = ? WHERE id = ? AND to_agent = ? AND read_at IS NULL`, now, id, agentId) > 0 ? 1 : 0;
    return acked;
  }

  /** Unacknowledged mail of an agent not under lease, leased until `now + leaseMs` as it is returned. */
  deliver(agentId: string, now: number, leaseMs: number): MailRow[] {
    const rows = this.#sql.all<MailRow>(
      `SELECT ${COLUMNS} FROM mail WHERE to_agent = ? AND read_at IS NULL AND (lease_until IS NULL OR lease_until <= ?)
        ORDER BY sent_at, id LIMIT ?`,
      agentId, now, MAIL_PER_CHECK,
    );
    for (const row of rows) this.#sql.run(`UPDATE mail SET lease_until = ?, deliveries = deliveries + 1 WHERE id = ?`, now + leaseMs, row.id);
    return rows.map((r) => ({ ...r, deliveries: r.deliveries + 1 }));
  }

  /** Mail waiting for an agent's acknowledgement (the unread-mail quota). */
  countUnacked(agentId: string): number {
    return this.#sql.one<{ n: number }>(`SELECT COUNT(*) AS n FROM mail WHERE to_agent = ? AND read_at IS NULL`, agentId)!.n;
  }

  /** Deletes up to `limit` mails acknowledged no later than `cutoff`, the oldest acknowledged first; returns how many went. */
  deleteAckedBefore(cutoff: number, limit: number): number {
    const ids = this.#sql.all<{ id: string }>(`SELECT id FROM mail WHERE read_at IS NOT NULL AND read_at <= ? ORDER BY read_at LIMIT ?`, cutoff, limit);
    for (const { id } of ids) this.#sql.run(`DELETE FROM mail WHERE id = ?`, id);
    return ids.length;
  }

  /** When the earliest still-stored acknowledgement was made; null when none. */
  earliestAck(): number | null {
    return this.#sql.one<{ at: number | null }>(`SELECT MIN(read_at) AS at FROM mail WHERE read_at IS NOT NULL`)?.at ?? null;
  }

  /** The most recent mail of the town, newest first. */
  recent(limit: number): MailRow[] {
    return this.#sql.all<MailRow>(`SELECT ${COLUMNS} FROM mail ORDER BY sent_at DESC, id DESC LIMIT ?`, limit);
  }
}
