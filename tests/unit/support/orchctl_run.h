/*
 * Test helper: run the real orchctl binary ($ORCH_BUILD/bin/orchctl) as a
 * child process with a chosen server, home, standard input and terminal,
 * and collect its exit code, stdout and stderr.  Used by test_orchctl*.c.
 */
#ifndef ORCH_TEST_ORCHCTL_RUN_H
#define ORCH_TEST_ORCHCTL_RUN_H

#include <stdbool.h>

struct run {
    int rc; /* exit code, or 128 + signal */
    char *out;
    char *err;
};

struct run_opts {
    const char *server;  /* ORCH_SERVER; NULL leaves it unset */
    const char *token;   /* ORCH_TOKEN; NULL leaves it unset */
    const char *home;    /* HOME; NULL: an empty temp dir */
    const char *input;   /* standard input; NULL: empty */
    bool tty;            /* stdout on a pseudo-terminal */
    const char *program; /* run this instead, with ORCHCTL set to orchctl */
};

/* The path of the orchctl binary under test. */
const char *orchctl_path(void);

/* Run orchctl (or ro->program) with the NULL-terminated arguments; fails
 * the test when it runs longer than 30 s.  Free with run_clear(). */
void run_orchctl(const struct run_opts *ro, struct run *res, ...);
void run_clear(struct run *r);

#endif
