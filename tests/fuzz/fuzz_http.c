/* libFuzzer target: the strict HTTP request parser (src/http/parse.c).
 * Checks, besides "no crash, no UB": a head accepted as complete has a token method, a
 * target starting with '/' of visible ASCII only, header names of token characters and
 * values without control bytes (a tab excepted), and ends with CRLF CRLF within the input;
 * a refused head has a 4xx/505 status and a message; the framing of an accepted head never
 * has both a length and chunked; and a chunked body decodes to the same bytes whether it
 * arrives whole or byte by byte, into a small or a large buffer. */
#include "http/parse.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

static int tchar(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c && strchr("!#$%&'*+-.^_`|~", c));
}

/* Decodes in[0..n) feeding `step` bytes at a time into a buffer of `cap`, growing it. */
static int decode(const char *in, size_t n, size_t step, size_t cap, char **out, size_t *out_len)
{
    struct http_chunked c = {0};
    struct http_error err;
    char *buf = malloc(cap);
    size_t len = 0, pos = 0;
    while (pos < n && !c.done) {
        size_t avail = n - pos < step ? n - pos : step, used = avail, got = 0;
        if (len == cap) {
            cap *= 2;
            buf = realloc(buf, cap);
        }
        if (!http_chunked_decode(&c, in + pos, &used, buf + len, cap - len, &got, &err)) {
            free(buf);
            return -1;
        }
        CHECK(used <= avail && got <= cap - len, "consumed %zu of %zu, wrote %zu", used, avail, got);
        pos += used;
        len += got;
        if (used == 0 && got == 0 && len < cap) {
            if (avail == n - pos)
                break; /* needs more input than there is */
            step++;
        }
    }
    *out = buf;
    *out_len = len;
    return c.done ? 1 : 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *in = malloc(size ? size : 1); /* an exact-size copy, so ASan sees any over-read */
    if (!in)
        return 0;
    memcpy(in, data, size);
    struct http_head h;
    struct http_error err = {0, NULL};
    enum http_result r = http_parse_head(in, size, &h, &err);
    if (r == HTTP_INVALID) {
        CHECK((err.status >= 400 && err.status < 500) || err.status == 505, "status %d", err.status);
        CHECK(err.message && err.message[0], "no message");
    } else if (r == HTTP_COMPLETE) {
        CHECK(h.length >= 4 && h.length <= size && memcmp(in + h.length - 4, "\r\n\r\n", 4) == 0,
              "head length %zu of %zu", h.length, size);
        CHECK(h.method.n > 0, "empty method");
        for (size_t i = 0; i < h.method.n; i++)
            CHECK(tchar((unsigned char)h.method.p[i]), "method byte %02x", (unsigned char)h.method.p[i]);
        CHECK(h.target.n > 0 && h.target.p[0] == '/', "target");
        for (size_t i = 0; i < h.target.n; i++) {
            unsigned char c = (unsigned char)h.target.p[i];
            CHECK(c > 0x20 && c < 0x7f, "target byte %02x", c);
        }
        for (int k = 0; k < h.nheaders; k++) {
            for (size_t i = 0; i < h.headers[k].name.n; i++)
                CHECK(tchar((unsigned char)h.headers[k].name.p[i]), "header name byte");
            for (size_t i = 0; i < h.headers[k].value.n; i++) {
                unsigned char c = (unsigned char)h.headers[k].value.p[i];
                CHECK((c >= 0x20 && c != 0x7f) || c == '\t', "header value byte %02x", c);
            }
        }
        struct http_framing f;
        if (http_framing(&h, 1 << 20, &f, &err)) {
            CHECK(!(f.kind == HTTP_BODY_LENGTH && http_header_find(&h, "Transfer-Encoding", NULL)),
                  "a length and a transfer coding");
            if (f.kind == HTTP_BODY_CHUNKED) {
                const char *body = in + h.length;
                size_t n = size - h.length;
                char *whole = NULL, *bytewise = NULL;
                size_t wl = 0, bl = 0;
                int a = decode(body, n, n ? n : 1, 1 << 16, &whole, &wl);
                int b = decode(body, n, 1, 1, &bytewise, &bl);
                CHECK(a == b, "whole %d, byte by byte %d", a, b);
                if (a >= 0)
                    CHECK(wl == bl && memcmp(whole, bytewise, wl) == 0, "different bytes (%zu vs %zu)", wl, bl);
                free(whole);
                free(bytewise);
            }
        } else {
            CHECK(err.status == 400, "framing refused with %d", err.status);
        }
    }
    free(in);
    return 0;
}
