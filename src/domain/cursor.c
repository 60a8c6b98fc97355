/* Cursor signing. The signature is recomputed over the payload text as received and the
 * resulting canonical signature text compared to the received one byte for byte, so any edit
 * (a hex digit's case, unused base64 bits, truncation) invalidates the cursor. */
#include "domain/cursor.h"
#include "domain/text.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <string.h>

static const char b64url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* Domain separation: a signature made for anything else can never pass as a cursor. Clip
 * cursors sign "timewarp-cursor-v1:<hex>" (as they always have); cursors over other lists
 * add their id prefix ("timewarp-cursor-v1:rpt_<hex>"), so a report cursor is no audit or
 * clip cursor. */
static const char context[] = "timewarp-cursor-v1:";

static void sign(const unsigned char *key, size_t key_len, const char *prefix, const char *payload,
                 char out[CURSOR_SIG_LEN + 1])
{
    unsigned char msg[sizeof context - 1 + 4 + CURSOR_PAYLOAD_LEN];
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int mac_len = 0;
    size_t n = sizeof context - 1;
    memcpy(msg, context, n);
    if (strcmp(prefix, "clp_") != 0) {
        memcpy(msg + n, prefix, 4);
        n += 4;
    }
    memcpy(msg + n, payload, CURSOR_PAYLOAD_LEN);
    n += CURSOR_PAYLOAD_LEN;
    HMAC(EVP_sha256(), key, (int)key_len, msg, n, mac, &mac_len);
    /* 32 bytes → 43 base64url characters (the last carries 4 bits, 2 unused bits zero). */
    size_t o = 0;
    for (size_t i = 0; i < 32; i += 3) {
        unsigned v = (unsigned)mac[i] << 16 | (i + 1 < 32 ? (unsigned)mac[i + 1] << 8 : 0) |
                     (i + 2 < 32 ? mac[i + 2] : 0);
        out[o++] = b64url[(v >> 18) & 63];
        out[o++] = b64url[(v >> 12) & 63];
        if (i + 1 < 32)
            out[o++] = b64url[(v >> 6) & 63];
        if (i + 2 < 32)
            out[o++] = b64url[v & 63];
    }
    out[o] = '\0';
}

bool cursor_encode_id(const unsigned char *key, size_t key_len, const char *id,
                      char out[CURSOR_LEN + 1])
{
    /* Only canonical ids: whatever is signed here must pass cursor_decode's exact check. */
    if (strlen(id) != 4 + CURSOR_PAYLOAD_LEN || id[3] != '_' ||
        !text_is_lower_hex(id + 4, CURSOR_PAYLOAD_LEN))
        return false;
    char prefix[5];
    memcpy(prefix, id, 4);
    prefix[4] = '\0';
    memcpy(out, id + 4, CURSOR_PAYLOAD_LEN);
    out[CURSOR_PAYLOAD_LEN] = '.';
    sign(key, key_len, prefix, out, out + CURSOR_PAYLOAD_LEN + 1);
    return true;
}

bool cursor_decode_id(const unsigned char *key, size_t key_len, const char *prefix,
                      const char *text, size_t len, char id[4 + CURSOR_PAYLOAD_LEN + 1])
{
    char expected[CURSOR_SIG_LEN + 1];
    if (strlen(prefix) != 4 || len != CURSOR_LEN || text[CURSOR_PAYLOAD_LEN] != '.' ||
        !text_is_lower_hex(text, CURSOR_PAYLOAD_LEN))
        return false;
    sign(key, key_len, prefix, text, expected);
    if (CRYPTO_memcmp(expected, text + CURSOR_PAYLOAD_LEN + 1, CURSOR_SIG_LEN) != 0)
        return false;
    memcpy(id, prefix, 4);
    memcpy(id + 4, text, CURSOR_PAYLOAD_LEN);
    id[4 + CURSOR_PAYLOAD_LEN] = '\0';
    return true;
}

bool cursor_encode(const unsigned char *key, size_t key_len, const char *clip_id,
                   char out[CURSOR_LEN + 1])
{
    return strncmp(clip_id, "clp_", 4) == 0 && cursor_encode_id(key, key_len, clip_id, out);
}

bool cursor_decode(const unsigned char *key, size_t key_len, const char *text, size_t len,
                   char clip_id[4 + CURSOR_PAYLOAD_LEN + 1])
{
    return cursor_decode_id(key, key_len, "clp_", text, len, clip_id);
}
