/* From parsed request to response (see exchange.h). */
#include "http/exchange.h"
#include "api/body.h"
#include "api/read_cache.h"
#include "http/loop.h"
#include "http/request_fields.h"
#include "http/response.h"
#include "log.h"
#include "metrics.h"
#include "router.h"
#include "static_files.h"
#include "store/io.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>

/* On SQLite a read is first tried on the I/O thread, bounded to this: a local file in WAL
 * mode answers reads without waiting for writers, and a hand-off to a worker cost more than
 * the read (docs/DECISIONS.md). A read that would wait longer (a lock, a slow statement, a
 * file error) is run again, from the start, by a database worker within the full budget. */
#define FIRST_TRY_US 20000

/* A call a little past its deadline is answered here: the workers end theirs at the
 * deadline, so this only fires when a worker is stuck where no deadline reaches. */
#define DEADLINE_GRACE_US 500000

static const struct config *cfg;
static atomic_bool draining;

void exchange_configure(const struct config *c) { cfg = c; }
bool exchange_draining(void) { return atomic_load(&draining); }
void exchange_set_draining(void) { atomic_store(&draining, true); }

/* A request handed to a database worker. It owns copies of everything the handler reads, so
 * the connection may close meanwhile (then `conn` is NULL and the answer is dropped). */
struct db_call {
    struct dbio_task task;
    struct loop *loop;
    struct conn *conn;      /* touched only on the I/O thread */
    api_handler handler;
    bool cached;            /* answered through read_cache_answer */
    const char *target;     /* the cache key: the request target, in `raw` */
    struct request req;
    struct response res;
    char *raw;              /* the head, owned; the request's strings point into it */
    char *body;             /* owned */
    size_t body_budget;     /* bytes of the shared body budget it holds */
    char *query;            /* owned */
    char id[128], request_id[129], client_ip[64], method[17];
};

/* ---- the head ------------------------------------------------------------------------------ */

static const char *header(const struct exchange *ex, const char *name)
{
    const struct http_span *s = http_header_find(&ex->head, name, NULL);
    return s ? s->p : NULL; /* NUL-terminated by exchange_begin */
}

static bool valid_request_id(const char *s)
{
    size_t n = 0;
    for (; s[n]; n++) {
        char c = s[n];
        if (n >= 128 || !((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                          (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.' || c == ':'))
            return false;
    }
    return n > 0;
}

void exchange_new_request_id(struct exchange *ex)
{
    /* Request ids need to be unique, not secret: a per-thread generator seeded once. */
    static __thread uint64_t state;
    static const char hex[] = "0123456789abcdef";
    for (int tries = 0; state == 0 && tries < 8; tries++)
        if (getrandom(&state, sizeof state, GRND_NONBLOCK) != sizeof state)
            state = 0;
    if (state == 0)
        state = (uint64_t)(uintptr_t)ex ^ 0x9E3779B97F4A7C15ull; /* getrandom failing: still unique enough */
    for (int half = 0; half < 2; half++) {
        state ^= state << 13; state ^= state >> 7; state ^= state << 17; /* xorshift64 */
        uint64_t x = state * 0x2545F4914F6CDD1Dull;
        for (int i = 0; i < 16; i++)
            ex->request_id[half * 16 + i] = hex[(x >> (60 - 4 * i)) & 15];
    }
    ex->request_id[32] = '\0';
}

void exchange_begin(struct conn *c)
{
    struct exchange *ex = &c->ex;
    struct http_head *h = &ex->head;
    /* The copy of the head is ours: end every span with a NUL (over the space, tab or CR
     * after it), so the strings below are C strings. */
    ((char *)h->method.p)[h->method.n] = '\0';
    ((char *)h->target.p)[h->target.n] = '\0';
    for (int i = 0; i < h->nheaders; i++) {
        ((char *)h->headers[i].name.p)[h->headers[i].name.n] = '\0';
        ((char *)h->headers[i].value.p)[h->headers[i].value.n] = '\0';
    }
    snprintf(ex->method, sizeof ex->method, "%s", h->method.p);
    ex->head_only = strcmp(ex->method, "HEAD") == 0;
    snprintf(ex->path, sizeof ex->path, "%.*s", (int)strcspn(h->target.p, "?"), h->target.p);
    const char *rid = header(ex, "X-Request-Id");
    if (rid && valid_request_id(rid))
        snprintf(ex->request_id, sizeof ex->request_id, "%s", rid);
    else
        exchange_new_request_id(ex);
    const char *xff = cfg->trusted_proxies > 0 ? header(ex, "X-Forwarded-For") : NULL;
    if (xff)
        http_forwarded_entry(xff, strlen(xff), cfg->trusted_proxies, ex->client_ip, sizeof ex->client_ip);
    if (!ex->client_ip[0])
        snprintf(ex->client_ip, sizeof ex->client_ip, "%s", c->peer);
}

/* ---- answers on the I/O thread ------------------------------------------------------------ */

static void send_static(struct conn *c, const struct static_file *f, const char *query)
{
    char etag[40];
    snprintf(etag, sizeof etag, "\"%s\"", f->etag);
    const char *inm = header(&c->ex, "If-None-Match");
    /* Fingerprinted URLs (?v=<etag>, written into index.html at build time) never change. */
    char want[64];
    snprintf(want, sizeof want, "v=%s", f->etag);
    bool immutable = query && strcmp(query, want) == 0;
    response_send_static(c, f, inm && strstr(inm, etag), immutable);
}

static void send_redirect_to_https(struct conn *c)
{
    const char *host = header(&c->ex, "Host");
    char location[HTTP_MAX_LINE + 300];
    snprintf(location, sizeof location, "https://%.255s%s", host ? host : "", c->ex.head.target.p);
    response_send_redirect(c, location);
}

static void send_metrics(struct conn *c)
{
    size_t len = 0;
    char *text = metrics_prometheus(&len);
    if (!text) {
        conn_close(c);
        return;
    }
    response_send_text(c, 200, "text/plain; version=0.0.4", text, len);
}

/* ---- database calls ------------------------------------------------------------------------ */

static void call_free(struct db_call *call)
{
    jw_free(&call->res.body);
    http_body_budget_release(call->body_budget);
    free(call->body);
    free(call->raw);
    free(call->query);
    free(call);
}

static void call_run(struct dbio_task *t, struct store *st)
{
    struct db_call *call = (struct db_call *)t;
    call->req.store = st;
    call->req.draining = exchange_draining();
    if (call->cached)
        read_cache_answer(call->handler, call->target, &call->req, &call->res);
    else
        call->handler(&call->req, &call->res);
    if (call->res.status == 0)
        api_error(&call->res, 500, "INTERNAL_ERROR", "Internal server error.", NULL);
}

/* The group this write was in failed to commit: whatever the handler answered, nothing of
 * it is stored. */
static void call_lost(struct dbio_task *t)
{
    struct db_call *call = (struct db_call *)t;
    jw_free(&call->res.body);
    call->res = (struct response){0};
    api_error(&call->res, 503, "SERVICE_UNAVAILABLE",
              "The database could not store this; nothing was saved. Try again shortly.", NULL);
}

/* PostgreSQL, a cached read: the shared change check's answer (store/change_check.c). */
static bool call_checked(struct dbio_task *t, bool queue_full)
{
    struct db_call *call = (struct db_call *)t;
    if (queue_full)
        api_error(&call->res, 503, "SERVICE_UNAVAILABLE", "The server is busy; try again shortly.", NULL);
    else if (!read_cache_answer_known(call->target, &call->req, &call->res))
        return false;
    loop_post_done(call->loop, t);
    return true;
}

static void call_done(struct dbio_task *t)
{
    struct db_call *call = (struct db_call *)t;
    loop_post_done(call->loop, t);
}

void exchange_call_done(struct dbio_task *t)
{
    struct db_call *call = (struct db_call *)t;
    struct conn *c = call->conn;
    if (c) {
        c->call = NULL;
        response_send_api(c, &call->res, false);
    }
    call_free(call);
}

void exchange_abandon(struct conn *c)
{
    c->call->conn = NULL;
    c->call = NULL;
}

void exchange_check_deadline(struct conn *c, int64_t now_us)
{
    if (!c->call || now_us < c->call->task.deadline_us + DEADLINE_GRACE_US)
        return;
    log_eventf(LOG_ERROR, "request %s: no answer from the database worker within the time budget",
               c->ex.request_id);
    metrics_count(METRIC_DB_ERROR);
    exchange_abandon(c);
    response_send_error(c, 503, "The database is unavailable; try again shortly.", false);
}

/* The short first try of a read (FIRST_TRY_US); false when a worker must answer instead. */
static bool read_on_this_thread(struct conn *c, const struct route_match *m, const char *query)
{
    struct loop *l = c->loop;
    if (!l->reader) {
        char err[512];
        l->reader = store_open(cfg, err, sizeof err);
        if (!l->reader)
            return false;
    }
    char *q = strdup(query ? query : "");
    if (!q)
        return false;
    struct request req = {.method = c->ex.method, .id = m->has_id ? m->id : NULL, .config = cfg,
                          .request_id = c->ex.request_id, .client_ip = c->ex.client_ip,
                          .store = l->reader, .first_try = true,
                          .if_none_match = header(&c->ex, "If-None-Match")};
    http_parse_query(q, &req);
    struct response res = {0};
    store_set_deadline(l->reader, dbio_now_us() + FIRST_TRY_US);
    if (m->flags & ROUTE_CACHED)
        read_cache_answer(m->handler, c->ex.head.target.p, &req, &res);
    else
        m->handler(&req, &res);
    free(q);
    if (res.status == 503) {
        jw_free(&res.body);
        return false;
    }
    if (res.status == 0)
        api_error(&res, 500, "INTERNAL_ERROR", "Internal server error.", NULL);
    response_send_api(c, &res, false);
    return true;
}

/* content_type and authorization point into the head, which moves to the call with them. */
static void hand_to_database(struct conn *c, api_handler handler, const struct route_match *m,
                             char *body, size_t body_len, const char *query,
                             const char *content_type, const char *authorization)
{
    struct db_call *call = calloc(1, sizeof *call);
    char *q = call ? strdup(query ? query : "") : NULL;
    if (!q) {
        free(call);
        conn_close(c);
        return;
    }
    call->query = q;
    call->task.run = call_run;
    call->task.done = call_done;
    call->task.lost = call_lost;
    call->task.group_commit = cfg->engine == DB_SQLITE && (m->flags & ROUTE_GROUP_COMMIT);
    call->task.deadline_us = dbio_now_us() + (int64_t)cfg->db_timeout_ms * 1000;
    call->loop = c->loop;
    call->conn = c;
    call->handler = handler;
    call->cached = (m->flags & ROUTE_CACHED) != 0;
    call->target = c->ex.head.target.p;
    const char *if_none_match = header(&c->ex, "If-None-Match");
    /* The head and the body move to the call. */
    call->raw = c->ex.raw;
    c->ex.raw = NULL;
    c->ex.head = (struct http_head){0};
    call->body = body ? c->body : NULL;
    call->body_budget = body ? c->body_cap : 0;
    if (body) {
        c->body = NULL;
        c->body_len = c->body_cap = 0;
    }
    snprintf(call->id, sizeof call->id, "%s", m->has_id ? m->id : "");
    snprintf(call->request_id, sizeof call->request_id, "%s", c->ex.request_id);
    snprintf(call->client_ip, sizeof call->client_ip, "%s", c->ex.client_ip);
    snprintf(call->method, sizeof call->method, "%s", c->ex.method);
    call->req = (struct request){
        .method = call->method,
        .id = m->has_id ? call->id : NULL,
        .body = call->body,
        .body_len = body_len,
        .config = cfg,
        .request_id = call->request_id,
        .client_ip = call->client_ip,
        .content_type = content_type,
        .authorization = authorization,
        .if_none_match = if_none_match,
    };
    http_parse_query(call->query, &call->req);
    c->call = call;
    c->state = CONN_WAIT_DB;
    if (call->cached && cfg->engine == DB_POSTGRES) {
        call->task.checked = call_checked;
        dbio_check_changes(&call->task);
        return;
    }
    if (!dbio_submit(&call->task)) {
        /* Every worker is busy and the queue is full: say so now rather than queue forever. */
        exchange_abandon(c);
        call_free(call);
        response_send_error(c, 503, "The server is busy; try again shortly.", false);
    }
}

void exchange_dispatch(struct conn *c, char *body, size_t body_len)
{
    struct exchange *ex = &c->ex;
    const char *target = ex->head.target.p;
    const char *qmark = strchr(target, '?');
    size_t raw_path_len = qmark ? (size_t)(qmark - target) : strlen(target);
    char path[HTTP_MAX_LINE + 1];
    snprintf(path, sizeof path, "%.*s", (int)raw_path_len, target);
    /* %00 would cut the path short ("/clips%00" read as "/clips"): no route has a NUL. */
    if (!http_percent_decode(path)) {
        response_send_error(c, 404, "Not found", false);
        return;
    }
    const char *query = qmark ? qmark + 1 : NULL;
    struct route_match m;
    router_match(ex->method, path, &m);
    ex->quiet = m.is_health;
    bool production = cfg->env == ENV_PRODUCTION;
    if (production && !m.is_health && !config_host_allowed(cfg, header(ex, "Host"))) {
        response_send_error(c, 400, "Invalid Host header.", false);
        return;
    }
    if (production && !m.is_health && cfg->trusted_proxies > 0) {
        const char *proto = header(ex, "X-Forwarded-Proto");
        char entry[16];
        http_forwarded_entry(proto, proto ? strlen(proto) : 0, cfg->trusted_proxies, entry, sizeof entry);
        if (strcasecmp(entry, "http") == 0) {
            send_redirect_to_https(c);
            return;
        }
    }
    bool get_like = strcmp(ex->method, "GET") == 0 || strcmp(ex->method, "HEAD") == 0;
    if (cfg->metrics_endpoint && strcmp(path, "/metrics") == 0 && get_like) {
        send_metrics(c);
        return;
    }
    const struct static_file *file = m.allow || m.handler ? NULL : static_file_find(path);
    if (file && get_like) {
        send_static(c, file, query);
        return;
    }
    if (file)
        m.allow = "GET, HEAD";
    if (!m.handler) {
        struct response res = {0};
        if (m.allow) {
            api_error(&res, 405, "METHOD_NOT_ALLOWED", "Method not allowed", NULL);
            res.allow = m.allow;
        } else {
            api_error(&res, 404, "NOT_FOUND", "Not found", NULL);
        }
        response_send_api(c, &res, false);
        return;
    }
    if ((m.flags & ROUTE_READ) && cfg->engine == DB_SQLITE && read_on_this_thread(c, &m, query))
        return;
    const char *content_type = header(ex, "Content-Type");
    if ((m.flags & ROUTE_JSON_BODY) && body_len > 0 &&
        (!content_type || !body_is_json_content_type(content_type))) {
        response_send_error(c, 415, "Unsupported media type: send the body as Content-Type: application/json.",
                            false);
        return;
    }
    struct request req = {.method = ex->method, .config = cfg, .draining = exchange_draining(),
                          .request_id = ex->request_id, .client_ip = ex->client_ip};
    struct response res = {0};
    /* A health probe within the last check's validity needs no trip to a worker. */
    if (!(m.flags & ROUTE_DATABASE) || (m.handler == api_health && api_health_from_cache(&req, &res))) {
        if (!res.status)
            m.handler(&req, &res);
        response_send_api(c, &res, false);
        return;
    }
    hand_to_database(c, m.handler, &m, body, body_len, query, content_type,
                     header(ex, "Authorization"));
}
