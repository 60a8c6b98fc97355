/* The strict request parser (src/http/parse.c) and the request fields
 * (src/http/request_fields.c): SPEC.md "The HTTP edge" at the byte level. */
#include "unit.h"

#include "http/parse.h"
#include "http/request_fields.h"

static enum http_result parse(const char *raw, struct http_head *h, struct http_error *e)
{
    return http_parse_head(raw, strlen(raw), h, e);
}

static void test_valid_heads(void **state)
{
    (void)state;
    struct http_head h;
    struct http_error e;
    const char *raw = "\r\nGET /clips?limit=5 HTTP/1.1\r\nHost: x\r\nX-A:  a\tb  \r\n\r\nbody";
    assert_int_equal(parse(raw, &h, &e), HTTP_COMPLETE);
    assert_int_equal(h.length, strlen(raw) - 4);
    assert_true(http_span_eq(h.method, "GET"));
    assert_int_equal(h.minor, 1);
    assert_int_equal(h.nheaders, 2);
    const struct http_span *v = http_header_find(&h, "x-a", NULL);
    assert_non_null(v);
    assert_int_equal(v->n, 3); /* surrounding whitespace trimmed, the inner tab kept */
    assert_memory_equal(v->p, "a\tb", 3);
    /* incomplete, at every cut */
    for (size_t n = 0; n < strlen(raw) - 4; n++)
        assert_int_equal(http_parse_head(raw, n, &h, &e), HTTP_INCOMPLETE);
}

static void test_refused_heads(void **state)
{
    (void)state;
    static const struct {
        const char *raw;
        size_t len; /* 0: strlen */
        int status;
    } cases[] = {
        {"GET /health/\0junk HTTP/1.1\r\nHost: x\r\n\r\n", 38, 400},
        {"GET /a\x01 HTTP/1.1\r\nHost: x\r\n\r\n", 0, 400},
        {"GET /a HTTP/1.1\r\nHost: x\r\nX: a\0b\r\n\r\n", 35, 400},
        {"GET /a HTTP/1.1\r\nHost: x\r\nX: a\x7f\r\n\r\n", 0, 400},
        {"GET /a HTTP/1.1\r\nHost: x\r\nX : a\r\n\r\n", 0, 400},
        {"GET /a HTTP/1.1\r\nHost: x\r\nX: a\r\n b\r\n\r\n", 0, 400},
        {"GET /a HTTP/1.1\nHost: x\n\n", 0, 400},
        {"GET /a HTTP/1.1\r\nHost: x\rX: y\r\n\r\n", 0, 400},
        {"GET a HTTP/1.1\r\n\r\n", 0, 400},
        {"GET /a\r\n\r\n", 0, 400},
        {"GET  /a HTTP/1.1\r\n\r\n", 0, 400},
        {"GET /a HTTP/2.0\r\n\r\n", 0, 505},
        {"GET /a HTTP/1.1 \r\n\r\n", 0, 400},
        {"G\xc3\xa9T /a HTTP/1.1\r\n\r\n", 0, 400},
        {"GET /\xff HTTP/1.1\r\n\r\n", 0, 400},
    };
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        struct http_head h;
        struct http_error e = {0, NULL};
        size_t len = cases[i].len ? cases[i].len : strlen(cases[i].raw);
        enum http_result r = http_parse_head(cases[i].raw, len, &h, &e);
        if (r != HTTP_INVALID || e.status != cases[i].status) {
            unit_print_bytes("head", cases[i].raw, len);
            print_error("  -> result %d, status %d\n", r, e.status);
        }
        assert_int_equal(r, HTTP_INVALID);
        assert_int_equal(e.status, cases[i].status);
        assert_non_null(e.message);
    }
}

static void test_limits(void **state)
{
    (void)state;
    static char buf[HTTP_MAX_HEAD * 2];
    struct http_head h;
    struct http_error e;
    /* a request line past its limit: 414 (before any line end arrives) */
    memcpy(buf, "GET /", 5);
    memset(buf + 5, 'a', HTTP_MAX_LINE + 10);
    assert_int_equal(http_parse_head(buf, HTTP_MAX_LINE + 15, &h, &e), HTTP_INVALID);
    assert_int_equal(e.status, 414);
    /* headers past theirs: 431 */
    size_t n = (size_t)snprintf(buf, sizeof buf, "GET / HTTP/1.1\r\nHost: x\r\nX: ");
    memset(buf + n, 'b', HTTP_MAX_HEAD);
    assert_int_equal(http_parse_head(buf, n + HTTP_MAX_HEAD, &h, &e), HTTP_INVALID);
    assert_int_equal(e.status, 431);
    /* too many fields: 431 */
    n = (size_t)snprintf(buf, sizeof buf, "GET / HTTP/1.1\r\n");
    for (int i = 0; i <= HTTP_MAX_HEADERS; i++)
        n += (size_t)snprintf(buf + n, sizeof buf - n, "X%d: y\r\n", i);
    n += (size_t)snprintf(buf + n, sizeof buf - n, "\r\n");
    assert_int_equal(http_parse_head(buf, n, &h, &e), HTTP_INVALID);
    assert_int_equal(e.status, 431);
}

static int framing(const char *raw, struct http_framing *f)
{
    struct http_head h;
    struct http_error e = {0, NULL};
    assert_int_equal(parse(raw, &h, &e), HTTP_COMPLETE);
    return http_framing(&h, 1000, f, &e) ? 0 : e.status;
}

static void test_framing(void **state)
{
    (void)state;
    struct http_framing f;
    assert_int_equal(framing("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n", &f), 0);
    assert_int_equal(f.kind, HTTP_BODY_LENGTH);
    assert_int_equal(f.length, 5);
    assert_true(f.keep_alive);
    assert_int_equal(framing("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n", &f), 400);
    assert_int_equal(framing("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n", &f), 400);
    assert_int_equal(framing("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n", &f), 400);
    assert_int_equal(framing("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", &f), 400);
    assert_int_equal(framing("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n", &f), 400);
    assert_int_equal(framing("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: +5\r\n\r\n", &f), 400);
    assert_int_equal(framing("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5, 5\r\n\r\n", &f), 400);
    assert_int_equal(framing("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999999\r\n\r\n", &f), 0);
    assert_true(f.too_large);
    assert_int_equal(framing("GET / HTTP/1.1\r\n\r\n", &f), 400);                 /* no Host */
    assert_int_equal(framing("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", &f), 400);
    assert_int_equal(framing("GET / HTTP/1.0\r\n\r\n", &f), 0);                   /* 1.0: no Host needed */
    assert_false(f.keep_alive);
    assert_int_equal(framing("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", &f), 0);
    assert_true(f.keep_alive);
    assert_int_equal(framing("GET / HTTP/1.1\r\nHost: x\r\nConnection: keep-alive, close\r\n\r\n", &f), 0);
    assert_false(f.keep_alive);
    assert_int_equal(framing("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", &f), 400);
}

static void test_chunked(void **state)
{
    (void)state;
    static const char body[] = "4;name=value\r\nWiki\r\n5\r\npedia\r\nE\r\n in\r\n\r\nchunks.\r\n0\r\nX-T: y\r\n\r\nNEXT";
    char out[64];
    for (size_t step = 1; step <= sizeof body; step++) { /* whole, and cut at every size */
        struct http_chunked c = {0};
        struct http_error e;
        size_t pos = 0, len = 0;
        while (!c.done && pos < sizeof body - 1) {
            size_t in = sizeof body - 1 - pos < step ? sizeof body - 1 - pos : step, got = 0;
            assert_true(http_chunked_decode(&c, body + pos, &in, out + len, sizeof out - len, &got, &e));
            pos += in;
            len += got;
        }
        assert_true(c.done);
        assert_int_equal(len, 23);
        assert_memory_equal(out, "Wikipedia in\r\n\r\nchunks.", 23);
        assert_memory_equal(body + pos, "NEXT", 4); /* the next request is left alone */
    }
    static const char *const bad[] = {"zz\r\n", "2\r\n{}XX\r\n", "FFFFFFFFFFFFFFFFFFFF\r\n", "2\n{}\r\n",
                                      "\r\n", "2;\x01\r\n"};
    for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
        struct http_chunked c = {0};
        struct http_error e = {0, NULL};
        size_t in = strlen(bad[i]), got;
        assert_false(http_chunked_decode(&c, bad[i], &in, out, sizeof out, &got, &e));
        assert_int_equal(e.status, 400);
    }
}

static void test_forwarded_from_the_right(void **state)
{
    (void)state;
    char out[64], value[2048];
    size_t n = 0;
    for (int i = 0; i < 40; i++)
        n += (size_t)snprintf(value + n, sizeof value - n, "1.1.1.%d, ", i);
    n += (size_t)snprintf(value + n, sizeof value - n, "6.6.6.6\"}{\"spoof\":\"x, 10.0.0.7");
    http_forwarded_entry(value, n, 1, out, sizeof out);
    assert_string_equal(out, "10.0.0.7");
    http_forwarded_entry(value, n, 2, out, sizeof out);
    assert_string_equal(out, "6.6.6.6\"}{\"spoof\":\"x"); /* as sent: the log escapes it */
    http_forwarded_entry("a, b", 4, 5, out, sizeof out);
    assert_string_equal(out, "a"); /* fewer entries than hops: the leftmost */
    http_forwarded_entry("a", 1, 0, out, sizeof out);
    assert_string_equal(out, "");
}

static void test_query(void **state)
{
    (void)state;
    char q[] = "limit=5%00x&from=2020-01-01&a%20b=%41&&=x&cursor=ab+c%2";
    struct request req = {0};
    http_parse_query(q, &req);
    assert_int_equal(req.query_count, 4);
    assert_string_equal(req.query[0].key, "limit");
    assert_string_equal(req.query[0].value, "%00"); /* an encoded NUL never reads as "5" */
    assert_string_equal(req.query[2].key, "a b");
    assert_string_equal(req.query[2].value, "A");
    assert_string_equal(req.query[3].value, "ab+c%2");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid_heads),
        cmocka_unit_test(test_refused_heads),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_framing),
        cmocka_unit_test(test_chunked),
        cmocka_unit_test(test_forwarded_from_the_right),
        cmocka_unit_test(test_query),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
