/* PostgreSQL driver over libpq: one connection per database worker, statements prepared on
 * first use, and a broken connection re-established on the next request so the service
 * recovers from a database restart without restarting itself.
 *
 * Everything runs on libpq's non-blocking interface with poll(2) against the task's
 * deadline: a database that stops answering (a failover, a black-holed network) costs at
 * most the time budget, never the kernel's retransmission timeout. Server-side timeouts
 * (statement, lock, idle in transaction) and TCP keepalives are set in config.c. */
#include "store/db.h"
#include "clock.h"

#include <errno.h>
#include <libpq-fe.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct pg_conn {
    PGconn *pg;
    const struct config *cfg;
    bool prepared[DB_MAX_STMTS];
    long long deadline_us; /* of the current task; 0 = only the configured budget */
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
    /* 40001 serialization failure, 40P01 deadlock: the transaction is rolled back whole. */
    if (strcmp(state, "40001") == 0 || strcmp(state, "40P01") == 0)
        return DB_RETRY;
    /* 57014 statement_timeout, 55P03 lock_timeout, 53: out of resources. */
    if (strcmp(state, "57014") == 0 || strcmp(state, "55P03") == 0 || strncmp(state, "53", 2) == 0)
        return DB_BUSY;
    /* 08: connection exceptions; 57P: operator intervention (shutdown, failover). */
    if (strncmp(state, "08", 2) == 0 || strncmp(state, "57P", 3) == 0)
        return DB_UNAVAILABLE;
    return DB_ERROR;
}

/* Waits until the socket is ready or the deadline passes: 1 ready, 0 timed out, -1 error. */
static int wait_socket(PGconn *pg, bool for_write, long long deadline_us)
{
    for (;;) {
        long long left = deadline_us - monotonic_us();
        if (left <= 0)
            return 0;
        struct pollfd p = {PQsocket(pg), for_write ? POLLOUT : POLLIN, 0};
        if (p.fd < 0)
            return -1;
        int r = poll(&p, 1, (int)((left + 999) / 1000));
        if (r > 0)
            return 1;
        if (r < 0 && errno != EINTR)
            return -1;
    }
}

static long long budget_deadline(const struct pg_conn *c)
{
    return monotonic_us() + (long long)c->cfg->db_timeout_ms * 1000;
}

/* Connects without blocking past the budget (libpq's connect_timeout counts whole seconds
 * per host and only while connecting the socket). */
static PGconn *connect_within(const struct config *cfg, long long deadline_us, char *err,
                              size_t err_len)
{
    PGconn *pg = PQconnectStartParams(cfg->pg.keys, cfg->pg.values, 1);
    PostgresPollingStatusType st = PGRES_POLLING_WRITING;
    while (pg && PQstatus(pg) != CONNECTION_BAD && st != PGRES_POLLING_OK &&
           st != PGRES_POLLING_FAILED) {
        int r = wait_socket(pg, st == PGRES_POLLING_WRITING, deadline_us);
        if (r <= 0) {
            snprintf(err, err_len, "cannot connect to PostgreSQL: %s",
                     r == 0 ? "no answer within the database time budget" : "socket error");
            PQfinish(pg);
            return NULL;
        }
        st = PQconnectPoll(pg);
    }
    if (!pg || PQstatus(pg) != CONNECTION_OK) {
        /* libpq's message names host and port but never the password. */
        snprintf(err, err_len, "cannot connect to PostgreSQL: %s",
                 pg ? PQerrorMessage(pg) : "out of memory");
        size_t n = strlen(err);
        while (n > 0 && err[n - 1] == '\n')
            err[--n] = '\0';
        PQfinish(pg);
        return NULL;
    }
    PQsetnonblocking(pg, 1); /* so no send can block past the deadline either */
    return pg;
}

static void *pg_connect(const struct config *cfg, char *err, size_t err_len)
{
    struct pg_conn *c = calloc(1, sizeof *c);
    if (!c) {
        snprintf(err, err_len, "out of memory");
        return NULL;
    }
    c->cfg = cfg;
    c->pg = connect_within(cfg, budget_deadline(c), err, err_len);
    if (!c->pg) {
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
    PQfinish(c->pg); /* non-blocking: a dead peer cannot hold us here */
    memset(c->prepared, 0, sizeof c->prepared); /* a new session has no prepared statements */
    /* Within the current task's deadline, or the budget when that has passed (the reconnect
     * may come first thing in a new task, before its deadline is set). */
    long long deadline = budget_deadline(c);
    if (c->deadline_us > monotonic_us() && c->deadline_us < deadline)
        deadline = c->deadline_us;
    c->pg = connect_within(c->cfg, deadline, c->error, sizeof c->error);
    return c->pg != NULL;
}

static void pg_set_deadline(void *conn, long long deadline_us)
{
    ((struct pg_conn *)conn)->deadline_us = deadline_us;
}

static bool pg_alive(void *conn)
{
    struct pg_conn *c = conn;
    /* An idle session is sent nothing we wait for; what can arrive is the server's goodbye
     * (a restart's "terminating connection", then EOF) or, under TLS, session tickets that
     * carry no data. So: read whatever is there, without waiting, until libpq either sees
     * the connection closed or has nothing more to read. Once per task. */
    for (int round = 0; round < 4; round++) {
        if (!c->pg || PQstatus(c->pg) != CONNECTION_OK)
            return false;
        struct pollfd p = {PQsocket(c->pg), POLLIN, 0};
        if (p.fd < 0)
            return false;
        if (poll(&p, 1, 0) <= 0)
            return true;
        /* A FATAL sent to an idle session (a restart, pg_terminate_backend) lands in libpq's
         * error message; the EOF behind it may not have arrived yet. */
        size_t before = strlen(PQerrorMessage(c->pg));
        if (!PQconsumeInput(c->pg) || strlen(PQerrorMessage(c->pg)) != before)
            return false;
    }
    return PQstatus(c->pg) == CONNECTION_OK;
}

static long long call_deadline(const struct pg_conn *c)
{
    return c->deadline_us ? c->deadline_us : budget_deadline(c);
}

/* After a send: flushes the query, then hands every result to `on_result` (rows one at a
 * time in single-row mode) until libpq has no more. */
typedef enum db_status (*pg_result_fn)(struct pg_conn *c, PGresult *res, void *ctx);

static enum db_status collect(struct pg_conn *c, pg_result_fn on_result, void *ctx)
{
    long long deadline = call_deadline(c);
    int f;
    while ((f = PQflush(c->pg)) == 1)
        if (wait_socket(c->pg, true, deadline) <= 0)
            goto no_answer;
    if (f < 0)
        return classify(c, NULL, "send");
    enum db_status rc = DB_OK;
    for (;;) {
        while (PQisBusy(c->pg)) {
            if (wait_socket(c->pg, false, deadline) <= 0)
                goto no_answer;
            if (!PQconsumeInput(c->pg))
                return classify(c, NULL, "receive");
        }
        PGresult *res = PQgetResult(c->pg);
        if (!res)
            return rc;
        enum db_status r = on_result(c, res, ctx);
        if (rc == DB_OK)
            rc = r;
        PQclear(res);
    }
no_answer:
    /* The statement may or may not have run, and the session is mid-statement: it is of no
     * further use, whatever the caller does next (a later send on it would fail with "another
     * command is already in progress", which reads as an SQL error, for good). Closed here,
     * every later call fails as not sent until the reconnect. */
    set_error(c, "query", "no answer within the database time budget");
    PQfinish(c->pg);
    c->pg = NULL;
    return DB_UNAVAILABLE;
}

static enum db_status expect_ok(struct pg_conn *c, PGresult *res, void *ctx)
{
    const char *what = ctx;
    ExecStatusType status = PQresultStatus(res);
    return status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK ? DB_OK : classify(c, res, what);
}

/* A send that failed before anything reached the server. */
static enum db_status send_failed(struct pg_conn *c, const char *what)
{
    set_error(c, what, PQerrorMessage(c->pg));
    return PQstatus(c->pg) != CONNECTION_OK ? DB_NOT_SENT : DB_ERROR;
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

struct row_sink {
    db_row_fn on_row;
    void *ctx;
};

static enum db_status deliver_rows(struct pg_conn *c, PGresult *res, void *ctx)
{
    struct row_sink *sink = ctx;
    ExecStatusType status = PQresultStatus(res);
    if (status != PGRES_SINGLE_TUPLE && status != PGRES_TUPLES_OK && status != PGRES_COMMAND_OK)
        return classify(c, res, "query");
    int rows = PQntuples(res), ncols = PQnfields(res);
    const char *cols[16];
    if (ncols > 16)
        ncols = 16;
    for (int r = 0; r < rows && sink->on_row; r++) {
        for (int i = 0; i < ncols; i++)
            cols[i] = PQgetisnull(res, r, i) ? NULL : PQgetvalue(res, r, i);
        sink->on_row(sink->ctx, cols, ncols);
    }
    return DB_OK;
}

static enum db_status pg_exec(void *conn, const struct db_stmt *st, const char *const *params,
                              int nparams, db_row_fn on_row, void *ctx)
{
    struct pg_conn *c = conn;
    char sql[2048];
    if (st->id == DB_NOT_CACHED) {
        to_dollar_params(st->sql, sql, sizeof sql);
        if (!PQsendQueryParams(c->pg, sql, nparams, NULL, params, NULL, NULL, 0))
            return send_failed(c, "query");
    } else {
        char name[16];
        snprintf(name, sizeof name, "tw%d", st->id);
        if (!c->prepared[st->id]) {
            to_dollar_params(st->sql, sql, sizeof sql);
            if (!PQsendPrepare(c->pg, name, sql, 0, NULL))
                return send_failed(c, "prepare");
            enum db_status rc = collect(c, expect_ok, "prepare");
            if (rc == DB_UNAVAILABLE)
                return DB_NOT_SENT; /* only the PREPARE was lost: the statement never ran */
            if (rc != DB_OK)
                return rc;
            c->prepared[st->id] = true;
        }
        if (!PQsendQueryPrepared(c->pg, name, nparams, params, NULL, NULL, 0))
            return send_failed(c, "query");
    }
    /* Rows arrive one at a time, so a page never sits whole in libpq's memory too. */
    PQsetSingleRowMode(c->pg);
    struct row_sink sink = {on_row, ctx};
    return collect(c, deliver_rows, &sink);
}

static enum db_status pg_exec_script(void *conn, const char *sql)
{
    struct pg_conn *c = conn;
    if (!PQsendQuery(c->pg, sql))
        return send_failed(c, "script");
    return collect(c, expect_ok, "script");
}

/* READ COMMITTED stated, not inherited: under a server default of REPEATABLE READ, the
 * duplicate check (INSERT … ON CONFLICT DO NOTHING) would fail with a serialization error
 * instead of seeing the committed row. */
static enum db_status pg_begin_write(void *conn)
{
    return pg_exec_script(conn, "BEGIN ISOLATION LEVEL READ COMMITTED");
}

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
    .set_deadline = pg_set_deadline,
    .alive = pg_alive,
    .exec = pg_exec,
    .exec_script = pg_exec_script,
    .last_error = pg_last_error,
    .begin_write = pg_begin_write,
    .end_write = pg_end_write,
    /* An advisory lock rather than a table lock: it exists before schema_migrations does. */
    .migration_lock_sql = "SELECT pg_advisory_xact_lock(7268406437)",
};
