/* Shared by the unit tests: cmocka's required includes and a few table-test helpers.
 * Table tests report every mismatching row (with the input) before failing, so one run shows
 * the whole picture instead of the first broken case. */
#ifndef TIMEWARP_UNIT_H
#define TIMEWARP_UNIT_H
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* Prints a byte string with non-printable bytes escaped, for failure messages. */
static inline void unit_print_bytes(const char *label, const char *s, size_t len)
{
    char buf[200];
    size_t o = 0, i;
    for (i = 0; i < len && o + 8 < sizeof buf; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c < 0x7f && c != '\\')
            buf[o++] = (char)c;
        else
            o += (size_t)snprintf(buf + o, sizeof buf - o, "\\x%02x", c);
    }
    buf[o] = '\0';
    print_error("%s \"%s\"%s (%zu bytes)\n", label, buf, i < len ? "..." : "", len);
}
#endif
