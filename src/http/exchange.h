/* One request from parsed head to response: the edge checks that need the head (Host,
 * HTTPS redirect), routing, and then either an answer on the I/O thread (the web page, 404,
 * 405, 415, /health/live, /metrics) or a handler run by a database worker (store/io.h),
 * whose response comes back to the I/O thread. */
#ifndef TIMEWARP_HTTP_EXCHANGE_H
#define TIMEWARP_HTTP_EXCHANGE_H
#include "http/connection.h"

struct db_call;

void exchange_configure(const struct config *cfg);
/* The head is complete: request id, method, path and client address for the log. */
void exchange_begin(struct conn *c);
void exchange_new_request_id(struct exchange *ex);
/* The body (if any) is complete: answer, or hand to a database worker. */
void exchange_dispatch(struct conn *c, char *body, size_t body_len);
/* The connection is closing while its call is out: the call's answer is dropped. */
void exchange_abandon(struct conn *c);
/* A call past its deadline (the workers should have ended it) is answered 503 here. */
void exchange_check_deadline(struct conn *c, int64_t now_us);
/* On the I/O thread: a worker finished this call (a struct db_call's task). */
struct dbio_task;
void exchange_call_done(struct dbio_task *call);

bool exchange_draining(void);
void exchange_set_draining(void);
#endif
