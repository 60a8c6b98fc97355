/* Small text helpers shared by the parsers and the request validation. Pure. */
#ifndef TIMEWARP_TEXT_H
#define TIMEWARP_TEXT_H
#include <stdbool.h>
#include <stddef.h>

/* Narrows (*s, *len) to drop surrounding ASCII whitespace. */
void text_trim(const char **s, size_t *len);
/* Number of Unicode code points in valid UTF-8 (counts lead bytes). */
size_t text_codepoints(const char *s, size_t len);
/* True for lowercase hex only: ids and signatures are canonical lowercase. */
bool text_is_lower_hex(const char *s, size_t len);
#endif
