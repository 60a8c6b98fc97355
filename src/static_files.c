/* Lookup in the embedded web page files. */
#include "static_files.h"

#include <string.h>

/* A page answers with and without a trailing slash, like every route: "/admin/" is the
 * operator page too. */
const struct static_file *static_file_find(const char *path)
{
    size_t len = strlen(path);
    if (len > 1 && path[len - 1] == '/')
        len--;
    for (const struct static_file *f = static_files_table; f->path; f++)
        if (strlen(f->path) == len && memcmp(f->path, path, len) == 0)
            return f;
    return NULL;
}
