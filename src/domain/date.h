/* Performance date parsing, following SPEC.md "Date input → performance date". */
#ifndef TIMEWARP_DATE_H
#define TIMEWARP_DATE_H
#include <stdbool.h>
#include <stddef.h>

#define DATE_LEN 10 /* YYYY-MM-DD */

/* A date as YYYYMMDD, so dates compare as integers. */
typedef long date_key;

/* Strict YYYY-MM-DD with a real calendar date; no trimming, no range rule. */
bool date_parse_iso(const char *s, size_t len, date_key *out);

/* The submission rule: trims, requires YYYY-MM-DD, a real date, year >= 1000 and not after
 * `today`. On success writes the canonical date to `out`; else sets *reason. */
bool date_performance(const char *input, size_t len, date_key today, char out[DATE_LEN + 1],
                      const char **reason);

/* Days since 1970-01-01 (negative before), for distances between dates. */
long long date_days(date_key d);

/* Today's date in UTC from a Unix time. */
date_key date_from_unix(long long seconds);
#endif
