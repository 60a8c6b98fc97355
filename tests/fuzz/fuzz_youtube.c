/* libFuzzer target: YouTube input → video id (src/domain/youtube.c).
 * Besides "no crash, no UB", it checks what SPEC.md promises about an accepted input:
 * the id is exactly 11 characters of [A-Za-z0-9_-], it occurs in the input, parsing is
 * deterministic and unaffected by surrounding whitespace, and the id parses to itself in
 * every accepted URL form (bare, youtu.be, /watch?v=, /shorts/). A rejection always comes
 * with a reason. */
#include "domain/youtube.h"

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

static int id_char(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           c == '_' || c == '-';
}

/* The parser must accept `text` and produce `want`. */
static void must_give(const char *text, const char *want)
{
    char id[YOUTUBE_ID_LEN + 1];
    const char *reason = NULL;
    CHECK(youtube_video_id(text, strlen(text), id, &reason), "'%s' rejected (%s)", text,
          reason ? reason : "no reason");
    CHECK(strcmp(id, want) == 0, "'%s' gave '%s', expected '%s'", text, id, want);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* An exact-size heap copy, so ASan catches any read past the end of the input. */
    char *in = malloc(size ? size : 1);
    if (!in)
        return 0;
    memcpy(in, data, size);

    char id[YOUTUBE_ID_LEN + 1], id2[YOUTUBE_ID_LEN + 1];
    memset(id, 'X', sizeof id);
    const char *reason = NULL, *reason2 = NULL;
    bool ok = youtube_video_id(in, size, id, &reason);

    /* Deterministic. */
    bool ok2 = youtube_video_id(in, size, id2, &reason2);
    CHECK(ok == ok2, "two calls disagree");

    if (!ok) {
        CHECK(reason != NULL && reason[0] != '\0', "rejected without a reason");
        CHECK(reason2 == reason, "two calls give different reasons");
    } else {
        CHECK(id[YOUTUBE_ID_LEN] == '\0', "id not NUL-terminated");
        CHECK(strlen(id) == YOUTUBE_ID_LEN, "id length %zu", strlen(id));
        for (int i = 0; i < YOUTUBE_ID_LEN; i++)
            CHECK(id_char(id[i]), "illegal character 0x%02x in id", (unsigned char)id[i]);
        CHECK(strcmp(id, id2) == 0, "two calls give different ids");
        CHECK(memmem(in, size, id, YOUTUBE_ID_LEN) != NULL, "id '%s' does not occur in the input", id);

        /* Surrounding whitespace is ignored. */
        char *padded = malloc(size + 4);
        if (padded) {
            memcpy(padded, " \t", 2);
            memcpy(padded + 2, in, size);
            memcpy(padded + 2 + size, "\n ", 2);
            CHECK(youtube_video_id(padded, size + 4, id2, &reason2) && strcmp(id, id2) == 0,
                  "whitespace around an accepted input changed the result");
            free(padded);
        }

        /* The id round-trips through every canonical form. */
        char url[96];
        must_give(id, id);
        snprintf(url, sizeof url, "https://youtu.be/%s", id);
        must_give(url, id);
        snprintf(url, sizeof url, "https://www.youtube.com/watch?v=%s", id);
        must_give(url, id);
        snprintf(url, sizeof url, "youtube.com/watch?feature=share&v=%s#t=1", id);
        must_give(url, id);
        snprintf(url, sizeof url, "http://m.youtube.com/shorts/%s?si=x", id);
        must_give(url, id);
    }

    /* Lookalike hosts never pass, whatever follows. */
    if (size < 200) {
        char evil[300];
        int n = snprintf(evil, sizeof evil, "https://evil.example/watch?v=%.*s", (int)size, in);
        if (n > 0 && (size_t)n < sizeof evil && !memchr(in, '\0', size))
            CHECK(!youtube_video_id(evil, (size_t)n, id2, &reason2),
                  "'%s' accepted although its host is not YouTube", evil);
    }
    free(in);
    return 0;
}
