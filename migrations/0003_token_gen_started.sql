-- When the agent's current token generation began (ms). A token without a `gen` claim
-- (minted outside the TownDO from the contract's claims, e.g. by a test harness that
-- knows the secret) is accepted only while the agent is live and only if it was issued
-- no earlier than this. NULL while a revived agent has not started yet.
ALTER TABLE agents ADD COLUMN token_gen_started_at INTEGER;
-- Agents from before this migration: generation 1 began at creation, a later one when
-- the agent was last (re)started.
UPDATE agents SET token_gen_started_at = CASE WHEN token_gen = 1 THEN created_at ELSE COALESCE(started_at, created_at) END;
