/* Import: archive files (JSON Lines, see README "Export and import") into the database, all
 * or nothing. Records are validated with the API's rules, gathered in batches of one kind,
 * and each batch is one INSERT that skips records already present plus one query that
 * names the first line whose record is not now stored exactly as written: a record that
 * conflicts with what is there, or names something that is not. That line is explained,
 * the transaction rolled back, and nothing has changed.
 *
 * Two threads: the caller's parses and checks records and fills batches; a writer thread
 * owns the transaction (begin, every batch, the final checks, commit or rollback: all on
 * one thread, as the SQLite driver's writer mutex needs) and takes finished batches from a
 * queue of two. Parsing one batch then overlaps writing the one before. */
#include "data/import.h"
#include "api/json_writer.h"
#include "store/store_internal.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BATCH_ROWS 5000
#define BATCH_BYTES (4u << 20)
#define MAX_TYPES 16
#define QUEUE_SLOTS 2
#define MAX_INDEXES 16

/* Records of one kind as one JSON array of rows [line, field 1, …, field n]. */
struct batch {
    const struct record_type *t;
    struct jw rows;
    int nrows;
};

struct importer {
    struct store *st;
    enum dialect d;
    const struct data_options *o;
    int schema_version;
    bool present[MAX_TYPES]; /* the kind's table exists in the target */
    /* The reading side (the caller's thread). */
    long counts[MAX_TYPES];
    long records, refused;
    struct batch *filling;
    struct progress progress;
    /* Shared with the writer, under `lock`. */
    pthread_t writer;
    pthread_mutex_t lock;
    pthread_cond_t changed;
    struct batch *queue[QUEUE_SLOTS];
    int queued;
    bool closing, commit; /* no more batches; then commit (or roll back) */
    bool failed;          /* the writer stopped: `error` says why */
    char error[1200];
    /* The writer's own. */
    long inserted;
    bool bulk; /* an empty archive: secondary indexes (PostgreSQL: and foreign keys) dropped */
    char *index_sql[MAX_INDEXES]; /* SQLite's bulk load: the dropped indexes' definitions */
    int nindexes;
};
/* Where a record came from, in messages: a line of a file, or a record of another database. */
#define UNIT(imp) ((imp)->o->unit ? (imp)->o->unit : "line")

static int type_index(const struct record_type *t) { return (int)(t - record_types); }

static void found_row(void *ctx, const char *const *cols, int ncols)
{
    (void)cols;
    (void)ncols;
    *(bool *)ctx = true;
}

static void *writer_main(void *arg);

struct importer *importer_begin(struct store *st, const struct data_options *o, char *err,
                                size_t err_len)
{
    struct importer *imp = calloc(1, sizeof *imp);
    if (!imp) {
        snprintf(err, err_len, "out of memory");
        return NULL;
    }
    imp->st = st;
    imp->d = store_dialect(st);
    data_session_unbounded(st);
    imp->o = o;
    imp->schema_version = store_schema_version(st);
    int latest = store_latest_schema_version(st);
    if (imp->schema_version != latest) {
        snprintf(err, err_len,
                 "the database schema is at version %d, not %d: run `timewarp migrate` first",
                 imp->schema_version < 0 ? 0 : imp->schema_version, latest);
        free(imp);
        return NULL;
    }
    /* The server's connections keep a 1 MiB page cache; a bulk load touching six indexes
     * needs the indexes' upper levels in memory, or it re-reads them for every batch. */
    if (imp->d == DIALECT_SQLITE)
        store_script(st, "PRAGMA cache_size=-65536");
    /* The tables grow by a million rows inside one transaction, where no statistics are
     * gathered: a plan cached while they were small (a sequential scan) would stay and make
     * the import quadratic. Plan each batch for the tables as they are. */
    if (imp->d == DIALECT_POSTGRES)
        store_script(st, "SET plan_cache_mode = force_custom_plan");
    for (const struct record_type *t = record_types; t->type; t++) {
        const char *p[] = {t->table};
        store_exec(st, &st_table_exists[imp->d], p, 1, found_row, &imp->present[type_index(t)]);
    }
    pthread_mutex_init(&imp->lock, NULL);
    pthread_cond_init(&imp->changed, NULL);
    if (pthread_create(&imp->writer, NULL, writer_main, imp) != 0) {
        snprintf(err, err_len, "cannot start the writer thread");
        pthread_mutex_destroy(&imp->lock);
        pthread_cond_destroy(&imp->changed);
        free(imp);
        return NULL;
    }
    progress_start(&imp->progress, "import", o->progress);
    return imp;
}

int importer_schema_version(struct importer *imp) { return imp->schema_version; }

long importer_count(struct importer *imp, const char *type)
{
    const struct record_type *t = record_type_named(type);
    return t ? imp->counts[type_index(t)] : 0;
}

/* ---- explaining a line the database did not take ------------------------------------------ */

struct stored_row {
    char *cols[RECORD_MAX_FIELDS + 1];
    bool found;
};

static void capture_row(void *ctx, const char *const *cols, int ncols)
{
    struct stored_row *r = ctx;
    for (int i = 0; i < ncols && i <= RECORD_MAX_FIELDS; i++)
        r->cols[i] = cols[i] ? strdup(cols[i]) : NULL;
    r->found = true;
}

static void free_row(struct stored_row *r)
{
    for (int i = 0; i <= RECORD_MAX_FIELDS; i++)
        free(r->cols[i]);
}

static bool get_stored(struct importer *imp, const struct record_type *t, const char *id,
                       struct stored_row *r)
{
    const char *p[] = {id};
    memset(r, 0, sizeof *r);
    return store_exec(imp->st, &t->get[imp->d], p, 1, capture_row, r) == DB_OK && r->found;
}

static const char *shown(const char *v) { return v ? v : "null"; }

/* Why the record on `line` of batch `b` is not stored as written. */
static void explain(struct importer *imp, const struct batch *b, long line, char *why, size_t n)
{
    const struct record_type *t = b->t;
    json_t *batch = json_loadb(b->rows.buf, b->rows.len, 0, NULL), *row = NULL;
    size_t i;
    json_t *r;
    json_array_foreach(batch, i, r) if (json_integer_value(json_array_get(r, 0)) == line) row = r;
    if (!row) {
        snprintf(why, n, "could not be stored: %s", store_last_error(imp->st));
        json_decref(batch);
        return;
    }
    struct stored_row stored;
    if (get_stored(imp, t, json_string_value(json_array_get(row, 1)), &stored)) {
        for (int f = 1; f < t->nfields; f++) {
            const char *db = stored.cols[f + 1], *file = json_string_value(json_array_get(row, f + 1));
            if ((db == NULL) != (file == NULL) || (db && strcmp(db, file) != 0)) {
                snprintf(why, n, "is already in the archive with another %s: %.80s%s%s (in the file: %.80s%s%s)",
                         t->fields[f].name, db ? "\"" : "", shown(db), db ? "\"" : "",
                         file ? "\"" : "", shown(file), file ? "\"" : "");
                free_row(&stored);
                json_decref(batch);
                return;
            }
        }
    }
    free_row(&stored);
    for (int f = 1; f < t->nfields; f++) {
        const struct record_type *ref = record_type_named(t->fields[f].ref_type);
        const char *id = json_string_value(json_array_get(row, f + 1));
        if (!ref || !id)
            continue;
        bool there = get_stored(imp, ref, id, &stored);
        free_row(&stored);
        if (!there) {
            snprintf(why, n, "names %s %s, which is neither in the archive nor earlier in the file",
                     ref->type, id);
            json_decref(batch);
            return;
        }
    }
    if (!t->explain || !t->explain(imp->st, imp->d, row, why, n))
        snprintf(why, n, "could not be stored as written");
    json_decref(batch);
}

/* ---- batches -------------------------------------------------------------------------------- */

struct first_line {
    long line;
    bool found;
};

static void capture_line(void *ctx, const char *const *cols, int ncols)
{
    struct first_line *f = ctx;
    if (!f->found && ncols > 0 && cols[0]) {
        f->line = atol(cols[0]);
        f->found = true;
    }
}

static void count_row(void *ctx, const char *const *cols, int ncols)
{
    (void)cols;
    (void)ncols;
    (*(long *)ctx)++;
}

static void count_first(void *ctx, const char *const *cols, int ncols)
{
    if (ncols > 0 && cols[0])
        *(long *)ctx = atol(cols[0]);
}

struct final_problem {
    long line;
    char reason[400];
    bool found;
};

static void capture_problem(void *ctx, const char *const *cols, int ncols)
{
    struct final_problem *p = ctx;
    if (p->found || ncols < 2)
        return;
    p->line = cols[0] ? atol(cols[0]) : 0;
    snprintf(p->reason, sizeof p->reason, "%s", cols[1] ? cols[1] : "inconsistent records");
    p->found = true;
}

static void free_batch(struct batch *b)
{
    if (b) {
        jw_free(&b->rows);
        free(b);
    }
}

/* The batch's insert: in the bulk load, first the one that takes a record already stored
 * for an error (cheaper: no speculative insertion), inside a savepoint; a clash there can
 * only be the file saying a record twice, and the batch is then taken the ordinary way,
 * whose verify names the line. True when the insert ran, with `inserted` rows. */
static bool insert_rows(struct importer *imp, struct batch *b, const char *const *p, long *inserted)
{
    const struct record_type *t = b->t;
    if (imp->bulk) {
        if (store_script(imp->st, "SAVEPOINT batch") != DB_OK)
            return false;
        enum db_status rc = store_exec(imp->st, &t->insert_fresh[imp->d], p, 1, count_row, inserted);
        if (rc == DB_OK)
            return store_script(imp->st, "RELEASE SAVEPOINT batch") == DB_OK;
        if (rc != DB_CONFLICT || store_script(imp->st, "ROLLBACK TO SAVEPOINT batch") != DB_OK ||
            store_script(imp->st, "RELEASE SAVEPOINT batch") != DB_OK)
            return false;
        *inserted = 0;
    }
    return store_exec(imp->st, &t->insert[imp->d], p, 1, count_row, inserted) == DB_OK;
}

/* Writes one batch (writer thread); false with err, naming the line, on the first problem. */
static bool write_batch(struct importer *imp, struct batch *b, char *err, size_t err_len)
{
    const struct record_type *t = b->t;
    jw_array_close(&b->rows);
    if (b->rows.failed) {
        snprintf(err, err_len, "out of memory");
        return false;
    }
    const char *p[] = {b->rows.buf};
    struct first_line bad = {0};
    long inserted = 0, ignored = 0;
    bool ok = insert_rows(imp, b, p, &inserted) &&
              (!t->after[imp->d].sql ||
               store_exec(imp->st, &t->after[imp->d], p, 1, count_row, &ignored) == DB_OK);
    imp->inserted += inserted;
    if (ok && inserted < b->nrows)
        ok = store_exec(imp->st, &t->verify[imp->d], p, 1, capture_line, &bad) == DB_OK;
    if (!ok) {
        snprintf(err, err_len, "the database refused a batch of %s records: %s", t->type,
                 store_last_error(imp->st));
    } else if (bad.found) {
        char why[600];
        explain(imp, b, bad.line, why, sizeof why);
        snprintf(err, err_len, "%s %ld: %s record %s", UNIT(imp), bad.line, t->type, why);
        ok = false;
    }
    return ok;
}

/* Once every batch is in: link, check across records, commit (writer thread). */
static bool finish_writes(struct importer *imp, char *err, size_t err_len)
{
    bool ok = true;
    if (store_exec(imp->st, &st_link_claims[imp->d], NULL, 0, NULL, NULL) != DB_OK) {
        snprintf(err, err_len, "linking submissions to their clips failed: %s", store_last_error(imp->st));
        ok = false;
    }
    for (int i = 0; ok && i < st_final_check_count; i++) {
        struct final_problem p = {0};
        if (store_exec(imp->st, &st_final_checks[i][imp->d], NULL, 0, capture_problem, &p) != DB_OK) {
            snprintf(err, err_len, "checking the imported records failed: %s", store_last_error(imp->st));
            ok = false;
        } else if (p.found && p.line > 0) {
            snprintf(err, err_len, "%s %ld: %s", UNIT(imp), p.line, p.reason);
            ok = false;
        } else if (p.found) {
            snprintf(err, err_len, "%s", p.reason);
            ok = false;
        }
    }
    for (int i = 0; ok && i < imp->nindexes; i++)
        if (store_script(imp->st, imp->index_sql[i]) != DB_OK) {
            snprintf(err, err_len, "re-creating an index failed: %s", store_last_error(imp->st));
            ok = false;
        }
    if (ok && imp->bulk && imp->d == DIALECT_POSTGRES && store_script(imp->st, bulk_load_end_sql) != DB_OK) {
        snprintf(err, err_len, "restoring the foreign keys and indexes failed: %s", store_last_error(imp->st));
        ok = false;
    }
    if (ok && store_end_write(imp->st, true) != DB_OK) {
        snprintf(err, err_len, "commit failed: %s", store_last_error(imp->st));
        return false;
    }
    return ok;
}

/* PostgreSQL: the empty-archive bulk load when it can be had (records.c), else nothing
 * changes; inside a savepoint, so a refusal (not the owner, a lock wait) costs nothing. */
static void try_bulk_load(struct importer *imp)
{
    long dropped = 0;
    if (store_script(imp->st, "SAVEPOINT bulk_load") != DB_OK)
        return;
    if (store_script(imp->st, bulk_load_begin_sql) != DB_OK ||
        store_exec(imp->st, &st_bulk_loading, NULL, 0, count_first, &dropped) != DB_OK) {
        store_script(imp->st, "ROLLBACK TO SAVEPOINT bulk_load");
        return;
    }
    store_script(imp->st, "RELEASE SAVEPOINT bulk_load");
    imp->bulk = dropped > 0;
}

struct index_list {
    struct importer *imp;
    char *names[MAX_INDEXES];
    bool unusual; /* a name that is not a plain identifier, or too many: keep the indexes */
};

static void capture_index(void *ctx, const char *const *cols, int ncols)
{
    struct index_list *l = ctx;
    struct importer *imp = l->imp;
    if (ncols < 2 || !cols[0] || !cols[1] || imp->nindexes == MAX_INDEXES ||
        strspn(cols[0], "abcdefghijklmnopqrstuvwxyz0123456789_") != strlen(cols[0])) {
        l->unusual = true;
        return;
    }
    l->names[imp->nindexes] = strdup(cols[0]);
    imp->index_sql[imp->nindexes++] = strdup(cols[1]);
}

/* SQLite: into an empty archive, the secondary indexes are dropped now and re-created from
 * their definitions before commit (records.c says why), all inside the transaction. */
static void try_bulk_load_sqlite(struct importer *imp)
{
    struct index_list l = {.imp = imp};
    bool ok = store_exec(imp->st, &st_sqlite_bulk_indexes, NULL, 0, capture_index, &l) == DB_OK &&
              !l.unusual && imp->nindexes > 0 && store_script(imp->st, "SAVEPOINT bulk_load") == DB_OK;
    bool dropped = ok;
    for (int i = 0; dropped && i < imp->nindexes; i++) {
        char sql[128]; /* the name is a plain identifier (capture_index) */
        snprintf(sql, sizeof sql, "DROP INDEX %s", l.names[i] ? l.names[i] : "");
        dropped = l.names[i] && imp->index_sql[i] && store_script(imp->st, sql) == DB_OK;
    }
    if (ok && !dropped) /* a refusal costs nothing: every index is still there */
        store_script(imp->st, "ROLLBACK TO SAVEPOINT bulk_load");
    if (ok)
        ok = store_script(imp->st, "RELEASE SAVEPOINT bulk_load") == DB_OK && dropped;
    for (int i = 0; i < imp->nindexes; i++) {
        free(l.names[i]);
        if (!ok)
            free(imp->index_sql[i]);
    }
    if (!ok)
        imp->nindexes = 0;
    imp->bulk = ok;
}

static void *writer_main(void *arg)
{
    struct importer *imp = arg;
    char err[1200] = "";
    bool ok = store_begin_write(imp->st) == DB_OK && store_script(imp->st, import_setup_sql) == DB_OK;
    if (!ok)
        snprintf(err, sizeof err, "cannot start the import transaction: %s", store_last_error(imp->st));
    else if (imp->d == DIALECT_POSTGRES)
        try_bulk_load(imp);
    else
        try_bulk_load_sqlite(imp);
    for (;;) {
        pthread_mutex_lock(&imp->lock);
        if (!ok && !imp->failed) { /* tell the reader at once: it stops at its next batch */
            imp->failed = true;
            snprintf(imp->error, sizeof imp->error, "%s", err);
            pthread_cond_broadcast(&imp->changed);
        }
        while (imp->queued == 0 && !imp->closing)
            pthread_cond_wait(&imp->changed, &imp->lock);
        struct batch *b = NULL;
        if (imp->queued > 0) {
            b = imp->queue[0];
            memmove(imp->queue, imp->queue + 1, sizeof imp->queue[0] * (size_t)--imp->queued);
            pthread_cond_broadcast(&imp->changed);
        }
        bool commit = imp->commit;
        pthread_mutex_unlock(&imp->lock);
        if (!b) {
            if (ok && commit)
                ok = finish_writes(imp, err, sizeof err);
            else
                ok = false;
            break;
        }
        if (ok)
            ok = write_batch(imp, b, err, sizeof err);
        free_batch(b);
    }
    if (!ok)
        store_end_write(imp->st, false);
    pthread_mutex_lock(&imp->lock);
    if (!ok && !imp->failed && err[0]) {
        imp->failed = true;
        snprintf(imp->error, sizeof imp->error, "%s", err);
    }
    imp->commit = ok; /* what happened, for importer_finish */
    pthread_mutex_unlock(&imp->lock);
    return NULL;
}

/* Hands the filling batch to the writer, waiting while the queue is full; false (with the
 * writer's error) once the writer has stopped. */
static bool submit(struct importer *imp, char *err, size_t err_len)
{
    struct batch *b = imp->filling;
    imp->filling = NULL;
    if (!b)
        return true;
    pthread_mutex_lock(&imp->lock);
    while (imp->queued == QUEUE_SLOTS && !imp->failed)
        pthread_cond_wait(&imp->changed, &imp->lock);
    bool ok = !imp->failed;
    if (ok) {
        imp->queue[imp->queued++] = b;
        pthread_cond_broadcast(&imp->changed);
    } else {
        snprintf(err, err_len, "%s", imp->error);
    }
    pthread_mutex_unlock(&imp->lock);
    if (!ok)
        free_batch(b);
    return ok;
}

/* The record's keys are exactly "type" and the kind's fields, each a string or null. */
static bool well_formed(const struct record_type *t, json_t *rec, char *why, size_t n)
{
    const char *key;
    json_t *v;
    json_object_foreach(rec, key, v) {
        int f = 0;
        while (f < t->nfields && strcmp(t->fields[f].name, key) != 0)
            f++;
        if (f == t->nfields && strcmp(key, "type") != 0) {
            snprintf(why, n, "unknown field '%.60s'", key);
            return false;
        }
        if (f < t->nfields && !json_is_string(v) && !json_is_null(v)) {
            snprintf(why, n, "'%s' must be a string or null", key);
            return false;
        }
    }
    for (int f = 0; f < t->nfields; f++)
        if (!json_object_get(rec, t->fields[f].name)) {
            snprintf(why, n, "'%s' is missing", t->fields[f].name);
            return false;
        }
    return true;
}

bool importer_add(struct importer *imp, long line, json_t *rec, char *err, size_t err_len)
{
    const char *type = json_string_value(json_object_get(rec, "type"));
    const struct record_type *t = record_type_named(type);
    char why[400];
    if (!t) {
        snprintf(err, err_len, "%s %ld: unknown record type '%.40s'", UNIT(imp), line, type ? type : "(none)");
        return false;
    }
    if (!imp->present[type_index(t)]) {
        snprintf(err, err_len, "%s %ld: this database has no %s table for %s records", UNIT(imp), line,
                 t->table, t->type);
        return false;
    }
    if (!well_formed(t, rec, why, sizeof why)) {
        snprintf(err, err_len, "%s %ld: %s record: %s", UNIT(imp), line, t->type, why);
        return false;
    }
    const char *id = json_string_value(json_object_get(rec, "id"));
    switch (t->validate(rec, why, sizeof why)) {
    case RECORD_OK:
        break;
    case RECORD_BROKEN:
        snprintf(err, err_len, "%s %ld: %s %.40s: %s", UNIT(imp), line, t->type, shown(id), why);
        return false;
    case RECORD_REFUSED:
        if (!imp->o->accept_invalid) {
            snprintf(err, err_len, "%s %ld: %s %s: %s (the API refuses such records; "
                     "--accept-invalid imports them as they are, listing each)", UNIT(imp), line, t->type, id, why);
            return false;
        }
        imp->refused++;
        fprintf(stderr, "import: %s %ld: %s %s imported as it is, although %s\n", UNIT(imp), line, t->type, id, why);
        break;
    }
    struct batch *b = imp->filling;
    if (b && (b->t != t || b->nrows >= BATCH_ROWS || b->rows.len >= BATCH_BYTES)) {
        if (!submit(imp, err, err_len))
            return false;
        b = NULL;
    }
    if (!b) {
        if (!(b = imp->filling = calloc(1, sizeof *b))) {
            snprintf(err, err_len, "out of memory");
            return false;
        }
        b->t = t;
        jw_init(&b->rows);
        jw_array_open(&b->rows, NULL);
    }
    jw_array_open(&b->rows, NULL);
    jw_int(&b->rows, NULL, line);
    for (int f = 0; f < t->nfields; f++)
        jw_string(&b->rows, NULL, json_string_value(json_object_get(rec, t->fields[f].name)));
    jw_array_close(&b->rows);
    b->nrows++;
    imp->counts[type_index(t)]++;
    progress_tick(&imp->progress, ++imp->records);
    return true;
}

bool importer_finish(struct importer *imp, bool commit, char *err, size_t err_len)
{
    /* Even when the reader failed, the writer gets the last batch: a problem it finds there
     * is on an earlier line than the reader's, and the earliest one is the one to report. */
    char submit_err[8];
    submit(imp, submit_err, sizeof submit_err);
    pthread_mutex_lock(&imp->lock);
    imp->closing = true;
    imp->commit = commit;
    pthread_cond_broadcast(&imp->changed);
    pthread_mutex_unlock(&imp->lock);
    pthread_join(imp->writer, NULL);
    bool ok = imp->commit && commit;
    snprintf(err, err_len, "%s", imp->failed ? imp->error : "");
    if (ok) {
        char what[300];
        snprintf(what, sizeof what, "read: %ld new, %ld already in the archive%s%s", imp->inserted,
                 imp->records - imp->inserted,
                 imp->refused ? " (some the API would refuse: listed above)" : "",
                 !imp->bulk ? "" : imp->d == DIALECT_POSTGRES
                     ? " (an empty archive: loaded with its foreign keys and secondary indexes "
                       "re-created afterwards)"
                     : " (an empty archive: loaded with its secondary indexes re-created afterwards)");
        progress_done(&imp->progress, imp->records, what);
    }
    for (int i = 0; i < imp->queued; i++)
        free_batch(imp->queue[i]);
    for (int i = 0; i < imp->nindexes; i++)
        free(imp->index_sql[i]);
    free_batch(imp->filling);
    pthread_mutex_destroy(&imp->lock);
    pthread_cond_destroy(&imp->changed);
    free(imp);
    return ok;
}
