/* The operators' routes under /admin/: the report queue, hiding and restoring clips,
 * dismissing reports, and the audit trail. Every one of them first authenticates a Bearer
 * token from TIMEWARP_ADMIN_TOKENS; without any token configured they do not exist (404). */
#include "api/api.h"
#include "api/body.h"
#include "domain/cursor.h"
#include "log.h"

#include <openssl/crypto.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

const struct field_spec hide_fields[1] = {
    {"reason", FIELD_STRING, true, 500, true},
};
/* restore and dismiss may say why; the body itself is optional. */
const struct field_spec moderation_note_fields[1] = {
    {"reason", FIELD_STRING_OR_NULL, false, 500, false},
};

#define DEFAULT_LIMIT 50

/* ---- authentication -------------------------------------------------------------------------- */

static void auth_failed(const struct request *req, struct response *res, const char *why,
                        bool presented)
{
    char fields[400];
    size_t pos = (size_t)snprintf(fields, sizeof fields, ",\"request_id\":\"%s\",\"client_ip\":\"",
                                  req->request_id ? req->request_id : "");
    log_escape(fields, sizeof fields - 60, &pos, req->client_ip ? req->client_ip : "unknown");
    snprintf(fields + pos, sizeof fields - pos, "\",\"reason\":\"%s\"", why);
    /* The token itself is never logged, not even in part. */
    log_event(LOG_WARN, "operator authentication failed", fields);
    api_add_header(res, "WWW-Authenticate", presented ? "Bearer realm=\"timewarp-admin\", error=\"invalid_token\""
                                                      : "Bearer realm=\"timewarp-admin\"");
    api_error(res, 401, "UNAUTHORIZED", "Authentication required: send Authorization: Bearer <operator token>.", NULL);
}

/* The operator's name for a valid Bearer token, else NULL with the 404 or 401 in res.
 * Tokens are compared as SHA-256 digests with CRYPTO_memcmp, against every configured
 * token without stopping early, so neither timing nor length tells how close a guess was. */
static const char *operator_name(const struct request *req, struct response *res)
{
    const struct config *c = req->config;
    if (c->admin_count == 0) {
        api_error(res, 404, "NOT_FOUND", "Not found", NULL);
        return NULL;
    }
    const char *h = req->authorization;
    if (!h || !*h) {
        auth_failed(req, res, "no Authorization header", false);
        return NULL;
    }
    while (*h == ' ')
        h++;
    if (strncasecmp(h, "Bearer ", 7) != 0) {
        auth_failed(req, res, "not a Bearer token", true);
        return NULL;
    }
    h += 7;
    while (*h == ' ')
        h++;
    size_t len = strlen(h);
    while (len > 0 && (h[len - 1] == ' ' || h[len - 1] == '\t'))
        len--;
    unsigned char given[SHA256_DIGEST_LENGTH], known[SHA256_DIGEST_LENGTH];
    SHA256((const unsigned char *)h, len, given);
    const char *name = NULL;
    for (int i = 0; i < c->admin_count; i++) {
        SHA256((const unsigned char *)c->admins[i].token, c->admins[i].token_len, known);
        if (CRYPTO_memcmp(given, known, sizeof known) == 0 && len > 0)
            name = c->admins[i].name;
    }
    if (!name)
        auth_failed(req, res, "wrong token", true);
    return name;
}

/* ---- lists ------------------------------------------------------------------------------------- */

struct page {
    struct jw *w;
    int wanted; /* the page size; one more row is fetched to know if a next page exists */
    int count;
    char last_id[PUBLIC_ID_LEN + 1];
    bool more;
};

/* limit and cursor, as for /clips; `prefix` says whose ids the cursor carries. */
static bool page_params(const struct request *req, const char *limit_text, const char *cursor,
                        const char *prefix, int *limit, char after[PUBLIC_ID_LEN + 1],
                        struct response *res)
{
    *limit = DEFAULT_LIMIT;
    if (limit_text && !api_page_limit(limit_text, limit)) {
        api_error(res, 400, "BAD_REQUEST", "'limit' must be a positive whole number (at most 200 is used).", "limit");
        return false;
    }
    if (cursor && !cursor_decode_id((const unsigned char *)req->config->secret_key,
                                    req->config->secret_key_len, prefix, cursor, strlen(cursor), after)) {
        api_error(res, 400, "BAD_REQUEST", "Invalid cursor", "cursor");
        return false;
    }
    return true;
}

/* Closes the items array and writes next_cursor; or turns the answer into the right error. */
static void finish_page(const struct request *req, struct response *res, struct page *pg,
                        enum store_status rc)
{
    if (rc == STORE_NOT_FOUND) { /* signed by us, but its row is gone (another database?) */
        api_error(res, 400, "BAD_REQUEST", "Invalid cursor", "cursor");
        return;
    }
    if (rc != STORE_OK) {
        api_store_failure(req, res, rc);
        return;
    }
    char next[CURSOR_LEN + 1];
    bool has_next = pg->more && cursor_encode_id((const unsigned char *)req->config->secret_key,
                                                 req->config->secret_key_len, pg->last_id, next);
    jw_array_close(pg->w);
    jw_string(pg->w, "next_cursor", has_next ? next : NULL);
    jw_object_close(pg->w);
    res->status = 200;
}

static bool page_has_room(struct page *pg, const char *id)
{
    if (pg->count == pg->wanted) {
        pg->more = true;
        return false;
    }
    pg->count++;
    snprintf(pg->last_id, sizeof pg->last_id, "%s", id);
    return true;
}

static void report_with_clip(struct jw *w, const struct report_rec *r, const struct clip_rec *clip)
{
    jw_object_open(w, NULL);
    jw_string(w, "id", r->id);
    jw_string(w, "clip_id", r->clip_id);
    jw_string(w, "reason", r->reason);
    jw_string(w, "status", r->status);
    jw_string(w, "created_at", r->created_at);
    jw_string(w, "resolution", r->resolution);
    api_clip_json_moderated(w, "clip", clip);
    jw_object_close(w);
}

static void collect_report(void *ctx, const struct report_rec *r, const struct clip_rec *clip)
{
    struct page *pg = ctx;
    if (page_has_room(pg, r->id))
        report_with_clip(pg->w, r, clip);
}

/* GET /admin/reports?status=open|resolved&limit=&cursor= (oldest first). */
void api_admin_reports(const struct request *req, struct response *res)
{
    enum { STATUS, LIMIT, CURSOR };
    static const char *const names[] = {"status", "limit", "cursor"};
    const char *v[3];
    int limit;
    char after[PUBLIC_ID_LEN + 1];
    if (!operator_name(req, res) || !api_query(req, names, v, 3, res) ||
        !page_params(req, v[LIMIT], v[CURSOR], "rpt_", &limit, after, res))
        return;
    const char *status = v[STATUS] ? v[STATUS] : "open";
    if (strcmp(status, "open") != 0 && strcmp(status, "resolved") != 0) {
        api_error(res, 400, "BAD_REQUEST", "'status' must be open or resolved.", "status");
        return;
    }
    struct page pg = {&res->body, limit, 0, "", false};
    jw_object_open(pg.w, NULL);
    jw_array_open(pg.w, "items");
    enum store_status rc = req->store ? store_list_reports(req->store, status, v[CURSOR] ? after : NULL,
                                                           limit + 1, collect_report, &pg)
                                      : STORE_UNAVAILABLE;
    finish_page(req, res, &pg, rc);
}

static void collect_action(void *ctx, const struct action_rec *a)
{
    struct page *pg = ctx;
    if (!page_has_room(pg, a->id))
        return;
    jw_object_open(pg->w, NULL);
    jw_string(pg->w, "id", a->id);
    jw_string(pg->w, "action", a->action);
    jw_string(pg->w, "target_id", a->target_id);
    jw_string(pg->w, "reason", a->reason);
    jw_string(pg->w, "actor", a->actor);
    jw_string(pg->w, "created_at", a->created_at);
    jw_object_close(pg->w);
}

/* GET /admin/audit?limit=&cursor= (oldest first). */
void api_admin_audit(const struct request *req, struct response *res)
{
    enum { LIMIT, CURSOR };
    static const char *const names[] = {"limit", "cursor"};
    const char *v[2];
    int limit;
    char after[PUBLIC_ID_LEN + 1];
    if (!operator_name(req, res) || !api_query(req, names, v, 2, res) ||
        !page_params(req, v[LIMIT], v[CURSOR], "act_", &limit, after, res))
        return;
    struct page pg = {&res->body, limit, 0, "", false};
    jw_object_open(pg.w, NULL);
    jw_array_open(pg.w, "items");
    enum store_status rc = req->store ? store_list_actions(req->store, v[CURSOR] ? after : NULL,
                                                           limit + 1, collect_action, &pg)
                                      : STORE_UNAVAILABLE;
    finish_page(req, res, &pg, rc);
}

/* ---- actions ----------------------------------------------------------------------------------- */

static void render_moderated_clip(void *ctx, const struct clip_rec *c)
{
    struct response *res = ctx;
    res->status = 200;
    api_clip_json_moderated(&res->body, NULL, c);
}

static void render_report(void *ctx, const struct report_rec *r, const struct clip_rec *clip)
{
    struct response *res = ctx;
    res->status = 200;
    report_with_clip(&res->body, r, clip);
}

/* What every action does first: the operator, the target's id shape, the body. */
static json_t *action_start(const struct request *req, struct response *res, const char *prefix,
                            const struct field_spec *spec, const char **actor)
{
    *actor = operator_name(req, res);
    if (!*actor)
        return NULL;
    if (!api_is_public_id(prefix, req->id)) {
        api_error(res, 404, "NOT_FOUND", "Not found", NULL);
        return NULL;
    }
    return body_parse(req->content_type, req->body, req->body_len, spec, 1, res);
}

static void action_result(const struct request *req, struct response *res, enum store_status rc)
{
    if (rc == STORE_NOT_FOUND)
        api_error(res, 404, "NOT_FOUND", "Not found", NULL);
    else if (rc != STORE_OK)
        api_store_failure(req, res, rc);
}

/* hide = true: POST /admin/clips/{id}/hide; else POST /admin/clips/{id}/restore. */
static void set_visibility(const struct request *req, struct response *res, bool hide)
{
    const char *actor;
    json_t *in = action_start(req, res, "clp_", hide ? hide_fields : moderation_note_fields, &actor);
    if (!in)
        return;
    char id[PUBLIC_ID_LEN + 1], now[28];
    api_new_id("act_", id);
    log_timestamp(now);
    struct action_rec a = {id, hide ? "hide" : "restore", req->id, body_string(in, "reason"), actor, now};
    enum store_status rc = !req->store ? STORE_UNAVAILABLE
                           : hide      ? store_hide_clip(req->store, &a, render_moderated_clip, res)
                                       : store_restore_clip(req->store, &a, render_moderated_clip, res);
    action_result(req, res, rc);
    if (rc == STORE_OK)
        log_eventf(LOG_INFO, "moderation: %s %s by %s", a.action, a.target_id, actor);
    json_decref(in);
}

void api_admin_hide(const struct request *req, struct response *res) { set_visibility(req, res, true); }

void api_admin_restore(const struct request *req, struct response *res) { set_visibility(req, res, false); }

/* POST /admin/reports/{id}/dismiss */
void api_admin_dismiss(const struct request *req, struct response *res)
{
    const char *actor;
    json_t *in = action_start(req, res, "rpt_", moderation_note_fields, &actor);
    if (!in)
        return;
    char id[PUBLIC_ID_LEN + 1], now[28];
    api_new_id("act_", id);
    log_timestamp(now);
    struct action_rec a = {id, "dismiss", req->id, body_string(in, "reason"), actor, now};
    enum store_status rc = req->store ? store_dismiss_report(req->store, &a, render_report, res)
                                      : STORE_UNAVAILABLE;
    action_result(req, res, rc);
    if (rc == STORE_OK)
        log_eventf(LOG_INFO, "moderation: dismiss %s by %s", a.target_id, actor);
    json_decref(in);
}
