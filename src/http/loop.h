/* An I/O thread: one epoll set with its share of the connections, accepting from the shared
 * listening socket (EPOLLEXCLUSIVE), and an eventfd through which database workers hand back
 * finished requests. */
#ifndef TIMEWARP_HTTP_LOOP_H
#define TIMEWARP_HTTP_LOOP_H
#include "config.h"
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

struct conn;
struct dbio_task;
struct store;

struct loop {
    int epfd, wakefd, listen_fd;
    pthread_t thread;
    struct conn *conns;          /* every connection of this thread (a list) */
    struct conn *closed;         /* closed this round, freed at its end */
    struct store *reader;        /* SQLite only: this thread's connection for short reads */
    pthread_mutex_t done_lock;
    struct dbio_task *done;      /* finished database calls, handed over by workers */
    atomic_bool stop;
    atomic_bool stop_accepting;
    atomic_bool swept_in_shutdown; /* a sweep begun after shutdown closed its idle connections */
};

bool loop_start(struct loop *l, int listen_fd, const struct config *cfg);
/* From a database worker: the call is finished; the loop resumes its connection. */
void loop_post_done(struct loop *l, struct dbio_task *call);
void loop_stop_accepting(struct loop *l);
/* True once this loop has swept its connections since shutdown began: from then on every
 * request it will serve is counted in http_in_flight. */
bool loop_swept_in_shutdown(struct loop *l);
/* Closes every connection and ends the thread. */
void loop_stop(struct loop *l);

/* Requests between their first byte and their response sent, over all loops. */
extern atomic_int http_in_flight;
extern atomic_int http_connections;
#endif
