/* YouTube input → 11-character video id, following SPEC.md "YouTube input → video id". */
#ifndef TIMEWARP_YOUTUBE_H
#define TIMEWARP_YOUTUBE_H
#include <stdbool.h>
#include <stddef.h>

#define YOUTUBE_ID_LEN 11

/* Parses `len` bytes of `input`. On success writes the NUL-terminated id to `id` and returns
 * true; otherwise returns false and points *reason at a static human-readable sentence. */
bool youtube_video_id(const char *input, size_t len, char id[YOUTUBE_ID_LEN + 1],
                      const char **reason);

#endif
