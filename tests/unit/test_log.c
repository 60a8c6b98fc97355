/* log.c: the timestamp every line starts with, and the access lines an I/O loop batches
 * (whole lines, at most PIPE_BUF bytes per write, nothing held past a flush). For each test
 * standard output is swapped for one end of a SOCK_SEQPACKET pair, so every write(2) arrives
 * as one record and its boundaries can be checked. */
#include "unit.h"

#include "log.h"

#include <poll.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static int reader = -1, saved_stdout = -1;

static int swap_stdout(void **state)
{
    (void)state;
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv) != 0)
        return -1;
    fflush(stdout);
    saved_stdout = dup(STDOUT_FILENO);
    dup2(sv[1], STDOUT_FILENO);
    close(sv[1]);
    reader = sv[0];
    return 0;
}

static int restore_stdout(void **state)
{
    (void)state;
    log_batch_access(false);
    dup2(saved_stdout, STDOUT_FILENO);
    close(saved_stdout);
    close(reader);
    return 0;
}

/* The next write(2) that reached standard output, or -1 if none is waiting. */
static ssize_t next_write(char *buf, size_t cap)
{
    struct pollfd p = {reader, POLLIN, 0};
    if (poll(&p, 1, 0) != 1)
        return -1;
    return recv(reader, buf, cap, 0);
}

static void line_of(char *line, size_t cap, int n, size_t len)
{
    assert_true(len < cap);
    memset(line, 'a' + n % 26, len - 1);
    line[len - 1] = '\n';
}

static void test_unbatched_lines_are_written_at_once(void **state)
{
    (void)state;
    char buf[8192];
    log_access_line("one\n", 4);
    assert_int_equal(next_write(buf, sizeof buf), 4);
    assert_memory_equal(buf, "one\n", 4);
}

static void test_batched_lines_wait_for_the_flush(void **state)
{
    (void)state;
    char buf[8192];
    log_batch_access(true);
    log_access_line("one\n", 4);
    log_access_line("two\n", 4);
    assert_int_equal(next_write(buf, sizeof buf), -1); /* nothing yet */
    log_flush_access();
    assert_int_equal(next_write(buf, sizeof buf), 8); /* both lines, one write */
    assert_memory_equal(buf, "one\ntwo\n", 8);
    log_flush_access();
    assert_int_equal(next_write(buf, sizeof buf), -1); /* an empty flush writes nothing */
    log_access_line("three\n", 6);
    log_batch_access(false); /* what waits is written when batching ends */
    assert_int_equal(next_write(buf, sizeof buf), 6);
}

static void test_batches_hold_whole_lines_within_pipe_buf(void **state)
{
    (void)state;
    char line[1600], buf[8192];
    size_t total = 0, seen = 0;
    log_batch_access(true);
    for (int i = 0; i < 40; i++) {
        size_t len = 150 + (size_t)(i * 37) % 1400;
        line_of(line, sizeof line, i, len);
        log_access_line(line, len);
        total += len;
    }
    log_flush_access();
    ssize_t n;
    int writes = 0;
    while ((n = next_write(buf, sizeof buf)) > 0) {
        writes++;
        assert_true(n <= 4096);
        assert_int_equal(buf[n - 1], '\n'); /* each write ends a line: none is split */
        seen += (size_t)n;
    }
    assert_int_equal(seen, total);
    assert_true(writes > 1 && writes < 40);
    log_batch_access(false);
}

static void test_timestamp_shape_and_clock(void **state)
{
    (void)state;
    char a[28], b[28];
    time_t before = time(NULL);
    log_timestamp(a);
    log_timestamp(b);
    time_t after = time(NULL);
    for (const char *t = a; t; t = t == a ? b : NULL) {
        assert_int_equal(strlen(t), 27);
        assert_int_equal(t[4], '-');
        assert_int_equal(t[10], 'T');
        assert_int_equal(t[19], '.');
        assert_int_equal(t[26], 'Z');
        for (int i = 20; i < 26; i++)
            assert_true(t[i] >= '0' && t[i] <= '9');
    }
    assert_true(strcmp(a, b) <= 0); /* a later call never reads earlier */
    struct tm tm;
    char secs[20];
    gmtime_r(&before, &tm);
    strftime(secs, sizeof secs, "%Y-%m-%dT%H:%M:%S", &tm);
    bool matches = strncmp(a, secs, 19) == 0;
    gmtime_r(&after, &tm);
    strftime(secs, sizeof secs, "%Y-%m-%dT%H:%M:%S", &tm);
    assert_true(matches || strncmp(a, secs, 19) == 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_unbatched_lines_are_written_at_once, swap_stdout, restore_stdout),
        cmocka_unit_test_setup_teardown(test_batched_lines_wait_for_the_flush, swap_stdout, restore_stdout),
        cmocka_unit_test_setup_teardown(test_batches_hold_whole_lines_within_pipe_buf, swap_stdout, restore_stdout),
        cmocka_unit_test(test_timestamp_shape_and_clock),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
