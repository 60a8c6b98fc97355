/* timestamp_valid() and timestamp_normalize(): the API's timestamp shape for imported
 * records, and other databases' renderings of an instant turned into it. */
#include "unit.h"

#include "domain/timestamp.h"

static void test_valid(void **state)
{
    (void)state;
    static const char *const good[] = {"2026-11-25T21:38:48.123456Z", "2024-02-29T00:00:00.000000Z",
                                       "1000-01-01T23:59:59.999999Z"};
    static const char *const bad[] = {
        "", "2026-11-25T21:38:48.12345Z", "2026-11-25T21:38:48.1234567Z", "2026-11-25 21:38:48.123456Z",
        "2026-11-25T21:38:48.123456", "2026-11-25T21:38:48.123456+00:00", "2023-02-29T00:00:00.000000Z",
        "2026-13-01T00:00:00.000000Z", "2026-11-25T24:00:00.000000Z", "2026-11-25T21:60:00.000000Z",
        "2026-11-25T21:38:60.000000Z", "2026-11-25T21:38:48.12345aZ", "2026-11-25t21:38:48.123456z"};
    for (size_t i = 0; i < ARRAY_LEN(good); i++)
        if (!timestamp_valid(good[i])) {
            print_error("refused %s\n", good[i]);
            fail();
        }
    for (size_t i = 0; i < ARRAY_LEN(bad); i++)
        if (timestamp_valid(bad[i])) {
            print_error("accepted %s\n", bad[i]);
            fail();
        }
    assert_false(timestamp_valid(NULL));
}

static void test_normalize(void **state)
{
    (void)state;
    static const char *const cases[][2] = {
        {"2026-12-01 21:56:10.313976", "2026-12-01T21:56:10.313976Z"}, /* Django on SQLite */
        {"2026-12-01 21:56:10.31+00", "2026-12-01T21:56:10.310000Z"},  /* PostgreSQL, UTC */
        {"2026-12-01 21:56:10+00:00", "2026-12-01T21:56:10.000000Z"},
        {"2026-12-01T21:56:10Z", "2026-12-01T21:56:10.000000Z"},
        {"2026-12-01T21:56:10.123456789Z", "2026-12-01T21:56:10.123456Z"},
        {"2026-12-01 21:56:10", "2026-12-01T21:56:10.000000Z"},
    };
    static const char *const refused[] = {"2026-12-01 21:56:10+02", "2026-12-01 21:56:10.", "yesterday",
                                          "2026-12-01", "2026-12-01 21:56:10.1234567890Z",
                                          "2026-02-30 00:00:00", "2026-12-01 21:56:10 UTC"};
    char out[TIMESTAMP_LEN + 1];
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        memset(out, 0, sizeof out);
        if (!timestamp_normalize(cases[i][0], out) || strcmp(out, cases[i][1]) != 0) {
            print_error("%s -> %s, want %s\n", cases[i][0], out, cases[i][1]);
            fail();
        }
        assert_true(timestamp_valid(out));
    }
    for (size_t i = 0; i < ARRAY_LEN(refused); i++)
        if (timestamp_normalize(refused[i], out)) {
            print_error("accepted %s as %s\n", refused[i], out);
            fail();
        }
    assert_false(timestamp_normalize(NULL, out));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid),
        cmocka_unit_test(test_normalize),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
