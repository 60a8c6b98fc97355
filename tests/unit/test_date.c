/* date_parse_iso(), date_performance() and date_from_unix(): SPEC.md "Date input →
 * performance date". `today` is always passed explicitly so the tests never depend on the
 * clock. */
#include "unit.h"

#include "domain/date.h"

#define TODAY 20260125L /* a fixed "today" for the rule tests */

static bool perf(const char *s, date_key today, char out[DATE_LEN + 1], const char **reason)
{
    *reason = NULL;
    return date_performance(s, strlen(s), today, out, reason);
}

static void expect_ok(const char *s, date_key today, const char *want, int *bad)
{
    char out[DATE_LEN + 1];
    const char *reason;
    memset(out, '#', sizeof out);
    if (!perf(s, today, out, &reason)) {
        unit_print_bytes("rejected but should be accepted:", s, strlen(s));
        print_error("    reason: %s\n", reason ? reason : "(null)");
        (*bad)++;
    } else if (memchr(out, '\0', sizeof out) == NULL || strcmp(out, want) != 0) {
        unit_print_bytes("wrong canonical date for", s, strlen(s));
        print_error("    want %s, got %.11s\n", want, out);
        (*bad)++;
    }
}

/* Returns the reason so callers can compare reasons between kinds of failure. */
static const char *expect_rejected(const char *s, date_key today, int *bad)
{
    char out[DATE_LEN + 1];
    const char *reason;
    if (perf(s, today, out, &reason)) {
        unit_print_bytes("accepted but should be rejected:", s, strlen(s));
        print_error("    got %s\n", out);
        (*bad)++;
        return NULL;
    }
    if (!reason || strlen(reason) < 10) {
        unit_print_bytes("rejected without a reason:", s, strlen(s));
        (*bad)++;
    }
    return reason;
}

static void test_parse_iso_valid(void **state)
{
    (void)state;
    static const struct {
        const char *s;
        date_key key;
    } cases[] = {
        {"2024-05-12", 20240512}, {"1969-08-17", 19690817}, {"2024-02-29", 20240229},
        {"2000-02-29", 20000229}, {"1600-02-29", 16000229}, {"1000-01-01", 10000101},
        {"9999-12-31", 99991231}, {"2023-01-31", 20230131}, {"2023-03-31", 20230331},
        {"2023-04-30", 20230430}, {"2023-12-31", 20231231}, {"2023-02-28", 20230228},
        {"0999-12-31", 9991231},  /* shape and calendar only: the year rule is elsewhere */
    };
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        date_key k = -1;
        assert_true(date_parse_iso(cases[i].s, strlen(cases[i].s), &k));
        assert_int_equal(k, cases[i].key);
    }
}

static void test_parse_iso_invalid(void **state)
{
    (void)state;
    static const char *const inputs[] = {
        "2023-02-29", "1900-02-29", "2100-02-29", "2024-02-30", "2024-04-31", "2024-06-31",
        "2024-09-31", "2024-11-31", "2024-01-32", "2024-00-10", "2024-13-01", "2024-01-00",
        "2024-5-12", "2024-05-1", "24-05-12", "20240512", "2024/05/12", "2024.05.12",
        "2024-05-12 ", " 2024-05-12", /* strict: no trimming here */
        "2024-05-12T00:00:00Z", "2024-05-12T10:00", "+024-05-12", "-024-05-12",
        "2024-+5-12", "2024-05-+2", "2024--5-12", "２０２４-05-12", "abcd-ef-gh", "",
        "2024-05", "12-05-2024", "2024-05-12\n", "0000-01-01", "0000-12-31", /* no year 0 */
    };
    int bad = 0;
    for (size_t i = 0; i < ARRAY_LEN(inputs); i++) {
        date_key k = -1;
        if (date_parse_iso(inputs[i], strlen(inputs[i]), &k)) {
            unit_print_bytes("date_parse_iso accepted", inputs[i], strlen(inputs[i]));
            bad++;
        }
    }
    assert_int_equal(bad, 0);
}

/* The length bounds the input: bytes after len are never read, a NUL inside it is illegal. */
static void test_parse_iso_length_and_nul(void **state)
{
    (void)state;
    date_key k = 0;
    assert_true(date_parse_iso("2024-05-12garbage", 10, &k));
    assert_int_equal(k, 20240512);
    assert_false(date_parse_iso("2024-05-12", 9, &k));
    assert_false(date_parse_iso("2024-05-1\0", 10, &k));
    assert_false(date_parse_iso("2024\0" "05-12", 10, &k));
    assert_false(date_parse_iso("", 0, &k));
}

static void test_leap_years(void **state)
{
    (void)state;
    int bad = 0;
    expect_ok("2024-02-29", TODAY, "2024-02-29", &bad);
    expect_ok("2000-02-29", TODAY, "2000-02-29", &bad);
    expect_ok("1600-02-29", TODAY, "1600-02-29", &bad);
    expect_ok("1004-02-29", TODAY, "1004-02-29", &bad);
    expect_ok("2023-02-28", TODAY, "2023-02-28", &bad);
    expect_rejected("2023-02-29", TODAY, &bad);
    expect_rejected("1900-02-29", TODAY, &bad);
    expect_rejected("1100-02-29", TODAY, &bad);
    expect_rejected("2024-02-30", TODAY, &bad);
    assert_int_equal(bad, 0);
}

static void test_year_range(void **state)
{
    (void)state;
    int bad = 0;
    expect_ok("1000-01-01", TODAY, "1000-01-01", &bad);
    expect_rejected("0999-12-31", TODAY, &bad);
    expect_rejected("0000-01-01", TODAY, &bad);
    expect_rejected("0001-01-01", TODAY, &bad);
    expect_rejected("0999-01-01", TODAY, &bad);
    assert_int_equal(bad, 0);
}

static void test_today_and_tomorrow(void **state)
{
    (void)state;
    int bad = 0;
    expect_ok("2026-01-25", 20260125, "2026-01-25", &bad);
    expect_ok("2026-01-24", 20260125, "2026-01-24", &bad);
    expect_rejected("2026-01-26", 20260125, &bad);
    expect_rejected("2026-02-01", 20260125, &bad);
    expect_rejected("2027-01-01", 20260125, &bad);
    expect_rejected("9999-12-31", 20260125, &bad);
    /* across a year end and a month end */
    expect_ok("2026-12-31", 20261231, "2026-12-31", &bad);
    expect_rejected("2027-01-01", 20261231, &bad);
    expect_ok("2024-02-29", 20240229, "2024-02-29", &bad);
    expect_rejected("2024-03-01", 20240229, &bad);
    /* the limit is "today", whatever today is */
    expect_ok("2030-06-15", 20300615, "2030-06-15", &bad);
    expect_rejected("2030-06-16", 20300615, &bad);
    assert_int_equal(bad, 0);
}

static void test_formats_rejected(void **state)
{
    (void)state;
    static const char *const inputs[] = {
        "20240512", "2024/05/12", "2024.05.12", "12/05/2024", "05/12/2024", "12-05-2024",
        "2024-5-12", "2024-05-1", "24-05-12", "2024-05-12T00:00:00Z", "2024-05-12T20:00",
        "2024-05-12 20:00", "2024-05-12 20:00:00", "2024-05-12Z", "2024-05-12x", "May 12, 2024",
        "12 May 2024", "2024-W19-7", "2024-133", "today", "yesterday", "1715472000",
        "2024-05-12/2024-05-13", "2024 - 05 - 12", "2024-05 -12", "2024-0５-12", "",
        "   ", "\t\n", "2024-05-12\v2", "+2024-05-12", "02024-05-12",
    };
    int bad = 0;
    for (size_t i = 0; i < ARRAY_LEN(inputs); i++)
        expect_rejected(inputs[i], TODAY, &bad);
    assert_int_equal(bad, 0);
}

static void test_whitespace_trimmed(void **state)
{
    (void)state;
    int bad = 0;
    expect_ok(" 2024-05-12", TODAY, "2024-05-12", &bad);
    expect_ok("2024-05-12 ", TODAY, "2024-05-12", &bad);
    expect_ok("  \t2024-05-12\r\n  ", TODAY, "2024-05-12", &bad);
    expect_ok("\n\v\f2024-02-29\t", TODAY, "2024-02-29", &bad);
    expect_rejected("2024-05- 12", TODAY, &bad);
    expect_rejected("2024 -05-12", TODAY, &bad);
    expect_rejected("\xc2\xa0" "2024-05-12", TODAY, &bad); /* NBSP is not ASCII space */
    assert_int_equal(bad, 0);
}

/* Only `len` bytes count, and an embedded NUL is not an end of string. */
static void test_performance_length_and_nul(void **state)
{
    (void)state;
    char out[DATE_LEN + 1];
    const char *reason = NULL;
    assert_true(date_performance("2024-05-12 trailing junk", 10, TODAY, out, &reason));
    assert_string_equal(out, "2024-05-12");
    reason = NULL;
    assert_false(date_performance("2024-05-12\0", 11, TODAY, out, &reason));
    assert_non_null(reason);
    reason = NULL;
    assert_false(date_performance("\0" "2024-05-12", 11, TODAY, out, &reason));
    assert_non_null(reason);
}

/* Format, calendar, early year and future are different mistakes with different reasons. */
static void test_reasons_distinct(void **state)
{
    (void)state;
    int bad = 0;
    const char *format = expect_rejected("2024-05-12x", TODAY, &bad);
    const char *format2 = expect_rejected("20240512", TODAY, &bad);
    const char *calendar = expect_rejected("2023-02-29", TODAY, &bad);
    const char *calendar2 = expect_rejected("2024-13-01", TODAY, &bad);
    const char *early = expect_rejected("0999-12-31", TODAY, &bad);
    const char *future = expect_rejected("2026-01-26", TODAY, &bad);
    assert_int_equal(bad, 0);
    assert_string_equal(format, format2);
    assert_string_equal(calendar, calendar2);
    assert_string_not_equal(format, calendar);
    assert_string_not_equal(format, future);
    assert_string_not_equal(calendar, future);
    assert_string_not_equal(early, future);
    assert_string_not_equal(early, format);
    assert_string_not_equal(early, calendar);
    assert_non_null(strstr(format, "YYYY-MM-DD"));
    assert_non_null(strstr(future, "future"));
}

static void test_from_unix(void **state)
{
    (void)state;
    static const struct {
        long long t;
        date_key want;
    } cases[] = {
        {0, 19700101},
        {86399, 19700101},
        {86400, 19700102},
        {-1, 19691231},
        {-86400, 19691231},
        {-86401, 19691230},
        {-31536000, 19690101},
        {-31536001, 19681231},
        {951782400, 20000229},          /* leap day, divisible by 400 */
        {951782400 + 86399, 20000229},
        {951782400 + 86400, 20000301},
        {1709164800, 20240229},         /* leap day */
        {1709164800 - 1, 20240228},
        {1709164800 + 86400, 20240301},
        {1795564800, 20261125},         /* 2026-11-25T00:00:00Z */
        {1795564800 + 78000, 20261125}, /* 21:40 that day */
        {1795564800 - 1, 20261124},
        {-2203891200, 19000301},        /* 1900 is not a leap year */
        {-2203891200 - 1, 19000228},
        {-11670998400, 16000229},
        {-30610224000, 10000101},
        {253402214400, 99991231},
        {253402214400 + 86400, 100000101},
    };
    int bad = 0;
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        date_key got = date_from_unix(cases[i].t);
        if (got != cases[i].want) {
            print_error("date_from_unix(%lld): want %ld, got %ld\n", cases[i].t,
                        (long)cases[i].want, (long)got);
            bad++;
        }
    }
    assert_int_equal(bad, 0);
}

/* date_from_unix and date_parse_iso agree on every day of a long span: each day is one more
 * than the previous one, months and leap days included. */
static void test_from_unix_consecutive_days(void **state)
{
    (void)state;
    date_key prev = date_from_unix(-30610224000LL - 86400); /* 0999-12-31 */
    assert_int_equal(prev, 9991231);
    for (long long day = -30610224000LL / 86400; day < 253402214400LL / 86400 + 1; day++) {
        date_key k = date_from_unix(day * 86400 + 43200);
        char buf[64];
        date_key parsed;
        snprintf(buf, sizeof buf, "%04ld-%02ld-%02ld", (long)(k / 10000), (long)(k / 100 % 100),
                 (long)(k % 100));
        if (!date_parse_iso(buf, strlen(buf), &parsed) || parsed != k || k <= prev) {
            print_error("day %lld → %ld after %ld\n", day, (long)k, (long)prev);
            fail();
        }
        /* the next day is either d+1, the first of the next month, or Jan 1st */
        long y = k / 10000, m = k / 100 % 100, d = k % 100;
        long py = prev / 10000, pm = prev / 100 % 100, pd = prev % 100;
        bool next = (y == py && m == pm && d == pd + 1) || (y == py && m == pm + 1 && d == 1) ||
                    (y == py + 1 && m == 1 && d == 1 && pm == 12 && pd == 31);
        if (!next) {
            print_error("day %lld: %ld does not follow %ld\n", day, (long)k, (long)prev);
            fail();
        }
        if (d == 1) { /* a month ended: its last day really was the last one */
            snprintf(buf, sizeof buf, "%04ld-%02ld-%02ld", py, pm, pd + 1);
            if (date_parse_iso(buf, strlen(buf), &parsed)) {
                print_error("day %lld: skipped %s\n", day, buf);
                fail();
            }
        }
        prev = k;
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_iso_valid),
        cmocka_unit_test(test_parse_iso_invalid),
        cmocka_unit_test(test_parse_iso_length_and_nul),
        cmocka_unit_test(test_leap_years),
        cmocka_unit_test(test_year_range),
        cmocka_unit_test(test_today_and_tomorrow),
        cmocka_unit_test(test_formats_rejected),
        cmocka_unit_test(test_whitespace_trimmed),
        cmocka_unit_test(test_performance_length_and_nul),
        cmocka_unit_test(test_reasons_distinct),
        cmocka_unit_test(test_from_unix),
        cmocka_unit_test(test_from_unix_consecutive_days),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
