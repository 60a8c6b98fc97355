/* The connection state machine (see connection.h). */
#include "http/connection.h"
#include "clock.h"
#include "http/access_log.h"
#include "http/exchange.h"
#include "http/loop.h"
#include "http/response.h"
#include "log.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

/* All request bodies being received share this many bytes. A connection whose body needs
 * more waits (reads nothing) until others finish, so a thousand clients trickling bodies
 * cannot take more memory than this, whatever TIMEWARP_MAX_CONNECTIONS says. */
#define BODY_MEMORY_BUDGET (48u << 20)
/* The first bytes of every body are outside the budget (at most this much per connection),
 * so an ordinary small POST is never queued behind someone's trickled megabytes. */
#define BODY_FREE_BYTES (16u << 10)
/* A closing connection is drained this long (and this much) so the client reads our
 * response rather than a reset; nginx's lingering close. */
#define LINGER_US 5000000
#define LINGER_MAX_BYTES (16u << 20)
#define READ_CHUNK 16384

static const struct config *cfg;
static atomic_bool shutting_down;
static atomic_size_t body_memory;

void conn_configure(const struct config *c) { cfg = c; }
bool conn_shutting_down(void) { return atomic_load(&shutting_down); }
void conn_set_shutting_down(void) { atomic_store(&shutting_down, true); }

static void process(struct conn *c);

void conn_accept(struct loop *loop, int fd, const char *peer)
{
    struct conn *c = calloc(1, sizeof *c);
    if (!c) {
        close(fd);
        return;
    }
    c->fd = fd;
    c->loop = loop;
    snprintf(c->peer, sizeof c->peer, "%s", peer);
    c->last_io_us = monotonic_us();
    struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET, .data.ptr = c};
    if (epoll_ctl(loop->epfd, EPOLL_CTL_ADD, fd, &ev) != 0) {
        close(fd);
        free(c);
        return;
    }
    c->next = loop->conns;
    if (loop->conns)
        loop->conns->prev = c;
    loop->conns = c;
    atomic_fetch_add(&http_connections, 1);
}

/* The part of a body buffer of `cap` bytes that counts against the budget. */
static size_t budgeted(size_t cap) { return cap > BODY_FREE_BYTES ? cap - BODY_FREE_BYTES : 0; }

void http_body_budget_release(size_t cap) { atomic_fetch_sub(&body_memory, budgeted(cap)); }

static void release_body(struct conn *c)
{
    http_body_budget_release(c->body_cap);
    free(c->body);
    c->body = NULL;
    c->body_len = c->body_cap = 0;
}

/* Forgets the request just answered (or abandoned). */
static void end_exchange(struct conn *c, bool completed)
{
    if (c->ex.in_flight)
        atomic_fetch_sub(&http_in_flight, 1);
    if (c->ex.head_read || c->ex.status) /* a request was read, or refused: log it */
        access_log_write(&c->ex, completed, monotonic_us());
    free(c->ex.raw);
    memset(&c->ex, 0, sizeof c->ex);
    memset(&c->chunked, 0, sizeof c->chunked);
    release_body(c);
}

void conn_close(struct conn *c)
{
    if (c->closed)
        return;
    c->closed = true;
    if (c->call)
        exchange_abandon(c);
    end_exchange(c, false);
    free(c->out);
    c->out = NULL;
    free(c->out_body_owned);
    c->out_body_owned = NULL;
    free(c->in);
    c->in = NULL;
    c->in_len = c->in_cap = 0;
    close(c->fd); /* also removes it from the epoll set */
    c->fd = -1;
    struct loop *l = c->loop;
    if (c->prev)
        c->prev->next = c->next;
    else
        l->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    c->next = l->closed;
    l->closed = c;
    atomic_fetch_sub(&http_connections, 1);
}

void conn_free_closed(struct loop *loop)
{
    while (loop->closed) {
        struct conn *c = loop->closed;
        loop->closed = c->next;
        free(c);
    }
}

/* ---- writing ------------------------------------------------------------------------------ */

/* Writes what is pending; true when everything is out (false: wait for EPOLLOUT, or the
 * connection was closed). */
static bool flush_out(struct conn *c)
{
    size_t total = c->out_len + c->out_body_len;
    while (c->out_sent < total) {
        struct iovec iov[2];
        int n = 0;
        if (c->out_sent < c->out_len)
            iov[n++] = (struct iovec){c->out + c->out_sent, c->out_len - c->out_sent};
        size_t body_off = c->out_sent > c->out_len ? c->out_sent - c->out_len : 0;
        if (c->out_body_len > body_off)
            iov[n++] = (struct iovec){(void *)(c->out_body + body_off), c->out_body_len - body_off};
        struct msghdr msg = {.msg_iov = iov, .msg_iovlen = (size_t)n};
        ssize_t w = sendmsg(c->fd, &msg, MSG_NOSIGNAL);
        if (w < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return false;
            if (errno == EINTR)
                continue;
            conn_close(c);
            return false;
        }
        c->out_sent += (size_t)w;
        c->last_io_us = monotonic_us();
    }
    return true;
}

static void start_linger(struct conn *c)
{
    shutdown(c->fd, SHUT_WR);
    c->state = CONN_LINGER;
    c->linger_until_us = monotonic_us() + LINGER_US;
    c->in_len = 0;
}

/* After the response is out: log it, then close, linger, or read the next request. */
static void response_sent(struct conn *c)
{
    free(c->out);
    c->out = NULL;
    free(c->out_body_owned);
    c->out_body_owned = NULL;
    c->out_len = c->out_sent = c->out_body_len = 0;
    c->out_body = NULL;
    /* Once shutdown has begun no connection goes back to reading: the server waits for the
     * requests begun (http_in_flight), and a new one must not start behind that count. */
    bool close_now = c->close_after || conn_shutting_down();
    end_exchange(c, true);
    if (close_now) {
        start_linger(c);
        conn_on_event(c, EPOLLIN); /* drain whatever is there already */
        return;
    }
    c->state = CONN_HEAD;
    if (!c->in_process)
        process(c); /* a pipelined request may be waiting in the buffer or the socket */
}

void conn_resume(struct conn *c)
{
    if (!c->closed && c->state != CONN_WRITE && c->state != CONN_LINGER)
        process(c);
}

void conn_send(struct conn *c, char *head, size_t head_len, char *owned_body, const char *borrowed_body,
               size_t body_len, bool close)
{
    /* Head and body go out in one sendmsg, never copied into one buffer: a page of clips
     * can be a megabyte. */
    c->out = head;
    c->out_len = head_len;
    c->out_sent = 0;
    c->out_body_owned = owned_body;
    c->out_body = owned_body ? owned_body : borrowed_body;
    c->out_body_len = c->out_body ? body_len : 0;
    c->close_after = close;
    c->state = CONN_WRITE;
    if (flush_out(c))
        response_sent(c);
}

/* ---- reading ------------------------------------------------------------------------------ */

static void count_in_flight(struct conn *c)
{
    if (!c->ex.in_flight) {
        c->ex.in_flight = true;
        atomic_fetch_add(&http_in_flight, 1);
    }
}

/* Reads into the input buffer; false when nothing more can be read now. */
static bool read_more(struct conn *c)
{
    if (c->in_cap - c->in_len < 1024) {
        size_t cap = c->in_cap ? c->in_cap * 2 : 4096;
        if (cap > HTTP_MAX_HEAD + READ_CHUNK)
            cap = HTTP_MAX_HEAD + READ_CHUNK;
        if (cap <= c->in_len)
            return false; /* full: the head parser refuses before this */
        char *grown = realloc(c->in, cap);
        if (!grown) {
            conn_close(c);
            return false;
        }
        c->in = grown;
        c->in_cap = cap;
    }
    ssize_t r = recv(c->fd, c->in + c->in_len, c->in_cap - c->in_len, 0);
    if (r > 0) {
        if (c->in_len == 0 && c->state == CONN_HEAD && !c->ex.start_us)
            c->ex.start_us = monotonic_us();
        if (c->state == CONN_HEAD)
            count_in_flight(c); /* from its first byte: shutdown finishes a half-sent request */
        c->in_len += (size_t)r;
        c->last_io_us = monotonic_us();
        return true;
    }
    if (r == 0)
        c->peer_closed = true;
    else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
        c->peer_closed = true;
    return false;
}

static void consume(struct conn *c, size_t n)
{
    memmove(c->in, c->in + n, c->in_len - n);
    c->in_len -= n;
}

/* Refuses the request before routing: the error response, then close. */
static void refuse(struct conn *c, const struct http_error *e)
{
    if (!c->ex.start_us)
        c->ex.start_us = monotonic_us();
    if (!c->ex.request_id[0])
        exchange_new_request_id(&c->ex);
    if (!c->ex.method[0])
        snprintf(c->ex.method, sizeof c->ex.method, "-");
    if (!c->ex.client_ip[0])
        snprintf(c->ex.client_ip, sizeof c->ex.client_ip, "%s", c->peer);
    c->ex.status = (unsigned)e->status; /* logged even if the send fails */
    response_send_error(c, e->status, e->message, true);
}

/* Grows the body buffer to hold `need` bytes within the shared budget. */
static bool body_reserve(struct conn *c, size_t need)
{
    if (need + 1 <= c->body_cap)
        return true;
    size_t cap = c->body_cap ? c->body_cap : 1024;
    while (cap < need + 1)
        cap *= 2;
    if (c->ex.framing.kind == HTTP_BODY_LENGTH && cap > c->ex.framing.length + 1)
        cap = (size_t)c->ex.framing.length + 1;
    size_t extra = budgeted(cap) - budgeted(c->body_cap);
    if (extra && atomic_fetch_add(&body_memory, extra) + extra > BODY_MEMORY_BUDGET) {
        atomic_fetch_sub(&body_memory, extra);
        c->waiting_memory = true;
        return false;
    }
    char *grown = realloc(c->body, cap);
    if (!grown) {
        atomic_fetch_sub(&body_memory, extra);
        c->waiting_memory = true;
        return false;
    }
    c->body = grown;
    c->body_cap = cap;
    c->waiting_memory = false;
    return true;
}

static const struct http_error E_TOO_LARGE = {413, "Request body is too large."};

/* Moves body bytes from the input buffer; true when the body is complete. */
static bool take_body(struct conn *c)
{
    for (;;) {
        if (c->ex.framing.kind == HTTP_BODY_LENGTH) {
            size_t want = (size_t)c->ex.framing.length - c->body_len;
            size_t n = c->in_len < want ? c->in_len : want;
            if (n) {
                if (!body_reserve(c, c->body_len + n))
                    return false;
                memcpy(c->body + c->body_len, c->in, n);
                c->body_len += n;
                consume(c, n);
            }
            if (c->body_len == c->ex.framing.length)
                break;
            return false;
        }
        /* Chunked: decode into the spare room, growing it as needed up to the limit. */
        if (c->in_len == 0)
            return false;
        if (!c->body || c->body_len + 1 >= c->body_cap) {
            if (c->body_len >= cfg->max_body_bytes) {
                refuse(c, &E_TOO_LARGE);
                return false;
            }
            size_t need = c->body_len + (c->in_len < 65536 ? c->in_len : 65536);
            if (!body_reserve(c, need < cfg->max_body_bytes ? need : cfg->max_body_bytes))
                return false;
        }
        size_t used = c->in_len, out = 0;
        struct http_error err;
        size_t room = c->body_cap - 1 - c->body_len;
        if (!http_chunked_decode(&c->chunked, c->in, &used, c->body + c->body_len, room, &out, &err)) {
            refuse(c, &err);
            return false;
        }
        c->body_len += out;
        consume(c, used);
        if (c->body_len > cfg->max_body_bytes) {
            refuse(c, &E_TOO_LARGE);
            return false;
        }
        if (c->chunked.done)
            break;
    }
    if (c->body)
        c->body[c->body_len] = '\0';
    return true;
}

/* A complete head is in the buffer: copy it out, check its framing. */
static void start_request(struct conn *c, struct http_head *h)
{
    c->ex.raw = malloc(h->length);
    if (!c->ex.raw) {
        conn_close(c);
        return;
    }
    memcpy(c->ex.raw, c->in, h->length);
    /* Re-point the spans into the copy, so the read buffer can move. */
    ptrdiff_t shift = c->ex.raw - c->in;
    h->method.p += shift;
    h->target.p += shift;
    for (int i = 0; i < h->nheaders; i++) {
        h->headers[i].name.p += shift;
        h->headers[i].value.p += shift;
    }
    c->ex.head = *h;
    consume(c, h->length);
    count_in_flight(c); /* a pipelined request was in the buffer already */
    c->ex.head_read = true;
    exchange_begin(c);
    struct http_error err;
    if (!http_framing(&c->ex.head, cfg->max_body_bytes, &c->ex.framing, &err)) {
        refuse(c, &err);
        return;
    }
    if (c->ex.framing.too_large) {
        /* Refused at once; the lingering close lets the client read it (SPEC.md). */
        refuse(c, &E_TOO_LARGE);
        return;
    }
    if (c->ex.framing.kind == HTTP_BODY_NONE) {
        exchange_dispatch(c, NULL, 0);
        return;
    }
    if (c->ex.framing.expect_continue && c->in_len == 0)
        response_send_continue(c);
    c->state = CONN_BODY;
}

/* Does whatever the buffered bytes and the socket allow in the current state. */
static void process_states(struct conn *c);

static void process(struct conn *c)
{
    c->in_process = true;
    process_states(c);
    c->in_process = false;
}

static void process_states(struct conn *c)
{
    for (;;) {
        if (c->closed)
            return;
        if (c->state == CONN_HEAD) {
            if (c->in_len > 0) {
                struct http_head h;
                struct http_error err;
                enum http_result r = http_parse_head(c->in, c->in_len, &h, &err);
                if (r == HTTP_INVALID) {
                    refuse(c, &err);
                    return;
                }
                if (r == HTTP_COMPLETE) {
                    start_request(c, &h);
                    continue;
                }
            }
            if (c->peer_closed) {
                conn_close(c);
                return;
            }
            if (!read_more(c)) {
                if (c->peer_closed) {
                    conn_close(c);
                }
                return;
            }
        } else if (c->state == CONN_BODY) {
            if (take_body(c)) {
                exchange_dispatch(c, c->body, c->body_len);
                continue;
            }
            if (c->state != CONN_BODY || c->waiting_memory)
                return; /* refused (now writing), or paused for memory */
            if (c->peer_closed) {
                conn_close(c); /* the client went away in the middle of its body */
                return;
            }
            if (!read_more(c)) {
                if (c->peer_closed)
                    conn_close(c);
                return;
            }
        } else {
            return; /* waiting for the database, or for the socket to take our response */
        }
    }
}

static void drain_linger(struct conn *c)
{
    char buf[16384];
    for (;;) {
        ssize_t r = recv(c->fd, buf, sizeof buf, 0);
        if (r > 0) {
            c->lingered += (size_t)r;
            if (c->lingered > LINGER_MAX_BYTES) {
                conn_close(c);
                return;
            }
            continue;
        }
        if (r == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR))
            conn_close(c); /* the client has read our answer and closed */
        return;
    }
}

void conn_on_event(struct conn *c, uint32_t events)
{
    if (events & EPOLLERR) {
        conn_close(c);
        return;
    }
    if (c->state == CONN_LINGER) {
        drain_linger(c);
        return;
    }
    if (c->state == CONN_WRITE) {
        if (flush_out(c))
            response_sent(c);
        return;
    }
    if (c->waiting_memory && (events & (EPOLLRDHUP | EPOLLHUP))) {
        conn_close(c); /* gone in the middle of a body it was waiting to send: never completes */
        return;
    }
    if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP))
        process(c);
}

void conn_sweep(struct conn *c, int64_t now)
{
    if (c->state == CONN_LINGER) {
        if (now >= c->linger_until_us)
            conn_close(c);
        return;
    }
    if (c->state == CONN_WAIT_DB) {
        exchange_check_deadline(c, now);
        return;
    }
    if (c->waiting_memory) {
        process(c);
        if (c->closed)
            return;
    }
    if (conn_shutting_down() && c->state == CONN_HEAD && !c->ex.in_flight) {
        process(c); /* a request that arrived just now is still served */
        if (!c->closed && c->state == CONN_HEAD && !c->ex.in_flight)
            conn_close(c);
        return;
    }
    /* Silence, not slowness, is what times out: a client sending a byte now and then is
     * served (see tests/attack/cases/test_slow.py); one silent this long is closed. */
    if (now - c->last_io_us >= (int64_t)cfg->idle_timeout * 1000000)
        conn_close(c);
}
