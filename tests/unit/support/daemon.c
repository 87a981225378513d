/*
 * Test helper: see daemon.h.
 */
#include "tests/unit/support/daemon.h"

#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

char *test_read_file(const char *path, size_t *ret_len)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    size_t len = 0;
    FILE *m;
    int c;

    if (!f)
        return NULL;
    m = open_memstream(&buf, &len);
    if (!m) {
        fclose(f);
        return NULL;
    }
    while ((c = fgetc(f)) != EOF)
        fputc(c, m);
    fclose(m);
    fclose(f);
    if (ret_len)
        *ret_len = len;
    return buf;
}

int test_count(const char *s, const char *needle)
{
    int n = 0;

    for (const char *p = s; (p = strstr(p, needle)); p++)
        n++;
    return n;
}

/* The port in "serving HTTP on 127.0.0.1:PORT" or "serving HTTPS on ...",
 * (or on 0.0.0.0, every address), or 0 when the log has no such line
 * yet. */
static int port_in_log(const char *log)
{
    static const char *const lines[] = {
        "serving HTTP on 127.0.0.1:", "serving HTTPS on 127.0.0.1:",
        "serving HTTP on 0.0.0.0:", "serving HTTPS on 0.0.0.0:"};

    for (size_t i = 0; i < sizeof(lines) / sizeof(*lines); i++) {
        const char *p = strstr(log, lines[i]);
        if (p)
            return atoi(p + strlen(lines[i]));
    }
    return 0;
}

int test_daemon_start(const char *program, const char *const *argv,
                      const char *log_path, pid_t *ret_pid)
{
    const char *build = getenv("ORCH_BUILD");
    char bin[512];
    const char *args[32];
    size_t n = 0;
    int port = 0;
    pid_t pid;

    snprintf(bin, sizeof(bin), "%s/bin/%s", build ? build : "build", program);
    args[n++] = bin;
    while (*argv && n < sizeof(args) / sizeof(*args) - 1)
        args[n++] = *argv++;
    args[n] = NULL;

    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int lfd = open(log_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);

        if (lfd >= 0)
            dup2(lfd, 2);
        execv(bin, (char *const *)args);
        _exit(127);
    }
    for (int i = 0; i < 200 && port == 0; i++) {
        char *log = test_read_file(log_path, NULL);

        if (log)
            port = port_in_log(log);
        free(log);
        if (!port)
            usleep(50 * 1000);
    }
    if (port == 0)
        fail_msg("'%s' did not say where it serves (log: %s)", bin, log_path);
    *ret_pid = pid;
    return port;
}
