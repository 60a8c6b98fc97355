/* What handlers see: a parsed request in, a status and JSON body out. No HTTP layer here,
 * so handlers can be called and tested without a socket. */
#ifndef TIMEWARP_API_H
#define TIMEWARP_API_H
#include "config.h"
#include "api/json_writer.h"
#include "store/store.h"
#include <stdbool.h>
#include <stddef.h>

#define API_MAX_QUERY 32

struct query_param {
    const char *key, *value; /* value NULL for "?key" without '=' */
};

struct request {
    const char *method;       /* "GET", "HEAD", "POST", … */
    const char *id;           /* the {id} path segment, or NULL */
    const char *body;         /* NULL when there was none */
    size_t body_len;
    const char *content_type; /* NULL when absent */
    struct query_param query[API_MAX_QUERY];
    int query_count;
    bool query_overflow;      /* more than API_MAX_QUERY parameters */
    struct store *store;      /* NULL: this worker could not reach the database */
    const struct config *config;
    bool draining;            /* shutting down: /health/ reports unavailable */
    const char *request_id;   /* for error log lines */
    const char *client_ip;    /* resolved through TIMEWARP_TRUSTED_PROXIES (rate limits, logs) */
    const char *authorization; /* the Authorization header, or NULL */
    const char *if_none_match; /* the If-None-Match header, or NULL */
    bool first_try;           /* a short try on the I/O thread: a store failure is not logged,
                               * the request is then run again by a database worker */
};

/* Headers a handler adds beyond the ones every response carries (Retry-After,
 * WWW-Authenticate, RateLimit, …). */
#define API_MAX_HEADERS 4
struct api_header {
    const char *name;
    char value[160];
};

struct response {
    int status;
    struct jw body;    /* the JSON body, written by the handler */
    const char *allow; /* Allow header for 405 */
    struct api_header headers[API_MAX_HEADERS];
    int header_count;
    char etag[24];             /* a strong ETag, quoted ("" = none): api/read_cache.c */
    const char *cache_control; /* NULL: no-store, which is right for everything but public reads */
    /* A public read's answer depends on the clips with performance dates in [lo, hi]
     * (YYYYMMDD): the cache drops it when one of those changes. Unset (hi 0): on any. */
    int depends_lo, depends_hi;
};

/* Sets what the answer depends on; "" for an open end (dates as YYYY-MM-DD). */
void api_depends_on(struct response *res, const char *from, const char *to);

/* Adds a header to the response (printf-style value); silently ignored past API_MAX_HEADERS,
 * which is a programming error caught by the unit tests. */
void api_add_header(struct response *res, const char *name, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

typedef void (*api_handler)(const struct request *req, struct response *res);

/* Sets an error response in the shape SPEC.md defines; `field` (or NULL) goes to details. */
void api_error(struct response *res, int status, const char *code, const char *message,
               const char *field);
/* 503 (database unreachable) or 500 for a store failure; logs the driver's error. */
void api_store_failure(const struct request *req, struct response *res, enum store_status rc);

/* Counts this request against the client's limit for `kind` (TIMEWARP_RATE_LIMITS); false
 * when it is over, with the 429 and its Retry-After filled into res (api/throttle.c). */
bool api_rate_limit(const struct request *req, struct response *res, enum rate_kind kind);

/* Handlers, one file per resource. */
void api_contributors_create(const struct request *req, struct response *res);
void api_submissions_create(const struct request *req, struct response *res);
void api_submissions_get(const struct request *req, struct response *res);
void api_clips_get(const struct request *req, struct response *res);
void api_clips_list(const struct request *req, struct response *res);
void api_clips_neighbors(const struct request *req, struct response *res);
void api_calendar(const struct request *req, struct response *res);
void api_health(const struct request *req, struct response *res);
void api_health_live(const struct request *req, struct response *res);
/* Answers /health/ from a recent successful check without the database; false if there is
 * none (then api_health runs on a database worker). */
bool api_health_from_cache(const struct request *req, struct response *res);
void api_reports_create(const struct request *req, struct response *res);
void api_admin_reports(const struct request *req, struct response *res);
void api_admin_hide(const struct request *req, struct response *res);
void api_admin_restore(const struct request *req, struct response *res);
void api_admin_dismiss(const struct request *req, struct response *res);
void api_admin_audit(const struct request *req, struct response *res);

/* Reads the query parameters `names` into `values` (NULL when absent, "" for "?key").
 * Unknown parameters are ignored; a known one given twice is a 400 (filled into res). */
bool api_query(const struct request *req, const char *const *names, const char **values, int n,
               struct response *res);
/* The `from`/`to` query parameters (YYYY-MM-DD; NULL = absent, which leaves *from and *to as
 * the caller set them) and from <= to. On a bad value fills res with the 400 SPEC.md words. */
bool api_date_range(const char *from_text, const char *to_text, long *from, long *to,
                    struct response *res);

/* The `limit` query parameter of every list (api/clips.c): decimal digits, 1 or more, values
 * above 200 clamped to 200. */
bool api_page_limit(const char *text, int *out);

/* Public ids: prefix + 32 lowercase hex digits from the kernel's CSPRNG. */
#define PUBLIC_ID_LEN 36
void api_new_id(const char *prefix, char out[PUBLIC_ID_LEN + 1]);
bool api_is_public_id(const char *prefix, const char *s);

/* Record → JSON object (under `key`, or NULL at the top level / in an array), shared by the
 * handlers that return the same resource. */
void api_contributor_json(struct jw *w, const char *key, const struct contributor_rec *c);
void api_submission_json(struct jw *w, const char *key, const struct submission_rec *s);
void api_clip_json(struct jw *w, const char *key, const struct clip_rec *c);
/* A report: the public fields, plus "resolution" for operators (moderated = true). */
void api_report_json(struct jw *w, const char *key, const struct report_rec *r, bool moderated);
/* The clip as operators see it: the public fields plus "hidden". */
void api_clip_json_moderated(struct jw *w, const char *key, const struct clip_rec *c);
#endif
