/* Shared change checks for cached reads on PostgreSQL (see io.h, dbio_check_changes).
 *
 * A cached answer may be reused only after asking the database whether anyone committed
 * since (api/read_cache.c). On SQLite that question costs a microsecond; on PostgreSQL it
 * is a round trip, and a round trip per read was most of a cached read's cost. One check
 * that *began after* a read arrived answers it as well as a check of its own would: any
 * write acknowledged before the read arrived committed before the check began. So this
 * thread takes every read waiting, asks once on its own connection, and hands them all
 * the answer; reads that arrive meanwhile wait for the next check. */
#include "clock.h"
#include "log.h"
#include "store/io.h"

#include <pthread.h>
#include <stdio.h>

/* How long a lost connection gets to come back before the reads waiting go on without it. */
#define RECONNECT_TRY_US 250000

static const struct config *cfg;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wake = PTHREAD_COND_INITIALIZER;
static struct dbio_task *waiting; /* under lock, a stack: order does not matter */
static bool running, stopping;
static pthread_t thread;

static void *checker_main(void *arg)
{
    (void)arg;
    struct store *st = NULL;
    for (;;) {
        pthread_mutex_lock(&lock);
        while (!waiting && !stopping)
            pthread_cond_wait(&wake, &lock);
        struct dbio_task *batch = waiting; /* all of these arrived before the check below */
        waiting = NULL;
        bool stop = stopping && !batch;
        pthread_mutex_unlock(&lock);
        if (stop)
            break;
        unsigned long long learned = 0;
        bool known = false;
        /* While the breaker is open the workers answer at once; a check here would only
         * wait out the time budget first. */
        if (dbio_database_reachable() && !stopping) {
            /* Never past the first waiting read's deadline: the workers must still be able
             * to answer it (a 503 within the budget) if this check cannot. */
            int64_t deadline = monotonic_us() + (int64_t)cfg->db_timeout_ms * 1000;
            for (struct dbio_task *t = batch; t; t = t->next)
                deadline = t->deadline_us < deadline ? t->deadline_us : deadline;
            char err[512];
            if (!st && !(st = store_open(cfg, err, sizeof err)))
                log_eventf(LOG_WARN, "change check: cannot connect: %s", err);
            if (st && store_is_broken(st)) {
                /* A short try: while it fails the workers answer (their breaker opens). */
                int64_t soon = monotonic_us() + RECONNECT_TRY_US;
                store_set_deadline(st, soon < deadline ? soon : deadline);
                store_reconnect(st);
            }
            if (st && !store_is_broken(st)) {
                store_set_deadline(st, deadline);
                known = store_changes(st, &learned) == STORE_OK;
            }
        }
        bool queued = false;
        for (struct dbio_task *t = batch, *next; t; t = next) {
            next = t->next;
            t->next = NULL;
            if (!(known && t->checked(t, false))) {
                if (!dbio_submit(t))
                    t->checked(t, true); /* the queue is full: answer 503 */
                else
                    queued = true;
            }
        }
        if (queued)
            dbio_flush();
    }
    store_close(st);
    return NULL;
}

bool dbio_check_changes_start(const struct config *c)
{
    cfg = c;
    stopping = false;
    running = pthread_create(&thread, NULL, checker_main, NULL) == 0;
    return running;
}

void dbio_check_changes(struct dbio_task *t)
{
    pthread_mutex_lock(&lock);
    t->next = waiting;
    waiting = t;
    pthread_cond_signal(&wake);
    pthread_mutex_unlock(&lock);
}

void dbio_check_changes_stop(void)
{
    if (!running)
        return;
    pthread_mutex_lock(&lock);
    stopping = true;
    pthread_cond_signal(&wake);
    pthread_mutex_unlock(&lock);
    pthread_join(thread, NULL);
    running = false;
}
