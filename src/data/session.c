/* The offline data commands' database sessions have no request time budget. The server
 * bounds every statement by TIMEWARP_DB_TIMEOUT (the driver's per-call deadline and, on
 * PostgreSQL, statement_timeout and idle_in_transaction_session_timeout set at connect),
 * which is right for a request and wrong for an import whose one linking UPDATE over a
 * million rows takes many seconds, or for an export whose snapshot stays open while a slow
 * pipe drains. Lock waits keep their bound (lock_timeout, SQLite's busy timeout): an
 * import behind a server's writer still says so instead of hanging. */
#include "data/records.h"
#include "store/store_internal.h"

#include <time.h>

#define UNBOUNDED_US (7LL * 24 * 3600 * 1000000) /* a week: "no deadline" for the driver */

void data_session_unbounded(struct store *st)
{
    if (!st || store_dialect(st) != DIALECT_POSTGRES)
        return; /* SQLite's driver bounds only lock waits when no deadline is set */
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    store_set_deadline(st, (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000 + UNBOUNDED_US);
    store_script(st, "SET statement_timeout = 0; SET idle_in_transaction_session_timeout = 0");
}
