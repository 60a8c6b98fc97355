/* body_parse(): Content-Type, strict JSON (duplicates, invalid UTF-8, nesting > 64), object
 * shape and the per-field rules, plus the SPEC.md error shape of every rejection. */
#include "unit.h"

#include "api/body.h"

#include <stdlib.h>

/* contributor_fields and submission_fields come from the handlers (api/body.h). */

#define CT "application/json"
#define GOOD_SUB "{\"contributor_id\":\"ctr_x\",\"raw_youtube_input\":\"dQw4w9WgXcQ\",\"raw_date_input\":\"2024-05-12\""

/* ---- helpers --------------------------------------------------------------------------- */

/* The response body as text, then parsed strictly: an error body must itself be valid JSON
 * (and so valid UTF-8). Frees the response body. */
static json_t *take_body(struct response *res)
{
    size_t len = 0;
    char *text = jw_finish(&res->body, &len);
    assert_non_null(text);
    json_error_t err;
    json_t *j = json_loadb(text, len, JSON_REJECT_DUPLICATES, &err);
    if (!j) {
        unit_print_bytes("error body is not valid JSON:", text, len);
        print_error("    %s\n", err.text);
    }
    free(text);
    return j;
}

/* Runs body_parse and expects success; returns the object (caller decrefs). */
static json_t *parse_ok(const struct field_spec *specs, size_t n, const char *ct, const char *body,
                        size_t len)
{
    struct response res;
    memset(&res, 0, sizeof res);
    jw_init(&res.body);
    json_t *obj = body_parse(ct, body, len, specs, n, &res);
    if (!obj) {
        unit_print_bytes("rejected body:", body, len);
        json_t *e = take_body(&res);
        if (e) {
            print_error("    status %d: %s\n", res.status,
                        json_string_value(json_object_get(e, "detail")));
            json_decref(e);
        }
        fail();
    }
    assert_int_equal(res.status, 0); /* success leaves the response alone */
    assert_int_equal(res.body.len, 0);
    jw_free(&res.body);
    assert_true(json_is_object(obj));
    return obj;
}

/* Runs body_parse, expects rejection with `status` and `code`, checks the error shape:
 * {"detail": m, "error": {"code": code, "message": m, "details": {} or {"field": field}}}.
 * Returns the detail (static copy) so callers can look at the wording. */
static const char *parse_err(const struct field_spec *specs, size_t n, const char *ct,
                             const char *body, size_t len, int status, const char *code,
                             const char *field)
{
    static char detail[512];
    struct response res;
    memset(&res, 0, sizeof res);
    jw_init(&res.body);
    json_t *obj = body_parse(ct, body, len, specs, n, &res);
    if (obj) {
        unit_print_bytes("accepted body:", body, len);
        json_decref(obj);
        fail();
    }
    if (res.status != status) {
        unit_print_bytes("body:", body, len);
        print_error("    want status %d, got %d\n", status, res.status);
    }
    assert_int_equal(res.status, status);
    json_t *e = take_body(&res);
    assert_non_null(e);
    assert_true(json_is_object(e));
    assert_int_equal(json_object_size(e), 2);
    const char *d = json_string_value(json_object_get(e, "detail"));
    assert_non_null(d);
    assert_true(strlen(d) > 0);
    json_t *er = json_object_get(e, "error");
    assert_true(json_is_object(er));
    assert_int_equal(json_object_size(er), 3);
    const char *got_code = json_string_value(json_object_get(er, "code"));
    assert_non_null(got_code);
    if (strcmp(got_code, code) != 0) {
        unit_print_bytes("body:", body, len);
        print_error("    want code %s, got %s (%s)\n", code, got_code, d);
    }
    assert_string_equal(got_code, code);
    assert_string_equal(json_string_value(json_object_get(er, "message")), d);
    json_t *details = json_object_get(er, "details");
    assert_true(json_is_object(details));
    if (field) {
        assert_int_equal(json_object_size(details), 1);
        const char *f = json_string_value(json_object_get(details, "field"));
        assert_non_null(f);
        assert_string_equal(f, field);
    } else {
        assert_int_equal(json_object_size(details), 0);
    }
    snprintf(detail, sizeof detail, "%s", d);
    json_decref(e);
    return detail;
}

#define OK_C(body) parse_ok(contributor_fields, 2, CT, body, strlen(body))
#define OK_S(body) parse_ok(submission_fields, 5, CT, body, strlen(body))
#define ERR_C(body, st, code, field) \
    parse_err(contributor_fields, 2, CT, body, strlen(body), st, code, field)
#define ERR_S(body, st, code, field) \
    parse_err(submission_fields, 5, CT, body, strlen(body), st, code, field)

/* ---- Content-Type ---------------------------------------------------------------------- */

static void test_content_type_accepted(void **state)
{
    (void)state;
    static const char *const types[] = {"application/json", "application/json; charset=utf-8",
                                        "application/json;charset=UTF-8", "APPLICATION/JSON",
                                        "Application/Json; charset=\"utf-8\"",
                                        "application/json ; charset=utf-8", "application/json "};
    for (size_t i = 0; i < ARRAY_LEN(types); i++) {
        json_t *o = parse_ok(contributor_fields, 2, types[i], "{}", 2);
        json_decref(o);
    }
}

static void test_content_type_rejected(void **state)
{
    (void)state;
    static const char *const types[] = {
        "text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x",
        "application/jsonp", "application/json-patch+json", "application/problem+json",
        "application/xml", "text/json", "json", "", "application", "application/jso",
        "application/json,text/plain", "*/*"};
    for (size_t i = 0; i < ARRAY_LEN(types); i++)
        parse_err(contributor_fields, 2, types[i], "{}", 2, 415, "UNSUPPORTED_MEDIA_TYPE", NULL);
    /* no Content-Type at all with a body */
    parse_err(contributor_fields, 2, NULL, "{}", 2, 415, "UNSUPPORTED_MEDIA_TYPE", NULL);
    /* the media type is judged before the JSON: garbage with a wrong type is still 415 */
    parse_err(contributor_fields, 2, "text/plain", "not json", 8, 415, "UNSUPPORTED_MEDIA_TYPE", NULL);
}

/* SPEC.md: an empty body with no Content-Type is {}; required fields still apply to it. */
static void test_empty_body(void **state)
{
    (void)state;
    json_t *o = parse_ok(contributor_fields, 2, NULL, "", 0);
    assert_int_equal(json_object_size(o), 0);
    json_decref(o);
    o = parse_ok(contributor_fields, 2, CT, "", 0);
    json_decref(o);
    o = parse_ok(contributor_fields, 2, NULL, NULL, 0);
    json_decref(o);
    parse_err(submission_fields, 5, NULL, "", 0, 400, "VALIDATION_ERROR", "contributor_id");
}

/* ---- well-formedness ------------------------------------------------------------------- */

/* {"a":{"a":…{"a":"x"}…}} with `depth` objects in all. */
static char *nested_objects(int depth)
{
    size_t cap = (size_t)depth * 6 + 16, o = 0;
    char *s = malloc(cap);
    assert_non_null(s);
    for (int i = 0; i < depth; i++) {
        memcpy(s + o, i + 1 < depth ? "{\"a\":" : "{\"a\":\"x\"", i + 1 < depth ? 5 : 8);
        o += i + 1 < depth ? 5 : 8;
    }
    for (int i = 0; i < depth; i++)
        s[o++] = '}';
    s[o] = '\0';
    return s;
}

/* {"title":[[…[]…]]} with `depth` containers in all (the object included). */
static char *nested_arrays(int depth, char open, char close)
{
    size_t cap = (size_t)depth * 2 + 32, o = 0;
    char *s = malloc(cap);
    assert_non_null(s);
    o += (size_t)snprintf(s, cap, "{\"title\":");
    for (int i = 1; i < depth; i++)
        s[o++] = open;
    for (int i = 1; i < depth; i++)
        s[o++] = close;
    s[o++] = '}';
    s[o] = '\0';
    return s;
}

static void test_nesting_limit(void **state)
{
    (void)state;
    /* 64 levels parse (and then fail validation: "a" is unknown / title is not a string) */
    char *s = nested_objects(64);
    ERR_C(s, 400, "VALIDATION_ERROR", "a");
    free(s);
    s = nested_arrays(64, '[', ']');
    ERR_S(s, 400, "VALIDATION_ERROR", "title");
    free(s);
    /* 65 levels are malformed JSON */
    s = nested_objects(65);
    const char *d = ERR_C(s, 400, "BAD_REQUEST", NULL);
    assert_non_null(strstr(d, "64"));
    free(s);
    s = nested_arrays(65, '[', ']');
    ERR_S(s, 400, "BAD_REQUEST", NULL);
    free(s);
    /* very deep: rejected without building anything */
    s = nested_arrays(200000, '[', ']');
    ERR_S(s, 400, "BAD_REQUEST", NULL);
    free(s);
    /* deep but unbalanced (never closed) */
    s = nested_arrays(1000, '{', ' ');
    ERR_S(s, 400, "BAD_REQUEST", NULL);
    free(s);
    /* a top-level array 65 deep is malformed too, not merely "not an object" */
    char arr[200];
    memset(arr, '[', 65);
    memset(arr + 65, ']', 65);
    arr[130] = '\0';
    d = ERR_C(arr, 400, "BAD_REQUEST", NULL);
    assert_non_null(strstr(d, "64"));
}

/* Brackets inside strings are text, not nesting. */
static void test_brackets_in_strings_do_not_count(void **state)
{
    (void)state;
    char body[1024];
    char brackets[301];
    memset(brackets, '[', 150);
    memset(brackets + 150, '{', 150);
    brackets[300] = '\0';
    /* 150 '[' then 150 '{' inside one string: far beyond 64 if they counted */
    snprintf(body, sizeof body, "{\"display_name\":\"%.200s\"}", brackets);
    json_t *o = parse_ok(contributor_fields, 2, CT, body, strlen(body));
    assert_int_equal(strlen(body_string(o, "display_name")), 200);
    json_decref(o);
    /* an escaped quote does not end the string; an escaped backslash does not escape the quote */
    snprintf(body, sizeof body, "{\"display_name\":\"\\\"%.100s\",\"external_id\":\"\\\\\"}", brackets);
    o = parse_ok(contributor_fields, 2, CT, body, strlen(body));
    assert_string_equal(body_string(o, "external_id"), "\\");
    json_decref(o);
}

static void test_duplicate_keys(void **state)
{
    (void)state;
    ERR_C("{\"display_name\":\"a\",\"display_name\":\"b\"}", 400, "BAD_REQUEST", NULL);
    ERR_C("{\"display_name\":\"a\",\"display_name\":\"a\"}", 400, "BAD_REQUEST", NULL);
    ERR_C("{\"display_name\":null,\"display_name\":null}", 400, "BAD_REQUEST", NULL);
    /* the same key spelled with an escape is the same key */
    ERR_C("{\"display_name\":\"a\",\"display_n\\u0061me\":\"b\"}", 400, "BAD_REQUEST", NULL);
    /* duplicates of an unknown key are also malformed, not "unknown" */
    ERR_C("{\"zz\":1,\"zz\":1}", 400, "BAD_REQUEST", NULL);
}

static void test_invalid_utf8(void **state)
{
    (void)state;
    static const char *const bodies[] = {
        "{\"display_name\":\"\xff\"}",
        "{\"display_name\":\"abc\xc3\"}",             /* truncated 2-byte sequence */
        "{\"display_name\":\"\xc0\xaf\"}",            /* overlong '/' */
        "{\"display_name\":\"\xe0\x80\xaf\"}",        /* overlong, 3 bytes */
        "{\"display_name\":\"\xed\xa0\x80\"}",        /* UTF-16 surrogate in UTF-8 */
        "{\"display_name\":\"\xf4\x90\x80\x80\"}",    /* above U+10FFFF */
        "{\"display_name\":\"\x80\"}",                /* lone continuation byte */
        "{\"display_name\":\"\\ud800\"}",             /* lone surrogate escape */
        "{\"display_name\":\"\\udc00x\"}",
        "{\"\xff\":\"x\"}",                           /* in a key */
        "{\"display_name\":\"x\"}\xff",               /* after the object */
        "\xef\xbb\xbf{\"display_name\":\"x\"}",       /* a byte-order mark is not JSON */
        "{\"display_name\":\xff}",                    /* outside strings too */
        "{\"display_name\":1\xff}",
        "{\"display_name\":-\xe2\x82}",
        "{\xc3\xa9}",                                 /* valid UTF-8, quoted back in the error */
        "{\"display_name\" \xc3\xa9}",
    };
    for (size_t i = 0; i < ARRAY_LEN(bodies); i++)
        ERR_C(bodies[i], 400, "BAD_REQUEST", NULL);
}

/* The error text jansson gives quotes the input near the error; whatever it quotes, the error
 * response must still be valid UTF-8 JSON (take_body parses it strictly). A long multi-byte
 * token puts a character across jansson's 160-byte error-text limit. */
static void test_error_text_stays_valid_utf8(void **state)
{
    (void)state;
    char body[2048];
    for (int shift = 0; shift < 4; shift++) {
        size_t o = 0;
        o += (size_t)snprintf(body, sizeof body, "{\"display_name\":\"%.*s", shift, "xxx");
        for (int i = 0; i < 100; i++)
            o += (size_t)snprintf(body + o, sizeof body - o, "\xf0\x9f\x8e\xb8"); /* 🎸 */
        o += (size_t)snprintf(body + o, sizeof body - o, "\x01\"}"); /* control char: error */
        ERR_C(body, 400, "BAD_REQUEST", NULL);
    }
    for (int shift = 0; shift < 4; shift++) {
        size_t o = 0;
        o += (size_t)snprintf(body, sizeof body, "{\"display_name\":\"%.*s", shift, "xxx");
        for (int i = 0; i < 100; i++)
            o += (size_t)snprintf(body + o, sizeof body - o, "\xc3\xa9"); /* é */
        o += (size_t)snprintf(body + o, sizeof body - o, "\xff\"}"); /* invalid byte: error */
        ERR_C(body, 400, "BAD_REQUEST", NULL);
    }
}

static void test_malformed_json(void **state)
{
    (void)state;
    static const char *const bodies[] = {
        "{", "}", "{\"display_name\":}", "{\"display_name\":\"x\",}", "{\"display_name\" \"x\"}",
        "{'display_name':'x'}", "{display_name:\"x\"}", "{}x", "{}{}", "{} []",
        "{\"display_name\":\"\\u0000\"}", "{\"a\":NaN}",
        "{\"a\":Infinity}", "{\"a\":01}", "{\"display_name\":\"tab\there\"}",
        "{\"display_name\":\"\\x41\"}", "/* comment */{}", "{}// comment", "   ", "\n",
    };
    for (size_t i = 0; i < ARRAY_LEN(bodies); i++)
        ERR_C(bodies[i], 400, "BAD_REQUEST", NULL);
    /* a NUL byte inside the declared length (not via an escape) */
    parse_err(contributor_fields, 2, CT, "{\"display_name\":\"a\0b\"}", 22, 400, "BAD_REQUEST", NULL);
    parse_err(contributor_fields, 2, CT, "{}\0", 3, 400, "BAD_REQUEST", NULL);
}

static void test_non_object_bodies(void **state)
{
    (void)state;
    static const char *const bodies[] = {"[]", "[{}]", "\"display_name\"", "1", "-0.5", "null",
                                         "true", "false", "[{\"display_name\":\"x\"}]", " [] "};
    for (size_t i = 0; i < ARRAY_LEN(bodies); i++) {
        const char *d = ERR_C(bodies[i], 400, "BAD_REQUEST", NULL);
        assert_non_null(strstr(d, "object"));
    }
}

/* ---- fields ---------------------------------------------------------------------------- */

static void test_valid_bodies(void **state)
{
    (void)state;
    json_t *o = OK_C("{}");
    json_decref(o);
    o = OK_C(" {\"display_name\":\"Ana \xf0\x9f\x8e\xb8\",\"external_id\":null} ");
    assert_string_equal(body_string(o, "display_name"), "Ana \xf0\x9f\x8e\xb8");
    assert_null(body_string(o, "external_id"));
    assert_null(body_string(o, "absent"));
    json_decref(o);
    o = OK_S(GOOD_SUB "}");
    assert_string_equal(body_string(o, "contributor_id"), "ctr_x");
    assert_null(body_string(o, "title"));
    json_decref(o);
    o = OK_S(GOOD_SUB ",\"title\":null,\"notes\":null}");
    json_decref(o);
    o = OK_S(GOOD_SUB ",\"title\":\"\",\"notes\":\"\"}"); /* optional fields may be empty */
    assert_string_equal(body_string(o, "title"), "");
    json_decref(o);
    /* values round-trip exactly, surrounding whitespace included */
    o = OK_S("{\"contributor_id\":\"\",\"raw_youtube_input\":\"  dQw4w9WgXcQ \\n\","
             "\"raw_date_input\":\"\\t2024-05-12\"}");
    assert_string_equal(body_string(o, "raw_youtube_input"), "  dQw4w9WgXcQ \n");
    assert_string_equal(body_string(o, "raw_date_input"), "\t2024-05-12");
    assert_string_equal(body_string(o, "contributor_id"), ""); /* format is not judged here */
    json_decref(o);
}

static void test_unknown_fields(void **state)
{
    (void)state;
    ERR_C("{\"displayname\":\"x\"}", 400, "VALIDATION_ERROR", "displayname");
    ERR_C("{\"display_name\":\"x\",\"id\":\"ctr_1\"}", 400, "VALIDATION_ERROR", "id");
    ERR_C("{\"Display_Name\":\"x\"}", 400, "VALIDATION_ERROR", "Display_Name");
    ERR_C("{\"\":\"x\"}", 400, "VALIDATION_ERROR", "");
    ERR_S(GOOD_SUB ",\"extra\":1}", 400, "VALIDATION_ERROR", "extra");
    ERR_S(GOOD_SUB ",\"status\":\"accepted\"}", 400, "VALIDATION_ERROR", "status");
    /* submission-only fields are unknown to contributors and vice versa */
    ERR_C("{\"title\":\"x\"}", 400, "VALIDATION_ERROR", "title");
    ERR_S(GOOD_SUB ",\"display_name\":\"x\"}", 400, "VALIDATION_ERROR", "display_name");
    /* an unknown field with an escaped name is named decoded */
    ERR_C("{\"d\\u00e9j\\u00e0\":1}", 400, "VALIDATION_ERROR", "d\xc3\xa9j\xc3\xa0");
    ERR_C("{\"a\\nb\":1}", 400, "VALIDATION_ERROR", "a\nb");
}

/* A long unknown name is cut to 60 bytes on a code point boundary: still valid UTF-8. */
static void test_unknown_field_name_truncated(void **state)
{
    (void)state;
    char body[2048], want[128];
    for (int pre = 0; pre < 4; pre++) {
        size_t o = (size_t)snprintf(body, sizeof body, "{\"%.*s", pre, "xxx");
        for (int i = 0; i < 100; i++)
            o += (size_t)snprintf(body + o, sizeof body - o, "\xe2\x82\xac"); /* € */
        snprintf(body + o, sizeof body - o, "\":1}");
        /* expected: the prefix plus as many whole € as fit in 60 bytes */
        size_t w = (size_t)snprintf(want, sizeof want, "%.*s", pre, "xxx");
        while (w + 3 <= 60)
            w += (size_t)snprintf(want + w, sizeof want - w, "\xe2\x82\xac");
        const char *d = ERR_C(body, 400, "VALIDATION_ERROR", want);
        assert_true(strlen(d) < 200);
    }
}

static void test_missing_required(void **state)
{
    (void)state;
    ERR_S("{}", 400, "VALIDATION_ERROR", "contributor_id");
    ERR_S("{\"raw_youtube_input\":\"x\",\"raw_date_input\":\"y\"}", 400, "VALIDATION_ERROR",
          "contributor_id");
    ERR_S("{\"contributor_id\":\"c\",\"raw_date_input\":\"y\"}", 400, "VALIDATION_ERROR",
          "raw_youtube_input");
    ERR_S("{\"contributor_id\":\"c\",\"raw_youtube_input\":\"x\"}", 400, "VALIDATION_ERROR",
          "raw_date_input");
    ERR_S("{\"contributor_id\":\"c\",\"raw_youtube_input\":\"x\",\"title\":\"t\",\"notes\":\"n\"}",
          400, "VALIDATION_ERROR", "raw_date_input");
    const char *d = ERR_S("{\"contributor_id\":\"c\",\"raw_youtube_input\":\"x\"}", 400,
                          "VALIDATION_ERROR", "raw_date_input");
    assert_non_null(strstr(d, "raw_date_input"));
}

static void test_wrong_types(void **state)
{
    (void)state;
    static const char *const values[] = {"1", "0", "-1.5", "1e3", "true", "false", "[]",
                                         "[\"x\"]", "{}", "{\"a\":\"b\"}"};
    char body[512];
    for (size_t i = 0; i < ARRAY_LEN(values); i++) {
        snprintf(body, sizeof body, "{\"display_name\":%s}", values[i]);
        ERR_C(body, 400, "VALIDATION_ERROR", "display_name");
        snprintf(body, sizeof body, "{\"external_id\":%s}", values[i]);
        ERR_C(body, 400, "VALIDATION_ERROR", "external_id");
        snprintf(body, sizeof body, "%s,\"title\":%s}", GOOD_SUB, values[i]);
        ERR_S(body, 400, "VALIDATION_ERROR", "title");
        snprintf(body, sizeof body, "%s,\"notes\":%s}", GOOD_SUB, values[i]);
        ERR_S(body, 400, "VALIDATION_ERROR", "notes");
        snprintf(body, sizeof body,
                 "{\"contributor_id\":%s,\"raw_youtube_input\":\"x\",\"raw_date_input\":\"y\"}",
                 values[i]);
        ERR_S(body, 400, "VALIDATION_ERROR", "contributor_id");
    }
    /* null is fine where the field is string|null, and wrong where it is string */
    ERR_S("{\"contributor_id\":null,\"raw_youtube_input\":\"x\",\"raw_date_input\":\"y\"}", 400,
          "VALIDATION_ERROR", "contributor_id");
    ERR_S("{\"contributor_id\":\"c\",\"raw_youtube_input\":null,\"raw_date_input\":\"y\"}", 400,
          "VALIDATION_ERROR", "raw_youtube_input");
    ERR_S("{\"contributor_id\":\"c\",\"raw_youtube_input\":\"x\",\"raw_date_input\":null}", 400,
          "VALIDATION_ERROR", "raw_date_input");
    const char *d = ERR_C("{\"display_name\":5}", 400, "VALIDATION_ERROR", "display_name");
    assert_non_null(strstr(d, "display_name"));
}

/* Builds {"<field>":"<n × unit>"} (plus the required submission fields when `sub`). */
static char *long_field_body(bool sub, const char *field, const char *unit, size_t n)
{
    size_t ulen = strlen(unit), cap = n * ulen + 512, o = 0;
    char *s = malloc(cap);
    assert_non_null(s);
    if (sub && strcmp(field, "raw_youtube_input") == 0)
        o += (size_t)snprintf(s, cap, "{\"contributor_id\":\"c\",\"raw_date_input\":\"d\",\"%s\":\"", field);
    else if (sub && strcmp(field, "raw_date_input") == 0)
        o += (size_t)snprintf(s, cap, "{\"contributor_id\":\"c\",\"raw_youtube_input\":\"y\",\"%s\":\"", field);
    else if (sub)
        o += (size_t)snprintf(s, cap, "%s,\"%s\":\"", GOOD_SUB, field);
    else
        o += (size_t)snprintf(s, cap, "{\"%s\":\"", field);
    for (size_t i = 0; i < n; i++) {
        memcpy(s + o, unit, ulen);
        o += ulen;
    }
    snprintf(s + o, cap - o, "\"}");
    return s;
}

/* Limits count Unicode code points, not bytes and not UTF-16 units. */
static void test_length_limits_in_code_points(void **state)
{
    (void)state;
    static const struct {
        bool sub;
        const char *field;
        size_t max;
    } fields[] = {{false, "display_name", 200}, {false, "external_id", 200},
                  {true, "title", 500}, {true, "raw_youtube_input", 2048},
                  {true, "raw_date_input", 50}};
    static const char *const units[] = {"a", "\xc3\xa9" /* é */, "\xe2\x82\xac" /* € */,
                                        "\xf0\x9f\x8e\xb8" /* 🎸, two UTF-16 units */,
                                        "\\u00e9" /* é as an escape */, "\\ud83c\\udfb8"};
    for (size_t f = 0; f < ARRAY_LEN(fields); f++)
        for (size_t u = 0; u < ARRAY_LEN(units); u++) {
            const struct field_spec *specs = fields[f].sub ? submission_fields : contributor_fields;
            size_t n = fields[f].sub ? 5 : 2;
            char *at = long_field_body(fields[f].sub, fields[f].field, units[u], fields[f].max);
            json_t *o = parse_ok(specs, n, CT, at, strlen(at));
            json_decref(o);
            free(at);
            char *over = long_field_body(fields[f].sub, fields[f].field, units[u], fields[f].max + 1);
            const char *d = parse_err(specs, n, CT, over, strlen(over), 400, "VALIDATION_ERROR",
                                      fields[f].field);
            char num[16];
            snprintf(num, sizeof num, "%zu", fields[f].max);
            assert_non_null(strstr(d, num));
            free(over);
        }
    /* notes has no limit of its own */
    char *notes = long_field_body(true, "notes", "\xf0\x9f\x8e\xb8", 100000);
    json_t *o = OK_S(notes);
    json_decref(o);
    free(notes);
    /* combining characters are separate code points: e + U+0301, 101 times = 202 */
    char *comb = long_field_body(false, "display_name", "e\xcc\x81", 101);
    ERR_C(comb, 400, "VALIDATION_ERROR", "display_name");
    free(comb);
    comb = long_field_body(false, "display_name", "e\xcc\x81", 100);
    o = OK_C(comb);
    json_decref(o);
    free(comb);
}

static void test_blank_fields(void **state)
{
    (void)state;
    static const char *const blanks[] = {"", " ", "   ", "\\t", "\\n", "\\r\\n", " \\t \\n ",
                                         "\\f", "\\u000b"};
    char body[256];
    for (size_t i = 0; i < ARRAY_LEN(blanks); i++) {
        snprintf(body, sizeof body,
                 "{\"contributor_id\":\"c\",\"raw_youtube_input\":\"%s\",\"raw_date_input\":\"d\"}",
                 blanks[i]);
        const char *d = ERR_S(body, 400, "VALIDATION_ERROR", "raw_youtube_input");
        assert_non_null(strstr(d, "blank"));
        snprintf(body, sizeof body,
                 "{\"contributor_id\":\"c\",\"raw_youtube_input\":\"y\",\"raw_date_input\":\"%s\"}",
                 blanks[i]);
        ERR_S(body, 400, "VALIDATION_ERROR", "raw_date_input");
    }
    /* not blank: text with whitespace around it, and non-ASCII spaces are not trimmed */
    json_t *o = OK_S("{\"contributor_id\":\"c\",\"raw_youtube_input\":\" x \",\"raw_date_input\":\"\\u00a0\"}");
    json_decref(o);
    /* title and display_name may be blank */
    o = OK_S(GOOD_SUB ",\"title\":\"   \"}");
    json_decref(o);
    o = OK_C("{\"display_name\":\"  \"}");
    json_decref(o);
    /* a 2049-space raw_youtube_input: too long, whichever rule speaks first, it is a 400 */
    char *sp = long_field_body(true, "raw_youtube_input", " ", 2049);
    ERR_S(sp, 400, "VALIDATION_ERROR", "raw_youtube_input");
    free(sp);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_content_type_accepted),
        cmocka_unit_test(test_content_type_rejected),
        cmocka_unit_test(test_empty_body),
        cmocka_unit_test(test_nesting_limit),
        cmocka_unit_test(test_brackets_in_strings_do_not_count),
        cmocka_unit_test(test_duplicate_keys),
        cmocka_unit_test(test_invalid_utf8),
        cmocka_unit_test(test_error_text_stays_valid_utf8),
        cmocka_unit_test(test_malformed_json),
        cmocka_unit_test(test_non_object_bodies),
        cmocka_unit_test(test_valid_bodies),
        cmocka_unit_test(test_unknown_fields),
        cmocka_unit_test(test_unknown_field_name_truncated),
        cmocka_unit_test(test_missing_required),
        cmocka_unit_test(test_wrong_types),
        cmocka_unit_test(test_length_limits_in_code_points),
        cmocka_unit_test(test_blank_fields),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
