/* Method + path → handler. Every route answers with and without a trailing slash; a known
 * route with the wrong method gives 405 with Allow; anything else is 404. */
#ifndef TIMEWARP_ROUTER_H
#define TIMEWARP_ROUTER_H
#include "api/api.h"

struct route_match {
    api_handler handler;  /* NULL when no route or method matched */
    const char *allow;    /* for 405: the route's methods; NULL for 404 */
    char id[128];         /* the {id} segment, if the route has one */
    bool has_id;
    bool is_health;       /* exempt from Host checks and quiet in the access log */
    unsigned flags;       /* ROUTE_* of the matched route */
};

/* What a route needs, so the HTTP layer can answer without the database where it can. */
#define ROUTE_DATABASE  1u /* the handler runs on a database worker (it may wait for it) */
#define ROUTE_JSON_BODY 2u /* takes a JSON body: a wrong Content-Type is refused up front */
#define ROUTE_HEALTH    4u /* exempt from Host checks and quiet in the access log */
#define ROUTE_READ      8u /* only reads: on SQLite tried first on the I/O thread (exchange.c) */
#define ROUTE_CACHED   16u /* a public read: answered through api/read_cache.c (ETag, 304) */
#define ROUTE_GROUP_COMMIT 32u /* a write that may share a transaction (SQLite, store/io.c) */

void router_match(const char *method, const char *path, struct route_match *m);
#endif
