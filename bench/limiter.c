/* Microbenchmark of the rate limiter: the time one limits_check() adds to a limited POST.
 * Build and run (release flags, not part of make bench or make test):
 *   make build/timewarp && cc -O2 -Isrc -o build/limiter-bench bench/limiter.c build/obj/src/limits.o -lpthread
 *   ./build/limiter-bench
 * Addresses are formatted before the clock starts, as the HTTP layer hands them over. */
#include "limits.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define N 1000000
static char (*ips)[16];

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

struct run { int first, distinct; };

static void *loop(void *p)
{
    const struct run *r = p;
    const struct rate_limit lim = {30, 60};
    struct limit_decision d;
    for (int i = 0; i < N; i++)
        limits_check(&lim, RATE_SUBMISSIONS, ips[(r->first + (r->distinct ? i : 0)) % N], &d);
    return NULL;
}

static void measure(const char *what, int threads, int distinct)
{
    pthread_t th[8];
    struct run runs[8];
    double t0 = now_s();
    for (int t = 0; t < threads; t++) {
        runs[t] = (struct run){t * (N / threads), distinct};
        pthread_create(&th[t], NULL, loop, &runs[t]);
    }
    for (int t = 0; t < threads; t++)
        pthread_join(th[t], NULL);
    double secs = now_s() - t0;
    printf("%-44s %7.0f ns per call (%d thread%s)\n", what, secs * 1e9 / N, threads, threads > 1 ? "s" : "");
}

int main(void)
{
    ips = malloc(sizeof *ips * N);
    for (int i = 0; i < N; i++)
        snprintf(ips[i], sizeof ips[i], "10.%d.%d.%d", (i >> 16) & 255, (i >> 8) & 255, i & 255);
    measure("one client, over its limit", 1, 0);
    measure("1,000,000 distinct clients (table churns)", 1, 1);
    measure("1,000,000 distinct clients, two threads", 2, 1);
    measure("one client shared by two threads", 2, 0);
    free(ips);
    return 0;
}
