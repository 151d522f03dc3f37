/**
 * Shapes of the Worker's user API. Known fields are typed; objects stay open
 * (`[field: string]: unknown`) because the Worker may add fields.
 */

/** Agent roles. */
export type AgentRole = 'mayor' | 'polecat' | 'refinery' | (string & {});

/** Agent status as the Worker shows it (`stalled` is derived from heartbeats). */
export type AgentStatus = 'starting' | 'working' | 'idle' | 'stalled' | 'exited' | 'failed' | 'stopped' | (string & {});

/** Bead status. */
export type BeadStatus = 'open' | 'assigned' | 'done' | 'closed' | (string & {});

/** One of the caller's towns (`GET /api/towns`). */
export interface TownSummary {
  id: string;
  name: string;
  createdAt: string;
  [field: string]: unknown;
}

/** A created town or rig. */
export interface Created {
  id: string;
  name: string;
  [field: string]: unknown;
}

export interface Rig {
  id: string;
  name: string;
  gitUrl?: string | null;
  createdAt?: string;
  [field: string]: unknown;
}

/** An agent in the town view: times are ISO 8601 strings, null when not (yet) known. */
export interface Agent {
  id: string;
  role: AgentRole;
  rigId: string | null;
  beadId: string | null;
  status: AgentStatus;
  tokenExpiresAt: string | null;
  tokenRefreshedAt: string | null;
  refreshCount: number;
  refreshFailures: number;
  nextRefreshAt: string | null;
  lastHeartbeatAt: string | null;
  eventsStored: number;
  summary: string | null;
  createdAt: string;
  endedAt: string | null;
  runtime?: string | null;
  [field: string]: unknown;
}

export interface Bead {
  id: string;
  rigId: string;
  title: string;
  body: string;
  status: BeadStatus;
  assignee: string | null;
  [field: string]: unknown;
}

/** A page of a listing: at most `limit` after the item `after` (by id), optionally of one status. */
export interface PageOptions {
  after?: string;
  limit?: number;
  status?: string;
}

/** A token an agent was given (`GET /api/towns/:townId/token-history`): never the token itself. */
export interface TokenIssue {
  agentId: string;
  gen: number;
  kind: 'start' | 'refresh' | 'remint' | (string & {});
  issuedAt: string;
  expiresAt: string;
  [field: string]: unknown;
}

/** Mail between agents (`GET /api/towns/:townId/mail`). */
export interface Mail {
  id: string;
  from: string;
  to: string;
  subject: string | null;
  body: string;
  beadId: string | null;
  sentAt: string;
  readAt: string | null;
  deliveries: number;
  [field: string]: unknown;
}

/** `GET /api/towns/:townId`. */
export interface Town {
  id: string;
  name: string;
  createdAt: string;
  rigs: Rig[];
  agents: Agent[];
  beads: Bead[];
  [field: string]: unknown;
}

/** Body of `POST /api/towns/:townId/rigs/:rigId/agents`. */
export interface StartAgentInput {
  role: AgentRole;
  beadId?: string;
  runtime?: string;
  /** argv array, run without a shell. */
  command?: string[];
}

/** An agent as answered by start and stop. */
export interface AgentRef {
  id: string;
  role: AgentRole;
  status: AgentStatus;
  [field: string]: unknown;
}

/** One stored agent event (newest first in lists). */
export interface AgentEvent {
  id?: string;
  type: string;
  storedAt?: string;
  [field: string]: unknown;
}

/** `GET /api/towns/:townId/agents/:agentId/events`. */
export interface AgentEvents {
  agentId: string;
  events: AgentEvent[];
}

/** `GET|PUT /api/towns/:townId/settings`. */
export interface TownSettings {
  runtime: string;
  agentEnvNames: string[];
  [field: string]: unknown;
}

/** Body of `PUT /api/towns/:townId/settings`: `null` removes a variable. */
export interface TownSettingsUpdate {
  runtime?: string;
  agentEnv?: Record<string, string | null>;
}

/** `POST /api/towns/:townId/mayor/messages`. */
export interface MayorMessageReceipt {
  agentId: string;
  delivered: boolean;
  tokenExpiresAt: string | null;
  /** Id of the user's message in the conversation: replies come after it. */
  messageId: number;
  [field: string]: unknown;
}

/** One message of the mayor conversation. */
export interface MayorMessage {
  id: number;
  from: 'user' | 'mayor';
  text: string;
  at: string;
  [field: string]: unknown;
}

/** One agent's outcome in a refresh pass. */
export interface RefreshResult {
  agentId: string;
  result: 'refreshed' | 'retry_scheduled' | 'restarted' | 'restart_failed' | (string & {});
  status: number;
  tokenExpiresAt?: string;
  [field: string]: unknown;
}

/** `POST /api/towns/:townId/refresh-tokens`. */
export interface RefreshReport {
  refreshed: number;
  failed: number;
  restarted: number;
  subrequests: number;
  results: RefreshResult[];
  [field: string]: unknown;
}

/** An event of the town's stream: `id` strictly increasing, `data` parsed from JSON. */
export interface TownStreamEvent {
  id: number;
  type: string;
  data: unknown;
}

/**
 * The server no longer had every event after `after` (its retention window): the events
 * up to `oldest` (exclusive) were lost to this reader; the stream continues from `oldest`.
 */
export interface GapEvent {
  type: 'gap';
  after: number;
  oldest: number;
}

/** What `events()` yields. */
export type TownStreamItem = TownStreamEvent | GapEvent;
