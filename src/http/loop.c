/* The I/O threads (see loop.h). */
#include "http/loop.h"
#include "clock.h"
#include "http/connection.h"
#include "http/exchange.h"
#include "log.h"
#include "store/io.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define SWEEP_US 100000 /* timeouts are checked this often */
#define ACCEPT_BATCH 32

atomic_int http_in_flight;
atomic_int http_connections;
static const struct config *cfg;

static void peer_address(const struct sockaddr_storage *ss, char *out, size_t len)
{
    out[0] = '\0';
    if (ss->ss_family == AF_INET)
        inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)ss)->sin_addr, out, (socklen_t)len);
    else if (ss->ss_family == AF_INET6)
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)(const void *)ss)->sin6_addr, out, (socklen_t)len);
}

static void accept_some(struct loop *l)
{
    for (int i = 0; i < ACCEPT_BATCH && !atomic_load(&l->stop_accepting); i++) {
        struct sockaddr_storage ss;
        socklen_t sl = sizeof ss;
        int fd = accept4(l->listen_fd, (struct sockaddr *)&ss, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EMFILE || errno == ENFILE)
                log_event(LOG_WARN, "out of file descriptors: a connection waits", NULL);
            return;
        }
        if (atomic_load(&http_connections) >= cfg->max_connections) {
            close(fd); /* over TIMEWARP_MAX_CONNECTIONS: refused at once */
            continue;
        }
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        char peer[64];
        peer_address(&ss, peer, sizeof peer);
        conn_accept(l, fd, peer);
    }
}

static void take_done_calls(struct loop *l)
{
    uint64_t n;
    (void)!read(l->wakefd, &n, sizeof n);
    pthread_mutex_lock(&l->done_lock);
    struct dbio_task *list = l->done;
    l->done = NULL;
    pthread_mutex_unlock(&l->done_lock);
    /* The list is newest first: answer in the order the workers finished. */
    struct dbio_task *ordered = NULL;
    while (list) {
        struct dbio_task *next = list->next;
        list->next = ordered;
        ordered = list;
        list = next;
    }
    while (ordered) {
        struct dbio_task *next = ordered->next;
        exchange_call_done(ordered);
        ordered = next;
    }
}

void loop_post_done(struct loop *l, struct dbio_task *t)
{
    pthread_mutex_lock(&l->done_lock);
    bool was_empty = l->done == NULL;
    t->next = l->done;
    l->done = t;
    pthread_mutex_unlock(&l->done_lock);
    if (was_empty) { /* one wake-up per batch */
        uint64_t one = 1;
        (void)!write(l->wakefd, &one, sizeof one);
    }
}

static void *loop_main(void *arg)
{
    struct loop *l = arg;
    struct epoll_event events[128];
    int64_t next_sweep = monotonic_us() + SWEEP_US;
    log_batch_access(true); /* one write(2) per round for the round's access lines */
    while (!atomic_load(&l->stop)) {
        int64_t now = monotonic_us();
        int timeout = next_sweep > now ? (int)((next_sweep - now + 999) / 1000) : 0;
        int n = epoll_wait(l->epfd, events, 128, timeout);
        for (int i = 0; i < n; i++) {
            void *p = events[i].data.ptr;
            if (p == &l->listen_fd)
                accept_some(l);
            else if (p == &l->wakefd)
                take_done_calls(l);
            else if (!((struct conn *)p)->closed)
                conn_on_event(p, events[i].events);
        }
        dbio_flush(); /* the requests this round handed to the database workers */
        now = monotonic_us();
        if (now >= next_sweep) {
            bool shutting_down = conn_shutting_down(); /* read before: the sweep saw it set */
            for (struct conn *c = l->conns, *next; c; c = next) {
                next = c->next;
                conn_sweep(c, now);
            }
            if (shutting_down)
                atomic_store(&l->swept_in_shutdown, true);
            next_sweep = now + SWEEP_US;
        }
        conn_free_closed(l);
        log_flush_access(); /* before the loop may sleep */
    }
    log_batch_access(false);
    return NULL;
}

bool loop_start(struct loop *l, int listen_fd, const struct config *c)
{
    cfg = c;
    l->listen_fd = listen_fd;
    l->epfd = epoll_create1(EPOLL_CLOEXEC);
    l->wakefd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    pthread_mutex_init(&l->done_lock, NULL);
    if (l->epfd < 0 || l->wakefd < 0)
        return false;
    struct epoll_event wake = {.events = EPOLLIN, .data.ptr = &l->wakefd};
    /* EPOLLEXCLUSIVE: a new connection wakes one loop, not all of them. */
    struct epoll_event lst = {.events = EPOLLIN | EPOLLEXCLUSIVE, .data.ptr = &l->listen_fd};
    if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, l->wakefd, &wake) != 0 ||
        epoll_ctl(l->epfd, EPOLL_CTL_ADD, listen_fd, &lst) != 0)
        return false;
    return pthread_create(&l->thread, NULL, loop_main, l) == 0;
}

void loop_stop_accepting(struct loop *l)
{
    atomic_store(&l->stop_accepting, true);
    epoll_ctl(l->epfd, EPOLL_CTL_DEL, l->listen_fd, NULL);
}

bool loop_swept_in_shutdown(struct loop *l) { return atomic_load(&l->swept_in_shutdown); }

void loop_stop(struct loop *l)
{
    atomic_store(&l->stop, true);
    uint64_t one = 1;
    (void)!write(l->wakefd, &one, sizeof one);
    pthread_join(l->thread, NULL);
    take_done_calls(l); /* answers that came back after the last round */
    while (l->conns)
        conn_close(l->conns);
    conn_free_closed(l);
    store_close(l->reader);
    l->reader = NULL;
    close(l->epfd);
    close(l->wakefd);
    pthread_mutex_destroy(&l->done_lock);
}
