-- timewarp: no-transaction
DROP TABLE IF EXISTS moderation_actions;
DROP TABLE IF EXISTS reports;
DROP INDEX CONCURRENTLY IF EXISTS clips_visible_chronological;
ALTER TABLE clips DROP COLUMN IF EXISTS hidden_at;
