import type { Sql } from './sql';

/** Events kept per agent; older ones are trimmed. */
export const AGENT_EVENT_CAP = 1_000;
/** Town events kept for the SSE stream's replay. */
export const TOWN_EVENT_CAP = 5_000;

/** An event reported by an agent (its id is chosen by the container and stable across retries). */
export interface AgentEventInput {
  id: string;
  type: string;
  [field: string]: unknown;
}

/** A town event, as streamed over SSE. */
export interface TownEvent {
  id: number;
  type: string;
  data: string;
  at: number;
}

/** SQL access to agent events (idempotent by id) and the town's event log. */
export class EventStore {
  readonly #sql: Sql;

  constructor(sql: Sql) {
    this.#sql = sql;
  }

  /** Stores events not seen before; returns how many were new. */
  addAgentEvents(agentId: string, events: readonly AgentEventInput[], now: number): number {
    let added = 0;
    for (const event of events) {
      const inserted = this.#sql.all(
        `INSERT OR IGNORE INTO agent_events (agent_id, event_id, type, data, at) VALUES (?, ?, ?, ?, ?) RETURNING seq`,
        agentId, event.id, event.type, JSON.stringify(event), now,
      );
      added += inserted.length;
    }
    if (added > 0) {
      this.#sql.run(
        `DELETE FROM agent_events WHERE agent_id = ? AND seq <= (
          SELECT seq FROM agent_events WHERE agent_id = ? ORDER BY seq DESC LIMIT 1 OFFSET ?)`,
        agentId, agentId, AGENT_EVENT_CAP,
      );
    }
    return added;
  }

  agentEvents(agentId: string, limit = 100): Array<{ eventId: string; type: string; data: string; at: number }> {
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
}
