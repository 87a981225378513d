/*
 * Test helper: see capture.h.
 */
#include "tests/unit/support/capture.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <cmocka.h>

static int saved_stderr = -1;
static FILE *capture_file;

void test_stderr_begin(void)
{
    assert_null(capture_file);
    capture_file = tmpfile();
    assert_non_null(capture_file);
    saved_stderr = dup(STDERR_FILENO);
    assert_true(saved_stderr >= 0);
    assert_true(dup2(fileno(capture_file), STDERR_FILENO) >= 0);
}

char *test_stderr_end(size_t *ret_len)
{
    long n;
    char *buf;

    assert_non_null(capture_file);
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
