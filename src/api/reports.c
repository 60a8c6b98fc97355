/* POST /clips/{id}/reports: anyone may tell the operators that a clip does not belong in the
 * archive. Rate limited like every public write; a report on a removed clip is 410. */
#include "api/api.h"
#include "api/body.h"
#include "log.h"

const struct field_spec report_fields[1] = {
    {"reason", FIELD_STRING, true, 500, true},
};

void api_report_json(struct jw *w, const char *key, const struct report_rec *r, bool moderated)
{
    jw_object_open(w, key);
    jw_string(w, "id", r->id);
    jw_string(w, "clip_id", r->clip_id);
    jw_string(w, "reason", r->reason);
    jw_string(w, "status", r->status);
    jw_string(w, "created_at", r->created_at);
    if (moderated)
        jw_string(w, "resolution", r->resolution);
    jw_object_close(w);
}

void api_reports_create(const struct request *req, struct response *res)
{
    if (!api_rate_limit(req, res, RATE_REPORTS))
        return;
    if (!api_is_public_id("clp_", req->id)) {
        api_error(res, 404, "NOT_FOUND", "Not found", NULL);
        return;
    }
    json_t *in = body_parse(req->content_type, req->body, req->body_len, report_fields, 1, res);
    if (!in)
        return;
    char id[PUBLIC_ID_LEN + 1], now[28];
    api_new_id("rpt_", id);
    log_timestamp(now);
    struct report_rec r = {id, req->id, body_string(in, "reason"), "open", NULL, now};
    enum store_status rc = req->store ? store_create_report(req->store, &r) : STORE_UNAVAILABLE;
    if (rc == STORE_OK) {
        res->status = 201;
        api_report_json(&res->body, NULL, &r, false);
    } else if (rc == STORE_NOT_FOUND) {
        api_error(res, 404, "NOT_FOUND", "Not found", NULL);
    } else if (rc == STORE_GONE) {
        api_error(res, 410, "GONE", "Gone: moderators removed this clip from the archive.", NULL);
    } else {
        api_store_failure(req, res, rc);
    }
    json_decref(in);
}
