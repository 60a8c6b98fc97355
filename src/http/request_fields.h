/* Reading what a request says about itself: the query string and the X-Forwarded-* headers.
 * Pure functions, unit-tested and fuzzed. */
#ifndef TIMEWARP_HTTP_REQUEST_FIELDS_H
#define TIMEWARP_HTTP_REQUEST_FIELDS_H
#include "api/api.h"
#include <stddef.h>

/* Splits the raw query string (modified in place) into decoded parameters of req. A value
 * holding an encoded NUL is kept as the literal "%00", which no parameter
 * accepts; such a key is dropped (unknown). */
void http_parse_query(char *query, struct request *req);

/* Decodes %XX escapes in place ('+' and a lone '%' stay as they are); false on an encoded NUL. */
bool http_percent_decode(char *s);

/* The entry `hops` from the right of a comma-separated X-Forwarded-* value (value of length
 * len, not NUL-terminated), however many entries it has: with one trusted proxy (the ALB)
 * that is the last entry, the one the ALB itself appended; entries further left came from
 * the client and could say anything. Fewer entries than hops: the leftmost. Empty when
 * value is NULL or hops is 0. */
void http_forwarded_entry(const char *value, size_t len, int hops, char *out, size_t out_len);
#endif
