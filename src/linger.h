/* Lingering close: after an early error response (413 for a body declared too large) the
 * client may still be sending that body. Closing the socket with unread data makes the
 * kernel send a reset, and a client that writes its whole body before reading would see
 * the reset instead of the 413. So such sockets are handed here, read and discarded for a
 * bounded time and amount, and only then closed, as nginx does. */
#ifndef TIMEWARP_LINGER_H
#define TIMEWARP_LINGER_H
#include <stdbool.h>

bool linger_start(void);
/* Takes ownership of fd (a dup of the connection's socket). */
void linger_add(int fd);
/* Closes everything still lingering and stops the thread. */
void linger_stop(void);
#endif
