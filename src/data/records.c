/* The record table: what an archive file holds, the API rules each record must meet, and
 * the SQL that moves it. SQLite and PostgreSQL differ here in two places only, so the SQL is
 * written once with two macros: how a batch (one JSON array parameter) becomes rows, and
 * how text becomes a date.
 *
 * Statement ids (db.h reserves 64..110 for src/data): 64..81, 92..106 here, 82..87
 * django.c, 88..91 backup.c; a new kind takes the next free ids (107..110). */
#include "data/records.h"
#include "api/body.h"
#include "api/api.h"
#include "config.h"
#include "domain/date.h"
#include "domain/timestamp.h"
#include "domain/youtube.h"
#include "store/store_internal.h"

#include <stdio.h>
#include <string.h>

/* ---- dialect pieces ------------------------------------------------------------------------ */

#define BATCH_SQLITE "json_each(?) AS b"
#define BATCH_PG "jsonb_array_elements(CAST(? AS jsonb)) AS b(value)"
#define DATE_SQLITE(x) x
#define DATE_PG(x) "CAST(" x " AS date)"
#define V(n) "b.value->>" #n
#define LINE "CAST(b.value->>0 AS bigint)"
/* Both dialects of one statement, from a macro taking (BATCH, DATE). */
#define BOTH(id, M) {{id, M(BATCH_SQLITE, DATE_SQLITE)}, {id, M(BATCH_PG, DATE_PG)}}
#define SAME(id, sql) {{id, sql}, {id, sql}}
/* An insert macro takes a third piece, what happens to a record already stored: skipped
 * (the ordinary import), or an error (the bulk load into an empty archive, where nothing
 * can be stored yet unless the file says it twice: import.c then takes the batch again the
 * ordinary way). */
#define SKIP_PRESENT " ON CONFLICT DO NOTHING RETURNING 1"
#define FAIL_PRESENT " RETURNING 1"
#define INSERTS(id, fresh_id, M)                                                                 \
    .insert = {{id, M(BATCH_SQLITE, DATE_SQLITE, SKIP_PRESENT)},                                 \
               {id, M(BATCH_PG, DATE_PG, SKIP_PRESENT)}},                                        \
    .insert_fresh = {{fresh_id, M(BATCH_SQLITE, DATE_SQLITE, FAIL_PRESENT)},                     \
                     {fresh_id, M(BATCH_PG, DATE_PG, FAIL_PRESENT)}}
/* "WHERE true" lets SQLite tell ON CONFLICT from a join's ON after INSERT … SELECT. */
#define NEW_ONLY(PRESENT) " WHERE true ORDER BY " LINE PRESENT

/* ---- the API's rules ------------------------------------------------------------------------- */

static const struct field_spec *spec(const struct field_spec *specs, int n, const char *name)
{
    for (int i = 0; i < n; i++)
        if (strcmp(specs[i].name, name) == 0)
            return &specs[i];
    return NULL;
}
#define SUBMISSION_SPEC(name) spec(submission_fields, SUBMISSION_FIELD_COUNT, name)
#define CONTRIBUTOR_SPEC(name) spec(contributor_fields, CONTRIBUTOR_FIELD_COUNT, name)

static const char *str(json_t *rec, const char *key) { return json_string_value(json_object_get(rec, key)); }

/* Public ids and timestamps are the shape the API writes, or the record is not one of ours. */
static enum verdict need_id(json_t *rec, const char *key, const char *prefix, bool nullable,
                            char *why, size_t n)
{
    const char *v = str(rec, key);
    if ((!v && nullable && json_is_null(json_object_get(rec, key))) || api_is_public_id(prefix, v))
        return RECORD_OK;
    snprintf(why, n, "'%s' must be %s id (%s + 32 lowercase hex digits)%s", key, prefix, prefix,
             nullable ? " or null" : "");
    return RECORD_BROKEN;
}

static enum verdict need_timestamp(json_t *rec, const char *key, char *why, size_t n)
{
    if (timestamp_valid(str(rec, key)))
        return RECORD_OK;
    snprintf(why, n, "'%s' must be a UTC timestamp like 2026-11-25T21:38:48.123456Z", key);
    return RECORD_BROKEN;
}

static enum verdict need_field(json_t *rec, const struct field_spec *f, char *why, size_t n)
{
    return body_field_valid(f, json_object_get(rec, f->name), why, n) ? RECORD_OK : RECORD_REFUSED;
}

/* The performance-date rule, with the record's own creation day as "today". */
static bool date_rule(const char *input, const char *created_at, char out[DATE_LEN + 1],
                      const char **reason)
{
    date_key today = 0;
    date_parse_iso(created_at, 10, &today);
    return date_performance(input, strlen(input), today, out, reason);
}

#define CHECK(call)                                                                              \
    do {                                                                                         \
        enum verdict v_ = (call);                                                                \
        if (v_ != RECORD_OK)                                                                     \
            return v_;                                                                           \
    } while (0)

static enum verdict validate_contributor(json_t *rec, char *why, size_t n)
{
    CHECK(need_id(rec, "id", "ctr_", false, why, n));
    CHECK(need_timestamp(rec, "created_at", why, n));
    CHECK(need_field(rec, CONTRIBUTOR_SPEC("display_name"), why, n));
    return need_field(rec, CONTRIBUTOR_SPEC("external_id"), why, n);
}

static enum verdict validate_submission(json_t *rec, char *why, size_t n)
{
    CHECK(need_id(rec, "id", "sub_", false, why, n));
    CHECK(need_id(rec, "contributor_id", "ctr_", false, why, n));
    CHECK(need_id(rec, "clip_id", "clp_", true, why, n));
    CHECK(need_timestamp(rec, "submitted_at", why, n));
    const char *status = str(rec, "status"), *error = str(rec, "validation_error");
    bool accepted = status && strcmp(status, "accepted") == 0;
    if (!accepted && !(status && strcmp(status, "rejected") == 0)) {
        snprintf(why, n, "'status' must be \"accepted\" or \"rejected\"");
        return RECORD_BROKEN;
    }
    if (accepted != (str(rec, "clip_id") != NULL) || accepted == (error != NULL)) {
        snprintf(why, n, "an accepted submission has a clip_id and no validation_error; a "
                         "rejected one has a validation_error and no clip_id");
        return RECORD_BROKEN;
    }
    for (int i = 1; i < SUBMISSION_FIELD_COUNT; i++) /* [0], contributor_id, is checked above */
        CHECK(need_field(rec, &submission_fields[i], why, n));
    if (accepted) {
        const char *reason = NULL, *yt = str(rec, "raw_youtube_input");
        char video[YOUTUBE_ID_LEN + 1], date[DATE_LEN + 1];
        if (!youtube_video_id(yt, strlen(yt), video, &reason) ||
            !date_rule(str(rec, "raw_date_input"), str(rec, "submitted_at"), date, &reason)) {
            snprintf(why, n, "accepted, but the API would reject its input: %s", reason);
            return RECORD_REFUSED;
        }
    }
    return RECORD_OK;
}

static enum verdict validate_clip(json_t *rec, char *why, size_t n)
{
    CHECK(need_id(rec, "id", "clp_", false, why, n));
    CHECK(need_id(rec, "created_by_contributor_id", "ctr_", false, why, n));
    CHECK(need_id(rec, "added_via_submission_id", "sub_", false, why, n));
    CHECK(need_timestamp(rec, "created_at", why, n));
    const char *video = str(rec, "youtube_video_id"), *date = str(rec, "performance_date"),
               *reason = NULL;
    char id[YOUTUBE_ID_LEN + 1], canonical[DATE_LEN + 1];
    date_key d;
    if (!video || strlen(video) != YOUTUBE_ID_LEN || !youtube_video_id(video, YOUTUBE_ID_LEN, id, &reason)) {
        snprintf(why, n, "'youtube_video_id' must be an 11-character YouTube video id");
        return RECORD_BROKEN;
    }
    if (!date || strlen(date) != DATE_LEN || !date_parse_iso(date, DATE_LEN, &d)) {
        snprintf(why, n, "'performance_date' must be a date YYYY-MM-DD");
        return RECORD_BROKEN;
    }
    if (!json_is_string(json_object_get(rec, "title"))) {
        snprintf(why, n, "'title' must be a string (\"\" when there is none)");
        return RECORD_BROKEN;
    }
    CHECK(need_field(rec, SUBMISSION_SPEC("title"), why, n));
    CHECK(need_field(rec, SUBMISSION_SPEC("notes"), why, n));
    if (!json_is_null(json_object_get(rec, "hidden_at")))
        CHECK(need_timestamp(rec, "hidden_at", why, n));
    if (!date_rule(date, str(rec, "created_at"), canonical, &reason)) {
        snprintf(why, n, "the API would refuse its performance date %s: %s", date, reason);
        return RECORD_REFUSED;
    }
    return RECORD_OK;
}

static bool is(const char *v, const char *want) { return v && strcmp(v, want) == 0; }

/* A report as the API files and resolves it: open with no resolution, or resolved (hidden
 * or dismissed) at a time. */
static enum verdict validate_report(json_t *rec, char *why, size_t n)
{
    CHECK(need_id(rec, "id", "rpt_", false, why, n));
    CHECK(need_id(rec, "clip_id", "clp_", false, why, n));
    CHECK(need_timestamp(rec, "created_at", why, n));
    const char *status = str(rec, "status"), *resolution = str(rec, "resolution");
    if (is(status, "open")) {
        if (!json_is_null(json_object_get(rec, "resolution")) ||
            !json_is_null(json_object_get(rec, "resolved_at"))) {
            snprintf(why, n, "an open report has a null resolution and resolved_at");
            return RECORD_BROKEN;
        }
    } else if (is(status, "resolved")) {
        if (!is(resolution, "hidden") && !is(resolution, "dismissed")) {
            snprintf(why, n, "a resolved report's 'resolution' must be \"hidden\" or \"dismissed\"");
            return RECORD_BROKEN;
        }
        CHECK(need_timestamp(rec, "resolved_at", why, n));
    } else {
        snprintf(why, n, "'status' must be \"open\" or \"resolved\"");
        return RECORD_BROKEN;
    }
    if (!json_is_string(json_object_get(rec, "reason"))) {
        snprintf(why, n, "'reason' must be a string");
        return RECORD_BROKEN;
    }
    return need_field(rec, &report_fields[0], why, n);
}

/* An entry of the audit trail: hide and restore name a clip, dismiss a report; a hide says
 * why (the API requires it), the others may; the actor is an operator's name. */
static enum verdict validate_action(json_t *rec, char *why, size_t n)
{
    CHECK(need_id(rec, "id", "act_", false, why, n));
    CHECK(need_timestamp(rec, "created_at", why, n));
    const char *action = str(rec, "action");
    bool hide = is(action, "hide"), dismiss = is(action, "dismiss");
    if (!hide && !dismiss && !is(action, "restore")) {
        snprintf(why, n, "'action' must be \"hide\", \"restore\" or \"dismiss\"");
        return RECORD_BROKEN;
    }
    CHECK(need_id(rec, "target_id", dismiss ? "rpt_" : "clp_", false, why, n));
    if (!json_is_string(json_object_get(rec, "actor"))) {
        snprintf(why, n, "'actor' must be a string");
        return RECORD_BROKEN;
    }
    if (!config_operator_name_valid(str(rec, "actor"))) {
        snprintf(why, n, "'actor' must be an operator's name (1-63 letters, digits or ._-@)");
        return RECORD_REFUSED;
    }
    return need_field(rec, hide ? &hide_fields[0] : &moderation_note_fields[0], why, n);
}

/* ---- what the clip's own unique key says ---------------------------------------------------- */

static const struct db_stmt st_clip_same_key[2] = SAME(78,
    "SELECT public_id FROM clips WHERE youtube_video_id = ? AND performance_date = ?");

struct text_capture {
    char value[64];
    bool found;
};

static void capture_text(void *ctx, const char *const *cols, int ncols)
{
    struct text_capture *t = ctx;
    if (!t->found && ncols > 0 && cols[0]) {
        snprintf(t->value, sizeof t->value, "%s", cols[0]);
        t->found = true;
    }
}

/* row = [line, id, video, date, title, notes, created_at, contributor, submission] */
static bool explain_clip(struct store *st, enum dialect d, json_t *row, char *why, size_t n)
{
    const char *p[] = {json_string_value(json_array_get(row, 2)), json_string_value(json_array_get(row, 3))};
    struct text_capture other = {0};
    if (store_exec(st, &st_clip_same_key[d], p, 2, capture_text, &other) == DB_OK && other.found &&
        strcmp(other.value, json_string_value(json_array_get(row, 1))) != 0) {
        snprintf(why, n, "video %s on %s is already in the archive as clip %s", p[0], p[1], other.value);
        return true;
    }
    snprintf(why, n, "its submission %s is not an accepted submission of contributor %s, or "
                     "already has another clip",
             json_string_value(json_array_get(row, 8)), json_string_value(json_array_get(row, 7)));
    return true;
}

/* row = [line, id, action, target, reason, actor, created_at]: stored under its id as
 * written was ruled out first, so its target is missing. */
static bool explain_action(struct store *st, enum dialect d, json_t *row, char *why, size_t n)
{
    (void)st;
    (void)d;
    const char *target = json_string_value(json_array_get(row, 3));
    snprintf(why, n, "names %s %s, which is neither in the archive nor earlier in the file",
             strncmp(target, "rpt_", 4) == 0 ? "report" : "clip", target);
    return true;
}

/* ---- the table ------------------------------------------------------------------------------ */

#define CONTRIBUTOR_COLS "t.id, t.public_id, t.display_name, t.external_id, t.created_at FROM contributors t "
#define CONTRIBUTOR_INSERT(BATCH, DATE, PRESENT)                                                 \
    "INSERT INTO contributors (public_id, display_name, external_id, created_at) SELECT "       \
    V(1) ", " V(2) ", " V(3) ", " V(4) " FROM " BATCH NEW_ONLY(PRESENT)
#define CONTRIBUTOR_VERIFY(BATCH, DATE)                                                          \
    "SELECT " LINE " FROM " BATCH " LEFT JOIN contributors t ON t.public_id = " V(1)             \
    " WHERE t.id IS NULL OR t.display_name IS DISTINCT FROM " V(2)                               \
    " OR t.external_id IS DISTINCT FROM " V(3) " OR t.created_at IS DISTINCT FROM " V(4)         \
    " ORDER BY 1 LIMIT 1"

#define SUBMISSION_COLS                                                                          \
    "t.id, t.public_id, c.public_id, cl.public_id, t.status, t.validation_error, "               \
    "t.raw_youtube_input, t.raw_date_input, t.title, t.notes, t.submitted_at FROM submissions t " \
    "JOIN contributors c ON c.id = t.contributor_id LEFT JOIN clips cl ON cl.id = t.clip_id "
/* clip_id stays NULL until the clip arrives (the clip's `after` links it); what each record
 * claimed is kept in import_claims and compared at the end. */
#define SUBMISSION_INSERT(BATCH, DATE, PRESENT)                                                  \
    "INSERT INTO submissions (public_id, contributor_id, status, validation_error, "            \
    "raw_youtube_input, raw_date_input, title, notes, submitted_at) SELECT " V(1) ", c.id, "     \
    V(4) ", " V(5) ", " V(6) ", " V(7) ", " V(8) ", " V(9) ", " V(10) " FROM " BATCH            \
    " JOIN contributors c ON c.public_id = " V(2) NEW_ONLY(PRESENT)
/* With the submission's row id, read while the batch's rows are still in the cache, so the
 * link and its check at the end go by row id, not by a random public id per claim. */
#define SUBMISSION_CLAIMS(BATCH, DATE)                                                           \
    "INSERT INTO import_claims (line, submission, submission_id, clip) SELECT " LINE ", "        \
    V(1) ", s.id, " V(3) " FROM " BATCH " JOIN submissions s ON s.public_id = " V(1)             \
    " WHERE " V(3) " IS NOT NULL"
#define SUBMISSION_VERIFY(BATCH, DATE)                                                           \
    "SELECT " LINE " FROM " BATCH " LEFT JOIN submissions t ON t.public_id = " V(1)              \
    " LEFT JOIN contributors c ON c.id = t.contributor_id WHERE t.id IS NULL"                    \
    " OR c.public_id IS DISTINCT FROM " V(2) " OR t.status IS DISTINCT FROM " V(4)               \
    " OR t.validation_error IS DISTINCT FROM " V(5)                                              \
    " OR t.raw_youtube_input IS DISTINCT FROM " V(6)                                             \
    " OR t.raw_date_input IS DISTINCT FROM " V(7) " OR t.title IS DISTINCT FROM " V(8)           \
    " OR t.notes IS DISTINCT FROM " V(9) " OR t.submitted_at IS DISTINCT FROM " V(10)            \
    " ORDER BY 1 LIMIT 1"

#define CLIP_COLS                                                                                \
    "t.id, t.public_id, t.youtube_video_id, t.performance_date, t.title, t.notes, t.created_at, " \
    "c.public_id, s.public_id, t.hidden_at FROM clips t JOIN contributors c ON c.id = t.created_by_contributor_id " \
    "JOIN submissions s ON s.id = t.added_via_submission_id "
#define CLIP_INSERT(BATCH, DATE, PRESENT)                                                        \
    "INSERT INTO clips (public_id, youtube_video_id, performance_date, title, notes, created_at, " \
    "created_by_contributor_id, added_via_submission_id, hidden_at) SELECT " V(1) ", " V(2)      \
    ", " DATE(V(3)) ", " V(4) ", " V(5) ", " V(6) ", c.id, s.id, " V(9) " FROM " BATCH           \
    " JOIN contributors c ON c.public_id = " V(7) " JOIN submissions s ON s.public_id = " V(8)   \
    " AND s.status = 'accepted' AND s.contributor_id = c.id AND s.clip_id IS NULL" NEW_ONLY(PRESENT)
#define CLIP_VERIFY(BATCH, DATE)                                                                 \
    "SELECT " LINE " FROM " BATCH " LEFT JOIN clips t ON t.public_id = " V(1)                    \
    " LEFT JOIN contributors c ON c.id = t.created_by_contributor_id"                            \
    " LEFT JOIN submissions s ON s.id = t.added_via_submission_id WHERE t.id IS NULL"            \
    " OR t.youtube_video_id IS DISTINCT FROM " V(2)                                              \
    " OR t.performance_date IS DISTINCT FROM " DATE(V(3)) " OR t.title IS DISTINCT FROM " V(4)   \
    " OR t.notes IS DISTINCT FROM " V(5) " OR t.created_at IS DISTINCT FROM " V(6)               \
    " OR c.public_id IS DISTINCT FROM " V(7) " OR s.public_id IS DISTINCT FROM " V(8)            \
    " OR t.hidden_at IS DISTINCT FROM " V(9) " ORDER BY 1 LIMIT 1"

#define REPORT_COLS                                                                              \
    "t.id, t.public_id, cl.public_id, t.reason, t.status, t.resolution, t.created_at, "          \
    "t.resolved_at FROM reports t JOIN clips cl ON cl.id = t.clip_id "
#define REPORT_INSERT(BATCH, DATE, PRESENT)                                                      \
    "INSERT INTO reports (public_id, clip_id, reason, status, resolution, created_at, "          \
    "resolved_at) SELECT " V(1) ", cl.id, " V(3) ", " V(4) ", " V(5) ", " V(6) ", " V(7)         \
    " FROM " BATCH " JOIN clips cl ON cl.public_id = " V(2) NEW_ONLY(PRESENT)
#define REPORT_VERIFY(BATCH, DATE)                                                               \
    "SELECT " LINE " FROM " BATCH " LEFT JOIN reports t ON t.public_id = " V(1)                  \
    " LEFT JOIN clips cl ON cl.id = t.clip_id WHERE t.id IS NULL"                                \
    " OR cl.public_id IS DISTINCT FROM " V(2) " OR t.reason IS DISTINCT FROM " V(3)              \
    " OR t.status IS DISTINCT FROM " V(4) " OR t.resolution IS DISTINCT FROM " V(5)              \
    " OR t.created_at IS DISTINCT FROM " V(6) " OR t.resolved_at IS DISTINCT FROM " V(7)         \
    " ORDER BY 1 LIMIT 1"

#define ACTION_COLS                                                                              \
    "t.id, t.public_id, t.action, t.target_id, t.reason, t.actor, t.created_at "                 \
    "FROM moderation_actions t "
/* target_id is text (a clip or a report, by the action): an action is kept only when its
 * target is there, so the audit trail never names something the archive lacks. */
#define ACTION_INSERT(BATCH, DATE, PRESENT)                                                      \
    "INSERT INTO moderation_actions (public_id, action, target_id, reason, actor, created_at) "  \
    "SELECT " V(1) ", " V(2) ", " V(3) ", " V(4) ", " V(5) ", " V(6) " FROM " BATCH              \
    " WHERE EXISTS (SELECT 1 FROM clips WHERE public_id = " V(3) ")"                             \
    " OR EXISTS (SELECT 1 FROM reports WHERE public_id = " V(3) ")"                              \
    " ORDER BY " LINE PRESENT
#define ACTION_VERIFY(BATCH, DATE)                                                               \
    "SELECT " LINE " FROM " BATCH " LEFT JOIN moderation_actions t ON t.public_id = " V(1)       \
    " WHERE t.id IS NULL OR t.action IS DISTINCT FROM " V(2)                                     \
    " OR t.target_id IS DISTINCT FROM " V(3) " OR t.reason IS DISTINCT FROM " V(4)               \
    " OR t.actor IS DISTINCT FROM " V(5) " OR t.created_at IS DISTINCT FROM " V(6)               \
    " ORDER BY 1 LIMIT 1"

#define PAGE(id, cols) SAME(id, "SELECT " cols "WHERE t.id > ? ORDER BY t.id LIMIT ?")
#define GET(id, cols) SAME(id, "SELECT " cols "WHERE t.public_id = ?")

const struct record_type record_types[] = {
    {.type = "contributor", .table = "contributors", .nfields = 4,
     .fields = {{"id", NULL}, {"display_name", NULL}, {"external_id", NULL}, {"created_at", NULL}},
     .page = PAGE(64, CONTRIBUTOR_COLS), .get = GET(65, CONTRIBUTOR_COLS),
     INSERTS(66, 101, CONTRIBUTOR_INSERT), .verify = BOTH(67, CONTRIBUTOR_VERIFY),
     .validate = validate_contributor},
    {.type = "submission", .table = "submissions", .nfields = 10,
     .fields = {{"id", NULL}, {"contributor_id", "contributor"}, {"clip_id", NULL},
                {"status", NULL}, {"validation_error", NULL}, {"raw_youtube_input", NULL},
                {"raw_date_input", NULL}, {"title", NULL}, {"notes", NULL}, {"submitted_at", NULL}},
     .page = PAGE(68, SUBMISSION_COLS), .get = GET(69, SUBMISSION_COLS),
     INSERTS(70, 102, SUBMISSION_INSERT), .after = BOTH(71, SUBMISSION_CLAIMS),
     .verify = BOTH(72, SUBMISSION_VERIFY), .validate = validate_submission},
    {.type = "clip", .table = "clips", .nfields = 9,
     .fields = {{"id", NULL}, {"youtube_video_id", NULL}, {"performance_date", NULL},
                {"title", NULL}, {"notes", NULL}, {"created_at", NULL},
                {"created_by_contributor_id", "contributor"}, {"added_via_submission_id", "submission"},
                {"hidden_at", NULL}},
     .page = PAGE(73, CLIP_COLS), .get = GET(74, CLIP_COLS), INSERTS(75, 103, CLIP_INSERT),
     .verify = BOTH(77, CLIP_VERIFY), .validate = validate_clip,
     .explain = explain_clip},
    {.type = "report", .table = "reports", .nfields = 7,
     .fields = {{"id", NULL}, {"clip_id", "clip"}, {"reason", NULL}, {"status", NULL},
                {"resolution", NULL}, {"created_at", NULL}, {"resolved_at", NULL}},
     .page = PAGE(92, REPORT_COLS), .get = GET(93, REPORT_COLS), INSERTS(94, 104, REPORT_INSERT),
     .verify = BOTH(95, REPORT_VERIFY), .validate = validate_report},
    {.type = "moderation_action", .table = "moderation_actions", .nfields = 6,
     .fields = {{"id", NULL}, {"action", NULL}, {"target_id", NULL}, {"reason", NULL},
                {"actor", NULL}, {"created_at", NULL}},
     .page = PAGE(96, ACTION_COLS), .get = GET(97, ACTION_COLS), INSERTS(98, 105, ACTION_INSERT),
     .verify = BOTH(99, ACTION_VERIFY), .validate = validate_action, .explain = explain_action},
    {.type = NULL},
};

const struct record_type *record_type_named(const char *type)
{
    for (const struct record_type *t = record_types; type && t->type; t++)
        if (strcmp(t->type, type) == 0)
            return t;
    return NULL;
}

const struct db_stmt st_table_exists[2] = {
    {79, "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?"},
    {79, "SELECT 1 FROM information_schema.tables WHERE table_schema = current_schema() "
         "AND table_name = ?"},
};

const char import_setup_sql[] =
    "CREATE TEMP TABLE import_claims (line bigint NOT NULL, submission text NOT NULL, "
    "submission_id bigint NOT NULL, clip text NOT NULL);\n"
    "CREATE INDEX import_claims_by_submission ON import_claims (submission_id)";

/* PostgreSQL, into an empty archive: load as pg_restore does, without the foreign keys and
 * the secondary (non-unique) indexes, and add them back before commit: each foreign key
 * checked by one set-based query over its table, each index built by one sort. Otherwise
 * four foreign-key triggers fired per clip with its submission, and five B-trees took
 * every row one at a time: most of the import's time. The import's own statements never
 * rely on what is dropped (each insert joins what it references, the unique indexes that
 * make ON CONFLICT and the lookups work stay, the verify and final checks compare), so
 * nothing goes in unchecked. The tables are locked for the import (ACCESS EXCLUSIVE: a
 * server on this database waits), which is why only an empty archive gets this; a lock
 * wait beyond lock_timeout, a database that has records, or a role that does not own the
 * tables (only an owner may drop a constraint) keeps the ordinary path. The tables are the
 * record table's; what is dropped is read from the catalog and re-created verbatim. */
#define BULK_TABLES                                                                              \
    "('contributors'::regclass, 'submissions'::regclass, 'clips'::regclass, "                    \
    "'reports'::regclass, 'moderation_actions'::regclass)"
const char bulk_load_begin_sql[] =
    "CREATE TEMP TABLE import_dropped (kind text NOT NULL, tbl regclass NOT NULL, "
    "name text NOT NULL, def text NOT NULL);\n"
    "DO $bulk$\n"
    "DECLARE r record;\n"
    "BEGIN\n"
    "    LOCK TABLE contributors, submissions, clips, reports, moderation_actions\n"
    "        IN ACCESS EXCLUSIVE MODE;\n"
    "    IF EXISTS (SELECT 1 FROM contributors) OR EXISTS (SELECT 1 FROM submissions)\n"
    "       OR EXISTS (SELECT 1 FROM clips) OR EXISTS (SELECT 1 FROM reports)\n"
    "       OR EXISTS (SELECT 1 FROM moderation_actions) THEN\n"
    "        RETURN;\n"
    "    END IF;\n"
    "    INSERT INTO import_dropped SELECT 'foreign key', conrelid::regclass, conname,\n"
    "        pg_get_constraintdef(oid) FROM pg_constraint WHERE contype = 'f'\n"
    "        AND conrelid IN " BULK_TABLES " ORDER BY conrelid, conname;\n"
    "    INSERT INTO import_dropped SELECT 'index', indrelid::regclass, indexrelid::regclass::text,\n"
    "        pg_get_indexdef(indexrelid) FROM pg_index WHERE NOT indisunique AND NOT indisprimary\n"
    "        AND indrelid IN " BULK_TABLES " ORDER BY indrelid, indexrelid;\n"
    /* Room on each page, so linking a submission to its clip at the end is a HOT update
     * (same page, no index entries) instead of a second copy of every row elsewhere. */
    "    ALTER TABLE submissions SET (fillfactor = 50);\n"
    "    FOR r IN SELECT * FROM import_dropped LOOP\n"
    "        IF r.kind = 'index' THEN\n"
    "            EXECUTE format('DROP INDEX %s', r.name);\n"
    "        ELSE\n"
    "            EXECUTE format('ALTER TABLE %s DROP CONSTRAINT %I', r.tbl, r.name);\n"
    "        END IF;\n"
    "    END LOOP;\n"
    "END $bulk$";
const struct db_stmt st_bulk_loading = {100, "SELECT count(*) FROM import_dropped"};
/* Indexes first: a foreign key's check then has every index there is. */
const char bulk_load_end_sql[] =
    "DO $bulk$\n"
    "DECLARE r record;\n"
    "BEGIN\n"
    "    ALTER TABLE submissions RESET (fillfactor);\n"
    "    FOR r IN SELECT * FROM import_dropped ORDER BY kind DESC LOOP\n"
    "        IF r.kind = 'index' THEN\n"
    "            EXECUTE r.def;\n"
    "        ELSE\n"
    "            EXECUTE format('ALTER TABLE %s ADD CONSTRAINT %I %s', r.tbl, r.name, r.def);\n"
    "        END IF;\n"
    "    END LOOP;\n"
    "END $bulk$";

/* SQLite, into an empty archive: its secondary (non-unique) indexes, by name and definition,
 * so that import.c drops them inside the import's transaction (SQLite's DDL is
 * transactional) and builds each again by one sort before commit, instead of taking every
 * row one at a time into B-trees keyed at random (the clips' chronological index). The
 * foreign keys stay: SQLite cannot drop one. No row when a table has records. */
const struct db_stmt st_sqlite_bulk_indexes = {106,
    "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL "
    "AND sql NOT LIKE 'CREATE UNIQUE %' AND tbl_name IN ('contributors', 'submissions', "
    "'clips', 'reports', 'moderation_actions') AND NOT EXISTS (SELECT 1 FROM contributors) "
    "AND NOT EXISTS (SELECT 1 FROM submissions) AND NOT EXISTS (SELECT 1 FROM clips) "
    "AND NOT EXISTS (SELECT 1 FROM reports) AND NOT EXISTS (SELECT 1 FROM moderation_actions) "
    "ORDER BY name"};

/* Once every record is in: each accepted submission of the file gets the clip it named,
 * if that clip names it back (one set-based UPDATE: per batch, it cost more than the rest).
 * Driven from the clips, in row order, to their submissions and claims by row id: looking
 * up each claim's clip by its (random) public id instead was most of this statement's time
 * once the archive outgrew the page cache. (CROSS JOIN makes SQLite keep that order; to
 * PostgreSQL it is an inner join like any other.) */
const struct db_stmt st_link_claims[2] = SAME(76,
    "UPDATE submissions SET clip_id = k.clip FROM (SELECT cl.id AS clip, "
    "cl.added_via_submission_id AS submission FROM clips cl CROSS JOIN import_claims l "
    "WHERE l.submission_id = cl.added_via_submission_id AND l.clip = cl.public_id) AS k "
    "WHERE submissions.id = k.submission AND submissions.clip_id IS NULL");

/* Then the links must be whole: every accepted submission in the file has the clip it
 * named, and every clip is the clip of the submission it names. */
const struct db_stmt st_final_checks[][2] = {
    SAME(80, "SELECT l.line, 'submission ' || l.submission || ' names clip ' || l.clip || "
             "', but ' || COALESCE('its clip is ' || cl.public_id, 'no clip record names it as "
             "its added_via_submission_id') FROM import_claims l JOIN submissions s ON "
             "s.id = l.submission_id LEFT JOIN clips cl ON cl.id = s.clip_id "
             "WHERE cl.public_id IS DISTINCT FROM l.clip ORDER BY l.line LIMIT 1"),
    SAME(81, "SELECT NULL, 'clip ' || cl.public_id || ' names submission ' || s.public_id || "
             "' as its added_via_submission_id, but that submission names ' || "
             "COALESCE('clip ' || other.public_id, 'no clip') FROM clips cl JOIN submissions s "
             "ON s.id = cl.added_via_submission_id LEFT JOIN clips other ON other.id = s.clip_id "
             "WHERE s.clip_id IS DISTINCT FROM cl.id LIMIT 1"),
};
const int st_final_check_count = sizeof st_final_checks / sizeof st_final_checks[0];
