/* What store.c, migrate.c and moderation.c share; not for handlers. */
#ifndef TIMEWARP_STORE_INTERNAL_H
#define TIMEWARP_STORE_INTERNAL_H
#include "store/db.h"
#include "store/store.h"

struct store {
    const struct db_driver *drv;
    void *conn;
    bool broken;                   /* reconnect before the next operation */
    int statements_done;           /* in the current operation: decides if a retry is safe */
    long rows_delivered;           /* in the current operation: a read that emitted rows is
                                    * never re-run (the caller has rendered them) */
    bool wrote;                    /* in the current operation: a write statement was sent */
    bool in_transaction;           /* a write transaction was begun in it... */
    bool commit_sent;              /* ...and its COMMIT sent: from here an effect is possible */
    enum db_status last_db_status; /* first failure in the current operation */
    long long deadline_us;         /* of the current task (CLOCK_MONOTONIC), 0 = none */
    bool group;                    /* inside a group commit (io.c): writes are savepoints */
    bool group_failed;             /* ...and a statement in it failed: roll the group back */
    char change_token[256];        /* SQLite: data_version when this connection last read the
                                    * change log ("" = read it next time) */
};

/* A clip as every query selects it (9 columns, struct clip_rec's order); "cl" is clips. */
#define CLIP_COLUMNS                                                                           \
    "cl.public_id, cl.youtube_video_id, cl.performance_date, cl.title, cl.notes, "            \
    "cl.created_at, c.public_id, s.public_id, cl.hidden_at"
#define CLIP_JOINS                                                                             \
    "JOIN contributors c ON c.id = cl.created_by_contributor_id "                              \
    "JOIN submissions s ON s.id = cl.added_via_submission_id "
#define CLIP_COLUMN_COUNT 9

static inline struct clip_rec store_clip_from_row(const char *const *c)
{
    return (struct clip_rec){c[0], c[1], c[2], c[3] ? c[3] : "", c[4], c[5], c[6], c[7], c[8]};
}

/* Which SQL dialect the store speaks: an index into the per-dialect statement pairs. */
enum dialect { DIALECT_SQLITE, DIALECT_POSTGRES };
enum dialect store_dialect(const struct store *st);

/* Runs `op` with store.c's reconnect-and-retry rule (see with_retry there). */
enum store_status store_run(struct store *st, enum store_status (*op)(struct store *, void *),
                            void *args);
/* Notes a failed statement's status, so store_run can tell a broken connection apart. */
enum db_status store_track(struct store *st, enum db_status rc);
enum store_status store_status_from(enum db_status rc);

/* Driver calls that count successful statements for the retry rule. */
enum db_status store_exec(struct store *st, const struct db_stmt *s, const char *const *params,
                          int nparams, db_row_fn fn, void *ctx);
enum db_status store_script(struct store *st, const char *sql);
enum db_status store_begin_write(struct store *st);
/* Commits (commit = true) or rolls back; a rollback never counts as progress. */
enum db_status store_end_write(struct store *st, bool commit);
#endif
