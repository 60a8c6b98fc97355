/* text_trim(), text_codepoints(), text_is_lower_hex(). */
#include "unit.h"

#include "domain/text.h"

static void trimmed(const char *in, size_t len, const char *want, size_t want_len)
{
    const char *s = in;
    size_t n = len;
    text_trim(&s, &n);
    if (n != want_len || memcmp(s, want, n) != 0) {
        unit_print_bytes("trim of", in, len);
        unit_print_bytes("    gave", s, n);
        fail();
    }
    /* the result points into the input */
    assert_true(s >= in && s + n <= in + len);
}

#define TRIM(in, want) trimmed(in, sizeof(in) - 1, want, sizeof(want) - 1)

static void test_trim(void **state)
{
    (void)state;
    TRIM("", "");
    TRIM(" ", "");
    TRIM(" \t\n\r\f\v", "");
    TRIM("abc", "abc");
    TRIM("  abc", "abc");
    TRIM("abc  ", "abc");
    TRIM("\t\r\n abc \n\r\t", "abc");
    TRIM(" a b  c ", "a b  c");
    TRIM("\xc2\xa0" "abc" "\xc2\xa0", "\xc2\xa0" "abc" "\xc2\xa0"); /* NBSP is not ASCII */
    TRIM("\xe2\x80\x83x", "\xe2\x80\x83x");                         /* em space neither */
    TRIM(" \0 ", "\0");                                             /* NUL is not space */
    TRIM("x\0 ", "x\0");
    /* only len bytes are looked at */
    trimmed("  ab  cd", 4, "ab", 2);
    trimmed("ab", 0, "", 0);
}

static void test_codepoints(void **state)
{
    (void)state;
    assert_int_equal(text_codepoints("", 0), 0);
    assert_int_equal(text_codepoints("abc", 3), 3);
    assert_int_equal(text_codepoints("\xc3\xa9", 2), 1);               /* é */
    assert_int_equal(text_codepoints("\xe2\x82\xac", 3), 1);           /* € */
    assert_int_equal(text_codepoints("\xf0\x9f\x8e\xb8", 4), 1);       /* 🎸 */
    assert_int_equal(text_codepoints("a\xc3\xa9\xe2\x82\xac\xf0\x9f\x8e\xb8z", 11), 5);
    assert_int_equal(text_codepoints("e\xcc\x81", 3), 2);              /* e + combining acute */
    /* family emoji: 4 people joined by 3 zero-width joiners = 7 code points */
    const char *family = "\xf0\x9f\x91\xa8\xe2\x80\x8d\xf0\x9f\x91\xa9\xe2\x80\x8d"
                         "\xf0\x9f\x91\xa7\xe2\x80\x8d\xf0\x9f\x91\xa6";
    assert_int_equal(text_codepoints(family, strlen(family)), 7);
    assert_int_equal(text_codepoints("ab\0cd", 5), 5);                /* NUL counts */
    assert_int_equal(text_codepoints("\xf0\x9f\x8e\xb8", 2), 1);       /* len bounds it */
}

static void test_lower_hex(void **state)
{
    (void)state;
    assert_true(text_is_lower_hex("", 0));
    assert_true(text_is_lower_hex("0123456789abcdef", 16));
    assert_false(text_is_lower_hex("0123456789ABCDEF", 16));
    assert_false(text_is_lower_hex("A", 1));
    assert_false(text_is_lower_hex("g", 1));
    assert_false(text_is_lower_hex("-", 1));
    assert_false(text_is_lower_hex(" ", 1));
    assert_false(text_is_lower_hex("0x1f", 4));
    assert_false(text_is_lower_hex("ab\0c", 4));
    assert_true(text_is_lower_hex("abZ", 2)); /* len bounds it */
    for (int c = 0; c < 256; c++) {
        char ch = (char)c;
        bool want = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
        if (text_is_lower_hex(&ch, 1) != want) {
            print_error("byte 0x%02x\n", c);
            fail();
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_trim),
        cmocka_unit_test(test_codepoints),
        cmocka_unit_test(test_lower_hex),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
