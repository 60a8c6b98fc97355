/* libFuzzer target: pagination cursors (src/domain/cursor.c).
 * A fuzzer cannot forge HMAC-SHA256, so the input drives two things:
 *  1. arbitrary text straight into cursor_decode: whatever it accepts must be exactly
 *     what cursor_encode produces for the decoded clip id (so an accepted cursor is
 *     always one the server could have issued);
 *  2. a genuine cursor (for a clip id taken from the input) edited by the input (one or
 *     more bytes replaced, truncated, extended, case-flipped): decode must accept it iff
 *     the edited text is still identical to the genuine one, and must return the id. */
#include "domain/cursor.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond, ...)                                                                       \
    do {                                                                                       \
        if (!(cond)) {                                                                         \
            fprintf(stderr, "invariant violated: %s: ", #cond);                                \
            fprintf(stderr, __VA_ARGS__);                                                      \
            fputc('\n', stderr);                                                               \
            abort();                                                                           \
        }                                                                                      \
    } while (0)

static const unsigned char KEY[] = "fuzz-secret-key-0123456789abcdefghijklmnop";
#define KEY_LEN (sizeof KEY - 1)

static void decode_must_match_encode(const char *text, size_t len)
{
    char id[4 + CURSOR_PAYLOAD_LEN + 1], again[CURSOR_LEN + 1];
    memset(id, 'X', sizeof id);
    if (!cursor_decode(KEY, KEY_LEN, text, len, id))
        return;
    CHECK(id[4 + CURSOR_PAYLOAD_LEN] == '\0' && strlen(id) == 4 + CURSOR_PAYLOAD_LEN, "id length");
    CHECK(memcmp(id, "clp_", 4) == 0, "id '%s' lacks the clp_ prefix", id);
    for (int i = 4; i < 4 + CURSOR_PAYLOAD_LEN; i++)
        CHECK((id[i] >= '0' && id[i] <= '9') || (id[i] >= 'a' && id[i] <= 'f'),
              "id '%s' is not lowercase hex", id);
    CHECK(cursor_encode(KEY, KEY_LEN, id, again), "cannot re-encode decoded id %s", id);
    CHECK(len == CURSOR_LEN && memcmp(again, text, CURSOR_LEN) == 0,
          "accepted '%.*s' differs from the issued cursor '%s' for %s", (int)len, text, again, id);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* 1. Raw text (exact-size heap copy, so over-reads are caught). */
    char *raw = malloc(size ? size : 1);
    if (!raw)
        return 0;
    memcpy(raw, data, size);
    decode_must_match_encode(raw, size);
    free(raw);

    /* 2. A genuine cursor, edited. The first 16 bytes make the clip id. */
    if (size < 17)
        return 0;
    static const char hex[] = "0123456789abcdef";
    char clip[4 + CURSOR_PAYLOAD_LEN + 1] = "clp_";
    for (int i = 0; i < 16; i++) {
        clip[4 + 2 * i] = hex[data[i] >> 4];
        clip[5 + 2 * i] = hex[data[i] & 15];
    }
    clip[4 + CURSOR_PAYLOAD_LEN] = '\0';
    char good[CURSOR_LEN + 1];
    CHECK(cursor_encode(KEY, KEY_LEN, clip, good), "cannot encode %s", clip);
    CHECK(strlen(good) == CURSOR_LEN, "cursor length %zu", strlen(good));
    char id[4 + CURSOR_PAYLOAD_LEN + 1];
    CHECK(cursor_decode(KEY, KEY_LEN, good, CURSOR_LEN, id) && strcmp(id, clip) == 0,
          "a genuine cursor for %s is refused", clip);

    /* A wrong key never verifies. */
    static const unsigned char OTHER[] = "fuzz-secret-key-0123456789abcdefghijklmnoP";
    CHECK(!cursor_decode(OTHER, sizeof OTHER - 1, good, CURSOR_LEN, id),
          "cursor verified under another key");

    /* Edits: (position, byte) pairs from the rest of the input; the low bits of the first
     * choose a length change (truncate / extend by up to 3 bytes). */
    const uint8_t *ops = data + 16;
    size_t nops = size - 16;
    char edited[CURSOR_LEN + 8];
    memcpy(edited, good, CURSOR_LEN);
    size_t len = CURSOR_LEN;
    int delta = (int)(ops[0] % 7) - 3; /* -3..+3 */
    if (delta < 0)
        len = CURSOR_LEN - (size_t)(-delta);
    for (int i = 0; i < delta; i++)
        edited[len++] = (char)ops[0];
    for (size_t i = 1; i + 1 < nops && i < 1 + 2 * 8; i += 2) {
        size_t pos = ops[i] % (len ? len : 1);
        if (len)
            edited[pos] = (char)ops[i + 1];
    }
    bool same = len == CURSOR_LEN && memcmp(edited, good, CURSOR_LEN) == 0;
    char *heap = malloc(len ? len : 1);
    if (!heap)
        return 0;
    memcpy(heap, edited, len);
    bool ok = cursor_decode(KEY, KEY_LEN, heap, len, id);
    CHECK(ok == same, "edited cursor '%.*s' %s (genuine '%s')", (int)len, heap,
          ok ? "accepted" : "refused although unchanged", good);
    if (ok)
        CHECK(strcmp(id, clip) == 0, "decoded %s, expected %s", id, clip);
    decode_must_match_encode(heap, len);
    free(heap);
    return 0;
}
