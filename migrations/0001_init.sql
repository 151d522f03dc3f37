-- TownDO schema v1: one town per Durable Object.
CREATE TABLE town (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  user_id TEXT NOT NULL,
  api_url TEXT,
  container_credential_hash TEXT,
  created_at INTEGER NOT NULL
);

-- Small persistent counters and timestamps (alarm failures, ...): never instance fields.
CREATE TABLE meta (
  key TEXT PRIMARY KEY,
  value INTEGER NOT NULL
);

CREATE TABLE rigs (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  git_url TEXT,
  created_at INTEGER NOT NULL
);

CREATE TABLE agents (
  id TEXT PRIMARY KEY,
  rig_id TEXT,
  role TEXT NOT NULL CHECK (role IN ('mayor', 'polecat', 'refinery')),
  status TEXT NOT NULL,
  bead_id TEXT,
  command TEXT,
  token_gen INTEGER NOT NULL DEFAULT 1,
  token_expires_at INTEGER,
  token_refreshed_at INTEGER,
  refresh_count INTEGER NOT NULL DEFAULT 0,
  next_refresh_at INTEGER,
  refresh_failures INTEGER NOT NULL DEFAULT 0,
  last_heartbeat_at INTEGER,
  heartbeat_detail TEXT,
  remint_window_start INTEGER,
  remint_count INTEGER NOT NULL DEFAULT 0,
  events_stored INTEGER NOT NULL DEFAULT 0,
  summary TEXT,
  created_at INTEGER NOT NULL,
  started_at INTEGER,
  ended_at INTEGER
);
CREATE INDEX agents_next_refresh ON agents (next_refresh_at) WHERE next_refresh_at IS NOT NULL;

CREATE TABLE beads (
  id TEXT PRIMARY KEY,
  rig_id TEXT,
  title TEXT NOT NULL,
  body TEXT,
  status TEXT NOT NULL CHECK (status IN ('open', 'assigned', 'done', 'closed')),
  assignee TEXT,
  created_by TEXT,
  summary TEXT,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
);

CREATE TABLE mail (
  id TEXT PRIMARY KEY,
  from_agent TEXT NOT NULL,
  to_agent TEXT NOT NULL,
  subject TEXT,
  body TEXT NOT NULL,
  bead_id TEXT,
  sent_at INTEGER NOT NULL,
  read_at INTEGER
);
CREATE INDEX mail_unread ON mail (to_agent, read_at);

CREATE TABLE agent_events (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  agent_id TEXT NOT NULL,
  event_id TEXT NOT NULL,
  type TEXT NOT NULL,
  data TEXT NOT NULL,
  at INTEGER NOT NULL,
  UNIQUE (agent_id, event_id)
);

CREATE TABLE town_events (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  type TEXT NOT NULL,
  data TEXT NOT NULL,
  at INTEGER NOT NULL
);
