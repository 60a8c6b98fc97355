/* The web page, embedded at build time (scripts/embed-static.sh). */
#ifndef TIMEWARP_STATIC_FILES_H
#define TIMEWARP_STATIC_FILES_H
#include <stddef.h>

struct static_file {
    const char *path;         /* "/" or "/static/…" */
    const char *content_type;
    const char *etag;         /* hash of the bytes, without quotes */
    size_t size;
    long long mtime;          /* for Last-Modified */
    const char *data;
};
extern const struct static_file static_files_table[]; /* ends with a NULL path */

const struct static_file *static_file_find(const char *path);
#endif
