/* Pieces every handler uses: the error shape, store-failure mapping, ids, record rendering. */
#include "api/api.h"
#include "domain/text.h"
#include "log.h"

#include <string.h>
#include <sys/random.h>

void api_error(struct response *res, int status, const char *code, const char *message,
               const char *field)
{
    json_t *details = field ? json_pack("{s:s}", "field", field) : json_object();
    res->status = status;
    res->body = json_pack("{s:s, s:{s:s, s:s, s:o}}", "detail", message, "error", "code", code,
                          "message", message, "details", details);
}

void api_store_failure(const struct request *req, struct response *res, enum store_status rc)
{
    const char *why = req->store ? store_last_error(req->store) : "no database connection";
    log_eventf(LOG_ERROR, "database %s: %s", rc == STORE_UNAVAILABLE ? "unavailable" : "error", why);
    if (rc == STORE_UNAVAILABLE || !req->store) {
        api_error(res, 503, "SERVICE_UNAVAILABLE",
                  "The database is unavailable; try again shortly.", NULL);
    } else {
        /* Internals (SQL, driver messages) only with DEBUG on. */
        api_error(res, 500, "INTERNAL_ERROR",
                  req->config->debug ? why : "Internal server error.", NULL);
    }
}

void api_new_id(const char *prefix, char out[PUBLIC_ID_LEN + 1])
{
    static const char hex[] = "0123456789abcdef";
    unsigned char raw[16];
    size_t got = 0;
    while (got < sizeof raw) { /* getrandom only returns short for signals; loop to be sure */
        ssize_t n = getrandom(raw + got, sizeof raw - got, 0);
        if (n > 0)
            got += (size_t)n;
    }
    memcpy(out, prefix, 4);
    for (int i = 0; i < 16; i++) {
        out[4 + 2 * i] = hex[raw[i] >> 4];
        out[5 + 2 * i] = hex[raw[i] & 15];
    }
    out[PUBLIC_ID_LEN] = '\0';
}

bool api_is_public_id(const char *prefix, const char *s)
{
    return s && strlen(s) == PUBLIC_ID_LEN && memcmp(s, prefix, 4) == 0 &&
           text_is_lower_hex(s + 4, PUBLIC_ID_LEN - 4);
}

/* NULL → JSON null; stored strings are valid UTF-8 because they came through jansson. */
static json_t *str_or_null(const char *s)
{
    return s ? json_string(s) : json_null();
}

json_t *api_contributor_json(const struct contributor_rec *c)
{
    return json_pack("{s:s, s:o, s:o, s:s}", "id", c->id, "display_name", str_or_null(c->display_name),
                     "external_id", str_or_null(c->external_id), "created_at", c->created_at);
}

json_t *api_submission_json(const struct submission_rec *s)
{
    return json_pack("{s:s, s:s, s:o, s:s, s:o, s:s, s:s, s:o, s:o, s:s}",
                     "id", s->id, "contributor_id", s->contributor_id,
                     "clip_id", str_or_null(s->clip_id), "status", s->status,
                     "validation_error", str_or_null(s->validation_error),
                     "raw_youtube_input", s->raw_youtube_input, "raw_date_input", s->raw_date_input,
                     "title", str_or_null(s->title), "notes", str_or_null(s->notes),
                     "submitted_at", s->submitted_at);
}

json_t *api_clip_json(const struct clip_rec *c)
{
    char url[64];
    snprintf(url, sizeof url, "https://www.youtube.com/watch?v=%s", c->youtube_video_id);
    return json_pack("{s:s, s:s, s:s, s:s, s:s, s:o, s:s, s:s, s:s}",
                     "id", c->id, "youtube_video_id", c->youtube_video_id, "youtube_url", url,
                     "performance_date", c->performance_date, "title", c->title,
                     "notes", str_or_null(c->notes), "created_at", c->created_at,
                     "created_by_contributor_id", c->created_by_contributor_id,
                     "added_via_submission_id", c->added_via_submission_id);
}
