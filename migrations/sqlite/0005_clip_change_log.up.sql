-- A log of what changed among the clips, by performance date, kept by triggers, so that a
-- server's cache of rendered public reads (src/api/read_cache.c) drops only the answers a
-- change can touch, whichever process made it (src/store/change_log.c reads it). lo..hi is
-- the range of dates (YYYYMMDD) a change touches. Derived data: the down step loses nothing.
CREATE TABLE clip_changes (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, -- commit order: SQLite has one writer at a time
    lo  INTEGER NOT NULL,
    hi  INTEGER NOT NULL
);
-- Rows up to `horizon` may have been deleted (store_prune_changes): a reader that had not
-- read that far must take it that anything changed. `next_horizon` is the next prune's.
CREATE TABLE clip_changes_horizon (
    horizon      INTEGER NOT NULL,
    next_horizon INTEGER NOT NULL,
    next_at      INTEGER NOT NULL -- unix time next_horizon was set
);
INSERT INTO clip_changes_horizon (horizon, next_horizon, next_at) VALUES (0, 0, unixepoch());
CREATE TRIGGER clip_changes_after_insert AFTER INSERT ON clips BEGIN
    INSERT INTO clip_changes (lo, hi) VALUES (
        CAST(replace(NEW.performance_date, '-', '') AS INTEGER),
        CAST(replace(NEW.performance_date, '-', '') AS INTEGER));
END;
CREATE TRIGGER clip_changes_after_update AFTER UPDATE ON clips BEGIN
    INSERT INTO clip_changes (lo, hi) VALUES (
        min(CAST(replace(OLD.performance_date, '-', '') AS INTEGER),
            CAST(replace(NEW.performance_date, '-', '') AS INTEGER)),
        max(CAST(replace(OLD.performance_date, '-', '') AS INTEGER),
            CAST(replace(NEW.performance_date, '-', '') AS INTEGER)));
END;
CREATE TRIGGER clip_changes_after_delete AFTER DELETE ON clips BEGIN
    INSERT INTO clip_changes (lo, hi) VALUES (
        CAST(replace(OLD.performance_date, '-', '') AS INTEGER),
        CAST(replace(OLD.performance_date, '-', '') AS INTEGER));
END;
