-- Lifecycle, delivery and conversation state.

-- The agent's runtime (builtin, claude-code, codex, opencode; NULL with an explicit command).
ALTER TABLE agents ADD COLUMN runtime TEXT;
-- While `starting`: when the start is given up on (then the agent is started again or failed).
ALTER TABLE agents ADD COLUMN start_deadline_at INTEGER;
-- Restarts of an agent the container lost, and when the next one may be tried (capped backoff).
ALTER TABLE agents ADD COLUMN restart_count INTEGER NOT NULL DEFAULT 0;
ALTER TABLE agents ADD COLUMN next_restart_at INTEGER;
-- Why an agent ended (failed starts, restart limit, ...), shown in the town view.
ALTER TABLE agents ADD COLUMN end_reason TEXT;
-- The latest iat (s) minted for the current generation: a 409 naming a token up to it is ours.
ALTER TABLE agents ADD COLUMN last_minted_iat INTEGER;
-- Stored event bytes (the per-agent quota) and events trimmed to stay under it.
ALTER TABLE agents ADD COLUMN events_bytes INTEGER NOT NULL DEFAULT 0;
ALTER TABLE agents ADD COLUMN events_trimmed INTEGER NOT NULL DEFAULT 0;
-- Tool calls in the current one-second window (the per-agent rate limit).
ALTER TABLE agents ADD COLUMN tool_window_start INTEGER;
ALTER TABLE agents ADD COLUMN tool_window_count INTEGER NOT NULL DEFAULT 0;
ALTER TABLE agent_events ADD COLUMN bytes INTEGER NOT NULL DEFAULT 0;
CREATE INDEX agents_status ON agents (status);
CREATE INDEX agent_events_by_agent ON agent_events (agent_id, seq);

-- The container credential is a token signed by the Worker; its generation is bumped when a
-- new container gets one, which revokes the previous container's.
ALTER TABLE town ADD COLUMN container_credential_gen INTEGER NOT NULL DEFAULT 0;
ALTER TABLE town ADD COLUMN default_runtime TEXT NOT NULL DEFAULT 'builtin';

-- Environment given to the town's agents at start (write-only: never returned).
CREATE TABLE agent_env (
  name TEXT PRIMARY KEY,
  value TEXT NOT NULL
);

-- The mayor conversation: the user's messages (delivered to the mayor at least once, in
-- order) and the mayor's replies (from its `reply` events, once per event id).
CREATE TABLE mayor_messages (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  sender TEXT NOT NULL CHECK (sender IN ('user', 'mayor')),
  text TEXT NOT NULL,
  agent_id TEXT,
  source_event_id TEXT,
  at INTEGER NOT NULL,
  delivered_at INTEGER,
  UNIQUE (agent_id, source_event_id)
);
CREATE INDEX mayor_messages_pending ON mayor_messages (sender, delivered_at);

-- Mail is delivered until acknowledged: a delivery leases it for a while, an ack ends it.
ALTER TABLE mail ADD COLUMN lease_until INTEGER;
ALTER TABLE mail ADD COLUMN deliveries INTEGER NOT NULL DEFAULT 0;

-- Drop reports from the container (idempotent by id), counted by kind and cause in meta.
CREATE TABLE drop_reports (
  id TEXT PRIMARY KEY,
  agent_id TEXT NOT NULL,
  kind TEXT NOT NULL,
  cause TEXT NOT NULL,
  count INTEGER NOT NULL,
  at INTEGER NOT NULL
);

-- Every token an agent was given (start, refresh, re-mint), for the refresh timeline.
CREATE TABLE token_history (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  agent_id TEXT NOT NULL,
  gen INTEGER NOT NULL,
  kind TEXT NOT NULL,
  issued_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL
);
CREATE INDEX token_history_by_agent ON token_history (agent_id, id);
