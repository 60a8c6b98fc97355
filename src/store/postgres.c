/* PostgreSQL driver over libpq: one connection per worker thread, statements prepared on
 * first use, and a broken connection re-established on the next request so the service
 * recovers from a database restart without restarting itself. */
#include "store/db.h"

#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct pg_conn {
    PGconn *pg;
    const struct config *cfg;
    bool prepared[DB_MAX_STMTS];
    char error[512];
};

static void set_error(struct pg_conn *c, const char *what, const char *detail)
{
    /* Only the first line: libpq's later lines (LINE n, DETAIL) echo SQL and row values. */
    snprintf(c->error, sizeof c->error, "postgres: %s: %.*s", what,
             detail ? (int)strcspn(detail, "\n") : 0, detail ? detail : "");
    size_t n = strlen(c->error);
    while (n > 0 && (c->error[n - 1] == '\n' || c->error[n - 1] == ' '))
        c->error[--n] = '\0';
}

static enum db_status classify(struct pg_conn *c, PGresult *res, const char *what)
{
    set_error(c, what, res ? PQresultErrorMessage(res) : PQerrorMessage(c->pg));
    if (PQstatus(c->pg) != CONNECTION_OK)
        return DB_UNAVAILABLE;
    const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    if (!state)
        return DB_UNAVAILABLE; /* no server answer at all */
    if (strcmp(state, "23505") == 0)
        return DB_CONFLICT;
    /* 08: connection exceptions; 57P: operator intervention (shutdown); 53: resources. */
    if (strncmp(state, "08", 2) == 0 || strncmp(state, "57P", 3) == 0 || strncmp(state, "53", 2) == 0)
        return DB_UNAVAILABLE;
    return DB_ERROR;
}

static void *pg_connect(const struct config *cfg, char *err, size_t err_len)
{
    struct pg_conn *c = calloc(1, sizeof *c);
    if (!c) {
        snprintf(err, err_len, "out of memory");
        return NULL;
    }
    c->cfg = cfg;
    c->pg = PQconnectdbParams(cfg->pg.keys, cfg->pg.values, 1);
    if (!c->pg || PQstatus(c->pg) != CONNECTION_OK) {
        /* libpq's message names host and port but never the password. */
        snprintf(err, err_len, "cannot connect to PostgreSQL: %s",
                 c->pg ? PQerrorMessage(c->pg) : "out of memory");
        size_t n = strlen(err);
        while (n > 0 && err[n - 1] == '\n')
            err[--n] = '\0';
        PQfinish(c->pg);
        free(c);
        return NULL;
    }
    return c;
}

static void pg_disconnect(void *conn)
{
    struct pg_conn *c = conn;
    if (!c)
        return;
    PQfinish(c->pg);
    free(c);
}

static bool pg_reconnect(void *conn)
{
    struct pg_conn *c = conn;
    PQreset(c->pg);
    memset(c->prepared, 0, sizeof c->prepared); /* a new session has no prepared statements */
    if (PQstatus(c->pg) != CONNECTION_OK) {
        set_error(c, "reconnect", PQerrorMessage(c->pg));
        return false;
    }
    return true;
}

/* Rewrites '?' placeholders as $1, $2, … (our SQL has no '?' inside literals). */
static void to_dollar_params(const char *sql, char *out, size_t cap)
{
    size_t o = 0;
    int n = 0;
    for (; *sql && o + 8 < cap; sql++) {
        if (*sql == '?')
            o += (size_t)snprintf(out + o, cap - o, "$%d", ++n);
        else
            out[o++] = *sql;
    }
    out[o] = '\0';
}

static enum db_status pg_exec(void *conn, const struct db_stmt *st, const char *const *params,
                              int nparams, db_row_fn on_row, void *ctx)
{
    struct pg_conn *c = conn;
    char name[16];
    snprintf(name, sizeof name, "tw%d", st->id);
    if (!c->prepared[st->id]) {
        char sql[2048];
        to_dollar_params(st->sql, sql, sizeof sql);
        PGresult *res = PQprepare(c->pg, name, sql, 0, NULL);
        if (PQresultStatus(res) != PGRES_COMMAND_OK) {
            enum db_status rc = classify(c, res, "prepare");
            PQclear(res);
            return rc;
        }
        PQclear(res);
        c->prepared[st->id] = true;
    }
    PGresult *res = PQexecPrepared(c->pg, name, nparams, params, NULL, NULL, 0);
    ExecStatusType status = PQresultStatus(res);
    if (status != PGRES_TUPLES_OK && status != PGRES_COMMAND_OK) {
        enum db_status rc = classify(c, res, "query");
        PQclear(res);
        return rc;
    }
    int rows = PQntuples(res), ncols = PQnfields(res);
    const char *cols[16];
    if (ncols > 16)
        ncols = 16;
    for (int r = 0; r < rows && on_row; r++) {
        for (int i = 0; i < ncols; i++)
            cols[i] = PQgetisnull(res, r, i) ? NULL : PQgetvalue(res, r, i);
        on_row(ctx, cols, ncols);
    }
    PQclear(res);
    return DB_OK;
}

static enum db_status pg_exec_script(void *conn, const char *sql)
{
    struct pg_conn *c = conn;
    PGresult *res = PQexec(c->pg, sql);
    ExecStatusType status = PQresultStatus(res);
    enum db_status rc = status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK
                            ? DB_OK
                            : classify(c, res, "script");
    PQclear(res);
    return rc;
}

static enum db_status pg_begin_write(void *conn) { return pg_exec_script(conn, "BEGIN"); }

static enum db_status pg_end_write(void *conn, bool commit)
{
    /* A failed COMMIT has already ended the transaction in PostgreSQL. */
    return pg_exec_script(conn, commit ? "COMMIT" : "ROLLBACK");
}

static const char *pg_last_error(void *conn) { return ((struct pg_conn *)conn)->error; }

const struct db_driver db_postgres_driver = {
    .name = "postgres",
    .connect = pg_connect,
    .disconnect = pg_disconnect,
    .reconnect = pg_reconnect,
    .exec = pg_exec,
    .exec_script = pg_exec_script,
    .last_error = pg_last_error,
    .begin_write = pg_begin_write,
    .end_write = pg_end_write,
    /* An advisory lock rather than a table lock: it exists before schema_migrations does. */
    .migration_lock_sql = "SELECT pg_advisory_xact_lock(7268406437)",
};
