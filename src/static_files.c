/* Lookup in the embedded web page files. */
#include "static_files.h"

#include <string.h>

const struct static_file *static_file_find(const char *path)
{
    for (const struct static_file *f = static_files_table; f->path; f++)
        if (strcmp(f->path, path) == 0)
            return f;
    return NULL;
}
