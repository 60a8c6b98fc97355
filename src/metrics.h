/* Service metrics: lock-free counters bumped per request, published two ways:
 * CloudWatch Embedded Metric Format lines on stdout at most once per interval (so they cost
 * nothing per request), and an optional Prometheus text endpoint (/metrics). */
#ifndef TIMEWARP_METRICS_H
#define TIMEWARP_METRICS_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum metric_event {
    METRIC_SUBMISSION_ACCEPTED,
    METRIC_SUBMISSION_REJECTED,
    METRIC_SUBMISSION_DUPLICATE,
    METRIC_DB_ERROR,
    METRIC_GROUP_COMMIT,       /* a SQLite transaction shared by several writes (store/io.c) */
    METRIC_GROUP_COMMIT_WRITE, /* a write that was in one */
    METRIC_READ_CACHE_HIT,     /* a public read answered from api/read_cache.c */
    METRIC_READ_CACHE_MISS,    /* one that had to be queried and rendered */
    METRIC_EVENT_COUNT
};

/* The value of the Service dimension (config's TIMEWARP_SERVICE_NAME); call before serving. */
void metrics_set_service(const char *name);

void metrics_request(unsigned status, uint64_t duration_us);
void metrics_count(enum metric_event e);

/* Writes one EMF line with the counts since the last flush, and whether the database
 * answered its last check. */
void metrics_flush_emf(bool database_reachable);

/* Prometheus text exposition of the totals since start; caller frees. */
char *metrics_prometheus(size_t *len);
/* The same, starting from a buffer of `initial_capacity` bytes that grows as needed (the unit
 * test starts small so that the growth path runs). */
char *metrics_prometheus_text(size_t *len, size_t initial_capacity);
#endif
