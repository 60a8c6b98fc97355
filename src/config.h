/* Configuration: the environment turned into one immutable struct, validated in one place. */
#ifndef TIMEWARP_CONFIG_H
#define TIMEWARP_CONFIG_H
#include <stdbool.h>
#include <stddef.h>

enum app_env { ENV_DEVELOPMENT, ENV_PRODUCTION };
enum db_engine { DB_SQLITE, DB_POSTGRES };
enum log_level { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR };

#define CONFIG_MAX_PROBLEMS 16
#define CONFIG_MAX_HOSTS 32
#define CONFIG_MAX_ADMINS 16
#define CONFIG_MIN_ADMIN_TOKEN 32 /* characters; shorter tokens are refused in production */

/* What a client's POSTs are counted against (SPEC.md "Rate limits"). */
enum rate_kind { RATE_CONTRIBUTORS, RATE_SUBMISSIONS, RATE_REPORTS, RATE_KIND_COUNT };

/* At most `count` requests per `period` seconds; count 0 means no limit. */
struct rate_limit {
    long count;
    long period;
};

/* An operator: the name goes into the audit trail, the token never leaves this struct. */
struct admin_token {
    char name[64];
    char token[256];
    size_t token_len;
};

/* PostgreSQL connection settings as libpq keyword/value pairs (dbname may be a full URI). */
#define CONFIG_MAX_PG_PARAMS 20
struct pg_params {
    const char *keys[CONFIG_MAX_PG_PARAMS];
    const char *values[CONFIG_MAX_PG_PARAMS];
};

struct config {
    enum app_env env;
    enum db_engine engine;
    char sqlite_path[1024];
    struct pg_params pg;
    char pg_storage[4096]; /* backing store for pg.values */
    int db_timeout_ms;     /* TIMEWARP_DB_TIMEOUT: the database time budget of a request */
    char data_dir[1024];   /* where development keeps its generated secret key */
    /* TLS towards PostgreSQL as libpq will apply it (DATABASE_URL's parameters, else the
     * PGSSLMODE/PGSSLROOTCERT environment, else libpq's default "prefer"). */
    char pg_sslmode[16];
    char pg_sslrootcert[512];
    const char *pg_sslmode_from; /* which setting gave pg_sslmode, for messages */
    char host[256];
    int port;
    char secret_key[512];
    size_t secret_key_len;
    bool secret_key_generated; /* development fallback, persisted in data_dir */
    bool debug;
    char allowed_hosts_raw[2048];
    char *allowed_hosts[CONFIG_MAX_HOSTS]; /* point into allowed_hosts_raw, lowercase */
    int allowed_hosts_count;
    int workers;
    int idle_timeout;
    size_t max_body_bytes;
    int max_connections;
    int shutdown_timeout;
    int drain_seconds;
    enum log_level log_level;
    int trusted_proxies;    /* X-Forwarded-* hops to trust: 1 behind the ALB, 0 when exposed */
    int metrics_interval;   /* seconds between CloudWatch EMF metric lines */
    bool metrics_endpoint;  /* serve Prometheus text at /metrics */
    char service_name[65];  /* the metrics' Service dimension: one per stage in an account */
    /* `migrate` only: the limited role the service connects as (PostgreSQL), and the password
     * it is created with when it does not exist yet. */
    char db_service_role[64];
    char db_service_password[256];
    struct rate_limit rate_limits[RATE_KIND_COUNT]; /* TIMEWARP_RATE_LIMITS */
    struct admin_token admins[CONFIG_MAX_ADMINS];   /* TIMEWARP_ADMIN_TOKENS(_FILE) */
    int admin_count;                                /* 0: every /admin/ route is 404 */
};

/* Problems found while loading; loading never stops at the first one, so `check` can list all. */
struct config_problems {
    int count;
    char text[CONFIG_MAX_PROBLEMS][256];
};

/* Where settings come from: getenv in the program, a table in the tests. */
typedef const char *(*config_lookup)(const char *name, void *ctx);

/* Reads every setting. Returns true when there is no problem. With `deploy_checks` the
 * production rules are applied even in development (what `check --deploy` does). Never
 * touches the disk: see config_ensure_secret_key. */
bool config_load(struct config *c, config_lookup lookup, void *ctx, bool deploy_checks,
                 struct config_problems *problems);

/* Development only: when no SECRET_KEY was given, read or create data_dir/secret_key so
 * cursors stay valid across restarts. Returns false and fills err on I/O failure. */
bool config_ensure_secret_key(struct config *c, char *err, size_t err_len);

/* True if `host` (a Host header; port and case ignored) is allowed. */
bool config_host_allowed(const struct config *c, const char *host);
/* An operator's name in TIMEWARP_ADMIN_TOKENS (and so an audit row's actor): 1-63 letters,
 * digits or ._-@. */
bool config_operator_name_valid(const char *name);

const char *config_env_name(enum app_env env);

/* "contributors", "submissions", "reports": the names TIMEWARP_RATE_LIMITS uses. */
const char *config_rate_kind_name(enum rate_kind kind);
#endif
