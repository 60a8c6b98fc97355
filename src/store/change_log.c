/* What changed among the clips, as the response cache needs to know it (store.h, "what
 * changed"; the cache is api/read_cache.c).
 *
 * Migration 0005's triggers log every change to the clips table, from any process, as a
 * range of performance dates in clip_changes. store_changes reads what this process has not
 * read yet into a ring of recent changes, numbered in the order this process learned of
 * them; the cache drops only the answers a change's range touches. A change this process
 * cannot place (the log pruned past where it had read, too many at once, no log at all) is
 * learned as "anything changed": never a stale answer, only a cold cache.
 *
 * Why nothing committed before a read arrives is missed:
 * - SQLite: a connection's data_version moves whenever another connection, of any process,
 *   commits; one that has not moved since this connection last read the log means nothing
 *   new, except this connection's own writes, after which its next check reads the log
 *   (store_note_change). The log's seq follows commit order (one writer at a time), so
 *   "everything after the highest seq read" is exact.
 * - PostgreSQL: transaction ids do not follow commit order, so the log is read as "rows of
 *   transactions visible now and not in the snapshot last read up to", in the same
 *   statement that takes the new snapshot; while nothing commits, the snapshot alone. */
#include "store/store_internal.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define KEPT 1024       /* changes remembered; a reader further behind takes "anything" */
#define MAX_ROWS 64     /* more new rows than this at once (an import): "anything" */
#define PRUNE_AFTER_S "60" /* log rows live at least this long after a prune round marks them */

/* Statement ids 14, 16..19 and 30 of the request path's range (db.h) are this file's. */
enum { ID_CHANGE_CHECK = 14, ID_LOG_EDGES = 16, ID_LOG_ROWS, ID_PRUNE_HORIZON, ID_PRUNE_ROWS,
       ID_SNAPSHOT = 30 };

static const struct db_stmt
    /* SQLite: has anyone else committed since this connection last asked? */
    ST_DATA_VERSION = {ID_CHANGE_CHECK, "PRAGMA data_version"},
    ST_LOG_EDGES = {ID_LOG_EDGES,
        "SELECT horizon, (SELECT coalesce(max(seq), 0) FROM clip_changes) FROM clip_changes_horizon"},
    ST_LOG_ROWS = {ID_LOG_ROWS, "SELECT seq, lo, hi FROM clip_changes WHERE seq > ? ORDER BY seq LIMIT 65"},
    /* PostgreSQL, one round trip: a first row with the statement's snapshot and the prune
     * horizon, then the log rows of transactions visible in that snapshot and not in the
     * one last read up to (both parameters), at most 65, walking the primary key from the
     * old snapshot's xmin. Planned at every call (DB_NOT_CACHED), for the log as it is
     * now: a cached plan made while it was empty (a sequential scan and a sort) would stay
     * while it grows (mixed load fell to 1,764 req/s once). A UNION ALL of two plain queries: perf showed
     * the planning of an earlier form (CASE and subqueries, ~80 us) as PostgreSQL's largest
     * cost under the mixed load; this one plans in ~35 us. */
    ST_SNAPSHOT_CHANGES = {DB_NOT_CACHED,
        "SELECT CAST(pg_current_snapshot() AS text), CAST(horizon AS text), NULL, NULL "
        "FROM clip_changes_horizon UNION ALL "
        "(SELECT NULL, NULL, lo, hi FROM clip_changes WHERE xid >= pg_snapshot_xmin(CAST(? AS pg_snapshot)) "
        "AND NOT pg_visible_in_snapshot(xid, CAST(? AS pg_snapshot)) ORDER BY xid LIMIT 65)"},
    /* PostgreSQL, when the last check found nothing new: the snapshot alone. No parameter:
     * planned once per session. An unchanged snapshot means nothing committed since. */
    ST_SNAPSHOT = {ID_SNAPSHOT, "SELECT CAST(pg_current_snapshot() AS text)"};

/* Pruning, in one transaction: the horizon moves to the mark the previous round set (at
 * least PRUNE_AFTER_S ago, whichever process set it), a new mark is set, and rows before
 * the horizon go. A reader that has not read for that long takes "anything changed". */
static const struct db_stmt ST_PRUNE_HORIZON[2] = {
    {ID_PRUNE_HORIZON,
     "UPDATE clip_changes_horizon SET horizon = next_horizon, "
     "next_horizon = (SELECT coalesce(max(seq), 0) FROM clip_changes), next_at = unixepoch() "
     "WHERE next_at <= unixepoch() - " PRUNE_AFTER_S},
    {ID_PRUNE_HORIZON,
     "UPDATE clip_changes_horizon SET horizon = next_horizon, "
     "next_horizon = pg_snapshot_xmin(pg_current_snapshot()), next_at = now() "
     "WHERE next_at <= now() - interval '" PRUNE_AFTER_S " seconds'"},
};
static const struct db_stmt ST_PRUNE_ROWS[2] = {
    {ID_PRUNE_ROWS, "DELETE FROM clip_changes WHERE seq <= (SELECT horizon FROM clip_changes_horizon)"},
    {ID_PRUNE_ROWS, "DELETE FROM clip_changes WHERE xid < (SELECT horizon FROM clip_changes_horizon)"},
};

/* ---- the ring of changes this process has learned of --------------------------------------- */

struct change {
    int lo, hi; /* YYYYMMDD */
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct change ring[KEPT];
static unsigned long long learned; /* change k (from 0) is ring[k % KEPT] while k >= learned - KEPT */
static long long sqlite_read_to;   /* SQLite: the log's highest seq read */
static char pg_read_to[256];       /* PostgreSQL: the snapshot the log was read up to ("" = none) */
static bool pg_quiet;              /* PostgreSQL: the last full check found the snapshot unchanged */

static void learn_locked(int lo, int hi)
{
    ring[learned % KEPT] = (struct change){lo, hi};
    learned++;
}

unsigned long long store_changes_learned(void)
{
    pthread_mutex_lock(&lock);
    unsigned long long n = learned;
    pthread_mutex_unlock(&lock);
    return n;
}

bool store_changes_between(unsigned long long from, unsigned long long to, store_change_fn fn, void *ctx)
{
    pthread_mutex_lock(&lock);
    bool kept = learned - from <= KEPT;
    if (to > learned)
        to = learned;
    for (unsigned long long k = from; kept && k < to; k++)
        fn(ctx, ring[k % KEPT].lo, ring[k % KEPT].hi);
    pthread_mutex_unlock(&lock);
    return kept;
}

/* ---- reading the log ------------------------------------------------------------------------ */

struct rows {
    int n;
    long long last_seq;
    struct change c[MAX_ROWS + 1];
    char text[2][256]; /* the first row's first two columns, for the one-row statements */
    bool found, too_long;
};

static void capture_text(void *ctx, const char *const *cols, int ncols)
{
    struct rows *r = ctx;
    for (int i = 0; i < 2 && i < ncols; i++) {
        const char *v = cols[i] ? cols[i] : "";
        size_t n = strlen(v);
        r->too_long |= n >= sizeof r->text[i];
        snprintf(r->text[i], sizeof r->text[i], "%s", v);
    }
    r->found = true;
}

static void capture_row(void *ctx, const char *const *cols, int ncols)
{
    struct rows *r = ctx;
    if (ncols < 3 || r->n > MAX_ROWS || !cols[0] || !cols[1] || !cols[2])
        return;
    r->last_seq = atoll(cols[0]);
    r->c[r->n++] = (struct change){atoi(cols[1]), atoi(cols[2])};
}

/* PostgreSQL's check: its first row (snapshot, horizon, NULL, NULL), or a change (NULL,
 * NULL, lo, hi). */
static void capture_check_row(void *ctx, const char *const *cols, int ncols)
{
    struct rows *r = ctx;
    if (ncols < 4)
        return;
    if (cols[0]) {
        capture_text(ctx, cols, ncols);
        return;
    }
    if (r->n > MAX_ROWS || !cols[2] || !cols[3])
        return;
    r->c[r->n++] = (struct change){atoi(cols[2]), atoi(cols[3])};
}

/* Learns the rows in r, or "anything" if there were too many to place. */
static void learn_rows_locked(const struct rows *r, bool anything)
{
    if (anything || r->n > MAX_ROWS) {
        learn_locked(0, 99991231);
        return;
    }
    for (int i = 0; i < r->n; i++)
        learn_locked(r->c[i].lo, r->c[i].hi);
}

static enum store_status sqlite_learn(struct store *st)
{
    struct rows version = {0};
    if (store_track(st, store_exec(st, &ST_DATA_VERSION, NULL, 0, capture_text, &version)))
        return store_status_from(st->last_db_status);
    if (!version.found)
        return STORE_ERROR;
    if (strcmp(version.text[0], st->change_token) == 0)
        return STORE_OK; /* nobody else committed, nor this connection since it last read */

    struct rows edges = {0}, rows = {0};
    pthread_mutex_lock(&lock);
    long long read_to = sqlite_read_to;
    pthread_mutex_unlock(&lock);
    enum db_status rc = store_exec(st, &ST_LOG_EDGES, NULL, 0, capture_text, &edges);
    bool anything = rc != DB_OK || !edges.found || atoll(edges.text[0]) > read_to;
    if (rc == DB_OK && !anything) {
        char after[24];
        snprintf(after, sizeof after, "%lld", read_to);
        const char *p[] = {after};
        rc = store_exec(st, &ST_LOG_ROWS, p, 1, capture_row, &rows);
        anything = rc != DB_OK;
    }
    if (rc != DB_OK && rc != DB_ERROR) /* unreachable: the request says so */
        return store_status_from(store_track(st, rc));
    /* DB_ERROR: no log (a schema before 0005); "anything", every time. */
    pthread_mutex_lock(&lock);
    learn_rows_locked(&rows, anything);
    long long now_at = anything || rows.n > MAX_ROWS ? atoll(edges.text[1]) : rows.last_seq;
    if (now_at > sqlite_read_to)
        sqlite_read_to = now_at;
    pthread_mutex_unlock(&lock);
    if (rc == DB_OK)
        snprintf(st->change_token, sizeof st->change_token, "%s", version.text[0]);
    return STORE_OK;
}

static enum store_status postgres_learn(struct store *st)
{
    char read_to[sizeof pg_read_to];
    pthread_mutex_lock(&lock);
    memcpy(read_to, pg_read_to, sizeof read_to);
    bool quiet = pg_quiet;
    pthread_mutex_unlock(&lock);
    struct rows r = {0};
    enum db_status rc;
    /* While commits keep coming, the snapshot alone would only cost a second round trip. */
    if (quiet && read_to[0]) {
        rc = store_exec(st, &ST_SNAPSHOT, NULL, 0, capture_text, &r);
        if (rc != DB_OK)
            return store_status_from(store_track(st, rc));
        if (r.found && strcmp(r.text[0], read_to) == 0)
            return STORE_OK;
        r = (struct rows){0};
    }
    const char *old = read_to[0] ? read_to : NULL; /* NULL: none read yet, no rows */
    const char *p[] = {old, old};
    rc = store_exec(st, &ST_SNAPSHOT_CHANGES, p, 2, capture_check_row, &r);
    if (rc != DB_OK && rc != DB_ERROR)
        return store_status_from(store_track(st, rc));
    /* DB_ERROR: no log (a schema before 0005). A horizon past the old snapshot's xmin: the
     * log was pruned past where this process had read, and what it missed is gone. */
    bool anything = rc != DB_OK || !r.found || !old ||
                    strtoull(read_to, NULL, 10) < strtoull(r.text[1], NULL, 10);
    pthread_mutex_lock(&lock);
    learn_rows_locked(&r, anything || r.too_long);
    pg_quiet = rc == DB_OK && r.found && strcmp(r.text[0], read_to) == 0;
    /* A snapshot too long to keep (thousands of transactions in progress): "" makes the next
     * check learn "anything" again. */
    snprintf(pg_read_to, sizeof pg_read_to, "%s", rc == DB_OK && !r.too_long ? r.text[0] : "");
    pthread_mutex_unlock(&lock);
    return STORE_OK;
}

static enum store_status op_learn(struct store *st, void *args)
{
    (void)args;
    return store_dialect(st) == DIALECT_POSTGRES ? postgres_learn(st) : sqlite_learn(st);
}

enum store_status store_changes(struct store *st, unsigned long long *learned_out)
{
    /* Through the retry rule like any read: a session cut by a password rotation or a
     * restart is re-established and asked again, rather than costing the request a 503. */
    enum store_status rc = store_run(st, op_learn, NULL);
    if (rc == STORE_OK)
        *learned_out = store_changes_learned();
    return rc;
}

void store_note_change(struct store *st) { st->change_token[0] = '\0'; }

static enum store_status op_prune(struct store *st, void *args)
{
    (void)args;
    enum dialect d = store_dialect(st);
    if (store_track(st, store_begin_write(st)))
        return store_status_from(st->last_db_status);
    if (store_track(st, store_exec(st, &ST_PRUNE_HORIZON[d], NULL, 0, NULL, NULL)) ||
        store_track(st, store_exec(st, &ST_PRUNE_ROWS[d], NULL, 0, NULL, NULL))) {
        store_end_write(st, false);
        return store_status_from(st->last_db_status);
    }
    return store_status_from(store_track(st, store_end_write(st, true)));
}

enum store_status store_prune_changes(struct store *st) { return store_run(st, op_prune, NULL); }
