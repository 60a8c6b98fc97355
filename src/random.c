/* The kernel's CSPRNG (see random.h). */
#include "random.h"
#include "log.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

void random_bytes(void *buf, size_t n)
{
    size_t got = 0;
    while (got < n) {
        ssize_t r = getrandom((char *)buf + got, n - got, 0);
        if (r > 0) {
            got += (size_t)r;
        } else if (r < 0 && errno != EINTR) {
            log_eventf(LOG_ERROR, "the kernel's random number generator failed: %s", strerror(errno));
            abort();
        }
    }
}
