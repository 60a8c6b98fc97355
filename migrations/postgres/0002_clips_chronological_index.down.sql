-- timewarp: no-transaction
DROP INDEX CONCURRENTLY IF EXISTS clips_chronological;
