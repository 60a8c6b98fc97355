/* `timewarp backup FILE`: an online, consistent copy of a SQLite archive. VACUUM INTO
 * reads one snapshot (a read transaction, so in WAL mode the server goes on writing) and
 * writes a compact copy; the copy is then opened on its own and must pass integrity_check
 * and foreign_key_check before it is renamed to FILE. Every write acknowledged before the
 * backup began is in it. PostgreSQL archives are backed up by RDS (docs/DEPLOYMENT.md). */
#include "data/data.h"
#include "store/store.h"
#include "store/store_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const struct db_stmt ST_VACUUM_INTO = {88, "VACUUM INTO ?"},
                            ST_INTEGRITY = {89, "PRAGMA integrity_check"},
                            ST_FOREIGN_KEYS = {90, "PRAGMA foreign_key_check"},
                            ST_CLIPS = {91, "SELECT count(*) FROM clips"};

struct check {
    char first[256];
    int rows;
};

static void collect(void *ctx, const char *const *cols, int ncols)
{
    struct check *c = ctx;
    if (c->rows++ == 0)
        snprintf(c->first, sizeof c->first, "%s", ncols > 0 && cols[0] ? cols[0] : "?");
}

/* Opens the copy as the server would and checks it; false with err. */
static bool verify_copy(const struct config *c, const char *path, char *err, size_t err_len,
                        int *version, char clips[32])
{
    struct config copy = *c;
    snprintf(copy.sqlite_path, sizeof copy.sqlite_path, "%.1000s", path);
    struct store *st = store_open(&copy, err, err_len);
    if (!st)
        return false;
    struct check integrity = {0}, fk = {0}, count = {0};
    bool ok = store_exec(st, &ST_INTEGRITY, NULL, 0, collect, &integrity) == DB_OK &&
              store_exec(st, &ST_FOREIGN_KEYS, NULL, 0, collect, &fk) == DB_OK &&
              store_exec(st, &ST_CLIPS, NULL, 0, collect, &count) == DB_OK;
    if (!ok)
        snprintf(err, err_len, "cannot check the copy: %s", store_last_error(st));
    else if (integrity.rows != 1 || strcmp(integrity.first, "ok") != 0)
        snprintf(err, err_len, "integrity_check failed on the copy: %s", integrity.first), ok = false;
    else if (fk.rows != 0)
        snprintf(err, err_len, "foreign_key_check found %d problem(s) in the copy (table %s)", fk.rows,
                 fk.first), ok = false;
    *version = store_schema_version(st);
    snprintf(clips, 32, "%.31s", count.first);
    store_close(st); /* the last connection: SQLite folds the copy's WAL back into the file */
    return ok;
}

int data_backup(const struct config *c, const char *path)
{
    char err[3000], partial[1100];
    if (c->engine != DB_SQLITE) {
        fprintf(stderr, "backup: this database is PostgreSQL; back it up with RDS automated backups "
                        "and snapshots (docs/DEPLOYMENT.md, scripts/restore-snapshot.sh) or "
                        "`timewarp export`\n");
        return 1;
    }
    if (access(path, F_OK) == 0) {
        fprintf(stderr, "backup: %s exists already; give a new file name\n", path);
        return 1;
    }
    snprintf(partial, sizeof partial, "%s.partial", path);
    unlink(partial); /* left by an interrupted run */
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    struct store *st = store_open(c, err, sizeof err);
    if (!st) {
        fprintf(stderr, "backup: %s\n", err);
        return 1;
    }
    const char *p[] = {partial};
    bool ok = store_exec(st, &ST_VACUUM_INTO, p, 1, NULL, NULL) == DB_OK;
    if (!ok)
        snprintf(err, sizeof err, "copying failed: %s", store_last_error(st));
    store_close(st);
    int version = -1;
    char clips[32] = "";
    ok = ok && verify_copy(c, partial, err, sizeof err, &version, clips);
    int fd = ok ? open(partial, O_RDONLY) : -1;
    if (ok && (fd < 0 || fsync(fd) != 0 || rename(partial, path) != 0)) {
        snprintf(err, sizeof err, "cannot write %s: %s", path, strerror(errno));
        ok = false;
    }
    if (fd >= 0)
        close(fd);
    if (!ok) {
        unlink(partial);
        fprintf(stderr, "backup: %s\nbackup: no backup was written\n", err);
        return 1;
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    fprintf(stderr, "backup: %s written in %.2f s: integrity ok, schema version %d, %s clips\n", path,
            (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9, version, clips);
    return 0;
}
