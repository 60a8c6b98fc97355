-- timewarp: no-transaction
-- The archive order (performance date, creation time, insertion order) as an index, so
-- keyset pagination reads a page from any depth in the same time. CONCURRENTLY, so the
-- clips table takes writes while it is built (migrations/README.md). A database that
-- applied the first, locking version of this step has the same index and never reruns it;
-- a retry after a failed build first drops the invalid index the failure left.
DROP INDEX CONCURRENTLY IF EXISTS clips_chronological;
CREATE INDEX CONCURRENTLY clips_chronological ON clips (performance_date, created_at, id);
