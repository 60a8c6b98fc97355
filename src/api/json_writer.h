/* A small streaming JSON writer for responses. jansson parses requests (it is strict and
 * well tested); responses are written directly into one buffer, because building a jansson
 * tree per row and dumping it was the largest cost of GET /clips in the profile
 * (docs/PERFORMANCE.md). Strings written here are valid UTF-8 already (they came through
 * jansson's validation or are ASCII), so only JSON escaping is needed. */
#ifndef TIMEWARP_JSON_WRITER_H
#define TIMEWARP_JSON_WRITER_H
#include <stdbool.h>
#include <stddef.h>

#define JW_MAX_DEPTH 8

struct jw {
    char *buf;
    size_t len, cap;
    bool failed;                 /* out of memory: the result is unusable */
    int depth;
    bool has_items[JW_MAX_DEPTH]; /* per open container: a comma is due before the next */
};

void jw_init(struct jw *w);
/* Hands over the buffer (NUL-terminated) and its length; NULL if writing failed. */
char *jw_finish(struct jw *w, size_t *len);
void jw_free(struct jw *w);

/* `key` is NULL inside arrays and at the top level. */
void jw_object_open(struct jw *w, const char *key);
void jw_object_close(struct jw *w);
void jw_array_open(struct jw *w, const char *key);
void jw_array_close(struct jw *w);
void jw_string(struct jw *w, const char *key, const char *value); /* NULL → null */
void jw_null(struct jw *w, const char *key);
void jw_int(struct jw *w, const char *key, long long value);
void jw_bool(struct jw *w, const char *key, bool value);
/* Appends JSON rendered before (a cached answer), as it is. */
void jw_raw(struct jw *w, const char *json, size_t n);
#endif
