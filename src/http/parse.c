/* The strict request parser (see parse.h for the rules it enforces). */
#include "http/parse.h"

#include <string.h>
#include <strings.h>

static const struct http_error
    E_LINE = {400, "Malformed request line."},
    E_VERSION = {505, "HTTP version not supported."},
    E_TARGET = {400, "Malformed request target: it must start with '/' and hold only visible ASCII."},
    E_HEADER = {400, "Malformed header field."},
    E_CONTROL = {400, "A control character in a header field is not allowed."},
    E_FOLD = {400, "Folded header lines (obs-fold) are not allowed."},
    E_BARE_LF = {400, "Lines must end with CRLF."},
    E_URI_LONG = {414, "Request target is too long."},
    E_HEAD_LARGE = {431, "Request header fields are too large."},
    E_TOO_MANY = {431, "Too many header fields."},
    E_CL = {400, "Invalid Content-Length."},
    E_CL_DIFFER = {400, "Several Content-Length fields with differing values."},
    E_CL_TE = {400, "Content-Length together with Transfer-Encoding is ambiguous."},
    E_TE = {400, "Unsupported Transfer-Encoding: only 'chunked' is accepted."},
    E_TE_10 = {400, "Transfer-Encoding is not allowed in HTTP/1.0."},
    E_HOST = {400, "An HTTP/1.1 request needs exactly one Host header field."},
    E_CHUNK = {400, "Malformed chunked body."},
    E_CHUNK_LINE = {400, "Chunk-size line is too long."},
    E_TRAILER = {431, "Chunked trailer fields are too large."};

static bool is_tchar(unsigned char c)
{
    /* RFC 9110 token characters. */
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c && strchr("!#$%&'*+-.^_`|~", c));
}

static bool fail(struct http_error *err, const struct http_error *e)
{
    *err = *e;
    return false;
}

/* Finds the end of the line starting at p; *eol at its CR. Returns HTTP_INCOMPLETE,
 * HTTP_COMPLETE or HTTP_INVALID (a bare LF or a CR not followed by LF). */
static enum http_result line_end(const char *p, const char *end, const char **eol,
                                 struct http_error *err)
{
    for (const char *q = p; q < end; q++) {
        if (*q == '\n')
            return fail(err, &E_BARE_LF), HTTP_INVALID;
        if (*q == '\r') {
            if (q + 1 == end)
                return HTTP_INCOMPLETE;
            if (q[1] != '\n')
                return fail(err, &E_CONTROL), HTTP_INVALID;
            *eol = q;
            return HTTP_COMPLETE;
        }
    }
    return HTTP_INCOMPLETE;
}

static bool parse_request_line(const char *p, const char *eol, struct http_head *h,
                               struct http_error *err)
{
    const char *m = p;
    while (p < eol && is_tchar((unsigned char)*p))
        p++;
    if (p == m || p - m > 16 || p == eol || *p != ' ')
        return fail(err, &E_LINE);
    h->method = (struct http_span){m, (size_t)(p - m)};
    const char *t = ++p;
    while (p < eol && *p != ' ') {
        unsigned char c = (unsigned char)*p;
        if (c <= 0x20 || c >= 0x7f)
            return fail(err, c < 0x20 || c == 0x7f ? &E_CONTROL : &E_TARGET);
        p++;
    }
    if (p == t || p == eol)
        return fail(err, &E_LINE); /* no target, or HTTP/0.9 (no version) */
    if (*t != '/')
        return fail(err, &E_TARGET);
    h->target = (struct http_span){t, (size_t)(p - t)};
    p++;
    if (eol - p != 8 || memcmp(p, "HTTP/", 5) != 0 || p[6] != '.' || p[5] < '0' || p[5] > '9' ||
        p[7] < '0' || p[7] > '9')
        return fail(err, &E_LINE);
    if (p[5] != '1')
        return fail(err, &E_VERSION);
    h->minor = p[7] == '0' ? 0 : 1; /* a later 1.x is answered as 1.1 (RFC 9110 §2.5) */
    return true;
}

static bool parse_field(const char *p, const char *eol, struct http_head *h, struct http_error *err)
{
    if (*p == ' ' || *p == '\t')
        return fail(err, &E_FOLD);
    const char *n = p;
    while (p < eol && is_tchar((unsigned char)*p))
        p++;
    if (p == n || p == eol || *p != ':')
        return fail(err, memchr(n, 0, (size_t)(eol - n)) ? &E_CONTROL : &E_HEADER);
    if (h->nheaders == HTTP_MAX_HEADERS)
        return fail(err, &E_TOO_MANY);
    struct http_header *f = &h->headers[h->nheaders++];
    f->name = (struct http_span){n, (size_t)(p - n)};
    p++;
    for (const char *q = p; q < eol; q++) {
        unsigned char c = (unsigned char)*q;
        if ((c < 0x20 && c != '\t') || c == 0x7f)
            return fail(err, &E_CONTROL);
    }
    while (p < eol && (*p == ' ' || *p == '\t'))
        p++;
    const char *e = eol;
    while (e > p && (e[-1] == ' ' || e[-1] == '\t'))
        e--;
    f->value = (struct http_span){p, (size_t)(e - p)};
    return true;
}

enum http_result http_parse_head(const char *buf, size_t len, struct http_head *h,
                                 struct http_error *err)
{
    const char *p = buf, *end = buf + len, *eol = NULL;
    memset(h, 0, sizeof *h);
    while (end - p >= 2 && p[0] == '\r' && p[1] == '\n')
        p += 2;
    enum http_result r = line_end(p, end, &eol, err);
    if (r == HTTP_INVALID) {
        /* A control byte in the request line reads better as what it is. */
        return r;
    }
    if (r == HTTP_INCOMPLETE) {
        if ((size_t)(end - p) > HTTP_MAX_LINE)
            return fail(err, &E_URI_LONG), HTTP_INVALID;
        /* Reject garbage early rather than waiting for a line end that may never come. */
        for (const char *q = p; q < end; q++)
            if ((unsigned char)*q < 0x20 && *q != '\r')
                return fail(err, &E_CONTROL), HTTP_INVALID;
        return HTTP_INCOMPLETE;
    }
    if ((size_t)(eol - p) > HTTP_MAX_LINE)
        return fail(err, &E_URI_LONG), HTTP_INVALID;
    if (!parse_request_line(p, eol, h, err))
        return HTTP_INVALID;
    p = eol + 2;
    for (;;) {
        r = line_end(p, end, &eol, err);
        if (r == HTTP_INVALID)
            return r;
        if (r == HTTP_INCOMPLETE) {
            if (len > HTTP_MAX_HEAD)
                return fail(err, &E_HEAD_LARGE), HTTP_INVALID;
            return HTTP_INCOMPLETE;
        }
        if ((size_t)(eol + 2 - buf) > HTTP_MAX_HEAD)
            return fail(err, &E_HEAD_LARGE), HTTP_INVALID;
        if (eol == p) {
            h->length = (size_t)(eol + 2 - buf);
            return HTTP_COMPLETE;
        }
        if (!parse_field(p, eol, h, err))
            return HTTP_INVALID;
        p = eol + 2;
    }
}

bool http_span_eq(struct http_span s, const char *text)
{
    return strlen(text) == s.n && strncasecmp(s.p, text, s.n) == 0;
}

const struct http_span *http_header_find(const struct http_head *h, const char *name, int *count)
{
    const struct http_span *first = NULL;
    int n = 0;
    for (int i = 0; i < h->nheaders; i++)
        if (http_span_eq(h->headers[i].name, name)) {
            if (!first)
                first = &h->headers[i].value;
            n++;
        }
    if (count)
        *count = n;
    return first;
}

/* True if the comma-separated list `s` holds `token` (case-insensitive). */
static bool list_has(struct http_span s, const char *token)
{
    const char *p = s.p, *end = s.p + s.n;
    while (p < end) {
        const char *comma = memchr(p, ',', (size_t)(end - p));
        const char *e = comma ? comma : end;
        const char *a = p;
        while (a < e && (*a == ' ' || *a == '\t'))
            a++;
        const char *b = e;
        while (b > a && (b[-1] == ' ' || b[-1] == '\t'))
            b--;
        if (http_span_eq((struct http_span){a, (size_t)(b - a)}, token))
            return true;
        p = comma ? comma + 1 : end;
    }
    return false;
}

bool http_framing(const struct http_head *h, uint64_t max_body, struct http_framing *f,
                  struct http_error *err)
{
    memset(f, 0, sizeof *f);
    int hosts = 0, tes = 0;
    http_header_find(h, "Host", &hosts);
    if (hosts > 1 || (h->minor == 1 && hosts == 0))
        return fail(err, &E_HOST);
    const struct http_span *te = http_header_find(h, "Transfer-Encoding", &tes);
    bool have_cl = false;
    for (int i = 0; i < h->nheaders; i++) {
        if (!http_span_eq(h->headers[i].name, "Content-Length"))
            continue;
        struct http_span v = h->headers[i].value;
        if (v.n == 0)
            return fail(err, &E_CL);
        uint64_t n = 0;
        bool overflow = false;
        for (size_t k = 0; k < v.n; k++) {
            if (v.p[k] < '0' || v.p[k] > '9')
                return fail(err, &E_CL);
            if (n > (UINT64_MAX - 9) / 10)
                overflow = true;
            else
                n = n * 10 + (uint64_t)(v.p[k] - '0');
        }
        if (overflow)
            n = UINT64_MAX;
        if (have_cl && n != f->length)
            return fail(err, &E_CL_DIFFER);
        have_cl = true;
        f->length = n;
    }
    if (te && have_cl)
        return fail(err, &E_CL_TE);
    if (te) {
        if (h->minor == 0)
            return fail(err, &E_TE_10);
        if (tes != 1 || !http_span_eq(*te, "chunked"))
            return fail(err, &E_TE);
        f->kind = HTTP_BODY_CHUNKED;
    } else if (have_cl && f->length > 0) {
        f->kind = HTTP_BODY_LENGTH;
        f->too_large = f->length > max_body;
    }
    const struct http_span *conn = http_header_find(h, "Connection", NULL);
    f->keep_alive = h->minor == 1 ? !(conn && list_has(*conn, "close"))
                                  : (conn && list_has(*conn, "keep-alive"));
    const struct http_span *expect = http_header_find(h, "Expect", NULL);
    f->expect_continue = h->minor == 1 && expect && http_span_eq(*expect, "100-continue");
    return true;
}

/* ---- chunked bodies ------------------------------------------------------------------------ */

enum { CH_SIZE, CH_EXT, CH_SIZE_LF, CH_DATA, CH_DATA_CR, CH_DATA_LF, CH_TRAILER, CH_TRAILER_LF };

int http_hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

bool http_chunked_decode(struct http_chunked *c, const char *in, size_t *in_len, char *out,
                         size_t out_cap, size_t *out_len, struct http_error *err)
{
    size_t i = 0, o = 0, n = *in_len;
    bool ok = true;
    while (i < n && !c->done) {
        char ch = in[i];
        switch (c->state) {
        case CH_SIZE: {
            int v = http_hex_value(ch);
            if (v >= 0) {
                if (c->line >= 15) { /* over 2^60 bytes: no body is that long */
                    ok = fail(err, &E_CHUNK);
                    goto out;
                }
                c->remaining = c->remaining * 16 + (uint64_t)v;
                c->line++;
                i++;
            } else if (c->line > 0 && (ch == ';' || ch == ' ' || ch == '\t')) {
                c->state = CH_EXT;
            } else if (c->line > 0 && ch == '\r') {
                c->state = CH_SIZE_LF;
                i++;
            } else {
                ok = fail(err, &E_CHUNK);
                goto out;
            }
            break;
        }
        case CH_EXT:
            /* Extensions are ignored, but their bytes must be legal and bounded. */
            if (ch == '\r') {
                c->state = CH_SIZE_LF;
            } else if (((unsigned char)ch < 0x20 && ch != '\t') || ch == 0x7f) {
                ok = fail(err, &E_CHUNK);
                goto out;
            } else if (++c->line > HTTP_MAX_CHUNK_LINE) {
                ok = fail(err, &E_CHUNK_LINE);
                goto out;
            }
            i++;
            break;
        case CH_SIZE_LF:
            if (ch != '\n') {
                ok = fail(err, &E_CHUNK);
                goto out;
            }
            i++;
            c->line = 0;
            c->state = c->remaining ? CH_DATA : CH_TRAILER;
            break;
        case CH_DATA: {
            size_t take = n - i;
            if (take > c->remaining)
                take = (size_t)c->remaining;
            if (take > out_cap - o)
                take = out_cap - o;
            if (take == 0)
                goto out; /* out is full: the caller decides */
            memcpy(out + o, in + i, take);
            o += take;
            i += take;
            c->remaining -= take;
            if (c->remaining == 0)
                c->state = CH_DATA_CR;
            break;
        }
        case CH_DATA_CR:
        case CH_DATA_LF:
            if (ch != (c->state == CH_DATA_CR ? '\r' : '\n')) {
                ok = fail(err, &E_CHUNK); /* the data is longer than its size said */
                goto out;
            }
            c->state = c->state == CH_DATA_CR ? CH_DATA_LF : CH_SIZE;
            i++;
            break;
        case CH_TRAILER:
            /* Trailer fields are read and dropped: nothing here uses them. */
            if (ch == '\r') {
                c->state = CH_TRAILER_LF;
            } else if (((unsigned char)ch < 0x20 && ch != '\t') || ch == 0x7f) {
                ok = fail(err, &E_CHUNK);
                goto out;
            } else {
                c->line++;
                if (++c->trailer > HTTP_MAX_TRAILER) {
                    ok = fail(err, &E_TRAILER);
                    goto out;
                }
            }
            i++;
            break;
        case CH_TRAILER_LF:
            if (ch != '\n') {
                ok = fail(err, &E_CHUNK);
                goto out;
            }
            i++;
            if (c->line == 0)
                c->done = true;
            c->line = 0;
            c->state = CH_TRAILER;
            break;
        }
    }
out:
    *in_len = i;
    *out_len = o;
    return ok;
}
