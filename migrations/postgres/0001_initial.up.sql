-- Contributors, submissions and clips. Public ids are the only ids that leave the server;
-- the bigint ids are for joins. Timestamps are RFC 3339 text written by the server so both
-- databases return byte-identical values (fixed width, so text order is time order).
CREATE TABLE contributors (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    public_id    text NOT NULL UNIQUE,
    display_name text,
    external_id  text,
    created_at   text NOT NULL
);
CREATE TABLE clips (
    id                        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    public_id                 text NOT NULL UNIQUE,
    youtube_video_id          text NOT NULL,
    performance_date          date NOT NULL,
    title                     text NOT NULL DEFAULT '',
    notes                     text,
    created_at                text NOT NULL,
    created_by_contributor_id bigint NOT NULL REFERENCES contributors (id),
    added_via_submission_id   bigint NOT NULL,
    -- One clip per video per performance date: the database, not the application, decides
    -- the winner when identical submissions race.
    CONSTRAINT clips_one_per_video_and_date UNIQUE (youtube_video_id, performance_date)
);
CREATE TABLE submissions (
    id                bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    public_id         text NOT NULL UNIQUE,
    contributor_id    bigint NOT NULL REFERENCES contributors (id),
    clip_id           bigint REFERENCES clips (id),
    status            text NOT NULL CHECK (status IN ('accepted', 'rejected')),
    validation_error  text,
    raw_youtube_input text NOT NULL,
    raw_date_input    text NOT NULL,
    title             text,
    notes             text,
    submitted_at      text NOT NULL
);
CREATE INDEX submissions_by_contributor ON submissions (contributor_id);
ALTER TABLE clips ADD CONSTRAINT clips_added_via_submission_fk
    FOREIGN KEY (added_via_submission_id) REFERENCES submissions (id);
