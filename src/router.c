/* The route table. */
#include "router.h"

#include <stdio.h>
#include <string.h>

struct route {
    const char *prefix; /* "/clips" */
    bool with_id;       /* "/clips/{id}" */
    const char *method; /* "GET" routes also answer HEAD */
    api_handler handler;
};

static const struct route routes[] = {
    {"/contributors", false, "POST", api_contributors_create},
    {"/submissions", false, "POST", api_submissions_create},
    {"/submissions", true, "GET", api_submissions_get},
    {"/clips", false, "GET", api_clips_list},
    {"/clips", true, "GET", api_clips_get},
    {"/health", false, "GET", api_health},
};

void router_match(const char *method, const char *path, struct route_match *m)
{
    memset(m, 0, sizeof *m);
    size_t len = strlen(path);
    if (len > 1 && path[len - 1] == '/')
        len--; /* "/clips/" is "/clips" */
    for (size_t i = 0; i < sizeof routes / sizeof *routes; i++) {
        const struct route *r = &routes[i];
        size_t plen = strlen(r->prefix);
        if (len < plen || memcmp(path, r->prefix, plen) != 0)
            continue;
        if (r->with_id) {
            const char *id = path + plen + 1;
            size_t id_len = len - plen - 1;
            if (len <= plen + 1 || path[plen] != '/' || memchr(id, '/', id_len) ||
                id_len >= sizeof m->id)
                continue;
            memcpy(m->id, id, id_len);
            m->id[id_len] = '\0';
            m->has_id = true;
        } else if (len != plen) {
            continue;
        }
        m->is_health = r->handler == api_health;
        bool get_like = strcmp(r->method, "GET") == 0;
        if (strcmp(method, r->method) == 0 || (get_like && strcmp(method, "HEAD") == 0)) {
            m->handler = r->handler;
        } else {
            m->allow = get_like ? "GET, HEAD" : r->method;
        }
        return;
    }
}
