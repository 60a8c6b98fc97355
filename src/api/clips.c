/* GET /clips (the archive, by date, keyset-paginated) and GET /clips/{id}. */
#include "api/api.h"
#include "domain/cursor.h"
#include "domain/date.h"

#include <stdio.h>
#include <string.h>

#define DEFAULT_LIMIT 50
#define MAX_LIMIT 200

static void render_clip(void *ctx, const struct clip_rec *c)
{
    struct response *res = ctx;
    if (c->hidden_at) {
        api_error(res, 410, "GONE", "Gone: moderators removed this clip from the archive.", NULL);
        return;
    }
    res->status = 200;
    api_depends_on(res, c->performance_date, c->performance_date);
    api_clip_json(&res->body, NULL, c);
}

void api_clips_get(const struct request *req, struct response *res)
{
    enum store_status rc = STORE_NOT_FOUND;
    if (api_is_public_id("clp_", req->id))
        rc = req->store ? store_get_clip(req->store, req->id, render_clip, res) : STORE_UNAVAILABLE;
    if (rc == STORE_NOT_FOUND)
        api_error(res, 404, "NOT_FOUND", "Not found", NULL);
    else if (rc != STORE_OK)
        api_store_failure(req, res, rc);
}

/* Decimal digits only; 0 is an error, anything above MAX_LIMIT is clamped. */
bool api_page_limit(const char *s, int *out)
{
    long v = 0;
    if (!*s)
        return false;
    for (; *s; s++) {
        if (*s < '0' || *s > '9')
            return false;
        v = v * 10 + (*s - '0');
        if (v > MAX_LIMIT)
            v = MAX_LIMIT + 1; /* saturate: "99999999999999999999" is just "large" */
    }
    if (v == 0)
        return false;
    *out = v > MAX_LIMIT ? MAX_LIMIT : (int)v;
    return true;
}

struct page {
    struct jw *w;
    int wanted; /* the page size; one more row is fetched to know if a next page exists */
    int count;
    char last_id[PUBLIC_ID_LEN + 1];
    char last_date[DATE_LEN + 1];
    bool more;
};

#define PAGE_BYTES (1u << 20)

static void collect(void *ctx, const struct clip_rec *c)
{
    struct page *pg = ctx;
    /* The page stops at `limit` clips or once its body passes PAGE_BYTES (SPEC.md allows a
     * bound of at least 1 MiB): 200 clips with 10,000-character notes that all need escaping
     * would otherwise make a 12 MB body, and a few such requests at once a task's memory. */
    if (pg->count == pg->wanted || pg->w->len >= PAGE_BYTES) {
        pg->more = true;
        return;
    }
    api_clip_json(pg->w, NULL, c);
    pg->count++;
    snprintf(pg->last_id, sizeof pg->last_id, "%s", c->id);
    snprintf(pg->last_date, sizeof pg->last_date, "%s", c->performance_date);
}

void api_clips_list(const struct request *req, struct response *res)
{
    enum { FROM, TO, LIMIT, CURSOR };
    static const char *const names[] = {"from", "to", "limit", "cursor"};
    const char *v[4];
    date_key from = 0, to = 99991231;
    int limit = DEFAULT_LIMIT;
    char after[4 + CURSOR_PAYLOAD_LEN + 1];
    const unsigned char *key = (const unsigned char *)req->config->secret_key;
    size_t key_len = req->config->secret_key_len;

    if (!api_query(req, names, v, 4, res) || !api_date_range(v[FROM], v[TO], &from, &to, res))
        return;
    if (v[LIMIT] && !api_page_limit(v[LIMIT], &limit)) {
        api_error(res, 400, "BAD_REQUEST", "'limit' must be a positive whole number (at most 200 is used).", "limit");
        return;
    }
    if (v[CURSOR] && !cursor_decode(key, key_len, v[CURSOR], strlen(v[CURSOR]), after)) {
        api_error(res, 400, "BAD_REQUEST", "Invalid cursor", "cursor");
        return;
    }

    struct page pg = {&res->body, limit, 0, "", "", false};
    jw_object_open(pg.w, NULL);
    jw_array_open(pg.w, "items");
    enum store_status rc = req->store
        ? store_list_clips(req->store, v[FROM] ? v[FROM] : "0001-01-01", v[TO] ? v[TO] : "9999-12-31",
                           v[CURSOR] ? after : NULL, limit + 1, collect, &pg)
        : STORE_UNAVAILABLE;
    if (rc == STORE_NOT_FOUND) { /* signed by us, but its clip is gone (another database?) */
        api_error(res, 400, "BAD_REQUEST", "Invalid cursor", "cursor");
        return;
    }
    if (rc != STORE_OK) {
        api_store_failure(req, res, rc);
        return;
    }
    char next[CURSOR_LEN + 1];
    bool has_next = pg.more && cursor_encode(key, key_len, pg.last_id, next);
    jw_array_close(pg.w);
    jw_string(pg.w, "next_cursor", has_next ? next : NULL);
    jw_object_close(pg.w);
    res->status = 200;
    /* A clip changed after this page's last one (or before the cursor's) cannot change
     * it; the start is `from`, since the cursor's own date is not at hand. */
    api_depends_on(res, v[FROM], pg.more ? pg.last_date : v[TO]);
}

/* The neighbours, and the dates between them: only a change there can change the answer. */
struct neighbors {
    struct jw *w;
    char previous_date[DATE_LEN + 1], next_date[DATE_LEN + 1]; /* "" = none: an open end */
};

static void render_neighbor(struct neighbors *n, const char *name, char date[DATE_LEN + 1],
                            const struct clip_rec *c)
{
    if (c) {
        api_clip_json(n->w, name, c);
        snprintf(date, DATE_LEN + 1, "%s", c->performance_date);
    } else {
        jw_null(n->w, name);
    }
}

static void render_previous(void *ctx, const struct clip_rec *c)
{
    struct neighbors *n = ctx;
    render_neighbor(n, "previous", n->previous_date, c);
}

static void render_next(void *ctx, const struct clip_rec *c)
{
    struct neighbors *n = ctx;
    render_neighbor(n, "next", n->next_date, c);
}

/* GET /clips/{id}/neighbors: previous and next clip in archive order, for walking the
 * archive one clip at a time across days and months. */
void api_clips_neighbors(const struct request *req, struct response *res)
{
    enum store_status rc = STORE_NOT_FOUND;
    struct neighbors n = {&res->body, "", ""};
    jw_object_open(&res->body, NULL);
    if (api_is_public_id("clp_", req->id))
        rc = req->store ? store_clip_neighbors(req->store, req->id, render_previous, render_next, &n)
                        : STORE_UNAVAILABLE;
    jw_object_close(&res->body);
    if (rc == STORE_OK) {
        res->status = 200;
        api_depends_on(res, n.previous_date, n.next_date); /* "": an open end */
    }
    else if (rc == STORE_NOT_FOUND)
        api_error(res, 404, "NOT_FOUND", "Not found", NULL);
    else if (rc == STORE_GONE)
        api_error(res, 410, "GONE", "Gone: moderators removed this clip from the archive.", NULL);
    else
        api_store_failure(req, res, rc);
}
