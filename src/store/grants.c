/* The service connects as a role that can read and write rows and nothing else, so a bug or
 * an injected statement in the service can never drop, alter or truncate the schema; the
 * owner (RDS's master user) is used only by the migrate task. Granting runs on every
 * `migrate`, after the migrations, so a table a new migration adds is covered before the
 * release that uses it starts. Identifiers cannot be bound parameters, so the role name and
 * password travel as bound parameters into transaction-local settings, and the server quotes
 * them itself (format's %I and %L) inside one DO block. */
#include "store/grants.h"
#include "store/store_internal.h"

#include <stdio.h>
#include <string.h>

/* The last slot of the statement cache: only `migrate` ever runs this one. */
static const struct db_stmt ST_SERVICE_SETTINGS = {DB_MAX_STMTS - 1,
    "SELECT set_config('timewarp.service_role', ?, true), "
    "set_config('timewarp.service_password', ?, true)"};

static const char grant_block[] =
    "DO $grant$\n"
    "DECLARE\n"
    "    svc text := current_setting('timewarp.service_role');\n"
    "    pw text := current_setting('timewarp.service_password');\n"
    "    r pg_roles%ROWTYPE;\n"
    "BEGIN\n"
    "    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = svc) THEN\n"
    "        IF pw = '' THEN\n"
    "            RAISE EXCEPTION 'the service role \"%\" does not exist: give TIMEWARP_DB_SERVICE_PASSWORD "
    "(or _FILE) so that migrate creates it', svc;\n"
    "        END IF;\n"
    "        EXECUTE format('CREATE ROLE %I LOGIN PASSWORD %L', svc, pw);\n"
    "    END IF;\n"
    "    SELECT * INTO r FROM pg_roles WHERE rolname = svc;\n"
    "    IF r.rolsuper OR r.rolcreaterole OR r.rolcreatedb OR r.rolreplication OR r.rolbypassrls THEN\n"
    "        RAISE EXCEPTION 'the service role \"%\" is a superuser or may create roles or databases, "
    "replicate or bypass row security: it must be a plain login role', svc;\n"
    "    END IF;\n"
    /* Whoever can act as an owner can drop what it owns. */
    "    IF pg_has_role(svc, current_user, 'MEMBER')\n"
    "       OR pg_has_role(svc, (SELECT nspowner FROM pg_namespace WHERE nspname = 'public'), 'MEMBER')\n"
    "       OR EXISTS (SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace\n"
    "                  WHERE n.nspname = 'public' AND pg_has_role(svc, c.relowner, 'MEMBER')) THEN\n"
    "        RAISE EXCEPTION 'the service role \"%\" is, or acts as, the owner of the schema or its tables "
    "(here: %): the service needs a role of its own', svc, current_user;\n"
    "    END IF;\n"
    /* Exactly these privileges, whatever was granted before. */
    "    EXECUTE format('REVOKE ALL ON ALL TABLES IN SCHEMA public FROM %I', svc);\n"
    "    EXECUTE format('REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM %I', svc);\n"
    /* PostgreSQL 15 no longer lets PUBLIC create in schema public; older versions did. No one
     * without a grant creates objects here, temporary tables included. */
    "    REVOKE CREATE ON SCHEMA public FROM PUBLIC;\n"
    "    EXECUTE format('REVOKE CREATE, TEMPORARY ON DATABASE %I FROM PUBLIC, %I', current_database(), svc);\n"
    "    EXECUTE format('GRANT CONNECT ON DATABASE %I TO %I', current_database(), svc);\n"
    "    EXECUTE format('GRANT USAGE ON SCHEMA public TO %I', svc);\n"
    "    EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO %I', svc);\n"
    "    EXECUTE format('GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO %I', svc);\n"
    "    IF to_regclass('public.schema_migrations') IS NOT NULL THEN\n"
    "        EXECUTE format('REVOKE INSERT, UPDATE, DELETE ON public.schema_migrations FROM %I', svc);\n"
    "    END IF;\n"
    /* A grant to a group the role belongs to would survive the revokes above. */
    "    IF has_schema_privilege(svc, 'public', 'CREATE')\n"
    "       OR has_database_privilege(svc, current_database(), 'CREATE') THEN\n"
    "        RAISE EXCEPTION 'the service role \"%\" can still create objects (through a role it belongs "
    "to?): revoke that first', svc;\n"
    "    END IF;\n"
    "END\n"
    "$grant$";

bool store_grant_service_role(struct store *st, const char *role, const char *password, char *err,
                              size_t err_len)
{
    if (store_dialect(st) != DIALECT_POSTGRES) {
        snprintf(err, err_len, "a service role exists only on PostgreSQL");
        return false;
    }
    const char *params[] = {role, password ? password : ""};
    bool ok = store_begin_write(st) == DB_OK &&
              store_exec(st, &ST_SERVICE_SETTINGS, params, 2, NULL, NULL) == DB_OK &&
              store_script(st, grant_block) == DB_OK && store_end_write(st, true) == DB_OK;
    if (!ok) {
        snprintf(err, err_len, "granting the service role %s failed: %s", role, store_last_error(st));
        store_end_write(st, false);
    }
    return ok;
}
