-- Retention: RETENTION_SECONDS after an agent ended, its events and token history are
-- deleted and `purged_at` set (the row stays: beads, mail and the listings name it);
-- acknowledged mail goes the same time after its acknowledgement. A revived agent's
-- `purged_at` is cleared with its `ended_at`.
ALTER TABLE agents ADD COLUMN purged_at INTEGER;
CREATE INDEX agents_to_purge ON agents (ended_at) WHERE ended_at IS NOT NULL AND purged_at IS NULL;
CREATE INDEX mail_acked ON mail (read_at) WHERE read_at IS NOT NULL;
