/* Where database work runs: a pool of database workers, each with its own connection, apart
 * from the HTTP threads, so a stalled database delays only the requests that need it
 * (SPEC.md, "Database time budget").
 *
 * Every task carries a deadline (queued time + TIMEWARP_DB_TIMEOUT). A worker gives the task
 * whatever time is left of it, and the drivers enforce it on every call. While the database
 * is unreachable a circuit breaker shared by all workers answers tasks at once (store NULL),
 * and one worker at a time probes it again after a backoff (250 ms doubling to 2 s), so an
 * outage costs fast 503s rather than a connect timeout per request. */
#ifndef TIMEWARP_STORE_IO_H
#define TIMEWARP_STORE_IO_H
#include "config.h"
#include "store/store.h"
#include <stdbool.h>
#include <stdint.h>

struct dbio_task {
    /* Runs on a worker. `st` is NULL when the database cannot be used within the deadline
     * (breaker open, connection failed, or the deadline passed while the task queued). */
    void (*run)(struct dbio_task *t, struct store *st);
    /* Then called on the same worker; the task belongs to the submitter again. */
    void (*done)(struct dbio_task *t);
    int64_t deadline_us; /* CLOCK_MONOTONIC */
    /* SQLite: may share one transaction with other such tasks (group commit, io.c), each in
     * a savepoint of its own. Such a task's writes go through store_run's begin/end write. */
    bool group_commit;
    /* For a group_commit task whose writes were in the group when its COMMIT failed: its
     * answer must now say that nothing was stored (called before done). */
    void (*lost)(struct dbio_task *t);
    /* For dbio_check_changes: called on the checking thread once the check has learned of
     * every change committed before it began (store_changes). True when the task was
     * answered from the cache (then it has been handed back to its submitter); false sends
     * it on to a worker as usual. queue_full: the check failed and no worker can take it
     * either: answer 503 and hand it back. */
    bool (*checked)(struct dbio_task *t, bool queue_full);
    struct dbio_task *next;
};

bool dbio_start(const struct config *c);
/* Queues t; false when the queue is full (answer 503 at once) or the pool is stopped. The
 * task waits for dbio_flush, which the submitting thread calls once per round of events. */
bool dbio_submit(struct dbio_task *t);
void dbio_flush(void);
/* Finishes queued tasks (each still gets done()), stops the workers, closes connections. */
void dbio_stop(void);
/* Whether the database answered the last time anyone tried (for metrics). */
bool dbio_database_reachable(void);
/* Queues a ping, so dbio_database_reachable stays current without traffic. */
void dbio_check_database(void);

int64_t dbio_now_us(void);

/* Cached reads on PostgreSQL (store/change_check.c): a thread with its own connection that
 * asks "did anyone commit?" once for every read waiting, instead of once per read. */
bool dbio_check_changes_start(const struct config *c);
/* Queues t for the next check to begin; t->checked is then called with its answer. */
void dbio_check_changes(struct dbio_task *t);
/* Ends the thread after the reads already waiting had their check. */
void dbio_check_changes_stop(void);
#endif
