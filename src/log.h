/* Logging: JSON lines, one event per line, fit for CloudWatch Logs. Access lines go to
 * stdout, everything else to stderr. Each line (or an I/O loop's batch of whole lines, at
 * most PIPE_BUF bytes) is written with a single write(2) so lines
 * from concurrent threads never interleave. */
#ifndef TIMEWARP_LOG_H
#define TIMEWARP_LOG_H
#include "config.h"
#include <stdbool.h>
#include <stddef.h>

void log_set_level(enum log_level level);
enum log_level log_get_level(void);

/* Writes {"time","level","msg", extra...} to stderr if level is enabled. `fields` is a
 * pre-rendered JSON fragment (",\"k\":\"v\"") or NULL. */
void log_event(enum log_level level, const char *msg, const char *fields);
void log_eventf(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Appends s as a JSON string body (no quotes) to buf at *pos, never past cap-1. Bytes that
 * are not printable ASCII are escaped, so the line stays valid JSON whatever the input. */
void log_escape(char *buf, size_t cap, size_t *pos, const char *s);

/* Current UTC time as RFC 3339 with six fractional digits and Z (28 bytes with NUL). */
void log_timestamp(char out[28]);

/* Writes a complete line (ending in its newline) to stdout: at once, or, on a thread that
 * batches, with the next log_flush_access() at the latest. */
void log_access_line(const char *line, size_t len);
/* The calling thread's access lines wait for log_flush_access() (or a full batch) from now
 * on (on) or are written at once (off; what waits is written first). */
void log_batch_access(bool on);
void log_flush_access(void);
#endif
