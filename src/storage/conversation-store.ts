import type { Sql } from './sql';

/** One message of the mayor conversation. */
export interface ConversationMessage {
  id: number;
  from: 'user' | 'mayor';
  text: string;
  at: number;
}

/**
 * The mayor conversation: the user's messages, delivered to the mayor in order and at
 * least once (pending until the control server took them), and the mayor's replies (one
 * per reply event id).
 */
export class ConversationStore {
  readonly #sql: Sql;

  constructor(sql: Sql) {
    this.#sql = sql;
  }

  /** Records a user message, pending delivery; returns its id. */
  addUserMessage(text: string, now: number): number {
    return this.#sql.one<{ id: number }>(`INSERT INTO mayor_messages (sender, text, at) VALUES ('user', ?, ?) RETURNING id`, text, now)!.id;
  }

  /** Records a reply of the mayor, once per (agent, event id); true when new. */
  addReply(agentId: string, eventId: string, text: string, now: number): boolean {
    return this.#sql.all(
      `INSERT OR IGNORE INTO mayor_messages (sender, text, agent_id, source_event_id, at, delivered_at) VALUES ('mayor', ?, ?, ?, ?, ?) RETURNING id`,
      text, agentId, eventId, now, now,
    ).length > 0;
  }

  /** User messages not yet delivered to the mayor, oldest first. */
  pending(limit = 50): Array<{ id: number; text: string }> {
    return this.#sql.all(`SELECT id, text FROM mayor_messages WHERE sender = 'user' AND delivered_at IS NULL ORDER BY id LIMIT ?`, limit);
  }

  isDelivered(id: number): boolean {
    return this.#sql.one<{ d: number | null }>(`SELECT delivered_at AS d FROM mayor_messages WHERE id = ?`, id)?.d != null;
  }

  markDelivered(id: number, agentId: string, now: number): void {
    this.#sql.run(`UPDATE mayor_messages SET delivered_at = ?, agent_id = ? WHERE id = ? AND delivered_at IS NULL`, now, agentId, id);
  }

  /** Messages after the message `after`, in order. */
  after(after: number, limit: number): ConversationMessage[] {
    return this.#sql.all<ConversationMessage>(
      `SELECT id, sender AS "from", text, at FROM mayor_messages WHERE id > ? ORDER BY id LIMIT ?`,
      after, limit,
    );
  }
}
