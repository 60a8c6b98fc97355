-- A log of what changed among the clips, by performance date, kept by triggers, so that a
-- server's cache of rendered public reads (src/api/read_cache.c) drops only the answers a
-- change can touch, whichever process made it (src/store/change_log.c reads it). lo..hi is
-- the range of dates (YYYYMMDD) one statement touched; xid is its transaction, which a
-- reader compares with its last snapshot (transaction ids are not in commit order, so no
-- counter could say "everything after this"). Derived data: the down step loses nothing.
-- Additive: the previous release ignores the table (its writes are logged all the same).
CREATE TABLE clip_changes (
    xid xid8 NOT NULL DEFAULT pg_current_xact_id(),
    n   bigint GENERATED ALWAYS AS IDENTITY,
    lo  integer NOT NULL,
    hi  integer NOT NULL,
    PRIMARY KEY (xid, n)
);
-- Rows of transactions before `horizon` may have been deleted (store_prune_changes): a
-- reader whose last snapshot is older must take it that anything changed.
CREATE TABLE clip_changes_horizon (
    horizon      xid8 NOT NULL,
    next_horizon xid8 NOT NULL,
    next_at      timestamptz NOT NULL -- when next_horizon was set
);
INSERT INTO clip_changes_horizon (horizon, next_horizon, next_at)
VALUES (pg_snapshot_xmin(pg_current_snapshot()), pg_snapshot_xmin(pg_current_snapshot()), now());
-- One row per statement, not per clip: an import of a million clips logs a few ranges.
CREATE OR REPLACE FUNCTION timewarp_log_clip_changes() RETURNS trigger
LANGUAGE plpgsql
SET search_path = public, pg_temp
AS $log$
BEGIN
    IF TG_OP = 'TRUNCATE' THEN
        INSERT INTO clip_changes (lo, hi) VALUES (0, 99991231);
        RETURN NULL;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        INSERT INTO clip_changes (lo, hi)
        SELECT CAST(to_char(min(performance_date), 'YYYYMMDD') AS integer),
               CAST(to_char(max(performance_date), 'YYYYMMDD') AS integer)
        FROM new_rows HAVING count(*) > 0;
    END IF;
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        INSERT INTO clip_changes (lo, hi)
        SELECT CAST(to_char(min(performance_date), 'YYYYMMDD') AS integer),
               CAST(to_char(max(performance_date), 'YYYYMMDD') AS integer)
        FROM old_rows HAVING count(*) > 0;
    END IF;
    RETURN NULL;
END
$log$;
CREATE TRIGGER clip_changes_after_insert AFTER INSERT ON clips
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION timewarp_log_clip_changes();
CREATE TRIGGER clip_changes_after_update AFTER UPDATE ON clips
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION timewarp_log_clip_changes();
CREATE TRIGGER clip_changes_after_delete AFTER DELETE ON clips
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION timewarp_log_clip_changes();
CREATE TRIGGER clip_changes_after_truncate AFTER TRUNCATE ON clips
    FOR EACH STATEMENT EXECUTE FUNCTION timewarp_log_clip_changes();
