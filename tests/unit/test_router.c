/* router_match(): method + path → handler; trailing slash optional; 404 vs 405 + Allow
 * ("GET, HEAD" for GET routes); the {id} segment. */
#include "unit.h"

#include "router.h"

struct expect {
    const char *method, *path;
    api_handler handler; /* NULL: no handler (404 or 405) */
    const char *allow;   /* NULL: 404 (or a match) */
    const char *id;      /* NULL: no id */
    bool health;
};

static void check(const struct expect *e, int *bad)
{
    struct route_match m;
    memset(&m, 0x5a, sizeof m); /* router_match must set every field it reports */
    router_match(e->method, e->path, &m);
    bool ok = m.handler == e->handler && m.has_id == (e->id != NULL) && m.is_health == e->health;
    if (e->allow)
        ok = ok && m.allow && strcmp(m.allow, e->allow) == 0;
    else
        ok = ok && m.allow == NULL;
    if (e->id)
        ok = ok && m.has_id && strcmp(m.id, e->id) == 0;
    if (!ok) {
        print_error("%s %s: handler %s, allow %s, has_id %d (id '%.40s'), health %d\n", e->method,
                    e->path, m.handler == e->handler ? "as expected" : "WRONG",
                    m.allow ? m.allow : "(null)", m.has_id, m.has_id ? m.id : "", m.is_health);
        (*bad)++;
    }
}

static void run(const struct expect *cases, size_t n)
{
    int bad = 0;
    for (size_t i = 0; i < n; i++)
        check(&cases[i], &bad);
    assert_int_equal(bad, 0);
}

static void test_routes_with_and_without_slash(void **state)
{
    (void)state;
    const struct expect cases[] = {
        {"POST", "/contributors", api_contributors_create, NULL, NULL, false},
        {"POST", "/contributors/", api_contributors_create, NULL, NULL, false},
        {"POST", "/submissions", api_submissions_create, NULL, NULL, false},
        {"POST", "/submissions/", api_submissions_create, NULL, NULL, false},
        {"GET", "/submissions/sub_0123", api_submissions_get, NULL, "sub_0123", false},
        {"GET", "/submissions/sub_0123/", api_submissions_get, NULL, "sub_0123", false},
        {"GET", "/clips", api_clips_list, NULL, NULL, false},
        {"GET", "/clips/", api_clips_list, NULL, NULL, false},
        {"GET", "/clips/clp_0123456789abcdef0123456789abcdef", api_clips_get, NULL,
         "clp_0123456789abcdef0123456789abcdef", false},
        {"GET", "/clips/clp_0123456789abcdef0123456789abcdef/", api_clips_get, NULL,
         "clp_0123456789abcdef0123456789abcdef", false},
        {"GET", "/health", api_health, NULL, NULL, true},
        {"GET", "/health/", api_health, NULL, NULL, true},
    };
    run(cases, ARRAY_LEN(cases));
}

/* Reports and the operators' routes; each one that touches the database says so, and each
 * one that takes a body says that too (SPEC.md "Reports and moderation"). */
static void test_moderation_routes(void **state)
{
    (void)state;
    const struct expect cases[] = {
        {"POST", "/clips/clp_1/reports", api_reports_create, NULL, "clp_1", false},
        {"POST", "/clips/clp_1/reports/", api_reports_create, NULL, "clp_1", false},
        {"GET", "/clips/clp_1/reports", NULL, "POST", "clp_1", false},
        {"GET", "/admin/reports", api_admin_reports, NULL, NULL, false},
        {"HEAD", "/admin/reports/", api_admin_reports, NULL, NULL, false},
        {"POST", "/admin/reports", NULL, "GET, HEAD", NULL, false},
        {"POST", "/admin/clips/clp_2/hide", api_admin_hide, NULL, "clp_2", false},
        {"POST", "/admin/clips/clp_2/hide/", api_admin_hide, NULL, "clp_2", false},
        {"GET", "/admin/clips/clp_2/hide", NULL, "POST", "clp_2", false},
        {"POST", "/admin/clips/clp_2/restore", api_admin_restore, NULL, "clp_2", false},
        {"POST", "/admin/reports/rpt_3/dismiss", api_admin_dismiss, NULL, "rpt_3", false},
        {"GET", "/admin/audit", api_admin_audit, NULL, NULL, false},
        {"GET", "/admin/audit/", api_admin_audit, NULL, NULL, false},
        {"DELETE", "/admin/audit", NULL, "GET, HEAD", NULL, false},
    };
    run(cases, ARRAY_LEN(cases));
    static const char *const missing[] = {"/admin", "/admin/", "/admin/clips", "/admin/clips/clp_2",
                                          "/admin/reports/rpt_3", "/admin/clips/clp_2/delete",
                                          "/clips/clp_1/reports/rpt_1"};
    for (size_t i = 0; i < ARRAY_LEN(missing); i++) {
        struct route_match m;
        router_match("POST", missing[i], &m);
        if (m.handler || m.allow)
            print_error("%s should be no route\n", missing[i]);
        assert_null(m.handler);
        assert_null(m.allow);
    }
    static const struct { const char *method, *path; unsigned flags; } flags[] = {
        {"POST", "/clips/clp_1/reports", ROUTE_DATABASE | ROUTE_JSON_BODY},
        {"GET", "/admin/reports", ROUTE_DATABASE},
        {"POST", "/admin/clips/clp_1/hide", ROUTE_DATABASE | ROUTE_JSON_BODY},
        {"POST", "/admin/clips/clp_1/restore", ROUTE_DATABASE | ROUTE_JSON_BODY},
        {"POST", "/admin/reports/rpt_1/dismiss", ROUTE_DATABASE | ROUTE_JSON_BODY},
        {"GET", "/admin/audit", ROUTE_DATABASE},
    };
    for (size_t i = 0; i < ARRAY_LEN(flags); i++) {
        struct route_match m;
        router_match(flags[i].method, flags[i].path, &m);
        assert_int_equal(m.flags, flags[i].flags);
    }
}

static void test_head_follows_get(void **state)
{
    (void)state;
    const struct expect cases[] = {
        {"HEAD", "/clips", api_clips_list, NULL, NULL, false},
        {"HEAD", "/clips/", api_clips_list, NULL, NULL, false},
        {"HEAD", "/clips/clp_1", api_clips_get, NULL, "clp_1", false},
        {"HEAD", "/submissions/sub_1/", api_submissions_get, NULL, "sub_1", false},
        {"HEAD", "/health/", api_health, NULL, NULL, true},
        {"HEAD", "/health", api_health, NULL, NULL, true},
        /* HEAD is not allowed on POST-only routes */
        {"HEAD", "/contributors", NULL, "POST", NULL, false},
        {"HEAD", "/submissions/", NULL, "POST", NULL, false},
    };
    run(cases, ARRAY_LEN(cases));
}

static void test_wrong_method_is_405_with_allow(void **state)
{
    (void)state;
    const struct expect cases[] = {
        {"GET", "/contributors", NULL, "POST", NULL, false},
        {"GET", "/contributors/", NULL, "POST", NULL, false},
        {"PUT", "/contributors", NULL, "POST", NULL, false},
        {"DELETE", "/contributors/", NULL, "POST", NULL, false},
        {"GET", "/submissions", NULL, "POST", NULL, false},
        {"PATCH", "/submissions/", NULL, "POST", NULL, false},
        {"POST", "/submissions/sub_1", NULL, "GET, HEAD", "sub_1", false},
        {"DELETE", "/submissions/sub_1/", NULL, "GET, HEAD", "sub_1", false},
        {"POST", "/clips", NULL, "GET, HEAD", NULL, false},
        {"PUT", "/clips/", NULL, "GET, HEAD", NULL, false},
        {"DELETE", "/clips/clp_1", NULL, "GET, HEAD", "clp_1", false},
        {"OPTIONS", "/clips", NULL, "GET, HEAD", NULL, false},
        {"TRACE", "/clips", NULL, "GET, HEAD", NULL, false},
        {"POST", "/health", NULL, "GET, HEAD", NULL, true},
        {"DELETE", "/health/", NULL, "GET, HEAD", NULL, true},
        /* methods are case-sensitive */
        {"get", "/clips", NULL, "GET, HEAD", NULL, false},
        {"post", "/contributors", NULL, "POST", NULL, false},
        {"Head", "/clips", NULL, "GET, HEAD", NULL, false},
        {"", "/clips", NULL, "GET, HEAD", NULL, false},
    };
    run(cases, ARRAY_LEN(cases));
}

static void test_unknown_paths_are_404(void **state)
{
    (void)state;
    static const char *const paths[] = {
        "", "/", "//", "/clip", "/clipsx", "/clips-", "/CLIPS", "/Clips/", "/clips//",
        "/clips///", "//clips", "/clips/a/b", "/clips/a/b/", "/clips//a", "/clips/a//",
        "/contributors/ctr_1", "/contributors/ctr_1/", "/contributorsx", "/submissionsx",
        "/submissions/a/b", "/health/x", "/health//", "/healthz", "/health/ready",
        "/api/clips", "/clips/../health", "clips", "health", "/static", "/favicon.ico",
        "/clips?from=2024-01-01",
    };
    static const char *const methods[] = {"GET", "HEAD", "POST", "DELETE"};
    int bad = 0;
    for (size_t m = 0; m < ARRAY_LEN(methods); m++)
        for (size_t p = 0; p < ARRAY_LEN(paths); p++) {
            struct expect e = {methods[m], paths[p], NULL, NULL, NULL, false};
            check(&e, &bad);
        }
    assert_int_equal(bad, 0);
}

/* The id is the raw segment; format checks belong to the handlers (unknown id → 404 there). */
static void test_id_extraction(void **state)
{
    (void)state;
    char path[400], id[300];
    /* the longest id that fits, and one byte more */
    memset(id, 'x', 127);
    id[127] = '\0';
    snprintf(path, sizeof path, "/clips/%s", id);
    struct expect fits = {"GET", path, api_clips_get, NULL, id, false};
    int bad = 0;
    check(&fits, &bad);
    snprintf(path, sizeof path, "/clips/%s/", id);
    check(&fits, &bad);
    memset(id, 'x', 128);
    id[128] = '\0';
    snprintf(path, sizeof path, "/clips/%s", id);
    struct expect too_long = {"GET", path, NULL, NULL, NULL, false};
    check(&too_long, &bad);
    memset(id, 'x', 299);
    id[299] = '\0';
    snprintf(path, sizeof path, "/submissions/%s", id);
    struct expect way_too_long = {"GET", path, NULL, NULL, NULL, false};
    check(&way_too_long, &bad);

    const struct expect cases[] = {
        {"GET", "/clips/x", api_clips_get, NULL, "x", false},
        {"GET", "/clips/ctr_doesnotexist", api_clips_get, NULL, "ctr_doesnotexist", false},
        {"GET", "/clips/%2F", api_clips_get, NULL, "%2F", false},
        {"GET", "/clips/.", api_clips_get, NULL, ".", false},
        {"GET", "/submissions/\xc3\xa9", api_submissions_get, NULL, "\xc3\xa9", false},
    };
    for (size_t i = 0; i < ARRAY_LEN(cases); i++)
        check(&cases[i], &bad);
    assert_int_equal(bad, 0);
}

/* A match never leaks state from the previous one. */
static void test_no_state_between_calls(void **state)
{
    (void)state;
    struct route_match m;
    router_match("GET", "/clips/clp_1", &m);
    assert_true(m.has_id);
    router_match("GET", "/clips", &m);
    assert_false(m.has_id);
    assert_int_equal(m.id[0], '\0');
    router_match("GET", "/health", &m);
    assert_true(m.is_health);
    router_match("POST", "/nothing", &m);
    assert_false(m.is_health);
    assert_null(m.handler);
    assert_null(m.allow);
    router_match("POST", "/clips", &m);
    assert_non_null(m.allow);
    router_match("GET", "/clips", &m);
    assert_null(m.allow);
    assert_true(m.handler == api_clips_list);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_routes_with_and_without_slash),
        cmocka_unit_test(test_head_follows_get),
        cmocka_unit_test(test_moderation_routes),
        cmocka_unit_test(test_wrong_method_is_405_with_allow),
        cmocka_unit_test(test_unknown_paths_are_404),
        cmocka_unit_test(test_id_extraction),
        cmocka_unit_test(test_no_state_between_calls),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
