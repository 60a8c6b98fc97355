/* The kinds of record an archive file holds, as one table (records.c): for each, its JSON
 * fields, its table, the API rules it must meet and the SQL that reads and writes it. The
 * exporter and the importer walk this table and know nothing about a particular kind, so a
 * new kind (reports, moderation actions) is one more entry. */
#ifndef TIMEWARP_DATA_RECORDS_H
#define TIMEWARP_DATA_RECORDS_H
#include "store/db.h"
#include "store/store.h"
#include "store/store_internal.h"
#include <jansson.h>
#include <stdbool.h>

#define ARCHIVE_FORMAT "timewarp-archive"
/* 2: clips carry hidden_at; report and moderation_action records. Version 1 files (clips
 * without hidden_at, no moderation) still import: their clips are visible. */
#define ARCHIVE_FORMAT_VERSION 2
#define ARCHIVE_FORMAT_OLDEST 1
#define RECORD_MAX_FIELDS 12

/* What the API's rules say about a record from a file. */
enum verdict {
    RECORD_OK,
    RECORD_REFUSED, /* the API would have refused it (policy: error, or import as-is) */
    RECORD_BROKEN,  /* not a record of this kind at all: always an error */
};

struct record_field {
    const char *name;     /* the JSON key, as the API names it */
    const char *ref_type; /* the record type this public id names, or NULL */
};

struct record_type {
    const char *type;  /* the record's "type" */
    const char *table; /* exported whenever this table exists */
    int nfields;       /* fields[0] is always "id", the public id */
    struct record_field fields[RECORD_MAX_FIELDS];
    /* Each statement in both dialects ([enum dialect]); a batch parameter is a JSON array
     * of rows [line, field 1, …, field n] in `fields` order. */
    struct db_stmt page[2];   /* (after row id, limit) → row id, then the fields, by row id */
    struct db_stmt get[2];    /* (public id) → row id, then the fields */
    struct db_stmt insert[2]; /* (batch) inserts the records not present yet, a row for each */
    /* The bulk load into an empty archive: the same insert, failing (a unique violation)
     * instead of skipping a record already stored, which spares PostgreSQL's speculative
     * insertion. */
    struct db_stmt insert_fresh[2];
    struct db_stmt after[2];  /* (batch) optional follow-up (bookkeeping) */
    /* (batch) → the first line whose record is not stored as given. Skipped when every
     * record of the batch was inserted: the insert wrote them as given. */
    struct db_stmt verify[2];
    /* The API's rules for one record (all fields present, each a string or null). */
    enum verdict (*validate)(json_t *rec, char *why, size_t why_len);
    /* Says why the record on a line that `verify` named could not be stored, when the
     * reason is particular to this kind (a clash on another unique key, say). */
    bool (*explain)(struct store *st, enum dialect d, json_t *row, char *why, size_t why_len);
};

extern const struct record_type record_types[]; /* in dependency order; ends with NULL type */

const struct record_type *record_type_named(const char *type);

/* Statements that are about the whole import or the schema, not one kind. */
extern const struct db_stmt st_table_exists[2];   /* (table name) → a row if it exists */
extern const char import_setup_sql[];             /* bookkeeping the statements below use */
extern const struct db_stmt st_link_claims[2];    /* after the last batch */
/* PostgreSQL into an empty archive (records.c says why): drop the foreign keys and the
 * secondary indexes, and after the checks add them back; st_bulk_loading → how many were
 * dropped (0: the ordinary path). */
extern const char bulk_load_begin_sql[];
extern const struct db_stmt st_bulk_loading;
extern const char bulk_load_end_sql[];
/* SQLite into an empty archive → (name, definition) of each secondary index (records.c). */
extern const struct db_stmt st_sqlite_bulk_indexes;
extern const struct db_stmt st_final_checks[][2]; /* each → (line, reason) of a first problem */
extern const int st_final_check_count;

/* Lifts the request time budget from an offline command's session (session.c). */
void data_session_unbounded(struct store *st);
#endif
