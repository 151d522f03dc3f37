import type { Sql } from './sql';

/** Town events kept for the SSE stream's replay. */
export const TOWN_EVENT_CAP = 5_000;

/** A town event, as streamed over SSE. */
export interface TownEvent {
  id: number;
  type: string;
  data: string;
  at: number;
}

/** An agent event as stored. */
export interface StoredAgentEvent {
  eventId: string;
  type: string;
  data: string;
  at: number;
}

/** SQL access to agent events (idempotent by id, bounded by bytes per agent) and the town's event log. */
export class EventStore {
  readonly #sql: Sql;

  constructor(sql: Sql) {
    this.#sql = sql;
  }

  /** Stores one event unless its id was stored before; true when it is new. */
  addAgentEvent(agentId: string, event: { id: string; type: string; json: string; bytes: number }, now: number): boolean {
    const inserted = this.#sql.all(
      `INSERT OR IGNORE INTO agent_events (agent_id, event_id, type, data, bytes, at) VALUES (?, ?, ?, ?, ?, ?) RETURNING seq`,
      agentId, event.id, event.type, event.json, event.bytes, now,
    );
    return inserted.length > 0;
  }

  /**
   * Deletes an agent's oldest events until at most `keepBytes` remain of `totalBytes`;
   * returns how many events and bytes went.
   */
  trimAgentEvents(agentId: string, totalBytes: number, keepBytes: number): { events: number; bytes: number } {
    let excess = totalBytes - keepBytes;
    const removed = { events: 0, bytes: 0 };
    while (excess > 0) {
      const rows = this.#sql.all<{ seq: number; bytes: number }>(`SELECT seq, bytes FROM agent_events WHERE agent_id = ? ORDER BY seq LIMIT 256`, agentId);
      if (rows.length === 0) break;
      let last = -1;
      for (const row of rows) {
        if (excess <= 0) break;
        last = row.seq;
        excess -= row.bytes;
        removed.events++;
        removed.bytes += row.bytes;
      }
      this.#sql.run(`DELETE FROM agent_events WHERE agent_id = ? AND seq <= ?`, agentId, last);
      if (rows.length < 256) break;
    }
    return removed;
  }

  /** Deletes every stored event of an agent; returns how many went. */
  deleteAgentEvents(agentId: string): number {
    const n = this.#sql.one<{ n: number }>(`SELECT COUNT(*) AS n FROM agent_events WHERE agent_id = ?`, agentId)!.n;
    if (n > 0) this.#sql.run(`DELETE FROM agent_events WHERE agent_id = ?`, agentId);
    return n;
  }

  agentEvents(agentId: string, limit = 100): StoredAgentEvent[] {
    return this.#sql.all(
      `SELECT event_id AS eventId, type, data, at FROM agent_events WHERE agent_id = ? ORDER BY seq DESC LIMIT ?`,
      agentId, limit,
    );
  }

  appendTownEvent(type: string, data: unknown, now: number): TownEvent {
    const json = JSON.stringify(data);
    const row = this.#sql.one<{ id: number }>(
      `INSERT INTO town_events (type, data, at) VALUES (?, ?, ?) RETURNING id`, type, json, now,
    )!;
    if (row.id % 100 === 0) this.#sql.run(`DELETE FROM town_events WHERE id <= ?`, row.id - TOWN_EVENT_CAP);
    return { id: row.id, type, data: json, at: now };
  }

  /** Every retained event after `afterId`, in order (the table holds at most TOWN_EVENT_CAP + 100). */
  townEventsAfter(afterId: number, limit = TOWN_EVENT_CAP + 100): TownEvent[] {
    return this.#sql.all<TownEvent>(`SELECT id, type, data, at FROM town_events WHERE id > ? ORDER BY id LIMIT ?`, afterId, limit);
  }

  /** The oldest retained town event id, or null when there is none. */
  oldestTownEventId(): number | null {
    return this.#sql.one<{ id: number | null }>(`SELECT MIN(id) AS id FROM town_events`)?.id ?? null;
  }
}
