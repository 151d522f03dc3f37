-- When the TownDO next checks that a silent agent still exists in the container.
-- Pushed forward by every heartbeat; a live agent silent past it is probed (its token
-- is pushed early) and, if the container lost it, started again.
ALTER TABLE agents ADD COLUMN stall_check_at INTEGER;
CREATE INDEX agents_stall_check ON agents (stall_check_at) WHERE stall_check_at IS NOT NULL;
-- Agents live before this migration are checked one default stall window after last seen.
UPDATE agents SET stall_check_at = COALESCE(last_heartbeat_at, started_at, created_at) + 120000
  WHERE status IN ('starting', 'working', 'idle') AND started_at IS NOT NULL;
