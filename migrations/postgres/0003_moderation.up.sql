-- timewarp: no-transaction
-- Reports and moderation (SPEC.md "Reports and moderation"). A hidden clip keeps its row
-- (and so its (video, date) slot: a re-submission is rejected) but leaves every public read.
-- Statement by statement, each safe to run again (migrations/README.md, rule 1).
ALTER TABLE clips ADD COLUMN IF NOT EXISTS hidden_at text;
CREATE TABLE IF NOT EXISTS reports (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    public_id   text NOT NULL UNIQUE,
    clip_id     bigint NOT NULL REFERENCES clips (id),
    reason      text NOT NULL,
    status      text NOT NULL CHECK (status IN ('open', 'resolved')),
    resolution  text CHECK (resolution IN ('hidden', 'dismissed')),
    created_at  text NOT NULL,
    resolved_at text,
    CHECK ((status = 'open') = (resolution IS NULL))
);
-- The audit trail: one row per moderation action, never updated or deleted.
CREATE TABLE IF NOT EXISTS moderation_actions (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    public_id  text NOT NULL UNIQUE,
    action     text NOT NULL CHECK (action IN ('hide', 'restore', 'dismiss')),
    target_id  text NOT NULL,
    reason     text,
    actor      text NOT NULL,
    created_at text NOT NULL
);
-- The archive order over visible clips only: every public read says hidden_at IS NULL, so
-- lists, neighbours and calendar counts stay index walks. Built beside the full index of
-- 0002, which the previous release still uses (rule 3: a later migration drops it).
DROP INDEX CONCURRENTLY IF EXISTS clips_visible_chronological;
CREATE INDEX CONCURRENTLY clips_visible_chronological ON clips (performance_date, created_at, id) WHERE hidden_at IS NULL;
-- The operators' queue, oldest first, open and resolved apart (keyset pagination).
DROP INDEX CONCURRENTLY IF EXISTS reports_queue;
CREATE INDEX CONCURRENTLY reports_queue ON reports (status, created_at, id);
-- Hiding a clip resolves its open reports.
DROP INDEX CONCURRENTLY IF EXISTS reports_open_by_clip;
CREATE INDEX CONCURRENTLY reports_open_by_clip ON reports (clip_id) WHERE status = 'open';
DROP INDEX CONCURRENTLY IF EXISTS moderation_actions_chronological;
CREATE INDEX CONCURRENTLY moderation_actions_chronological ON moderation_actions (created_at, id);
