import type { Sql } from './sql';

/** How a token reached an agent. */
export type TokenIssueKind = 'start' | 'refresh' | 'remint';

/** One token an agent was given. */
export interface TokenIssue {
  agentId: string;
  gen: number;
  kind: TokenIssueKind;
  issuedAt: number;
  expiresAt: number;
}

/** Tokens kept per agent for the refresh timeline. */
const KEPT_PER_AGENT = 500;

/** Every token an agent was given: the refresh timeline shows their validity windows. */
export class TokenHistoryStore {
  readonly #sql: Sql;

  constructor(sql: Sql) {
    this.#sql = sql;
  }

  add(issue: TokenIssue): void {
    const row = this.#sql.one<{ id: number }>(
      `INSERT INTO token_history (agent_id, gen, kind, issued_at, expires_at) VALUES (?, ?, ?, ?, ?) RETURNING id`,
      issue.agentId, issue.gen, issue.kind, issue.issuedAt, issue.expiresAt,
    )!;
    if (row.id % 50 === 0) {
      this.#sql.run(
        `DELETE FROM token_history WHERE agent_id = ? AND id <= (SELECT id FROM token_history WHERE agent_id = ? ORDER BY id DESC LIMIT 1 OFFSET ?)`,
        issue.agentId, issue.agentId, KEPT_PER_AGENT,
      );
    }
  }

  /** Deletes an agent's token history; returns how many entries went. */
  deleteForAgent(agentId: string): number {
    const n = this.#sql.one<{ n: number }>(`SELECT COUNT(*) AS n FROM token_history WHERE agent_id = ?`, agentId)!.n;
    if (n > 0) this.#sql.run(`DELETE FROM token_history WHERE agent_id = ?`, agentId);
    return n;
  }

  /** The newest `limit` tokens still valid at or after `since`, oldest first; `truncated` when older ones were left out. */
  since(since: number, limit: number): { tokens: TokenIssue[]; truncated: boolean } {
    const rows = this.#sql.all<TokenIssue>(
      `SELECT agent_id AS agentId, gen, kind, issued_at AS issuedAt, expires_at AS expiresAt FROM token_history
        WHERE expires_at >= ? ORDER BY id DESC LIMIT ?`,
      since, limit + 1,
    );
    return { tokens: rows.slice(0, limit).reverse(), truncated: rows.length > limit };
  }
}
