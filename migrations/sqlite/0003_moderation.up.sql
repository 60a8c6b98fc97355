-- Reports and moderation (SPEC.md "Reports and moderation"). A hidden clip keeps its row
-- (and so its (video, date) slot: a re-submission is rejected) but leaves every public read.
ALTER TABLE clips ADD COLUMN hidden_at TEXT;
-- The archive index covers visible clips only: every public read says hidden_at IS NULL, so
-- lists, neighbours and calendar counts stay index walks as before.
DROP INDEX clips_chronological;
CREATE INDEX clips_chronological ON clips (performance_date, created_at, id) WHERE hidden_at IS NULL;
CREATE TABLE reports (
    id          INTEGER PRIMARY KEY,
    public_id   TEXT NOT NULL UNIQUE,
    clip_id     INTEGER NOT NULL REFERENCES clips (id),
    reason      TEXT NOT NULL,
    status      TEXT NOT NULL CHECK (status IN ('open', 'resolved')),
    resolution  TEXT CHECK (resolution IN ('hidden', 'dismissed')),
    created_at  TEXT NOT NULL,
    resolved_at TEXT,
    CHECK ((status = 'open') = (resolution IS NULL))
);
-- The operators' queue, oldest first, open and resolved apart (keyset pagination).
CREATE INDEX reports_queue ON reports (status, created_at, id);
-- Hiding a clip resolves its open reports.
CREATE INDEX reports_open_by_clip ON reports (clip_id) WHERE status = 'open';
-- The audit trail: one row per moderation action, never updated or deleted.
CREATE TABLE moderation_actions (
    id         INTEGER PRIMARY KEY,
    public_id  TEXT NOT NULL UNIQUE,
    action     TEXT NOT NULL CHECK (action IN ('hide', 'restore', 'dismiss')),
    target_id  TEXT NOT NULL,
    reason     TEXT,
    actor      TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE INDEX moderation_actions_chronological ON moderation_actions (created_at, id);
