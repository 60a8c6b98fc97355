/* One JSON line per response on stdout, every response (edge errors included), and the
 * request metrics. Whatever the client sent is escaped. */
#ifndef TIMEWARP_HTTP_ACCESS_LOG_H
#define TIMEWARP_HTTP_ACCESS_LOG_H
#include "http/connection.h"

/* `completed`: the response was sent whole (else the line says "aborted"). */
void access_log_write(const struct exchange *ex, bool completed, int64_t now_us);
#endif
