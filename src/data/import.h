/* The import engine shared by `timewarp import` (archive files) and `--django` (the
 * original's database): records in, batched into the target database inside one
 * transaction, each checked against the API's rules and against what is stored. */
#ifndef TIMEWARP_DATA_IMPORT_H
#define TIMEWARP_DATA_IMPORT_H
#include "data/data.h"
#include "data/progress.h"
#include "data/records.h"
#include "store/store.h"
#include <jansson.h>

struct importer;

/* Starts the import on `st` (whose schema must be at the binary's latest version): a writer
 * thread opens the transaction and owns `st` until importer_finish. NULL + err. */
struct importer *importer_begin(struct store *st, const struct data_options *o, char *err,
                                size_t err_len);
/* One record (an object with "type" and the kind's fields); `line` is its place in the
 * source, used in messages. False (with err) stops the import. */
bool importer_add(struct importer *imp, long line, json_t *rec, char *err, size_t err_len);
/* Records of `type` seen so far (stored or already present). */
long importer_count(struct importer *imp, const char *type);
/* The schema version of the target. */
int importer_schema_version(struct importer *imp);
/* Writes the last batch, runs the checks across records and commits; with commit = false
 * (or on any failure) rolls everything back. Frees imp. `err` is set to the first problem
 * the database side found (on a line before any importer_add refused), or "". */
bool importer_finish(struct importer *imp, bool commit, char *err, size_t err_len);
#endif
