-- Contributors, submissions and clips. Public ids are the only ids that leave the server;
-- the integer ids are for joins. Timestamps are RFC 3339 text written by the server (fixed
-- width, so text order is time order).
CREATE TABLE contributors (
    id           INTEGER PRIMARY KEY,
    public_id    TEXT NOT NULL UNIQUE,
    display_name TEXT,
    external_id  TEXT,
    created_at   TEXT NOT NULL
);
CREATE TABLE submissions (
    id                INTEGER PRIMARY KEY,
    public_id         TEXT NOT NULL UNIQUE,
    contributor_id    INTEGER NOT NULL REFERENCES contributors (id),
    clip_id           INTEGER REFERENCES clips (id),
    status            TEXT NOT NULL CHECK (status IN ('accepted', 'rejected')),
    validation_error  TEXT,
    raw_youtube_input TEXT NOT NULL,
    raw_date_input    TEXT NOT NULL,
    title             TEXT,
    notes             TEXT,
    submitted_at      TEXT NOT NULL
);
CREATE INDEX submissions_by_contributor ON submissions (contributor_id);
CREATE TABLE clips (
    id                        INTEGER PRIMARY KEY,
    public_id                 TEXT NOT NULL UNIQUE,
    youtube_video_id          TEXT NOT NULL,
    performance_date          TEXT NOT NULL,
    title                     TEXT NOT NULL DEFAULT '',
    notes                     TEXT,
    created_at                TEXT NOT NULL,
    created_by_contributor_id INTEGER NOT NULL REFERENCES contributors (id),
    added_via_submission_id   INTEGER NOT NULL REFERENCES submissions (id),
    -- One clip per video per performance date: the database, not the application, decides
    -- the winner when identical submissions race.
    CONSTRAINT clips_one_per_video_and_date UNIQUE (youtube_video_id, performance_date)
);
