/* GET /health/: what the load balancer and the container runtime probe. It reflects the
 * database (a trivial query) and, during a graceful shutdown's drain, reports unavailable
 * so the load balancer stops routing here before the server stops accepting. */
#include "api/api.h"

void api_health(const struct request *req, struct response *res)
{
    bool db_ok = req->store && store_ping(req->store) == STORE_OK;
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
