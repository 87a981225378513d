/*
 * Test helper: start one of the project's daemons ($ORCH_BUILD/bin/NAME) as
 * a child process with its standard error in a log file, and wait until it
 * says on which port it serves.  Used by the tests that talk to a real
 * orchestratord (or migrator) over HTTP.
 */
#ifndef ORCH_TEST_DAEMON_H
#define ORCH_TEST_DAEMON_H

#include <stddef.h>
#include <sys/types.h>

/* The whole of the file at PATH, NUL-terminated, or NULL when it cannot be
 * read; *ret_len (if not NULL) gets its length.  The caller frees. */
char *test_read_file(const char *path, size_t *ret_len);

/* How many times NEEDLE occurs in S (overlapping ones too). */
int test_count(const char *s, const char *needle);

/* Run $ORCH_BUILD/bin/PROGRAM (build/bin/ without ORCH_BUILD) with the
 * NULL-terminated ARGV (argv[0] excluded), standard error into LOG_PATH,
 * then wait up to 10 s for the line "serving HTTP on 127.0.0.1:PORT" (or
 * HTTPS, or 0.0.0.0) in the log.  Stores the child's pid in *ret_pid and
 * returns the port; fails the test when none appears. */
int test_daemon_start(const char *program, const char *const *argv,
                      const char *log_path, pid_t *ret_pid);

#endif
