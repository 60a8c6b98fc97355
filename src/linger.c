/* One thread with an epoll set of sockets being drained before close (see linger.h). */
#include "linger.h"
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#define LINGER_MAX_SOCKETS 128
#define LINGER_SECONDS 5
#define LINGER_MAX_BYTES (16L << 20)

struct lingering {
    int fd; /* -1: free slot */
    time_t deadline;
    long discarded;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct lingering slots[LINGER_MAX_SOCKETS];
static int epfd = -1, wakefd = -1;
static pthread_t thread;
static atomic_bool running;

static time_t now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec;
}

/* Caller holds lock. */
static void release(struct lingering *l)
{
    epoll_ctl(epfd, EPOLL_CTL_DEL, l->fd, NULL);
    close(l->fd);
    l->fd = -1;
}

static void drain(struct lingering *l)
{
    char buf[65536];
    for (;;) {
        ssize_t n = read(l->fd, buf, sizeof buf);
        if (n > 0) {
            l->discarded += n;
            if (l->discarded > LINGER_MAX_BYTES)
                break;
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return; /* wait for more */
        break;      /* end of stream or error: the client is done */
    }
    release(l);
}

static void *linger_loop(void *arg)
{
    (void)arg;
    struct epoll_event events[32];
    while (atomic_load(&running)) {
        int n = epoll_wait(epfd, events, 32, 500);
        pthread_mutex_lock(&lock);
        for (int i = 0; i < n; i++) {
            int slot = events[i].data.u32;
            if (slot >= 0 && slot < LINGER_MAX_SOCKETS && slots[slot].fd >= 0)
                drain(&slots[slot]);
        }
        time_t now = now_s();
        for (int i = 0; i < LINGER_MAX_SOCKETS; i++)
            if (slots[i].fd >= 0 && now >= slots[i].deadline)
                release(&slots[i]);
        pthread_mutex_unlock(&lock);
    }
    return NULL;
}

bool linger_start(void)
{
    for (int i = 0; i < LINGER_MAX_SOCKETS; i++)
        slots[i].fd = -1;
    epfd = epoll_create1(EPOLL_CLOEXEC);
    wakefd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (epfd < 0 || wakefd < 0)
        return false;
    struct epoll_event ev = {.events = EPOLLIN, .data.u32 = LINGER_MAX_SOCKETS}; /* not a slot */
    epoll_ctl(epfd, EPOLL_CTL_ADD, wakefd, &ev);
    atomic_store(&running, true);
    return pthread_create(&thread, NULL, linger_loop, NULL) == 0;
}

void linger_add(int fd)
{
    pthread_mutex_lock(&lock);
    int slot = -1;
    for (int i = 0; i < LINGER_MAX_SOCKETS && slot < 0; i++)
        if (slots[i].fd < 0)
            slot = i;
    struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP, .data.u32 = (uint32_t)slot};
    if (slot < 0 || !atomic_load(&running) || fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) != 0 ||
        epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) != 0) {
        close(fd); /* too many at once: fall back to a plain close */
    } else {
        slots[slot] = (struct lingering){fd, now_s() + LINGER_SECONDS, 0};
    }
    pthread_mutex_unlock(&lock);
}

void linger_stop(void)
{
    if (!atomic_exchange(&running, false))
        return;
    uint64_t one = 1;
    if (write(wakefd, &one, sizeof one) < 0)
        log_event(LOG_WARN, "linger: cannot wake the thread", NULL);
    pthread_join(thread, NULL);
    for (int i = 0; i < LINGER_MAX_SOCKETS; i++)
        if (slots[i].fd >= 0)
            release(&slots[i]);
    close(epfd);
    close(wakefd);
}
