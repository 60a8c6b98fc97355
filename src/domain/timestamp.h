/* The API's timestamps: RFC 3339 in UTC, six fractional digits, `Z` (SPEC.md
 * "Conventions"). Pure. */
#ifndef TIMEWARP_TIMESTAMP_H
#define TIMEWARP_TIMESTAMP_H
#include <stdbool.h>
#include <stddef.h>

#define TIMESTAMP_LEN 27 /* 2026-11-25T21:38:48.123456Z */

/* True when `s` is exactly that shape with a real calendar date and time of day. */
bool timestamp_valid(const char *s);

/* Rewrites another database's rendering of a UTC instant ("2026-11-25 21:38:48.1234",
 * "…T…", with or without fraction, optional "Z", "+00", "+00:00") in the API's shape.
 * False when the text is something else or has a non-zero UTC offset. */
bool timestamp_normalize(const char *in, char out[TIMESTAMP_LEN + 1]);
#endif
