/*
 * Unit tests for migrator/report: a fake orchestratord (the project's http/
 * server in this process, tests/unit/support/fake_orchd.h) receives the
 * pushes.  The first push as soon as a report is submitted, with the
 * bearer token, to the node's path; the heartbeat; a newer report at once;
 * retries after a refused connection until orchestratord comes up; a 401
 * logged once however often it is retried; https checked against the
 * given CA and refused without it; and a stop that cuts a push hanging on
 * an orchestratord that never answers.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <event2/thread.h>
#include <jansson.h>

#include "migrator/report.h"
#include "tests/unit/support/capture.h"
#include "tests/unit/support/fake_orchd.h"
#include "tests/unit/support/sysfs_fixture.h"

#define TOKEN "node-token-0123456789abcdef"
#define PATH  "/apis/agent.orchestrator.io/v1/nodereports/host-a"

struct t {
    struct fx fx; /* a temporary directory */
    char *log;    /* what was logged while captured */
    bool capturing;
};

static int setup(void **state)
{
    struct t *t = calloc(1, sizeof(*t));

    if (!t || fx_make(&t->fx, "test_migrator_report") < 0)
        return -1;
    *state = t;
    return 0;
}

/* Log lines (this process's stderr) go to the capture until release. */
static void capture_log(struct t *t)
{
    test_stderr_begin();
    t->capturing = true;
}

static void release_log(struct t *t)
{
    if (!t->capturing)
        return;
    free(t->log);
    t->log = test_stderr_end(NULL);
    t->capturing = false;
}

static int teardown(void **state)
{
    struct t *t = *state;

    release_log(t); /* a test that failed while capturing */
    free(t->log);
    fx_remove(&t->fx);
    free(t);
    return 0;
}

/* How many times `text` occurs in what was captured. */
static int log_count(struct t *t, const char *text)
{
    int n = 0;

    for (const char *p = t->log; p && (p = strstr(p, text)); p += strlen(text))
        n++;
    return n;
}

static struct migr_report *reporter(uint16_t port, const char *scheme,
                                    const char *cacert, int interval_s)
{
    struct migr_report *r = NULL;
    char url[128];
    struct migr_report_opts o = {
        .url = url,
        .node = "host-a",
        .token = TOKEN,
        .cacert = cacert,
        .interval_s = interval_s,
    };

    snprintf(url, sizeof(url), "%s://127.0.0.1:%u/", scheme, (unsigned)port);
    assert_int_equal(migr_report_new(&o, &r), 0);
    return r;
}

/* A port nothing listens on (bound, then closed again). */
static uint16_t free_port(void)
{
    struct sockaddr_in a = {.sin_family = AF_INET};
    socklen_t len = sizeof(a);
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_true(fd >= 0);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    close(fd);
    return ntohs(a.sin_port);
}

static long long now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The fake records a request before its answer reaches the reporter:
 * wait up to 5 s for `n` pushes to be done, and return the counters. */
static struct migr_report_stats wait_attempts(struct migr_report *r, uint64_t n)
{
    struct migr_report_stats st;

    for (int i = 0; i < 500; i++) {
        migr_report_stats(r, &st);
        if (st.attempts >= n)
            break;
        usleep(10 * 1000);
    }
    return st;
}

/* ---------------------------------------------------------------------- */

static void test_push(void **state)
{
    struct t *t = *state;
    struct fake_orchd *f;
    struct migr_report *r;
    struct migr_report_stats st;
    struct fake_req q = {0};
    uint16_t port;
    long long t0;

    capture_log(t);
    f = fake_orchd_start(0, NULL, NULL, &port);
    /* A long heartbeat: every push below comes from a submission. */
    r = reporter(port, "http", NULL, 3600);
    assert_int_equal(migr_report_start(r), 0);
    /* Nothing to report yet: nothing is sent. */
    usleep(200 * 1000);
    assert_int_equal(fake_orchd_count(f), 0);

    assert_int_equal(migr_report_submit(r, "{\"name\":\"host-a\",\"n\":1}"), 0);
    assert_true(fake_orchd_wait(f, 1, 5000));
    fake_orchd_get(f, 0, &q);
    assert_string_equal(q.method, "PUT");
    assert_string_equal(q.path, PATH);
    assert_string_equal(q.authorization, "Bearer " TOKEN);
    assert_string_equal(q.content_type, "application/json");
    assert_string_equal(q.body, "{\"name\":\"host-a\",\"n\":1}");
    fake_req_clear(&q);

    /* A newer report goes out at once. */
    t0 = now_ms();
    assert_int_equal(migr_report_submit(r, "{\"n\":2}"), 0);
    assert_true(fake_orchd_wait(f, 2, 5000));
    printf("# a new report reached orchestratord after %lld ms\n",
           now_ms() - t0);
    fake_orchd_get(f, 1, &q);
    assert_string_equal(q.body, "{\"n\":2}");
    fake_req_clear(&q);
    st = wait_attempts(r, 2);
    assert_int_equal(st.attempts, 2);
    assert_int_equal(st.delivered, 2);
    assert_int_equal(st.failed, 0);
    assert_int_equal(st.last_status, 200);
    usleep(200 * 1000);
    assert_int_equal(fake_orchd_count(f), 2);

    migr_report_free(r);
    fake_orchd_stop(f);
    release_log(t);
    assert_int_equal(log_count(t, "report to 'http://127.0.0.1:"), 1);
    assert_int_equal(log_count(t, "': delivered"), 1);
}

/* With nothing new, the last report goes out again every interval. */
static void test_heartbeat(void **state)
{
    struct fake_orchd *f;
    struct migr_report *r;
    struct fake_req q = {0};
    uint16_t port;
    (void)state;

    f = fake_orchd_start(0, NULL, NULL, &port);
    r = reporter(port, "http", NULL, 1);
    assert_int_equal(migr_report_submit(r, "{\"n\":1}"), 0);
    /* Submitted before the start: goes out when it starts. */
    assert_int_equal(migr_report_start(r), 0);
    assert_true(fake_orchd_wait(f, 1, 5000));
    usleep(300 * 1000);
    assert_int_equal(fake_orchd_count(f), 1);
    assert_true(fake_orchd_wait(f, 3, 5000));
    fake_orchd_get(f, 2, &q);
    assert_string_equal(q.body, "{\"n\":1}");
    fake_req_clear(&q);
    migr_report_free(r);
    fake_orchd_stop(f);
}

/* A report that names its run goes out with bootId and a sequence that
 * grows with every push, the heartbeat's resends included, so that
 * orchestratord can order them. */
static void test_sequence(void **state)
{
    struct fake_orchd *f;
    struct migr_report *r;
    struct fake_req q = {0};
    uint16_t port;
    json_t *o;
    (void)state;

    f = fake_orchd_start(0, NULL, NULL, &port);
    r = reporter(port, "http", NULL, 1);
    assert_int_equal(
        migr_report_submit(r, "{\"agent\":{\"bootId\":\"b-1\"},\"n\":1}"), 0);
    assert_int_equal(migr_report_start(r), 0);
    assert_true(fake_orchd_wait(f, 3, 5000));
    for (int i = 0; i < 3; i++) {
        fake_orchd_get(f, (size_t)i, &q);
        o = json_loads(q.body, 0, NULL);
        assert_non_null(o);
        assert_string_equal(json_string_value(json_object_get(o, "bootId")),
                            "b-1");
        assert_int_equal(json_integer_value(json_object_get(o, "sequence")),
                         i + 1);
        assert_int_equal(json_integer_value(json_object_get(o, "n")), 1);
        json_decref(o);
        fake_req_clear(&q);
    }
    migr_report_free(r);
    fake_orchd_stop(f);
}

/* orchestratord is not up: the pushes fail, quietly, and the report gets
 * through once it is. */
static void test_retry_refused(void **state)
{
    struct t *t = *state;
    struct fake_orchd *f;
    struct migr_report *r;
    struct migr_report_stats st;
    uint16_t port = free_port(), bound;

    capture_log(t);
    r = reporter(port, "http", NULL, 2);
    assert_int_equal(migr_report_start(r), 0);
    assert_int_equal(migr_report_submit(r, "{\"n\":1}"), 0);
    /* Tries at 0, 1 and 3 s. */
    for (int i = 0; i < 50; i++) {
        migr_report_stats(r, &st);
        if (st.failed >= 2)
            break;
        usleep(100 * 1000);
    }
    migr_report_stats(r, &st);
    assert_true(st.failed >= 2);
    assert_int_equal(st.delivered, 0);
    assert_int_equal(st.last_status, 0);

    f = fake_orchd_start(port, NULL, NULL, &bound);
    assert_int_equal(bound, port);
    assert_true(fake_orchd_wait(f, 1, 5000));
    st = wait_attempts(r, st.attempts + 1);
    assert_int_equal(st.delivered, 1);
    migr_report_free(r);
    fake_orchd_stop(f);
    release_log(t);
    /* One line for the whole outage, one for the recovery. */
    assert_int_equal(log_count(t, "Couldn't connect to server; retrying"), 1);
    assert_int_equal(log_count(t, ": info: report to"), 2);
    assert_int_equal(log_count(t, "delivered again after "), 1);
    assert_int_equal(log_count(t, TOKEN), 0);
}

/* A refused credential: logged once with orchestratord's message, however
 * often it is tried again; logged again when the answer changes. */
static void test_unauthorized_logged_once(void **state)
{
    struct t *t = *state;
    struct fake_orchd *f;
    struct migr_report *r;
    struct migr_report_stats st;
    uint16_t port;

    capture_log(t);
    f = fake_orchd_start(0, NULL, NULL, &port);
    fake_orchd_answer(f, 401, "a valid bearer token is required");
    r = reporter(port, "http", NULL, 1);
    assert_int_equal(migr_report_submit(r, "{\"n\":1}"), 0);
    assert_int_equal(migr_report_start(r), 0);
    assert_true(fake_orchd_wait(f, 3, 6000));
    fake_orchd_answer(f, 403, "node 'host-a' may not write node 'host-b'");
    assert_true(fake_orchd_wait(f, 5, 6000));
    st = wait_attempts(r, 5);
    assert_int_equal(st.delivered, 0);
    assert_true(st.failed >= 5);
    assert_true(st.last_status == 403);
    migr_report_free(r);
    fake_orchd_stop(f);
    release_log(t);
    assert_int_equal(log_count(t, "warn: report to 'http://127.0.0.1:"), 2);
    assert_int_equal(
        log_count(t, "HTTP 401: a valid bearer token is required; retrying"),
        1);
    assert_int_equal(log_count(t, "HTTP 403: node 'host-a' may not write "
                                  "node 'host-b'; retrying"),
                     1);
}

/* https: the certificate is checked against the CA given, and refused
 * when it is not trusted. */
static void test_https(void **state)
{
    struct t *t = *state;
    struct fake_orchd *f;
    struct migr_report *r;
    struct migr_report_stats st;
    char cert[300], key[300];
    uint16_t port;

    test_tls_cert(t->fx.root);
    snprintf(cert, sizeof(cert), "%s/cert.pem", t->fx.root);
    snprintf(key, sizeof(key), "%s/key.pem", t->fx.root);
    f = fake_orchd_start(0, cert, key, &port);

    r = reporter(port, "https", cert, 3600);
    assert_int_equal(migr_report_submit(r, "{\"n\":1}"), 0);
    assert_int_equal(migr_report_start(r), 0);
    assert_true(fake_orchd_wait(f, 1, 5000));
    st = wait_attempts(r, 1);
    assert_int_equal(st.delivered, 1);
    migr_report_free(r);

    /* The system's CAs do not know the test's certificate. */
    capture_log(t);
    r = reporter(port, "https", NULL, 3600);
    assert_int_equal(migr_report_submit(r, "{\"n\":1}"), 0);
    assert_int_equal(migr_report_start(r), 0);
    for (int i = 0; i < 50; i++) {
        migr_report_stats(r, &st);
        if (st.failed)
            break;
        usleep(100 * 1000);
    }
    assert_int_equal(st.failed, 1);
    assert_int_equal(st.delivered, 0);
    assert_int_equal(fake_orchd_count(f), 1);
    migr_report_free(r);
    fake_orchd_stop(f);
    release_log(t);
    assert_int_equal(log_count(t, "warn: report to 'https://127.0.0.1:"), 1);
}

/* An orchestratord that takes the connection and never answers: a stop
 * does not wait for the request's 10 s timeout. */
static void test_stop_cuts_push(void **state)
{
    struct migr_report *r;
    struct migr_report_stats st;
    struct sockaddr_in a = {.sin_family = AF_INET};
    socklen_t len = sizeof(a);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    long long t0, took;
    (void)state;

    /* Listening, never accepting: the kernel completes the handshake and
     * the request sits in its queue. */
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_true(fd >= 0);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(listen(fd, 8), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);

    r = reporter(ntohs(a.sin_port), "http", NULL, 3600);
    assert_int_equal(migr_report_submit(r, "{\"n\":1}"), 0);
    assert_int_equal(migr_report_start(r), 0);
    usleep(500 * 1000);
    migr_report_stats(r, &st);
    assert_int_equal(st.attempts, 0); /* still waiting for an answer */
    t0 = now_ms();
    migr_report_stop(r);
    took = now_ms() - t0;
    printf("# stop took %lld ms\n", took);
    assert_true(took < 1000);
    migr_report_stats(r, &st);
    assert_int_equal(st.attempts, 0);
    /* And it starts again, the report still there. */
    assert_int_equal(migr_report_start(r), 0);
    migr_report_free(r);
    close(fd);
}

static void test_new_errors(void **state)
{
    struct migr_report *r = NULL;
    struct migr_report_opts o = {
        .url = "ftp://x", .node = "host-a", .interval_s = 10};
    (void)state;

    assert_int_equal(migr_report_new(&o, &r), -EINVAL);
    o.url = "http://127.0.0.1:8080";
    o.interval_s = 0;
    assert_int_equal(migr_report_new(&o, &r), -EINVAL);
    o.interval_s = 10;
    o.node = "";
    assert_int_equal(migr_report_new(&o, &r), -EINVAL);
    assert_null(r);
    o.node = "host-a";
    assert_int_equal(migr_report_new(&o, &r), 0);
    assert_int_equal(migr_report_submit(r, NULL), -EINVAL);
    migr_report_stop(r); /* not started: nothing to do */
    migr_report_free(r);
    migr_report_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_push, setup, teardown),
        cmocka_unit_test(test_heartbeat),
        cmocka_unit_test(test_sequence),
        cmocka_unit_test_setup_teardown(test_retry_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unauthorized_logged_once, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_https, setup, teardown),
        cmocka_unit_test(test_stop_cuts_push),
        cmocka_unit_test(test_new_errors),
    };

    evthread_use_pthreads();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
