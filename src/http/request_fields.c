/* Query strings and X-Forwarded-* values (see request_fields.h). */
#include "http/request_fields.h"
#include "http/parse.h"

#include <stdio.h>
#include <string.h>

bool http_percent_decode(char *s)
{
    char *o = s;
    for (const char *i = s; *i; i++) {
        int hi = *i == '%' ? http_hex_value(i[1]) : -1, lo = hi >= 0 ? http_hex_value(i[2]) : -1;
        if (lo >= 0) {
            if (hi == 0 && lo == 0)
                return false;
            *o++ = (char)(hi * 16 + lo);
            i += 2;
        } else { /* a '%' not followed by two hex digits stays as it is (no parameter takes it) */
            *o++ = *i;
        }
    }
    *o = '\0';
    return true;
}

void http_parse_query(char *buf, struct request *req)
{
    char *save = NULL;
    for (char *pair = strtok_r(buf, "&", &save); pair; pair = strtok_r(NULL, "&", &save)) {
        char *eq = strchr(pair, '=');
        char *value = NULL;
        if (eq) {
            *eq = '\0';
            value = eq + 1;
        }
        if (!*pair || !http_percent_decode(pair))
            continue;
        if (value && !http_percent_decode(value))
            value = "%00";
        if (req->query_count == API_MAX_QUERY) {
            req->query_overflow = true;
            return;
        }
        req->query[req->query_count++] = (struct query_param){pair, value};
    }
}

void http_forwarded_entry(const char *value, size_t len, int hops, char *out, size_t out_len)
{
    out[0] = '\0';
    if (!value || hops <= 0)
        return;
    /* Walk from the right: the entry starts after the hops-th comma from the end. */
    size_t end = len, start = 0;
    int seen = 0;
    for (size_t i = len; i > 0; i--) {
        if (value[i - 1] != ',')
            continue;
        if (++seen == hops) {
            start = i;
            break;
        }
        end = i - 1;
    }
    if (seen < hops) { /* fewer entries than trusted hops: the leftmost one */
        start = 0;
        const char *comma = memchr(value, ',', len);
        end = comma ? (size_t)(comma - value) : len;
    }
    while (start < end && (value[start] == ' ' || value[start] == '\t'))
        start++;
    while (end > start && (value[end - 1] == ' ' || value[end - 1] == '\t'))
        end--;
    snprintf(out, out_len, "%.*s", (int)(end - start), value + start);
}
