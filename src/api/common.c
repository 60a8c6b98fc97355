/* Pieces every handler uses: the error shape, store-failure mapping, ids, record rendering. */
#include "api/api.h"
#include "domain/date.h"
#include "domain/text.h"
#include "log.h"
#include "metrics.h"
#include "random.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void api_error(struct response *res, int status, const char *code, const char *message,
               const char *field)
{
    struct jw *w = &res->body;
    jw_free(w); /* an error replaces anything written so far */
    jw_init(w);
    res->status = status;
    jw_object_open(w, NULL);
    jw_string(w, "detail", message);
    jw_object_open(w, "error");
    jw_string(w, "code", code);
    jw_string(w, "message", message);
    jw_object_open(w, "details");
    if (field)
        jw_string(w, "field", field);
    jw_object_close(w);
    jw_object_close(w);
    jw_object_close(w);
}

void api_add_header(struct response *res, const char *name, const char *fmt, ...)
{
    if (res->header_count >= API_MAX_HEADERS)
        return;
    struct api_header *h = &res->headers[res->header_count++];
    h->name = name;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(h->value, sizeof h->value, fmt, ap);
    va_end(ap);
}

void api_store_failure(const struct request *req, struct response *res, enum store_status rc)
{
    if (req->first_try) { /* not an outcome: a worker answers this request */
        api_error(res, 503, "SERVICE_UNAVAILABLE", "The database is unavailable; try again shortly.", NULL);
        return;
    }
    const char *why = req->store ? store_last_error(req->store) : "no database connection";
    char fields[200];
    snprintf(fields, sizeof fields, ",\"request_id\":\"%s\"", req->request_id ? req->request_id : "");
    char msg[600];
    snprintf(msg, sizeof msg, "database %s: %s", rc == STORE_UNAVAILABLE ? "unavailable" : "error", why);
    log_event(LOG_ERROR, msg, fields);
    metrics_count(METRIC_DB_ERROR);
    if (rc == STORE_UNAVAILABLE || !req->store) {
        api_error(res, 503, "SERVICE_UNAVAILABLE",
                  "The database is unavailable; try again shortly.", NULL);
    } else {
        /* Internals (SQL, driver messages) only with DEBUG on. */
        api_error(res, 500, "INTERNAL_ERROR",
                  req->config->debug ? why : "Internal server error.", NULL);
    }
}

bool api_query(const struct request *req, const char *const *names, const char **values, int n,
               struct response *res)
{
    char msg[96];
    if (req->query_overflow) {
        api_error(res, 400, "BAD_REQUEST", "Too many query parameters.", NULL);
        return false;
    }
    for (int k = 0; k < n; k++)
        values[k] = NULL;
    for (int i = 0; i < req->query_count; i++)
        for (int k = 0; k < n; k++) {
            if (strcmp(req->query[i].key, names[k]) != 0)
                continue;
            if (values[k]) {
                snprintf(msg, sizeof msg, "Query parameter '%s' is given more than once.", names[k]);
                api_error(res, 400, "BAD_REQUEST", msg, names[k]);
                return false;
            }
            values[k] = req->query[i].value ? req->query[i].value : "";
        }
    return true;
}

static bool date_param(const char *name, const char *value, long *out, struct response *res)
{
    if (!value || date_parse_iso(value, strlen(value), out))
        return true;
    char msg[96];
    snprintf(msg, sizeof msg, "Invalid '%s' date format. Expected YYYY-MM-DD", name);
    api_error(res, 400, "BAD_REQUEST", msg, name);
    return false;
}

bool api_date_range(const char *from_text, const char *to_text, long *from, long *to,
                    struct response *res)
{
    if (!date_param("from", from_text, from, res) || !date_param("to", to_text, to, res))
        return false;
    if (*from > *to) {
        api_error(res, 400, "BAD_REQUEST", "'from' must not be after 'to'.", "from");
        return false;
    }
    return true;
}

void api_depends_on(struct response *res, const char *from, const char *to)
{
    date_key lo = 0, hi = 99991231;
    /* An end that is open, or not a date (never from our own rows), stays open. */
    if (from && !date_parse_iso(from, strlen(from), &lo))
        lo = 0;
    if (to && !date_parse_iso(to, strlen(to), &hi))
        hi = 99991231;
    res->depends_lo = (int)lo;
    res->depends_hi = (int)hi;
}

void api_new_id(const char *prefix, char out[PUBLIC_ID_LEN + 1])
{
    static const char hex[] = "0123456789abcdef";
    unsigned char raw[16];
    random_bytes(raw, sizeof raw);
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

void api_contributor_json(struct jw *w, const char *key, const struct contributor_rec *c)
{
    jw_object_open(w, key);
    jw_string(w, "id", c->id);
    jw_string(w, "display_name", c->display_name);
    jw_string(w, "external_id", c->external_id);
    jw_string(w, "created_at", c->created_at);
    jw_object_close(w);
}

void api_submission_json(struct jw *w, const char *key, const struct submission_rec *s)
{
    jw_object_open(w, key);
    jw_string(w, "id", s->id);
    jw_string(w, "contributor_id", s->contributor_id);
    jw_string(w, "clip_id", s->clip_id);
    jw_string(w, "status", s->status);
    jw_string(w, "validation_error", s->validation_error);
    jw_string(w, "raw_youtube_input", s->raw_youtube_input);
    jw_string(w, "raw_date_input", s->raw_date_input);
    jw_string(w, "title", s->title);
    jw_string(w, "notes", s->notes);
    jw_string(w, "submitted_at", s->submitted_at);
    jw_object_close(w);
}

static void clip_fields(struct jw *w, const struct clip_rec *c)
{
    char url[64];
    snprintf(url, sizeof url, "https://www.youtube.com/watch?v=%s", c->youtube_video_id);
    jw_string(w, "id", c->id);
    jw_string(w, "youtube_video_id", c->youtube_video_id);
    jw_string(w, "youtube_url", url);
    jw_string(w, "performance_date", c->performance_date);
    jw_string(w, "title", c->title ? c->title : "");
    jw_string(w, "notes", c->notes);
    jw_string(w, "created_at", c->created_at);
    jw_string(w, "created_by_contributor_id", c->created_by_contributor_id);
    jw_string(w, "added_via_submission_id", c->added_via_submission_id);
}

void api_clip_json(struct jw *w, const char *key, const struct clip_rec *c)
{
    jw_object_open(w, key);
    clip_fields(w, c);
    jw_object_close(w);
}

void api_clip_json_moderated(struct jw *w, const char *key, const struct clip_rec *c)
{
    jw_object_open(w, key);
    clip_fields(w, c);
    jw_bool(w, "hidden", c->hidden_at != NULL);
    jw_object_close(w);
}
