/* Progress reporting for export and import (see progress.h). */
#include "data/progress.h"

#include <stdio.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void progress_start(struct progress *p, const char *verb, bool forced)
{
    p->verb = verb;
    p->tty = isatty(STDERR_FILENO);
    p->on = forced || p->tty;
    p->start = p->last = now();
}

void progress_tick(struct progress *p, long records)
{
    if (!p->on || records % 4096 != 0)
        return;
    double t = now();
    if (t - p->last < (p->tty ? 0.25 : 2.0))
        return;
    p->last = t;
    fprintf(stderr, "%s%s: %ld records, %.0f/s%s", p->tty ? "\r" : "", p->verb, records,
            records / (t - p->start), p->tty ? "   " : "\n");
}

void progress_done(struct progress *p, long records, const char *what)
{
    double secs = now() - p->start;
    fprintf(stderr, "%s%s: %ld records %s in %.1f s (%.0f/s)\n", p->on && p->tty ? "\r" : "",
            p->verb, records, what, secs, secs > 0 ? records / secs : 0.0);
}
