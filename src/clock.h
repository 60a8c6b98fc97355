/* The monotonic clock in microseconds: deadlines, timeouts and durations everywhere. */
#ifndef TIMEWARP_CLOCK_H
#define TIMEWARP_CLOCK_H
#include <stdint.h>
#include <time.h>

static inline int64_t monotonic_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}
#endif
