import type { Sql } from './sql';

/** Agent roles. */
export type Role = 'mayor' | 'polecat' | 'refinery';

/** An agent row as the TownDO sees it. */
export interface AgentRow {
  id: string;
  rigId: string | null;
  role: Role;
  status: string;
  beadId: string | null;
  command: string | null;
  tokenGen: number;
  /** When the current token generation began; null while a revived agent has not started yet. */
  tokenGenStartedAt: number | null;
  tokenExpiresAt: number | null;
  tokenRefreshedAt: number | null;
  refreshCount: number;
  nextRefreshAt: number | null;
  refreshFailures: number;
  lastHeartbeatAt: number | null;
  /** When a silent agent is next checked for in the container (see the refresher). */
  stallCheckAt: number | null;
  heartbeatDetail: string | null;
  remintWindowStart: number | null;
  remintCount: number;
  eventsStored: number;
  summary: string | null;
  createdAt: number;
  startedAt: number | null;
  endedAt: number | null;
}

const COLUMNS = `id, rig_id AS rigId, role, status, bead_id AS beadId, command, token_gen AS tokenGen, token_gen_started_at AS tokenGenStartedAt,
  token_expires_at AS tokenExpiresAt, token_refreshed_at AS tokenRefreshedAt, refresh_count AS refreshCount,
  next_refresh_at AS nextRefreshAt, refresh_failures AS refreshFailures, last_heartbeat_at AS lastHeartbeatAt,
  stall_check_at AS stallCheckAt, heartbeat_detail AS heartbeatDetail, remint_window_start AS remintWindowStart, remint_count AS remintCount,
  events_stored AS eventsStored, summary, created_at AS createdAt, started_at AS startedAt, ended_at AS endedAt`;

const LIVE = `status IN ('starting', 'working', 'idle')`;

/** SQL access to the agents table. */
export class AgentStore {
  readonly #sql: Sql;

  constructor(sql: Sql) {
    this.#sql = sql;
  }

  insert(agent: { id: string; rigId: string | null; role: Role; beadId: string | null; command: string[] | null }, now: number): void {
    this.#sql.run(
      `INSERT INTO agents (id, rig_id, role, status, bead_id, command, created_at, token_gen_started_at) VALUES (?, ?, ?, 'starting', ?, ?, ?, ?)`,
      agent.id, agent.rigId, agent.role, agent.beadId, agent.command ? JSON.stringify(agent.command) : null, now, now,
    );
  }

  get(id: string): AgentRow | null {
    return this.#sql.one<AgentRow>(`SELECT ${COLUMNS} FROM agents WHERE id = ?`, id);
  }

  list(): AgentRow[] {
    return this.#sql.all<AgentRow>(`SELECT ${COLUMNS} FROM agents ORDER BY created_at, id`);
  }

  /** Agents the container is believed to run. */
  live(): AgentRow[] {
    return this.#sql.all<AgentRow>(`SELECT ${COLUMNS} FROM agents WHERE ${LIVE} ORDER BY id`);
  }

  /** Live agents with a given role (and rig, when given). */
  liveByRole(role: Role, rigId?: string | null): AgentRow[] {
    if (rigId === undefined) return this.#sql.all<AgentRow>(`SELECT ${COLUMNS} FROM agents WHERE ${LIVE} AND role = ?`, role);
    return this.#sql.all<AgentRow>(`SELECT ${COLUMNS} FROM agents WHERE ${LIVE} AND role = ? AND rig_id IS ?`, role, rigId);
  }

  byRole(role: Role): AgentRow | null {
    return this.#sql.one<AgentRow>(`SELECT ${COLUMNS} FROM agents WHERE role = ? ORDER BY created_at DESC LIMIT 1`, role);
  }

  /** Live agents whose refresh is due before `horizon`, or whose stall check is due by `now`. */
  dueForRefresh(horizon: number, now: number): AgentRow[] {
    return this.#sql.all<AgentRow>(
      `SELECT ${COLUMNS} FROM agents WHERE ${LIVE} AND (next_refresh_at <= ? OR stall_check_at <= ?) ORDER BY next_refresh_at`,
      horizon, now,
    );
  }

  /** The earliest scheduled refresh or stall check among live agents, or null when none is live. */
  earliestRefresh(): number | null {
    const row = this.#sql.one<{ refresh: number | null; stall: number | null }>(
      `SELECT MIN(next_refresh_at) AS refresh, MIN(stall_check_at) AS stall FROM agents WHERE ${LIVE}`,
    );
    const times = [row?.refresh, row?.stall].filter((t): t is number => typeof t === 'number');
    return times.length > 0 ? Math.min(...times) : null;
  }

  /** Schedules the next stall check (after a probe found the silent agent still there). */
  setStallCheck(id: string, at: number): void {
    this.#sql.run(`UPDATE agents SET stall_check_at = ? WHERE id = ?`, at, id);
  }

  /** Records a token the container accepted. */
  recordTokenDelivered(id: string, expiresAt: number, now: number, nextRefreshAt: number): void {
    this.#sql.run(
      `UPDATE agents SET token_expires_at = ?, token_refreshed_at = ?, refresh_count = refresh_count + 1,
        next_refresh_at = ?, refresh_failures = 0 WHERE id = ?`,
      expiresAt, now, nextRefreshAt, id,
    );
  }

  /** Records a failed push: the old token stays, the retry is scheduled. */
  recordRefreshFailure(id: string, retryAt: number): void {
    this.#sql.run(`UPDATE agents SET refresh_failures = refresh_failures + 1, next_refresh_at = ? WHERE id = ?`, retryAt, id);
  }

  /** Marks an agent started in the container with its first token; a revived agent's generation begins here. */
  markStarted(id: string, expiresAt: number, now: number, nextRefreshAt: number, stallCheckAt: number): void {
    this.#sql.run(
      `UPDATE agents SET status = 'working', started_at = ?, token_expires_at = ?, token_refreshed_at = ?,
        next_refresh_at = ?, stall_check_at = ?, refresh_failures = 0, last_heartbeat_at = NULL, ended_at = NULL,
        token_gen_started_at = COALESCE(token_gen_started_at, ?) WHERE id = ?`,
      now, expiresAt, now, nextRefreshAt, stallCheckAt, now, id,
    );
  }

  /** Prepares a dead agent (the mayor) to run again under a new token generation, which begins when it starts. */
  revive(id: string): void {
    this.#sql.run(`UPDATE agents SET status = 'starting', token_gen = token_gen + 1, token_gen_started_at = NULL, summary = NULL WHERE id = ?`, id);
  }

  /** Ends an agent. `revoke` bumps its token generation, which kills every token minted before. */
  end(id: string, status: 'exited' | 'failed' | 'stopped', now: number, summary: string | null, revoke: boolean): void {
    this.#sql.run(
      `UPDATE agents SET status = ?, ended_at = ?, next_refresh_at = NULL, stall_check_at = NULL, summary = COALESCE(?, summary),
        token_gen = token_gen + ?, token_gen_started_at = CASE WHEN ? THEN ? ELSE token_gen_started_at END WHERE id = ?`,
      status, now, summary, revoke ? 1 : 0, revoke ? 1 : 0, now, id,
    );
  }

  /** A heartbeat from a live agent; pushes its stall check to `stallCheckAt`. */
  recordHeartbeat(id: string, status: 'working' | 'idle', detail: string | null, now: number, stallCheckAt: number): void {
    this.#sql.run(
      `UPDATE agents SET last_heartbeat_at = ?, heartbeat_detail = ?, status = ?, stall_check_at = ? WHERE id = ? AND ${LIVE}`,
      now, detail, status, stallCheckAt, id,
    );
  }

  setRemintWindow(id: string, windowStart: number | null, count: number): void {
    this.#sql.run(`UPDATE agents SET remint_window_start = ?, remint_count = ? WHERE id = ?`, windowStart, count, id);
  }

  addEventsStored(id: string, n: number): void {
    if (n > 0) this.#sql.run(`UPDATE agents SET events_stored = events_stored + ? WHERE id = ?`, n, id);
  }
}
