/* The route table. */
#include "router.h"

#include <string.h>

struct route {
    const char *pattern; /* "/clips/{id}": at most one {id}, a whole path segment */
    const char *method;  /* "GET" routes also answer HEAD */
    api_handler handler;
    unsigned flags;      /* ROUTE_* (router.h) */
};

static const struct route routes[] = {
    {"/contributors", "POST", api_contributors_create, ROUTE_DATABASE | ROUTE_JSON_BODY | ROUTE_GROUP_COMMIT},
    {"/submissions", "POST", api_submissions_create, ROUTE_DATABASE | ROUTE_JSON_BODY | ROUTE_GROUP_COMMIT},
    {"/submissions/{id}", "GET", api_submissions_get, ROUTE_DATABASE | ROUTE_READ},
    {"/clips", "GET", api_clips_list, ROUTE_DATABASE | ROUTE_READ | ROUTE_CACHED},
    {"/clips/{id}", "GET", api_clips_get, ROUTE_DATABASE | ROUTE_READ | ROUTE_CACHED},
    {"/clips/{id}/neighbors", "GET", api_clips_neighbors, ROUTE_DATABASE | ROUTE_READ | ROUTE_CACHED},
    {"/calendar", "GET", api_calendar, ROUTE_DATABASE | ROUTE_READ | ROUTE_CACHED},
    {"/clips/{id}/reports", "POST", api_reports_create, ROUTE_DATABASE | ROUTE_JSON_BODY},
    /* Operators (api/admin.c): 404 unless TIMEWARP_ADMIN_TOKENS names at least one. */
    {"/admin/reports", "GET", api_admin_reports, ROUTE_DATABASE},
    {"/admin/clips/{id}/hide", "POST", api_admin_hide, ROUTE_DATABASE | ROUTE_JSON_BODY},
    {"/admin/clips/{id}/restore", "POST", api_admin_restore, ROUTE_DATABASE | ROUTE_JSON_BODY},
    {"/admin/reports/{id}/dismiss", "POST", api_admin_dismiss, ROUTE_DATABASE | ROUTE_JSON_BODY},
    {"/admin/audit", "GET", api_admin_audit, ROUTE_DATABASE},
    {"/health", "GET", api_health, ROUTE_DATABASE | ROUTE_HEALTH},
    {"/health/live", "GET", api_health_live, ROUTE_HEALTH},
};

/* Matches `path` (len bytes, trailing slash already removed) against `pattern`. */
static bool matches(const char *pattern, const char *path, size_t len, struct route_match *m)
{
    const char *hole = strstr(pattern, "{id}");
    if (!hole)
        return strlen(pattern) == len && memcmp(pattern, path, len) == 0;
    size_t pre = (size_t)(hole - pattern), post = strlen(hole + 4);
    if (len <= pre + post || memcmp(path, pattern, pre) != 0 ||
        memcmp(path + len - post, hole + 4, post) != 0)
        return false;
    const char *id = path + pre;
    size_t id_len = len - pre - post;
    if (memchr(id, '/', id_len) || id_len >= sizeof m->id)
        return false;
    memcpy(m->id, id, id_len);
    m->id[id_len] = '\0';
    m->has_id = true;
    return true;
}

void router_match(const char *method, const char *path, struct route_match *m)
{
    memset(m, 0, sizeof *m);
    size_t len = strlen(path);
    if (len > 1 && path[len - 1] == '/')
        len--; /* "/clips/" is "/clips" */
    for (size_t i = 0; i < sizeof routes / sizeof *routes; i++) {
        const struct route *r = &routes[i];
        if (!matches(r->pattern, path, len, m))
            continue;
        m->flags = r->flags;
        m->is_health = (r->flags & ROUTE_HEALTH) != 0;
        bool get_like = strcmp(r->method, "GET") == 0;
        if (strcmp(method, r->method) == 0 || (get_like && strcmp(method, "HEAD") == 0))
            m->handler = r->handler;
        else
            m->allow = get_like ? "GET, HEAD" : r->method;
        return;
    }
}
