/* Serialising responses (see response.h). */
#include "http/response.h"
#include "http/loop.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

static const struct config *cfg;

void response_configure(const struct config *c) { cfg = c; }

/* A growing buffer of header text; `failed` on out of memory. */
struct head {
    char *p;
    size_t len, cap;
    bool failed;
};

static void head_printf(struct head *h, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void head_printf(struct head *h, const char *fmt, ...)
{
    for (int attempt = 0; attempt < 2 && !h->failed; attempt++) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(h->p ? h->p + h->len : NULL, h->p ? h->cap - h->len : 0, fmt, ap);
        va_end(ap);
        if (n < 0) {
            h->failed = true;
            return;
        }
        if (h->p && h->len + (size_t)n < h->cap) {
            h->len += (size_t)n;
            return;
        }
        size_t cap = h->cap ? h->cap : 512;
        while (cap <= h->len + (size_t)n)
            cap *= 2;
        char *grown = realloc(h->p, cap);
        if (!grown) {
            h->failed = true;
            return;
        }
        h->p = grown;
        h->cap = cap;
    }
}

static const char *reason(int status)
{
    switch (status) {
    case 100: return "Continue";
    case 200: return "OK";
    case 201: return "Created";
    case 301: return "Moved Permanently";
    case 304: return "Not Modified";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 409: return "Conflict";
    case 410: return "Gone";
    case 413: return "Content Too Large";
    case 414: return "URI Too Long";
    case 415: return "Unsupported Media Type";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 503: return "Service Unavailable";
    case 505: return "HTTP Version Not Supported";
    default: return "Unknown";
    }
}

/* Status line and the headers every response has; `csp` NULL for the API's own. */
static void head_start(struct head *h, struct conn *c, int status, const char *content_type,
                       const char *csp)
{
    char date[40];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S GMT", &tm);
    head_printf(h, "HTTP/1.1 %d %s\r\nDate: %s\r\n", status, reason(status), date);
    if (content_type)
        head_printf(h, "Content-Type: %s\r\n", content_type);
    head_printf(h,
                "X-Request-Id: %s\r\nX-Content-Type-Options: nosniff\r\nX-Frame-Options: DENY\r\n"
                "Referrer-Policy: no-referrer\r\nContent-Security-Policy: %s\r\n",
                c->ex.request_id, csp ? csp : "default-src 'none'; frame-ancestors 'none'");
    if (cfg->env == ENV_PRODUCTION)
        head_printf(h, "Strict-Transport-Security: max-age=31536000; includeSubDomains\r\n");
}

/* Ends the head and queues it with the body. */
static void head_finish(struct head *h, struct conn *c, int status, char *owned, const char *borrowed,
                        size_t len, bool close)
{
    close = close || conn_shutting_down() || !c->ex.framing.keep_alive || c->peer_closed;
    /* A 304 has no body and no Content-Length of its own (RFC 9110 §8.6, §15.4.5). */
    if (status == 304) {
        c->ex.head_only = true;
        len = 0;
    } else {
        head_printf(h, "Content-Length: %zu\r\n", len);
    }
    head_printf(h, "%s\r\n", close ? "Connection: close\r\n" : "");
    if (h->failed) {
        free(h->p);
        free(owned);
        conn_close(c); /* out of memory: nothing sensible can be sent */
        return;
    }
    c->ex.status = (unsigned)status;
    c->ex.bytes = len;
    if (c->ex.head_only) {
        free(owned);
        owned = NULL;
        borrowed = NULL;
    }
    conn_send(c, h->p, h->len, owned, borrowed, c->ex.head_only ? 0 : len, close);
    if (c->ex.head_only)
        c->ex.bytes = 0;
}

/* `location`: a Location header too (longer than api_add_header's values may be). */
static void send_json_to(struct conn *c, struct response *res, bool close, const char *location)
{
    size_t len = 0;
    /* NULL: out of memory while rendering (a 304 has no body to render). */
    char *text = res->status == 304 ? NULL : jw_finish(&res->body, &len);
    if (!text && res->status != 304) {
        conn_close(c);
        return;
    }
    struct head h = {0};
    head_start(&h, c, res->status, "application/json", NULL);
    head_printf(&h, "Cache-Control: %s\r\n", res->cache_control ? res->cache_control : "no-store");
    if (res->etag[0])
        head_printf(&h, "ETag: %s\r\n", res->etag);
    if (res->allow)
        head_printf(&h, "Allow: %s\r\n", res->allow);
    for (int i = 0; i < res->header_count; i++)
        head_printf(&h, "%s: %s\r\n", res->headers[i].name, res->headers[i].value);
    if (location)
        head_printf(&h, "Location: %s\r\n", location);
    head_finish(&h, c, res->status, text, NULL, len, close);
}

static void send_json(struct conn *c, struct response *res, bool close)
{
    send_json_to(c, res, close, NULL);
}

void response_send_api(struct conn *c, struct response *res, bool close) { send_json(c, res, close); }

static const char *error_code(int status)
{
    switch (status) {
    case 400: return "BAD_REQUEST";
    case 404: return "NOT_FOUND";
    case 405: return "METHOD_NOT_ALLOWED";
    case 408: return "REQUEST_TIMEOUT";
    case 413: return "PAYLOAD_TOO_LARGE";
    case 414: return "URI_TOO_LONG";
    case 415: return "UNSUPPORTED_MEDIA_TYPE";
    case 431: return "REQUEST_HEADER_FIELDS_TOO_LARGE";
    case 503: return "SERVICE_UNAVAILABLE";
    case 505: return "HTTP_VERSION_NOT_SUPPORTED";
    default: return status >= 500 ? "INTERNAL_ERROR" : "BAD_REQUEST";
    }
}

void response_send_error(struct conn *c, int status, const char *message, bool close)
{
    struct response res = {0};
    api_error(&res, status, error_code(status), message, NULL);
    send_json(c, &res, close);
}

void response_send_static(struct conn *c, const struct static_file *f, bool not_modified,
                          bool immutable)
{
    char modified[64];
    time_t mtime = (time_t)f->mtime;
    struct tm tm;
    gmtime_r(&mtime, &tm);
    strftime(modified, sizeof modified, "%a, %d %b %Y %H:%M:%S GMT", &tm);
    struct head h = {0};
    int status = not_modified ? 304 : 200;
    head_start(&h, c, status, f->content_type,
               "default-src 'self'; img-src 'self' https://i.ytimg.com data:; "
               "frame-src https://www.youtube-nocookie.com; object-src 'none'; "
               "base-uri 'none'; form-action 'self'; frame-ancestors 'none'");
    head_printf(&h, "ETag: \"%s\"\r\nLast-Modified: %s\r\nCache-Control: %s\r\n", f->etag, modified,
                immutable ? "public, max-age=31536000, immutable" : "no-cache");
    head_finish(&h, c, status, NULL, f->data, f->size, false);
}

void response_send_redirect(struct conn *c, const char *location)
{
    struct response res = {0};
    api_error(&res, 301, "MOVED_PERMANENTLY", "Use HTTPS.", NULL);
    send_json_to(c, &res, false, location);
}

void response_send_text(struct conn *c, int status, const char *content_type, char *owned, size_t len)
{
    struct head h = {0};
    head_start(&h, c, status, content_type, NULL);
    head_printf(&h, "Cache-Control: no-store\r\n");
    head_finish(&h, c, status, owned, NULL, len, false);
}

void response_send_continue(struct conn *c)
{
    static const char line[] = "HTTP/1.1 100 Continue\r\n\r\n";
    /* Best effort: the socket's buffer is empty at this point, and a client that misses it
     * sends its body after a short wait anyway (RFC 9110 §10.1.1). */
    (void)!send(c->fd, line, sizeof line - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
}
