/* libFuzzer target: request-body validation (src/api/body.c, on top of jansson).
 * The first input byte picks the field set (POST /contributors, POST /submissions, or a
 * mixed one) and the Content-Type; the rest is the body. Checked besides "no crash, no
 * leak, no UB":
 *  - a rejection is a 400 or 415 whose JSON body has SPEC.md's error shape and is valid
 *    UTF-8 (error messages echo field names, cut to a length);
 *  - 415 only for a non-empty body whose Content-Type is not application/json;
 *  - an accepted body is an object whose keys are all known, with every required field
 *    present, values of the declared type, within the code-point limits, not blank where
 *    that is required, and with no NUL inside any string (the handlers use C strings). */
#include "api/body.h"

#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

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

/* The handlers' own field sets (api/body.h), and one that mixes every kind of rule. */
static const struct field_spec mixed[] = {
    {"a", FIELD_STRING, true, 3, true},
    {"b", FIELD_STRING_OR_NULL, false, 1, false},
    {"\xc3\xa9t\xc3\xa9", FIELD_STRING, false, 0, true},
};
static const struct {
    const struct field_spec *specs;
    size_t n;
} sets[] = {{contributor_fields, CONTRIBUTOR_FIELD_COUNT}, {submission_fields, SUBMISSION_FIELD_COUNT}, {mixed, 3}};

static const char *const content_types[] = {
    "application/json", "application/json; charset=utf-8", "APPLICATION/JSON;charset=UTF-8",
    NULL, "text/plain", "application/jsonx", "application/json-patch+json", "",
};

static int is_ws(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

static size_t codepoints(const char *s, size_t len)
{
    size_t n = 0;
    for (size_t i = 0; i < len; i++)
        if (((unsigned char)s[i] & 0xC0) != 0x80)
            n++;
    return n;
}

static void check_error_body(struct response *res)
{
    size_t len = 0;
    char *text = jw_finish(&res->body, &len);
    CHECK(text != NULL, "error body could not be rendered");
    CHECK(strlen(text) == len, "error body has an embedded NUL");
    json_error_t err;
    json_t *j = json_loadb(text, len, JSON_REJECT_DUPLICATES, &err); /* also checks UTF-8 */
    CHECK(j != NULL, "error body is not valid JSON (%s): %s", err.text, text);
    json_t *detail = json_object_get(j, "detail"), *e = json_object_get(j, "error");
    CHECK(json_is_string(detail) && json_string_length(detail) > 0, "no detail: %s", text);
    CHECK(json_is_object(e), "no error object: %s", text);
    json_t *code = json_object_get(e, "code"), *msg = json_object_get(e, "message"),
           *details = json_object_get(e, "details");
    CHECK(json_is_string(code) && json_string_length(code) > 0, "no error.code: %s", text);
    CHECK(json_is_string(msg) && json_equal(msg, detail), "error.message differs from detail: %s", text);
    CHECK(json_is_object(details), "error.details is not an object: %s", text);
    json_t *field = json_object_get(details, "field");
    CHECK(field == NULL || json_is_string(field), "details.field is not a string: %s", text);
    const char *c = json_string_value(code);
    if (res->status == 415)
        CHECK(strcmp(c, "UNSUPPORTED_MEDIA_TYPE") == 0, "415 with code %s", c);
    else
        CHECK(strcmp(c, "BAD_REQUEST") == 0 || strcmp(c, "VALIDATION_ERROR") == 0,
              "400 with code %s", c);
    json_decref(j);
    free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    unsigned sel = data[0];
    const struct field_spec *specs = sets[sel % 3].specs;
    size_t nspecs = sets[sel % 3].n;
    const char *ct = content_types[(sel / 3) % (sizeof content_types / sizeof *content_types)];
    data++;
    size--;
    /* The server hands the handler a NUL-terminated copy of exactly `size` bytes. */
    char *body = malloc(size + 1);
    if (!body)
        return 0;
    memcpy(body, data, size);
    body[size] = '\0';

    struct response res;
    memset(&res, 0, sizeof res);
    json_t *obj = body_parse(ct, size ? body : NULL, size, specs, nspecs, &res);

    if (!obj) {
        CHECK(res.status == 400 || res.status == 415, "rejected with status %d", res.status);
        if (res.status == 415) {
            bool json_ct = ct && (strncasecmp(ct, "application/json", 16) == 0) &&
                           (ct[16] == '\0' || ct[16] == ';' || ct[16] == ' ');
            CHECK(size > 0 && !json_ct, "415 for Content-Type '%s' and %zu bytes", ct ? ct : "(none)", size);
        }
        check_error_body(&res);
        free(body);
        return 0;
    }

    CHECK(res.status == 0, "accepted but a status %d was set", res.status);
    jw_free(&res.body);
    CHECK(json_is_object(obj), "accepted a non-object");
    const char *key;
    json_t *v;
    json_object_foreach(obj, key, v) {
        const struct field_spec *f = NULL;
        for (size_t i = 0; i < nspecs; i++)
            if (strcmp(specs[i].name, key) == 0)
                f = &specs[i];
        CHECK(f != NULL, "unknown field '%s' accepted", key);
        if (json_is_null(v)) {
            CHECK(f->kind == FIELD_STRING_OR_NULL, "null accepted for '%s'", key);
            continue;
        }
        CHECK(json_is_string(v), "non-string accepted for '%s'", key);
        const char *s = json_string_value(v);
        size_t len = json_string_length(v);
        CHECK(strlen(s) == len, "'%s' holds a NUL byte", key);
        if (f->max_codepoints)
            CHECK(codepoints(s, len) <= f->max_codepoints, "'%s' too long", key);
        if (f->not_blank) {
            size_t i = 0;
            while (i < len && is_ws(s[i]))
                i++;
            CHECK(i < len, "blank '%s' accepted", key);
        }
        CHECK(body_string(obj, key) == s, "body_string('%s') disagrees", key);
    }
    for (size_t i = 0; i < nspecs; i++)
        if (specs[i].required)
            CHECK(json_object_get(obj, specs[i].name) != NULL, "required '%s' missing", specs[i].name);
    if (size > 0) {
        bool json_ct = ct && strncasecmp(ct, "application/json", 16) == 0;
        CHECK(json_ct, "a body with Content-Type '%s' was accepted", ct ? ct : "(none)");
    }
    json_decref(obj);
    free(body);
    return 0;
}
