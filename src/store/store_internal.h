/* What store.c and migrate.c share; not for handlers. */
#ifndef TIMEWARP_STORE_INTERNAL_H
#define TIMEWARP_STORE_INTERNAL_H
#include "store/db.h"

struct store {
    const struct db_driver *drv;
    void *conn;
    bool broken;                   /* reconnect before the next operation */
    int statements_done;           /* in the current operation: decides if a retry is safe */
    long rows_delivered;           /* in the current operation: a read that emitted rows is
                                    * never re-run (the caller has rendered them) */
    enum db_status last_db_status; /* first failure in the current operation */
    long long deadline_us;         /* of the current task (CLOCK_MONOTONIC), 0 = none */
};

/* Driver calls that count successful statements for the retry rule. */
enum db_status store_exec(struct store *st, const struct db_stmt *s, const char *const *params,
                          int nparams, db_row_fn fn, void *ctx);
enum db_status store_script(struct store *st, const char *sql);
enum db_status store_begin_write(struct store *st);
/* Commits (commit = true) or rolls back; a rollback never counts as progress. */
enum db_status store_end_write(struct store *st, bool commit);
#endif
