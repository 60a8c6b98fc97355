/* The HTTP server (src/http/): listening, the I/O threads, the database workers, graceful
 * shutdown. */
#ifndef TIMEWARP_SERVER_H
#define TIMEWARP_SERVER_H
#include "config.h"

/* Serves until SIGTERM/SIGINT, then drains and stops. Returns the process exit code. */
int server_run(const struct config *c);
#endif
