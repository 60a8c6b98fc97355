/* The access log (see access_log.h). */
#include "http/access_log.h"
#include "log.h"
#include "metrics.h"

#include <stdio.h>

void access_log_write(const struct exchange *ex, bool completed, int64_t now_us)
{
    uint64_t duration = ex->start_us && now_us > ex->start_us ? (uint64_t)(now_us - ex->start_us) : 0;
    if (ex->status)
        metrics_request(ex->status, duration);
    if (log_get_level() > (ex->quiet ? LOG_DEBUG : LOG_INFO))
        return;
    char line[1600], ts[28];
    size_t pos;
    log_timestamp(ts);
    pos = (size_t)snprintf(line, sizeof line,
                           "{\"time\":\"%s\",\"level\":\"%s\",\"msg\":\"request\",\"request_id\":\"%s\","
                           "\"method\":\"", ts, ex->quiet ? "debug" : "info", ex->request_id);
    log_escape(line, sizeof line - 400, &pos, ex->method);
    pos += (size_t)snprintf(line + pos, sizeof line - pos, "\",\"path\":\"");
    log_escape(line, sizeof line - 300, &pos, ex->path);
    pos += (size_t)snprintf(line + pos, sizeof line - pos,
                            "\",\"status\":%u,\"duration_us\":%llu,\"bytes\":%zu,\"client_ip\":\"",
                            ex->status, (unsigned long long)duration, ex->bytes);
    log_escape(line, sizeof line - 40, &pos, ex->client_ip);
    pos += (size_t)snprintf(line + pos, sizeof line - pos, "\"%s}\n", completed ? "" : ",\"aborted\":true");
    log_access_line(line, pos < sizeof line ? pos : sizeof line - 1);
}
