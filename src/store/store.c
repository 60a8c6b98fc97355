/* Storage logic shared by every backend: the statements, the submission transaction,
 * keyset pagination and reconnect-and-retry. Backends only run SQL (see db.h). */
#include "store/store.h"
#include "clock.h"
#include "store/db.h"
#include "store/store_internal.h"
#include "log.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- statements (one dialect: the drivers translate placeholders) ---------------------- */

enum {
    ID_PING, ID_INSERT_CONTRIBUTOR, ID_INSERT_SUBMISSION, ID_INSERT_CLIP,
    ID_LINK_CLIP, ID_MARK_DUPLICATE, ID_GET_SUBMISSION, ID_GET_CLIP, ID_CLIP_POSITION,
    ID_LIST_FIRST, ID_LIST_AFTER, ID_PREVIOUS, ID_CALENDAR, ID_CLIP_HIDDEN, ID_CHANGES_ /* 14: change_log.c */, ID_SUBMIT,
};

#define CLIP_SELECT "SELECT " CLIP_COLUMNS " FROM clips cl " CLIP_JOINS

/* Archive order: performance date, then creation time, then insertion order (the row id). */
#define CLIP_ORDER " ORDER BY cl.performance_date, cl.created_at, cl.id LIMIT ?"

static const struct db_stmt
    ST_PING = {ID_PING, "SELECT 1"},
    ST_INSERT_CONTRIBUTOR = {ID_INSERT_CONTRIBUTOR,
        "INSERT INTO contributors (public_id, display_name, external_id, created_at) "
        "VALUES (?, ?, ?, ?)"},
    /* Looks the contributor up in the same statement (one round trip less per submission):
     * no row comes back, and nothing is inserted, when the contributor does not exist. */
    ST_INSERT_SUBMISSION = {ID_INSERT_SUBMISSION,
        "INSERT INTO submissions (public_id, contributor_id, status, validation_error, "
        "raw_youtube_input, raw_date_input, title, notes, submitted_at) "
        "SELECT ?, c.id, ?, ?, ?, ?, ?, ?, ? FROM contributors c WHERE c.public_id = ? "
        "RETURNING id, contributor_id"},
    /* DO NOTHING rather than catching the violation: PostgreSQL would abort the whole
     * transaction, and the rejected submission must still be stored in it. */
    ST_INSERT_CLIP = {ID_INSERT_CLIP,
        "INSERT INTO clips (public_id, youtube_video_id, performance_date, title, notes, "
        "created_at, created_by_contributor_id, added_via_submission_id) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
        "ON CONFLICT (youtube_video_id, performance_date) DO NOTHING RETURNING id"},
    ST_LINK_CLIP = {ID_LINK_CLIP, "UPDATE submissions SET clip_id = ? WHERE id = ?"},
    ST_MARK_DUPLICATE = {ID_MARK_DUPLICATE,
        "UPDATE submissions SET status = 'rejected', validation_error = ? WHERE id = ?"},
    ST_GET_SUBMISSION = {ID_GET_SUBMISSION,
        "SELECT s.public_id, c.public_id, cl.public_id, s.status, s.validation_error, "
        "s.raw_youtube_input, s.raw_date_input, s.title, s.notes, s.submitted_at, cl.hidden_at "
        "FROM submissions s JOIN contributors c ON c.id = s.contributor_id "
        "LEFT JOIN clips cl ON cl.id = s.clip_id WHERE s.public_id = ?"},
    ST_GET_CLIP = {ID_GET_CLIP, CLIP_SELECT "WHERE cl.public_id = ?"},
    ST_CLIP_POSITION = {ID_CLIP_POSITION,
        "SELECT performance_date, created_at, id, hidden_at FROM clips WHERE public_id = ?"},
    ST_LIST_FIRST = {ID_LIST_FIRST,
        CLIP_SELECT "WHERE cl.performance_date >= ? AND cl.performance_date <= ? "
        "AND cl.hidden_at IS NULL" CLIP_ORDER},
    /* Keyset: the row-value comparison walks the (performance_date, created_at, id) index
     * from the cursor's position, so a deep page costs what the first one does. The index
     * holds visible clips only (migration 0003): `hidden_at IS NULL` lets the planner use it. */
    ST_LIST_AFTER = {ID_LIST_AFTER,
        CLIP_SELECT "WHERE (cl.performance_date, cl.created_at, cl.id) > (?, ?, ?) "
        "AND cl.performance_date >= ? AND cl.performance_date <= ? AND cl.hidden_at IS NULL"
        CLIP_ORDER},
    /* The same index walked backwards. */
    ST_PREVIOUS = {ID_PREVIOUS,
        CLIP_SELECT "WHERE (cl.performance_date, cl.created_at, cl.id) < (?, ?, ?) "
        "AND cl.hidden_at IS NULL ORDER BY cl.performance_date DESC, cl.created_at DESC, cl.id DESC LIMIT 1"},
    ST_CALENDAR = {ID_CALENDAR,
        "SELECT performance_date, COUNT(*) FROM clips WHERE performance_date >= ? AND "
        "performance_date <= ? AND hidden_at IS NULL GROUP BY performance_date "
        "ORDER BY performance_date"},
    /* After a conflict: is the clip already there one that moderators removed? */
    ST_CLIP_HIDDEN = {ID_CLIP_HIDDEN,
        "SELECT hidden_at FROM clips WHERE youtube_video_id = ? AND performance_date = ? "
        "AND hidden_at IS NOT NULL"};

/* PostgreSQL: the whole submission transaction below in one statement, one round trip
 * (migration 0004 has the function; it follows submission_steps step for step). */
static const struct db_stmt ST_SUBMIT = {ID_SUBMIT,
    "SELECT timewarp_submit(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"};

/* ---- connection and retry ---------------------------------------------------------------- */

enum dialect store_dialect(const struct store *st)
{
    return strcmp(st->drv->name, "postgres") == 0 ? DIALECT_POSTGRES : DIALECT_SQLITE;
}

struct store *store_open(const struct config *c, char *err, size_t err_len)
{
    const struct db_driver *drv = c->engine == DB_POSTGRES ? &db_postgres_driver : &db_sqlite_driver;
    void *conn = drv->connect(c, err, err_len);
    if (!conn)
        return NULL;
    struct store *st = calloc(1, sizeof *st);
    if (!st) {
        drv->disconnect(conn);
        snprintf(err, err_len, "out of memory");
        return NULL;
    }
    st->drv = drv;
    st->conn = conn;
    return st;
}

void store_close(struct store *st)
{
    if (!st)
        return;
    st->drv->disconnect(st->conn);
    free(st);
}

const char *store_last_error(struct store *st) { return st->drv->last_error(st->conn); }

bool store_is_broken(const struct store *st) { return st->broken; }

bool store_reconnect(struct store *st)
{
    if (!st->drv->reconnect(st->conn))
        return false;
    st->broken = false;
    return true;
}

void store_set_deadline(struct store *st, long long deadline_us)
{
    st->deadline_us = deadline_us;
    st->drv->set_deadline(st->conn, deadline_us);
    if (!st->broken && !st->drv->alive(st->conn))
        st->broken = true;
}

/* Counts the rows a statement hands up, for the retry rule. */
struct counted {
    struct store *st;
    db_row_fn fn;
    void *ctx;
};

static void count_row(void *ctx, const char *const *cols, int ncols)
{
    struct counted *c = ctx;
    c->st->rows_delivered++;
    c->fn(c->ctx, cols, ncols);
}

enum db_status store_exec(struct store *st, const struct db_stmt *s, const char *const *params,
                          int nparams, db_row_fn fn, void *ctx)
{
    if (s->id != DB_NOT_CACHED && (s->id < 0 || s->id >= DB_MAX_STMTS)) { /* a programming error, caught by any test */
        log_eventf(LOG_ERROR, "statement id %d is outside the cache (DB_MAX_STMTS %d)", s->id,
                   DB_MAX_STMTS);
        st->last_db_status = DB_ERROR;
        return DB_ERROR;
    }
    /* What only reads: SELECT, and the PRAGMAs run through here (data_version, the checks). */
    if (strncmp(s->sql, "SELECT", 6) != 0 && strncmp(s->sql, "PRAGMA", 6) != 0)
        st->wrote = true;
    struct counted c = {st, fn, ctx};
    enum db_status rc = st->drv->exec(st->conn, s, params, nparams, fn ? count_row : NULL, &c);
    if (rc == DB_OK)
        st->statements_done++;
    return rc;
}

enum db_status store_script(struct store *st, const char *sql)
{
    enum db_status rc = st->drv->exec_script(st->conn, sql);
    if (rc == DB_OK)
        st->statements_done++;
    return rc;
}

enum db_status store_begin_write(struct store *st)
{
    /* In a group (io.c), each operation's transaction is a savepoint of the group's. */
    if (st->group && st->group_failed)
        return DB_BUSY;
    enum db_status rc = st->group ? st->drv->exec_script(st->conn, "SAVEPOINT one_request")
                                  : st->drv->begin_write(st->conn); /* a BEGIN alone changes nothing */
    if (rc == DB_OK) {
        st->statements_done++;
        st->in_transaction = true;
    }
    return rc;
}

enum db_status store_end_write(struct store *st, bool commit)
{
    if (st->group) {
        /* Released into the group's transaction: stored only by the group's COMMIT. */
        enum db_status rc = commit ? DB_OK : st->drv->exec_script(st->conn, "ROLLBACK TO one_request");
        enum db_status released = st->drv->exec_script(st->conn, "RELEASE one_request");
        return rc != DB_OK ? rc : released;
    }
    if (commit)
        st->commit_sent = true;
    return st->drv->end_write(st->conn, commit);
}

bool store_group_begin(struct store *st)
{
    st->group = st->drv->begin_write(st->conn) == DB_OK;
    st->group_failed = false;
    return st->group;
}

bool store_group_end(struct store *st)
{
    st->group = false;
    enum db_status rc = st->drv->end_write(st->conn, !st->group_failed);
    if (st->group_failed)
        rc = DB_BUSY; /* rolled back: nothing of the group is stored */
    /* Committed (or perhaps, if the answer was lost): this connection must look again. */
    store_note_change(st);
    if (rc == DB_NOT_SENT || rc == DB_UNAVAILABLE)
        st->broken = true;
    return rc == DB_OK;
}

bool store_wrote(const struct store *st) { return st->wrote; }

static enum store_status to_store_status(enum db_status rc)
{
    switch (rc) {
    case DB_OK: return STORE_OK;
    case DB_CONFLICT: return STORE_DUPLICATE;
    case DB_ERROR: return STORE_ERROR;
    default: return STORE_UNAVAILABLE; /* not sent, unavailable, busy, retry: a 503 */
    }
}

/* Runs `op`, and runs it again only when that cannot repeat an effect or a row. No row may
 * have been handed to the caller yet, and one of these holds:
 * - the connection was unusable before the first statement reached the database
 *   (typically: the database restarted since our last request);
 * - the operation only reads;
 * - it writes inside a transaction whose COMMIT was not sent: the database rolls an
 *   unfinished transaction back when the connection dies (a killed session, a failover);
 * - the database rolled the whole transaction back (a serialization failure or deadlock).
 * A COMMIT, or a write outside a transaction, that was sent and then lost its answer may
 * have taken effect: it is never repeated (503 instead). Retries stay within the task's
 * deadline. */
#define MAX_ATTEMPTS 3

static enum store_status with_retry_once(struct store *st,
                                         enum store_status (*op)(struct store *, void *), void *args);

static enum store_status with_retry(struct store *st, enum store_status (*op)(struct store *, void *),
                                    void *args)
{
    enum store_status rc = with_retry_once(st, op, args);
    /* The writing connection's own data_version does not move for its own commits: its
     * next change check reads the log (change_log.c). */
    if (st->wrote)
        store_note_change(st);
    return rc;
}

static enum store_status with_retry_once(struct store *st,
                                         enum store_status (*op)(struct store *, void *), void *args)
{
    for (int attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
        if (st->deadline_us && attempt > 0 && monotonic_us() >= st->deadline_us)
            break;
        if (st->broken && !store_reconnect(st))
            return STORE_UNAVAILABLE;
        st->statements_done = 0;
        st->rows_delivered = 0;
        st->wrote = st->in_transaction = st->commit_sent = false;
        st->last_db_status = DB_OK;
        enum store_status rc = op(st, args);
        enum db_status failure = st->last_db_status;
        if (failure == DB_OK || failure == DB_CONFLICT || failure == DB_ERROR)
            return rc;
        bool lost = failure == DB_NOT_SENT || failure == DB_UNAVAILABLE;
        if (lost)
            st->broken = true;
        bool no_effect = (failure == DB_NOT_SENT && st->statements_done == 0) || !st->wrote ||
                         (st->in_transaction && !st->commit_sent);
        bool repeatable = st->rows_delivered == 0 && ((lost && no_effect) || failure == DB_RETRY);
        if (!repeatable)
            break;
    }
    return STORE_UNAVAILABLE;
}

/* Records the status so with_retry can tell a broken connection from other failures. */
static enum db_status track(struct store *st, enum db_status rc)
{
    if (rc != DB_OK)
        st->last_db_status = rc;
    /* A failure in a group may have rolled the group's whole transaction back (SQLite does
     * on an interrupt or a full disk); the writes after it must not start transactions of
     * their own that then commit alone. */
    if (st->group && rc != DB_OK && rc != DB_CONFLICT)
        st->group_failed = true;
    return rc;
}

/* ---- operations ------------------------------------------------------------------------------ */

static enum store_status op_ping(struct store *st, void *args)
{
    (void)args;
    return to_store_status(track(st, store_exec(st, &ST_PING, NULL, 0, NULL, NULL)));
}

enum store_status store_ping(struct store *st) { return with_retry(st, op_ping, NULL); }

/* In a transaction of its own, though it is one statement: a connection lost before the
 * COMMIT then provably wrote nothing, so the insert can be retried (see with_retry). */
static enum store_status op_create_contributor(struct store *st, void *args)
{
    const struct contributor_rec *c = args;
    const char *p[] = {c->id, c->display_name, c->external_id, c->created_at};
    if (track(st, store_begin_write(st)))
        return to_store_status(st->last_db_status);
    if (track(st, store_exec(st, &ST_INSERT_CONTRIBUTOR, p, 4, NULL, NULL))) {
        store_end_write(st, false);
        return to_store_status(st->last_db_status);
    }
    return to_store_status(track(st, store_end_write(st, true)));
}

enum store_status store_create_contributor(struct store *st, const struct contributor_rec *c)
{
    return with_retry(st, op_create_contributor, (void *)c);
}

/* Captures the first column of the first row (ids come back as text). */
struct first_col {
    char value[32];
    bool found;
};

static void capture_first(void *ctx, const char *const *cols, int ncols)
{
    struct first_col *f = ctx;
    if (f->found || ncols < 1 || !cols[0])
        return;
    snprintf(f->value, sizeof f->value, "%s", cols[0]);
    f->found = true;
}

struct submission_args {
    const struct submission_rec *s;
    const struct clip_rec *clip;
    const char *duplicate_error, *removed_error;
};

/* The body of the submission transaction; returns with the transaction still open. */
/* The new submission's row id and its contributor's, as returned by ST_INSERT_SUBMISSION. */
struct inserted_submission {
    char row[32], contributor_row[32];
    bool found;
};

static void capture_inserted(void *ctx, const char *const *cols, int ncols)
{
    struct inserted_submission *i = ctx;
    if (ncols < 2 || !cols[0] || !cols[1])
        return;
    snprintf(i->row, sizeof i->row, "%s", cols[0]);
    snprintf(i->contributor_row, sizeof i->contributor_row, "%s", cols[1]);
    i->found = true;
}

static enum store_status submission_steps(struct store *st, const struct submission_args *a)
{
    const struct submission_rec *s = a->s;
    struct inserted_submission sub = {0};
    struct first_col clip = {0};
    const char *p1[] = {s->id, s->status, s->validation_error, s->raw_youtube_input,
                        s->raw_date_input, s->title, s->notes, s->submitted_at,
                        s->contributor_id};
    if (track(st, store_exec(st, &ST_INSERT_SUBMISSION, p1, 9, capture_inserted, &sub)))
        return STORE_ERROR;
    if (!sub.found)
        return STORE_NOT_FOUND;
    if (!a->clip)
        return STORE_OK;

    const struct clip_rec *c = a->clip;
    const char *p3[] = {c->id, c->youtube_video_id, c->performance_date, c->title, c->notes,
                        c->created_at, sub.contributor_row, sub.row};
    if (track(st, store_exec(st, &ST_INSERT_CLIP, p3, 8, capture_first, &clip)))
        return STORE_ERROR;
    if (clip.found) {
        const char *p4[] = {clip.value, sub.row};
        return track(st, store_exec(st, &ST_LINK_CLIP, p4, 2, NULL, NULL)) ? STORE_ERROR : STORE_OK;
    }
    /* The slot is taken: by a clip in the archive (a duplicate), or by one moderators hid,
     * which stays out whatever URL form the new submission uses. */
    struct first_col hidden = {0};
    const char *p6[] = {c->youtube_video_id, c->performance_date};
    if (track(st, store_exec(st, &ST_CLIP_HIDDEN, p6, 2, capture_first, &hidden)))
        return STORE_ERROR;
    const char *p5[] = {hidden.found ? a->removed_error : a->duplicate_error, sub.row};
    if (track(st, store_exec(st, &ST_MARK_DUPLICATE, p5, 2, NULL, NULL)))
        return STORE_ERROR;
    return hidden.found ? STORE_GONE : STORE_DUPLICATE;
}

/* One statement is its own transaction, so nothing is half-written here either; with no
 * BEGIN, a lost answer is never retried (with_retry: a write outside a transaction). */
static enum store_status submit_in_one_statement(struct store *st, const struct submission_args *a)
{
    const struct submission_rec *s = a->s;
    const struct clip_rec *c = a->clip;
    const char *p[] = {s->id, s->status, s->validation_error, s->raw_youtube_input,
                       s->raw_date_input, s->title, s->notes, s->submitted_at, s->contributor_id,
                       c ? c->id : NULL, c ? c->youtube_video_id : NULL,
                       c ? c->performance_date : NULL, c ? c->title : NULL, c ? c->notes : NULL,
                       c ? c->created_at : NULL, c ? a->duplicate_error : NULL,
                       c ? a->removed_error : NULL};
    struct first_col outcome = {0};
    if (track(st, store_exec(st, &ST_SUBMIT, p, 17, capture_first, &outcome)))
        return to_store_status(st->last_db_status);
    if (strcmp(outcome.value, "no contributor") == 0)
        return STORE_NOT_FOUND;
    if (strcmp(outcome.value, "duplicate") == 0)
        return STORE_DUPLICATE;
    if (strcmp(outcome.value, "gone") == 0)
        return STORE_GONE;
    return outcome.found ? STORE_OK : STORE_ERROR;
}

static enum store_status op_create_submission(struct store *st, void *args)
{
    if (store_dialect(st) == DIALECT_POSTGRES)
        return submit_in_one_statement(st, args);
    if (track(st, store_begin_write(st)))
        return to_store_status(st->last_db_status);
    enum store_status rc = submission_steps(st, args);
    bool keep = rc == STORE_OK || rc == STORE_DUPLICATE || rc == STORE_GONE;
    /* Nothing half-written: a missing contributor or any failure undoes every step. */
    if (track(st, store_end_write(st, keep)) == DB_OK || !keep)
        return rc;
    return to_store_status(st->last_db_status);
}

enum store_status store_create_submission(struct store *st, const struct submission_rec *s,
                                          const struct clip_rec *clip, const char *duplicate_error,
                                          const char *removed_error)
{
    struct submission_args a = {s, clip, duplicate_error, removed_error};
    return with_retry(st, op_create_submission, &a);
}

/* Row → record adapters: column order matches the SELECTs above. */
struct row_visit {
    store_submission_fn on_submission;
    store_clip_fn on_clip;
    void *ctx;
    long rows;
};

static void submission_row(void *ctx, const char *const *c, int n)
{
    struct row_visit *v = ctx;
    if (n < 11)
        return;
    struct submission_rec s = {c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7], c[8], c[9], c[10]};
    v->rows++;
    v->on_submission(v->ctx, &s);
}

static void clip_row(void *ctx, const char *const *c, int n)
{
    struct row_visit *v = ctx;
    if (n < CLIP_COLUMN_COUNT)
        return;
    struct clip_rec r = store_clip_from_row(c);
    v->rows++;
    v->on_clip(v->ctx, &r);
}

struct get_args {
    const struct db_stmt *stmt;
    const char *id;
    struct row_visit *visit;
    db_row_fn row_fn;
};

static enum store_status op_get(struct store *st, void *args)
{
    struct get_args *a = args;
    const char *p[] = {a->id};
    a->visit->rows = 0;
    if (track(st, store_exec(st, a->stmt, p, 1, a->row_fn, a->visit)))
        return to_store_status(st->last_db_status);
    return a->visit->rows ? STORE_OK : STORE_NOT_FOUND;
}

enum store_status store_get_submission(struct store *st, const char *id, store_submission_fn fn,
                                       void *ctx)
{
    struct row_visit v = {fn, NULL, ctx, 0};
    struct get_args a = {&ST_GET_SUBMISSION, id, &v, submission_row};
    return with_retry(st, op_get, &a);
}

enum store_status store_get_clip(struct store *st, const char *id, store_clip_fn fn, void *ctx)
{
    struct row_visit v = {NULL, fn, ctx, 0};
    struct get_args a = {&ST_GET_CLIP, id, &v, clip_row};
    return with_retry(st, op_get, &a);
}

struct list_args {
    const char *from, *to, *after_id;
    int limit;
    struct row_visit *visit;
};

struct position {
    char date[16], created_at[32], row[32];
    bool found, hidden;
};

static void capture_position(void *ctx, const char *const *c, int n)
{
    struct position *p = ctx;
    if (n < 3 || !c[0] || !c[1] || !c[2])
        return;
    snprintf(p->date, sizeof p->date, "%s", c[0]);
    snprintf(p->created_at, sizeof p->created_at, "%s", c[1]);
    snprintf(p->row, sizeof p->row, "%s", c[2]);
    p->hidden = n > 3 && c[3];
    p->found = true;
}

/* Where clip `id` stands in archive order. */
static enum store_status find_position(struct store *st, const char *id, struct position *pos)
{
    const char *p[] = {id};
    if (track(st, store_exec(st, &ST_CLIP_POSITION, p, 1, capture_position, pos)))
        return to_store_status(st->last_db_status);
    return pos->found ? STORE_OK : STORE_NOT_FOUND;
}

static enum store_status op_list(struct store *st, void *args)
{
    struct list_args *a = args;
    char limit[16];
    snprintf(limit, sizeof limit, "%d", a->limit);
    a->visit->rows = 0;
    if (!a->after_id) {
        const char *p[] = {a->from, a->to, limit};
        return to_store_status(track(st, store_exec(st, &ST_LIST_FIRST, p, 3, clip_row, a->visit)));
    }
    struct position pos = {0};
    enum store_status rc = find_position(st, a->after_id, &pos);
    if (rc != STORE_OK)
        return rc;
    const char *p2[] = {pos.date, pos.created_at, pos.row, a->from, a->to, limit};
    return to_store_status(track(st, store_exec(st, &ST_LIST_AFTER, p2, 6, clip_row, a->visit)));
}

enum store_status store_list_clips(struct store *st, const char *from, const char *to,
                                   const char *after_id, int limit, store_clip_fn fn, void *ctx)
{
    struct row_visit v = {NULL, fn, ctx, 0};
    struct list_args a = {from, to, after_id, limit, &v};
    return with_retry(st, op_list, &a);
}

struct neighbor_args {
    const char *id;
    store_clip_fn previous, next;
    void *ctx;
};

static enum store_status op_neighbors(struct store *st, void *args)
{
    struct neighbor_args *a = args;
    struct position pos = {0};
    enum store_status rc = find_position(st, a->id, &pos);
    if (rc != STORE_OK)
        return rc;
    if (pos.hidden)
        return STORE_GONE;
    struct row_visit prev = {NULL, a->previous, a->ctx, 0}, next = {NULL, a->next, a->ctx, 0};
    const char *p1[] = {pos.date, pos.created_at, pos.row};
    const char *p2[] = {pos.date, pos.created_at, pos.row, "0001-01-01", "9999-12-31", "1"};
    if (track(st, store_exec(st, &ST_PREVIOUS, p1, 3, clip_row, &prev)) ||
        track(st, store_exec(st, &ST_LIST_AFTER, p2, 6, clip_row, &next)))
        return to_store_status(st->last_db_status);
    if (!prev.rows)
        a->previous(a->ctx, NULL);
    if (!next.rows)
        a->next(a->ctx, NULL);
    return STORE_OK;
}

enum store_status store_clip_neighbors(struct store *st, const char *id, store_clip_fn previous,
                                       store_clip_fn next, void *ctx)
{
    struct neighbor_args a = {id, previous, next, ctx};
    return with_retry(st, op_neighbors, &a);
}

struct calendar_args {
    const char *from, *to;
    store_day_fn fn;
    void *ctx;
};

static void day_row(void *ctx, const char *const *c, int n)
{
    struct calendar_args *a = ctx;
    if (n >= 2 && c[0] && c[1])
        a->fn(a->ctx, c[0], c[1]);
}

static enum store_status op_calendar(struct store *st, void *args)
{
    struct calendar_args *a = args;
    const char *p[] = {a->from, a->to};
    return to_store_status(track(st, store_exec(st, &ST_CALENDAR, p, 2, day_row, a)));
}

enum store_status store_calendar(struct store *st, const char *from, const char *to, store_day_fn fn,
                                 void *ctx)
{
    struct calendar_args a = {from, to, fn, ctx};
    return with_retry(st, op_calendar, &a);
}

/* ---- for the other store files (store_internal.h) ------------------------------------------ */

enum store_status store_run(struct store *st, enum store_status (*op)(struct store *, void *),
                            void *args)
{
    return with_retry(st, op, args);
}

enum db_status store_track(struct store *st, enum db_status rc) { return track(st, rc); }

enum store_status store_status_from(enum db_status rc) { return to_store_status(rc); }
