/* Counters and their two renderings (see metrics.h). */
#include "metrics.h"
#include "log.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Latency histogram bucket bounds in microseconds (Prometheus "le" values). */
static const uint64_t bucket_us[] = {500, 1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000, 1000000};
#define BUCKETS (sizeof bucket_us / sizeof *bucket_us)

struct counters {
    atomic_ullong requests, status_2xx, status_3xx, status_4xx, status_5xx;
    atomic_ullong latency_sum_us, latency_max_us;
    atomic_ullong buckets[BUCKETS];
    atomic_ullong events[METRIC_EVENT_COUNT];
};

static struct counters total;  /* since start: Prometheus */
static struct counters window; /* since the last EMF flush */
/* The EMF lines' Service dimension; set once before any thread starts. */
static char service[65] = "timewarp";

void metrics_set_service(const char *name)
{
    snprintf(service, sizeof service, "%s", name);
}

static void bump(struct counters *c, unsigned status, uint64_t us)
{
    atomic_fetch_add_explicit(&c->requests, 1, memory_order_relaxed);
    atomic_ullong *cls = status >= 500 ? &c->status_5xx : status >= 400 ? &c->status_4xx
                       : status >= 300 ? &c->status_3xx : &c->status_2xx;
    atomic_fetch_add_explicit(cls, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&c->latency_sum_us, us, memory_order_relaxed);
    unsigned long long max = atomic_load_explicit(&c->latency_max_us, memory_order_relaxed);
    while (us > max && !atomic_compare_exchange_weak(&c->latency_max_us, &max, us))
        ;
    for (size_t i = 0; i < BUCKETS; i++)
        if (us <= bucket_us[i]) {
            atomic_fetch_add_explicit(&c->buckets[i], 1, memory_order_relaxed);
            break;
        }
}

void metrics_request(unsigned status, uint64_t duration_us)
{
    bump(&total, status, duration_us);
    bump(&window, status, duration_us);
}

void metrics_count(enum metric_event e)
{
    atomic_fetch_add_explicit(&total.events[e], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&window.events[e], 1, memory_order_relaxed);
}

static unsigned long long take(atomic_ullong *v) { return atomic_exchange(v, 0); }

void metrics_flush_emf(bool database_reachable)
{
    unsigned long long n = take(&window.requests), ok = take(&window.status_2xx),
                       redirects = take(&window.status_3xx), c4 = take(&window.status_4xx),
                       c5 = take(&window.status_5xx), sum = take(&window.latency_sum_us),
                       max = take(&window.latency_max_us), ev[METRIC_EVENT_COUNT];
    for (int i = 0; i < METRIC_EVENT_COUNT; i++)
        ev[i] = take(&window.events[i]);
    for (size_t i = 0; i < BUCKETS; i++)
        take(&window.buckets[i]);
    (void)ok; (void)redirects;
    /* Written every interval, traffic or not: the deep-health alarm reads DatabaseReachable
     * and treats missing data as failing. */
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    char line[2048]; /* the longest line (64-character service, 20-digit counts) is about 1.4 KiB */
    int len = snprintf(line, sizeof line,
        "{\"_aws\":{\"Timestamp\":%lld,\"CloudWatchMetrics\":[{\"Namespace\":\"TimeWarp\","
        "\"Dimensions\":[[\"Service\"]],\"Metrics\":["
        "{\"Name\":\"Requests\",\"Unit\":\"Count\"},{\"Name\":\"Errors4xx\",\"Unit\":\"Count\"},"
        "{\"Name\":\"Errors5xx\",\"Unit\":\"Count\"},{\"Name\":\"LatencyAvg\",\"Unit\":\"Milliseconds\"},"
        "{\"Name\":\"LatencyMax\",\"Unit\":\"Milliseconds\"},"
        "{\"Name\":\"SubmissionsAccepted\",\"Unit\":\"Count\"},{\"Name\":\"SubmissionsRejected\",\"Unit\":\"Count\"},"
        "{\"Name\":\"SubmissionsDuplicate\",\"Unit\":\"Count\"},{\"Name\":\"DatabaseErrors\",\"Unit\":\"Count\"},"
        "{\"Name\":\"DatabaseReachable\",\"Unit\":\"Count\"}]}]},"
        "\"Service\":\"%s\",\"Requests\":%llu,\"Errors4xx\":%llu,\"Errors5xx\":%llu,"
        "\"LatencyAvg\":%.3f,\"LatencyMax\":%.3f,\"SubmissionsAccepted\":%llu,"
        "\"SubmissionsRejected\":%llu,\"SubmissionsDuplicate\":%llu,\"DatabaseErrors\":%llu,"
        "\"DatabaseReachable\":%d}\n",
        (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000, service, n, c4, c5,
        n ? (double)sum / (double)n / 1000.0 : 0.0, (double)max / 1000.0,
        ev[METRIC_SUBMISSION_ACCEPTED], ev[METRIC_SUBMISSION_REJECTED],
        ev[METRIC_SUBMISSION_DUPLICATE], ev[METRIC_DB_ERROR], database_reachable ? 1 : 0);
    if (len > 0 && (size_t)len < sizeof line)
        log_access_line(line, (size_t)len);
}

/* A growing text buffer: snprintf's return says how much room a line needs, so a line that
 * does not fit is written again after the buffer has doubled. After a failed allocation the
 * buffer is dropped and later lines are ignored, so the caller sees NULL, never a cut text. */
struct text {
    char *buf;
    size_t cap, pos;
};

static void emit(struct text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void emit(struct text *t, const char *fmt, ...)
{
    while (t->buf) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(t->buf + t->pos, t->cap - t->pos, fmt, ap);
        va_end(ap);
        if (n < 0) { /* an encoding error cannot happen with our formats: drop the line */
            t->buf[t->pos] = '\0';
            return;
        }
        if ((size_t)n < t->cap - t->pos) {
            t->pos += (size_t)n;
            return;
        }
        size_t need = t->pos + (size_t)n + 1, cap = t->cap * 2 > need ? t->cap * 2 : need;
        char *bigger = realloc(t->buf, cap);
        if (!bigger) {
            free(t->buf);
            t->buf = NULL;
            return;
        }
        t->buf = bigger;
        t->cap = cap;
    }
}

char *metrics_prometheus_text(size_t *len, size_t initial_capacity)
{
    struct text t = {NULL, initial_capacity > 0 ? initial_capacity : 1, 0};
    t.buf = malloc(t.cap);
    if (!t.buf)
        return NULL;
#define EMIT(...) emit(&t, __VA_ARGS__)
    EMIT("# HELP timewarp_requests_total HTTP requests answered, by status class.\n"
         "# TYPE timewarp_requests_total counter\n");
    EMIT("timewarp_requests_total{class=\"2xx\"} %llu\n", atomic_load(&total.status_2xx));
    EMIT("timewarp_requests_total{class=\"3xx\"} %llu\n", atomic_load(&total.status_3xx));
    EMIT("timewarp_requests_total{class=\"4xx\"} %llu\n", atomic_load(&total.status_4xx));
    EMIT("timewarp_requests_total{class=\"5xx\"} %llu\n", atomic_load(&total.status_5xx));
    EMIT("# HELP timewarp_request_duration_seconds Time from request line to response queued.\n"
         "# TYPE timewarp_request_duration_seconds histogram\n");
    unsigned long long cumulative = 0;
    for (size_t i = 0; i < BUCKETS; i++) {
        cumulative += atomic_load(&total.buckets[i]);
        EMIT("timewarp_request_duration_seconds_bucket{le=\"%g\"} %llu\n", (double)bucket_us[i] / 1e6, cumulative);
    }
    EMIT("timewarp_request_duration_seconds_bucket{le=\"+Inf\"} %llu\n", atomic_load(&total.requests));
    EMIT("timewarp_request_duration_seconds_sum %.6f\n", (double)atomic_load(&total.latency_sum_us) / 1e6);
    EMIT("timewarp_request_duration_seconds_count %llu\n", atomic_load(&total.requests));
    EMIT("# HELP timewarp_submissions_total Submissions stored, by outcome.\n"
         "# TYPE timewarp_submissions_total counter\n");
    EMIT("timewarp_submissions_total{outcome=\"accepted\"} %llu\n", atomic_load(&total.events[METRIC_SUBMISSION_ACCEPTED]));
    EMIT("timewarp_submissions_total{outcome=\"rejected\"} %llu\n", atomic_load(&total.events[METRIC_SUBMISSION_REJECTED]));
    EMIT("timewarp_submissions_total{outcome=\"duplicate\"} %llu\n", atomic_load(&total.events[METRIC_SUBMISSION_DUPLICATE]));
    EMIT("# HELP timewarp_database_errors_total Database operations that failed.\n"
         "# TYPE timewarp_database_errors_total counter\n");
    EMIT("timewarp_database_errors_total %llu\n", atomic_load(&total.events[METRIC_DB_ERROR]));
    EMIT("# HELP timewarp_group_commits_total SQLite transactions shared by several writes.\n"
         "# TYPE timewarp_group_commits_total counter\n");
    EMIT("timewarp_group_commits_total %llu\n", atomic_load(&total.events[METRIC_GROUP_COMMIT]));
    EMIT("# HELP timewarp_group_commit_writes_total Writes that were in a shared transaction.\n"
         "# TYPE timewarp_group_commit_writes_total counter\n");
    EMIT("timewarp_group_commit_writes_total %llu\n", atomic_load(&total.events[METRIC_GROUP_COMMIT_WRITE]));
    EMIT("# HELP timewarp_read_cache_total Public reads, answered from the cache (hit) or not (miss).\n"
         "# TYPE timewarp_read_cache_total counter\n");
    EMIT("timewarp_read_cache_total{result=\"hit\"} %llu\n", atomic_load(&total.events[METRIC_READ_CACHE_HIT]));
    EMIT("timewarp_read_cache_total{result=\"miss\"} %llu\n", atomic_load(&total.events[METRIC_READ_CACHE_MISS]));
#undef EMIT
    *len = t.buf ? t.pos : 0;
    return t.buf;
}

char *metrics_prometheus(size_t *len) { return metrics_prometheus_text(len, 4096); }
