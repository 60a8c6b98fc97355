-- A submission in one round trip: the steps of store.c's submission transaction (insert
-- the submission, its clip unless the (video, date) slot is taken, link them, or mark the
-- submission rejected as a duplicate or as a re-submission of a removed clip) as one
-- function, called as one statement, which is its own transaction. Five round trips
-- (BEGIN, three statements, COMMIT) become one (docs/PERFORMANCE.md). The result:
-- 'accepted', 'rejected' (stored as given), 'duplicate', 'gone' or 'no contributor'
-- (nothing written). Additive: the previous release never calls it.
CREATE OR REPLACE FUNCTION timewarp_submit(
    p_public_id text, p_status text, p_validation_error text, p_raw_youtube_input text,
    p_raw_date_input text, p_title text, p_notes text, p_submitted_at text,
    p_contributor_public_id text, p_clip_public_id text, p_youtube_video_id text,
    p_performance_date date, p_clip_title text, p_clip_notes text, p_clip_created_at text,
    p_duplicate_error text, p_removed_error text)
RETURNS text
LANGUAGE plpgsql VOLATILE
SET search_path = public, pg_temp
AS $submit$
DECLARE
    v_submission bigint;
    v_contributor bigint;
    v_clip bigint;
    v_hidden boolean;
BEGIN
    INSERT INTO submissions (public_id, contributor_id, status, validation_error,
                             raw_youtube_input, raw_date_input, title, notes, submitted_at)
    SELECT p_public_id, c.id, p_status, p_validation_error, p_raw_youtube_input,
           p_raw_date_input, p_title, p_notes, p_submitted_at
    FROM contributors c WHERE c.public_id = p_contributor_public_id
    RETURNING id, contributor_id INTO v_submission, v_contributor;
    IF v_submission IS NULL THEN
        RETURN 'no contributor';
    END IF;
    IF p_clip_public_id IS NULL THEN
        RETURN p_status;
    END IF;
    -- DO NOTHING rather than catching the violation, as store.c does: the rejected
    -- submission must still be stored.
    INSERT INTO clips (public_id, youtube_video_id, performance_date, title, notes, created_at,
                       created_by_contributor_id, added_via_submission_id)
    VALUES (p_clip_public_id, p_youtube_video_id, p_performance_date, p_clip_title, p_clip_notes,
            p_clip_created_at, v_contributor, v_submission)
    ON CONFLICT (youtube_video_id, performance_date) DO NOTHING
    RETURNING id INTO v_clip;
    IF v_clip IS NOT NULL THEN
        UPDATE submissions SET clip_id = v_clip WHERE id = v_submission;
        RETURN 'accepted';
    END IF;
    SELECT true INTO v_hidden FROM clips
    WHERE youtube_video_id = p_youtube_video_id AND performance_date = p_performance_date
      AND hidden_at IS NOT NULL;
    UPDATE submissions SET status = 'rejected',
           validation_error = CASE WHEN v_hidden THEN p_removed_error ELSE p_duplicate_error END
    WHERE id = v_submission;
    RETURN CASE WHEN v_hidden THEN 'gone' ELSE 'duplicate' END;
END
$submit$;
