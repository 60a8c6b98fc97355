/* The database worker pool and its circuit breaker (see io.h). */
#include "store/io.h"
#include "clock.h"
#include "log.h"
#include "metrics.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define MAX_WORKERS 256
#define BACKOFF_MIN_US 250000
#define BACKOFF_MAX_US 2000000
/* Group commit (SQLite): at most this many waiting writes share one transaction. */
#define GROUP_MAX 32

static const struct config *cfg;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wake = PTHREAD_COND_INITIALIZER;
static struct dbio_task *head, *tail; /* the queue, under lock */
static int queued, queue_cap;
static int idle; /* workers waiting on `wake`: a submit signals only when one is */
static bool group_running; /* a worker is running a group: the others leave group tasks be */
static bool stopping;
static pthread_t threads[MAX_WORKERS];
static int nthreads;

/* The breaker: closed while next_probe_us is 0. When open, tasks are answered without the
 * database until next_probe_us, then a single worker (the one that wins `probing`) tries. */
static atomic_llong next_probe_us;
static atomic_llong backoff_us;
static atomic_bool probing;
static atomic_bool reachable = true;

int64_t dbio_now_us(void) { return monotonic_us(); }

bool dbio_database_reachable(void) { return atomic_load(&reachable); }

static void breaker_trip(const char *why)
{
    long long b = atomic_load(&backoff_us);
    b = b ? (b * 2 > BACKOFF_MAX_US ? BACKOFF_MAX_US : b * 2) : BACKOFF_MIN_US;
    atomic_store(&backoff_us, b);
    atomic_store(&next_probe_us, dbio_now_us() + b);
    if (atomic_exchange(&reachable, false))
        log_eventf(LOG_ERROR, "database unreachable (%.300s): answering 503 until it is back", why);
}

static void breaker_reset(void)
{
    atomic_store(&backoff_us, 0);
    atomic_store(&next_probe_us, 0);
    if (!atomic_exchange(&reachable, true))
        log_event(LOG_INFO, "database reachable again", NULL);
}

/* May this worker use the database now? Sets *probe when it is the one trying after an
 * outage. */
static bool breaker_allows(bool *probe)
{
    *probe = false;
    long long next = atomic_load(&next_probe_us);
    if (next == 0)
        return true;
    if (dbio_now_us() < next)
        return false;
    bool expected = false;
    if (!atomic_compare_exchange_strong(&probing, &expected, true))
        return false;
    *probe = true;
    return true;
}

struct worker {
    struct store *st;
};

static struct store *usable_store(struct worker *w)
{
    if (w->st && !store_is_broken(w->st))
        return w->st;
    if (!w->st) {
        char err[512];
        w->st = store_open(cfg, err, sizeof err);
        if (!w->st) {
            log_eventf(LOG_ERROR, "database connection failed: %s", err);
            return NULL;
        }
        return w->st;
    }
    if (store_reconnect(w->st))
        return w->st;
    log_eventf(LOG_ERROR, "database reconnect failed: %s", store_last_error(w->st));
    return NULL;
}

static void run_task(struct worker *w, struct dbio_task *t)
{
    bool probe = false;
    struct store *st = NULL;
    if (dbio_now_us() < t->deadline_us && breaker_allows(&probe)) {
        st = usable_store(w);
        if (!st)
            breaker_trip("no connection");
    }
    if (st)
        store_set_deadline(st, t->deadline_us);
    t->run(t, st);
    bool broken = st && store_is_broken(st);
    if (st && !broken && (probe || !atomic_load(&reachable)))
        breaker_reset();
    t->done(t);
    /* One lost connection is not an outage (a session killed by a password rotation, a
     * restarted backend): reconnect now, after the answer has gone, and open the breaker
     * only if that fails too. */
    if (broken) {
        char why[256];
        snprintf(why, sizeof why, "%s", store_last_error(st));
        store_set_deadline(st, dbio_now_us() + (int64_t)cfg->db_timeout_ms * 1000);
        if (!store_reconnect(st))
            breaker_trip(why);
    }
    if (probe)
        atomic_store(&probing, false);
}

/* ---- group commit (SQLite) ------------------------------------------------------------------
 * SQLite has one writer at a time, and a write transaction's cost is mostly its COMMIT
 * (writing the WAL frames of every page it touched). Writes that queue while one runs are
 * taken together: one BEGIN, each in a savepoint of its own (store.c), one COMMIT, then
 * every answer. Each is still acknowledged only after the COMMIT that holds it; a
 * duplicate or an error stays its own (its savepoint is rolled back). Only one worker
 * runs a group at a time, so the next group collects everything that queued meanwhile. */

static void run_group(struct worker *w, struct dbio_task **g, int n)
{
    struct store *st = atomic_load(&next_probe_us) == 0 ? usable_store(w) : NULL;
    int64_t deadline = g[0]->deadline_us;
    for (int i = 1; i < n; i++)
        deadline = g[i]->deadline_us < deadline ? g[i]->deadline_us : deadline;
    if (st)
        store_set_deadline(st, deadline);
    if (!st || store_is_broken(st) || dbio_now_us() >= deadline || !store_group_begin(st)) {
        for (int i = 0; i < n; i++) /* each on its own, with the breaker and deadlines */
            run_task(w, g[i]);
        return;
    }
    bool wrote[GROUP_MAX];
    for (int i = 0; i < n; i++) {
        g[i]->run(g[i], st);
        wrote[i] = store_wrote(st);
    }
    metrics_count(METRIC_GROUP_COMMIT);
    for (int i = 0; i < n; i++)
        metrics_count(METRIC_GROUP_COMMIT_WRITE);
    if (!store_group_end(st)) {
        log_eventf(LOG_ERROR, "group commit of %d write(s) failed: %s", n, store_last_error(st));
        for (int i = 0; i < n; i++)
            if (wrote[i] && g[i]->lost)
                g[i]->lost(g[i]);
    }
    for (int i = 0; i < n; i++)
        g[i]->done(g[i]);
}

/* Whether a worker woken now would find a task it may take (under lock): while a group
 * runs, queued group tasks are for the next group, and waking a worker for them only costs
 * a context switch (the profile of POST /submissions showed them). */
static bool takeable(void)
{
    for (struct dbio_task *t = head; t; t = t->next)
        if (!t->group_commit || !group_running)
            return true;
    return false;
}

/* Takes the next task this worker may run (under lock): the first that is not a group task,
 * or, if no group is running, the first group task together with every other queued one. */
static int take_tasks(struct dbio_task **out)
{
    int n = 0;
    for (struct dbio_task **l = &head, *p = NULL; *l && n < GROUP_MAX;) {
        struct dbio_task *t = *l;
        bool take = n == 0 ? (!t->group_commit || !group_running) : (out[0]->group_commit && t->group_commit);
        if (!take) {
            p = t;
            l = &t->next;
            continue;
        }
        *l = t->next;
        if (tail == t)
            tail = p;
        t->next = NULL;
        out[n++] = t;
        queued--;
        if (!out[0]->group_commit)
            break;
    }
    if (n > 0 && out[0]->group_commit)
        group_running = true;
    return n;
}

static void *worker_main(void *arg)
{
    (void)arg;
    struct worker w = {0};
    struct dbio_task *batch[GROUP_MAX];
    for (;;) {
        pthread_mutex_lock(&lock);
        int n;
        while ((n = take_tasks(batch)) == 0 && !stopping) {
            idle++;
            pthread_cond_wait(&wake, &lock);
            idle--;
        }
        if (n == 0) { /* stopping, nothing left this worker may take */
            pthread_mutex_unlock(&lock);
            break;
        }
        /* More waiting and a worker asleep: wake it, so parallelism follows the queue. */
        if (idle > 0 && takeable())
            pthread_cond_signal(&wake);
        pthread_mutex_unlock(&lock);
        if (batch[0]->group_commit) {
            if (n == 1)
                run_task(&w, batch[0]);
            else
                run_group(&w, batch, n);
            pthread_mutex_lock(&lock);
            group_running = false;
            if (idle > 0 && takeable())
                pthread_cond_signal(&wake); /* the next group (it wakes another if need be) */
            pthread_mutex_unlock(&lock);
        } else {
            run_task(&w, batch[0]);
        }
    }
    store_close(w.st);
    return NULL;
}

bool dbio_start(const struct config *c)
{
    cfg = c;
    stopping = false;
    queue_cap = c->max_connections > 0 ? c->max_connections : 1000;
    nthreads = 0;
    int want = c->workers < MAX_WORKERS ? c->workers : MAX_WORKERS;
    for (int i = 0; i < want; i++) {
        if (pthread_create(&threads[i], NULL, worker_main, NULL) != 0) {
            dbio_stop();
            return false;
        }
        nthreads++;
    }
    return true;
}

bool dbio_submit(struct dbio_task *t)
{
    t->next = NULL;
    pthread_mutex_lock(&lock);
    bool ok = !stopping && queued < queue_cap;
    if (ok) {
        if (tail)
            tail->next = t;
        else
            head = t;
        tail = t;
        queued++;
    }
    pthread_mutex_unlock(&lock);
    return ok;
}

void dbio_flush(void)
{
    /* One wake-up for everything an I/O thread queued in its round (a worker that finds more
     * wakes the next): on two cores a wake-up per request cost more than the requests. */
    pthread_mutex_lock(&lock);
    if (idle > 0 && takeable())
        pthread_cond_signal(&wake);
    pthread_mutex_unlock(&lock);
}

void dbio_stop(void)
{
    pthread_mutex_lock(&lock);
    stopping = true;
    pthread_cond_broadcast(&wake);
    pthread_mutex_unlock(&lock);
    for (int i = 0; i < nthreads; i++)
        pthread_join(threads[i], NULL);
    nthreads = 0;
}

/* The periodic check behind the DatabaseReachable metric: one ping through the pool, so it
 * obeys the breaker and the time budget like any request. */
static atomic_bool probe_queued;

static void probe_run(struct dbio_task *t, struct store *st)
{
    (void)t;
    if (st && store_ping(st) != STORE_OK && !store_is_broken(st))
        atomic_store(&reachable, false); /* answered, but not well: not reachable either */
    else if (st)
        store_prune_changes(st); /* the change log's old rows (a failure waits for the next) */
}

static void probe_done(struct dbio_task *t)
{
    (void)t;
    atomic_store(&probe_queued, false);
}

void dbio_check_database(void)
{
    static struct dbio_task probe = {.run = probe_run, .done = probe_done};
    if (atomic_exchange(&probe_queued, true))
        return; /* the last one is still out */
    probe.deadline_us = dbio_now_us() + (int64_t)cfg->db_timeout_ms * 1000;
    if (!dbio_submit(&probe))
        atomic_store(&probe_queued, false);
    dbio_flush();
}
