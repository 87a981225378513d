/*
 * Test helper: capture what the process writes to standard error (the log
 * module's lines, written with write(2) to descriptor 2) while a test runs
 * the code that logs.  Used by test_log.c and the tests of request
 * handlers that log.
 */
#ifndef ORCH_TEST_CAPTURE_H
#define ORCH_TEST_CAPTURE_H

#include <stddef.h>

/* Send descriptor 2 into a temporary file until test_stderr_end().  Not
 * nested. */
void test_stderr_begin(void);

/* Put descriptor 2 back and return what was written meanwhile,
 * NUL-terminated (the caller frees); *ret_len (may be NULL) gets its
 * length. */
char *test_stderr_end(size_t *ret_len);

#endif
