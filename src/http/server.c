/* The HTTP server's lifecycle: the listening socket, one I/O thread per CPU (loop.c), the
 * database workers (store/io.c), and a graceful shutdown driven by signals: SIGTERM starts
 * the drain (health checks answer 503 while requests are still served), then the server
 * stops accepting, lets in-flight requests finish, and exits. */
#include "server.h"
#include "api/read_cache.h"
#include "clock.h"
#include "http/connection.h"
#include "http/exchange.h"
#include "http/loop.h"
#include "http/response.h"
#include "log.h"
#include "metrics.h"
#include "store/io.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_LOOPS 16

static int open_listener(const struct config *c)
{
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    socklen_t len;
    struct sockaddr_in *v4 = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&ss;
    if (inet_pton(AF_INET, c->host, &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons((uint16_t)c->port);
        len = sizeof *v4;
    } else if (inet_pton(AF_INET6, c->host, &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons((uint16_t)c->port);
        len = sizeof *v6;
    } else {
        errno = EINVAL; /* config.c has validated HOST: not reached */
        return -1;
    }
    int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    int one = 1;
    /* SO_REUSEADDR only: a restart may bind while old connections sit in TIME_WAIT, but a
     * second server on the same port is refused (no SO_REUSEPORT sharing). */
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(fd, (struct sockaddr *)&ss, len) != 0 || listen(fd, 1024) != 0) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    return fd;
}

/* Waits for SIGTERM/SIGINT (blocked in every thread, so only this one sees them). Returns
 * false on timeout. */
static bool wait_signal(const sigset_t *set, int seconds)
{
    struct timespec ts = {seconds, 0};
    return sigtimedwait(set, NULL, &ts) > 0;
}

static bool all_swept_in_shutdown(struct loop *loops, int n)
{
    for (int i = 0; i < n; i++)
        if (!loop_swept_in_shutdown(&loops[i]))
            return false;
    return true;
}

static int io_threads(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : n > MAX_LOOPS ? MAX_LOOPS : (int)n;
}

int server_run(const struct config *c)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, NULL); /* inherited by every thread */
    signal(SIGPIPE, SIG_IGN);
    conn_configure(c);
    exchange_configure(c);
    response_configure(c);

    int listen_fd = open_listener(c);
    if (listen_fd < 0) {
        log_eventf(LOG_ERROR, "cannot listen on %s:%d: %s", c->host, c->port, strerror(errno));
        return 1;
    }
    if (!dbio_start(c) || (c->engine == DB_POSTGRES && !dbio_check_changes_start(c))) {
        close(listen_fd);
        log_eventf(LOG_ERROR, "cannot start the database workers: %s", strerror(errno));
        return 1;
    }
    static struct loop loops[MAX_LOOPS];
    int nloops = io_threads();
    for (int i = 0; i < nloops; i++)
        if (!loop_start(&loops[i], listen_fd, c)) {
            log_eventf(LOG_ERROR, "cannot start the I/O threads: %s", strerror(errno));
            return 1; /* at start-up: the process exits */
        }
    char fields[512];
    snprintf(fields, sizeof fields,
             ",\"host\":\"%s\",\"port\":%d,\"workers\":%d,\"io_threads\":%d,\"env\":\"%s\",\"database\":\"%s\"",
             c->host, c->port, c->workers, nloops, config_env_name(c->env),
             c->engine == DB_POSTGRES ? "postgres" : "sqlite");
    log_event(LOG_INFO, "listening", fields);

    dbio_check_database();
    while (!wait_signal(&set, c->metrics_interval)) {
        metrics_flush_emf(dbio_database_reachable());
        dbio_check_database(); /* its answer goes into the next line */
    }
    metrics_flush_emf(dbio_database_reachable());
    if (c->drain_seconds > 0) {
        exchange_set_draining();
        log_eventf(LOG_INFO, "shutdown: draining for %d s (health reports unavailable)", c->drain_seconds);
        wait_signal(&set, c->drain_seconds); /* a second signal skips the rest of the drain */
    }
    exchange_set_draining();
    conn_set_shutting_down();
    for (int i = 0; i < nloops; i++)
        loop_stop_accepting(&loops[i]);
    close(listen_fd); /* new connections are refused from here on */
    log_eventf(LOG_INFO, "shutdown: stopped accepting; %d request(s) in flight", atomic_load(&http_in_flight));
    /* Until every loop has swept (closing its idle connections), a request could still begin
     * on one of them unseen by the count; after that, the count is the whole story. */
    int64_t started = monotonic_us();
    while ((!all_swept_in_shutdown(loops, nloops) || atomic_load(&http_in_flight) > 0) &&
           monotonic_us() - started < (int64_t)c->shutdown_timeout * 1000000) {
        struct timespec tick = {0, 10 * 1000 * 1000};
        nanosleep(&tick, NULL);
    }
    int left = atomic_load(&http_in_flight);
    dbio_check_changes_stop(); /* its reads go on to the workers, which finish them: */
    dbio_stop(); /* queued calls finish (or fail fast) and come back to the loops */
    for (int i = 0; i < nloops; i++)
        loop_stop(&loops[i]);
    read_cache_clear();
    if (left > 0)
        log_eventf(LOG_WARN, "shutdown: %d request(s) cut off after %d s", left, c->shutdown_timeout);
    metrics_flush_emf(dbio_database_reachable());
    log_eventf(LOG_INFO, "shutdown: complete");
    return 0;
}
