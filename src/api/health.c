/* GET /health/: what the load balancer and the container runtime probe. It reflects the
 * database (a trivial query) and, during a graceful shutdown's drain, reports unavailable
 * so the load balancer stops routing here before the server stops accepting. */
#include "api/api.h"

void api_health(const struct request *req, struct response *res)
{
    bool db_ok = req->store && store_ping(req->store) == STORE_OK;
    if (db_ok && !req->draining) {
        res->status = 200;
        res->body = json_pack("{s:s, s:s}", "status", "ok", "database", "ok");
        return;
    }
    const char *message = db_ok ? "The server is shutting down." : "The database is unavailable.";
    res->status = 503;
    res->body = json_pack("{s:s, s:s, s:s, s:{s:s, s:s, s:{}}}", "status", "unavailable",
                          "database", db_ok ? "ok" : "unavailable", "detail", message, "error",
                          "code", "SERVICE_UNAVAILABLE", "message", message, "details");
}
