/*
 * Test helper: run the real orchctl binary (see orchctl_run.h).
 */
#include "tests/unit/support/orchctl_run.h"

#include <fcntl.h>
#include <poll.h>
#include <pty.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

static long long now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

static char *slurp_fd(int fd)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    char chunk[4096];
    ssize_t n;

    lseek(fd, 0, SEEK_SET);
    while ((n = read(fd, chunk, sizeof(chunk))) > 0)
        fwrite(chunk, 1, (size_t)n, f);
    fclose(f);
    return buf;
}

const char *orchctl_path(void)
{
    static char path[1024];
    const char *build = getenv("ORCH_BUILD");

    snprintf(path, sizeof(path), "%s/bin/orchctl", build ? build : "build");
    return path;
}

void run_orchctl(const struct run_opts *ro, struct run *res, ...)
{
    char *argv[32];
    int argc = 0;
    va_list ap;
    char tmpl_out[] = "/tmp/orchctl-out-XXXXXX";
    char tmpl_err[] = "/tmp/orchctl-err-XXXXXX";
    char tmpl_in[] = "/tmp/orchctl-in-XXXXXX";
    char home[] = "/tmp/orchctl-home-XXXXXX";
    int fo = mkstemp(tmpl_out), fe = mkstemp(tmpl_err), fi = mkstemp(tmpl_in);
    int master = -1, slave = -1, status = 0;
    char *ptybuf = NULL;
    size_t ptylen = 0;
    FILE *ptyout = NULL;
    long long deadline;
    pid_t pid;

    assert_true(fo >= 0 && fe >= 0 && fi >= 0);
    assert_non_null(mkdtemp(home));
    if (ro->input)
        assert_int_equal(write(fi, ro->input, strlen(ro->input)),
                         (ssize_t)strlen(ro->input));
    lseek(fi, 0, SEEK_SET);
    argv[argc++] = (char *)(ro->program ? ro->program : orchctl_path());
    va_start(ap, res);
    for (;;) {
        char *a = va_arg(ap, char *);

        if (!a)
            break;
        argv[argc++] = a;
    }
    va_end(ap);
    argv[argc] = NULL;
    if (ro->tty) {
        assert_int_equal(openpty(&master, &slave, NULL, NULL, NULL), 0);
        ptyout = open_memstream(&ptybuf, &ptylen);
    }
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        dup2(fi, 0);
        dup2(ro->tty ? slave : fo, 1);
        dup2(fe, 2);
        if (ro->server)
            setenv("ORCH_SERVER", ro->server, 1);
        else
            unsetenv("ORCH_SERVER");
        if (ro->token)
            setenv("ORCH_TOKEN", ro->token, 1);
        else
            unsetenv("ORCH_TOKEN");
        unsetenv("XDG_CONFIG_HOME");
        setenv("ORCHCTL", orchctl_path(), 1);
        setenv("HOME", ro->home ? ro->home : home, 1);
        execv(argv[0], argv);
        _exit(127);
    }
    if (slave >= 0)
        close(slave);
    deadline = now_ms() + 30000;
    for (;;) {
        pid_t w = waitpid(pid, &status, WNOHANG);

        if (master >= 0) {
            struct pollfd p = {master, POLLIN, 0};
            char chunk[1024];

            while (poll(&p, 1, w == pid ? 0 : 20) > 0) {
                ssize_t n = read(master, chunk, sizeof(chunk));

                if (n <= 0)
                    break;
                fwrite(chunk, 1, (size_t)n, ptyout);
            }
        } else if (w == 0) {
            usleep(10000);
        }
        if (w == pid)
            break;
        if (now_ms() > deadline) {
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            fail_msg("orchctl %s did not finish in 30 s", argv[1]);
        }
    }
    res->rc = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    if (ro->tty) {
        fclose(ptyout);
        res->out = ptybuf;
        close(master);
    } else {
        res->out = slurp_fd(fo);
    }
    res->err = slurp_fd(fe);
    close(fo);
    close(fe);
    close(fi);
    unlink(tmpl_out);
    unlink(tmpl_err);
    unlink(tmpl_in);
    rmdir(home);
}

void run_clear(struct run *r)
{
    free(r->out);
    free(r->err);
}
