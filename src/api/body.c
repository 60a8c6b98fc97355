/* Request-body validation. */
#include "api/body.h"
#include "domain/text.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

bool body_is_json_content_type(const char *ct)
{
    size_t n = strlen("application/json");
    if (strncasecmp(ct, "application/json", n) != 0)
        return false;
    ct += n;
    while (*ct == ' ' || *ct == '\t')
        ct++;
    return *ct == '\0' || *ct == ';'; /* parameters such as charset are fine */
}

/* jansson's own depth limit is 2048; SPEC.md allows 64. Counted before parsing so a
 * hostile body never builds a deep tree. */
static bool nesting_within(const char *s, size_t len, int max)
{
    int depth = 0;
    bool in_string = false;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (in_string) {
            if (c == '\\')
                i++;
            else if (c == '"')
                in_string = false;
        } else if (c == '"') {
            in_string = true;
        } else if (c == '{' || c == '[') {
            if (++depth > max)
                return false;
        } else if (c == '}' || c == ']') {
            depth--;
        }
    }
    return true;
}

static bool all_whitespace(const char *s, size_t len)
{
    text_trim(&s, &len);
    return len == 0;
}

static const struct field_spec *find_spec(const struct field_spec *specs, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(specs[i].name, name) == 0)
            return &specs[i];
    return NULL;
}

bool body_field_valid(const struct field_spec *f, json_t *v, char *msg, size_t msg_len)
{
    if (json_is_null(v) && f->kind == FIELD_STRING_OR_NULL)
        return true;
    if (!json_is_string(v)) {
        snprintf(msg, msg_len, "Field '%s' must be a string%s.", f->name,
                 f->kind == FIELD_STRING_OR_NULL ? " or null" : "");
        return false;
    }
    const char *s = json_string_value(v);
    size_t len = json_string_length(v);
    if (f->max_codepoints && text_codepoints(s, len) > f->max_codepoints) {
        snprintf(msg, msg_len, "Field '%s' must be at most %zu characters.", f->name,
                 f->max_codepoints);
        return false;
    }
    if (f->not_blank && all_whitespace(s, len)) {
        snprintf(msg, msg_len, "Field '%s' must not be blank.", f->name);
        return false;
    }
    return true;
}

/* Checks one present field; returns false with `res` filled on a violation. */
static bool check_field(const struct field_spec *f, json_t *v, struct response *res)
{
    char msg[160];
    if (body_field_valid(f, v, msg, sizeof msg))
        return true;
    api_error(res, 400, "VALIDATION_ERROR", msg, f->name);
    return false;
}

json_t *body_parse(const char *content_type, const char *body, size_t len,
                   const struct field_spec *specs, size_t nspecs, struct response *res)
{
    char msg[300];
    json_t *obj;
    if (len == 0) {
        obj = json_object(); /* no body at all reads as {}: required fields still apply */
    } else {
        if (!content_type || !body_is_json_content_type(content_type)) {
            api_error(res, 415, "UNSUPPORTED_MEDIA_TYPE",
                      "Unsupported media type: send the body as Content-Type: application/json.", NULL);
            return NULL;
        }
        if (!nesting_within(body, len, BODY_MAX_DEPTH)) {
            api_error(res, 400, "BAD_REQUEST", "Malformed JSON: nesting deeper than 64 levels.", NULL);
            return NULL;
        }
        json_error_t err;
        obj = json_loadb(body, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &err);
        if (!obj) {
            /* jansson names its own flag for \u0000; say what is wrong instead. */
            const char *why = strstr(err.text, "JSON_ALLOW_NUL") ? "\\u0000 is not allowed in strings"
                                                                 : err.text;
            snprintf(msg, sizeof msg, "Malformed JSON: %s (line %d, column %d).", why, err.line,
                     err.column);
            api_error(res, 400, "BAD_REQUEST", msg, NULL);
            return NULL;
        }
        if (!json_is_object(obj)) {
            json_decref(obj);
            api_error(res, 400, "BAD_REQUEST", "The request body must be a JSON object.", NULL);
            return NULL;
        }
    }
    const char *key;
    json_t *value;
    json_object_foreach(obj, key, value) {
        const struct field_spec *f = find_spec(specs, nspecs, key);
        if (!f) {
            /* Echo at most 60 bytes of the name, cut on a code point boundary. */
            char field[64];
            size_t n = strlen(key);
            if (n > 60)
                for (n = 60; n > 0 && ((unsigned char)key[n] & 0xC0) == 0x80; n--)
                    ;
            snprintf(field, sizeof field, "%.*s", (int)n, key);
            snprintf(msg, sizeof msg, "Unknown field '%s'.", field);
            api_error(res, 400, "VALIDATION_ERROR", msg, field);
            json_decref(obj);
            return NULL;
        }
        if (!check_field(f, value, res)) {
            json_decref(obj);
            return NULL;
        }
    }
    for (size_t i = 0; i < nspecs; i++) {
        if (specs[i].required && !json_object_get(obj, specs[i].name)) {
            snprintf(msg, sizeof msg, "Field '%s' is required.", specs[i].name);
            api_error(res, 400, "VALIDATION_ERROR", msg, specs[i].name);
            json_decref(obj);
            return NULL;
        }
    }
    return obj;
}

const char *body_string(json_t *obj, const char *name)
{
    return json_string_value(json_object_get(obj, name)); /* NULL for null or absent */
}
