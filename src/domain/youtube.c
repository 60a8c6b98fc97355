/* YouTube link parsing. Pure: no I/O, no allocation, bounded by the input length.
 * Only the forms SPEC.md lists are accepted; everything else is rejected with a reason,
 * because a curated archive prefers a clear "no" to a guess. */
#include "domain/youtube.h"
#include "domain/text.h"

#include <string.h>
#include <strings.h>

static bool is_id_char(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           c == '_' || c == '-';
}

static bool is_video_id(const char *s, size_t len)
{
    if (len != YOUTUBE_ID_LEN)
        return false;
    for (size_t i = 0; i < len; i++)
        if (!is_id_char(s[i]))
            return false;
    return true;
}

static bool copy_id(const char *s, size_t len, char id[YOUTUBE_ID_LEN + 1], const char **reason)
{
    if (!is_video_id(s, len)) {
        *reason = len == 0 ? "The YouTube link has no video id."
                           : "The YouTube video id must be exactly 11 characters from "
                             "A-Z, a-z, 0-9, '_' and '-'.";
        return false;
    }
    memcpy(id, s, YOUTUBE_ID_LEN);
    id[YOUTUBE_ID_LEN] = '\0';
    return true;
}

static bool span_equals(const char *s, size_t len, const char *lit)
{
    return strlen(lit) == len && strncasecmp(s, lit, len) == 0;
}

/* Finds the value of the first `v` parameter in a query string (without the '?'). */
static bool query_param_v(const char *q, size_t len, const char **val, size_t *val_len)
{
    size_t i = 0;
    while (i <= len) {
        size_t end = i;
        while (end < len && q[end] != '&')
            end++;
        if (end - i >= 2 && q[i] == 'v' && q[i + 1] == '=') {
            *val = q + i + 2;
            *val_len = end - i - 2;
            return true;
        }
        i = end + 1;
    }
    return false;
}

static const char *const path_prefixes[] = {"/shorts/", "/embed/", "/live/", "/v/"};

bool youtube_video_id(const char *input, size_t len, char id[YOUTUBE_ID_LEN + 1],
                      const char **reason)
{
    const char *s = input;
    text_trim(&s, &len);
    if (len == 0) {
        *reason = "The YouTube link is empty.";
        return false;
    }
    if (is_video_id(s, len))
        return copy_id(s, len, id, reason);

    /* Optional scheme. */
    if (len >= 8 && strncasecmp(s, "https://", 8) == 0) {
        s += 8; len -= 8;
    } else if (len >= 7 && strncasecmp(s, "http://", 7) == 0) {
        s += 7; len -= 7;
    } else if (memchr(s, ':', len) && memchr(s, '/', len) &&
               (const char *)memchr(s, ':', len) < (const char *)memchr(s, '/', len)) {
        *reason = "Only http and https YouTube links are accepted.";
        return false;
    }

    /* Split host | path | query, dropping the fragment. */
    const char *hash = memchr(s, '#', len);
    if (hash)
        len = (size_t)(hash - s);
    size_t host_len = 0;
    while (host_len < len && s[host_len] != '/' && s[host_len] != '?')
        host_len++;
    const char *path = s + host_len;
    size_t rest = len - host_len;
    const char *q = memchr(path, '?', rest);
    size_t path_len = q ? (size_t)(q - path) : rest;
    const char *query = q ? q + 1 : "";
    size_t query_len = q ? rest - path_len - 1 : 0;

    if (span_equals(s, host_len, "youtu.be")) {
        if (path_len < 1 || path[0] != '/') {
            *reason = "The youtu.be link has no video id.";
            return false;
        }
        return copy_id(path + 1, path_len - 1, id, reason);
    }
    if (!(span_equals(s, host_len, "youtube.com") || span_equals(s, host_len, "www.youtube.com") ||
          span_equals(s, host_len, "m.youtube.com") ||
          span_equals(s, host_len, "music.youtube.com") ||
          span_equals(s, host_len, "www.youtube-nocookie.com"))) {
        *reason = "This is not a YouTube link: give a youtube.com or youtu.be URL, or an "
                  "11-character video id.";
        return false;
    }
    if (span_equals(path, path_len, "/watch")) {
        const char *v;
        size_t v_len;
        if (!query_param_v(query, query_len, &v, &v_len)) {
            *reason = "The YouTube watch link has no 'v' parameter.";
            return false;
        }
        return copy_id(v, v_len, id, reason);
    }
    for (size_t i = 0; i < sizeof path_prefixes / sizeof *path_prefixes; i++) {
        size_t plen = strlen(path_prefixes[i]);
        if (path_len >= plen && memcmp(path, path_prefixes[i], plen) == 0)
            return copy_id(path + plen, path_len - plen, id, reason);
    }
    *reason = "This YouTube link does not point to a video (expected /watch?v=, /shorts/, "
              "/embed/, /live/ or /v/).";
    return false;
}
