/* metrics_prometheus(): the Prometheus text is complete and well-formed however long it gets
 * (issue 11: EMIT underflowed `cap - pos` once the text passed its first buffer). */
#include "unit.h"

#include "metrics.h"

#include <stdlib.h>

/* Every series the exposition promises, in order; the last one proves nothing was cut. */
static const char *const series[] = {
    "timewarp_requests_total{class=\"2xx\"} ",
    "timewarp_requests_total{class=\"5xx\"} ",
    "timewarp_request_duration_seconds_bucket{le=\"+Inf\"} ",
    "timewarp_request_duration_seconds_count ",
    "timewarp_submissions_total{outcome=\"duplicate\"} ",
    "timewarp_database_errors_total ",
};

static void assert_complete(const char *text, size_t len)
{
    assert_non_null(text);
    assert_int_equal(len, strlen(text));
    assert_true(len > 0 && text[len - 1] == '\n');
    const char *at = text;
    for (size_t i = 0; i < ARRAY_LEN(series); i++) {
        const char *found = strstr(at, series[i]);
        if (!found)
            print_error("missing or out of order: %s\n", series[i]);
        assert_non_null(found);
        at = found;
    }
}

static void test_text_is_complete(void **state)
{
    (void)state;
    metrics_request(200, 1234);
    metrics_request(503, 2000000);
    metrics_count(METRIC_DB_ERROR);
    size_t len = 0;
    char *text = metrics_prometheus(&len);
    assert_complete(text, len);
    assert_non_null(strstr(text, "timewarp_database_errors_total 1\n"));
    free(text);
}

/* Text longer than the first buffer: every byte must still land inside the allocation. */
static void test_text_grows_past_its_first_buffer(void **state)
{
    (void)state;
    for (size_t start = 16; start <= 2048; start *= 2) {
        size_t len = 0;
        char *text = metrics_prometheus_text(&len, start);
        assert_complete(text, len);
        size_t full_len = 0;
        char *full = metrics_prometheus(&full_len);
        assert_int_equal(len, full_len);
        assert_memory_equal(text, full, len);
        free(full);
        free(text);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_text_is_complete),
        cmocka_unit_test(test_text_grows_past_its_first_buffer),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
