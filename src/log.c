/* JSON-line logging. */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static enum log_level current_level = LOG_INFO;
static const char *const level_names[] = {"debug", "info", "warn", "error"};

void log_set_level(enum log_level level) { current_level = level; }
enum log_level log_get_level(void) { return current_level; }

void log_timestamp(char out[28])
{
    /* The seconds are formatted once per second per thread: every access line needs them. */
    static _Thread_local time_t cached_sec = -1;
    static _Thread_local char secs[20];
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    if (ts.tv_sec != cached_sec) {
        struct tm tm;
        gmtime_r(&ts.tv_sec, &tm);
        strftime(secs, sizeof secs, "%Y-%m-%dT%H:%M:%S", &tm);
        cached_sec = ts.tv_sec;
    }
    memcpy(out, secs, 19);
    long us = (ts.tv_nsec / 1000) % 1000000;
    out[19] = '.';
    for (int i = 25; i >= 20; i--, us /= 10)
        out[i] = (char)('0' + us % 10);
    out[26] = 'Z';
    out[27] = '\0';
}

void log_escape(char *buf, size_t cap, size_t *pos, const char *s)
{
    static const char hex[] = "0123456789abcdef";
    for (; *s && *pos + 7 < cap; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\') {
            buf[(*pos)++] = '\\';
            buf[(*pos)++] = (char)ch;
        } else if (ch < 0x20 || ch >= 0x7f) {
            memcpy(buf + *pos, "\\u00", 4);
            buf[*pos + 4] = hex[ch >> 4];
            buf[*pos + 5] = hex[ch & 15];
            *pos += 6;
        } else {
            buf[(*pos)++] = (char)ch;
        }
    }
    buf[*pos] = '\0';
}

static void write_all(int fd, const char *buf, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, buf, len);
        if (n <= 0)
            return; /* nowhere to report a failing log stream */
        buf += n;
        len -= (size_t)n;
    }
}

void log_event(enum log_level level, const char *msg, const char *fields)
{
    if (level < current_level)
        return;
    char line[4096], ts[28];
    size_t pos;
    log_timestamp(ts);
    pos = (size_t)snprintf(line, sizeof line, "{\"time\":\"%s\",\"level\":\"%s\",\"msg\":\"", ts,
                           level_names[level]);
    log_escape(line, sizeof line - 600, &pos, msg);
    pos += (size_t)snprintf(line + pos, sizeof line - pos, "\"%s}\n", fields ? fields : "");
    if (pos >= sizeof line) { /* fields were cut: still end the line as valid JSON */
        pos = sizeof line - 3;
        memcpy(line + pos, "\"}\n", 3);
        pos += 3;
    }
    write_all(STDERR_FILENO, line, pos);
}

void log_eventf(enum log_level level, const char *fmt, ...)
{
    if (level < current_level)
        return;
    char msg[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    log_event(level, msg, NULL);
}

/* A thread that batches its access lines (an I/O loop) writes them when the batch would
 * pass PIPE_BUF (4096 on Linux: a pipe never splits or interleaves a write that size, so
 * lines of two threads stay whole) or when it flushes, once per round of events. perf of
 * GET /clips/{id}: a write(2) per request was about a tenth of the server's time. */
static _Thread_local struct {
    bool on;
    size_t len;
    char buf[4096];
} batch;

void log_flush_access(void)
{
    if (batch.len)
        write_all(STDOUT_FILENO, batch.buf, batch.len);
    batch.len = 0;
}

void log_batch_access(bool on)
{
    log_flush_access();
    batch.on = on;
}

void log_access_line(const char *line, size_t len)
{
    if (batch.on && batch.len + len > sizeof batch.buf)
        log_flush_access();
    if (batch.on && len <= sizeof batch.buf) {
        memcpy(batch.buf + batch.len, line, len);
        batch.len += len;
        return;
    }
    write_all(STDOUT_FILENO, line, len);
}
