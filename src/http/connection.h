/* One client connection on an I/O thread: reads and parses requests strictly (parse.h),
 * collects bodies within a memory budget shared by all connections, writes responses, keeps
 * the connection alive or closes it lingering, and times out silent clients.
 *
 * A connection handles one request at a time; pipelined requests wait in the socket. While a
 * request waits for the database (exchange.c), its connection reads nothing, and nothing
 * else on the I/O thread waits for it. */
#ifndef TIMEWARP_HTTP_CONNECTION_H
#define TIMEWARP_HTTP_CONNECTION_H
#include "config.h"
#include "http/parse.h"
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct loop;
struct db_call;

/* The request being answered, as the access log and the response need it. */
struct exchange {
    int64_t start_us;
    char request_id[129];
    char method[17];
    char path[512];         /* as received, percent-encoded, cut for the log */
    char client_ip[64];     /* resolved through the trusted proxies, or the peer */
    bool quiet;             /* health probes are logged at debug level only */
    bool head_only;         /* HEAD: headers without the body */
    bool in_flight;         /* counted in http_in_flight (its first byte arrived) */
    bool head_read;         /* a whole head was read: the access log has a line for it */
    unsigned status;
    size_t bytes;
    /* The head, copied out of the read buffer (spans of `head` point into `raw`). */
    char *raw;
    struct http_head head;
    struct http_framing framing;
};

enum conn_state { CONN_HEAD, CONN_BODY, CONN_WAIT_DB, CONN_WRITE, CONN_LINGER };

struct conn {
    int fd;
    struct loop *loop;
    struct conn *prev, *next; /* the loop's list */
    enum conn_state state;
    char peer[64];
    int64_t last_io_us;       /* last byte read or written: the idle timeout counts from here */
    bool peer_closed;         /* the client shut its side */
    bool closed;              /* conn_close ran: freed by the loop after this round of events */
    bool in_process;          /* inside process(): a finished response continues its loop */
    bool waiting_memory;      /* paused: the body budget is spent; retried by the sweep */

    char *in;                 /* bytes read but not yet consumed */
    size_t in_len, in_cap;

    struct exchange ex;
    struct http_chunked chunked;
    char *body;               /* the request body (NUL-terminated), budgeted */
    size_t body_len, body_cap;

    char *out;                /* status line and headers */
    size_t out_len, out_sent;
    const char *out_body;     /* the body: borrowed (the web page) or out_body_owned */
    char *out_body_owned;     /* freed once sent */
    size_t out_body_len;
    bool close_after;

    int64_t linger_until_us;
    size_t lingered;

    struct db_call *call;     /* in flight, while CONN_WAIT_DB */
};

/* Takes a new socket (non-blocking) onto `loop`. */
void conn_accept(struct loop *loop, int fd, const char *peer);
/* Socket readiness from epoll. */
void conn_on_event(struct conn *c, uint32_t events);
/* Timeouts and paused connections; called by the loop a few times a second. Once shutdown
 * has begun it also closes a connection idle between requests: it carries nothing to finish. */
void conn_sweep(struct conn *c, int64_t now_us);
/* Closes at once (shutdown, or a client gone). The struct stays valid, with `closed` set,
 * until conn_free_closed runs at the end of the loop's round. */
void conn_close(struct conn *c);
void conn_free_closed(struct loop *loop);

/* Queues a complete response: head (status line and headers, owned, malloc'd) and a body,
 * owned (freed after sending) or borrowed (static). `close` ends the connection after it. */
void conn_send(struct conn *c, char *head, size_t head_len, char *owned_body, const char *borrowed_body,
               size_t body_len, bool close);
/* Continues after the database answered (the response is queued) or after a pause. */
void conn_resume(struct conn *c);

/* Gives back the budget a body buffer of `cap` bytes held (its body moved to a database call). */
void http_body_budget_release(size_t cap);

/* Settings the connections read: set once by server.c before any thread starts. */
void conn_configure(const struct config *cfg);
bool conn_shutting_down(void);
void conn_set_shutting_down(void);
#endif
