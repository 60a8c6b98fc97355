/* GET /health/: what the load balancer and the container runtime probe. It reflects the
 * database (a trivial query) and, during a graceful shutdown's drain, reports unavailable
 * so the load balancer stops routing here before the server stops accepting.
 *
 * A successful check is reused for HEALTH_CACHE_US by every worker: probes then cost no
 * database round trip (a PostgreSQL ping cost as much as a clip read in the benchmark),
 * while an outage still shows within that time. A failed check is never reused, so
 * recovery shows on the very next probe. */
#include "api/api.h"
#include "clock.h"

#include <stdatomic.h>
#include <time.h>

#define HEALTH_CACHE_US 250000

static atomic_llong last_ok_us; /* monotonic time of the last successful ping; 0 = none */

static bool database_ok(const struct request *req)
{
    long long now = monotonic_us(), last = atomic_load_explicit(&last_ok_us, memory_order_relaxed);
    if (last && now - last < HEALTH_CACHE_US)
        return true;
    bool ok = req->store && store_ping(req->store) == STORE_OK;
    atomic_store_explicit(&last_ok_us, ok ? now : 0, memory_order_relaxed);
    return ok;
}

static void render(const struct request *req, struct response *res, bool db_ok);

void api_health(const struct request *req, struct response *res)
{
    render(req, res, database_ok(req));
}

bool api_health_from_cache(const struct request *req, struct response *res)
{
    long long last = atomic_load_explicit(&last_ok_us, memory_order_relaxed);
    if (!last || monotonic_us() - last >= HEALTH_CACHE_US)
        return false;
    render(req, res, true);
    return true;
}

static void render(const struct request *req, struct response *res, bool db_ok)
{
    struct jw *w = &res->body;
    if (db_ok && !req->draining) {
        res->status = 200;
        jw_object_open(w, NULL);
        jw_string(w, "status", "ok");
        jw_string(w, "database", "ok");
        jw_object_close(w);
        return;
    }
    const char *message = db_ok ? "The server is shutting down." : "The database is unavailable.";
    res->status = 503;
    jw_object_open(w, NULL);
    jw_string(w, "status", "unavailable");
    jw_string(w, "database", db_ok ? "ok" : "unavailable");
    jw_string(w, "detail", message);
    jw_object_open(w, "error");
    jw_string(w, "code", "SERVICE_UNAVAILABLE");
    jw_string(w, "message", message);
    jw_object_open(w, "details");
    jw_object_close(w);
    jw_object_close(w);
    jw_object_close(w);
}

/* GET /health/live: the process serves; the database is not consulted, so a database
 * failover never makes an orchestrator replace a healthy task (DEPLOYMENT.md). */
void api_health_live(const struct request *req, struct response *res)
{
    struct jw *w = &res->body;
    res->status = req->draining ? 503 : 200;
    jw_object_open(w, NULL);
    jw_string(w, "status", req->draining ? "draining" : "ok");
    jw_object_close(w);
}
