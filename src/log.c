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
    struct timespec ts;
    struct tm tm;
    char secs[20];
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    strftime(secs, sizeof secs, "%Y-%m-%dT%H:%M:%S", &tm);
    char full[48];
    snprintf(full, sizeof full, "%.19s.%06ldZ", secs, (ts.tv_nsec / 1000) % 1000000);
    memcpy(out, full, 27);
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

void log_access_line(const char *line, size_t len)
{
    write_all(STDOUT_FILENO, line, len);
}
