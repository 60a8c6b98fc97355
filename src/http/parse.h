/* The strict HTTP/1.1 request parser (SPEC.md, "The HTTP edge"): the request line, the header
 * fields, the body's framing and chunked decoding. Pure functions over bytes, no I/O, so the
 * unit tests and a fuzz target drive them directly.
 *
 * Anything a request could be read two ways is refused, never guessed at: a control byte in
 * the request line or a header (a tab inside a value excepted), obs-fold, whitespace before a
 * colon, bare LF line endings, Content-Length together with Transfer-Encoding, differing
 * Content-Lengths, any transfer coding but `chunked`. */
#ifndef TIMEWARP_HTTP_PARSE_H
#define TIMEWARP_HTTP_PARSE_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HTTP_MAX_LINE 8192     /* request line; longer → 414 */
#define HTTP_MAX_HEAD 16384    /* request line + headers; longer → 431 */
#define HTTP_MAX_HEADERS 64    /* more → 431 */
#define HTTP_MAX_CHUNK_LINE 1024 /* a chunk-size line with its extensions; longer → 400 */
#define HTTP_MAX_TRAILER 8192  /* all trailer fields of a chunked body; longer → 431 */

struct http_span {
    const char *p;
    size_t n;
};

struct http_header {
    struct http_span name, value; /* value without surrounding whitespace */
};

struct http_head {
    struct http_span method, target;
    int minor;                    /* HTTP/1.<minor>: 0 or 1 */
    struct http_header headers[HTTP_MAX_HEADERS];
    int nheaders;
    size_t length;                /* bytes of the head, final CRLF included */
};

/* Why a request is refused: the status and a message for the client (no request bytes in it). */
struct http_error {
    int status;
    const char *message;
};

enum http_result { HTTP_INCOMPLETE, HTTP_COMPLETE, HTTP_INVALID };

/* Parses the head at the start of buf[0..len). Leading empty lines are skipped (RFC 9112
 * §2.2). HTTP_INCOMPLETE: more bytes are needed (and allowed within the limits). */
enum http_result http_parse_head(const char *buf, size_t len, struct http_head *h,
                                 struct http_error *err);

/* The first header called `name` (case-insensitive), or NULL; *count gets how many there are. */
const struct http_span *http_header_find(const struct http_head *h, const char *name, int *count);
bool http_span_eq(struct http_span s, const char *text); /* case-insensitive */

enum http_body_kind { HTTP_BODY_NONE, HTTP_BODY_LENGTH, HTTP_BODY_CHUNKED };

struct http_framing {
    enum http_body_kind kind;
    uint64_t length;           /* HTTP_BODY_LENGTH */
    bool too_large;            /* the declared length exceeds max_body: 413 at once */
    bool keep_alive;           /* the client allows another request on this connection */
    bool expect_continue;      /* Expect: 100-continue */
};

/* How the body is framed and whether the connection may be reused. False (with err) when the
 * framing is ambiguous or invalid: answer err and close. */
bool http_framing(const struct http_head *h, uint64_t max_body, struct http_framing *f,
                  struct http_error *err);

/* The value of a hexadecimal digit, or -1. */
int http_hex_value(char c);

/* Incremental chunked decoder. */
struct http_chunked {
    int state;
    uint64_t remaining;        /* data bytes left in the current chunk */
    size_t line;               /* bytes of the current size/trailer line so far */
    size_t trailer;            /* bytes of trailer fields so far */
    bool done;
};

/* Decodes in[0..*in_len): data bytes go to out (at most out_cap; *out_len set), *in_len is set
 * to the bytes consumed. Returns false with err on a malformed body. Stops consuming when out
 * is full, so the caller can grow its buffer (or answer 413) and call again. */
bool http_chunked_decode(struct http_chunked *c, const char *in, size_t *in_len, char *out,
                         size_t out_cap, size_t *out_len, struct http_error *err);
#endif
