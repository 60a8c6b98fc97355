/* Versioned, reversible migrations, embedded in the binary. Each step runs in its own
 * transaction together with its row in schema_migrations, so a crash mid-migration leaves
 * the schema at a known version. A step whose file starts with NO_TRANSACTION (PostgreSQL's
 * CREATE INDEX CONCURRENTLY cannot run in one) runs on its own between two short locked
 * transactions; such a file is one idempotent statement (migrations/README.md).
 * A step down that drops tables or columns holding data refuses unless forced, and says
 * what would be lost. */
#include "store/migrations.h"
#include "store/store.h"
#include "store/store_internal.h"
#include "log.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define NO_TRANSACTION "-- timewarp: no-transaction"

static const struct db_stmt
    ST_CURRENT_VERSION = {20, "SELECT COALESCE(MAX(version), 0) FROM schema_migrations"},
    ST_RECORD = {21, "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)"},
    ST_FORGET = {22, "DELETE FROM schema_migrations WHERE version = ?"};

/* Row counts of what a down script drops. Table and column names cannot be bound as
 * parameters; these come from the embedded migrations (never from input), must be plain
 * identifiers, and each distinct query gets its own statement id for this process. */
#define COUNT_FIRST_ID 23
#define COUNT_SLOTS 6 /* ids 23..28; 29 is the session lock */
static char count_sql[COUNT_SLOTS][160];

static const char create_history[] =
    "CREATE TABLE IF NOT EXISTS schema_migrations ("
    "version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)";

static void capture_int(void *ctx, const char *const *cols, int n)
{
    if (n > 0 && cols[0])
        sscanf(cols[0], "%d", (int *)ctx);
}

static int latest_version(const char *backend)
{
    int v = 0;
    for (const struct migration *m = migrations_table; m->backend; m++)
        if (strcmp(m->backend, backend) == 0 && m->version > v)
            v = m->version;
    return v;
}

static const struct migration *find(const char *backend, int version)
{
    for (const struct migration *m = migrations_table; m->backend; m++)
        if (strcmp(m->backend, backend) == 0 && m->version == version)
            return m;
    return NULL;
}

static void capture_long(void *ctx, const char *const *cols, int n)
{
    if (n > 0 && cols[0])
        sscanf(cols[0], "%ld", (long *)ctx);
}

/* Reads an identifier at *p (after spaces, an optional IF EXISTS); false if there is none. */
static bool identifier(const char **p, char *out, size_t cap)
{
    const char *s = *p;
    while (isspace((unsigned char)*s))
        s++;
    if (strncasecmp(s, "IF EXISTS", 9) == 0)
        for (s += 9; isspace((unsigned char)*s); s++)
            ;
    size_t n = 0;
    while ((isalnum((unsigned char)s[n]) || s[n] == '_') && n + 1 < cap)
        n++;
    if (n == 0 || isdigit((unsigned char)s[0]))
        return false;
    memcpy(out, s, n);
    out[n] = '\0';
    *p = s + n;
    return true;
}

/* How many rows (or non-null values) `sql`, a COUNT query, finds; -1 on failure. */
static long count_with(struct store *st, const char *sql)
{
    int slot = 0;
    while (slot < COUNT_SLOTS && count_sql[slot][0] && strcmp(count_sql[slot], sql) != 0)
        slot++;
    if (slot == COUNT_SLOTS)
        return -1;
    snprintf(count_sql[slot], sizeof count_sql[slot], "%s", sql);
    struct db_stmt q = {COUNT_FIRST_ID + slot, count_sql[slot]};
    long n = -1;
    return store_exec(st, &q, NULL, 0, capture_long, &n) == DB_OK ? n : -1;
}

/* Whether the down script's first line, "-- timewarp: derived t1 t2 …", names `table`: a
 * table of derived data (such as the clip change log), which dropping loses nothing of. */
static bool derived_table(const char *down, const char *table)
{
    static const char marker[] = "-- timewarp: derived ";
    if (strncmp(down, marker, sizeof marker - 1) != 0)
        return false;
    size_t n = strlen(table);
    for (const char *p = down + sizeof marker - 1; *p && *p != '\n';) {
        p += strspn(p, " ");
        size_t len = strcspn(p, " \n");
        if (len == n && strncmp(p, table, n) == 0)
            return true;
        p += len;
    }
    return false;
}

/* Lists in `lost` the data the down script would destroy ("clips (3 rows), …"); true if any. */
static bool data_at_risk(struct store *st, const char *down, char *lost, size_t cap)
{
    size_t used = 0;
    lost[0] = '\0';
    for (const char *p = down; (p = strcasestr(p, "DROP ")) != NULL;) {
        char table[64], column[96], sql[160];
        const char *q = p + 5;
        long n = -1;
        bool is_table = strncasecmp(q, "TABLE", 5) == 0, is_column = strncasecmp(q, "COLUMN", 6) == 0;
        p = q;
        if (is_table) {
            q += 5;
            if (!identifier(&q, table, sizeof table) || derived_table(down, table))
                continue;
            snprintf(sql, sizeof sql, "SELECT count(*) FROM %s", table);
            n = count_with(st, sql);
            snprintf(column, sizeof column, "rows");
        } else if (is_column) {
            /* ALTER TABLE t DROP COLUMN c: the table is the identifier after ALTER TABLE. */
            const char *alter = NULL;
            for (const char *a = down; (a = strcasestr(a, "ALTER TABLE")) != NULL && a < p; a++)
                alter = a;
            const char *t = alter ? alter + 11 : NULL;
            q += 6;
            char col[64];
            if (!t || !identifier(&t, table, sizeof table) || !identifier(&q, col, sizeof col))
                continue;
            snprintf(sql, sizeof sql, "SELECT count(%s) FROM %s", col, table);
            n = count_with(st, sql);
            snprintf(column, sizeof column, "values in column %s", col);
        } else {
            continue;
        }
        if (n != 0 && used < cap)
            used += (size_t)snprintf(lost + used, cap - used, "%s%s (%s%ld %s)", used ? ", " : "",
                                     table, n < 0 ? "unknown, " : "", n < 0 ? 0 : n, column);
    }
    return used > 0;
}

/* Runs each ';'-terminated statement of a no-transaction script on its own (several
 * statements in one call would form an implicit transaction). */
static bool run_one_by_one(struct store *st, const char *sql)
{
    char one[4096];
    for (const char *p = sql; *p;) {
        const char *end = strchr(p, ';');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        if (n >= sizeof one)
            return false;
        memcpy(one, p, n);
        one[n] = '\0';
        p += n + (end ? 1 : 0);
        bool blank = true;
        for (const char *c = one; *c && blank; c++) {
            if (*c == '-' && c[1] == '-')
                c += strcspn(c, "\n") - 1; /* a comment line */
            else if (!isspace((unsigned char)*c))
                blank = false;
        }
        if (!blank && store_script(st, one) != DB_OK)
            return false;
    }
    return true;
}

/* PostgreSQL: the whole run holds a session-level form of the migration lock (the same
 * key as the driver's transaction-level one, so the two exclude each other, and ours
 * nest). Another run waits for it by polling, outside any transaction: a session that
 * waited inside one (or inside a blocking pg_advisory_lock call) would hold a snapshot
 * that CREATE INDEX CONCURRENTLY waits for, and the two would deadlock. */
#define SESSION_LOCK_KEY "7268406437"
static const struct db_stmt ST_TRY_LOCK = {29, "SELECT pg_try_advisory_lock(" SESSION_LOCK_KEY ")"};

static void capture_bool(void *ctx, const char *const *cols, int n)
{
    *(bool *)ctx = n > 0 && cols[0] && cols[0][0] == 't';
}

static bool hold_session_lock(struct store *st)
{
    if (store_dialect(st) != DIALECT_POSTGRES)
        return true; /* SQLite: BEGIN IMMEDIATE in every step serialises runs */
    for (int waited = 0; waited < 6000; waited++) { /* 10 minutes */
        bool got = false;
        if (store_exec(st, &ST_TRY_LOCK, NULL, 0, capture_bool, &got) != DB_OK)
            return false;
        if (got)
            return true;
        if (waited == 0)
            log_eventf(LOG_INFO, "migrate: another migrate is running; waiting for it");
        struct timespec pause = {0, 100 * 1000 * 1000};
        nanosleep(&pause, NULL);
    }
    return false;
}

static void release_session_lock(struct store *st)
{
    if (store_dialect(st) == DIALECT_POSTGRES)
        store_script(st, "SELECT pg_advisory_unlock(" SESSION_LOCK_KEY ")");
}

/* One locked transaction that checks the version is still `expected`; on true the
 * transaction is open. *moved says someone else migrated meanwhile (nothing to do). */
static bool begin_locked(struct store *st, int expected, bool *moved)
{
    const char *lock = st->drv->migration_lock_sql;
    int current = -1;
    bool ok = store_begin_write(st) == DB_OK && (!lock || store_script(st, lock) == DB_OK) &&
              store_exec(st, &ST_CURRENT_VERSION, NULL, 0, capture_int, &current) == DB_OK;
    *moved = ok && current != expected;
    if (!ok || *moved)
        store_end_write(st, false);
    return ok && !*moved;
}

/* Applies (up) or reverts (down) one migration if the schema is still where we expect:
 * the version is re-read under the lock, so a concurrent `migrate` cannot double-apply. */
static bool step(struct store *st, const struct migration *m, bool up, char *err, size_t err_len)
{
    char version[16], now[28];
    snprintf(version, sizeof version, "%d", m->version);
    log_timestamp(now);
    const char *sql = up ? m->up : m->down;
    bool outside = strncmp(sql, NO_TRANSACTION, strlen(NO_TRANSACTION)) == 0, moved = false;
    int before = up ? m->version - 1 : m->version;
    if (!begin_locked(st, before, &moved)) {
        if (moved)
            return true; /* someone else moved it: nothing to do */
        snprintf(err, err_len, "cannot lock the migration history: %s", store_last_error(st));
        return false;
    }
    const char *record[] = {version, m->name, now}, *forget[] = {version};
    bool ok = true;
    if (outside) { /* the statements run alone, then the history is updated under the lock */
        store_end_write(st, true);
        ok = run_one_by_one(st, sql) && begin_locked(st, before, &moved) && !moved;
    } else {
        ok = store_script(st, sql) == DB_OK;
    }
    ok = ok &&
         (up ? store_exec(st, &ST_RECORD, record, 3, NULL, NULL)
             : store_exec(st, &ST_FORGET, forget, 1, NULL, NULL)) == DB_OK &&
         store_end_write(st, true) == DB_OK;
    if (!ok) {
        snprintf(err, err_len, "%s %s failed: %s", up ? "applying" : "reverting", m->name,
                 store_last_error(st));
        store_end_write(st, false);
    }
    return ok;
}

int store_schema_version(struct store *st)
{
    int v = -1;
    return store_exec(st, &ST_CURRENT_VERSION, NULL, 0, capture_int, &v) == DB_OK ? v : -1;
}

int store_latest_schema_version(struct store *st) { return latest_version(st->drv->name); }

static bool migrate_locked(struct store *st, int target, bool force, char *err, size_t err_len);

bool store_migrate(struct store *st, int target, bool force, char *err, size_t err_len)
{
    if (!hold_session_lock(st)) {
        snprintf(err, err_len, "cannot take the migration lock: %s", store_last_error(st));
        return false;
    }
    bool ok = migrate_locked(st, target, force, err, err_len);
    release_session_lock(st);
    return ok;
}

static bool migrate_locked(struct store *st, int target, bool force, char *err, size_t err_len)
{
    const char *backend = st->drv->name;
    int latest = latest_version(backend), current = 0;
    if (target < 0)
        target = latest;
    if (target > latest) {
        snprintf(err, err_len, "no migration %d: the latest is %d", target, latest);
        return false;
    }
    /* The history table is created under the same lock as every step, so two first-time
     * `migrate` runs cannot race on CREATE TABLE (on PostgreSQL that race fails on a
     * catalog unique index even with IF NOT EXISTS). */
    const char *lock = st->drv->migration_lock_sql;
    if (store_begin_write(st) != DB_OK || (lock && store_script(st, lock) != DB_OK) ||
        store_script(st, create_history) != DB_OK ||
        store_exec(st, &ST_CURRENT_VERSION, NULL, 0, capture_int, &current) != DB_OK ||
        store_end_write(st, true) != DB_OK) {
        store_end_write(st, false);
        snprintf(err, err_len, "cannot read the migration history: %s", store_last_error(st));
        return false;
    }
    if (current > latest) {
        snprintf(err, err_len, "the database is at version %d, newer than this binary knows (%d)",
                 current, latest);
        return false;
    }
    if (current == target) {
        log_eventf(LOG_INFO, "migrate: %s schema is at version %d, nothing to do", backend, current);
        return true;
    }
    bool up = target > current;
    /* Before any step: a rollback that would destroy data stops here, having changed nothing. */
    for (int v = current; !up && !force && v > target; v--) {
        const struct migration *m = find(backend, v);
        char lost[600];
        if (m && data_at_risk(st, m->down, lost, sizeof lost)) {
            snprintf(err, err_len, "reverting %s would delete %s; nothing was changed. Export the "
                     "archive first (timewarp export), then rerun with --force to revert anyway",
                     m->name, lost);
            return false;
        }
    }
    for (int v = up ? current + 1 : current; up ? v <= target : v > target; v += up ? 1 : -1) {
        const struct migration *m = find(backend, v);
        if (!m) {
            snprintf(err, err_len, "migration %d is missing for %s", v, backend);
            return false;
        }
        log_eventf(LOG_INFO, "migrate: %s %s", up ? "applying" : "reverting", m->name);
        if (!step(st, m, up, err, err_len))
            return false;
    }
    log_eventf(LOG_INFO, "migrate: %s schema is now at version %d", backend, target);
    return true;
}
