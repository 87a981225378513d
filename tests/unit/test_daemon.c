/*
 * Unit tests for daemon/: daemon_serve() in a child process with a trivial
 * handler and hooks that report on a pipe: the start hook gets the bound
 * port, SIGHUP calls the reload hook (as often as it comes), SIGTERM stops
 * accepting, calls the stop hook once, waits for the replies in flight
 * (up to the grace period, then says how many it left) and returns 0; and
 * the start-up failures (a port in use, a start hook that fails) come back
 * as errors with a message.  Under a fake service manager (a datagram
 * socket named by NOTIFY_SOCKET) it says READY=1 once serving, RELOADING=1
 * and READY=1 around a reload and STOPPING=1 on SIGTERM.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "daemon/daemon.h"
#include "tests/unit/support/httpc.h"

static int report_fd = -1; /* the child's end of the pipe */

static void report(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void report(const char *fmt, ...)
{
    char buf[64];
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    if (write(report_fd, buf, (size_t)n) != n)
        _exit(99);
}

static void stream_start(struct http_stream *stream, void *arg)
{
    (void)arg;
    /* Never ended: a reply in flight for ever. */
    http_stream_write(stream, "x\n", 2);
}

static void handler(const struct http_request *req, struct http_response *resp,
                    void *arg)
{
    (void)arg;
    resp->status = 200;
    resp->content_type = "text/plain";
    if (req->segc == 1 && strcmp(req->segv[0], "stream") == 0) {
        resp->stream_start = stream_start;
        return;
    }
    resp->body = strdup("ok");
    resp->body_len = 2;
}

static int hook_start(struct daemon_ctx *d, uint16_t port, void *arg)
{
    (void)arg;
    if (!daemon_ctx_base(d) || !daemon_ctx_http(d))
        _exit(98);
    report("S%u;", (unsigned)port);
    return 0;
}

static void hook_stop(struct daemon_ctx *d, int sig, void *arg)
{
    (void)arg;
    report("T%d%s;", sig, daemon_ctx_stopping(d) ? "" : "!");
}

static void hook_reload(struct daemon_ctx *d, void *arg)
{
    (void)d;
    (void)arg;
    report("R;");
}

static void hook_stopped(struct daemon_ctx *d, void *arg)
{
    (void)arg;
    report("E%zu;", http_server_requests_in_flight(daemon_ctx_http(d)));
}

struct child {
    pid_t pid;
    int fd; /* our end of the pipe */
    int port;
    char seen[256];
    size_t len;
};

/* Run daemon_serve() in a child; its exit code is 0 after a stop with
 * nothing abandoned, 10 + the number abandoned, or 1 if it failed. */
static void child_start(struct child *c)
{
    int p[2];

    memset(c, 0, sizeof(*c));
    assert_int_equal(pipe(p), 0);
    c->pid = fork();
    assert_true(c->pid >= 0);
    if (c->pid == 0) {
        struct daemon_opts o = {
            .listen_host = "127.0.0.1",
            .handler = handler,
            .drain_grace_s = 1,
            .hooks = {.start = hook_start,
                      .stop = hook_stop,
                      .reload = hook_reload,
                      .stopped = hook_stopped},
        };
        struct daemon_report rep = {0};
        char err[256];

        close(p[0]);
        report_fd = p[1];
        if (daemon_serve(&o, &rep, err, sizeof(err)) < 0)
            _exit(1);
        _exit(rep.abandoned ? 10 + (int)rep.abandoned : 0);
    }
    close(p[1]);
    c->fd = p[0];
}

/* Read the reports until WANT has been seen; fails the test after 5 s. */
static void child_expect(struct child *c, const char *want)
{
    for (int i = 0; i < 50 && !strstr(c->seen, want); i++) {
        struct pollfd pfd = {.fd = c->fd, .events = POLLIN};
        ssize_t n;

        if (poll(&pfd, 1, 100) <= 0)
            continue;
        n = read(c->fd, c->seen + c->len, sizeof(c->seen) - 1 - c->len);
        if (n <= 0)
            break;
        c->len += (size_t)n;
        c->seen[c->len] = '\0';
    }
    if (!strstr(c->seen, want))
        fail_msg("no '%s' from the daemon; it said '%s'", want, c->seen);
}

/* Wait for the child to exit; returns its exit code.  Fails after 10 s. */
static int child_wait(struct child *c)
{
    int status = 0;

    for (int i = 0; i < 200; i++) {
        if (waitpid(c->pid, &status, WNOHANG) == c->pid) {
            close(c->fd);
            assert_true(WIFEXITED(status));
            return WEXITSTATUS(status);
        }
        usleep(50 * 1000);
    }
    kill(c->pid, SIGKILL);
    waitpid(c->pid, NULL, 0);
    fail_msg("the daemon did not exit");
    return -1;
}

static void test_signals(void **state)
{
    const char *get = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
    struct child c;
    char buf[4096];
    const char *s;
    (void)state;

    child_start(&c);
    child_expect(&c, ";");
    s = strstr(c.seen, "S");
    assert_non_null(s);
    c.port = atoi(s + 1);
    assert_true(c.port > 0);
    assert_int_equal(
        test_http_exchange(c.port, get, strlen(get), buf, sizeof(buf)), 200);

    assert_int_equal(kill(c.pid, SIGHUP), 0);
    child_expect(&c, "R;");
    assert_int_equal(kill(c.pid, SIGHUP), 0);
    child_expect(&c, "R;R;");
    assert_int_equal(
        test_http_exchange(c.port, get, strlen(get), buf, sizeof(buf)), 200);

    assert_int_equal(kill(c.pid, SIGTERM), 0);
    child_expect(&c, "T15;");
    child_expect(&c, "E0;");
    assert_int_equal(child_wait(&c), 0);
}

/* A reply that never ends: SIGTERM stops accepting at once, and after the
 * grace period the daemon leaves, saying it abandoned one. */
static void test_drain_grace(void **state)
{
    const char *stream = "GET /stream HTTP/1.1\r\nHost: x\r\n\r\n";
    struct timespec t0, t1;
    struct child c;
    char buf[256];
    int fd, again;
    double took;
    (void)state;

    child_start(&c);
    child_expect(&c, ";");
    c.port = atoi(strstr(c.seen, "S") + 1);
    fd = test_http_connect(c.port);
    assert_true(fd >= 0);
    assert_true(test_http_send(fd, stream, strlen(stream)));
    {
        /* The stream's first chunk has come: the request is in flight. */
        struct pollfd p = {.fd = fd, .events = POLLIN};
        assert_int_equal(poll(&p, 1, 5000), 1);
        assert_true(recv(fd, buf, sizeof(buf), 0) > 0);
    }
    clock_gettime(CLOCK_MONOTONIC, &t0);
    assert_int_equal(kill(c.pid, SIGINT), 0);
    child_expect(&c, "T2;");
    /* A second signal while draining does not stop it again. */
    assert_int_equal(kill(c.pid, SIGTERM), 0);
    again = test_http_connect(c.port);
    if (again >= 0) {
        close(again);
        fail_msg("a connection was accepted while draining");
    }
    assert_int_equal(errno, ECONNREFUSED);
    child_expect(&c, "E1;");
    assert_null(strstr(c.seen, "T15"));
    assert_int_equal(child_wait(&c), 11);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    took = (double)(t1.tv_sec - t0.tv_sec) +
           (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    if (took < 0.9)
        fail_msg("left after %.2f s, before the 1 s grace", took);
    close(fd);
}

static int start_fails(struct daemon_ctx *d, uint16_t port, void *arg)
{
    (void)d;
    (void)port;
    (void)arg;
    return -EIO;
}

static void test_startup_errors(void **state)
{
    struct sockaddr_in sa = {.sin_family = AF_INET};
    socklen_t sl = sizeof(sa);
    struct daemon_opts o = {.listen_host = "127.0.0.1", .handler = handler};
    char err[256];
    int busy = socket(AF_INET, SOCK_STREAM, 0);
    (void)state;

    /* A port in use. */
    assert_true(busy >= 0);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(busy, (struct sockaddr *)&sa, sizeof(sa)), 0);
    assert_int_equal(listen(busy, 1), 0);
    assert_int_equal(getsockname(busy, (struct sockaddr *)&sa, &sl), 0);
    o.listen_port = ntohs(sa.sin_port);
    assert_int_equal(daemon_serve(&o, NULL, err, sizeof(err)), -EADDRINUSE);
    assert_non_null(strstr(err, "cannot listen on '127.0.0.1:"));
    close(busy);

    /* A start hook that fails: its error, no message of ours. */
    o.listen_port = 0;
    o.hooks.start = start_fails;
    assert_int_equal(daemon_serve(&o, NULL, err, sizeof(err)), -EIO);
    assert_string_equal(err, "");

    /* TLS files that cannot be loaded. */
    o.hooks.start = NULL;
    o.http.tls_certificate = "/nonexistent/cert.pem";
    o.http.tls_key = "/nonexistent/key.pem";
    assert_int_equal(daemon_serve(&o, NULL, err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "/nonexistent/cert.pem"));
}

/* A datagram socket playing systemd's notification socket, bound at PATH
 * ("@..." for the abstract namespace); NOTIFY_SOCKET names it. */
static int notify_listen(const char *path)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    size_t len = strlen(path);
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);

    assert_true(fd >= 0);
    memcpy(sa.sun_path, path, len);
    if (path[0] == '@')
        sa.sun_path[0] = '\0';
    assert_int_equal(
        bind(fd, (struct sockaddr *)&sa,
             (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len)),
        0);
    assert_int_equal(setenv("NOTIFY_SOCKET", path, 1), 0);
    return fd;
}

/* The next datagram on FD (within 5 s), which must start with WANT. */
static void notify_expect(int fd, const char *want)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    char buf[256];
    ssize_t n;

    if (poll(&p, 1, 5000) != 1)
        fail_msg("no '%s' on the notification socket", want);
    n = recv(fd, buf, sizeof(buf) - 1, 0);
    assert_true(n > 0);
    buf[n] = '\0';
    if (strncmp(buf, want, strlen(want)) != 0)
        fail_msg("notification '%s', expected '%s'", buf, want);
}

static void test_notify(void **state)
{
    char dir[] = "/tmp/test_daemon.XXXXXX", path[128], abstract[64];
    struct child c;
    int fd;
    (void)state;

    /* Not under systemd: nothing to do, and nothing fails. */
    unsetenv("NOTIFY_SOCKET");
    assert_int_equal(daemon_notify("READY=1"), 0);
    setenv("NOTIFY_SOCKET", "relative/path", 1);
    assert_int_equal(daemon_notify("READY=1"), -EINVAL);
    setenv("NOTIFY_SOCKET", "/nonexistent/notify", 1);
    assert_int_equal(daemon_notify("READY=1"), -ENOENT);

    /* The abstract namespace, as systemd itself uses. */
    snprintf(abstract, sizeof(abstract), "@test_daemon.%d", (int)getpid());
    fd = notify_listen(abstract);
    assert_int_equal(daemon_notify("STATUS=x"), 1);
    notify_expect(fd, "STATUS=x");
    close(fd);

    /* A path, and the whole life of a daemon. */
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/notify", dir);
    fd = notify_listen(path);
    child_start(&c);
    child_expect(&c, ";");
    notify_expect(fd, "READY=1");
    assert_int_equal(kill(c.pid, SIGHUP), 0);
    notify_expect(fd, "RELOADING=1\nMONOTONIC_USEC=");
    notify_expect(fd, "READY=1");
    child_expect(&c, "R;");
    assert_int_equal(kill(c.pid, SIGTERM), 0);
    notify_expect(fd, "STOPPING=1");
    assert_int_equal(child_wait(&c), 0);
    unsetenv("NOTIFY_SOCKET");
    close(fd);
    unlink(path);
    rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_signals),
        cmocka_unit_test(test_notify),
        cmocka_unit_test(test_drain_grace),
        cmocka_unit_test(test_startup_errors),
    };
    return cmocka_run_group_tests_name("daemon", tests, NULL, NULL);
}
