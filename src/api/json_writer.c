/* Streaming JSON writer (see json_writer.h for why it exists). */
#include "api/json_writer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void jw_init(struct jw *w)
{
    memset(w, 0, sizeof *w);
}

static bool reserve(struct jw *w, size_t more)
{
    if (w->failed)
        return false;
    if (w->len + more + 1 <= w->cap)
        return true;
    size_t cap = w->cap ? w->cap : 512;
    while (cap < w->len + more + 1)
        cap *= 2;
    char *grown = realloc(w->buf, cap);
    if (!grown) {
        w->failed = true;
        return false;
    }
    w->buf = grown;
    w->cap = cap;
    return true;
}

static void put(struct jw *w, const char *s, size_t n)
{
    if (!reserve(w, n))
        return;
    memcpy(w->buf + w->len, s, n);
    w->len += n;
    w->buf[w->len] = '\0';
}

void jw_raw(struct jw *w, const char *json, size_t n) { put(w, json, n); }

/* Length of the well-formed UTF-8 sequence at p (RFC 3629: no overlongs, no surrogates,
 * nothing above U+10FFFF), or 0. */
static size_t utf8_sequence_length(const unsigned char *p)
{
    unsigned char c = p[0];
    size_t n = c >= 0xF0 && c <= 0xF4 ? 4 : c >= 0xE0 ? 3 : c >= 0xC2 && c <= 0xDF ? 2 : 0;
    if (n == 3 && c > 0xEF)
        n = 0;
    for (size_t i = 1; i < n; i++)
        if ((p[i] & 0xC0) != 0x80)
            return 0;
    if ((c == 0xE0 && p[1] < 0xA0) || (c == 0xED && p[1] > 0x9F) || (c == 0xF0 && p[1] < 0x90) ||
        (c == 0xF4 && p[1] > 0x8F))
        return 0;
    return n;
}

static void put_quoted(struct jw *w, const char *s)
{
    static const char hex[] = "0123456789abcdef";
    size_t n = strlen(s);
    if (!reserve(w, 6 * n + 2)) /* worst case: every byte becomes \u00XX */
        return;
    char *o = w->buf + w->len;
    *o++ = '"';
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        /* Copy the run of plain ASCII that needs no escaping in one go. */
        const unsigned char *run = p;
        while (*p >= 0x20 && *p < 0x80 && *p != '"' && *p != '\\')
            p++;
        memcpy(o, run, (size_t)(p - run));
        o += p - run;
        if (!*p)
            break;
        if (*p >= 0x80) {
            /* Multi-byte UTF-8 is copied when well-formed; anything else (say, an error text
             * cut mid-character) becomes U+FFFD, so the body is always valid JSON text. */
            size_t seq = utf8_sequence_length(p);
            if (seq) {
                memcpy(o, p, seq);
                o += seq;
                p += seq - 1;
            } else {
                memcpy(o, "\\ufffd", 6);
                o += 6;
            }
            continue;
        }
        unsigned char c = *p;
        *o++ = '\\';
        switch (c) {
        case '"': *o++ = '"'; break;
        case '\\': *o++ = '\\'; break;
        case '\n': *o++ = 'n'; break;
        case '\r': *o++ = 'r'; break;
        case '\t': *o++ = 't'; break;
        case '\b': *o++ = 'b'; break;
        case '\f': *o++ = 'f'; break;
        default:
            memcpy(o, "u00", 3);
            o[3] = hex[c >> 4];
            o[4] = hex[c & 15];
            o += 5;
        }
    }
    *o++ = '"';
    *o = '\0';
    w->len = (size_t)(o - w->buf);
}

/* The separator and key that precede every value. */
static void begin_value(struct jw *w, const char *key)
{
    if (w->depth > 0) {
        if (w->has_items[w->depth - 1])
            put(w, ",", 1);
        w->has_items[w->depth - 1] = true;
    }
    if (key) {
        put_quoted(w, key);
        put(w, ":", 1);
    }
}

static void open_container(struct jw *w, const char *key, char bracket)
{
    begin_value(w, key);
    put(w, &bracket, 1);
    if (w->depth >= JW_MAX_DEPTH) {
        w->failed = true; /* a programming error, not an input problem */
        return;
    }
    w->has_items[w->depth++] = false;
}

static void close_container(struct jw *w, char bracket)
{
    if (w->depth > 0)
        w->depth--;
    put(w, &bracket, 1);
}

void jw_object_open(struct jw *w, const char *key) { open_container(w, key, '{'); }
void jw_object_close(struct jw *w) { close_container(w, '}'); }
void jw_array_open(struct jw *w, const char *key) { open_container(w, key, '['); }
void jw_array_close(struct jw *w) { close_container(w, ']'); }

void jw_string(struct jw *w, const char *key, const char *value)
{
    begin_value(w, key);
    if (value)
        put_quoted(w, value);
    else
        put(w, "null", 4);
}

void jw_null(struct jw *w, const char *key) { jw_string(w, key, NULL); }

void jw_int(struct jw *w, const char *key, long long value)
{
    char digits[24];
    int n = snprintf(digits, sizeof digits, "%lld", value);
    begin_value(w, key);
    put(w, digits, (size_t)n);
}

void jw_bool(struct jw *w, const char *key, bool value)
{
    begin_value(w, key);
    put(w, value ? "true" : "false", value ? 4 : 5);
}

char *jw_finish(struct jw *w, size_t *len)
{
    if (w->failed || w->depth != 0) {
        jw_free(w);
        return NULL;
    }
    char *out = w->buf;
    *len = w->len;
    w->buf = NULL;
    return out;
}

void jw_free(struct jw *w)
{
    free(w->buf);
    w->buf = NULL;
    w->len = w->cap = 0;
}
