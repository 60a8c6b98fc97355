/* HTTP serving on libmicrohttpd: an epoll thread pool, one database connection per pool
 * thread, bodies collected up to the limit, one access-log line per request, and a graceful
 * shutdown driven by signals. */
#include "server.h"
#include "api/api.h"
#include "linger.h"
#include "log.h"
#include "metrics.h"
#include "router.h"
#include "static_files.h"
#include "store/store.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

/* ---- module state ---------------------------------------------------------------------- */

static const struct config *cfg;
static atomic_int in_flight;        /* requests between first byte and response sent */
static atomic_bool draining;        /* SIGTERM received: /health/ says 503 */
static atomic_bool shutting_down;   /* no more keep-alive: responses say Connection: close */

/* Every worker's connection, so shutdown can close them after the workers have stopped. */
static pthread_mutex_t stores_lock = PTHREAD_MUTEX_INITIALIZER;
static struct store *stores[512];
static int store_count;
static __thread struct store *thread_store;

/* A body without a declared length (chunked) that outgrows the limit is read and thrown
 * away up to this many bytes, then answered 413 at its end (libmicrohttpd cannot answer in
 * the middle of a body); past it the connection is closed, so one client cannot hold a
 * worker. A declared length over the limit is refused at once (see linger.h). */
#define DISCARD_BUDGET_BYTES (16u << 20)

static void client_ip(struct MHD_Connection *conn, char *out, size_t len);

/* ---- per-request state ------------------------------------------------------------------- */

struct exchange {
    struct timespec start;
    char request_id[129];
    char method[16];
    char path[512];
    char *uri; /* as received, with the query (owned) */
    char *body;
    size_t body_len, body_cap;
    size_t discarded;
    bool too_large;
    bool linger;      /* answered before the body was read: drain the socket before close */
    bool headers_seen;
    unsigned status;
    size_t bytes;
    bool quiet; /* health probes are logged at debug only */
    char client_ip[64]; /* from X-Forwarded-For when behind trusted proxies */
};

static uint64_t elapsed_us(const struct timespec *start)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (uint64_t)(now.tv_sec - start->tv_sec) * 1000000u +
           (uint64_t)((now.tv_nsec - start->tv_nsec) / 1000);
}

/* The worker's database connection, opened on its first request and re-tried on later ones
 * if the database was down then. */
static struct store *worker_store(void)
{
    if (thread_store)
        return thread_store;
    char err[512];
    struct store *st = store_open(cfg, err, sizeof err);
    if (!st) {
        log_eventf(LOG_ERROR, "database connection failed: %s", err);
        return NULL;
    }
    pthread_mutex_lock(&stores_lock);
    if (store_count < (int)(sizeof stores / sizeof *stores)) {
        stores[store_count++] = st;
        thread_store = st;
    }
    pthread_mutex_unlock(&stores_lock);
    if (!thread_store)
        store_close(st);
    return thread_store;
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

static void new_request_id(char out[33])
{
    /* Request ids need to be unique, not secret: a per-thread generator seeded once. */
    static __thread uint64_t state;
    static const char hex[] = "0123456789abcdef";
    while (state == 0 && getrandom(&state, sizeof state, 0) != sizeof state)
        ;
    for (int half = 0; half < 2; half++) {
        state ^= state << 13; state ^= state >> 7; state ^= state << 17; /* xorshift64 */
        uint64_t x = state * 0x2545F4914F6CDD1Dull;
        for (int i = 0; i < 16; i++)
            out[half * 16 + i] = hex[(x >> (60 - 4 * i)) & 15];
    }
    out[32] = '\0';
}

/* ---- responses ----------------------------------------------------------------------------- */

/* Adds the headers every response carries, queues it and records it for the access log. */
static enum MHD_Result queue(struct MHD_Connection *conn, struct exchange *ex, unsigned status,
                             struct MHD_Response *r, size_t len)
{
    MHD_add_response_header(r, "X-Request-Id", ex->request_id);
    MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(r, "X-Frame-Options", "DENY");
    MHD_add_response_header(r, "Referrer-Policy", "no-referrer");
    if (!MHD_get_response_header(r, "Content-Security-Policy")) /* the page sets its own */
        MHD_add_response_header(r, "Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'");
    if (cfg->env == ENV_PRODUCTION)
        MHD_add_response_header(r, "Strict-Transport-Security", "max-age=31536000; includeSubDomains");
    if (atomic_load(&shutting_down))
        MHD_add_response_header(r, "Connection", "close");
    ex->status = status;
    ex->bytes = len;
    enum MHD_Result ok = MHD_queue_response(conn, status, r);
    MHD_destroy_response(r);
    return ok;
}

/* A response over a malloc'd body it takes ownership of (freed on failure too), or NULL. */
static struct MHD_Response *owned_response(char *text, size_t len, const char *content_type)
{
    struct MHD_Response *r = text ? MHD_create_response_from_buffer(len, text, MHD_RESPMEM_MUST_FREE) : NULL;
    if (!r) {
        free(text);
        return NULL;
    }
    MHD_add_response_header(r, "Content-Type", content_type);
    return r;
}

static enum MHD_Result send_response(struct MHD_Connection *conn, struct exchange *ex,
                                     struct response *res)
{
    size_t len = 0;
    char *text = jw_finish(&res->body, &len); /* NULL: out of memory while rendering */
    struct MHD_Response *r = owned_response(text, len, "application/json");
    if (!r)
        return MHD_NO; /* drop the connection */
    MHD_add_response_header(r, "Cache-Control", "no-store");
    if (res->allow)
        MHD_add_response_header(r, "Allow", res->allow);
    for (int i = 0; i < res->header_count; i++)
        MHD_add_response_header(r, res->headers[i].name, res->headers[i].value);
    return queue(conn, ex, (unsigned)res->status, r, len);
}

static enum MHD_Result send_error(struct MHD_Connection *conn, struct exchange *ex, int status,
                                  const char *code, const char *message)
{
    struct response res = {0};
    api_error(&res, status, code, message, NULL);
    return send_response(conn, ex, &res);
}

/* The web page: embedded files with validators; fingerprinted URLs (?v=<etag>, written into
 * index.html at build time) are immutable for a year, everything else is revalidated. */
static enum MHD_Result send_static(struct MHD_Connection *conn, struct exchange *ex,
                                   const struct static_file *f)
{
    char etag[40], modified[64];
    snprintf(etag, sizeof etag, "\"%s\"", f->etag);
    time_t mtime = (time_t)f->mtime;
    struct tm tm;
    gmtime_r(&mtime, &tm);
    strftime(modified, sizeof modified, "%a, %d %b %Y %H:%M:%S GMT", &tm);
    const char *inm = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "If-None-Match");
    const char *v = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "v");
    bool not_modified = inm && strstr(inm, etag);
    struct MHD_Response *r = MHD_create_response_from_buffer(
        not_modified ? 0 : f->size, not_modified ? NULL : (void *)f->data, MHD_RESPMEM_PERSISTENT);
    if (!r)
        return MHD_NO;
    MHD_add_response_header(r, "Content-Type", f->content_type);
    MHD_add_response_header(r, "ETag", etag);
    MHD_add_response_header(r, "Last-Modified", modified);
    MHD_add_response_header(r, "Cache-Control", v && strcmp(v, f->etag) == 0
                                                    ? "public, max-age=31536000, immutable"
                                                    : "no-cache");
    MHD_add_response_header(r, "Content-Security-Policy",
                            "default-src 'self'; img-src 'self' https://i.ytimg.com data:; "
                            "frame-src https://www.youtube-nocookie.com; object-src 'none'; "
                            "base-uri 'none'; form-action 'self'; frame-ancestors 'none'");
    return queue(conn, ex, not_modified ? MHD_HTTP_NOT_MODIFIED : MHD_HTTP_OK, r,
                 not_modified ? 0 : f->size);
}

/* ---- request handling ---------------------------------------------------------------------- */

/* Splits the raw query string (copied into `buf`) into decoded parameters. Done here rather
 * than with libmicrohttpd's parsed arguments because those are NUL-terminated after
 * decoding: "limit=5%00abc" would read as "limit=5". A value holding an encoded NUL is kept
 * as the literal "%00", which no parameter accepts; such a key is dropped (unknown). */
static void parse_query(char *buf, struct request *req)
{
    char *save = NULL;
    for (char *pair = strtok_r(buf, "&", &save); pair; pair = strtok_r(NULL, "&", &save)) {
        char *eq = strchr(pair, '=');
        char *value = NULL;
        if (eq) {
            *eq = '\0';
            value = eq + 1;
        }
        size_t raw_key_len = strlen(pair);
        if (MHD_http_unescape(pair) != strlen(pair) || raw_key_len == 0)
            continue;
        if (value && MHD_http_unescape(value) != strlen(value))
            value = "%00";
        if (req->query_count == API_MAX_QUERY) {
            req->query_overflow = true;
            return;
        }
        req->query[req->query_count++] = (struct query_param){pair, value};
    }
}

/* The entry `hops` from the right of a comma-separated X-Forwarded-* value: with one trusted
 * proxy (the ALB) that is the last entry, the one the ALB itself appended; entries further
 * left came from the client and could say anything. */
static void forwarded_entry(const char *value, int hops, char *out, size_t len)
{
    out[0] = '\0';
    if (!value || hops <= 0)
        return;
    const char *starts[32];
    int count = 0;
    for (const char *p = value; p && count < 32; p = strchr(p, ',') ? strchr(p, ',') + 1 : NULL)
        starts[count++] = p;
    const char *e = starts[count > hops ? count - hops : 0];
    size_t n = strcspn(e, ",");
    while (n > 0 && *e == ' ') {
        e++;
        n--;
    }
    while (n > 0 && e[n - 1] == ' ')
        n--;
    snprintf(out, len, "%.*s", (int)n, e);
}

static enum MHD_Result send_redirect_to_https(struct MHD_Connection *conn, struct exchange *ex)
{
    const char *host = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Host");
    char location[1400];
    snprintf(location, sizeof location, "https://%.255s%s", host ? host : "", ex->uri);
    struct response res = {0};
    api_error(&res, 301, "MOVED_PERMANENTLY", "Use HTTPS.", NULL);
    size_t len = 0;
    char *text = jw_finish(&res.body, &len);
    struct MHD_Response *r = owned_response(text, len, "application/json");
    if (!r)
        return MHD_NO;
    MHD_add_response_header(r, "Location", location);
    return queue(conn, ex, MHD_HTTP_MOVED_PERMANENTLY, r, len);
}

static enum MHD_Result send_metrics(struct MHD_Connection *conn, struct exchange *ex)
{
    size_t len = 0;
    char *text = metrics_prometheus(&len);
    struct MHD_Response *r = owned_response(text, len, "text/plain; version=0.0.4");
    if (!r)
        return MHD_NO;
    MHD_add_response_header(r, "Cache-Control", "no-store");
    return queue(conn, ex, MHD_HTTP_OK, r, len);
}

static enum MHD_Result dispatch(struct MHD_Connection *conn, struct exchange *ex, const char *url)
{
    /* libmicrohttpd decodes %00 into a NUL that would cut the path short ("/clips%00"
     * read as "/clips"): no route has a NUL in it. */
    size_t raw_path_len = strcspn(ex->uri, "?");
    if (memmem(ex->uri, raw_path_len, "%00", 3))
        return send_error(conn, ex, 404, "NOT_FOUND", "Not found");
    struct route_match m;
    router_match(ex->method, url, &m);
    ex->quiet = m.is_health;
    if (cfg->env == ENV_PRODUCTION && !m.is_health &&
        !config_host_allowed(cfg, MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Host")))
        return send_error(conn, ex, 400, "BAD_REQUEST", "Invalid Host header.");
    if (cfg->trusted_proxies > 0) {
        char proto[16];
        forwarded_entry(MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "X-Forwarded-Proto"),
                        cfg->trusted_proxies, proto, sizeof proto);
        if (cfg->env == ENV_PRODUCTION && !m.is_health && strcasecmp(proto, "http") == 0)
            return send_redirect_to_https(conn, ex);
    }
    if (cfg->metrics_endpoint && strcmp(url, "/metrics") == 0 &&
        (strcmp(ex->method, "GET") == 0 || strcmp(ex->method, "HEAD") == 0))
        return send_metrics(conn, ex);
    const struct static_file *file = m.allow || m.handler ? NULL : static_file_find(url);
    if (file && (strcmp(ex->method, "GET") == 0 || strcmp(ex->method, "HEAD") == 0))
        return send_static(conn, ex, file);
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
        return send_response(conn, ex, &res);
    }
    struct request req = {
        .method = ex->method,
        .id = m.has_id ? m.id : NULL,
        .body = ex->body,
        .body_len = ex->body_len,
        .content_type = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Type"),
        .config = cfg,
        .draining = atomic_load(&draining),
        .request_id = ex->request_id,
        .client_ip = ex->client_ip[0] ? ex->client_ip : NULL,
        .authorization = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Authorization"),
    };
    const char *q = strchr(ex->uri, '?');
    char *query = strdup(q ? q + 1 : "");
    if (!query)
        return MHD_NO;
    parse_query(query, &req);
    req.store = worker_store();
    struct response res = {0};
    m.handler(&req, &res);
    free(query);
    if (res.status == 0)
        api_error(&res, 500, "INTERNAL_ERROR", "Internal server error.", NULL);
    return send_response(conn, ex, &res);
}

static bool declared_too_large(struct MHD_Connection *conn)
{
    const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Length");
    if (!cl)
        return false;
    char *end;
    errno = 0;
    unsigned long long n = strtoull(cl, &end, 10);
    return errno == ERANGE || (end != cl && n > cfg->max_body_bytes);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version,
                                  const char *upload_data, size_t *upload_data_size, void **con_cls)
{
    (void)cls; (void)version;
    struct exchange *ex = *con_cls;
    if (!ex)
        return MHD_NO;
    if (!ex->headers_seen) {
        /* First call: headers only. Answering now would make libmicrohttpd 0.9.75 close the
         * connection instead of keeping it alive, so we only take note and answer later. */
        ex->headers_seen = true;
        snprintf(ex->method, sizeof ex->method, "%s", method);
        /* The path as received (still percent-encoded): the decoded one hides %00 tricks. */
        snprintf(ex->path, sizeof ex->path, "%.*s", (int)strcspn(ex->uri, "?"), ex->uri);
        if (cfg->trusted_proxies > 0)
            forwarded_entry(MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "X-Forwarded-For"),
                            cfg->trusted_proxies, ex->client_ip, sizeof ex->client_ip);
        if (!ex->client_ip[0]) /* no (trusted) proxy: the client is the peer (rate limits) */
            client_ip(conn, ex->client_ip, sizeof ex->client_ip);
        const char *rid = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "X-Request-Id");
        if (rid && valid_request_id(rid))
            snprintf(ex->request_id, sizeof ex->request_id, "%s", rid);
        else
            new_request_id(ex->request_id);
        if (declared_too_large(conn)) {
            /* Refuse at once; the connection then closes, and linger.c drains what the
             * client is still sending so it reads the 413 rather than a reset. */
            ex->too_large = true;
            ex->linger = true;
            return send_error(conn, ex, 413, "PAYLOAD_TOO_LARGE", "Request body is too large.");
        }
        return MHD_YES;
    }
    if (*upload_data_size > 0) {
        size_t n = *upload_data_size;
        *upload_data_size = 0;
        if (!ex->too_large && ex->body_len + n > cfg->max_body_bytes) {
            ex->too_large = true;
            free(ex->body);
            ex->body = NULL;
            ex->body_len = ex->body_cap = 0;
        }
        if (ex->too_large) {
            ex->discarded += n;
            if (ex->discarded <= DISCARD_BUDGET_BYTES)
                return MHD_YES;
            /* libmicrohttpd cannot answer in the middle of a body: give up on this one. */
            log_event(LOG_WARN, "closing a connection whose body exceeds the limit by far", NULL);
            return MHD_NO;
        }
        if (ex->body_len + n + 1 > ex->body_cap) {
            size_t cap = ex->body_cap ? ex->body_cap : 1024;
            while (cap < ex->body_len + n + 1)
                cap *= 2;
            char *grown = realloc(ex->body, cap);
            if (!grown)
                return MHD_NO;
            ex->body = grown;
            ex->body_cap = cap;
        }
        memcpy(ex->body + ex->body_len, upload_data, n);
        ex->body_len += n;
        ex->body[ex->body_len] = '\0';
        return MHD_YES;
    }
    if (ex->status) /* already answered early (413) */
        return MHD_YES;
    if (ex->too_large)
        return send_error(conn, ex, 413, "PAYLOAD_TOO_LARGE", "Request body is too large.");
    return dispatch(conn, ex, url);
}

/* Called by libmicrohttpd as soon as a request line arrives: the request's lifetime starts. */
static void *on_request_start(void *cls, const char *uri, struct MHD_Connection *conn)
{
    (void)cls; (void)conn;
    struct exchange *ex = calloc(1, sizeof *ex);
    if (!ex)
        return NULL;
    ex->uri = strdup(uri);
    if (!ex->uri) {
        free(ex);
        return NULL;
    }
    clock_gettime(CLOCK_MONOTONIC, &ex->start);
    atomic_fetch_add(&in_flight, 1);
    return ex;
}

static void client_ip(struct MHD_Connection *conn, char *out, size_t len)
{
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    out[0] = '\0';
    if (!ci || !ci->client_addr)
        return;
    const struct sockaddr *sa = ci->client_addr;
    if (sa->sa_family == AF_INET)
        inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, out, (socklen_t)len);
    else if (sa->sa_family == AF_INET6)
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr, out, (socklen_t)len);
}

static void access_log(struct MHD_Connection *conn, struct exchange *ex, bool completed)
{
    if (ex->quiet && log_get_level() > LOG_DEBUG)
        return;
    if (!ex->quiet && log_get_level() > LOG_INFO)
        return;
    char line[1400], ts[28], ip[64];
    size_t pos;
    log_timestamp(ts);
    if (ex->client_ip[0])
        snprintf(ip, sizeof ip, "%s", ex->client_ip);
    else
        client_ip(conn, ip, sizeof ip);
    pos = (size_t)snprintf(line, sizeof line,
                           "{\"time\":\"%s\",\"level\":\"%s\",\"msg\":\"request\",\"request_id\":\"%s\","
                           "\"method\":\"", ts, ex->quiet ? "debug" : "info", ex->request_id);
    log_escape(line, 200 + pos, &pos, ex->method);
    pos += (size_t)snprintf(line + pos, sizeof line - pos, "\",\"path\":\"");
    log_escape(line, sizeof line - 200, &pos, ex->path);
    pos += (size_t)snprintf(line + pos, sizeof line - pos,
                            "\",\"status\":%u,\"duration_us\":%llu,\"bytes\":%zu,\"client_ip\":\"%s\"%s}\n",
                            ex->status, (unsigned long long)elapsed_us(&ex->start), ex->bytes, ip,
                            completed ? "" : ",\"aborted\":true");
    log_access_line(line, pos < sizeof line ? pos : sizeof line - 1);
}

static void on_request_done(void *cls, struct MHD_Connection *conn, void **con_cls,
                            enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    struct exchange *ex = *con_cls;
    if (!ex)
        return;
    if (ex->linger) {
        const union MHD_ConnectionInfo *ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
        int fd = ci ? dup(ci->connect_fd) : -1;
        if (fd >= 0)
            linger_add(fd); /* libmicrohttpd closes its copy; ours keeps the socket draining */
    }
    if (ex->headers_seen) {
        access_log(conn, ex, toe == MHD_REQUEST_TERMINATED_COMPLETED_OK);
        if (ex->status)
            metrics_request(ex->status, elapsed_us(&ex->start));
    }
    free(ex->body);
    free(ex->uri);
    free(ex);
    *con_cls = NULL;
    atomic_fetch_sub(&in_flight, 1);
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    char msg[512];
    vsnprintf(msg, sizeof msg, fmt, ap);
    size_t n = strlen(msg);
    while (n > 0 && msg[n - 1] == '\n')
        msg[--n] = '\0';
    log_event(LOG_WARN, msg, ",\"source\":\"http\"");
}

/* ---- lifecycle -------------------------------------------------------------------------------- */

static bool listen_address(const struct config *c, struct sockaddr_storage *ss, unsigned *flags)
{
    memset(ss, 0, sizeof *ss);
    struct sockaddr_in *v4 = (struct sockaddr_in *)ss;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)ss;
    if (inet_pton(AF_INET, c->host, &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons((uint16_t)c->port);
        return true;
    }
    if (inet_pton(AF_INET6, c->host, &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons((uint16_t)c->port);
        *flags |= MHD_USE_IPv6;
        return true;
    }
    return false;
}

/* Waits for SIGTERM/SIGINT (blocked in every thread, so only this one sees them). A second
 * signal during the drain skips the rest of it. Returns false on timeout. */
static bool wait_signal(const sigset_t *set, int seconds)
{
    if (seconds < 0) {
        int sig;
        return sigwait(set, &sig) == 0;
    }
    struct timespec ts = {seconds, 0};
    return sigtimedwait(set, NULL, &ts) > 0;
}

static void close_stores(void)
{
    pthread_mutex_lock(&stores_lock);
    for (int i = 0; i < store_count; i++)
        store_close(stores[i]);
    store_count = 0;
    pthread_mutex_unlock(&stores_lock);
}

int server_run(const struct config *c)
{
    cfg = c;
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, NULL); /* inherited by the worker threads */
    signal(SIGPIPE, SIG_IGN);

    struct sockaddr_storage addr;
    unsigned flags = MHD_USE_EPOLL_INTERNAL_THREAD | MHD_USE_ITC | MHD_USE_ERROR_LOG;
    if (!listen_address(c, &addr, &flags)) {
        log_eventf(LOG_ERROR, "HOST must be an IPv4 or IPv6 address (got '%s')", c->host);
        return 1;
    }
    struct MHD_Daemon *d = MHD_start_daemon(
        flags, (uint16_t)c->port, NULL, NULL, on_request, NULL,
        MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL, /* first, so every message goes through it */
        MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr,
        MHD_OPTION_THREAD_POOL_SIZE, (unsigned)c->workers,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned)c->max_connections,
        /* A connection silent this long is closed, so slow or idle clients cannot pin
         * resources; it must outlast the load balancer's idle timeout (see DEPLOYMENT.md). */
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)c->idle_timeout,
        MHD_OPTION_URI_LOG_CALLBACK, on_request_start, NULL,
        MHD_OPTION_NOTIFY_COMPLETED, on_request_done, NULL,
        MHD_OPTION_END);
    if (!d) {
        log_eventf(LOG_ERROR, "cannot listen on %s:%d: %s", c->host, c->port, strerror(errno));
        return 1;
    }
    if (!linger_start()) {
        MHD_stop_daemon(d);
        log_eventf(LOG_ERROR, "cannot start the lingering-close thread: %s", strerror(errno));
        return 1;
    }
    char fields[512];
    snprintf(fields, sizeof fields, ",\"host\":\"%s\",\"port\":%d,\"workers\":%d,\"env\":\"%s\",\"database\":\"%s\"",
             c->host, c->port, c->workers, config_env_name(c->env),
             c->engine == DB_POSTGRES ? "postgres" : "sqlite");
    log_event(LOG_INFO, "listening", fields);

    while (!wait_signal(&set, c->metrics_interval))
        metrics_flush_emf();
    metrics_flush_emf();
    if (c->drain_seconds > 0) {
        atomic_store(&draining, true);
        log_eventf(LOG_INFO, "shutdown: draining for %d s (health reports unavailable)", c->drain_seconds);
        wait_signal(&set, c->drain_seconds);
    }
    atomic_store(&shutting_down, true);
    MHD_socket listen_fd = MHD_quiesce_daemon(d);
    if (listen_fd != MHD_INVALID_SOCKET)
        close(listen_fd); /* new connections are refused from here on */
    log_eventf(LOG_INFO, "shutdown: stopped accepting; %d request(s) in flight", atomic_load(&in_flight));
    struct timespec started;
    clock_gettime(CLOCK_MONOTONIC, &started);
    while (atomic_load(&in_flight) > 0 && elapsed_us(&started) < (uint64_t)c->shutdown_timeout * 1000000u) {
        struct timespec tick = {0, 10 * 1000 * 1000};
        nanosleep(&tick, NULL);
    }
    int left = atomic_load(&in_flight);
    MHD_stop_daemon(d);
    linger_stop();
    close_stores();
    if (left > 0)
        log_eventf(LOG_WARN, "shutdown: %d request(s) cut off after %d s", left, c->shutdown_timeout);
    metrics_flush_emf();
    log_eventf(LOG_INFO, "shutdown: complete");
    return 0;
}
