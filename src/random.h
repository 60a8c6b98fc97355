/* Bytes from the kernel's CSPRNG (getrandom(2)), for public ids and keys. */
#ifndef TIMEWARP_RANDOM_H
#define TIMEWARP_RANDOM_H
#include <stddef.h>

/* Fills buf. getrandom returns short only when a signal interrupts it, so that is retried;
 * any other failure (no entropy source at all) ends the process with a message: ids and keys
 * from anything weaker would be guessable, and looping on a persistent error hangs forever. */
void random_bytes(void *buf, size_t n);
#endif
