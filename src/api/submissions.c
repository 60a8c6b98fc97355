/* POST /submissions and GET /submissions/{id}. A well-formed submission is always stored,
 * accepted or rejected, so contributors can see what happened to every link they sent. */
#include "api/api.h"
#include "api/body.h"
#include "domain/date.h"
#include "domain/youtube.h"
#include "log.h"
#include "metrics.h"

#include <stdio.h>
#include <time.h>

const struct field_spec submission_fields[SUBMISSION_FIELD_COUNT] = {
    {"contributor_id", FIELD_STRING, true, 0, false},
    {"raw_youtube_input", FIELD_STRING, true, 2048, true},
    {"raw_date_input", FIELD_STRING, true, 50, true},
    {"title", FIELD_STRING_OR_NULL, false, 500, false},
    {"notes", FIELD_STRING_OR_NULL, false, 0, false},
};

void api_submissions_create(const struct request *req, struct response *res)
{
    if (!api_rate_limit(req, res, RATE_SUBMISSIONS))
        return;
    json_t *in = body_parse(req->content_type, req->body, req->body_len, submission_fields,
                            SUBMISSION_FIELD_COUNT, res);
    if (!in)
        return;
    json_t *yt = json_object_get(in, "raw_youtube_input"), *dt = json_object_get(in, "raw_date_input");
    char video[YOUTUBE_ID_LEN + 1], date[DATE_LEN + 1], sub_id[PUBLIC_ID_LEN + 1],
        clip_id[PUBLIC_ID_LEN + 1], now[28], duplicate[160], removed[160];
    const char *reason = NULL;
    bool valid = youtube_video_id(json_string_value(yt), json_string_length(yt), video, &reason) &&
                 date_performance(json_string_value(dt), json_string_length(dt),
                                  date_from_unix((long long)time(NULL)), date, &reason);

    api_new_id("sub_", sub_id);
    log_timestamp(now);
    struct submission_rec s = {
        .id = sub_id, .contributor_id = body_string(in, "contributor_id"), .clip_id = NULL,
        .status = valid ? "accepted" : "rejected", .validation_error = valid ? NULL : reason,
        .raw_youtube_input = json_string_value(yt), .raw_date_input = json_string_value(dt),
        .title = body_string(in, "title"), .notes = body_string(in, "notes"), .submitted_at = now};
    struct clip_rec clip = {0};
    if (valid) {
        api_new_id("clp_", clip_id);
        clip = (struct clip_rec){.id = clip_id, .youtube_video_id = video, .performance_date = date,
                                 .title = s.title ? s.title : "", .notes = s.notes, .created_at = now};
        s.clip_id = clip_id;
        snprintf(duplicate, sizeof duplicate,
                 "This is a duplicate: video %s on %s is already in the archive.", video, date);
        snprintf(removed, sizeof removed,
                 "Moderators removed this performance (video %s on %s) from the archive.", video, date);
    }

    enum store_status rc = req->store ? store_create_submission(req->store, &s, valid ? &clip : NULL,
                                                                duplicate, removed)
                                      : STORE_UNAVAILABLE;
    switch (rc) {
    case STORE_OK:
        metrics_count(valid ? METRIC_SUBMISSION_ACCEPTED : METRIC_SUBMISSION_REJECTED);
        res->status = 201;
        api_submission_json(&res->body, NULL, &s);
        break;
    case STORE_GONE: /* stored, as rejected: moderators removed that performance */
        metrics_count(METRIC_SUBMISSION_REJECTED);
        s.status = "rejected";
        s.validation_error = removed;
        s.clip_id = NULL;
        res->status = 201;
        api_submission_json(&res->body, NULL, &s);
        break;
    case STORE_DUPLICATE:
        metrics_count(METRIC_SUBMISSION_DUPLICATE);
        s.status = "rejected";
        s.validation_error = duplicate;
        s.clip_id = NULL;
        res->status = 409;
        api_submission_json(&res->body, NULL, &s);
        break;
    case STORE_NOT_FOUND:
        api_error(res, 400, "CONTRIBUTOR_NOT_FOUND", "Contributor not found", "contributor_id");
        break;
    default:
        api_store_failure(req, res, rc);
    }
    json_decref(in);
}

static void render_submission(void *ctx, const struct submission_rec *s)
{
    struct response *res = ctx;
    if (s->clip_hidden_at) { /* the clip it created was removed by moderators */
        api_error(res, 410, "GONE", "Gone: moderators removed this clip from the archive.", NULL);
        return;
    }
    res->status = 200;
    api_submission_json(&res->body, NULL, s);
}

void api_submissions_get(const struct request *req, struct response *res)
{
    enum store_status rc = STORE_NOT_FOUND;
    if (api_is_public_id("sub_", req->id))
        rc = req->store ? store_get_submission(req->store, req->id, render_submission, res)
                        : STORE_UNAVAILABLE;
    if (rc == STORE_NOT_FOUND)
        api_error(res, 404, "NOT_FOUND", "Not found", NULL);
    else if (rc != STORE_OK)
        api_store_failure(req, res, rc);
}
