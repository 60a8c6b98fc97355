-- Reports and moderation (SPEC.md "Reports and moderation"). A hidden clip keeps its row
-- (and so its (video, date) slot: a re-submission is rejected) but leaves every public read.
ALTER TABLE clips ADD COLUMN hidden_at text;
-- The archive index covers visible clips only: every public read says hidden_at IS NULL, so
-- lists, neighbours and calendar counts stay index walks as before.
DROP INDEX clips_chronological;
CREATE INDEX clips_chronological ON clips (performance_date, created_at, id) WHERE hidden_at IS NULL;
CREATE TABLE reports (
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
-- The operators' queue, oldest first, open and resolved apart (keyset pagination).
CREATE INDEX reports_queue ON reports (status, created_at, id);
-- Hiding a clip resolves its open reports.
CREATE INDEX reports_open_by_clip ON reports (clip_id) WHERE status = 'open';
-- The audit trail: one row per moderation action, never updated or deleted.
CREATE TABLE moderation_actions (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    public_id  text NOT NULL UNIQUE,
    action     text NOT NULL CHECK (action IN ('hide', 'restore', 'dismiss')),
    target_id  text NOT NULL,
    reason     text,
    actor      text NOT NULL,
    created_at text NOT NULL
);
CREATE INDEX moderation_actions_chronological ON moderation_actions (created_at, id);
