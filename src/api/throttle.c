/* The rate limit as HTTP: every limited POST calls api_rate_limit() before it reads its body
 * or touches the store, so a refused request costs no database work and writes nothing. */
#include "api/api.h"
#include "limits.h"

bool api_rate_limit(const struct request *req, struct response *res, enum rate_kind kind)
{
    const struct rate_limit *limit = &req->config->rate_limits[kind];
    if (limit->count <= 0)
        return true;
    struct limit_decision d;
    limits_check(limit, kind, req->client_ip, &d);
    const char *name = config_rate_kind_name(kind);
    /* The IETF RateLimit header fields (draft-ietf-httpapi-ratelimit-headers). */
    api_add_header(res, "RateLimit-Policy", "\"%s\";q=%ld;w=%ld", name, limit->count, limit->period);
    api_add_header(res, "RateLimit", "\"%s\";r=%ld;t=%ld", name, d.remaining, d.reset);
    if (d.allowed)
        return true;
    api_add_header(res, "Retry-After", "%ld", d.retry_after);
    api_error(res, 429, "RATE_LIMITED", "Too many requests: slow down and try again later.", NULL);
    return false;
}
