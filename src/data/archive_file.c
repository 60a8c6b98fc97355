/* `timewarp export [FILE]` and `timewarp import [FILE]`: the archive as JSON Lines.
 *
 *   {"type":"header","format":"timewarp-archive","format_version":2,"schema_version":3}
 *   {"type":"contributor","id":"ctr_…",…}        one line per record, kinds in the order
 *   {"type":"submission",…}                      of records.c, each kind by row id (the
 *   {"type":"clip",…}                            order the archive received them)
 *   {"type":"report",…}
 *   {"type":"moderation_action",…}
 *   {"type":"end","counts":{"contributor":N,…}}  so a cut-off file is never mistaken for
 *                                                a complete one
 *
 * Format version 1 (before moderation) still imports: its clips get "hidden_at": null, and
 * it may hold only the kinds version 1 had.
 *
 * Export reads one snapshot (a read transaction) in keyset pages, so memory stays flat
 * whatever the archive's size, and it writes to FILE.partial, renamed to FILE when
 * complete. Identical archives give identical bytes: keys in a fixed order, rows by id. */
#include "data/data.h"
#include "data/import.h"
#include "api/json_writer.h"
#include "store/store_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define PAGE_ROWS 500
#define MAX_LINE (8u << 20) /* far beyond any record the API can store */

/* ---- export ----------------------------------------------------------------------------------- */

struct exporter {
    FILE *out;
    const struct record_type *t;
    char after[32]; /* keyset: the last row id written */
    long page_rows, count, total;
    bool out_of_memory;
    struct progress progress;
};

/* False when the line could not be built (out of memory): the export then fails. */
static bool write_line(FILE *out, struct jw *w)
{
    bool ok = !w->failed;
    if (ok) {
        fwrite(w->buf, 1, w->len, out);
        fputc('\n', out);
    }
    jw_free(w);
    return ok;
}

static void export_row(void *ctx, const char *const *cols, int ncols)
{
    struct exporter *e = ctx;
    if (ncols < e->t->nfields + 1)
        return;
    struct jw w;
    jw_init(&w);
    jw_object_open(&w, NULL);
    jw_string(&w, "type", e->t->type);
    for (int f = 0; f < e->t->nfields; f++)
        jw_string(&w, e->t->fields[f].name, cols[f + 1]);
    jw_object_close(&w);
    if (!write_line(e->out, &w))
        e->out_of_memory = true;
    snprintf(e->after, sizeof e->after, "%s", cols[0] ? cols[0] : "0");
    e->page_rows++;
    e->count++;
    progress_tick(&e->progress, ++e->total);
}

static void found(void *ctx, const char *const *cols, int ncols)
{
    (void)cols;
    (void)ncols;
    *(bool *)ctx = true;
}

/* Writes every record of the snapshot; false with err on a database failure. */
static bool export_all(struct store *st, struct exporter *e, char *err, size_t err_len)
{
    enum dialect d = store_dialect(st);
    int version = store_schema_version(st), latest = store_latest_schema_version(st);
    if (version < 1) {
        snprintf(err, err_len, "the database has no schema yet: run `timewarp migrate` first");
        return false;
    }
    /* The record table describes the latest schema's columns (clips.hidden_at, say). */
    if (version != latest) {
        snprintf(err, err_len, "the database schema is at version %d, this timewarp's is %d: %s",
                 version, latest, version < latest ? "run `timewarp migrate` first"
                                                   : "export with the timewarp that serves it");
        return false;
    }
    struct jw w;
    jw_init(&w);
    jw_object_open(&w, NULL);
    jw_string(&w, "type", "header");
    jw_string(&w, "format", ARCHIVE_FORMAT);
    jw_int(&w, "format_version", ARCHIVE_FORMAT_VERSION);
    jw_int(&w, "schema_version", version);
    jw_object_close(&w);
    if (!write_line(e->out, &w)) {
        snprintf(err, err_len, "out of memory");
        return false;
    }

    jw_init(&w);
    jw_object_open(&w, NULL);
    jw_string(&w, "type", "end");
    jw_object_open(&w, "counts");
    for (e->t = record_types; e->t->type; e->t++) {
        bool present = false;
        const char *name[] = {e->t->table};
        if (store_exec(st, &st_table_exists[d], name, 1, found, &present) != DB_OK)
            break;
        if (!present)
            continue; /* an older schema: this kind does not exist there yet */
        snprintf(e->after, sizeof e->after, "0");
        e->count = 0;
        do {
            char limit[16];
            snprintf(limit, sizeof limit, "%d", PAGE_ROWS);
            const char *p[] = {e->after, limit};
            e->page_rows = 0;
            if (store_exec(st, &e->t->page[d], p, 2, export_row, e) != DB_OK) {
                jw_free(&w);
                snprintf(err, err_len, "reading %s failed: %s", e->t->table, store_last_error(st));
                return false;
            }
        } while (e->page_rows == PAGE_ROWS);
        jw_int(&w, e->t->type, e->count);
    }
    jw_object_close(&w);
    jw_object_close(&w);
    if (!write_line(e->out, &w) || e->out_of_memory) {
        snprintf(err, err_len, "out of memory");
        return false;
    }
    return true;
}

int data_export(const struct config *c, const char *path, const struct data_options *o)
{
    char err[3000], partial[1100];
    bool to_stdout = !path || strcmp(path, "-") == 0;
    struct store *st = store_open(c, err, sizeof err);
    if (!st) {
        fprintf(stderr, "export: %s\n", err);
        return 1;
    }
    data_session_unbounded(st);
    FILE *out = stdout;
    if (!to_stdout) {
        snprintf(partial, sizeof partial, "%s.partial", path);
        out = fopen(partial, "w");
        if (!out) {
            fprintf(stderr, "export: cannot write %s: %s\n", partial, strerror(errno));
            store_close(st);
            return 1;
        }
    }
    static char buffer[1 << 20];
    setvbuf(out, buffer, _IOFBF, sizeof buffer);

    /* One snapshot for the whole file while the server goes on writing: SQLite's read
     * transaction (WAL) starts at the first read; PostgreSQL's at BEGIN. */
    const char *begin = store_dialect(st) == DIALECT_POSTGRES
                            ? "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"
                            : "BEGIN";
    struct exporter e = {.out = out};
    progress_start(&e.progress, "export", o->progress);
    bool ok = store_script(st, begin) == DB_OK;
    if (!ok)
        snprintf(err, sizeof err, "cannot start a read transaction: %s", store_last_error(st));
    ok = ok && export_all(st, &e, err, sizeof err);
    store_script(st, "ROLLBACK"); /* read only: nothing to keep */
    store_close(st);

    if (fflush(out) != 0 || ferror(out)) {
        if (ok)
            snprintf(err, sizeof err, "writing failed: %s", strerror(errno));
        ok = false;
    }
    if (!to_stdout) {
        if (ok && fsync(fileno(out)) != 0) {
            snprintf(err, sizeof err, "writing %s failed: %s", partial, strerror(errno));
            ok = false;
        }
        fclose(out);
        if (ok && rename(partial, path) != 0) {
            snprintf(err, sizeof err, "cannot rename %s to %s: %s", partial, path, strerror(errno));
            ok = false;
        }
        if (!ok)
            unlink(partial);
    }
    if (!ok) {
        fprintf(stderr, "export: %s\n", err);
        return 1;
    }
    progress_done(&e.progress, e.total, "exported");
    return 0;
}

/* ---- import ----------------------------------------------------------------------------------- */

static bool check_header(json_t *rec, char *err, size_t err_len)
{
    const char *format = json_string_value(json_object_get(rec, "format"));
    json_t *fv = json_object_get(rec, "format_version"), *sv = json_object_get(rec, "schema_version");
    if (!format || strcmp(format, ARCHIVE_FORMAT) != 0 || !json_is_integer(fv) || !json_is_integer(sv) ||
        json_object_size(rec) != 4) {
        snprintf(err, err_len, "line 1: not a Time Warp archive header "
                 "({\"type\":\"header\",\"format\":\"%s\",\"format_version\":…,\"schema_version\":…})",
                 ARCHIVE_FORMAT);
        return false;
    }
    if (json_integer_value(fv) < ARCHIVE_FORMAT_OLDEST || json_integer_value(fv) > ARCHIVE_FORMAT_VERSION) {
        snprintf(err, err_len, "line 1: format version %lld; this timewarp reads versions %d to %d",
                 (long long)json_integer_value(fv), ARCHIVE_FORMAT_OLDEST, ARCHIVE_FORMAT_VERSION);
        return false;
    }
    return true;
}

/* A record of a version 1 file as version 2 has it: clips were all visible, and there
 * were no moderation records. False with err for a kind version 1 did not have. */
static bool upgrade_v1(long line, json_t *rec, const char *type, char *err, size_t err_len)
{
    if (strcmp(type, "clip") == 0 && !json_object_get(rec, "hidden_at"))
        json_object_set_new(rec, "hidden_at", json_null());
    if (strcmp(type, "report") == 0 || strcmp(type, "moderation_action") == 0) {
        snprintf(err, err_len, "line %ld: a format version 1 file has no %s records", line, type);
        return false;
    }
    return true;
}

/* The end record: its counts must be what the file held, or lines went missing. */
static bool check_end(struct importer *imp, long line, json_t *rec, char *err, size_t err_len)
{
    json_t *counts = json_object_get(rec, "counts"), *v;
    const char *key;
    if (!json_is_object(counts) || json_object_size(rec) != 2) {
        snprintf(err, err_len, "line %ld: an end record is {\"type\":\"end\",\"counts\":{…}}", line);
        return false;
    }
    json_object_foreach(counts, key, v) {
        if (!record_type_named(key) || !json_is_integer(v)) {
            snprintf(err, err_len, "line %ld: end record: unknown count '%.40s'", line, key);
            return false;
        }
    }
    for (const struct record_type *t = record_types; t->type; t++) {
        long want = json_integer_value(json_object_get(counts, t->type)), got = importer_count(imp, t->type);
        if (want != got) {
            snprintf(err, err_len, "line %ld: the end record counts %ld %s records, the file has %ld: "
                     "it is incomplete or was edited", line, want, t->type, got);
            return false;
        }
    }
    return true;
}

/* Reads the file line by line into the importer; false with err at the first problem. */
static bool read_archive(FILE *in, struct importer *imp, char *err, size_t err_len)
{
    char *buf = NULL;
    size_t cap = 0;
    ssize_t n;
    long line = 0;
    bool ended = false, ok = true;
    json_int_t format_version = ARCHIVE_FORMAT_VERSION;
    while (ok && (n = getline(&buf, &cap, in)) >= 0) {
        line++;
        if (ended) {
            snprintf(err, err_len, "line %ld: nothing may follow the end record", line);
            ok = false;
            break;
        }
        if (n == 0 || buf[n - 1] != '\n') {
            snprintf(err, err_len, "line %ld has no newline at its end: the file is truncated", line);
            ok = false;
            break;
        }
        if ((size_t)n > MAX_LINE) {
            snprintf(err, err_len, "line %ld is longer than %u bytes", line, MAX_LINE);
            ok = false;
            break;
        }
        json_error_t jerr;
        json_t *rec = json_loadb(buf, (size_t)n - 1, JSON_REJECT_DUPLICATES, &jerr);
        const char *type = json_string_value(json_object_get(rec, "type"));
        if (!rec || !json_is_object(rec) || !type) {
            snprintf(err, err_len, "line %ld is not a record (a JSON object with a \"type\")%s%s", line,
                     rec ? "" : ": ", rec ? "" : jerr.text);
            ok = false;
        } else if (line == 1 && strcmp(type, "header") != 0) {
            snprintf(err, err_len, "line 1 is not an archive header: is this a `timewarp export` file?");
            ok = false;
        } else if (strcmp(type, "header") == 0) {
            ok = line == 1 && check_header(rec, err, err_len);
            format_version = json_integer_value(json_object_get(rec, "format_version"));
            if (line != 1)
                snprintf(err, err_len, "line %ld: a header may only be the first line", line);
            else if (ok && json_integer_value(json_object_get(rec, "schema_version")) >
                               importer_schema_version(imp)) {
                snprintf(err, err_len, "line 1: the file is from schema version %lld, newer than this "
                         "database's (%d): import it with the timewarp that wrote it",
                         (long long)json_integer_value(json_object_get(rec, "schema_version")),
                         importer_schema_version(imp));
                ok = false;
            }
        } else if (strcmp(type, "end") == 0) {
            ok = check_end(imp, line, rec, err, err_len);
            ended = true;
        } else {
            ok = (format_version > 1 || upgrade_v1(line, rec, type, err, err_len)) &&
                 importer_add(imp, line, rec, err, err_len);
        }
        json_decref(rec);
    }
    if (ok && ferror(in)) {
        snprintf(err, err_len, "reading failed after line %ld: %s", line, strerror(errno));
        ok = false;
    } else if (ok && line == 0) {
        snprintf(err, err_len, "the file is empty");
        ok = false;
    } else if (ok && !ended) {
        snprintf(err, err_len, "the file ends after line %ld without its end record: it is truncated", line);
        ok = false;
    }
    free(buf);
    return ok;
}

int data_import(const struct config *c, const char *path, const struct data_options *o)
{
    char err[1200];
    bool from_stdin = !path || strcmp(path, "-") == 0;
    FILE *in = from_stdin ? stdin : fopen(path, "r");
    if (!in) {
        fprintf(stderr, "import: cannot read %s: %s\n", path, strerror(errno));
        return 1;
    }
    struct store *st = store_open(c, err, sizeof err);
    struct importer *imp = st ? importer_begin(st, o, err, sizeof err) : NULL;
    bool ok = imp != NULL;
    if (imp) {
        ok = read_archive(in, imp, err, sizeof err);
        /* A problem the writer found is on an earlier line than any the reader stopped at. */
        char finish_err[1200];
        if (!importer_finish(imp, ok, finish_err, sizeof finish_err) && (ok || finish_err[0])) {
            snprintf(err, sizeof err, "%s", finish_err[0] ? finish_err : "the import was rolled back");
            ok = false;
        }
    }
    store_close(st);
    if (!from_stdin)
        fclose(in);
    if (!ok) {
        fprintf(stderr, "import: %s\nimport: nothing was changed (an import is one transaction)\n", err);
        return 1;
    }
    return 0;
}
