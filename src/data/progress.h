/* Progress lines on stderr for the long data commands: on a terminal, one line rewritten in
 * place; with --progress and no terminal, a line every two seconds (fit for a log). */
#ifndef TIMEWARP_DATA_PROGRESS_H
#define TIMEWARP_DATA_PROGRESS_H
#include <stdbool.h>

struct progress {
    const char *verb; /* "export", "import" */
    bool on, tty;
    double start, last;
};

void progress_start(struct progress *p, const char *verb, bool forced);
/* Cheap to call per record: it looks at the clock every 4096 records only. */
void progress_tick(struct progress *p, long records);
/* The final line (always printed): how many records, how long, how fast. */
void progress_done(struct progress *p, long records, const char *what);
#endif
