/* The service's own database role (PostgreSQL): what `timewarp migrate` grants it. */
#ifndef TIMEWARP_GRANTS_H
#define TIMEWARP_GRANTS_H
#include "store/store.h"
#include <stdbool.h>
#include <stddef.h>

/* Creates `role` with `password` if it does not exist (an empty password: it must exist),
 * refuses a role that could change the schema (a superuser, the owner or a member of it),
 * and leaves it exactly SELECT/INSERT/UPDATE/DELETE on every table of schema public (read-only
 * on schema_migrations), USAGE on their sequences, CONNECT on the database: no DDL, no
 * DROP, no TRUNCATE. Run by the owner, after migrating, so new tables are covered. */
bool store_grant_service_role(struct store *st, const char *role, const char *password, char *err,
                              size_t err_len);
#endif
