/*
 * Integration test of how build/bin/orchestratord serves, each case with a
 * daemon of its own (a temporary root: configuration, database, log):
 * SIGHUP checks "without tokens, loopback only" against the socket it has
 * bound, not the file's new 'listen'; a crowd of idle connections far
 * beyond max_connections does not keep /healthz or the API from
 * answering, nor does a crowd of slow ones keep /healthz; the errors evhttp
 * makes are Status objects on the wire, and other methods on /healthz are 405
 * with Allow.
 */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "tests/unit/support/daemon.h"
#include "tests/unit/support/httpc.h"

#define VMIM                                                                   \
    "/apis/kubevirt.io/v1/namespaces/default/virtualmachineinstancemigrations"
#define TOKEN_A "tok-aaaaaaaaaaaaaaaa"
#define TOKEN_B "tok-bbbbbbbbbbbbbbbb"

struct daemon {
    char dir[64];
    char conf[128];
    char log[128];
    char db[128];
    pid_t pid;
    int port;
};

/* Write D's configuration: LISTEN, then EXTRA (libconfig settings). */
static void write_conf(struct daemon *d, const char *listen, const char *extra)
{
    FILE *f = fopen(d->conf, "w");

    assert_non_null(f);
    fprintf(f, "listen = \"%s\";\ndatabase = \"%s\";\n%s\n", listen, d->db,
            extra ? extra : "");
    assert_int_equal(fclose(f), 0);
}

static void daemon_start(struct daemon *d, const char *listen,
                         const char *extra)
{
    const char *argv[] = {"-f", d->conf, NULL};

    memset(d, 0, sizeof(*d));
    snprintf(d->dir, sizeof(d->dir), "/tmp/orch-serve-XXXXXX");
    assert_non_null(mkdtemp(d->dir));
    snprintf(d->conf, sizeof(d->conf), "%s/orchestratord.conf", d->dir);
    snprintf(d->log, sizeof(d->log), "%s/log", d->dir);
    snprintf(d->db, sizeof(d->db), "%s/orch.db", d->dir);
    write_conf(d, listen, extra);
    d->port = test_daemon_start("orchestratord", argv, d->log, &d->pid);
}

/* SIGTERM, which must end the daemon with 0; then remove its root. */
static void daemon_stop(struct daemon *d)
{
    char cmd[128];
    int status = 0;
    pid_t r = 0;

    assert_int_equal(kill(d->pid, SIGTERM), 0);
    for (int i = 0; i < 200 && r == 0; i++) {
        r = waitpid(d->pid, &status, WNOHANG);
        if (r == 0)
            usleep(50 * 1000);
    }
    if (r != d->pid) {
        kill(d->pid, SIGKILL);
        waitpid(d->pid, NULL, 0);
        fail_msg("orchestratord did not stop on SIGTERM");
    }
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", d->dir);
    assert_int_equal(system(cmd), 0);
}

/* Send SIGHUP and wait until the log has one more line holding WANT than
 * it had; fails the test after 5 s. */
static void sighup_until(struct daemon *d, const char *want)
{
    char *log = test_read_file(d->log, NULL);
    int before = 0, now = 0;

    for (const char *p = log; p && (p = strstr(p, want)); p++)
        before++;
    free(log);
    assert_int_equal(kill(d->pid, SIGHUP), 0);
    for (int i = 0; i < 100; i++) {
        log = test_read_file(d->log, NULL);
        now = 0;
        for (const char *p = log; p && (p = strstr(p, want)); p++)
            now++;
        free(log);
        if (now > before)
            return;
        usleep(50 * 1000);
    }
    log = test_read_file(d->log, NULL);
    fail_msg("no new '%s' in the log after SIGHUP:\n%s", want, log);
}

/* GET PATH with TOKEN (NULL: none); returns the status. */
static int get(const struct daemon *d, const char *path, const char *token)
{
    char req[512], buf[65536];

    snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: x\r\n%s%s%s\r\n", path,
             token ? "Authorization: Bearer " : "", token ? token : "",
             token ? "\r\n" : "");
    return test_http_exchange(d->port, req, strlen(req), buf, sizeof(buf));
}

/* A daemon listening on every address with tokens: a reload whose file
 * drops every token is refused even though the file now says loopback,
 * because the socket stays where it is; one that keeps a token is
 * taken. */
static void test_sighup_checks_bound_address(void **state)
{
    struct daemon d;
    (void)state;

    daemon_start(&d, "0.0.0.0:0",
                 "tokens = ( { name = \"ops\"; token = \"" TOKEN_A
                 "\"; role = \"admin\"; } );");
    assert_int_equal(get(&d, VMIM, NULL), 401);
    assert_int_equal(get(&d, VMIM, TOKEN_A), 200);

    /* No tokens, and 'listen' moved to loopback in the file only. */
    write_conf(&d, "127.0.0.1:0", NULL);
    sighup_until(&d, "keeping the old tokens");
    {
        char *log = test_read_file(d.log, NULL);
        assert_non_null(log);
        if (!strstr(log, "'listen' changed to '127.0.0.1:0'") ||
            !strstr(log, "0.0.0.0:0 is not a loopback address"))
            fail_msg("the log does not say why:\n%s", log);
        free(log);
    }
    assert_int_equal(get(&d, VMIM, NULL), 401);
    assert_int_equal(get(&d, VMIM, TOKEN_A), 200);

    /* Another token: taken, whatever the file's 'listen'. */
    write_conf(&d, "127.0.0.1:0",
               "tokens = ( { name = \"ops2\"; token = \"" TOKEN_B
               "\"; role = \"admin\"; } );");
    sighup_until(&d, "reloaded 1 tokens");
    assert_int_equal(get(&d, VMIM, TOKEN_A), 401);
    assert_int_equal(get(&d, VMIM, TOKEN_B), 200);
    daemon_stop(&d);
}

/* On loopback, dropping every token is allowed. */
static void test_sighup_loopback_may_drop_tokens(void **state)
{
    struct daemon d;
    (void)state;

    daemon_start(&d, "127.0.0.1:0",
                 "tokens = ( { name = \"ops\"; token = \"" TOKEN_A
                 "\"; role = \"admin\"; } );");
    assert_int_equal(get(&d, VMIM, NULL), 401);
    write_conf(&d, "127.0.0.1:0", NULL);
    sighup_until(&d, "reloaded 0 tokens");
    assert_int_equal(get(&d, VMIM, NULL), 200);
    daemon_stop(&d);
}

/* Descriptors for N sockets of ours and the daemon's (a child inherits
 * the limit); returns how many may be used. */
static int fd_budget(int want)
{
    struct rlimit rl;
    rlim_t need = (rlim_t)want + 64;

    assert_int_equal(getrlimit(RLIMIT_NOFILE, &rl), 0);
    if (rl.rlim_cur < need) {
        rl.rlim_cur = rl.rlim_max != RLIM_INFINITY && rl.rlim_max < need
                          ? rl.rlim_max
                          : need;
        assert_int_equal(setrlimit(RLIMIT_NOFILE, &rl), 0);
    }
    return rl.rlim_cur < need ? (int)rl.rlim_cur - 64 : want;
}

/* 5000 idle, unauthenticated connections against max_connections = 64:
 * /healthz and the API still answer, and the idle ones were closed. */
static void test_idle_crowd(void **state)
{
    struct daemon d;
    int n = fd_budget(5000), closed = 0;
    int *idle = calloc((size_t)n, sizeof(*idle));
    (void)state;

    assert_non_null(idle);
    assert_true(n >= 500);
    daemon_start(&d, "127.0.0.1:0", "limits = { max_connections = 64; };");
    print_message("%d idle connections against max_connections = 64\n", n);
    for (int i = 0; i < n; i++) {
        idle[i] = test_http_connect(d.port);
        if (idle[i] < 0)
            fail_msg("connection %d: %s", i, strerror(errno));
    }
    assert_int_equal(get(&d, "/healthz", NULL), 200);
    assert_int_equal(get(&d, "/readyz", NULL), 200);
    assert_int_equal(get(&d, VMIM, NULL), 200);
    for (int i = 0; i < n; i++)
        if (test_http_closed(idle[i]))
            closed++;
    if (closed < n - 64)
        fail_msg("only %d of %d idle connections were closed", closed, n);
    for (int i = 0; i < n; i++)
        close(idle[i]);
    free(idle);
    daemon_stop(&d);
}

/* Every connection in the middle of a request (clients trickling their
 * headers): the API answers newcomers 503, the probes still answer. */
static void test_busy_crowd(void **state)
{
    struct daemon d;
    int busy[16];
    (void)state;

    daemon_start(&d, "127.0.0.1:0", "limits = { max_connections = 16; };");
    for (int i = 0; i < 16; i++) {
        busy[i] = test_http_connect(d.port);
        assert_true(busy[i] >= 0);
        assert_true(test_http_send(busy[i], "GET /healthz HTTP/1.1\r\n", 24));
    }
    assert_int_equal(get(&d, VMIM, NULL), 503);
    assert_int_equal(get(&d, "/healthz", NULL), 200);
    assert_int_equal(get(&d, "/readyz", NULL), 200);
    for (int i = 0; i < 16; i++)
        close(busy[i]);
    daemon_stop(&d);
}

/* BUF is a response whose body is a Status with CODE. */
static void assert_status_body(const char *buf, int code)
{
    char want[32];

    if (!strstr(buf, "\r\nContent-Type: application/json\r\n") ||
        !strstr(buf, "\"kind\":\"Status\""))
        fail_msg("not a Status: %s", buf);
    snprintf(want, sizeof(want), "\"code\":%d}", code);
    assert_non_null(strstr(buf, want));
}

static void test_errors_on_the_wire(void **state)
{
    static const struct {
        const char *raw;
        int code;
    } cases[] = {
        {"GET\r\n\r\n", 400},
        {"FROB /healthz HTTP/1.1\r\nHost: x\r\n\r\n", 501},
        {"POST " VMIM " HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n"
         "Content-Length: 100000000\r\n\r\n",
         413},
        {"POST " VMIM " HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n"
         "Content-Length: 20\r\n\r\n{}",
         400},
        {"POST /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n", 405},
        {"GET " VMIM "?limit=%205 HTTP/1.1\r\nHost: x\r\n\r\n", 400},
    };
    struct daemon d;
    char buf[65536];
    (void)state;

    daemon_start(&d, "127.0.0.1:0", NULL);
    for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
        int code = test_http_exchange(d.port, cases[i].raw,
                                      strlen(cases[i].raw), buf, sizeof(buf));
        if (code != cases[i].code)
            fail_msg("case %zu answered %d: %s", i, code, buf);
        assert_status_body(buf, cases[i].code);
        if (code == 405)
            assert_non_null(strstr(buf, "\r\nAllow: GET, HEAD\r\n"));
    }
    daemon_stop(&d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sighup_checks_bound_address),
        cmocka_unit_test(test_sighup_loopback_may_drop_tokens),
        cmocka_unit_test(test_idle_crowd),
        cmocka_unit_test(test_busy_crowd),
        cmocka_unit_test(test_errors_on_the_wire),
    };
    return cmocka_run_group_tests_name("orchestratord_serve", tests, NULL,
                                       NULL);
}
