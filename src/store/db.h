/* The database driver interface: the only thing a backend implements. Everything above it
 * (transactions, duplicate handling, pagination, migrations) is written once in store.c and
 * migrate.c, so SQLite and PostgreSQL differ only in the SQL dialect and the wire. */
#ifndef TIMEWARP_DB_H
#define TIMEWARP_DB_H
#include "config.h"
#include <stdbool.h>
#include <stddef.h>

enum db_status {
    DB_OK,
    DB_CONFLICT,    /* a unique constraint rejected the write */
    DB_NOT_SENT,    /* the connection was unusable before the statement reached the
                     * database: it cannot have had an effect, so it may be retried */
    DB_UNAVAILABLE, /* the connection failed or the database did not answer in time after
                     * the statement was sent: it may have had an effect, never retried */
    DB_BUSY,        /* the database is up but did not finish in time (a lock wait, a slow
                     * statement): nothing done, answered 503 */
    DB_RETRY,       /* a serialization failure or deadlock: the transaction was rolled
                     * back whole and may be run again */
    DB_ERROR,       /* anything else: a bug or a schema problem */
};

/* A statement, written once with '?' placeholders; drivers prepare it on first use and
 * keep it per connection. Every parameter is bound as text (NULL = SQL NULL) and every
 * column is read as text, so both databases produce byte-identical output. */
struct db_stmt {
    /* index into the per-connection cache, < DB_MAX_STMTS (store_exec checks), or
     * DB_NOT_CACHED */
    int id;
    const char *sql;
};
/* A statement prepared, and on PostgreSQL planned, at every call for the values given. For
 * one whose best plan depends on how big a table is now: a plan cached while it was small
 * (a sequential scan) would stay while it grows. */
#define DB_NOT_CACHED (-1)
/* Statement ids in use: 0..19 and 30 the request path (store.c, change_log.c), 20..29
 * migrations (migrate.c), 32..63 moderation (moderation.c), 64..110 the offline data commands (src/data/), which
 * run on connections of their own, and the last one (DB_MAX_STMTS - 1) the service role's
 * grants (grants.c). */
#define DB_MAX_STMTS 112

/* Called once per result row; cols[i] is NULL for SQL NULL. Pointers are valid only
 * during the call. */
typedef void (*db_row_fn)(void *ctx, const char *const *cols, int ncols);

struct db_driver {
    const char *name;
    void *(*connect)(const struct config *c, char *err, size_t err_len);
    void (*disconnect)(void *conn);
    /* Re-establishes a broken connection; true when it is usable again. */
    bool (*reconnect)(void *conn);
    /* Every later call on conn returns (DB_BUSY or DB_UNAVAILABLE) by this CLOCK_MONOTONIC
     * time in microseconds; connecting is bounded by the configured budget. */
    void (*set_deadline)(void *conn, long long deadline_us);
    /* Between tasks: false when the connection is known dead already (the server closed it,
     * say on a restart), so it is re-established before a statement is sent on it. */
    bool (*alive)(void *conn);
    enum db_status (*exec)(void *conn, const struct db_stmt *st, const char *const *params,
                           int nparams, db_row_fn on_row, void *ctx);
    /* Runs one or more parameterless statements (transaction control, migrations). */
    enum db_status (*exec_script)(void *conn, const char *sql);
    const char *(*last_error)(void *conn);
    /* A write transaction that queues behind other writers instead of failing; ended by
     * end_write with commit or rollback (after a failed commit it rolls back). */
    enum db_status (*begin_write)(void *conn);
    enum db_status (*end_write)(void *conn, bool commit);
    /* Held while migrating so two `migrate` runs cannot interleave (NULL: begin suffices). */
    const char *migration_lock_sql;
};

extern const struct db_driver db_sqlite_driver;
extern const struct db_driver db_postgres_driver;
#endif
