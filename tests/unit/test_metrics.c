/* metrics_prometheus(): the Prometheus text is complete and well-formed however long it gets
 * (issue 11: EMIT underflowed `cap - pos` once the text passed its first buffer).
 * metrics_flush_emf(): one valid JSON line whose Service dimension is the configured name. */
#include "unit.h"

#include "metrics.h"

#include <jansson.h>
#include <stdlib.h>
#include <unistd.h>

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

/* Runs metrics_flush_emf(reachable) with stdout sent to a temporary file; returns what it wrote. */
static char *flush_emf_captured(bool reachable)
{
    char path[] = "/tmp/timewarp-unit-emf.XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    unlink(path);
    fflush(stdout);
    int saved = dup(STDOUT_FILENO);
    assert_true(saved >= 0 && dup2(fd, STDOUT_FILENO) >= 0);
    metrics_flush_emf(reachable);
    assert_true(dup2(saved, STDOUT_FILENO) >= 0);
    close(saved);
    off_t size = lseek(fd, 0, SEEK_END);
    char *out = calloc(1, (size_t)size + 1);
    assert_non_null(out);
    assert_int_equal(pread(fd, out, (size_t)size, 0), size);
    close(fd);
    return out;
}

static void assert_emf_service(const char *line, const char *service, unsigned long long requests,
                               int reachable)
{
    size_t len = strlen(line);
    assert_true(len > 0 && line[len - 1] == '\n' && strchr(line, '\n') == line + len - 1);
    json_error_t jerr;
    json_t *doc = json_loads(line, 0, &jerr);
    if (!doc)
        print_error("not JSON (%s): %s\n", jerr.text, line);
    assert_non_null(doc);
    assert_string_equal(json_string_value(json_object_get(doc, "Service")), service);
    assert_int_equal(json_integer_value(json_object_get(doc, "Requests")), requests);
    assert_int_equal(json_integer_value(json_object_get(doc, "DatabaseReachable")), reachable);
    json_t *dims = json_object_get(json_array_get(json_object_get(json_object_get(doc, "_aws"), "CloudWatchMetrics"), 0),
                                   "Dimensions");
    assert_string_equal(json_string_value(json_array_get(json_array_get(dims, 0), 0)), "Service");
    json_decref(doc);
}

/* Two stages in one account must not mix their data: the Service dimension is the name given. */
static void test_emf_service_dimension(void **state)
{
    (void)state;
    char *idle = flush_emf_captured(true); /* start from an empty window */
    free(idle);
    idle = flush_emf_captured(false); /* no traffic: still a line, for the deep-health alarm */
    assert_emf_service(idle, "timewarp", 0, 0);
    free(idle);
    metrics_request(200, 1000);
    char *line = flush_emf_captured(true);
    assert_emf_service(line, "timewarp", 1, 1); /* the default */
    free(line);

    static const char longest[] = "timewarp-production eu-west-1 (blue) 0123456789012345678901234xy";
    assert_int_equal(strlen(longest), 64);
    metrics_set_service(longest);
    /* the longest line: every count at its widest */
    for (int i = 0; i < 3; i++)
        metrics_request(500, UINT64_MAX / 4);
    metrics_count(METRIC_DB_ERROR);
    line = flush_emf_captured(true);
    assert_emf_service(line, longest, 3, 1);
    free(line);
    metrics_set_service("timewarp");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_text_is_complete),
        cmocka_unit_test(test_text_grows_past_its_first_buffer),
        cmocka_unit_test(test_emf_service_dimension),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
