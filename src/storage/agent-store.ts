import { afterCursor, type Sql } from './sql';

/** Agent roles. */
export type Role = 'mayor' | 'polecat' | 'refinery';
/** How an agent ends: it finished (`exited`), failed, or was stopped by the user. */
export type EndStatus = 'exited' | 'failed' | 'stopped';

/** An agent row as the TownDO sees it. */
export interface AgentRow {
  id: string;
  rigId: string | null;
  role: Role;
  status: string;
  beadId: string | null;
  command: string | null;
  runtime: string | null;
  tokenGen: number;
  /** When the current token generation began; null while a revived agent has not started yet. */
  tokenGenStartedAt: number | null;
  /** The latest `iat` (s) minted for the current generation. */
  lastMintedIat: number | null;
  tokenExpiresAt: number | null;
  tokenRefreshedAt: number | null;
  refreshCount: number;
  nextRefreshAt: number | null;
  refreshFailures: number;
  lastHeartbeatAt: number | null;
  heartbeatDetail: string | null;
  /** While `starting` with a start in flight: when it is given up on. */
  startDeadlineAt: number | null;
  /** While `starting` without a start in flight: when the next (re)start is tried. */
  nextRestartAt: number | null;
  restartCount: number;
  remintWindowStart: number | null;
  remintCount: number;
  toolWindowStart: number | null;
  toolWindowCount: number;
  eventsStored: number;
  eventsBytes: number;
  eventsTrimmed: number;
  summary: string | null;
  endReason: string | null;
  createdAt: number;
  startedAt: number | null;
  endedAt: number | null;
}

const COLUMNS = `id, rig_id AS rigId, role, status, bead_id AS beadId, command, runtime, token_gen AS tokenGen,
  token_gen_started_at AS tokenGenStartedAt, last_minted_iat AS lastMintedIat,
  token_expires_at AS tokenExpiresAt, token_refreshed_at AS tokenRefreshedAt, refresh_count AS refreshCount,
  next_refresh_at AS nextRefreshAt, refresh_failures AS refreshFailures, last_heartbeat_at AS lastHeartbeatAt,
  heartbeat_detail AS heartbeatDetail, start_deadline_at AS startDeadlineAt, next_restart_at AS nextRestartAt,
  restart_count AS restartCount, remint_window_start AS remintWindowStart, remint_count AS remintCount,
  tool_window_start AS toolWindowStart, tool_window_count AS toolWindowCount,
  events_stored AS eventsStored, events_bytes AS eventsBytes, events_trimmed AS eventsTrimmed,
  summary, end_reason AS endReason, created_at AS createdAt, started_at AS startedAt, ended_at AS endedAt`;

/** Believed to run in the container (or about to). */
const LIVE = `status IN ('starting', 'working', 'idle')`;
/** Started and running: these are refreshed. */
const RUNNING = `status IN ('working', 'idle')`;

/**
 * SQL access to the agents table. Every status change is guarded by the state it leaves
 * (and the token generation it belongs to), so a late or concurrent writer can never bring
 * an ended agent back or record a result for a generation that was replaced. Guarded
 * writes return whether they applied.
 */
export class AgentStore {
  readonly #sql: Sql;

  constructor(sql: Sql) {
    this.#sql = sql;
  }

  insert(agent: { id: string; rigId: string | null; role: Role; beadId: string | null; command: string[] | null; runtime: string | null }, now: number): void {
    this.#sql.run(
      `INSERT INTO agents (id, rig_id, role, status, bead_id, command, runtime, created_at, token_gen_started_at) VALUES (?, ?, ?, 'starting', ?, ?, ?, ?, ?)`,
      agent.id, agent.rigId, agent.role, agent.beadId, agent.command ? JSON.stringify(agent.command) : null, agent.runtime, now, now,
    );
  }

  get(id: string): AgentRow | null {
    return this.#sql.one<AgentRow>(`SELECT ${COLUMNS} FROM agents WHERE id = ?`, id);
  }

  /** Live agents first, then the most recently created ended ones, `limit` in all. */
  listForView(limit: number): AgentRow[] {
    return this.#sql.all<AgentRow>(
      `SELECT ${COLUMNS} FROM agents ORDER BY CASE WHEN ${LIVE} THEN 0 ELSE 1 END, created_at DESC, id LIMIT ?`,
      limit,
    ).sort((a, b) => a.createdAt - b.createdAt || a.id.localeCompare(b.id));
  }

  /** One page of agents in creation order, optionally of one status, after the agent `after`. */
  page(options: { after?: string; limit: number; status?: string }): AgentRow[] {
    return this.#sql.all<AgentRow>(
      `SELECT ${COLUMNS} FROM agents
        WHERE (? IS NULL OR status = ?)
          AND ${afterCursor('agents')}
        ORDER BY created_at, id LIMIT ?`,
      options.status ?? null, options.status ?? null, options.after ?? null, options.after ?? null, options.limit,
    );
  }

  /** Agents by status. */
  countByStatus(): Record<string, number> {
    const rows = this.#sql.all<{ status: string; n: number }>(`SELECT status, COUNT(*) AS n FROM agents GROUP BY status`);
    return Object.fromEntries(rows.map((r) => [r.status, r.n]));
  }

  /** Agents believed to run in the container, or about to. */
  live(): AgentRow[] {
    return this.#sql.all<AgentRow>(`SELECT ${COLUMNS} FROM agents WHERE ${LIVE} ORDER BY id`);
  }

  countLive(): number {
    return this.#sql.one<{ n: number }>(`SELECT COUNT(*) AS n FROM agents WHERE ${LIVE}`)!.n;
  }

  /** Live agents with a given role (and rig, when given). */
  liveByRole(role: Role, rigId?: string | null): AgentRow[] {
    if (rigId === undefined) return this.#sql.all<AgentRow>(`SELECT ${COLUMNS} FROM agents WHERE ${LIVE} AND role = ? ORDER BY created_at`, role);
    return this.#sql.all<AgentRow>(`SELECT ${COLUMNS} FROM agents WHERE ${LIVE} AND role = ? AND rig_id IS ? ORDER BY created_at`, role, rigId);
  }

  /** The most recent agent of a role. */
  latestOfRole(role: Role): AgentRow | null {
    return this.#sql.one<AgentRow>(`SELECT ${COLUMNS} FROM agents WHERE role = ? ORDER BY created_at DESC LIMIT 1`, role);
  }

  /** Running agents whose refresh is due before `horizon`. */
  dueForRefresh(horizon: number): AgentRow[] {
    return this.#sql.all<AgentRow>(`SELECT ${COLUMNS} FROM agents WHERE ${RUNNING} AND next_refresh_at <= ? ORDER BY next_refresh_at`, horizon);
  }

  /** Starting agents whose start deadline has passed, or whose (re)start is due. */
  dueToStart(now: number): AgentRow[] {
    return this.#sql.all<AgentRow>(
      `SELECT ${COLUMNS} FROM agents WHERE status = 'starting' AND (start_deadline_at <= ? OR (start_deadline_at IS NULL AND next_restart_at <= ?)) ORDER BY id`,
      now, now,
    );
  }

  /** The earliest scheduled refresh, start deadline or restart among live agents; null when none is live. */
  earliestDue(): number | null {
    const row = this.#sql.one<{ refresh: number | null; deadline: number | null; restart: number | null }>(
      `SELECT (SELECT MIN(next_refresh_at) FROM agents WHERE ${RUNNING}) AS refresh,
              (SELECT MIN(start_deadline_at) FROM agents WHERE status = 'starting') AS deadline,
              (SELECT MIN(next_restart_at) FROM agents WHERE status = 'starting' AND start_deadline_at IS NULL) AS restart`,
    );
    const times = [row?.refresh, row?.deadline, row?.restart].filter((t): t is number => typeof t === 'number');
    return times.length > 0 ? Math.min(...times) : null;
  }

  /** A start is in flight for `gen`: give up on it at `deadline`. */
  beginStart(id: string, gen: number, deadline: number): boolean {
    return this.#sql.run(
      `UPDATE agents SET start_deadline_at = ?, next_restart_at = NULL WHERE id = ? AND status = 'starting' AND token_gen = ?`,
      deadline, id, gen,
    ) > 0;
  }

  /** The start of `gen` succeeded: the agent runs with its first token of that generation. */
  markStarted(id: string, gen: number, expiresAt: number, now: number, nextRefreshAt: number): boolean {
    return this.#sql.run(
      `UPDATE agents SET status = 'working', started_at = ?, token_expires_at = ?, token_refreshed_at = ?,
        next_refresh_at = ?, refresh_failures = 0, start_deadline_at = NULL, next_restart_at = NULL,
        ended_at = NULL, token_gen_started_at = COALESCE(token_gen_started_at, ?)
        WHERE id = ? AND status = 'starting' AND token_gen = ?`,
      now, expiresAt, now, nextRefreshAt, now, id, gen,
    ) > 0;
  }

  /** Records the latest mint of the current generation. */
  recordMinted(id: string, gen: number, iatSeconds: number): void {
    this.#sql.run(`UPDATE agents SET last_minted_iat = MAX(COALESCE(last_minted_iat, 0), ?) WHERE id = ? AND token_gen = ?`, iatSeconds, id, gen);
  }

  /** Records a token of `gen` the container holds, and schedules the next refresh. */
  recordTokenDelivered(id: string, gen: number, expiresAt: number, now: number, nextRefreshAt: number): boolean {
    return this.#sql.run(
      `UPDATE agents SET token_expires_at = MAX(COALESCE(token_expires_at, 0), ?), token_refreshed_at = ?, refresh_count = refresh_count + 1,
        next_refresh_at = ?, refresh_failures = 0 WHERE id = ? AND token_gen = ? AND ${RUNNING}`,
      expiresAt, now, nextRefreshAt, id, gen,
    ) > 0;
  }

  /** Records a failed push of `gen`: the old token stays, the retry is scheduled. */
  recordRefreshFailure(id: string, gen: number, retryAt: number): void {
    this.#sql.run(`UPDATE agents SET refresh_failures = refresh_failures + 1, next_refresh_at = ? WHERE id = ? AND token_gen = ? AND ${RUNNING}`, retryAt, id, gen);
  }

  /**
   * A new token generation for a running agent whose container holds a token the TownDO did
   * not mint (a higher generation or a later `iat`): every earlier token is revoked and the
   * next push supersedes what the container holds.
   */
  jumpGeneration(id: string, gen: number, newGen: number, now: number): boolean {
    return this.#sql.run(
      `UPDATE agents SET token_gen = ?, token_gen_started_at = ?, last_minted_iat = NULL WHERE id = ? AND token_gen = ? AND ${RUNNING}`,
      newGen, now, id, gen,
    ) > 0;
  }

  /**
   * Prepares an agent to be started again under a new generation (which begins when it
   * starts), no earlier than `restartAt`; counts the restart when `countRestart`. Applies
   * only while the agent is still as the caller read it (`from`: status and generation), so
   * a stop, completion or restart that came first wins (false).
   */
  revive(id: string, from: Pick<AgentRow, 'status' | 'tokenGen'>, restartAt: number, countRestart: boolean): boolean {
    return this.#sql.run(
      `UPDATE agents SET status = 'starting', token_gen = token_gen + 1, token_gen_started_at = NULL, last_minted_iat = NULL,
        summary = NULL, end_reason = NULL, ended_at = NULL, purged_at = NULL, next_refresh_at = NULL, start_deadline_at = NULL,
        next_restart_at = ?, restart_count = restart_count + ? WHERE id = ? AND status = ? AND token_gen = ?`,
      restartAt, countRestart ? 1 : 0, id, from.status, from.tokenGen,
    ) > 0;
  }

  /** An agent that ran a whole stall window since its last start is no longer counted as restarting. */
  resetRestarts(id: string): void {
    this.#sql.run(`UPDATE agents SET restart_count = 0 WHERE id = ? AND restart_count > 0`, id);
  }

  /**
   * Ends a live agent and revokes every token minted for it (generation bump). An agent
   * that already ended is left as it is (false).
   */
  end(id: string, status: EndStatus, now: number, summary: string | null, reason: string | null): boolean {
    return this.#sql.run(
      `UPDATE agents SET status = ?, ended_at = ?, next_refresh_at = NULL, start_deadline_at = NULL, next_restart_at = NULL,
        summary = COALESCE(?, summary), end_reason = ?, token_gen = token_gen + 1, token_gen_started_at = ?
        WHERE id = ? AND ${LIVE}`,
      status, now, summary, reason, now, id,
    ) > 0;
  }

  /**
   * A heartbeat from a live agent. A starting agent keeps its status (its start completes
   * through the dispatcher or the start deadline); a running one shows working or idle.
   */
  recordHeartbeat(id: string, status: 'working' | 'idle', detail: string | null, now: number): void {
    this.#sql.run(
      `UPDATE agents SET last_heartbeat_at = ?, heartbeat_detail = ?, status = CASE WHEN status = 'starting' THEN status ELSE ? END
        WHERE id = ? AND ${LIVE}`,
      now, detail, status, id,
    );
  }

  setRemintWindow(id: string, windowStart: number | null, count: number): void {
    this.#sql.run(`UPDATE agents SET remint_window_start = ?, remint_count = ? WHERE id = ?`, windowStart, count, id);
  }

  setToolWindow(id: string, windowStart: number | null, count: number): void {
    this.#sql.run(`UPDATE agents SET tool_window_start = ?, tool_window_count = ? WHERE id = ?`, windowStart, count, id);
  }

  /** Agents that ended no later than `cutoff` and whose events were not purged yet, the longest ended first. */
  endedUnpurged(cutoff: number, limit: number): Array<Pick<AgentRow, 'id' | 'endedAt'>> {
    return this.#sql.all(
      `SELECT id, ended_at AS endedAt FROM agents WHERE ended_at IS NOT NULL AND purged_at IS NULL AND ended_at <= ? ORDER BY ended_at LIMIT ?`,
      cutoff, limit,
    );
  }

  /** When the longest-ended agent whose events were not purged yet ended; null when none. */
  earliestUnpurgedEnd(): number | null {
    return this.#sql.one<{ at: number | null }>(`SELECT MIN(ended_at) AS at FROM agents WHERE ended_at IS NOT NULL AND purged_at IS NULL`)?.at ?? null;
  }

  /** Records that an ended agent's events and token history were deleted (its stored bytes are none). */
  markPurged(id: string, now: number): boolean {
    return this.#sql.run(`UPDATE agents SET purged_at = ?, events_bytes = 0 WHERE id = ? AND ended_at IS NOT NULL AND purged_at IS NULL`, now, id) > 0;
  }

  /** Counts stored events and their bytes (negative when trimmed). */
  addEvents(id: string, stored: number, bytes: number, trimmed: number): void {
    this.#sql.run(
      `UPDATE agents SET events_stored = events_stored + ?, events_bytes = MAX(0, events_bytes + ?), events_trimmed = events_trimmed + ? WHERE id = ?`,
      stored, bytes, trimmed, id,
    );
  }
}
