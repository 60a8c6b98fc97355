/* cursor_encode()/cursor_decode(): signed, exact-text pagination cursors (SPEC.md GET /clips).
 * Any text that is not, character for character, a cursor the server issued is invalid. */
#include "unit.h"

#include "domain/cursor.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdlib.h>

static const unsigned char KEY[] = "0123456789abcdef0123456789abcdef-unit-test-key";
#define KEY_LEN (sizeof KEY - 1)
static const unsigned char OTHER_KEY[] = "0123456789abcdef0123456789abcdef-unit-test-kez";
#define OTHER_KEY_LEN (sizeof OTHER_KEY - 1)

#define CLIP_A "clp_0123456789abcdef0123456789abcdef"
#define CLIP_B "clp_fedcba9876543210fedcba9876543210"

static const char B64URL[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static void encode_ok(const char *clip, char out[CURSOR_LEN + 1])
{
    memset(out, '#', CURSOR_LEN + 1);
    assert_true(cursor_encode(KEY, KEY_LEN, clip, out));
    assert_int_equal(strlen(out), CURSOR_LEN);
}

static bool decodes(const char *text, size_t len)
{
    char clip[4 + CURSOR_PAYLOAD_LEN + 1];
    return cursor_decode(KEY, KEY_LEN, text, len, clip);
}

static void test_round_trip(void **state)
{
    (void)state;
    static const char *const clips[] = {CLIP_A, CLIP_B, "clp_00000000000000000000000000000000",
                                        "clp_ffffffffffffffffffffffffffffffff"};
    for (size_t i = 0; i < ARRAY_LEN(clips); i++) {
        char cur[CURSOR_LEN + 1], clip[4 + CURSOR_PAYLOAD_LEN + 1];
        encode_ok(clips[i], cur);
        memset(clip, '#', sizeof clip);
        assert_true(cursor_decode(KEY, KEY_LEN, cur, strlen(cur), clip));
        assert_string_equal(clip, clips[i]);
    }
}

/* Shape: 32 lowercase hex, '.', 43 base64url characters; deterministic for one key. */
static void test_shape_and_determinism(void **state)
{
    (void)state;
    char a1[CURSOR_LEN + 1], a2[CURSOR_LEN + 1], b[CURSOR_LEN + 1], other[CURSOR_LEN + 1];
    encode_ok(CLIP_A, a1);
    encode_ok(CLIP_A, a2);
    encode_ok(CLIP_B, b);
    assert_string_equal(a1, a2);
    assert_string_not_equal(a1, b);
    assert_memory_equal(a1, CLIP_A + 4, CURSOR_PAYLOAD_LEN);
    assert_int_equal(a1[CURSOR_PAYLOAD_LEN], '.');
    for (size_t i = CURSOR_PAYLOAD_LEN + 1; i < CURSOR_LEN; i++)
        assert_non_null(strchr(B64URL, a1[i]));
    /* the last character carries 4 bits: its 2 low bits are zero */
    size_t last = (size_t)(strchr(B64URL, a1[CURSOR_LEN - 1]) - B64URL);
    assert_int_equal(last & 3, 0);
    /* another key, another signature over the same payload */
    assert_true(cursor_encode(OTHER_KEY, OTHER_KEY_LEN, CLIP_A, other));
    assert_memory_equal(other, a1, CURSOR_PAYLOAD_LEN + 1);
    assert_string_not_equal(other, a1);
}

/* A bare HMAC-SHA256 of the payload under the same key (no domain-separation context), in
 * the cursor's own base64url form, is a home-made cursor and must not pass: signatures made
 * with this key for anything else are never cursors. */
static void test_bare_hmac_of_payload_rejected(void **state)
{
    (void)state;
    char cur[CURSOR_LEN + 1];
    encode_ok(CLIP_A, cur);

    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int mac_len = 0;
    const char *payload = CLIP_A + 4;
    assert_non_null(HMAC(EVP_sha256(), KEY, (int)KEY_LEN, (const unsigned char *)payload,
                         CURSOR_PAYLOAD_LEN, mac, &mac_len));
    assert_int_equal(mac_len, 32);
    unsigned char b64[64];
    int n = EVP_EncodeBlock(b64, mac, 32); /* standard base64 with '=' padding */
    assert_int_equal(n, 44);
    char forged[CURSOR_LEN + 2];
    memcpy(forged, payload, CURSOR_PAYLOAD_LEN);
    forged[CURSOR_PAYLOAD_LEN] = '.';
    for (int i = 0; i < 43; i++)
        forged[CURSOR_PAYLOAD_LEN + 1 + i] = b64[i] == '+' ? '-' : b64[i] == '/' ? '_' : (char)b64[i];
    forged[CURSOR_LEN] = '\0';
    assert_false(decodes(forged, CURSOR_LEN));
}

static void test_wrong_key_rejected(void **state)
{
    (void)state;
    char cur[CURSOR_LEN + 1], clip[4 + CURSOR_PAYLOAD_LEN + 1];
    encode_ok(CLIP_A, cur);
    assert_false(cursor_decode(OTHER_KEY, OTHER_KEY_LEN, cur, CURSOR_LEN, clip));
    assert_false(cursor_decode(KEY, KEY_LEN - 1, cur, CURSOR_LEN, clip));
    assert_false(cursor_decode((const unsigned char *)"short", 5, cur, CURSOR_LEN, clip));
    /* and a cursor from the other key does not pass under this one */
    char other[CURSOR_LEN + 1];
    assert_true(cursor_encode(OTHER_KEY, OTHER_KEY_LEN, CLIP_A, other));
    assert_false(decodes(other, CURSOR_LEN));
}

/* Every single-character substitution, at every position, with every byte value. */
static void test_every_substitution_rejected(void **state)
{
    (void)state;
    char cur[CURSOR_LEN + 1];
    encode_ok(CLIP_B, cur);
    int accepted = 0;
    for (size_t pos = 0; pos < CURSOR_LEN; pos++) {
        for (int c = 0; c < 256; c++) {
            if ((char)c == cur[pos])
                continue;
            char edit[CURSOR_LEN + 1];
            memcpy(edit, cur, sizeof edit);
            edit[pos] = (char)c;
            if (decodes(edit, CURSOR_LEN)) {
                if (accepted++ < 10)
                    print_error("accepted an edit at %zu: 0x%02x instead of '%c'\n", pos, c, cur[pos]);
            }
        }
    }
    assert_int_equal(accepted, 0);
}

/* The named edits SPEC.md calls out: a hex digit's case and the unused bits of the last
 * base64 character. */
static void test_case_flips_and_unused_bits_rejected(void **state)
{
    (void)state;
    /* pick ids whose payloads contain letters a-f so there is something to flip */
    char cur[CURSOR_LEN + 1];
    encode_ok(CLIP_A, cur);
    int flips = 0;
    for (size_t pos = 0; pos < CURSOR_PAYLOAD_LEN; pos++)
        if (cur[pos] >= 'a' && cur[pos] <= 'f') {
            char edit[CURSOR_LEN + 1];
            memcpy(edit, cur, sizeof edit);
            edit[pos] = (char)(cur[pos] - 'a' + 'A');
            assert_false(decodes(edit, CURSOR_LEN));
            flips++;
        }
    assert_int_equal(flips, 12);
    /* whole payload upper-cased */
    char upper[CURSOR_LEN + 1];
    memcpy(upper, cur, sizeof upper);
    for (size_t pos = 0; pos < CURSOR_PAYLOAD_LEN; pos++)
        if (upper[pos] >= 'a' && upper[pos] <= 'f')
            upper[pos] = (char)(upper[pos] - 'a' + 'A');
    assert_false(decodes(upper, CURSOR_LEN));

    /* case flips in the signature */
    for (size_t pos = CURSOR_PAYLOAD_LEN + 1; pos < CURSOR_LEN; pos++) {
        char c = cur[pos], f = c;
        if (c >= 'a' && c <= 'z')
            f = (char)(c - 'a' + 'A');
        else if (c >= 'A' && c <= 'Z')
            f = (char)(c - 'A' + 'a');
        if (f == c)
            continue;
        char edit[CURSOR_LEN + 1];
        memcpy(edit, cur, sizeof edit);
        edit[pos] = f;
        assert_false(decodes(edit, CURSOR_LEN));
    }

    /* the last character's 2 unused bits: the 3 other characters that carry the same 4 data
     * bits would decode to the same MAC in a lax decoder */
    size_t last = (size_t)(strchr(B64URL, cur[CURSOR_LEN - 1]) - B64URL);
    for (size_t low = 1; low < 4; low++) {
        char edit[CURSOR_LEN + 1];
        memcpy(edit, cur, sizeof edit);
        edit[CURSOR_LEN - 1] = B64URL[(last & ~(size_t)3) | low];
        assert_false(decodes(edit, CURSOR_LEN));
    }
    /* and the standard-alphabet twins of '-' and '_' */
    for (size_t pos = CURSOR_PAYLOAD_LEN + 1; pos < CURSOR_LEN; pos++) {
        if (cur[pos] != '-' && cur[pos] != '_')
            continue;
        char edit[CURSOR_LEN + 1];
        memcpy(edit, cur, sizeof edit);
        edit[pos] = cur[pos] == '-' ? '+' : '/';
        assert_false(decodes(edit, CURSOR_LEN));
    }
}

static void test_truncated_and_extended_rejected(void **state)
{
    (void)state;
    char cur[CURSOR_LEN + 1];
    encode_ok(CLIP_A, cur);
    /* every truncation (prefix) */
    for (size_t len = 0; len < CURSOR_LEN; len++)
        assert_false(decodes(cur, len));
    /* every single-character deletion */
    for (size_t pos = 0; pos < CURSOR_LEN; pos++) {
        char edit[CURSOR_LEN + 1];
        memcpy(edit, cur, pos);
        memcpy(edit + pos, cur + pos + 1, CURSOR_LEN - pos);
        assert_false(decodes(edit, CURSOR_LEN - 1));
    }
    /* every single-character insertion, and appended padding / whitespace / NUL */
    static const char extra[] = {'0', 'a', 'A', '=', '.', ' ', '\n', '\0'};
    for (size_t pos = 0; pos <= CURSOR_LEN; pos++)
        for (size_t e = 0; e < sizeof extra; e++) {
            char edit[CURSOR_LEN + 2];
            memcpy(edit, cur, pos);
            edit[pos] = extra[e];
            memcpy(edit + pos, cur + pos, CURSOR_LEN - pos + 1);
            assert_false(decodes(edit, CURSOR_LEN + 1));
        }
    char padded[CURSOR_LEN + 8];
    snprintf(padded, sizeof padded, "%s=", cur);
    assert_false(decodes(padded, strlen(padded)));
    snprintf(padded, sizeof padded, " %s", cur);
    assert_false(decodes(padded, strlen(padded)));
}

static void test_home_made_rejected(void **state)
{
    (void)state;
    char cur[CURSOR_LEN + 1];
    encode_ok(CLIP_A, cur);
    static const char *const inputs[] = {
        "",
        ".",
        "0123456789abcdef0123456789abcdef",
        "0123456789abcdef0123456789abcdef.",
        "clp_0123456789abcdef0123456789abcdef",
        "0123456789abcdef0123456789abcdef.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        "0123456789abcdef0123456789abcdef.___________________________________________",
        "0123456789abcdef0123456789abcdef.-------------------------------------------",
        "00000000000000000000000000000000.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        "............................................................................",
        "null",
        "MA==",
    };
    for (size_t i = 0; i < ARRAY_LEN(inputs); i++)
        assert_false(decodes(inputs[i], strlen(inputs[i])));

    /* a valid signature pasted onto another payload */
    char b[CURSOR_LEN + 1], swap[CURSOR_LEN + 1];
    encode_ok(CLIP_B, b);
    memcpy(swap, cur, CURSOR_PAYLOAD_LEN + 1);
    memcpy(swap + CURSOR_PAYLOAD_LEN + 1, b + CURSOR_PAYLOAD_LEN + 1, CURSOR_SIG_LEN + 1);
    assert_false(decodes(swap, CURSOR_LEN));
    /* payload and signature the other way round */
    char rev[CURSOR_LEN + 1];
    memcpy(rev, cur + CURSOR_PAYLOAD_LEN + 1, CURSOR_SIG_LEN);
    rev[CURSOR_SIG_LEN] = '.';
    memcpy(rev + CURSOR_SIG_LEN + 1, cur, CURSOR_PAYLOAD_LEN);
    rev[CURSOR_LEN] = '\0';
    assert_false(decodes(rev, CURSOR_LEN));
    /* a different separator */
    char sep[CURSOR_LEN + 1];
    memcpy(sep, cur, sizeof sep);
    sep[CURSOR_PAYLOAD_LEN] = '_';
    assert_false(decodes(sep, CURSOR_LEN));
}

/* The length given is what is verified: a valid cursor inside a longer buffer is accepted only
 * with its exact length. */
static void test_length_is_exact(void **state)
{
    (void)state;
    char cur[CURSOR_LEN + 1], buf[CURSOR_LEN + 16];
    encode_ok(CLIP_A, cur);
    snprintf(buf, sizeof buf, "%sjunk", cur);
    assert_true(decodes(buf, CURSOR_LEN));
    assert_false(decodes(buf, strlen(buf)));
}

static void test_encode_refuses_non_clip_ids(void **state)
{
    (void)state;
    static const char *const ids[] = {
        "",
        "clp_",
        "clp_0123456789abcdef0123456789abcde",   /* 31 hex */
        "clp_0123456789abcdef0123456789abcdef0", /* 33 hex */
        "ctr_0123456789abcdef0123456789abcdef",
        "sub_0123456789abcdef0123456789abcdef",
        "CLP_0123456789abcdef0123456789abcdef",
        "clp-0123456789abcdef0123456789abcdef",
        "0123456789abcdef0123456789abcdef",
        "xclp_0123456789abcdef0123456789abcde",
    };
    for (size_t i = 0; i < ARRAY_LEN(ids); i++) {
        char out[CURSOR_LEN + 1];
        if (cursor_encode(KEY, KEY_LEN, ids[i], out)) {
            print_error("cursor_encode accepted '%s'\n", ids[i]);
            fail();
        }
    }
}

/* Whatever encode agrees to sign must decode again: an id that is not "clp_" + 32 LOWERCASE
 * hex digits (what the server issues) has to be refused up front, otherwise the server
 * hands out a next_cursor that its own GET /clips then answers with 400 "Invalid cursor". */
static void test_encode_output_always_decodes(void **state)
{
    (void)state;
    static const char *const ids[] = {
        CLIP_A,
        "clp_0123456789ABCDEF0123456789ABCDEF", /* uppercase hex */
        "clp_0123456789abcdef0123456789abcdeG", /* not hex */
        "clp_0123456789abcdef0123456789abcd.f", /* separator inside */
        "clp_                                ",
    };
    int bad = 0;
    for (size_t i = 0; i < ARRAY_LEN(ids); i++) {
        char out[CURSOR_LEN + 1];
        if (cursor_encode(KEY, KEY_LEN, ids[i], out) && !decodes(out, strlen(out))) {
            print_error("cursor_encode('%s') issued '%s', which cursor_decode rejects\n", ids[i], out);
            bad++;
        }
    }
    assert_int_equal(bad, 0);
}

/* Cursors over other lists carry their own prefix in what is signed: a report cursor round
 * trips, and is no clip or audit cursor (nor the other way round). */
static void test_other_lists_have_their_own_cursors(void **state)
{
    (void)state;
    const char *rpt = "rpt_0123456789abcdef0123456789abcdef", *act = "act_0123456789abcdef0123456789abcdef",
               *clp = "clp_0123456789abcdef0123456789abcdef";
    char c_rpt[CURSOR_LEN + 1], c_act[CURSOR_LEN + 1], c_clp[CURSOR_LEN + 1], id[40];
    assert_true(cursor_encode_id(KEY, KEY_LEN, rpt, c_rpt));
    assert_true(cursor_encode_id(KEY, KEY_LEN, act, c_act));
    assert_true(cursor_encode_id(KEY, KEY_LEN, clp, c_clp));
    assert_true(cursor_decode_id(KEY, KEY_LEN, "rpt_", c_rpt, strlen(c_rpt), id));
    assert_string_equal(id, rpt);
    assert_true(cursor_decode_id(KEY, KEY_LEN, "act_", c_act, strlen(c_act), id));
    assert_string_equal(id, act);
    assert_string_not_equal(c_rpt, c_act);
    assert_false(cursor_decode_id(KEY, KEY_LEN, "act_", c_rpt, strlen(c_rpt), id));
    assert_false(cursor_decode_id(KEY, KEY_LEN, "rpt_", c_clp, strlen(c_clp), id));
    assert_false(cursor_decode(KEY, KEY_LEN, c_rpt, strlen(c_rpt), id));
    /* Clip cursors are what they always were. */
    char old[CURSOR_LEN + 1];
    assert_true(cursor_encode(KEY, KEY_LEN, clp, old));
    assert_string_equal(old, c_clp);
    assert_true(cursor_decode(KEY, KEY_LEN, c_clp, strlen(c_clp), id));
    assert_false(cursor_encode_id(KEY, KEY_LEN, "rpt-0123456789abcdef0123456789abcdef", c_rpt));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_shape_and_determinism),
        cmocka_unit_test(test_bare_hmac_of_payload_rejected),
        cmocka_unit_test(test_wrong_key_rejected),
        cmocka_unit_test(test_every_substitution_rejected),
        cmocka_unit_test(test_case_flips_and_unused_bits_rejected),
        cmocka_unit_test(test_truncated_and_extended_rejected),
        cmocka_unit_test(test_home_made_rejected),
        cmocka_unit_test(test_length_is_exact),
        cmocka_unit_test(test_encode_refuses_non_clip_ids),
        cmocka_unit_test(test_encode_output_always_decodes),
        cmocka_unit_test(test_other_lists_have_their_own_cursors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
