/* SQLite driver: one connection per worker thread, WAL mode, prepared statements cached
 * per connection. */
#include "store/db.h"
#include "clock.h"

#include <errno.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

/* One writer at a time within this process. Threads then wait on a mutex and are woken the
 * moment the writer commits, instead of in SQLite's busy handler, which polls with sleeps of
 * up to 100 ms and left whole worker threads (and all their connections) idle under a mixed
 * load. Writers in other processes still queue through the busy timeout. */
static pthread_mutex_t process_writer = PTHREAD_MUTEX_INITIALIZER;

struct sqlite_conn {
    sqlite3 *db;
    const struct config *cfg;
    bool writing; /* holds process_writer */
    long long deadline_us; /* of the current task */
    bool timed_out;        /* the progress handler interrupted a statement at the deadline */
    sqlite3_stmt *cache[DB_MAX_STMTS];
    char error[512];
};

static enum db_status classify(struct sqlite_conn *c, int rc)
{
    snprintf(c->error, sizeof c->error, "sqlite: %s",
             c->timed_out ? "interrupted at the database time budget" : sqlite3_errmsg(c->db));
    switch (rc & 0xff) {
    case SQLITE_CONSTRAINT: return DB_CONFLICT;
    /* Still locked at the deadline, or interrupted there: the database is up, only busy. */
    case SQLITE_BUSY: case SQLITE_LOCKED: case SQLITE_INTERRUPT:
        return DB_BUSY;
    /* The file went away or the disk is full: nothing was written; try again later. */
    case SQLITE_IOERR: case SQLITE_CANTOPEN: case SQLITE_FULL:
        return DB_BUSY;
    default: return DB_ERROR;
    }
}

/* Called every few thousand virtual-machine steps: a statement still running at the task's
 * deadline is interrupted (SQLITE_INTERRUPT), so no query outlives the time budget. */
static int past_deadline(void *arg)
{
    struct sqlite_conn *c = arg;
    if (c->deadline_us && monotonic_us() >= c->deadline_us) {
        c->timed_out = true;
        return 1;
    }
    return 0;
}

static void sqlite_set_deadline(void *conn, long long deadline_us)
{
    struct sqlite_conn *c = conn;
    c->deadline_us = deadline_us;
    c->timed_out = false;
    /* Lock waits (another process's writer) end at the deadline too. */
    long long left_ms = (deadline_us - monotonic_us()) / 1000;
    sqlite3_busy_timeout(c->db, left_ms > 0 ? (int)left_ms : 1);
}

static bool make_parent_dir(const char *path, char *err, size_t err_len)
{
    char dir[1024];
    snprintf(dir, sizeof dir, "%s", path);
    for (char *q = dir + 1; *q; q++) {
        if (*q != '/')
            continue;
        *q = '\0';
        if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
            snprintf(err, err_len, "cannot create directory %s: %s", dir, strerror(errno));
            return false;
        }
        *q = '/';
    }
    return true;
}

static void *sqlite_connect(const struct config *cfg, char *err, size_t err_len)
{
    struct sqlite_conn *c = calloc(1, sizeof *c);
    if (!c || !make_parent_dir(cfg->sqlite_path, err, err_len)) {
        free(c);
        return NULL;
    }
    int rc = sqlite3_open_v2(cfg->sqlite_path, &c->db,
                             SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK) {
        snprintf(err, err_len, "cannot open SQLite database %s: %s", cfg->sqlite_path,
                 c->db ? sqlite3_errmsg(c->db) : sqlite3_errstr(rc));
        sqlite3_close(c->db);
        free(c);
        return NULL;
    }
    c->cfg = cfg;
    /* Writers wait for each other (up to the time budget; per task, see set_deadline)
     * instead of failing at once with "database is locked". */
    sqlite3_busy_timeout(c->db, cfg->db_timeout_ms);
    sqlite3_progress_handler(c->db, 4000, past_deadline, c);
    /* WAL: readers never block the writer. synchronous=NORMAL in WAL mode keeps every
     * committed transaction across a crash of this process (kill -9); only an OS crash or
     * power loss can lose the last commits. Production runs on PostgreSQL. */
    char *msg = NULL;
    rc = sqlite3_exec(c->db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; "
                             "PRAGMA foreign_keys=ON; "
                             /* 1 MiB page cache per worker (default 2): the hot pages of the
                              * archive fit, and RSS stays small with many workers. */
                             "PRAGMA cache_size=-1024; "
                             /* Checkpoint when the WAL passes ~40 MB, not 4 MB: the commit
                              * that crosses the mark copies the pages back and waits for
                              * the fsync, and a hot page written 20 times in between is
                              * copied once. POST /submissions ~8.2k -> ~9.3k req/s
                              * (docs/PERFORMANCE.md); the WAL file is cut back to 64 MB. */
                             "PRAGMA wal_autocheckpoint=10000; PRAGMA journal_size_limit=67108864;",
                             NULL, NULL, &msg);
    if (rc != SQLITE_OK) {
        snprintf(err, err_len, "cannot configure SQLite database %s: %s", cfg->sqlite_path,
                 msg ? msg : sqlite3_errstr(rc));
        sqlite3_free(msg);
        sqlite3_close(c->db);
        free(c);
        return NULL;
    }
    return c;
}

static void sqlite_disconnect(void *conn)
{
    struct sqlite_conn *c = conn;
    if (!c)
        return;
    for (int i = 0; i < DB_MAX_STMTS; i++)
        sqlite3_finalize(c->cache[i]);
    sqlite3_close(c->db);
    free(c);
}

static bool sqlite_reconnect(void *conn)
{
    (void)conn; /* a local file: nothing to re-establish */
    return true;
}

static enum db_status sqlite_exec(void *conn, const struct db_stmt *st, const char *const *params,
                                  int nparams, db_row_fn on_row, void *ctx)
{
    struct sqlite_conn *c = conn;
    bool cached = st->id != DB_NOT_CACHED;
    sqlite3_stmt *s = cached ? c->cache[st->id] : NULL;
    int rc;
    if (!s) {
        rc = sqlite3_prepare_v3(c->db, st->sql, -1, cached ? SQLITE_PREPARE_PERSISTENT : 0, &s, NULL);
        if (rc != SQLITE_OK)
            return classify(c, rc);
        if (cached)
            c->cache[st->id] = s;
    }
    for (int i = 0; i < nparams; i++) {
        rc = params[i] ? sqlite3_bind_text(s, i + 1, params[i], -1, SQLITE_STATIC)
                       : sqlite3_bind_null(s, i + 1);
        if (rc != SQLITE_OK) {
            enum db_status bad = classify(c, rc);
            if (cached)
                sqlite3_reset(s);
            else
                sqlite3_finalize(s);
            return bad;
        }
    }
    const char *cols[16];
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        int n = sqlite3_column_count(s);
        if (n > 16)
            n = 16;
        for (int i = 0; i < n; i++)
            cols[i] = (const char *)sqlite3_column_text(s, i);
        if (on_row)
            on_row(ctx, cols, n);
    }
    enum db_status result = rc == SQLITE_DONE ? DB_OK : classify(c, rc);
    if (!cached) {
        sqlite3_finalize(s);
    } else {
        sqlite3_reset(s);
        sqlite3_clear_bindings(s);
    }
    return result;
}

static enum db_status sqlite_exec_script(void *conn, const char *sql)
{
    struct sqlite_conn *c = conn;
    int rc = sqlite3_exec(c->db, sql, NULL, NULL, NULL);
    return rc == SQLITE_OK ? DB_OK : classify(c, rc);
}

/* Takes the in-process writer lock, waiting no later than the task's deadline. */
static bool lock_writer(struct sqlite_conn *c)
{
    if (!c->deadline_us) {
        pthread_mutex_lock(&process_writer);
        return true;
    }
    struct timespec abs;
    clock_gettime(CLOCK_REALTIME, &abs); /* pthread_mutex_timedlock counts in CLOCK_REALTIME */
    long long left = c->deadline_us - monotonic_us();
    if (left < 0)
        left = 0;
    abs.tv_sec += (time_t)(left / 1000000);
    abs.tv_nsec += (long)(left % 1000000) * 1000;
    if (abs.tv_nsec >= 1000000000L) {
        abs.tv_sec++;
        abs.tv_nsec -= 1000000000L;
    }
    return pthread_mutex_timedlock(&process_writer, &abs) == 0;
}

static enum db_status sqlite_begin_write(void *conn)
{
    struct sqlite_conn *c = conn;
    if (!lock_writer(c)) {
        snprintf(c->error, sizeof c->error, "sqlite: another write held the lock past the time budget");
        return DB_BUSY;
    }
    /* IMMEDIATE takes the write lock up front, so the busy timeout applies; a deferred
     * transaction that upgrades later fails at once with SQLITE_BUSY instead of waiting. */
    enum db_status rc = sqlite_exec_script(c, "BEGIN IMMEDIATE");
    if (rc == DB_OK)
        c->writing = true;
    else
        pthread_mutex_unlock(&process_writer);
    return rc;
}

static enum db_status sqlite_end_write(void *conn, bool commit)
{
    struct sqlite_conn *c = conn;
    long long deadline = c->deadline_us;
    c->deadline_us = 0; /* ending the transaction is never interrupted */
    enum db_status rc = sqlite_exec_script(c, commit ? "COMMIT" : "ROLLBACK");
    if (!sqlite3_get_autocommit(c->db)) /* COMMIT failed and left it open: undo it */
        sqlite_exec_script(c, "ROLLBACK");
    c->deadline_us = deadline;
    if (c->writing) {
        c->writing = false;
        pthread_mutex_unlock(&process_writer);
    }
    return rc;
}

static const char *sqlite_last_error(void *conn)
{
    return ((struct sqlite_conn *)conn)->error;
}

const struct db_driver db_sqlite_driver = {
    .name = "sqlite",
    .connect = sqlite_connect,
    .disconnect = sqlite_disconnect,
    .reconnect = sqlite_reconnect,
    .set_deadline = sqlite_set_deadline,
    .alive = sqlite_reconnect, /* a local file is always there to use */
    .exec = sqlite_exec,
    .exec_script = sqlite_exec_script,
    .last_error = sqlite_last_error,
    .begin_write = sqlite_begin_write,
    .end_write = sqlite_end_write,
    .migration_lock_sql = NULL,
};
