/*
 * Unit tests for http/ on its own: bearer tokens and the secret compare,
 * and a real server (http_server_new on 127.0.0.1, its loop on a thread of
 * this process, a trivial handler) driven over raw sockets: the connection
 * cap kept at accept (the idle go first, 503 when none is idle), the header
 * and request deadlines, and every error the glue or evhttp answers itself
 * coming out as a Kubernetes Status.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include <event2/event.h>
#include <event2/thread.h>
#include <jansson.h>

#include "http/http.h"
#include "tests/unit/support/httpc.h"

struct server {
    struct event_base *base;
    struct http_server *http;
    pthread_t thread;
    bool running;
    int port;
};

/* Answers "/count" with the number of open connections, "/echo" with the
 * length of the body, anything else with "ok". */
static void handler(const struct http_request *req, struct http_response *resp,
                    void *arg)
{
    struct server *s = arg;
    char text[64];

    if (req->segc == 1 && strcmp(req->segv[0], "count") == 0)
        snprintf(text, sizeof(text), "%zu", http_server_connections(s->http));
    else if (req->segc == 1 && strcmp(req->segv[0], "echo") == 0)
        snprintf(text, sizeof(text), "%zu", req->body_len);
    else
        snprintf(text, sizeof(text), "ok");
    resp->status = 200;
    resp->content_type = "text/plain";
    resp->body = strdup(text);
    resp->body_len = resp->body ? strlen(resp->body) : 0;
}

static void *loop_main(void *arg)
{
    struct server *s = arg;
    event_base_dispatch(s->base);
    return NULL;
}

static void server_start(struct server *s, const struct http_server_opts *o)
{
    char err[256] = "";
    uint16_t port = 0;

    memset(s, 0, sizeof(*s));
    s->base = event_base_new();
    assert_non_null(s->base);
    if (http_server_new(s->base, o, handler, s, &s->http, err, sizeof(err)) < 0)
        fail_msg("http_server_new: %s", err);
    assert_int_equal(http_server_bind(s->http, "127.0.0.1", 0, &port), 0);
    s->port = port;
    assert_int_equal(pthread_create(&s->thread, NULL, loop_main, s), 0);
    s->running = true;
}

static void server_stop(struct server *s)
{
    if (s->running) {
        event_base_loopexit(s->base, NULL);
        pthread_join(s->thread, NULL);
        s->running = false;
    }
    http_server_free(s->http);
    event_base_free(s->base);
    memset(s, 0, sizeof(*s));
}

static double seconds_since(const struct timespec *t0)
{
    struct timespec t1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    return (double)(t1.tv_sec - t0->tv_sec) +
           (double)(t1.tv_nsec - t0->tv_nsec) / 1e9;
}

/* BUF holds a response that must be a Status with CODE and REASON. */
static void assert_status_reply(const char *buf, int code, const char *reason)
{
    const char *body = strstr(buf, "\r\n\r\n");
    json_error_t jerr;
    json_t *st;

    assert_non_null(body);
    if (!strstr(buf, "\r\nContent-Type: application/json\r\n"))
        fail_msg("not a JSON reply: %s", buf);
    st = json_loads(body + 4, 0, &jerr);
    if (!st)
        fail_msg("not JSON (%s): %s", jerr.text, body + 4);
    assert_string_equal(json_string_value(json_object_get(st, "kind")),
                        "Status");
    assert_string_equal(json_string_value(json_object_get(st, "status")),
                        "Failure");
    assert_int_equal(json_integer_value(json_object_get(st, "code")), code);
    assert_string_equal(json_string_value(json_object_get(st, "reason")),
                        reason);
    assert_true(json_string_length(json_object_get(st, "message")) > 0);
    json_decref(st);
}

static void test_bearer(void **state)
{
    struct http_request req = {0};
    const char *tok = NULL;
    size_t len = 0;
    (void)state;

    assert_int_equal(http_request_bearer(&req, &tok, &len), -ENOKEY);
    req.authorization = "Basic abc";
    assert_int_equal(http_request_bearer(&req, &tok, &len), -ENOKEY);
    req.authorization = "Bearer    ";
    assert_int_equal(http_request_bearer(&req, &tok, &len), -ENOKEY);
    req.authorization = "bearer  secret-token  ";
    assert_int_equal(http_request_bearer(&req, &tok, &len), 0);
    assert_int_equal(len, 12);
    assert_memory_equal(tok, "secret-token", 12);
}

static void test_secret_equal(void **state)
{
    const char *s = "0123456789abcdef";
    (void)state;

    assert_true(http_secret_equal(s, 16, s));
    assert_true(http_secret_equal("0123456789abcdefXX", 16, s));
    assert_false(http_secret_equal(s, 15, s));
    assert_false(http_secret_equal("0123456789abcdeF", 16, s));
    assert_false(http_secret_equal("X123456789abcdef", 16, s));
    assert_false(http_secret_equal("0123456789abcdef0", 17, s));
    assert_false(http_secret_equal("", 0, s));
    assert_false(http_secret_equal("", 0, ""));
    assert_false(http_secret_equal("a", 1, ""));
}

/* Make room for N more descriptors; returns how many may be used. */
static int fd_budget(int want)
{
    struct rlimit rl;
    int open_now = 64; /* stdio, the server, libevent, cmocka */

    assert_int_equal(getrlimit(RLIMIT_NOFILE, &rl), 0);
    if (rl.rlim_cur < (rlim_t)(want + open_now)) {
        rl.rlim_cur = rl.rlim_max == RLIM_INFINITY ||
                              rl.rlim_max > (rlim_t)(want + open_now)
                          ? (rlim_t)(want + open_now)
                          : rl.rlim_max;
        assert_int_equal(setrlimit(RLIMIT_NOFILE, &rl), 0);
    }
    if (rl.rlim_cur < (rlim_t)(want + open_now))
        return (int)rl.rlim_cur - open_now;
    return want;
}

/* Thousands of idle connections, far beyond the cap: each new one makes
 * the oldest idle one go, so a request still gets through and the server
 * holds no more than the cap. */
static void test_cap_sheds_idle(void **state)
{
    struct http_server_opts o = {.max_connections = 16};
    struct server s;
    /* The server's ends and ours live in this one process. */
    int n = fd_budget(2 * 2500) / 2, closed = 0;
    int *idle = calloc((size_t)n, sizeof(*idle));
    const char *get = "GET /count HTTP/1.1\r\nHost: x\r\n\r\n";
    struct timespec t0;
    char buf[4096];
    int fd;
    (void)state;

    assert_non_null(idle);
    assert_true(n >= 200);
    print_message("%d idle connections against a cap of 16\n", n);
    server_start(&s, &o);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (int i = 0; i < n; i++) {
        idle[i] = test_http_connect(s.port);
        if (idle[i] < 0)
            fail_msg("connection %d: %s", i, strerror(errno));
    }
    /* Accepted after every idle one (the listen queue is in order). */
    fd = test_http_connect(s.port);
    assert_true(fd >= 0);
    assert_true(test_http_send(fd, get, strlen(get)));
    assert_int_equal(test_http_read_response(fd, buf, sizeof(buf), 10000), 200);
    /* The cap, the request's connection included. */
    assert_true(atoi(strstr(buf, "\r\n\r\n") + 4) <= 16);
    /* The requester is not idle: a second request on it is served. */
    assert_true(test_http_send(fd, get, strlen(get)));
    assert_int_equal(test_http_read_response(fd, buf, sizeof(buf), 5000), 200);
    close(fd);
    print_message("answered after %.2f s\n", seconds_since(&t0));
    for (int i = 0; i < n; i++) {
        if (test_http_closed(idle[i]))
            closed++;
    }
    /* The oldest went first; the newest are still open. */
    assert_true(test_http_closed(idle[0]));
    assert_false(test_http_closed(idle[n - 1]));
    if (closed < n - 16)
        fail_msg("only %d of %d idle connections were closed", closed, n);
    for (int i = 0; i < n; i++)
        close(idle[i]);
    free(idle);
    server_stop(&s);
}

/* When every connection is in the middle of a request, none is closed for
 * a newcomer: its request gets a 503 Status instead, unless it is a
 * probe. */
static void test_cap_all_busy(void **state)
{
    static const char *const probes[] = {"/healthz", NULL};
    struct http_server_opts o = {.max_connections = 4, .probe_paths = probes};
    const char *probe = "GET /healthz?verbose HTTP/1.1\r\nHost: x\r\n"
                        "Connection: close\r\n\r\n";
    const char *get = "GET /count HTTP/1.1\r\nHost: x\r\n"
                      "Connection: close\r\n\r\n";
    struct server s;
    char buf[4096];
    int busy[4];
    (void)state;

    server_start(&s, &o);
    for (int i = 0; i < 4; i++) {
        busy[i] = test_http_connect(s.port);
        assert_true(busy[i] >= 0);
        assert_true(test_http_send(busy[i], "GET /count HTTP/1.1\r\n", 21));
    }
    assert_int_equal(
        test_http_exchange(s.port, get, strlen(get), buf, sizeof(buf)), 503);
    assert_status_reply(buf, 503, "ServiceUnavailable");
    assert_int_equal(
        test_http_exchange(s.port, probe, strlen(probe), buf, sizeof(buf)),
        200);
    for (int i = 0; i < 4; i++)
        assert_false(test_http_closed(busy[i]));
    /* The busy ones finish their requests. */
    for (int i = 0; i < 4; i++) {
        assert_true(test_http_send(busy[i], "Host: x\r\n\r\n", 11));
        assert_int_equal(
            test_http_read_response(busy[i], buf, sizeof(buf), 5000), 200);
        close(busy[i]);
    }
    server_stop(&s);
}

/* Headers must come within header_timeout_s; the body may take until
 * request_timeout_s, and no longer. */
static void test_header_and_request_timeouts(void **state)
{
    struct http_server_opts o = {.header_timeout_s = 1, .request_timeout_s = 5};
    const char *head = "POST /echo HTTP/1.1\r\nHost: x\r\n"
                       "Content-Length: 10\r\n\r\n";
    struct server s;
    struct timespec t0;
    char buf[4096];
    bool cut = false;
    double took;
    int fd;
    (void)state;

    server_start(&s, &o);

    /* Headers trickled in: cut after about a second, long before the
     * request deadline. */
    fd = test_http_connect(s.port);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    assert_true(test_http_send(fd, "GET / HTTP/1.1\r\n", 16));
    while (!cut && seconds_since(&t0) < 8) {
        usleep(100 * 1000);
        cut = !test_http_send(fd, "X", 1) || test_http_closed(fd);
    }
    took = seconds_since(&t0);
    close(fd);
    if (!cut)
        fail_msg("trickled headers were never cut");
    if (took < 0.95 || took > 4)
        fail_msg("trickled headers were cut after %.2f s", took);

    /* A body trickled over 2.5 s, past the header timeout: answered. */
    fd = test_http_connect(s.port);
    assert_true(test_http_send(fd, head, strlen(head)));
    for (int i = 0; i < 10; i++) {
        usleep(250 * 1000);
        if (!test_http_send(fd, "b", 1))
            fail_msg("the body was cut after %d bytes", i);
    }
    assert_int_equal(test_http_read_response(fd, buf, sizeof(buf), 5000), 200);
    assert_non_null(strstr(buf, "\r\n\r\n10"));
    close(fd);

    /* A body that never ends: cut at the request deadline. */
    fd = test_http_connect(s.port);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    {
        const char *r = "POST /echo HTTP/1.1\r\nHost: x\r\n"
                        "Content-Length: 1000\r\n\r\n";
        assert_true(test_http_send(fd, r, strlen(r)));
    }
    cut = false;
    while (!cut && seconds_since(&t0) < 12) {
        usleep(200 * 1000);
        cut = !test_http_send(fd, "b", 1) || test_http_closed(fd);
    }
    took = seconds_since(&t0);
    close(fd);
    if (!cut)
        fail_msg("a body trickled for ever was never cut");
    if (took < 4.95 || took > 8)
        fail_msg("the trickled body was cut after %.2f s", took);
    server_stop(&s);
}

/* What evhttp would answer with an HTML page, and what the scan refuses,
 * comes out as a Status with the right code. */
static void test_errors_are_status(void **state)
{
    struct http_server_opts o = {.max_body_bytes = 4096,
                                 .max_headers_bytes = 8192};
    static const struct {
        const char *raw;
        int code;
        const char *reason;
    } cases[] = {
        {"BLAH\r\n\r\n", 400, "BadRequest"},
        {"GET / HTTP/x\r\nHost: x\r\n\r\n", 400, "BadRequest"},
        {"GET / HTTP/1.1\r\nno colon here\r\n\r\n", 400, "BadRequest"},
        {"FROB / HTTP/1.1\r\nHost: x\r\n\r\n", 501, "NotImplemented"},
        {"POST /echo HTTP/1.1\r\nHost: x\r\nExpect: tea\r\n"
         "Content-Length: 2\r\n\r\nab",
         417, "ExpectationFailed"},
        {"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: x1\r\n\r\n", 400,
         "BadRequest"},
        {"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n"
         "Content-Length: 3\r\n\r\nabc",
         400, "BadRequest"},
        {"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n"
         "Content-length: 2x\r\n\r\nab",
         400, "BadRequest"},
        {"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: "
         "0000000000000000000000000000000000000000000000000000000000000000"
         "0000000000000000000000000000000000000000000000000000000000000002"
         "\r\nContent-Length: 3\r\n\r\nabc",
         400, "BadRequest"},
    };
    struct server s;
    char buf[16384], *big;
    struct timespec t0;
    int fd;
    (void)state;

    server_start(&s, &o);
    for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
        int code = test_http_exchange(s.port, cases[i].raw,
                                      strlen(cases[i].raw), buf, sizeof(buf));
        if (code != cases[i].code)
            fail_msg("case %zu answered %d: %s", i, code, buf);
        assert_status_reply(buf, cases[i].code, cases[i].reason);
    }
    /* The same length twice is one length. */
    {
        const char *r = "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 2"
                        "\r\nContent-Length: 2\r\n\r\nab";
        assert_int_equal(
            test_http_exchange(s.port, r, strlen(r), buf, sizeof(buf)), 200);
    }

    /* Headers over the limit: 431. */
    big = malloc(20000);
    assert_non_null(big);
    snprintf(big, 20000, "GET / HTTP/1.1\r\nHost: x\r\nX-Big: %0*d\r\n\r\n",
             12000, 0);
    assert_int_equal(
        test_http_exchange(s.port, big, strlen(big), buf, sizeof(buf)), 431);
    assert_status_reply(buf, 431, "RequestHeaderFieldsTooLarge");

    /* A body over the limit, sent whole: 413 after it. */
    {
        int n = snprintf(big, 20000,
                         "POST /echo HTTP/1.1\r\nHost: x\r\n"
                         "Content-Length: 10000\r\n\r\n");
        memset(big + n, 'a', 10000);
        assert_int_equal(test_http_exchange(s.port, big, (size_t)n + 10000, buf,
                                            sizeof(buf)),
                         413);
        assert_status_reply(buf, 413, "RequestEntityTooLarge");
    }
    free(big);

    /* "Expect: 100-continue" with a body over the limit: 413 at once,
     * before any of the body (the read fails the test if it waits). */
    fd = test_http_connect(s.port);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    {
        const char *r =
            "POST /echo HTTP/1.1\r\nHost: x\r\n"
            "Expect: 100-continue\r\nContent-Length: 100000\r\n\r\n";
        assert_true(test_http_send(fd, r, strlen(r)));
    }
    assert_int_equal(test_http_read_response(fd, buf, sizeof(buf), 3000), 413);
    assert_status_reply(buf, 413, "RequestEntityTooLarge");
    assert_null(strstr(buf, " 100 Continue"));
    close(fd);

    /* Within the limit: 100 Continue, then the answer. */
    fd = test_http_connect(s.port);
    {
        const char *r = "POST /echo HTTP/1.1\r\nHost: x\r\n"
                        "Expect: 100-continue\r\nContent-Length: 3\r\n\r\n";
        struct pollfd p = {.fd = fd, .events = POLLIN};
        ssize_t n;
        assert_true(test_http_send(fd, r, strlen(r)));
        if (poll(&p, 1, 3000) != 1)
            fail_msg("no 100 Continue within 3 s");
        n = recv(fd, buf, sizeof(buf) - 1, 0);
        assert_true(n > 0);
        buf[n] = '\0';
        assert_string_equal(buf, "HTTP/1.1 100 Continue\r\n\r\n");
        assert_true(test_http_send(fd, "abc", 3));
        assert_int_equal(test_http_read_response(fd, buf, sizeof(buf), 3000),
                         200);
        assert_non_null(strstr(buf, "\r\n\r\n3"));
    }
    close(fd);

    /* A good request, then a bad one on the same connection: the first is
     * answered, the second refused as a Status. */
    fd = test_http_connect(s.port);
    {
        const char *r = "GET / HTTP/1.1\r\nHost: x\r\n\r\n"
                        "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 1"
                        "\r\nContent-Length: 2\r\n\r\nab";
        char *second;
        assert_true(test_http_send(fd, r, strlen(r)));
        test_http_read_until_close(fd, buf, sizeof(buf), 5000);
        assert_true(strncmp(buf, "HTTP/1.1 200 OK\r\n", 17) == 0);
        second = strstr(buf + 17, "HTTP/1.1 400 ");
        if (!second)
            fail_msg("no 400 for the second request: %s", buf);
        assert_status_reply(second, 400, "BadRequest");
        assert_non_null(strstr(second, "conflicting Content-Length"));
    }
    close(fd);
    server_stop(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bearer),
        cmocka_unit_test(test_secret_equal),
        cmocka_unit_test(test_cap_sheds_idle),
        cmocka_unit_test(test_cap_all_busy),
        cmocka_unit_test(test_header_and_request_timeouts),
        cmocka_unit_test(test_errors_are_status),
    };

    evthread_use_pthreads();
    return cmocka_run_group_tests_name("http", tests, NULL, NULL);
}
