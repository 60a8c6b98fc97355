/* The offline data commands behind `timewarp export | import | backup` (src/main.c parses
 * their arguments). Each opens its own database connection, reports on stderr and returns
 * the process exit status: 0 done, 1 failed (with nothing changed), 2 bad usage. */
#ifndef TIMEWARP_DATA_H
#define TIMEWARP_DATA_H
#include "config.h"
#include <stdbool.h>

struct data_options {
    bool progress;       /* --progress: report progress even when stderr is not a terminal */
    bool accept_invalid; /* --accept-invalid: import records the API would refuse, listing each */
    const char *unit;    /* what messages call a record's place: "line" (NULL) or "record" */
};

int data_export(const struct config *c, const char *path, const struct data_options *o);
int data_import(const struct config *c, const char *path, const struct data_options *o);
/* Reads the Django original's database at `url` (a SQLite file, sqlite:///…, postgres://…). */
int data_import_django(const struct config *c, const char *url, const struct data_options *o);
int data_backup(const struct config *c, const char *path);
#endif
