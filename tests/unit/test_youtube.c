/* youtube_video_id(): SPEC.md "YouTube input → video id". Every accepted form must yield the
 * exact id; every other input must be rejected with a non-empty reason sentence. */
#include "unit.h"

#include "domain/youtube.h"

#include <stdlib.h>

#define ID "dQw4w9WgXcQ"
#define ID2 "a_B-9zZ0y-_" /* uses both punctuation characters */

struct accept_case {
    const char *input;
    const char *id;
};

/* Runs youtube_video_id on `len` bytes; checks the verdict and, on acceptance, the id. */
static bool check_one(const char *input, size_t len, const char *want_id)
{
    char id[YOUTUBE_ID_LEN + 1];
    const char *reason = NULL;
    memset(id, '#', sizeof id);
    bool ok = youtube_video_id(input, len, id, &reason);
    if (want_id) {
        if (!ok) {
            unit_print_bytes("rejected but should be accepted:", input, len);
            print_error("    reason: %s\n", reason ? reason : "(null)");
            return false;
        }
        if (memchr(id, '\0', sizeof id) == NULL || strcmp(id, want_id) != 0) {
            unit_print_bytes("wrong id for", input, len);
            print_error("    want %s, got %.12s\n", want_id, id);
            return false;
        }
        return true;
    }
    if (ok) {
        unit_print_bytes("accepted but should be rejected:", input, len);
        print_error("    id: %s\n", id);
        return false;
    }
    if (!reason || strlen(reason) < 10 || reason[strlen(reason) - 1] != '.') {
        unit_print_bytes("rejected without a reason sentence:", input, len);
        return false;
    }
    return true;
}

static void run_accepts(const struct accept_case *cases, size_t n)
{
    int bad = 0;
    for (size_t i = 0; i < n; i++)
        if (!check_one(cases[i].input, strlen(cases[i].input), cases[i].id))
            bad++;
    assert_int_equal(bad, 0);
}

static void run_rejects(const char *const *inputs, size_t n)
{
    int bad = 0;
    for (size_t i = 0; i < n; i++)
        if (!check_one(inputs[i], strlen(inputs[i]), NULL))
            bad++;
    assert_int_equal(bad, 0);
}

static void test_bare_id(void **state)
{
    (void)state;
    static const struct accept_case cases[] = {
        {ID, ID},
        {ID2, ID2},
        {"-----------", "-----------"},
        {"___________", "___________"},
        {"00000000000", "00000000000"},
        {"  " ID "  ", ID},
        {"\t\r\n" ID "\n", ID},
    };
    run_accepts(cases, ARRAY_LEN(cases));
}

/* Every host × every scheme × every path form. */
static void test_host_scheme_path_matrix(void **state)
{
    (void)state;
    static const char *const schemes[] = {"", "http://", "https://", "HTTP://", "HTTPS://", "Https://"};
    static const char *const hosts[] = {"youtube.com", "www.youtube.com", "m.youtube.com",
                                        "music.youtube.com", "www.youtube-nocookie.com",
                                        "YOUTUBE.COM", "WWW.YouTube.com", "M.YOUTUBE.COM",
                                        "Music.YouTube.Com", "WWW.YOUTUBE-NOCOOKIE.COM"};
    static const char *const paths[] = {"/watch?v=" ID2, "/shorts/" ID2, "/embed/" ID2,
                                        "/live/" ID2, "/v/" ID2};
    int bad = 0, total = 0;
    char buf[256];
    for (size_t s = 0; s < ARRAY_LEN(schemes); s++)
        for (size_t h = 0; h < ARRAY_LEN(hosts); h++)
            for (size_t p = 0; p < ARRAY_LEN(paths); p++) {
                snprintf(buf, sizeof buf, "%s%s%s", schemes[s], hosts[h], paths[p]);
                total++;
                if (!check_one(buf, strlen(buf), ID2))
                    bad++;
            }
    assert_int_equal(total, 6 * 10 * 5);
    assert_int_equal(bad, 0);
}

static void test_youtu_be(void **state)
{
    (void)state;
    static const struct accept_case cases[] = {
        {"youtu.be/" ID, ID},
        {"http://youtu.be/" ID, ID},
        {"https://youtu.be/" ID, ID},
        {"HTTPS://YOUTU.BE/" ID, ID},
        {"https://youtu.be/" ID2, ID2},
        {"https://youtu.be/" ID "?t=42", ID},
        {"https://youtu.be/" ID "?si=AbCdEfGhIjKlMnOp", ID},
        {"https://youtu.be/" ID "?feature=shared&t=1m2s", ID},
        {"https://youtu.be/" ID "#t=30", ID},
        {"https://youtu.be/" ID "?t=1#frag", ID},
        {"  https://youtu.be/" ID "\n", ID},
    };
    run_accepts(cases, ARRAY_LEN(cases));
}

static void test_watch_query_positions(void **state)
{
    (void)state;
    static const struct accept_case cases[] = {
        {"https://www.youtube.com/watch?v=" ID, ID},
        {"https://www.youtube.com/watch?v=" ID "&t=42s", ID},                 /* v first */
        {"https://www.youtube.com/watch?feature=share&v=" ID, ID},            /* v last */
        {"https://www.youtube.com/watch?t=1&v=" ID "&si=xyz", ID},            /* v among others */
        {"https://www.youtube.com/watch?list=PL123&index=2&v=" ID "&t=9", ID},
        {"https://www.youtube.com/watch?vv=zzz&v=" ID, ID},                  /* vv is not v */
        {"https://www.youtube.com/watch?xv=" ID2 "&v=" ID, ID},              /* xv is not v */
        {"https://www.youtube.com/watch?&v=" ID, ID},                        /* empty pair */
        {"https://www.youtube.com/watch?v=" ID "&", ID},
        {"https://m.youtube.com/watch?v=" ID "&feature=youtu.be", ID},
        {"https://music.youtube.com/watch?v=" ID "&list=RDAMVM" ID, ID},
        {"https://www.youtube.com/watch?v=" ID "#t=1m", ID},                  /* fragment */
        {"https://www.youtube.com/watch?v=" ID "&t=3#comments", ID},
        {"youtube.com/watch?v=" ID, ID},                                      /* no scheme */
        {"www.youtube.com/watch?si=abc&v=" ID, ID},
        {" \t https://www.youtube.com/watch?v=" ID " \r\n", ID},               /* whitespace */
    };
    run_accepts(cases, ARRAY_LEN(cases));
}

static void test_path_forms_with_extras(void **state)
{
    (void)state;
    static const struct accept_case cases[] = {
        {"https://www.youtube.com/shorts/" ID "?feature=share", ID},
        {"https://youtube.com/shorts/" ID "?si=AbC123", ID},
        {"https://www.youtube.com/embed/" ID "?start=30&autoplay=1", ID},
        {"https://www.youtube-nocookie.com/embed/" ID "?rel=0", ID},
        {"https://www.youtube.com/live/" ID "?si=x&t=10", ID},
        {"https://www.youtube.com/v/" ID "?version=3", ID},
        {"https://www.youtube.com/shorts/" ID "#x", ID},
        {"https://www.youtube.com/embed/" ID "#t=5", ID},
    };
    run_accepts(cases, ARRAY_LEN(cases));
}

static void test_other_hosts_rejected(void **state)
{
    (void)state;
    static const char *const inputs[] = {
        "https://evil.com/watch?v=" ID,
        "evil.com/watch?v=" ID,
        "https://example.com/?v=" ID,
        "https://youtube.com.evil.com/watch?v=" ID,
        "https://www.youtube.com.evil.com/watch?v=" ID,
        "https://evilyoutube.com/watch?v=" ID,
        "https://notyoutube.com/watch?v=" ID,
        "https://youtube.co/watch?v=" ID,
        "https://youtube.org/watch?v=" ID,
        "https://www.youtube.de/watch?v=" ID,
        "https://youtube-nocookie.com/embed/" ID,     /* only www. is listed */
        "https://gaming.youtube.com/watch?v=" ID,
        "https://www.m.youtube.com/watch?v=" ID,
        "https://youtu.be.evil.com/" ID,
        "https://evil.com/youtu.be/" ID,
        "https://www.youtu.be/" ID,
        "https://evil.com/youtube.com/watch?v=" ID,
        "https://evil.com?youtube.com/watch?v=" ID,
        "https://evil.com#youtube.com/watch?v=" ID,
        "https://evil.com/shorts/" ID,
        "https://evil.com/embed/" ID,
        "https://vimeo.com/" ID,
        "?v=" ID,
        "/watch?v=" ID,
        "//www.youtube.com/watch?v=" ID,             /* host missing after the slashes */
        "https:/www.youtube.com/watch?v=" ID,
        "https:///www.youtube.com/watch?v=" ID,
        "https://www.youtube.com:8080/watch?v=" ID,  /* not one of the listed hosts */
        "https://www.youtube.com./watch?v=" ID,
        "https://www.youtube.com\\@evil.com/watch?v=" ID,
    };
    run_rejects(inputs, ARRAY_LEN(inputs));
}

static void test_userinfo_tricks_rejected(void **state)
{
    (void)state;
    static const char *const inputs[] = {
        "https://youtube.com@evil.com/watch?v=" ID,
        "https://www.youtube.com@evil.com/watch?v=" ID,
        "https://user:pass@evil.com/watch?v=" ID,
        "https://evil.com@youtube.com/watch?v=" ID, /* userinfo is not a listed form */
        "youtube.com@evil.com/watch?v=" ID,
        "https://youtu.be@evil.com/" ID,
        "https://youtube.com%40evil.com/watch?v=" ID,
        "https://youtube.com%2F@evil.com/watch?v=" ID,
    };
    run_rejects(inputs, ARRAY_LEN(inputs));
}

static void test_wrong_length_ids_rejected(void **state)
{
    (void)state;
    static const char *const inputs[] = {
        "dQw4w9WgXc",          /* 10 */
        "dQw4w9WgXcQQ",        /* 12 */
        "d",
        "https://www.youtube.com/watch?v=dQw4w9WgXc",
        "https://www.youtube.com/watch?v=dQw4w9WgXcQQ",
        "https://www.youtube.com/watch?v=dQw4w9WgXcQ" "dQw4w9WgXcQ",
        "https://youtu.be/dQw4w9WgXc",
        "https://youtu.be/dQw4w9WgXcQQ",
        "https://www.youtube.com/shorts/dQw4w9WgXc",
        "https://www.youtube.com/shorts/dQw4w9WgXcQQ",
        "https://www.youtube.com/embed/dQw4w9WgXc",
        "https://www.youtube.com/embed/dQw4w9WgXcQQ",
        "https://www.youtube.com/live/dQw4w9WgXc",
        "https://www.youtube.com/v/dQw4w9WgXcQQ",
        "https://www.youtube.com/shorts/" ID "/",       /* trailing slash makes it 12 */
        "https://youtu.be/" ID "/extra",
    };
    run_rejects(inputs, ARRAY_LEN(inputs));
}

static void test_illegal_characters_rejected(void **state)
{
    (void)state;
    static const char *const inputs[] = {
        "dQw4w9WgXc%",
        "dQw4w9WgX%51",          /* percent-encoded Q: still not a literal id */
        "dQw4w9 gXcQ",
        "dQw4w9+gXcQ",
        "dQw4w9.gXcQ",
        "dQw4w9/gXcQ",
        "dQw4w9=gXcQ",
        "dQw4w9WgXc\xc3\xa9",     /* é: 11 code points, 12 bytes */
        "dQw4w9WgX\xc3\xa9",      /* é: 10 code points, 11 bytes */
        "\xef\xbc\xa4Qw4w9WgXc",   /* fullwidth D */
        "https://www.youtube.com/watch?v=dQw4w9WgXc%",
        "https://www.youtube.com/watch?v=dQw4w9WgX%51",
        "https://www.youtube.com/watch?v=dQw4w9 gXcQ",
        "https://www.youtube.com/watch?v=dQw4w9+gXcQ",
        "https://www.youtube.com/watch?v=dQw4w9WgX\xc3\xa9",
        "https://www.youtube.com/watch?v= " ID,
        "https://youtu.be/dQw4w9%20XcQ",
        "https://youtu.be/dQw4w9 gXcQ",
        "https://www.youtube.com/shorts/dQw4w9+gXcQ",
        "https://www.youtube.com/embed/dQw4w9WgX\xc3\xa9",
        "https://www.youtube.com/v/dQw4w9WgX\xf0\x9f",
    };
    run_rejects(inputs, ARRAY_LEN(inputs));
}

static void test_empty_ids_rejected(void **state)
{
    (void)state;
    static const char *const inputs[] = {
        "",
        " ",
        " \t\r\n ",
        "youtu.be",
        "youtu.be/",
        "https://youtu.be/",
        "https://youtu.be/?v=" ID,
        "https://youtu.be/#" ID,
        "https://www.youtube.com/watch",
        "https://www.youtube.com/watch?",
        "https://www.youtube.com/watch?v=",
        "https://www.youtube.com/watch?v=&t=1",
        "https://www.youtube.com/watch?t=1",
        "https://www.youtube.com/watch?V=" ID,   /* parameter names are case-sensitive */
        "https://www.youtube.com/watch#?v=" ID,  /* that query is inside the fragment */
        "https://www.youtube.com/watch?t=1#&v=" ID,
        "https://www.youtube.com/shorts/",
        "https://www.youtube.com/shorts",
        "https://www.youtube.com/embed/",
        "https://www.youtube.com/live/",
        "https://www.youtube.com/v/",
        "https://www.youtube.com/",
        "https://www.youtube.com",
        "www.youtube.com",
        "https://",
        "http://",
        "https://www.youtube.com/channel/UCuAXFkgsw1L7xaCfnd5JJOw",
        "https://www.youtube.com/playlist?list=PL" ID,
        "https://www.youtube.com/" ID,
        "https://www.youtube.com/results?search_query=" ID,
    };
    run_rejects(inputs, ARRAY_LEN(inputs));
}

static void test_other_schemes_rejected(void **state)
{
    (void)state;
    static const char *const inputs[] = {
        "ftp://www.youtube.com/watch?v=" ID,
        "ftp://youtu.be/" ID,
        "file:///www.youtube.com/watch?v=" ID,
        "javascript:alert(1)//www.youtube.com/watch?v=" ID,
        "javascript://www.youtube.com/watch?v=" ID,
        "javascript:" ID,
        "data:text/html,https://youtu.be/" ID,
        "ws://www.youtube.com/watch?v=" ID,
        "httpss://www.youtube.com/watch?v=" ID,
        "http//www.youtube.com/watch?v=" ID,
        "https:www.youtube.com/watch?v=" ID,
        "youtube:" ID,
        "vnd.youtube:" ID,
        "http://https://www.youtube.com/watch?v=" ID,
    };
    run_rejects(inputs, ARRAY_LEN(inputs));
}

/* 100 KB of input: bounded work, clean rejection, no over-read (ASan watches). */
static void test_very_long_input_rejected(void **state)
{
    (void)state;
    size_t n = 100 * 1024;
    char *buf = malloc(n);
    assert_non_null(buf);
    int bad = 0;

    memset(buf, 'a', n); /* one huge "id" */
    if (!check_one(buf, n, NULL))
        bad++;

    const char *prefix = "https://www.youtube.com/watch?v=";
    memcpy(buf, prefix, strlen(prefix)); /* a huge v value */
    if (!check_one(buf, n, NULL))
        bad++;

    /* v appears only after 100 KB of other parameters: finding it is fine, but it must be
     * exactly the id. */
    memset(buf, 'a', n);
    const char *head = "https://www.youtube.com/watch?x=";
    const char *tail = "&v=" ID;
    memcpy(buf, head, strlen(head));
    memcpy(buf + n - strlen(tail), tail, strlen(tail));
    if (!check_one(buf, n, ID))
        bad++;

    memset(buf, '/', n); /* nothing but separators */
    if (!check_one(buf, n, NULL))
        bad++;
    memset(buf, '?', n);
    if (!check_one(buf, n, NULL))
        bad++;
    memset(buf, ' ', n); /* all whitespace: empty */
    if (!check_one(buf, n, NULL))
        bad++;
    free(buf);
    assert_int_equal(bad, 0);
}

/* The length, not a terminating NUL, bounds the input: a NUL inside it is just an illegal
 * byte, never the end of the string. */
#define LEN_CASE(lit) {lit, sizeof(lit) - 1}

static void test_embedded_nul_rejected(void **state)
{
    (void)state;
    static const struct {
        const char *s;
        size_t len;
    } cases[] = {
        LEN_CASE(ID "\0"),
        LEN_CASE("\0" ID),
        LEN_CASE("dQw4w\0" "9WgXcQ"),
        LEN_CASE("dQw4w\0" "9WgXc"),
        LEN_CASE("youtu.be/" ID "\0"),
        LEN_CASE("youtu.be/dQw4w\0" "9WgXc"),
        LEN_CASE("youtu.be\0/" ID),
        LEN_CASE("https://www.youtube.com/watch?v=" ID "\0"),
        LEN_CASE("https://www.youtube.com/watch?v=dQw4w\0" "9WgXc"),
        LEN_CASE("https://www.youtube.com\0.evil.com/watch?v=" ID),
        LEN_CASE("https://evil.com\0www.youtube.com/watch?v=" ID),
        LEN_CASE("https://www.youtube.com/shorts/" ID "\0"),
        LEN_CASE("\0"),
    };
    int bad = 0;
    for (size_t i = 0; i < ARRAY_LEN(cases); i++)
        if (!check_one(cases[i].s, cases[i].len, NULL))
            bad++;
    assert_int_equal(bad, 0);
}

/* Only `len` bytes are read: a valid id followed by junk beyond len is accepted, and a valid
 * URL cut short by len is judged on the cut text. */
static void test_length_bounds_the_input(void **state)
{
    (void)state;
    int bad = 0;
    const char *s = ID "EXTRA-GARBAGE";
    if (!check_one(s, YOUTUBE_ID_LEN, ID))
        bad++;
    const char *url = "https://youtu.be/" ID;
    if (!check_one(url, strlen(url) - 1, NULL))
        bad++;
    assert_int_equal(bad, 0);
}

/* Reasons are sentences, and the reason does not depend on stale state from a previous call. */
static void test_reasons_are_sentences(void **state)
{
    (void)state;
    static const char *const inputs[] = {
        "", "x", "https://evil.com/watch?v=" ID, "ftp://youtu.be/" ID, "youtu.be/",
        "https://www.youtube.com/watch?v=", "https://www.youtube.com/channel/x",
        "dQw4w9WgXcQQ", "https://youtu.be/dQw4w9WgX%51",
    };
    for (size_t i = 0; i < ARRAY_LEN(inputs); i++) {
        char id[YOUTUBE_ID_LEN + 1];
        const char *reason = NULL;
        assert_false(youtube_video_id(inputs[i], strlen(inputs[i]), id, &reason));
        assert_non_null(reason);
        assert_true(strlen(reason) >= 10);
        assert_true(reason[0] >= 'A' && reason[0] <= 'Z');
        assert_int_equal(reason[strlen(reason) - 1], '.');
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bare_id),
        cmocka_unit_test(test_host_scheme_path_matrix),
        cmocka_unit_test(test_youtu_be),
        cmocka_unit_test(test_watch_query_positions),
        cmocka_unit_test(test_path_forms_with_extras),
        cmocka_unit_test(test_other_hosts_rejected),
        cmocka_unit_test(test_userinfo_tricks_rejected),
        cmocka_unit_test(test_wrong_length_ids_rejected),
        cmocka_unit_test(test_illegal_characters_rejected),
        cmocka_unit_test(test_empty_ids_rejected),
        cmocka_unit_test(test_other_schemes_rejected),
        cmocka_unit_test(test_very_long_input_rejected),
        cmocka_unit_test(test_embedded_nul_rejected),
        cmocka_unit_test(test_length_bounds_the_input),
        cmocka_unit_test(test_reasons_are_sentences),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
