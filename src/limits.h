/* Per-client rate limits (SPEC.md "Rate limits"): N requests of a kind per period and client
 * address, in a fixed-size table, so memory stays bounded whatever the number of clients.
 * Thread-safe: handlers call it from every database worker. */
#ifndef TIMEWARP_LIMITS_H
#define TIMEWARP_LIMITS_H
#include "config.h"
#include <stdbool.h>
#include <stdint.h>

/* The table: LIMITS_SETS × LIMITS_WAYS entries of 16 bytes (2 MiB, allocated in the
 * program's zero page area, so only the part clients touch becomes resident). */
#define LIMITS_SETS 16384
#define LIMITS_WAYS 8

struct limit_decision {
    bool allowed;
    long retry_after; /* whole seconds until one more request would pass (1..period); 0 when allowed */
    long remaining;   /* requests still allowed right now */
    long reset;       /* whole seconds until the full quota is back */
};

/* Counts one request of `kind` by `client` (an IP address as text; NULL or an unparsable
 * value all share one "unknown" bucket) against `limit`, and says whether it may pass. A
 * limit with count 0 always allows. IPv6 clients are counted per /64. */
void limits_check(const struct rate_limit *limit, enum rate_kind kind, const char *client,
                  struct limit_decision *d);

/* The same with the clock given (nanoseconds, monotonic), for the tests. */
void limits_check_at(const struct rate_limit *limit, enum rate_kind kind, const char *client,
                     uint64_t now_ns, struct limit_decision *d);

/* Entries that still held a live count when a new client needed their slot (a client
 * forgiven early because the table was full); for tests and diagnosis. */
uint64_t limits_live_evictions(void);
#endif
