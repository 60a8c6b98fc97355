/* Environment → struct config. Every rule about settings lives here, so `serve` refusing to
 * start and `check --deploy` listing problems can never disagree. */
#include "config.h"
#include <arpa/inet.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <libpq-fe.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

static void problem(struct config_problems *p, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void problem(struct config_problems *p, const char *fmt, ...)
{
    if (p->count >= CONFIG_MAX_PROBLEMS)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->text[p->count++], sizeof p->text[0], fmt, ap);
    va_end(ap);
}

/* NAME, or the contents of the file named by NAME_FILE (how container secrets arrive). */
static const char *setting(const char *name, config_lookup lookup, void *ctx, char *buf,
                           size_t buf_len, struct config_problems *p)
{
    const char *v = lookup(name, ctx);
    if (v)
        return v;
    char file_var[128];
    snprintf(file_var, sizeof file_var, "%s_FILE", name);
    const char *path = lookup(file_var, ctx);
    if (!path)
        return NULL;
    FILE *f = fopen(path, "r");
    if (!f) {
        problem(p, "%s: cannot read %s: %s", file_var, path, strerror(errno));
        return NULL;
    }
    size_t n = fread(buf, 1, buf_len - 1, f);
    bool longer = fgetc(f) != EOF;
    fclose(f);
    if (longer) { /* never cut a secret short without a word */
        problem(p, "%s: %s holds more than %zu bytes", file_var, path, buf_len - 1);
        return NULL;
    }
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
        n--;
    buf[n] = '\0';
    return buf;
}

static bool parse_bool(const char *v, bool *out)
{
    static const char *const yes[] = {"1", "true", "yes", "on"};
    static const char *const no[] = {"0", "false", "no", "off"};
    for (size_t i = 0; i < 4; i++) {
        if (strcasecmp(v, yes[i]) == 0) {
            *out = true;
            return true;
        }
        if (strcasecmp(v, no[i]) == 0) {
            *out = false;
            return true;
        }
    }
    return false;
}

static void int_setting(const char *name, const char *v, long min, long max, long dflt, long *out,
                        struct config_problems *p)
{
    *out = dflt;
    if (!v)
        return;
    char *end;
    errno = 0;
    long n = strtol(v, &end, 10);
    if (errno || end == v || *end || n < min || n > max)
        problem(p, "%s must be a whole number from %ld to %ld (got '%s')", name, min, max, v);
    else
        *out = n;
}

/* Appends a libpq keyword/value pair, copying the value into c->pg_storage. */
static void pg_param(struct config *c, size_t *used, int *n, const char *key, const char *value,
                     struct config_problems *p)
{
    size_t len = strlen(value) + 1;
    if (*n >= CONFIG_MAX_PG_PARAMS - 1 || *used + len > sizeof c->pg_storage) {
        problem(p, "the PostgreSQL settings are too long (at most %zu bytes in all)",
                sizeof c->pg_storage);
        return;
    }
    memcpy(c->pg_storage + *used, value, len);
    c->pg.keys[*n] = key;
    c->pg.values[*n] = c->pg_storage + *used;
    *used += len;
    (*n)++;
}

/* Settings Time Warp makes itself (its time budget, dates in ISO, UTC): a DATABASE_URL that
 * sets them would be silently overridden, so it is refused instead, naming the setting. */
static void refuse_url_overrides(const char *url, struct config_problems *p)
{
    static const char *const ours[] = {"connect_timeout", "application_name", "options",
                                       "keepalives", "keepalives_idle", "keepalives_interval",
                                       "keepalives_count", "tcp_user_timeout"};
    const char *q = strchr(url, '?');
    while (q) {
        q++;
        size_t key_len = strcspn(q, "=&");
        for (size_t i = 0; i < sizeof ours / sizeof *ours; i++)
            if (strlen(ours[i]) == key_len && strncmp(q, ours[i], key_len) == 0)
                problem(p, "DATABASE_URL sets '%s', which Time Warp sets itself (use "
                           "TIMEWARP_DB_TIMEOUT for the time budget); remove it from the URL",
                        ours[i]);
        q = strchr(q, '&');
    }
}

static void set_data_dir_from(struct config *c, const char *sqlite_path)
{
    const char *slash = strrchr(sqlite_path, '/');
    if (!slash)
        snprintf(c->data_dir, sizeof c->data_dir, ".");
    else if (slash == sqlite_path)
        snprintf(c->data_dir, sizeof c->data_dir, "/");
    else
        snprintf(c->data_dir, sizeof c->data_dir, "%.*s", (int)(slash - sqlite_path), sqlite_path);
}

/* Resolves sslmode and sslrootcert the way libpq will: a parameter in the URL, else libpq's
 * own environment variables, else its default. Resolving here (with libpq's own parser) is
 * what lets `check --deploy` judge the connection the server will really make. */
static void load_pg_tls(struct config *c, const char *url, config_lookup lookup, void *ctx,
                        struct config_problems *p)
{
    static const char *const modes[] = {"disable", "allow", "prefer", "require", "verify-ca", "verify-full"};
    const char *mode = NULL, *root = NULL;
    PQconninfoOption *opts = NULL;
    if (url) {
        char *parse_err = NULL;
        opts = PQconninfoParse(url, &parse_err);
        PQfreemem(parse_err); /* not shown: it may quote the password */
        if (!opts) {
            problem(p, "DATABASE_URL is not a valid PostgreSQL URL (see libpq's connection URIs)");
            return;
        }
        for (PQconninfoOption *o = opts; o->keyword; o++) {
            if (o->val && strcmp(o->keyword, "sslmode") == 0)
                mode = o->val;
            else if (o->val && strcmp(o->keyword, "sslrootcert") == 0)
                root = o->val;
        }
    }
    c->pg_sslmode_from = mode ? "DATABASE_URL's sslmode" : "PGSSLMODE";
    if (!mode)
        mode = lookup("PGSSLMODE", ctx);
    if (!root)
        root = lookup("PGSSLROOTCERT", ctx);
    if (!mode || !*mode) {
        mode = "prefer";
        c->pg_sslmode_from = "libpq's default";
    }
    bool known = false;
    for (size_t i = 0; i < sizeof modes / sizeof *modes; i++)
        known = known || strcmp(mode, modes[i]) == 0;
    if (!known)
        problem(p, "%s must be one of disable, allow, prefer, require, verify-ca, verify-full (got '%.20s')",
                c->pg_sslmode_from, mode);
    snprintf(c->pg_sslmode, sizeof c->pg_sslmode, "%s", known ? mode : "");
    snprintf(c->pg_sslrootcert, sizeof c->pg_sslrootcert, "%s", root ? root : "");
    PQconninfoFree(opts);
}

static void load_database(struct config *c, config_lookup lookup, void *ctx, struct config_problems *p)
{
    char buf[2048];
    size_t used = 0;
    int n = 0;
    const char *url = setting("DATABASE_URL", lookup, ctx, buf, sizeof buf, p);
    const char *engine = lookup("DB_ENGINE", ctx);
    const char *sqlite_path = "data/timewarp.sqlite3";
    const char *pg_url = NULL;

    c->engine = DB_SQLITE;
    if (url && *url) {
        if (strncmp(url, "sqlite:///", 10) == 0 && url[10]) {
            sqlite_path = url + 10; /* "sqlite:////abs" leaves "/abs", "sqlite:///rel" leaves "rel" */
        } else if (strncmp(url, "postgres://", 11) == 0 || strncmp(url, "postgresql://", 13) == 0) {
            c->engine = DB_POSTGRES;
            refuse_url_overrides(url, p);
            pg_url = url;
            pg_param(c, &used, &n, "dbname", url, p); /* libpq expands a URI given as dbname */
        } else {
            problem(p, "DATABASE_URL must start with sqlite:/// or postgres:// (got a '%.*s' URL)",
                    (int)strcspn(url, ":"), url);
        }
    } else if (engine && *engine) {
        if (strstr(engine, "postgres")) {
            char pw[512];
            const char *v;
            c->engine = DB_POSTGRES;
            if ((v = lookup("DB_HOST", ctx)))
                pg_param(c, &used, &n, "host", v, p);
            if ((v = lookup("DB_PORT", ctx)))
                pg_param(c, &used, &n, "port", v, p);
            if ((v = lookup("DB_NAME", ctx)))
                pg_param(c, &used, &n, "dbname", v, p);
            if ((v = lookup("DB_USER", ctx)))
                pg_param(c, &used, &n, "user", v, p);
            if ((v = setting("DB_PASSWORD", lookup, ctx, pw, sizeof pw, p)))
                pg_param(c, &used, &n, "password", v, p);
        } else if (strstr(engine, "sqlite")) {
            const char *name = lookup("DB_NAME", ctx);
            if (name && *name)
                sqlite_path = name;
        } else {
            problem(p, "DB_ENGINE must be postgres or sqlite (got '%s')", engine);
        }
    }
    if (c->engine == DB_POSTGRES) {
        /* The time budget, on the server and on the wire (SPEC.md "Database time budget"):
         * a statement or lock wait longer than it is cancelled by the server; keepalives and
         * tcp_user_timeout notice a dead peer within it (the driver's own deadline covers a
         * peer that still acknowledges but never answers). connect_timeout counts whole
         * seconds, at least 2 (libpq); the driver bounds connecting more tightly itself. */
        char v[256];
        int ms = c->db_timeout_ms, secs = (ms + 999) / 1000;
        snprintf(v, sizeof v, "%d", secs < 2 ? 2 : secs);
        pg_param(c, &used, &n, "connect_timeout", v, p);
        pg_param(c, &used, &n, "application_name", "timewarp", p);
        pg_param(c, &used, &n, "keepalives", "1", p);
        snprintf(v, sizeof v, "%d", secs);
        pg_param(c, &used, &n, "keepalives_idle", v, p);
        pg_param(c, &used, &n, "keepalives_interval", "1", p);
        pg_param(c, &used, &n, "keepalives_count", "2", p);
        snprintf(v, sizeof v, "%d", ms);
        pg_param(c, &used, &n, "tcp_user_timeout", v, p);
        /* Dates must come back as YYYY-MM-DD whatever the server's defaults are. */
        snprintf(v, sizeof v,
                 "-c DateStyle=ISO,YMD -c TimeZone=UTC -c statement_timeout=%d -c lock_timeout=%d "
                 "-c idle_in_transaction_session_timeout=%d "
                 /* Not inherited from the server's default: the one-statement submission
                  * (migration 0004) relies on each of its statements seeing what committed
                  * before it, as READ COMMITTED gives. */
                 "-c default_transaction_isolation=read\\ committed", ms, ms, 2 * ms);
        pg_param(c, &used, &n, "options", v, p);
        snprintf(c->data_dir, sizeof c->data_dir, "data");
        load_pg_tls(c, pg_url, lookup, ctx, p);
    } else {
        snprintf(c->sqlite_path, sizeof c->sqlite_path, "%s", sqlite_path);
        set_data_dir_from(c, c->sqlite_path);
    }
    c->pg.keys[n] = NULL;
    c->pg.values[n] = NULL;
}

static void load_allowed_hosts(struct config *c, const char *raw)
{
    snprintf(c->allowed_hosts_raw, sizeof c->allowed_hosts_raw, "%s", raw ? raw : "");
    c->allowed_hosts_count = 0;
    char *save = NULL;
    for (char *tok = strtok_r(c->allowed_hosts_raw, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        while (isspace((unsigned char)*tok))
            tok++;
        size_t len = strlen(tok);
        while (len > 0 && isspace((unsigned char)tok[len - 1]))
            tok[--len] = '\0';
        if (len == 0 || c->allowed_hosts_count >= CONFIG_MAX_HOSTS)
            continue;
        for (char *q = tok; *q; q++)
            *q = (char)tolower((unsigned char)*q);
        c->allowed_hosts[c->allowed_hosts_count++] = tok;
    }
}

static bool secret_key_is_weak(const char *k, size_t len)
{
    bool seen[256] = {false};
    int distinct = 0;
    for (size_t i = 0; i < len; i++)
        if (!seen[(unsigned char)k[i]]) {
            seen[(unsigned char)k[i]] = true;
            distinct++;
        }
    return len < 32 || distinct < 5 || strcasestr(k, "insecure") || strcasestr(k, "changeme");
}

/* It becomes a CloudWatch dimension value inside a JSON line, so printable ASCII without
 * the two characters JSON would need escaped. */
static void load_service_name(struct config *c, const char *v, struct config_problems *p)
{
    snprintf(c->service_name, sizeof c->service_name, "timewarp");
    if (!v)
        return;
    size_t len = strlen(v);
    bool ok = len > 0 && len < sizeof c->service_name;
    for (size_t i = 0; ok && i < len; i++)
        ok = v[i] >= 0x20 && v[i] < 0x7f && v[i] != '"' && v[i] != '\\';
    if (ok)
        memcpy(c->service_name, v, len + 1);
    else
        problem(p, "TIMEWARP_SERVICE_NAME must be 1 to %zu printable ASCII characters without \" or \\ "
                   "(got %zu bytes)", sizeof c->service_name - 1, len);
}

/* A plain PostgreSQL identifier, so it reads the same quoted or not (and in GRANT output). */
static void load_service_role(struct config *c, config_lookup lookup, void *ctx, struct config_problems *p)
{
    char buf[256];
    const char *role = lookup("TIMEWARP_DB_SERVICE_ROLE", ctx);
    const char *pw = setting("TIMEWARP_DB_SERVICE_PASSWORD", lookup, ctx, buf, sizeof buf, p);
    if (!role || !*role) {
        if (pw && *pw)
            problem(p, "TIMEWARP_DB_SERVICE_PASSWORD is set without TIMEWARP_DB_SERVICE_ROLE");
        return;
    }
    size_t len = strlen(role);
    bool ok = len < sizeof c->db_service_role && (islower((unsigned char)role[0]) || role[0] == '_') &&
              strncmp(role, "pg_", 3) != 0;
    for (size_t i = 0; ok && i < len; i++)
        ok = islower((unsigned char)role[i]) || isdigit((unsigned char)role[i]) || role[i] == '_';
    if (!ok)
        problem(p, "TIMEWARP_DB_SERVICE_ROLE must be 1 to 63 lowercase letters, digits or _, starting with "
                   "a letter or _ and not with pg_ (got '%.63s')", role);
    else if (c->engine != DB_POSTGRES)
        problem(p, "TIMEWARP_DB_SERVICE_ROLE is for PostgreSQL: SQLite has no roles");
    else
        memcpy(c->db_service_role, role, len + 1);
    if (pw)
        snprintf(c->db_service_password, sizeof c->db_service_password, "%s", pw);
}

static const char *const rate_kind_names[RATE_KIND_COUNT] = {"contributors", "submissions", "reports"};

const char *config_rate_kind_name(enum rate_kind kind) { return rate_kind_names[kind]; }

/* Trims surrounding spaces and tabs in place. */
static char *trim(char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    size_t n = strlen(s);
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
        s[--n] = '\0';
    return s;
}

/* TIMEWARP_RATE_LIMITS: "off", or a comma-separated list of kind=N/period (period s, min,
 * hour or day, as Django REST framework writes rates) or kind=off. Kinds not named keep
 * their default: SPEC.md's figures in production, no limit in development. */
static void load_rate_limits(struct config *c, const char *raw, struct config_problems *p)
{
    static const struct { const char *name; long seconds; } periods[] = {
        {"s", 1}, {"min", 60}, {"hour", 3600}, {"day", 86400}};
    bool production = c->env == ENV_PRODUCTION;
    c->rate_limits[RATE_CONTRIBUTORS] = (struct rate_limit){production ? 10 : 0, 60};
    c->rate_limits[RATE_SUBMISSIONS] = (struct rate_limit){production ? 30 : 0, 60};
    c->rate_limits[RATE_REPORTS] = (struct rate_limit){production ? 10 : 0, 60};
    if (!raw)
        return;
    char buf[512];
    snprintf(buf, sizeof buf, "%s", raw);
    if (!*trim(buf)) /* set but empty: as if unset */
        return;
    if (strcasecmp(trim(buf), "off") == 0) {
        for (int k = 0; k < RATE_KIND_COUNT; k++)
            c->rate_limits[k].count = 0;
        return;
    }
    bool seen[RATE_KIND_COUNT] = {false};
    char *save = NULL;
    for (char *item = strtok_r(buf, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
        item = trim(item);
        char *eq = strchr(item, '=');
        if (!eq) {
            problem(p, "TIMEWARP_RATE_LIMITS: '%.60s' is not kind=N/period (e.g. submissions=30/min), and the whole setting is not 'off'", item);
            continue;
        }
        *eq = '\0';
        char *kind = trim(item), *rate = trim(eq + 1);
        int k = -1;
        for (int i = 0; i < RATE_KIND_COUNT; i++)
            if (strcmp(kind, rate_kind_names[i]) == 0)
                k = i;
        if (k < 0) {
            problem(p, "TIMEWARP_RATE_LIMITS: unknown kind '%.40s' (use contributors, submissions or reports)", kind);
            continue;
        }
        if (seen[k]) {
            problem(p, "TIMEWARP_RATE_LIMITS: '%s' is given more than once", kind);
            continue;
        }
        seen[k] = true;
        if (strcasecmp(rate, "off") == 0) {
            c->rate_limits[k].count = 0;
            continue;
        }
        char *slash = strchr(rate, '/'), *end;
        long period = 0;
        if (slash)
            for (size_t i = 0; i < sizeof periods / sizeof *periods; i++)
                if (strcmp(slash + 1, periods[i].name) == 0)
                    period = periods[i].seconds;
        errno = 0;
        long n = slash && rate[0] >= '0' && rate[0] <= '9' ? strtol(rate, &end, 10) : 0;
        if (!slash || errno || end != slash || n < 1 || n > 1000000 || period == 0) {
            problem(p, "TIMEWARP_RATE_LIMITS: %s=%.40s must be N/period with N from 1 to 1000000 and period s, min, hour or day (e.g. %s=10/min), or off",
                    kind, rate, kind);
            continue;
        }
        c->rate_limits[k] = (struct rate_limit){n, period};
    }
}

bool config_operator_name_valid(const char *name)
{
    size_t len = name ? strlen(name) : 0;
    bool ok = len > 0 && len < sizeof ((struct admin_token *)0)->name;
    for (size_t i = 0; ok && i < len; i++)
        if (!isalnum((unsigned char)name[i]) && !strchr("._-@", name[i]))
            ok = false;
    return ok;
}

/* TIMEWARP_ADMIN_TOKENS (or the file TIMEWARP_ADMIN_TOKENS_FILE names): name:token pairs
 * separated by commas or newlines. Problems name the operator, never the token. */
static void load_admin_tokens(struct config *c, const char *raw, bool production_rules,
                              struct config_problems *p)
{
    c->admin_count = 0;
    if (!raw)
        return;
    char buf[8192];
    snprintf(buf, sizeof buf, "%s", raw);
    char *save = NULL;
    for (char *item = strtok_r(buf, ",\r\n", &save); item; item = strtok_r(NULL, ",\r\n", &save)) {
        item = trim(item);
        if (!*item)
            continue;
        char *colon = strchr(item, ':');
        if (!colon) {
            problem(p, "TIMEWARP_ADMIN_TOKENS: entry %d is not name:token", c->admin_count + 1);
            continue;
        }
        *colon = '\0';
        char *name = trim(item), *token = trim(colon + 1);
        size_t token_len = strlen(token);
        bool name_ok = config_operator_name_valid(name);
        bool token_ok = token_len > 0 && token_len < sizeof c->admins[0].token;
        for (size_t i = 0; i < token_len; i++)
            if ((unsigned char)token[i] <= ' ' || (unsigned char)token[i] >= 0x7f)
                token_ok = false;
        if (!name_ok) {
            problem(p, "TIMEWARP_ADMIN_TOKENS: entry %d: the name must be 1-63 letters, digits or ._-@",
                    c->admin_count + 1);
            continue;
        }
        if (!token_ok) {
            problem(p, "TIMEWARP_ADMIN_TOKENS: the token of '%s' must be 1-255 printable ASCII characters without spaces", name);
            continue;
        }
        if (production_rules && token_len < CONFIG_MIN_ADMIN_TOKEN)
            problem(p, "TIMEWARP_ADMIN_TOKENS: the token of '%s' is %zu characters: operator tokens need at least %d random characters (e.g. `openssl rand -hex 32`)",
                    name, token_len, CONFIG_MIN_ADMIN_TOKEN);
        bool dup = false;
        for (int i = 0; i < c->admin_count; i++)
            if (strcmp(c->admins[i].name, name) == 0)
                dup = true;
        if (dup) {
            problem(p, "TIMEWARP_ADMIN_TOKENS: the name '%s' is given more than once", name);
            continue;
        }
        if (c->admin_count == CONFIG_MAX_ADMINS) {
            problem(p, "TIMEWARP_ADMIN_TOKENS: at most %d operators", CONFIG_MAX_ADMINS);
            break;
        }
        struct admin_token *a = &c->admins[c->admin_count++];
        snprintf(a->name, sizeof a->name, "%s", name);
        memcpy(a->token, token, token_len + 1);
        a->token_len = token_len;
    }
    explicit_bzero(buf, sizeof buf); /* the tokens' only other copy on the stack */
}

bool config_load(struct config *c, config_lookup lookup, void *ctx, bool deploy_checks,
                 struct config_problems *p)
{
    const char *v;
    char buf[512];
    long n;
    memset(c, 0, sizeof *c);
    p->count = 0;

    v = lookup("TIMEWARP_ENV", ctx);
    c->env = ENV_DEVELOPMENT;
    if (v && (strcmp(v, "production") == 0 || strcmp(v, "prod") == 0))
        c->env = ENV_PRODUCTION;
    else if (v && *v && strcmp(v, "development") != 0 && strcmp(v, "dev") != 0)
        problem(p, "TIMEWARP_ENV must be development or production (got '%s')", v);
    bool production_rules = c->env == ENV_PRODUCTION || deploy_checks;

    /* Seconds, fractions allowed ("0.5"): the whole time a request may wait for the database. */
    v = lookup("TIMEWARP_DB_TIMEOUT", ctx);
    c->db_timeout_ms = 2000;
    if (v) {
        char *end;
        errno = 0;
        double secs = strtod(v, &end);
        if (errno || end == v || *end || !(secs >= 0.1 && secs <= 60))
            problem(p, "TIMEWARP_DB_TIMEOUT must be a number of seconds from 0.1 to 60 (got '%s')", v);
        else
            c->db_timeout_ms = (int)(secs * 1000 + 0.5);
    }

    load_database(c, lookup, ctx, p);

    v = lookup("HOST", ctx);
    snprintf(c->host, sizeof c->host, "%s", v && *v ? v : "0.0.0.0");
    {
        struct in6_addr a6;
        struct in_addr a4;
        if (inet_pton(AF_INET, c->host, &a4) != 1 && inet_pton(AF_INET6, c->host, &a6) != 1)
            problem(p, "HOST must be an IPv4 or IPv6 address, such as 0.0.0.0 or :: (got '%.200s')",
                    c->host);
    }
    int_setting("PORT", lookup("PORT", ctx), 1, 65535, 8000, &n, p);
    c->port = (int)n;

    v = setting("SECRET_KEY", lookup, ctx, buf, sizeof buf, p);
    if (v && strlen(v) >= sizeof c->secret_key) {
        problem(p, "SECRET_KEY is longer than %zu characters", sizeof c->secret_key - 1);
    } else if (v && *v) {
        c->secret_key_len = strlen(v);
        memcpy(c->secret_key, v, c->secret_key_len);
        if (production_rules && secret_key_is_weak(c->secret_key, c->secret_key_len))
            problem(p, "SECRET_KEY is weak: use at least 32 random characters (e.g. `openssl rand -hex 32`)");
    } else if (production_rules) {
        problem(p, "SECRET_KEY is not set: production needs a secret of at least 32 random characters");
    }

    c->debug = c->env == ENV_DEVELOPMENT;
    v = lookup("DEBUG", ctx);
    if (v && !parse_bool(v, &c->debug))
        problem(p, "DEBUG must be true or false (got '%s')", v);
    if (production_rules && c->debug)
        problem(p, "DEBUG is on: production must run with DEBUG=false");

    load_allowed_hosts(c, lookup("ALLOWED_HOSTS", ctx));
    if (production_rules && c->allowed_hosts_count == 0)
        problem(p, "ALLOWED_HOSTS is empty: list the host names the service answers to, e.g. api.example.com");
    for (int i = 0; i < c->allowed_hosts_count; i++)
        if (production_rules && strcmp(c->allowed_hosts[i], "*") == 0)
            problem(p, "ALLOWED_HOSTS contains '*', which accepts any Host header");
    if (production_rules && c->engine == DB_SQLITE)
        problem(p, "the database is SQLite: production needs DATABASE_URL=postgres://… (or DB_ENGINE=postgres)");
    /* Anything short of verify-full lets whoever sits between us and the database read and
     * change every query, passwords included. */
    if (production_rules && c->engine == DB_POSTGRES && c->pg_sslmode[0] &&
        strcmp(c->pg_sslmode, "verify-full") != 0)
        problem(p, "sslmode is '%s' (%s): production needs sslmode=verify-full, in DATABASE_URL "
                   "(?sslmode=verify-full) or PGSSLMODE", c->pg_sslmode, c->pg_sslmode_from);
    if (production_rules && c->engine == DB_POSTGRES && !c->pg_sslrootcert[0])
        problem(p, "sslrootcert is not set: production verifies the database against a CA bundle, given "
                   "in DATABASE_URL (?sslrootcert=/path) or PGSSLROOTCERT (the image has the RDS bundle "
                   "at /etc/timewarp/db-ca.pem)");

    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    int_setting("TIMEWARP_WORKERS", lookup("TIMEWARP_WORKERS", ctx), 1, 256, cpus > 0 ? 2 * cpus : 2, &n, p);
    c->workers = (int)n;
    /* 25 s: longer than the ALB's 20 s idle timeout (infrastructure/cdk/lib/timing.ts), so the
     * load balancer always closes an idle keep-alive connection first. Were the server to
     * close first, the ALB could reuse the dying connection and answer 502 now and then. */
    int_setting("TIMEWARP_IDLE_TIMEOUT", lookup("TIMEWARP_IDLE_TIMEOUT", ctx), 1, 3600, 25, &n, p);
    c->idle_timeout = (int)n;
    int_setting("TIMEWARP_MAX_BODY_BYTES", lookup("TIMEWARP_MAX_BODY_BYTES", ctx), 1024, 64L << 20, 1L << 20, &n, p);
    c->max_body_bytes = (size_t)n;
    int_setting("TIMEWARP_MAX_CONNECTIONS", lookup("TIMEWARP_MAX_CONNECTIONS", ctx), 1, 100000, 1000, &n, p);
    c->max_connections = (int)n;
    int_setting("TIMEWARP_SHUTDOWN_TIMEOUT", lookup("TIMEWARP_SHUTDOWN_TIMEOUT", ctx), 0, 3600, 10, &n, p);
    c->shutdown_timeout = (int)n;
    /* 20 s in production: the ALB health check interval (10 s) × unhealthy threshold (2), so
     * the load balancer has stopped routing here before we stop accepting (timing.ts). */
    int_setting("TIMEWARP_DRAIN_SECONDS", lookup("TIMEWARP_DRAIN_SECONDS", ctx), 0, 3600,
                c->env == ENV_PRODUCTION ? 20 : 0, &n, p);
    c->drain_seconds = (int)n;

    int_setting("TIMEWARP_TRUSTED_PROXIES", lookup("TIMEWARP_TRUSTED_PROXIES", ctx), 0, 10,
                c->env == ENV_PRODUCTION ? 1 : 0, &n, p);
    c->trusted_proxies = (int)n;
    int_setting("TIMEWARP_METRICS_INTERVAL", lookup("TIMEWARP_METRICS_INTERVAL", ctx), 1, 3600, 60, &n, p);
    c->metrics_interval = (int)n;
    v = lookup("TIMEWARP_METRICS_ENDPOINT", ctx);
    if (v && !parse_bool(v, &c->metrics_endpoint))
        problem(p, "TIMEWARP_METRICS_ENDPOINT must be true or false (got '%s')", v);

    load_service_name(c, lookup("TIMEWARP_SERVICE_NAME", ctx), p);
    load_service_role(c, lookup, ctx, p);
    load_rate_limits(c, lookup("TIMEWARP_RATE_LIMITS", ctx), p);
    char tokens[8192];
    load_admin_tokens(c, setting("TIMEWARP_ADMIN_TOKENS", lookup, ctx, tokens, sizeof tokens, p),
                      production_rules, p);
    explicit_bzero(tokens, sizeof tokens);

    v = lookup("LOG_LEVEL", ctx);
    c->log_level = LOG_INFO;
    if (v && *v) {
        static const char *const names[] = {"debug", "info", "warn", "error"};
        int found = -1;
        for (int i = 0; i < 4; i++)
            if (strcasecmp(v, names[i]) == 0)
                found = i;
        if (found < 0)
            problem(p, "LOG_LEVEL must be debug, info, warn or error (got '%s')", v);
        else
            c->log_level = (enum log_level)found;
    }
    return p->count == 0;
}

static bool mkdir_p(const char *dir)
{
    char tmp[1024];
    snprintf(tmp, sizeof tmp, "%s", dir);
    for (char *q = tmp + 1; *q; q++)
        if (*q == '/') {
            *q = '\0';
            if (mkdir(tmp, 0700) != 0 && errno != EEXIST)
                return false;
            *q = '/';
        }
    return mkdir(tmp, 0700) == 0 || errno == EEXIST;
}

bool config_ensure_secret_key(struct config *c, char *err, size_t err_len)
{
    if (c->secret_key_len > 0)
        return true;
    char path[1100];
    snprintf(path, sizeof path, "%s/secret_key", c->data_dir);
    FILE *f = fopen(path, "r");
    if (f) {
        size_t n = fread(c->secret_key, 1, 64, f);
        fclose(f);
        if (n == 64) {
            c->secret_key_len = 64;
            c->secret_key_generated = true;
            return true;
        }
    }
    unsigned char raw[32];
    if (!mkdir_p(c->data_dir) || getrandom(raw, sizeof raw, 0) != sizeof raw) {
        snprintf(err, err_len, "cannot create %s for the development secret key: %s", c->data_dir, strerror(errno));
        return false;
    }
    for (int i = 0; i < 32; i++)
        snprintf(c->secret_key + 2 * i, 3, "%02x", raw[i]);
    /* Write-then-rename: a crash never leaves a half-written key behind. */
    char tmp[1200];
    snprintf(tmp, sizeof tmp, "%s.tmp.%d", path, (int)getpid());
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0 || write(fd, c->secret_key, 64) != 64 || fsync(fd) != 0 || close(fd) != 0 ||
        rename(tmp, path) != 0) {
        snprintf(err, err_len, "cannot write %s: %s", path, strerror(errno));
        if (fd >= 0)
            unlink(tmp);
        return false;
    }
    c->secret_key_len = 64;
    c->secret_key_generated = true;
    return true;
}

bool config_host_allowed(const struct config *c, const char *host)
{
    if (!host)
        return false;
    char h[256];
    size_t len;
    if (host[0] == '[') { /* [v6]:port */
        const char *end = strchr(host, ']');
        len = end ? (size_t)(end - host + 1) : strlen(host);
    } else {
        len = strcspn(host, ":");
    }
    if (len == 0 || len >= sizeof h)
        return false;
    for (size_t i = 0; i < len; i++)
        h[i] = (char)tolower((unsigned char)host[i]);
    h[len] = '\0';
    if (len > 1 && h[len - 1] == '.') /* "example.com." is the same name */
        h[--len] = '\0';
    for (int i = 0; i < c->allowed_hosts_count; i++) {
        const char *pat = c->allowed_hosts[i];
        size_t plen = strlen(pat);
        if (strcmp(pat, "*") == 0 || strcmp(pat, h) == 0)
            return true;
        if (pat[0] == '.' && (strcmp(pat + 1, h) == 0 ||
                              (len > plen && strcmp(h + len - plen, pat) == 0)))
            return true;
    }
    return false;
}

const char *config_env_name(enum app_env env)
{
    return env == ENV_PRODUCTION ? "production" : "development";
}
