/*
 * Unit tests for log/: level parsing, the line format, level filtering,
 * long lines, errno left as it was, control characters escaped, and the
 * rate limiting of repeated warnings on a clock the test sets, and the
 * journal's "<N>" priority prefixes when JOURNAL_STREAM names stderr.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "log/log.h"
#include "tests/unit/support/capture.h"

static void test_level_parse(void **state)
{
    (void)state;
    assert_int_equal(log_level_parse("error"), LOG_LEVEL_ERROR);
    assert_int_equal(log_level_parse("warn"), LOG_LEVEL_WARN);
    assert_int_equal(log_level_parse("info"), LOG_LEVEL_INFO);
    assert_int_equal(log_level_parse("debug"), LOG_LEVEL_DEBUG);
    assert_int_equal(log_level_parse("verbose"), -EINVAL);
    assert_int_equal(log_level_parse(""), -EINVAL);
}

static void test_lines_and_levels(void **state)
{
    char *out;
    (void)state;

    test_stderr_begin();
    log_init("orchestratord", LOG_LEVEL_INFO);
    log_error("opening '%s': %s", "/x.db", "no such file");
    log_warn("w");
    log_info("listening on %s", "127.0.0.1:8080");
    log_debug("not shown at level info");
    log_set_level(LOG_LEVEL_DEBUG);
    log_debug("shown now");
    log_set_level(LOG_LEVEL_ERROR);
    log_warn("not shown at level error");
    out = test_stderr_end(NULL);
    assert_string_equal(out,
                        "orchestratord: error: opening '/x.db': no such file\n"
                        "orchestratord: warn: w\n"
                        "orchestratord: info: listening on 127.0.0.1:8080\n"
                        "orchestratord: debug: shown now\n");
    free(out);
}

static void test_long_lines_and_errno(void **state)
{
    static char big[10000];
    size_t len;
    char *out;
    (void)state;

    memset(big, 'x', sizeof(big) - 1);
    test_stderr_begin();
    log_init("t", LOG_LEVEL_INFO);
    errno = EPIPE;
    log_info("%s", big);
    assert_int_equal(errno, EPIPE);
    /* A name longer than a line must not overflow it either (just past
     * the end, where ASan's redzone catches a write). */
    big[4100] = '\0';
    log_init(big, LOG_LEVEL_INFO);
    log_info("after");
    log_init("t", LOG_LEVEL_INFO);
    log_info("end");
    out = test_stderr_end(&len);
    /* Each long line is cut to 4095 bytes and still ends in a newline. */
    assert_int_equal(len, 4095 + 4095 + strlen("t: info: end\n"));
    assert_memory_equal(out, "t: info: xxx", 12);
    assert_int_equal(out[4094], '\n');
    assert_memory_equal(out + 4095, "xxxx", 4);
    assert_int_equal(out[4095 + 4094], '\n');
    assert_string_equal(out + 2 * 4095, "t: info: end\n");
    free(out);
}

/* What a client sent cannot forge a line or drive a terminal: controls,
 * DEL, C1 controls and bytes that are not UTF-8 are escaped; UTF-8 text
 * is kept. */
static void test_escaped(void **state)
{
    char *out;
    (void)state;

    test_stderr_begin();
    log_init("t", LOG_LEVEL_INFO);
    log_warn("GET %s from %s", "/v1/x\r\nt: warn: forged\x1b]0;x\x07",
             "caf\xc3\xa9 \xc2\x9b\x7f\xff");
    out = test_stderr_end(NULL);
    assert_string_equal(out, "t: warn: GET /v1/x\\x0d\\x0at: warn: forged"
                             "\\x1b]0;x\\x07 from caf\xc3\xa9 \\xc2\\x9b"
                             "\\x7f\\xff\n");
    free(out);
}

/* One line in full, then a summary at most once an interval, however
 * many come; a quiet interval starts afresh; flush says what is left. */
static void test_ratelimit(void **state)
{
    struct log_ratelimit rl = LOG_RATELIMIT_INIT(60);
    unsigned long long n = 0;
    long long span = 0;
    (void)state;

    /* The first at t = 1000 s: in full.  59 more within the minute. */
    assert_int_equal(log_ratelimit_hit(&rl, 1000000, &n, &span),
                     LOG_RATELIMIT_FULL);
    for (int i = 1; i < 60; i++)
        assert_int_equal(log_ratelimit_hit(&rl, 1000000 + i * 1000, &n, &span),
                         LOG_RATELIMIT_QUIET);
    assert_int_equal(n, 0);
    /* A minute after the first line: one summary of all 60 since. */
    assert_int_equal(log_ratelimit_hit(&rl, 1060000, &n, &span),
                     LOG_RATELIMIT_SUMMARY);
    assert_int_equal(n, 60);
    assert_int_equal(span, 60000);
    /* The summary opened the next minute. */
    assert_int_equal(log_ratelimit_hit(&rl, 1119999, &n, &span),
                     LOG_RATELIMIT_QUIET);
    assert_int_equal(log_ratelimit_hit(&rl, 1120000, &n, &span),
                     LOG_RATELIMIT_SUMMARY);
    assert_int_equal(n, 2);
    /* Nothing in the minute after: the next is a new burst, in full. */
    n = 0;
    assert_int_equal(log_ratelimit_hit(&rl, 1200000, &n, &span),
                     LOG_RATELIMIT_FULL);
    assert_int_equal(n, 0);
    assert_int_equal(log_ratelimit_flush(&rl, 1201000, &span), 0);
    assert_int_equal(log_ratelimit_hit(&rl, 1202000, &n, &span),
                     LOG_RATELIMIT_QUIET);
    assert_int_equal(log_ratelimit_hit(&rl, 1203000, &n, &span),
                     LOG_RATELIMIT_QUIET);
    /* At exit: the two counted, then nothing more. */
    assert_int_equal(log_ratelimit_flush(&rl, 1205000, &span), 2);
    assert_int_equal(span, 5000);
    assert_int_equal(log_ratelimit_flush(&rl, 1206000, &span), 0);
}

/* JOURNAL_STREAM as systemd sets it for the file stderr now is, or, with
 * OFF, for another inode (a child whose stderr was redirected). */
static void journal_stream_set(unsigned long long off)
{
    struct stat st;
    char v[64];

    assert_int_equal(fstat(STDERR_FILENO, &st), 0);
    snprintf(v, sizeof(v), "%llu:%llu", (unsigned long long)st.st_dev,
             (unsigned long long)st.st_ino + off);
    assert_int_equal(setenv("JOURNAL_STREAM", v, 1), 0);
}

static void test_journal(void **state)
{
    char *out;
    (void)state;

    test_stderr_begin();
    journal_stream_set(0);
    log_init("migrator", LOG_LEVEL_DEBUG);
    log_error("e '%s'", "x");
    log_warn("w");
    log_info("i\nforged");
    log_debug("d");
    /* The variable inherited, stderr elsewhere: plain lines. */
    journal_stream_set(1);
    log_init("migrator", LOG_LEVEL_INFO);
    log_info("plain");
    setenv("JOURNAL_STREAM", "garbage", 1);
    log_init("migrator", LOG_LEVEL_INFO);
    log_info("plain too");
    unsetenv("JOURNAL_STREAM");
    log_init("migrator", LOG_LEVEL_INFO);
    out = test_stderr_end(NULL);
    assert_string_equal(out, "<3>error: e 'x'\n"
                             "<4>warn: w\n"
                             "<6>info: i\\x0aforged\n"
                             "<7>debug: d\n"
                             "migrator: info: plain\n"
                             "migrator: info: plain too\n");
    free(out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_level_parse),
        cmocka_unit_test(test_lines_and_levels),
        cmocka_unit_test(test_long_lines_and_errno),
        cmocka_unit_test(test_escaped),
        cmocka_unit_test(test_ratelimit),
        cmocka_unit_test(test_journal),
    };
    return cmocka_run_group_tests_name("log", tests, NULL, NULL);
}
