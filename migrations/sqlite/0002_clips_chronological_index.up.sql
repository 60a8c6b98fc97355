-- The archive order (performance date, creation time, insertion order) as an index, so
-- keyset pagination reads a page from any depth in the same time.
CREATE INDEX clips_chronological ON clips (performance_date, created_at, id);
