/* timewarp: the Time Warp API server.
 *   timewarp serve              serve HTTP on HOST:PORT
 *   timewarp migrate [--to N]   apply pending migrations, or roll back to version N
 *   timewarp check [--deploy]   validate the configuration and list every problem
 *   timewarp healthcheck        probe the local server's /health/live (exit 0 when it serves)
 *   timewarp export | import | backup   the archive's data (src/data/, README.md)
 * Configuration comes from the environment only (see README.md). */
#include "config.h"
#include "data/data.h"
#include "log.h"
#include "metrics.h"
#include "server.h"
#include "store/grants.h"
#include "store/store.h"

#include <arpa/inet.h>
#include <malloc.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#ifndef TIMEWARP_VERSION
#define TIMEWARP_VERSION "1.0.0"
#endif

static const char usage[] =
    "usage: timewarp COMMAND\n"
    "  serve                          serve the API on HOST:PORT\n"
    "  migrate [--to N] [--force]     apply pending migrations, or go back to version N;\n"
    "                                 a step back that would drop data needs --force\n"
    "  check [--deploy]               validate the configuration, listing every problem\n"
    "  healthcheck                    probe the local server's /health/ (exit 0 when healthy)\n"
    "  export [--progress] [FILE]     write the whole archive as JSON Lines (FILE or -: stdout),\n"
    "                                 one consistent snapshot, also while the server serves\n"
    "  import [--progress] [--accept-invalid] [FILE]\n"
    "                                 read an export (FILE or -: stdin) in one transaction:\n"
    "                                 all or nothing; records already present are skipped\n"
    "  import --django URL            import the Django original's database (a SQLite file,\n"
    "                                 sqlite:///PATH or postgres://...)\n"
    "  backup FILE                    online copy of a SQLite archive, integrity-checked\n"
    "  version                        print the version\n"
    "Configuration is read from the environment (DATABASE_URL, ...); see README.md.\n";

static const char *env_lookup(const char *name, void *ctx)
{
    (void)ctx;
    return getenv(name);
}

static void print_problems(const struct config_problems *p)
{
    for (int i = 0; i < p->count; i++)
        log_event(LOG_ERROR, p->text[i], ",\"source\":\"config\"");
}

/* What `check` says about limits and operators: the names, never a token. */
static void print_moderation_settings(const struct config *c)
{
    printf("rate limits:");
    for (int k = 0; k < RATE_KIND_COUNT; k++) {
        const struct rate_limit *l = &c->rate_limits[k];
        long p = l->period;
        const char *unit = p == 1 ? "s" : p == 60 ? "min" : p == 3600 ? "hour" : "day";
        if (l->count > 0)
            printf(" %s=%ld/%s", config_rate_kind_name((enum rate_kind)k), l->count, unit);
        else
            printf(" %s=off", config_rate_kind_name((enum rate_kind)k));
    }
    printf("\noperators: %d%s", c->admin_count, c->admin_count ? " (" : " (the /admin/ routes are off)");
    for (int i = 0; i < c->admin_count; i++)
        printf("%s%s", i ? ", " : "", c->admins[i].name);
    printf("%s\n", c->admin_count ? ")" : "");
}

static int cmd_check(bool deploy)
{
    struct config c;
    struct config_problems p;
    bool ok = config_load(&c, env_lookup, NULL, deploy, &p);
    for (int i = 0; i < p.count; i++)
        printf("problem: %s\n", p.text[i]);
    if (!ok) {
        printf("%d problem(s) found\n", p.count);
        return 1;
    }
    printf("configuration OK: %s, %s database%s\n", config_env_name(c.env),
           c.engine == DB_POSTGRES ? "PostgreSQL" : "SQLite", deploy ? ", ready to deploy" : "");
    print_moderation_settings(&c);
    return 0;
}

static int cmd_migrate(const struct config *c, int argc, char **argv)
{
    int target = -1;
    bool force = false;
    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--force") == 0) {
            force = true;
        } else if (strcmp(argv[i], "--to") == 0 && i + 1 < argc) {
            char *end;
            long v = strtol(argv[++i], &end, 10);
            if (*end || end == argv[i] || v < 0 || v > 100000) {
                fprintf(stderr, "migrate: --to needs a version number (0 = empty schema)\n");
                return 2;
            }
            target = (int)v;
        } else {
            fputs(usage, stderr);
            return 2;
        }
    }
    char err[2048];
    struct store *st = store_open(c, err, sizeof err);
    if (!st) {
        log_eventf(LOG_ERROR, "migrate: %s", err);
        return 1;
    }
    bool ok = store_migrate(st, target, force, err, sizeof err);
    if (ok && c->db_service_role[0]) {
        ok = store_grant_service_role(st, c->db_service_role, c->db_service_password, err, sizeof err);
        if (ok)
            log_eventf(LOG_INFO, "migrate: the service role %s may read and write rows, and nothing else",
                       c->db_service_role);
    }
    if (!ok)
        log_eventf(LOG_ERROR, "migrate: %s", err);
    store_close(st);
    return ok ? 0 : 1;
}

/* With sslmode=verify-*, a certificate that does not verify is a configuration error, not an
 * outage: refuse to start, so the deployment fails at once instead of serving 503s. An
 * unreachable database must not stop a start (the server serves again when it comes back),
 * so only libpq's certificate and TLS-support failures count. */
static bool database_certificate_ok(const struct config *c)
{
    if (c->engine != DB_POSTGRES || strncmp(c->pg_sslmode, "verify-", 7) != 0)
        return true;
    char err[1024];
    struct store *st = store_open(c, err, sizeof err);
    if (st) {
        store_close(st);
        return true;
    }
    if (!strstr(err, "certificate") && !strstr(err, "does not support SSL")) {
        log_eventf(LOG_WARN, "database not reachable at start-up, serving anyway: %s", err);
        return true;
    }
    log_eventf(LOG_ERROR, "refusing to start: the database's TLS certificate could not be verified "
               "(sslmode=%s, sslrootcert=%s): %s", c->pg_sslmode,
               c->pg_sslrootcert[0] ? c->pg_sslrootcert : "(not set: libpq's ~/.postgresql/root.crt)", err);
    return false;
}

/* export / import / backup: [--progress] [--accept-invalid] [--django URL] [FILE]. */
static int cmd_data(const struct config *c, const char *cmd, int argc, char **argv)
{
    struct data_options o = {0};
    const char *file = NULL, *django = NULL;
    bool is_import = strcmp(cmd, "import") == 0;
    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--progress") == 0 && strcmp(cmd, "backup") != 0)
            o.progress = true;
        else if (strcmp(argv[i], "--accept-invalid") == 0 && is_import)
            o.accept_invalid = true;
        else if (strcmp(argv[i], "--django") == 0 && is_import && i + 1 < argc)
            django = argv[++i];
        else if ((argv[i][0] != '-' || strcmp(argv[i], "-") == 0) && !file)
            file = argv[i];
        else {
            fprintf(stderr, "%s: unexpected argument '%s'\n", cmd, argv[i]);
            fputs(usage, stderr);
            return 2;
        }
    }
    if (strcmp(cmd, "export") == 0)
        return data_export(c, file, &o);
    if (strcmp(cmd, "backup") == 0) {
        if (!file || strcmp(file, "-") == 0) {
            fprintf(stderr, "backup: give the FILE to write\n");
            return 2;
        }
        return data_backup(c, file);
    }
    if (django) {
        if (file) {
            fprintf(stderr, "import: --django reads a database, not a FILE\n");
            return 2;
        }
        o.accept_invalid = true; /* the policy for the original's records: see README */
        o.unit = "django record";
        return data_import_django(c, django, &o);
    }
    return data_import(c, file, &o);
}

/* A tiny HTTP client, so container images need no curl for their health check. */
static int cmd_healthcheck(const struct config *c)
{
    const char *host = strcmp(c->host, "0.0.0.0") == 0 || strcmp(c->host, "::") == 0 ? "127.0.0.1" : c->host;
    struct sockaddr_storage ss = {0};
    socklen_t len;
    struct sockaddr_in *v4 = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&ss;
    if (inet_pton(AF_INET, host, &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons((uint16_t)c->port);
        len = sizeof *v4;
    } else if (inet_pton(AF_INET6, host, &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons((uint16_t)c->port);
        len = sizeof *v6;
    } else {
        fprintf(stderr, "healthcheck: HOST '%s' is not an IP address\n", host);
        return 1;
    }
    int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&ss, len) != 0) {
        fprintf(stderr, "healthcheck: cannot connect to %s:%d\n", host, c->port);
        if (fd >= 0)
            close(fd);
        return 1;
    }
    static const char req[] = "GET /health/live HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n";
    char buf[64] = {0};
    size_t got = 0;
    struct pollfd pfd = {fd, POLLIN, 0};
    if (write(fd, req, sizeof req - 1) == (ssize_t)(sizeof req - 1)) {
        while (got < 12 && poll(&pfd, 1, 5000) == 1) {
            ssize_t n = read(fd, buf + got, sizeof buf - 1 - got);
            if (n <= 0)
                break;
            got += (size_t)n;
        }
    }
    close(fd);
    bool healthy = got >= 12 && strncmp(buf, "HTTP/1.1 200", 12) == 0;
    printf("%s\n", healthy ? "healthy" : "unhealthy");
    return healthy ? 0 : 1;
}

int main(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
        fputs(usage, argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "version") == 0) {
        printf("timewarp %s\n", TIMEWARP_VERSION);
        return 0;
    }
    if (strcmp(cmd, "check") == 0) {
        if (argc > 3 || (argc == 3 && strcmp(argv[2], "--deploy") != 0)) {
            fputs(usage, stderr);
            return 2;
        }
        return cmd_check(argc == 3);
    }

    struct config c;
    struct config_problems p;
    bool ok = config_load(&c, env_lookup, NULL, false, &p);
    log_set_level(c.log_level);
    if (strcmp(cmd, "healthcheck") == 0)
        return cmd_healthcheck(&c);
    if (!ok) {
        print_problems(&p);
        log_eventf(LOG_ERROR, "refusing to start: fix the %d setting(s) above (`timewarp check` lists them)", p.count);
        return 1;
    }
    if (strcmp(cmd, "migrate") == 0)
        return cmd_migrate(&c, argc, argv);
    if (strcmp(cmd, "export") == 0 || strcmp(cmd, "import") == 0 || strcmp(cmd, "backup") == 0)
        return cmd_data(&c, cmd, argc, argv);
    if (strcmp(cmd, "serve") == 0 && argc == 2) {
        char err[512];
        if (!config_ensure_secret_key(&c, err, sizeof err)) {
            log_eventf(LOG_ERROR, "%s", err);
            return 1;
        }
        /* Two malloc arenas rather than one per core × 8: worker threads allocate little
         * and briefly, and every extra arena is resident memory. */
        mallopt(M_ARENA_MAX, 2);
        metrics_set_service(c.service_name);
        if (c.secret_key_generated)
            log_eventf(LOG_INFO, "development: using the generated SECRET_KEY kept in %s/secret_key", c.data_dir);
        if (!database_certificate_ok(&c))
            return 1;
        return server_run(&c);
    }
    fputs(usage, stderr);
    return 2;
}
