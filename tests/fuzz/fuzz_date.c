/* libFuzzer target: date parsing (src/domain/date.c).
 * Checks, besides "no crash, no UB": an accepted YYYY-MM-DD round-trips (formatting the
 * parsed key gives back the input exactly); the key is a real calendar date; the
 * submission rule (date_performance) accepts exactly the trimmed strict dates with year
 * >= 1000 that are not after `today`, echoes the canonical text, and gives a reason
 * otherwise; days-since-epoch conversions invert each other for every accepted date. */
#include "domain/date.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond, ...)                                                                       \
    do {                                                                                       \
        if (!(cond)) {                                                                         \
            fprintf(stderr, "invariant violated: %s: ", #cond);                                \
            fprintf(stderr, __VA_ARGS__);                                                      \
            fputc('\n', stderr);                                                               \
            abort();                                                                           \
        }                                                                                      \
    } while (0)

static int is_ws(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

static int days_in(long y, long m)
{
    static const int d[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return m == 2 && leap ? 29 : d[m - 1];
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* The first byte chooses "today" (a few fixed days, leap day included), the rest is
     * the input; an exact-size heap copy so ASan sees any over-read. */
    static const date_key todays[] = {20261125, 20240229, 19990101, 10000101, 99991231,
                                      20000301, 21000228, 20250101};
    if (size == 0)
        return 0;
    date_key today = todays[data[0] % (sizeof todays / sizeof *todays)];
    data++;
    size--;
    char *in = malloc(size ? size : 1);
    if (!in)
        return 0;
    memcpy(in, data, size);

    /* Strict ISO parsing. */
    date_key key = -1;
    bool iso = date_parse_iso(in, size, &key);
    if (iso) {
        long y = key / 10000, m = key / 100 % 100, d = key % 100;
        CHECK(m >= 1 && m <= 12, "month %ld", m);
        CHECK(d >= 1 && d <= days_in(y, m), "day %ld of %ld-%02ld", d, y, m);
        char text[16];
        snprintf(text, sizeof text, "%04ld-%02ld-%02ld", y, m, d);
        CHECK(size == DATE_LEN && memcmp(text, in, DATE_LEN) == 0,
              "'%.*s' parsed as %ld, which formats as '%s'", (int)size, in, key, text);
        /* Days since the epoch and back. */
        long long days = date_days(key);
        CHECK(date_from_unix(days * 86400) == key, "date_from_unix(date_days(%ld)) = %ld", key,
              date_from_unix(days * 86400));
        CHECK(date_from_unix(days * 86400 + 86399) == key, "last second of %ld", key);
        CHECK(date_days(key) + 1 == date_days(date_from_unix((days + 1) * 86400)),
              "the day after %ld is not one day later", key);
    }

    /* The submission rule. */
    char out[DATE_LEN + 1];
    memset(out, 'X', sizeof out);
    const char *reason = NULL;
    bool perf = date_performance(in, size, today, out, &reason);

    const char *t = in;
    size_t tlen = size;
    while (tlen > 0 && is_ws(t[0])) {
        t++;
        tlen--;
    }
    while (tlen > 0 && is_ws(t[tlen - 1]))
        tlen--;
    date_key tkey = -1;
    bool trimmed_iso = date_parse_iso(t, tlen, &tkey);
    bool expect = trimmed_iso && tkey / 10000 >= 1000 && tkey <= today;
    CHECK(perf == expect, "date_performance('%.*s', today %ld) = %d, expected %d", (int)size, in,
          today, perf, expect);
    if (perf) {
        CHECK(out[DATE_LEN] == '\0' && strlen(out) == DATE_LEN, "output not 10 characters");
        CHECK(memcmp(out, t, DATE_LEN) == 0, "output '%s' is not the trimmed input", out);
        date_key again = -1;
        CHECK(date_parse_iso(out, DATE_LEN, &again) && again == tkey, "output does not re-parse");
    } else {
        CHECK(reason != NULL && reason[0] != '\0', "rejected without a reason");
    }
    free(in);
    return 0;
}
