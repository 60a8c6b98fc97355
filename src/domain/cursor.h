/* Pagination cursors: a clip's (or report's, or audit action's) public id signed with HMAC-SHA256 under the SECRET_KEY.
 * The cursor names a position (the last clip returned), never a filter, so it stays valid
 * with another from/to/limit. */
#ifndef TIMEWARP_CURSOR_H
#define TIMEWARP_CURSOR_H
#include <stdbool.h>
#include <stddef.h>

#define CURSOR_PAYLOAD_LEN 32 /* the 32 hex digits of a clp_ id */
#define CURSOR_SIG_LEN 43     /* HMAC-SHA256, base64url without padding */
#define CURSOR_LEN (CURSOR_PAYLOAD_LEN + 1 + CURSOR_SIG_LEN)

/* Writes the cursor for clip id "clp_<32 hex>" into out (CURSOR_LEN + 1 bytes). */
bool cursor_encode(const unsigned char *key, size_t key_len, const char *clip_id,
                   char out[CURSOR_LEN + 1]);

/* Verifies `text` exactly as received; on success writes the clip id "clp_…" (37 bytes). */
bool cursor_decode(const unsigned char *key, size_t key_len, const char *text, size_t len,
                   char clip_id[4 + CURSOR_PAYLOAD_LEN + 1]);
/* The same for any public id "xxx_<32 hex>" (reports, audit actions): the prefix is part
 * of what is signed, so a cursor of one list is invalid for another. */
bool cursor_encode_id(const unsigned char *key, size_t key_len, const char *id,
                      char out[CURSOR_LEN + 1]);
bool cursor_decode_id(const unsigned char *key, size_t key_len, const char *prefix,
                      const char *text, size_t len, char id[4 + CURSOR_PAYLOAD_LEN + 1]);
#endif
