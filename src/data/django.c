/* `timewarp import --django URL`: the database of the Django original (tables
 * archive_contributor, archive_submission, archive_clip) read in one snapshot and turned
 * into our records, which go through the same importer as an archive file.
 *
 * What changes on the way (README "Importing the Django original"):
 * - public ids are kept as they are (both are a prefix + uuid4 hex);
 * - timestamps are rewritten in our fixed-width form (same instant, six fractional digits);
 * - a clip's added_via_submission_id is its first accepted submission;
 * - a clip without a title gets "" (what both APIs show);
 * - records our rules would have refused (the original accepted `evil.example/?v=ID`,
 *   compact and future dates) are imported as they are, and each is listed on stderr with
 *   its id, so links keep working and nothing is silently dropped. */
#include "data/data.h"
#include "data/import.h"
#include "domain/timestamp.h"
#include "store/store_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define PAGE_ROWS 500

/* Column 0 is the row id (keyset); the rest map onto the record's fields in order. */
static const struct db_stmt
    ST_DJ_CONTRIBUTORS = {82,
        "SELECT id, public_id, display_name, external_id, created_at FROM archive_contributor "
        "WHERE id > ? ORDER BY id LIMIT ?"},
    ST_DJ_SUBMISSIONS = {83,
        "SELECT s.id, s.public_id, c.public_id, cl.public_id, s.status, s.validation_error, "
        "s.raw_youtube_input, s.raw_date_input, s.title, s.notes, s.submitted_at "
        "FROM archive_submission s JOIN archive_contributor c ON c.id = s.contributor_id "
        "LEFT JOIN archive_clip cl ON cl.id = s.clip_id WHERE s.id > ? ORDER BY s.id LIMIT ?"},
    ST_DJ_CLIPS = {84,
        "SELECT cl.id, cl.public_id, cl.youtube_video_id, cl.performance_date, "
        "COALESCE(cl.title, ''), cl.notes, cl.created_at, c.public_id, "
        "(SELECT s.public_id FROM archive_submission s WHERE s.clip_id = cl.id AND "
        "s.status = 'accepted' ORDER BY s.id LIMIT 1), "
        "CAST(NULL AS text) " /* hidden_at: the original had no moderation */
        "FROM archive_clip cl JOIN archive_contributor c ON c.id = cl.contributor_id "
        "WHERE cl.id > ? ORDER BY cl.id LIMIT ?"};

struct source {
    const char *type;
    const struct db_stmt *stmt;
    const char *timestamp_field;
};

static const struct source sources[] = {
    {"contributor", &ST_DJ_CONTRIBUTORS, "created_at"},
    {"submission", &ST_DJ_SUBMISSIONS, "submitted_at"},
    {"clip", &ST_DJ_CLIPS, "created_at"},
};

struct reader {
    struct importer *imp;
    const struct record_type *t;
    const struct source *src;
    char after[32];
    long page_rows, records;
    bool failed;
    char err[1200];
};

static void django_row(void *ctx, const char *const *cols, int ncols)
{
    struct reader *r = ctx;
    const struct record_type *t = r->t;
    r->page_rows++;
    snprintf(r->after, sizeof r->after, "%s", cols[0] ? cols[0] : "0");
    if (r->failed || ncols < t->nfields + 1)
        return;
    json_t *rec = json_object();
    json_object_set_new(rec, "type", json_string(t->type));
    for (int f = 0; f < t->nfields; f++) {
        const char *name = t->fields[f].name, *v = cols[f + 1];
        char ts[TIMESTAMP_LEN + 1];
        if (v && strcmp(name, r->src->timestamp_field) == 0 && timestamp_normalize(v, ts))
            v = ts;
        if (v && strcmp(name, "performance_date") == 0 && strlen(v) > 10)
            v = NULL; /* not a date: the importer says so, naming the clip */
        json_object_set_new(rec, name, v ? json_stringn(v, strlen(v)) : json_null());
    }
    /* Our model: only an accepted submission has a clip. The original sets a rejected
     * submission's clip only if it was edited by hand; keep the record, drop the link. */
    const char *status = json_string_value(json_object_get(rec, "status"));
    if (status && strcmp(status, "rejected") == 0 && !json_is_null(json_object_get(rec, "clip_id"))) {
        fprintf(stderr, "import: django: submission %s is rejected but names clip %s: imported without the link\n",
                cols[1], json_string_value(json_object_get(rec, "clip_id")));
        json_object_set_new(rec, "clip_id", json_null());
    }
    if (!importer_add(r->imp, ++r->records, rec, r->err, sizeof r->err))
        r->failed = true;
    json_decref(rec);
}

/* A file path becomes a sqlite:/// URL; URLs pass as they are. */
static bool django_url(const char *url, char *out, size_t n)
{
    if (strncmp(url, "sqlite:", 7) == 0 || strncmp(url, "postgres://", 11) == 0 ||
        strncmp(url, "postgresql://", 13) == 0) {
        snprintf(out, n, "%s", url);
        return true;
    }
    if (access(url, R_OK) != 0)
        return false;
    snprintf(out, n, "sqlite:///%s", url); /* "/abs" gives sqlite:////abs, as config expects */
    return true;
}

struct lookup_ctx {
    const char *url;
};

static const char *django_env(const char *name, void *ctx)
{
    if (strcmp(name, "DATABASE_URL") == 0)
        return ((struct lookup_ctx *)ctx)->url;
    return getenv(name);
}

int data_import_django(const struct config *c, const char *url, const struct data_options *o)
{
    char full[1100], err[3000];
    struct config dc;
    struct config_problems problems;
    struct lookup_ctx lc = {full};
    if (!django_url(url, full, sizeof full)) {
        fprintf(stderr, "import: django: cannot read %s (give a SQLite file or a postgres:// URL)\n", url);
        return 1;
    }
    if (strncmp(full, "sqlite:///", 10) == 0 && access(full + 10, R_OK) != 0) {
        fprintf(stderr, "import: django: no SQLite database at %s\n", full + 10);
        return 1;
    }
    config_load(&dc, django_env, &lc, false, &problems); /* only the database settings matter */
    struct store *src = store_open(&dc, err, sizeof err);
    if (!src) {
        fprintf(stderr, "import: django: %s\n", err);
        return 1;
    }
    data_session_unbounded(src);
    struct store *st = store_open(c, err, sizeof err);
    struct importer *imp = st ? importer_begin(st, o, err, sizeof err) : NULL;
    const char *begin = store_dialect(src) == DIALECT_POSTGRES
                            ? "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"
                            : "BEGIN";
    bool ok = imp && store_script(src, begin) == DB_OK;
    if (imp && !ok)
        snprintf(err, sizeof err, "django: cannot read the database: %s", store_last_error(src));
    struct reader r = {.imp = imp};
    for (size_t i = 0; ok && i < sizeof sources / sizeof sources[0]; i++) {
        r.src = &sources[i];
        r.t = record_type_named(sources[i].type);
        snprintf(r.after, sizeof r.after, "0");
        do {
            const char *p[] = {r.after, "500"};
            r.page_rows = 0;
            if (store_exec(src, r.src->stmt, p, 2, django_row, &r) != DB_OK) {
                snprintf(err, sizeof err, "django: reading %s failed: %s", r.t->table,
                         store_last_error(src));
                ok = false;
            } else if (r.failed) {
                snprintf(err, sizeof err, "django: %s", r.err);
                ok = false;
            }
        } while (ok && r.page_rows == PAGE_ROWS);
    }
    if (imp) {
        char finish_err[1200];
        if (!importer_finish(imp, ok, finish_err, sizeof finish_err) && (ok || finish_err[0])) {
            snprintf(err, sizeof err, "django: %s", finish_err[0] ? finish_err : "the import was rolled back");
            ok = false;
        }
    }
    store_script(src, "ROLLBACK");
    store_close(src);
    store_close(st);
    if (!ok) {
        fprintf(stderr, "import: %s\nimport: nothing was changed (an import is one transaction)\n", err);
        return 1;
    }
    return 0;
}
