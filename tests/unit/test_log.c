/*
 * Unit tests for log/: level parsing, the line format, level filtering,
 * long lines, and errno left as it was.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "log/log.h"

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

/* stderr goes to a temporary file while a test logs; capture_end() returns
 * what was written (malloc'd). */
static int saved_stderr = -1;
static FILE *capture_file;

static void capture_begin(void)
{
    capture_file = tmpfile();
    assert_non_null(capture_file);
    saved_stderr = dup(STDERR_FILENO);
    assert_true(saved_stderr >= 0);
    assert_true(dup2(fileno(capture_file), STDERR_FILENO) >= 0);
}

static char *capture_end(size_t *ret_len)
{
    long n;
    char *buf;

    assert_true(dup2(saved_stderr, STDERR_FILENO) >= 0);
    close(saved_stderr);
    saved_stderr = -1;
    /* write(2) went to the descriptor, not through the FILE. */
    n = lseek(fileno(capture_file), 0, SEEK_END);
    assert_true(n >= 0);
    buf = malloc((size_t)n + 1);
    assert_non_null(buf);
    assert_int_equal(pread(fileno(capture_file), buf, (size_t)n, 0), n);
    buf[n] = '\0';
    fclose(capture_file);
    capture_file = NULL;
    if (ret_len)
        *ret_len = (size_t)n;
    return buf;
}

static void test_lines_and_levels(void **state)
{
    char *out;
    (void)state;

    capture_begin();
    log_init("orchestratord", LOG_LEVEL_INFO);
    log_error("opening '%s': %s", "/x.db", "no such file");
    log_warn("w");
    log_info("listening on %s", "127.0.0.1:8080");
    log_debug("not shown at level info");
    log_set_level(LOG_LEVEL_DEBUG);
    log_debug("shown now");
    log_set_level(LOG_LEVEL_ERROR);
    log_warn("not shown at level error");
    out = capture_end(NULL);
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
    capture_begin();
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
    out = capture_end(&len);
    /* Each long line is cut to 4095 bytes and still ends in a newline. */
    assert_int_equal(len, 4095 + 4095 + strlen("t: info: end\n"));
    assert_memory_equal(out, "t: info: xxx", 12);
    assert_int_equal(out[4094], '\n');
    assert_memory_equal(out + 4095, "xxxx", 4);
    assert_int_equal(out[4095 + 4094], '\n');
    assert_string_equal(out + 2 * 4095, "t: info: end\n");
    free(out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_level_parse),
        cmocka_unit_test(test_lines_and_levels),
        cmocka_unit_test(test_long_lines_and_errno),
    };
    return cmocka_run_group_tests_name("log", tests, NULL, NULL);
}
