/* config_load(), config_host_allowed(), config_ensure_secret_key(). Settings come from a
 * name → value table instead of the process environment, so each test states its whole world. */
#include "unit.h"

#include "config.h"

#include <errno.h>
#include <ftw.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

struct kv {
    const char *name, *value;
};

/* A table ends at the first entry with a NULL name. */
static const char *table_lookup(const char *name, void *ctx)
{
    for (const struct kv *e = ctx; e->name; e++)
        if (strcmp(e->name, name) == 0)
            return e->value;
    return NULL;
}

static struct config cfg; /* big: keep it off the stack */
static struct config_problems probs;

static bool load(const struct kv *table, bool deploy)
{
    return config_load(&cfg, table_lookup, (void *)table, deploy, &probs);
}

static void show_problems(void)
{
    for (int i = 0; i < probs.count; i++)
        print_error("    problem: %s\n", probs.text[i]);
}

/* Index of the first problem mentioning `word`, or -1. */
static int problem_with(const char *word)
{
    for (int i = 0; i < probs.count; i++)
        if (strstr(probs.text[i], word))
            return i;
    return -1;
}

static void assert_ok(bool ok)
{
    if (!ok || probs.count != 0)
        show_problems();
    assert_true(ok);
    assert_int_equal(probs.count, 0);
}

/* Exactly one problem, and it names `var`. */
static void assert_one_problem(bool ok, const char *var)
{
    if (ok || probs.count != 1 || problem_with(var) < 0) {
        print_error("expected exactly one problem naming %s\n", var);
        show_problems();
    }
    assert_false(ok);
    assert_int_equal(probs.count, 1);
    assert_true(problem_with(var) >= 0);
}

static const char *pg_value(const char *key)
{
    for (int i = 0; i < 10 && cfg.pg.keys[i]; i++)
        if (strcmp(cfg.pg.keys[i], key) == 0)
            return cfg.pg.values[i];
    return NULL;
}

#define GOOD_KEY "k3Jx9QmZp2Lr8VtYw4Nc7Hb1Fd6Gs0Ae"   /* 32 characters, many distinct */
/* What production accepts: TLS verified against a CA bundle. */
#define GOOD_PG "postgres://tw:pw@db.internal:5432/timewarp?sslmode=verify-full&sslrootcert=/etc/timewarp/db-ca.pem"

/* ---- defaults and databases ------------------------------------------------------------ */

static void test_defaults(void **state)
{
    (void)state;
    static const struct kv env[] = {{NULL, NULL}};
    assert_ok(load(env, false));
    assert_int_equal(cfg.env, ENV_DEVELOPMENT);
    assert_int_equal(cfg.engine, DB_SQLITE);
    assert_string_equal(cfg.sqlite_path, "data/timewarp.sqlite3");
    assert_string_equal(cfg.data_dir, "data");
    assert_string_equal(cfg.host, "0.0.0.0");
    assert_int_equal(cfg.port, 8000);
    assert_true(cfg.debug);
    assert_int_equal(cfg.secret_key_len, 0);
    assert_false(cfg.secret_key_generated);
    assert_int_equal(cfg.allowed_hosts_count, 0);
    assert_int_equal(cfg.idle_timeout, 25);
    assert_int_equal(cfg.max_body_bytes, 1048576);
    assert_int_equal(cfg.max_connections, 1000);
    assert_int_equal(cfg.shutdown_timeout, 10);
    assert_int_equal(cfg.drain_seconds, 0);
    assert_int_equal(cfg.log_level, LOG_INFO);
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    assert_int_equal(cfg.workers, cpus > 0 ? 2 * cpus : 2);
    assert_string_equal(config_env_name(cfg.env), "development");
}

/* Production's own defaults: DEBUG off, a 20 s drain. */
static void test_production_defaults(void **state)
{
    (void)state;
    static const struct kv env[] = {{"TIMEWARP_ENV", "production"}, {"SECRET_KEY", GOOD_KEY},
                                    {"DATABASE_URL", GOOD_PG}, {"ALLOWED_HOSTS", "api.example.com"},
                                    {NULL, NULL}};
    assert_ok(load(env, false));
    assert_int_equal(cfg.env, ENV_PRODUCTION);
    assert_false(cfg.debug);
    assert_int_equal(cfg.drain_seconds, 20);
    assert_string_equal(config_env_name(cfg.env), "production");
    assert_int_equal(cfg.secret_key_len, strlen(GOOD_KEY));
    assert_memory_equal(cfg.secret_key, GOOD_KEY, strlen(GOOD_KEY));
    /* the deploy checks agree with the start-up checks on a good production setup */
    assert_ok(load(env, true));
}

static void test_explicit_values(void **state)
{
    (void)state;
    static const struct kv env[] = {
        {"HOST", "127.0.0.1"}, {"PORT", "9090"}, {"DEBUG", "false"}, {"LOG_LEVEL", "WARN"},
        {"TIMEWARP_WORKERS", "3"}, {"TIMEWARP_IDLE_TIMEOUT", "30"},
        {"TIMEWARP_MAX_BODY_BYTES", "2048"}, {"TIMEWARP_MAX_CONNECTIONS", "50"},
        {"TIMEWARP_SHUTDOWN_TIMEOUT", "0"}, {"TIMEWARP_DRAIN_SECONDS", "7"},
        {"TIMEWARP_ENV", "development"}, {NULL, NULL}};
    assert_ok(load(env, false));
    assert_string_equal(cfg.host, "127.0.0.1");
    assert_int_equal(cfg.port, 9090);
    assert_false(cfg.debug);
    assert_int_equal(cfg.log_level, LOG_WARN);
    assert_int_equal(cfg.workers, 3);
    assert_int_equal(cfg.idle_timeout, 30);
    assert_int_equal(cfg.max_body_bytes, 2048);
    assert_int_equal(cfg.max_connections, 50);
    assert_int_equal(cfg.shutdown_timeout, 0);
    assert_int_equal(cfg.drain_seconds, 7);
}

static void test_sqlite_urls(void **state)
{
    (void)state;
    static const struct {
        const char *url, *path, *dir;
    } cases[] = {
        {"sqlite:////abs/x.db", "/abs/x.db", "/abs"},
        {"sqlite:///rel.db", "rel.db", "."},
        {"sqlite:///var/lib/tw.db", "var/lib/tw.db", "var/lib"},
        {"sqlite:////var/lib/timewarp/db.sqlite3", "/var/lib/timewarp/db.sqlite3", "/var/lib/timewarp"},
        {"sqlite:////x.db", "/x.db", "/"},
    };
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        const struct kv env[] = {{"DATABASE_URL", cases[i].url}, {NULL, NULL}};
        assert_ok(load(env, false));
        assert_int_equal(cfg.engine, DB_SQLITE);
        assert_string_equal(cfg.sqlite_path, cases[i].path);
        assert_string_equal(cfg.data_dir, cases[i].dir);
    }
}

static void test_postgres_url(void **state)
{
    (void)state;
    static const char *const urls[] = {GOOD_PG, "postgresql://u@h/db",
                                       "postgres://u:p%40ss@h:6543/db?sslmode=require"};
    for (size_t i = 0; i < ARRAY_LEN(urls); i++) {
        const struct kv env[] = {{"DATABASE_URL", urls[i]}, {NULL, NULL}};
        assert_ok(load(env, false));
        assert_int_equal(cfg.engine, DB_POSTGRES);
        assert_non_null(pg_value("dbname"));
        assert_string_equal(pg_value("dbname"), urls[i]); /* libpq expands the URI itself */
        assert_null(pg_value("password"));
    }
    /* the keyword list is NULL-terminated, keys and values in step */
    int n = 0;
    while (n < 10 && cfg.pg.keys[n])
        n++;
    assert_true(n < 10);
    assert_null(cfg.pg.values[n]);
}

/* DATABASE_URL wins over the DB_* pieces. */
static void test_url_wins_over_pieces(void **state)
{
    (void)state;
    static const struct kv env[] = {{"DATABASE_URL", "sqlite:///x.db"}, {"DB_ENGINE", "postgres"},
                                    {"DB_HOST", "h"}, {NULL, NULL}};
    assert_ok(load(env, false));
    assert_int_equal(cfg.engine, DB_SQLITE);
    assert_string_equal(cfg.sqlite_path, "x.db");
}

static void test_db_engine_pieces(void **state)
{
    (void)state;
    static const struct kv env[] = {{"DB_ENGINE", "postgres"}, {"DB_HOST", "db.internal"},
                                    {"DB_PORT", "5433"}, {"DB_NAME", "timewarp"},
                                    {"DB_USER", "tw"}, {"DB_PASSWORD", "s3cr=t pw'x"},
                                    {NULL, NULL}};
    assert_ok(load(env, false));
    assert_int_equal(cfg.engine, DB_POSTGRES);
    assert_string_equal(pg_value("host"), "db.internal");
    assert_string_equal(pg_value("port"), "5433");
    assert_string_equal(pg_value("dbname"), "timewarp");
    assert_string_equal(pg_value("user"), "tw");
    assert_string_equal(pg_value("password"), "s3cr=t pw'x"); /* passed as is, not re-quoted */

    /* the RDS-style engine name also means PostgreSQL */
    static const struct kv env2[] = {{"DB_ENGINE", "postgresql"}, {"DB_HOST", "h"}, {NULL, NULL}};
    assert_ok(load(env2, false));
    assert_int_equal(cfg.engine, DB_POSTGRES);
    assert_string_equal(pg_value("host"), "h");
    assert_null(pg_value("password"));
}

static void test_db_engine_sqlite_and_unknown(void **state)
{
    (void)state;
    static const struct kv sq[] = {{"DB_ENGINE", "sqlite"}, {"DB_NAME", "/tmp/tw-unit.db"}, {NULL, NULL}};
    assert_ok(load(sq, false));
    assert_int_equal(cfg.engine, DB_SQLITE);
    assert_string_equal(cfg.sqlite_path, "/tmp/tw-unit.db");
    static const struct kv bad[] = {{"DB_ENGINE", "mysql"}, {NULL, NULL}};
    assert_one_problem(load(bad, false), "DB_ENGINE");
}

static void test_bad_database_urls(void **state)
{
    (void)state;
    static const char *const urls[] = {"mysql://u:p@h/db", "sqlite://rel.db", "sqlite:///",
                                       "sqlite:rel.db", "postgres:/h/db", "http://x", "rel.db"};
    for (size_t i = 0; i < ARRAY_LEN(urls); i++) {
        const struct kv env[] = {{"DATABASE_URL", urls[i]}, {NULL, NULL}};
        bool ok = load(env, false);
        if (ok || probs.count != 1 || problem_with("DATABASE_URL") < 0)
            print_error("DATABASE_URL=%s\n", urls[i]);
        assert_one_problem(ok, "DATABASE_URL");
    }
    /* and the problem does not echo credentials */
    static const struct kv env[] = {{"DATABASE_URL", "mysql://user:hunter2@h/db"}, {NULL, NULL}};
    assert_false(load(env, false));
    assert_int_equal(problem_with("hunter2"), -1);
}

/* ---- numbers and enumerations ---------------------------------------------------------- */

static void test_port(void **state)
{
    (void)state;
    static const char *const bad[] = {"abc", "0", "65536", "80x", "-1", "", "8000 ", "1e3",
                                      "99999999999999999999999", "8o00"};
    for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
        const struct kv env[] = {{"PORT", bad[i]}, {NULL, NULL}};
        bool ok = load(env, false);
        if (ok)
            print_error("PORT='%s' accepted\n", bad[i]);
        assert_one_problem(ok, "PORT");
    }
    static const struct {
        const char *v;
        int port;
    } good[] = {{"1", 1}, {"65535", 65535}, {"8080", 8080}};
    for (size_t i = 0; i < ARRAY_LEN(good); i++) {
        const struct kv env[] = {{"PORT", good[i].v}, {NULL, NULL}};
        assert_ok(load(env, false));
        assert_int_equal(cfg.port, good[i].port);
    }
}

static void test_bad_numbers_name_the_variable(void **state)
{
    (void)state;
    static const struct kv cases[] = {
        {"TIMEWARP_WORKERS", "0"},          {"TIMEWARP_WORKERS", "many"},
        {"TIMEWARP_WORKERS", "100000"},     {"TIMEWARP_IDLE_TIMEOUT", "0"},
        {"TIMEWARP_IDLE_TIMEOUT", "25s"},   {"TIMEWARP_MAX_BODY_BYTES", "1MiB"},
        {"TIMEWARP_MAX_BODY_BYTES", "-1"},  {"TIMEWARP_MAX_BODY_BYTES", "10"},
        {"TIMEWARP_MAX_CONNECTIONS", "0"},  {"TIMEWARP_MAX_CONNECTIONS", "1.5"},
        {"TIMEWARP_SHUTDOWN_TIMEOUT", "-1"}, {"TIMEWARP_SHUTDOWN_TIMEOUT", "ten"},
        {"TIMEWARP_DRAIN_SECONDS", "-5"},   {"TIMEWARP_DRAIN_SECONDS", "x"},
        {"DEBUG", "maybe"},                 {"DEBUG", "enabled"},
        {"LOG_LEVEL", "verbose"},           {"LOG_LEVEL", "trace"},
        {"TIMEWARP_ENV", "staging"},        {"TIMEWARP_ENV", "Production "},
    };
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        const struct kv env[] = {cases[i], {NULL, NULL}};
        bool ok = load(env, false);
        if (ok || probs.count != 1 || problem_with(cases[i].name) < 0)
            print_error("%s='%s'\n", cases[i].name, cases[i].value);
        assert_one_problem(ok, cases[i].name);
    }
}

static void test_bool_and_level_spellings(void **state)
{
    (void)state;
    static const struct {
        const char *v;
        bool want;
    } bools[] = {{"1", true}, {"true", true}, {"TRUE", true}, {"yes", true}, {"on", true},
                 {"0", false}, {"false", false}, {"False", false}, {"no", false}, {"off", false}};
    for (size_t i = 0; i < ARRAY_LEN(bools); i++) {
        const struct kv env[] = {{"DEBUG", bools[i].v}, {NULL, NULL}};
        assert_ok(load(env, false));
        assert_int_equal(cfg.debug, bools[i].want);
    }
    static const struct {
        const char *v;
        enum log_level want;
    } levels[] = {{"debug", LOG_DEBUG}, {"info", LOG_INFO}, {"warn", LOG_WARN}, {"ERROR", LOG_ERROR}};
    for (size_t i = 0; i < ARRAY_LEN(levels); i++) {
        const struct kv env[] = {{"LOG_LEVEL", levels[i].v}, {NULL, NULL}};
        assert_ok(load(env, false));
        assert_int_equal(cfg.log_level, levels[i].want);
    }
}

/* Loading never stops at the first problem. */
static void test_all_problems_listed(void **state)
{
    (void)state;
    static const struct kv env[] = {{"PORT", "x"}, {"DEBUG", "perhaps"}, {"LOG_LEVEL", "loud"},
                                    {"TIMEWARP_WORKERS", "0"}, {"DATABASE_URL", "mysql://h/db"},
                                    {NULL, NULL}};
    assert_false(load(env, false));
    if (probs.count != 5)
        show_problems();
    assert_int_equal(probs.count, 5);
    assert_true(problem_with("PORT") >= 0);
    assert_true(problem_with("DEBUG") >= 0);
    assert_true(problem_with("LOG_LEVEL") >= 0);
    assert_true(problem_with("TIMEWARP_WORKERS") >= 0);
    assert_true(problem_with("DATABASE_URL") >= 0);
}

/* ---- production rules ------------------------------------------------------------------ */

static void test_production_lists_every_problem(void **state)
{
    (void)state;
    static const struct kv env[] = {{"TIMEWARP_ENV", "production"}, {"DEBUG", "true"}, {NULL, NULL}};
    assert_false(load(env, false));
    if (probs.count != 4)
        show_problems();
    assert_int_equal(probs.count, 4);
    assert_true(problem_with("SECRET_KEY") >= 0);
    assert_true(problem_with("DEBUG") >= 0);
    assert_true(problem_with("ALLOWED_HOSTS") >= 0);
    assert_true(problem_with("SQLite") >= 0);
    /* four different problems, not one repeated */
    int a = problem_with("SECRET_KEY"), b = problem_with("DEBUG is"), c = problem_with("ALLOWED_HOSTS"),
        d = problem_with("SQLite");
    assert_true(a != b && a != c && a != d && b != c && b != d && c != d);
}

static void test_production_each_rule_alone(void **state)
{
    (void)state;
    static const struct kv no_key[] = {{"TIMEWARP_ENV", "production"}, {"DATABASE_URL", GOOD_PG},
                                       {"ALLOWED_HOSTS", "api.example.com"}, {NULL, NULL}};
    assert_one_problem(load(no_key, false), "SECRET_KEY");
    static const struct kv empty_key[] = {{"TIMEWARP_ENV", "production"}, {"SECRET_KEY", ""},
                                          {"DATABASE_URL", GOOD_PG},
                                          {"ALLOWED_HOSTS", "api.example.com"}, {NULL, NULL}};
    assert_one_problem(load(empty_key, false), "SECRET_KEY");
    static const struct kv debug[] = {{"TIMEWARP_ENV", "production"}, {"SECRET_KEY", GOOD_KEY},
                                      {"DEBUG", "1"}, {"DATABASE_URL", GOOD_PG},
                                      {"ALLOWED_HOSTS", "api.example.com"}, {NULL, NULL}};
    assert_one_problem(load(debug, false), "DEBUG");
    static const struct kv sqlite[] = {{"TIMEWARP_ENV", "production"}, {"SECRET_KEY", GOOD_KEY},
                                       {"DATABASE_URL", "sqlite:////data/tw.db"},
                                       {"ALLOWED_HOSTS", "api.example.com"}, {NULL, NULL}};
    assert_one_problem(load(sqlite, false), "SQLite");
    static const struct kv hosts[] = {{"TIMEWARP_ENV", "production"}, {"SECRET_KEY", GOOD_KEY},
                                      {"DATABASE_URL", GOOD_PG}, {"ALLOWED_HOSTS", " , ,"},
                                      {NULL, NULL}};
    assert_one_problem(load(hosts, false), "ALLOWED_HOSTS");
    static const struct kv pieces[] = {{"TIMEWARP_ENV", "production"}, {"SECRET_KEY", GOOD_KEY},
                                       {"DB_ENGINE", "postgres"}, {"DB_HOST", "h"},
                                       {"PGSSLMODE", "verify-full"}, {"PGSSLROOTCERT", "/ca.pem"},
                                       {"ALLOWED_HOSTS", "api.example.com"}, {NULL, NULL}};
    assert_ok(load(pieces, false));
}

/* ---- TLS towards PostgreSQL ------------------------------------------------------------ */

/* sslmode/sslrootcert resolve as libpq resolves them: URL, else PGSSL*, else "prefer". */
static void test_pg_tls_resolution(void **state)
{
    (void)state;
    static const struct {
        const char *url, *env_mode, *env_root, *mode, *root, *from;
    } cases[] = {
        {"postgres://h/db", NULL, NULL, "prefer", "", "libpq's default"},
        {"postgres://h/db?sslmode=require", NULL, NULL, "require", "", "DATABASE_URL's sslmode"},
        {"postgres://h/db", "verify-ca", "/env.pem", "verify-ca", "/env.pem", "PGSSLMODE"},
        {"postgres://h/db?sslmode=verify-full&sslrootcert=/u%20rl.pem", "disable", "/env.pem",
         "verify-full", "/u rl.pem", "DATABASE_URL's sslmode"},
        {"postgresql://u:p@h:5/db?sslrootcert=/url.pem", "verify-full", "/env.pem", "verify-full",
         "/url.pem", "PGSSLMODE"},
        {NULL, "allow", NULL, "allow", "", "PGSSLMODE"}, /* DB_* pieces: only the environment */
    };
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        struct kv env[5] = {{NULL, NULL}};
        int n = 0;
        if (cases[i].url)
            env[n++] = (struct kv){"DATABASE_URL", cases[i].url};
        else {
            env[n++] = (struct kv){"DB_ENGINE", "postgres"};
            env[n++] = (struct kv){"DB_HOST", "h"};
        }
        if (cases[i].env_mode)
            env[n++] = (struct kv){"PGSSLMODE", cases[i].env_mode};
        if (cases[i].env_root)
            env[n++] = (struct kv){"PGSSLROOTCERT", cases[i].env_root};
        assert_ok(load(env, false));
        if (strcmp(cfg.pg_sslmode, cases[i].mode) != 0 || strcmp(cfg.pg_sslrootcert, cases[i].root) != 0 ||
            strcmp(cfg.pg_sslmode_from, cases[i].from) != 0)
            print_error("case %zu: got sslmode '%s' from %s, sslrootcert '%s'\n", i, cfg.pg_sslmode,
                        cfg.pg_sslmode_from, cfg.pg_sslrootcert);
        assert_string_equal(cfg.pg_sslmode, cases[i].mode);
        assert_string_equal(cfg.pg_sslrootcert, cases[i].root);
        assert_string_equal(cfg.pg_sslmode_from, cases[i].from);
    }
    /* an unknown mode is named wherever it came from */
    static const struct kv bad_url[] = {{"DATABASE_URL", "postgres://h/db?sslmode=verify"}, {NULL, NULL}};
    assert_one_problem(load(bad_url, false), "DATABASE_URL's sslmode");
    static const struct kv bad_env[] = {{"DATABASE_URL", "postgres://h/db"}, {"PGSSLMODE", "on"}, {NULL, NULL}};
    assert_one_problem(load(bad_env, false), "PGSSLMODE");
    /* a URL libpq cannot parse is refused without quoting it (it may hold the password) */
    static const struct kv broken[] = {{"DATABASE_URL", "postgres://u:hunter2@h/db?nosuch=1"}, {NULL, NULL}};
    assert_one_problem(load(broken, false), "DATABASE_URL");
    assert_int_equal(problem_with("hunter2"), -1);
}

/* Production (and check --deploy) takes nothing weaker than verify-full, with a CA bundle. */
static void test_production_requires_verified_tls(void **state)
{
    (void)state;
    static const char *const weak[] = {"disable", "allow", "prefer", "require", "verify-ca"};
    for (size_t i = 0; i < ARRAY_LEN(weak); i++) {
        char url[256];
        snprintf(url, sizeof url, "postgres://tw:pw@db/tw?sslmode=%s&sslrootcert=/ca.pem", weak[i]);
        const struct kv in_url[] = {{"TIMEWARP_ENV", "production"}, {"SECRET_KEY", GOOD_KEY},
                                    {"DATABASE_URL", url}, {"ALLOWED_HOSTS", "api.example.com"},
                                    {NULL, NULL}};
        assert_one_problem(load(in_url, false), "sslmode");
        assert_true(problem_with(weak[i]) >= 0);
        assert_true(problem_with("verify-full") >= 0);
        const struct kv in_env[] = {{"DB_ENGINE", "postgres"}, {"DB_HOST", "db"},
                                    {"PGSSLMODE", weak[i]}, {"PGSSLROOTCERT", "/ca.pem"}, {NULL, NULL}};
        assert_ok(load(in_env, false)); /* development does not judge it... */
        assert_false(load(in_env, true)); /* ...check --deploy does */
        assert_true(problem_with("sslmode") >= 0 && problem_with("PGSSLMODE") >= 0);
    }
    /* nothing said at all: libpq's default is named */
    static const struct kv unset[] = {{"TIMEWARP_ENV", "production"}, {"SECRET_KEY", GOOD_KEY},
                                      {"DATABASE_URL", "postgres://tw:pw@db/tw?sslrootcert=/ca.pem"},
                                      {"ALLOWED_HOSTS", "api.example.com"}, {NULL, NULL}};
    assert_one_problem(load(unset, false), "sslmode");
    assert_true(problem_with("prefer") >= 0 && problem_with("default") >= 0);
    /* verify-full, but against which CA? */
    static const struct kv no_root[] = {{"TIMEWARP_ENV", "production"}, {"SECRET_KEY", GOOD_KEY},
                                        {"DATABASE_URL", "postgres://tw:pw@db/tw?sslmode=verify-full"},
                                        {"ALLOWED_HOSTS", "api.example.com"}, {NULL, NULL}};
    assert_one_problem(load(no_root, false), "sslrootcert");
    /* the URL's verify-full wins over a weaker PGSSLMODE, as in libpq */
    static const struct kv url_wins[] = {{"TIMEWARP_ENV", "production"}, {"SECRET_KEY", GOOD_KEY},
                                         {"DATABASE_URL", GOOD_PG}, {"PGSSLMODE", "disable"},
                                         {"ALLOWED_HOSTS", "api.example.com"}, {NULL, NULL}};
    assert_ok(load(url_wins, false));
    /* SQLite in development has no TLS to judge */
    static const struct kv sqlite[] = {{"PGSSLMODE", "disable"}, {NULL, NULL}};
    assert_ok(load(sqlite, false));
}

/* ---- the service role (migrate) ----------------------------------------------------------- */

static void test_service_role(void **state)
{
    (void)state;
    static const struct kv good[] = {{"DATABASE_URL", "postgres://h/db"}, {"TIMEWARP_DB_SERVICE_ROLE", "timewarp_app"},
                                     {"TIMEWARP_DB_SERVICE_PASSWORD", "s3cret"}, {NULL, NULL}};
    assert_ok(load(good, false));
    assert_string_equal(cfg.db_service_role, "timewarp_app");
    assert_string_equal(cfg.db_service_password, "s3cret");
    static const struct kv none[] = {{"DATABASE_URL", "postgres://h/db"}, {NULL, NULL}};
    assert_ok(load(none, false));
    assert_string_equal(cfg.db_service_role, "");
    static const char *const bad[] = {"Timewarp", "1app", "pg_app", "app-1", "app\"; DROP TABLE clips; --",
                                      "a234567890123456789012345678901234567890123456789012345678901234"};
    for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
        const struct kv env[] = {{"DATABASE_URL", "postgres://h/db"}, {"TIMEWARP_DB_SERVICE_ROLE", bad[i]},
                                 {NULL, NULL}};
        bool ok = load(env, false);
        if (ok)
            print_error("TIMEWARP_DB_SERVICE_ROLE accepted: %s\n", bad[i]);
        assert_one_problem(ok, "TIMEWARP_DB_SERVICE_ROLE");
        assert_string_equal(cfg.db_service_role, "");
    }
    static const struct kv sqlite[] = {{"TIMEWARP_DB_SERVICE_ROLE", "timewarp_app"}, {NULL, NULL}};
    assert_one_problem(load(sqlite, false), "TIMEWARP_DB_SERVICE_ROLE");
    static const struct kv orphan[] = {{"DATABASE_URL", "postgres://h/db"}, {"TIMEWARP_DB_SERVICE_PASSWORD", "x"},
                                       {NULL, NULL}};
    assert_one_problem(load(orphan, false), "TIMEWARP_DB_SERVICE_ROLE");
}

/* ---- metrics ----------------------------------------------------------------------------- */

static void test_service_name(void **state)
{
    (void)state;
    static const struct kv none[] = {{NULL, NULL}};
    assert_ok(load(none, false));
    assert_string_equal(cfg.service_name, "timewarp");
    static const char *const good[] = {
        "timewarp-staging", "TimeWarp production (eu-west-1)", "x",
        "0123456789012345678901234567890123456789012345678901234567890123", /* 64 */
    };
    for (size_t i = 0; i < ARRAY_LEN(good); i++) {
        const struct kv env[] = {{"TIMEWARP_SERVICE_NAME", good[i]}, {NULL, NULL}};
        assert_ok(load(env, false));
        assert_string_equal(cfg.service_name, good[i]);
    }
    static const char *const bad[] = {
        "", "01234567890123456789012345678901234567890123456789012345678901234", /* 65 */
        "tab\there", "new\nline", "quo\"te", "back\\slash", "caf\xc3\xa9", "del\x7f",
    };
    for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
        const struct kv env[] = {{"TIMEWARP_SERVICE_NAME", bad[i]}, {NULL, NULL}};
        bool ok = load(env, false);
        if (ok)
            print_error("TIMEWARP_SERVICE_NAME accepted: %s\n", bad[i]);
        assert_one_problem(ok, "TIMEWARP_SERVICE_NAME");
        assert_string_equal(cfg.service_name, "timewarp");
    }
}

static void test_weak_secret_keys(void **state)
{
    (void)state;
    static const char *const weak[] = {
        "short",
        "k3Jx9QmZp2Lr8VtYw4Nc7Hb1Fd6Gs0A",           /* 31 characters */
        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",   /* one distinct character */
        "abababababababababababababababababababab",
        "django-insecure-k3Jx9QmZp2Lr8VtYw4Nc7Hb1Fd6Gs0Ae",
        "CHANGEME-k3Jx9QmZp2Lr8VtYw4Nc7Hb1Fd6Gs0Ae",
    };
    for (size_t i = 0; i < ARRAY_LEN(weak); i++) {
        const struct kv env[] = {{"TIMEWARP_ENV", "production"}, {"SECRET_KEY", weak[i]},
                                 {"DATABASE_URL", GOOD_PG}, {"ALLOWED_HOSTS", "api.example.com"},
                                 {NULL, NULL}};
        bool ok = load(env, false);
        if (ok)
            print_error("weak SECRET_KEY accepted: %s\n", weak[i]);
        assert_one_problem(ok, "SECRET_KEY");
        /* the problem never echoes the secret */
        assert_int_equal(problem_with(weak[i]), -1);
    }
    /* development does not judge the key */
    static const struct kv dev[] = {{"SECRET_KEY", "short"}, {NULL, NULL}};
    assert_ok(load(dev, false));
    assert_int_equal(cfg.secret_key_len, 5);
}

/* check --deploy applies the production rules even to a development setup, and refuses '*'. */
static void test_deploy_checks(void **state)
{
    (void)state;
    static const struct kv dev[] = {{NULL, NULL}};
    assert_ok(load(dev, false));
    assert_false(load(dev, true));
    assert_true(problem_with("SECRET_KEY") >= 0);
    assert_true(problem_with("DEBUG") >= 0);
    assert_true(problem_with("ALLOWED_HOSTS") >= 0);
    assert_true(problem_with("SQLite") >= 0);

    static const struct kv star[] = {{"TIMEWARP_ENV", "production"}, {"SECRET_KEY", GOOD_KEY},
                                     {"DATABASE_URL", GOOD_PG},
                                     {"ALLOWED_HOSTS", "api.example.com, *"}, {NULL, NULL}};
    assert_one_problem(load(star, true), "*");
    assert_true(problem_with("ALLOWED_HOSTS") >= 0);
    static const struct kv star_dev[] = {{"ALLOWED_HOSTS", "*"}, {NULL, NULL}};
    assert_ok(load(star_dev, false));
    assert_false(load(star_dev, true));
    assert_true(problem_with("'*'") >= 0);
}

/* ---- secrets from files ---------------------------------------------------------------- */

static char tmpdir[256];

static int remove_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static int make_tmpdir(void **state)
{
    (void)state;
    const char *base = getenv("TMPDIR");
    snprintf(tmpdir, sizeof tmpdir, "%s/timewarp-unit-config.XXXXXX", base && *base ? base : "/tmp");
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int remove_tmpdir(void **state)
{
    (void)state;
    if (tmpdir[0])
        nftw(tmpdir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    tmpdir[0] = '\0';
    return 0;
}

static void write_file(const char *path, const char *content)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    assert_int_equal(fputs(content, f) >= 0, 1);
    assert_int_equal(fclose(f), 0);
}

static void test_secret_key_file(void **state)
{
    (void)state;
    char path[512];
    snprintf(path, sizeof path, "%s/key", tmpdir);
    write_file(path, GOOD_KEY "\n");
    const struct kv env[] = {{"SECRET_KEY_FILE", path}, {"TIMEWARP_ENV", "production"},
                             {"DATABASE_URL", GOOD_PG}, {"ALLOWED_HOSTS", "api.example.com"},
                             {NULL, NULL}};
    assert_ok(load(env, false));
    assert_int_equal(cfg.secret_key_len, strlen(GOOD_KEY)); /* trailing newline dropped */
    assert_memory_equal(cfg.secret_key, GOOD_KEY, strlen(GOOD_KEY));

    /* CRLF too */
    write_file(path, GOOD_KEY "\r\n");
    assert_ok(load(env, false));
    assert_int_equal(cfg.secret_key_len, strlen(GOOD_KEY));

    /* the variable itself wins over the file */
    const struct kv both[] = {{"SECRET_KEY", "Zz9Yy8Xx7Ww6Vv5Uu4Tt3Ss2Rr1Qq0Pp"}, {"SECRET_KEY_FILE", path},
                              {NULL, NULL}};
    assert_ok(load(both, false));
    assert_memory_equal(cfg.secret_key, "Zz9Yy8Xx7Ww6Vv5Uu4Tt3Ss2Rr1Qq0Pp", 32);

    /* a missing file is a problem naming the _FILE variable */
    char missing[600];
    snprintf(missing, sizeof missing, "%s/no-such-file", tmpdir);
    const struct kv gone[] = {{"SECRET_KEY_FILE", missing}, {NULL, NULL}};
    assert_one_problem(load(gone, false), "SECRET_KEY_FILE");

    /* DATABASE_URL_FILE and DB_PASSWORD_FILE work the same way */
    char url_path[512], pw_path[512];
    snprintf(url_path, sizeof url_path, "%s/url", tmpdir);
    snprintf(pw_path, sizeof pw_path, "%s/pw", tmpdir);
    write_file(url_path, GOOD_PG "\n");
    write_file(pw_path, "p@ss word\n");
    const struct kv url[] = {{"DATABASE_URL_FILE", url_path}, {NULL, NULL}};
    assert_ok(load(url, false));
    assert_int_equal(cfg.engine, DB_POSTGRES);
    assert_string_equal(pg_value("dbname"), GOOD_PG);
    const struct kv pw[] = {{"DB_ENGINE", "postgres"}, {"DB_PASSWORD_FILE", pw_path}, {NULL, NULL}};
    assert_ok(load(pw, false));
    assert_string_equal(pg_value("password"), "p@ss word");
}

/* A setting is honoured or refused with a message, never silently changed (issue 11). */
static void test_settings_never_silently_changed(void **state)
{
    (void)state;
    /* DATABASE_URL options that Time Warp sets itself would be overridden: refused. */
    static const char *const ours[] = {"connect_timeout=30", "application_name=x", "options=-c%20x%3Dy",
                                       "keepalives=0", "tcp_user_timeout=1"};
    for (size_t i = 0; i < ARRAY_LEN(ours); i++) {
        char url[256];
        snprintf(url, sizeof url, "postgres://u:p@db.internal/x?sslmode=require&%s", ours[i]);
        const struct kv env[] = {{"DATABASE_URL", url}, {NULL, NULL}};
        bool ok = load(env, false);
        if (ok || problem_with("DATABASE_URL") < 0)
            print_error("DATABASE_URL with %s was accepted\n", ours[i]);
        assert_one_problem(ok, "DATABASE_URL");
    }
    /* Parameters libpq gets from us instead: the time budget everywhere. */
    const struct kv budget[] = {{"DATABASE_URL", GOOD_PG}, {"TIMEWARP_DB_TIMEOUT", "1.5"}, {NULL, NULL}};
    assert_ok(load(budget, false));
    assert_int_equal(cfg.db_timeout_ms, 1500);
    assert_string_equal(pg_value("tcp_user_timeout"), "1500");
    assert_string_equal(pg_value("connect_timeout"), "2");
    assert_non_null(strstr(pg_value("options"), "statement_timeout=1500"));
    assert_non_null(strstr(pg_value("options"), "lock_timeout=1500"));
    static const char *const bad_budgets[] = {"0", "-1", "61", "2s", "", "nan"};
    for (size_t i = 0; i < ARRAY_LEN(bad_budgets); i++) {
        const struct kv env[] = {{"TIMEWARP_DB_TIMEOUT", bad_budgets[i]}, {NULL, NULL}};
        assert_one_problem(load(env, false), "TIMEWARP_DB_TIMEOUT");
    }
    /* HOST is checked by config (so `check` agrees with `serve`). */
    static const char *const hosts[] = {"localhost", "0.0.0.0:80", "example.com", "::1]"};
    for (size_t i = 0; i < ARRAY_LEN(hosts); i++) {
        const struct kv env[] = {{"HOST", hosts[i]}, {NULL, NULL}};
        assert_one_problem(load(env, false), "HOST");
    }
    const struct kv v6[] = {{"HOST", "::"}, {NULL, NULL}};
    assert_ok(load(v6, false));
    /* A secret longer than its buffer is refused, not cut short. */
    char path[512], big[2100];
    snprintf(path, sizeof path, "%s/long-key", tmpdir);
    memset(big, 'k', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    write_file(path, big);
    const struct kv longfile[] = {{"SECRET_KEY_FILE", path}, {NULL, NULL}};
    assert_one_problem(load(longfile, false), "SECRET_KEY_FILE");
    const struct kv longvar[] = {{"SECRET_KEY", big}, {NULL, NULL}};
    assert_one_problem(load(longvar, false), "SECRET_KEY");
    char url_path[512], url[2100];
    snprintf(url_path, sizeof url_path, "%s/long-url", tmpdir);
    snprintf(url, sizeof url, "postgres://u:p@db.internal/%.2060s", big);
    write_file(url_path, url);
    const struct kv longurl[] = {{"DATABASE_URL_FILE", url_path}, {NULL, NULL}};
    assert_false(load(longurl, false));
    assert_true(problem_with("DATABASE_URL_FILE") >= 0);
}

/* ---- config_ensure_secret_key ---------------------------------------------------------- */

static void test_ensure_secret_key_creates_and_reuses(void **state)
{
    (void)state;
    char url[512], keyfile[600], err[256] = "";
    snprintf(url, sizeof url, "sqlite:///%s/nested/data/tw.sqlite3", tmpdir);
    snprintf(keyfile, sizeof keyfile, "%s/nested/data/secret_key", tmpdir);
    const struct kv env[] = {{"DATABASE_URL", url}, {NULL, NULL}};

    assert_ok(load(env, false));
    assert_int_equal(cfg.secret_key_len, 0);
    assert_true(config_ensure_secret_key(&cfg, err, sizeof err));
    assert_true(cfg.secret_key_generated);
    assert_int_equal(cfg.secret_key_len, 64);
    for (size_t i = 0; i < 64; i++)
        assert_true((cfg.secret_key[i] >= '0' && cfg.secret_key[i] <= '9') ||
                    (cfg.secret_key[i] >= 'a' && cfg.secret_key[i] <= 'f'));
    char first[65];
    memcpy(first, cfg.secret_key, 64);
    first[64] = '\0';

    struct stat st;
    assert_int_equal(stat(keyfile, &st), 0);
    assert_true(S_ISREG(st.st_mode));
    assert_int_equal(st.st_mode & 07777, 0600);
    assert_int_equal(st.st_size, 64);
    char onfile[80] = "";
    FILE *f = fopen(keyfile, "r");
    assert_non_null(f);
    size_t n = fread(onfile, 1, sizeof onfile - 1, f);
    fclose(f);
    assert_int_equal(n, 64);
    assert_memory_equal(onfile, first, 64);

    /* a second start reads the same key back */
    assert_ok(load(env, false));
    assert_true(config_ensure_secret_key(&cfg, err, sizeof err));
    assert_int_equal(cfg.secret_key_len, 64);
    assert_true(cfg.secret_key_generated);
    assert_memory_equal(cfg.secret_key, first, 64);
    assert_int_equal(stat(keyfile, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0600);

    /* the key is random: another data dir gets another key */
    char url2[512];
    snprintf(url2, sizeof url2, "sqlite:///%s/other/tw.sqlite3", tmpdir);
    const struct kv env2[] = {{"DATABASE_URL", url2}, {NULL, NULL}};
    assert_ok(load(env2, false));
    assert_true(config_ensure_secret_key(&cfg, err, sizeof err));
    assert_int_equal(cfg.secret_key_len, 64);
    assert_memory_not_equal(cfg.secret_key, first, 64);
}

static void test_ensure_secret_key_leaves_explicit_key(void **state)
{
    (void)state;
    char url[512], keyfile[600], err[256] = "";
    snprintf(url, sizeof url, "sqlite:///%s/explicit/tw.sqlite3", tmpdir);
    snprintf(keyfile, sizeof keyfile, "%s/explicit/secret_key", tmpdir);
    const struct kv env[] = {{"DATABASE_URL", url}, {"SECRET_KEY", "my-own-dev-key"}, {NULL, NULL}};
    assert_ok(load(env, false));
    assert_true(config_ensure_secret_key(&cfg, err, sizeof err));
    assert_false(cfg.secret_key_generated);
    assert_int_equal(cfg.secret_key_len, strlen("my-own-dev-key"));
    assert_memory_equal(cfg.secret_key, "my-own-dev-key", strlen("my-own-dev-key"));
    struct stat st;
    assert_int_equal(stat(keyfile, &st), -1); /* nothing written */
}

static void test_ensure_secret_key_reports_io_failure(void **state)
{
    (void)state;
    char blocker[512], url[600], err[256] = "";
    snprintf(blocker, sizeof blocker, "%s/a-file", tmpdir);
    write_file(blocker, "not a directory\n");
    snprintf(url, sizeof url, "sqlite:///%s/sub/tw.sqlite3", blocker);
    const struct kv env[] = {{"DATABASE_URL", url}, {NULL, NULL}};
    assert_ok(load(env, false));
    assert_false(config_ensure_secret_key(&cfg, err, sizeof err));
    assert_true(strlen(err) > 0);
    assert_non_null(strstr(err, "a-file"));
}

/* ---- config_host_allowed ---------------------------------------------------------------- */

static void load_hosts(const char *hosts)
{
    const struct kv env[] = {{"ALLOWED_HOSTS", hosts}, {NULL, NULL}};
    assert_ok(load(env, false));
}

static void test_host_exact_case_port(void **state)
{
    (void)state;
    load_hosts(" API.Example.com ,localhost,127.0.0.1,[::1]");
    assert_int_equal(cfg.allowed_hosts_count, 4);
    static const char *const yes[] = {"api.example.com", "API.EXAMPLE.COM", "Api.Example.Com",
                                      "api.example.com:8000", "api.example.com:443", "localhost",
                                      "localhost:8000", "127.0.0.1", "127.0.0.1:8000", "[::1]",
                                      "[::1]:8000", "api.example.com."};
    static const char *const no[] = {"example.com", "www.api.example.com", "api.example.co",
                                     "api.example.com.evil.com", "evil.com", "", ":8000",
                                     "api.example.comx", "xapi.example.com", "127.0.0.2",
                                     "[::2]", "localhost.localdomain", "api.example.com@evil.com"};
    for (size_t i = 0; i < ARRAY_LEN(yes); i++)
        if (!config_host_allowed(&cfg, yes[i])) {
            print_error("refused Host %s\n", yes[i]);
            fail();
        }
    for (size_t i = 0; i < ARRAY_LEN(no); i++)
        if (config_host_allowed(&cfg, no[i])) {
            print_error("allowed Host %s\n", no[i]);
            fail();
        }
    assert_false(config_host_allowed(&cfg, NULL));
}

static void test_host_leading_dot(void **state)
{
    (void)state;
    load_hosts(".example.com");
    static const char *const yes[] = {"example.com", "a.example.com", "a.b.example.com",
                                      "A.B.EXAMPLE.COM:8443", "www.example.com", "example.com:80"};
    static const char *const no[] = {"badexample.com", "xexample.com", "example.com.evil.com",
                                     "example.org", "com", ".com", "evil.com", "examplecom"};
    for (size_t i = 0; i < ARRAY_LEN(yes); i++)
        if (!config_host_allowed(&cfg, yes[i])) {
            print_error("refused Host %s\n", yes[i]);
            fail();
        }
    for (size_t i = 0; i < ARRAY_LEN(no); i++)
        if (config_host_allowed(&cfg, no[i])) {
            print_error("allowed Host %s\n", no[i]);
            fail();
        }
    assert_false(config_host_allowed(&cfg, NULL));
}

static void test_host_star(void **state)
{
    (void)state;
    load_hosts("*");
    assert_true(config_host_allowed(&cfg, "anything.example"));
    assert_true(config_host_allowed(&cfg, "10.0.0.7:8000"));
    assert_true(config_host_allowed(&cfg, "[fe80::1]:80"));
    load_hosts("api.example.com,*");
    assert_true(config_host_allowed(&cfg, "evil.com"));
}

static void test_host_empty_list_allows_nothing(void **state)
{
    (void)state;
    /* config_host_allowed itself is strict; whether an empty list means "no check" in
     * development is the server's decision. */
    load_hosts("");
    assert_int_equal(cfg.allowed_hosts_count, 0);
    assert_false(config_host_allowed(&cfg, "localhost"));
    assert_false(config_host_allowed(&cfg, NULL));
}

/* ---- rate limits and operator tokens ------------------------------------------------------- */

static void assert_limit(enum rate_kind k, long count, long period)
{
    if (cfg.rate_limits[k].count != count || (count && cfg.rate_limits[k].period != period))
        print_error("%s: expected %ld/%ld s, got %ld/%ld s\n", config_rate_kind_name(k), count, period,
                    cfg.rate_limits[k].count, cfg.rate_limits[k].period);
    assert_int_equal(cfg.rate_limits[k].count, count);
    if (count)
        assert_int_equal(cfg.rate_limits[k].period, period);
}

static void test_rate_limit_defaults(void **state)
{
    (void)state;
    static const struct kv dev[] = {{NULL, NULL}};
    assert_ok(load(dev, false));
    for (int k = 0; k < RATE_KIND_COUNT; k++)
        assert_limit((enum rate_kind)k, 0, 0); /* development: none unless configured */
    static const struct kv prod[] = {{"TIMEWARP_ENV", "production"}, {"SECRET_KEY", GOOD_KEY},
                                     {"DATABASE_URL", GOOD_PG}, {"ALLOWED_HOSTS", "api.example.com"},
                                     {NULL, NULL}};
    assert_ok(load(prod, false));
    assert_limit(RATE_CONTRIBUTORS, 10, 60);
    assert_limit(RATE_SUBMISSIONS, 30, 60);
    assert_limit(RATE_REPORTS, 10, 60);
}

static void test_rate_limit_values(void **state)
{
    (void)state;
    static const struct kv env[] = {
        {"TIMEWARP_RATE_LIMITS", " contributors=2/s, submissions = 5/min ,reports=100/day"}, {NULL, NULL}};
    assert_ok(load(env, false));
    assert_limit(RATE_CONTRIBUTORS, 2, 1);
    assert_limit(RATE_SUBMISSIONS, 5, 60);
    assert_limit(RATE_REPORTS, 100, 86400);
    static const struct kv hour[] = {{"TIMEWARP_RATE_LIMITS", "reports=3/hour"}, {NULL, NULL}};
    assert_ok(load(hour, false));
    assert_limit(RATE_REPORTS, 3, 3600);
    assert_limit(RATE_SUBMISSIONS, 0, 0);
    static const struct kv empty[] = {{"TIMEWARP_RATE_LIMITS", " "}, {NULL, NULL}}; /* as unset */
    assert_ok(load(empty, false));
    assert_limit(RATE_REPORTS, 0, 0);
    /* Production: the kinds not named keep SPEC.md's defaults; `kind=off` and `off` lift them. */
    static const struct kv prod[] = {{"TIMEWARP_ENV", "production"}, {"SECRET_KEY", GOOD_KEY},
                                     {"DATABASE_URL", GOOD_PG}, {"ALLOWED_HOSTS", "api.example.com"},
                                     {"TIMEWARP_RATE_LIMITS", "submissions=5/min,reports=off"}, {NULL, NULL}};
    assert_ok(load(prod, false));
    assert_limit(RATE_CONTRIBUTORS, 10, 60);
    assert_limit(RATE_SUBMISSIONS, 5, 60);
    assert_limit(RATE_REPORTS, 0, 0);
    static const struct kv off[] = {{"TIMEWARP_ENV", "production"}, {"SECRET_KEY", GOOD_KEY},
                                    {"DATABASE_URL", GOOD_PG}, {"ALLOWED_HOSTS", "api.example.com"},
                                    {"TIMEWARP_RATE_LIMITS", "OFF"}, {NULL, NULL}};
    assert_ok(load(off, false));
    for (int k = 0; k < RATE_KIND_COUNT; k++)
        assert_limit((enum rate_kind)k, 0, 0);
}

static void test_bad_rate_limits(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "submissions", "submissions=", "submissions=30", "submissions=30/minute", "submissions=30/m",
        "submissions=0/min", "submissions=-1/min", "submissions=1.5/min", "submissions=x/min",
        "submissions=30/min/s", "uploads=3/min", "submissions=3/min,submissions=4/min",
        "submissions=99999999999999999999/min", "submissions=1000001/s", "on", "submissions=5/min,=3/min",
    };
    for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
        struct kv env[] = {{"TIMEWARP_RATE_LIMITS", bad[i]}, {NULL, NULL}};
        bool ok = load(env, false);
        if (ok || problem_with("TIMEWARP_RATE_LIMITS") < 0)
            print_error("TIMEWARP_RATE_LIMITS='%s' should be refused by name\n", bad[i]);
        assert_false(ok);
        assert_true(problem_with("TIMEWARP_RATE_LIMITS") >= 0);
    }
}

#define TOKEN_A "0123456789abcdef0123456789abcdef" /* 32 characters */
#define TOKEN_B "fedcba9876543210fedcba9876543210-b"

static void test_admin_tokens(void **state)
{
    (void)state;
    static const struct kv none[] = {{NULL, NULL}};
    assert_ok(load(none, false));
    assert_int_equal(cfg.admin_count, 0);
    static const struct kv two[] = {{"TIMEWARP_ADMIN_TOKENS", "alice:" TOKEN_A ", bob.ops:" TOKEN_B},
                                    {NULL, NULL}};
    assert_ok(load(two, false));
    assert_int_equal(cfg.admin_count, 2);
    assert_string_equal(cfg.admins[0].name, "alice");
    assert_string_equal(cfg.admins[0].token, TOKEN_A);
    assert_int_equal(cfg.admins[0].token_len, 32);
    assert_string_equal(cfg.admins[1].name, "bob.ops");
    assert_string_equal(cfg.admins[1].token, TOKEN_B);
}

/* A short token is fine for trying things out, refused by production and check --deploy;
 * the problem names the operator and never shows the token. */
static void test_short_admin_token(void **state)
{
    (void)state;
    static const struct kv env[] = {{"TIMEWARP_ADMIN_TOKENS", "carol:short-secret-31-characters-x"},
                                    {NULL, NULL}};
    assert_ok(load(env, false));
    assert_int_equal(cfg.admin_count, 1);
    bool ok = load(env, true);
    assert_false(ok);
    int i = problem_with("TIMEWARP_ADMIN_TOKENS");
    assert_true(i >= 0);
    assert_non_null(strstr(probs.text[i], "carol"));
    assert_null(strstr(probs.text[i], "short-secret"));
    static const struct kv prod[] = {{"TIMEWARP_ENV", "production"}, {"SECRET_KEY", GOOD_KEY},
                                     {"DATABASE_URL", GOOD_PG}, {"ALLOWED_HOSTS", "api.example.com"},
                                     {"TIMEWARP_ADMIN_TOKENS", "carol:0123456789abcdef0123456789abcde"},
                                     {NULL, NULL}};
    assert_one_problem(load(prod, false), "TIMEWARP_ADMIN_TOKENS");
}

static void test_bad_admin_tokens(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "alice", "alice:", ":" TOKEN_A, "al ice:" TOKEN_A, "alice:" TOKEN_A ",alice:" TOKEN_B,
        "alice:0123456789abcdef 0123456789abcdef", "al\"ice:" TOKEN_A,
    };
    for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
        struct kv env[] = {{"TIMEWARP_ADMIN_TOKENS", bad[i]}, {NULL, NULL}};
        bool ok = load(env, false);
        if (ok || problem_with("TIMEWARP_ADMIN_TOKENS") < 0)
            print_error("TIMEWARP_ADMIN_TOKENS='%s' should be refused by name\n", bad[i]);
        assert_false(ok);
        for (int p = 0; p < probs.count; p++) /* no problem text repeats a token */
            assert_null(strstr(probs.text[p], "0123456789abcdef"));
    }
}

static void test_admin_tokens_file(void **state)
{
    (void)state;
    char path[1200];
    snprintf(path, sizeof path, "%s/admins", tmpdir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("alice:" TOKEN_A "\nbob:" TOKEN_B "\n", f);
    fclose(f);
    struct kv env[] = {{"TIMEWARP_ADMIN_TOKENS_FILE", path}, {NULL, NULL}};
    assert_ok(load(env, false));
    assert_int_equal(cfg.admin_count, 2);
    assert_string_equal(cfg.admins[1].name, "bob");
    assert_string_equal(cfg.admins[1].token, TOKEN_B);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test_setup_teardown(test_settings_never_silently_changed, make_tmpdir, remove_tmpdir),
        cmocka_unit_test(test_production_defaults),
        cmocka_unit_test(test_explicit_values),
        cmocka_unit_test(test_sqlite_urls),
        cmocka_unit_test(test_postgres_url),
        cmocka_unit_test(test_url_wins_over_pieces),
        cmocka_unit_test(test_db_engine_pieces),
        cmocka_unit_test(test_db_engine_sqlite_and_unknown),
        cmocka_unit_test(test_bad_database_urls),
        cmocka_unit_test(test_port),
        cmocka_unit_test(test_bad_numbers_name_the_variable),
        cmocka_unit_test(test_bool_and_level_spellings),
        cmocka_unit_test(test_all_problems_listed),
        cmocka_unit_test(test_production_lists_every_problem),
        cmocka_unit_test(test_production_each_rule_alone),
        cmocka_unit_test(test_weak_secret_keys),
        cmocka_unit_test(test_pg_tls_resolution),
        cmocka_unit_test(test_production_requires_verified_tls),
        cmocka_unit_test(test_service_name),
        cmocka_unit_test(test_service_role),
        cmocka_unit_test(test_deploy_checks),
        cmocka_unit_test_setup_teardown(test_secret_key_file, make_tmpdir, remove_tmpdir),
        cmocka_unit_test_setup_teardown(test_ensure_secret_key_creates_and_reuses, make_tmpdir,
                                        remove_tmpdir),
        cmocka_unit_test_setup_teardown(test_ensure_secret_key_leaves_explicit_key, make_tmpdir,
                                        remove_tmpdir),
        cmocka_unit_test_setup_teardown(test_ensure_secret_key_reports_io_failure, make_tmpdir,
                                        remove_tmpdir),
        cmocka_unit_test(test_host_exact_case_port),
        cmocka_unit_test(test_host_leading_dot),
        cmocka_unit_test(test_host_star),
        cmocka_unit_test(test_host_empty_list_allows_nothing),
        cmocka_unit_test(test_rate_limit_defaults),
        cmocka_unit_test(test_rate_limit_values),
        cmocka_unit_test(test_bad_rate_limits),
        cmocka_unit_test(test_admin_tokens),
        cmocka_unit_test(test_short_admin_token),
        cmocka_unit_test(test_bad_admin_tokens),
        cmocka_unit_test_setup_teardown(test_admin_tokens_file, make_tmpdir, remove_tmpdir),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
