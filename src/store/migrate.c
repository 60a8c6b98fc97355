/* Versioned, reversible migrations, embedded in the binary. Each step runs in its own
 * transaction together with its row in schema_migrations, so a crash mid-migration leaves
 * the schema at a known version. */
#include "store/migrations.h"
#include "store/store.h"
#include "store/store_internal.h"
#include "log.h"

#include <stdio.h>
#include <string.h>

static const struct db_stmt
    ST_CURRENT_VERSION = {20, "SELECT COALESCE(MAX(version), 0) FROM schema_migrations"},
    ST_RECORD = {21, "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)"},
    ST_FORGET = {22, "DELETE FROM schema_migrations WHERE version = ?"};

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

/* Applies (up) or reverts (down) one migration if the schema is still where we expect:
 * the version is re-read under the lock, so a concurrent `migrate` cannot double-apply. */
static bool step(struct store *st, const struct migration *m, bool up, char *err, size_t err_len)
{
    char version[16], now[28];
    int current = -1;
    snprintf(version, sizeof version, "%d", m->version);
    log_timestamp(now);
    const char *lock = st->drv->migration_lock_sql;
    bool ok = store_begin_write(st) == DB_OK &&
              (!lock || store_script(st, lock) == DB_OK) &&
              store_exec(st, &ST_CURRENT_VERSION, NULL, 0, capture_int, &current) == DB_OK;
    if (ok && current != (up ? m->version - 1 : m->version)) {
        store_end_write(st, false); /* someone else moved it: nothing to do */
        return true;
    }
    const char *record[] = {version, m->name, now}, *forget[] = {version};
    ok = ok && store_script(st, up ? m->up : m->down) == DB_OK &&
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

bool store_migrate(struct store *st, int target, bool force, char *err, size_t err_len)
{
    (void)force;
    const char *backend = st->drv->name;
    int latest = latest_version(backend), current = 0;
    if (target < 0)
        target = latest;
    if (target > latest) {
        snprintf(err, err_len, "no migration %d: the latest is %d", target, latest);
        return false;
    }
    if (store_script(st, create_history) != DB_OK ||
        store_exec(st, &ST_CURRENT_VERSION, NULL, 0, capture_int, &current) != DB_OK) {
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
