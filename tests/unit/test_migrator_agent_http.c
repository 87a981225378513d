/*
 * Integration test: start build/bin/migrator on libvirt's test:///default
 * driver, a free loopback port (--listen 127.0.0.1:0) and a temporary
 * configuration with a bearer token and a fixture sysfs tree, then talk to
 * it with libcurl: /healthz, /v1/inventory with and without the token (the
 * test driver's domain "test" running, the fixture PF's VFs), SIGHUP logged
 * and survived, SIGTERM exits 0.  And the start-up refusal of a
 * non-loopback address without a token (with -n and without).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <setjmp.h>
#include <signal.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <curl/curl.h>
#include <event2/thread.h>
#include <jansson.h>

#include "tests/unit/support/daemon.h"
#include "tests/unit/support/fake_orchd.h"
#include "tests/unit/support/sysfs_fixture.h"

#define TOKEN "agent-http-token-0123456789"

struct t {
    struct fx fx;
    char conf[PATH_MAX];
    char log[PATH_MAX];
    pid_t pid;
    int port;
};

static const struct fx_vf vfs[] = {
    {"iavf", "ens1f0v0"},
    {"vfio-pci", ""},
};

static const char *bin(void)
{
    static char path[PATH_MAX];
    const char *build = getenv("ORCH_BUILD");

    snprintf(path, sizeof(path), "%s/bin/migrator", build ? build : "build");
    return path;
}

static void write_conf(struct t *t, const char *extra)
{
    FILE *f;

    snprintf(t->conf, sizeof(t->conf), "%s/migrator.conf", t->fx.root);
    f = fopen(t->conf, "w");
    assert_non_null(f);
    fprintf(f,
            "sysfs_root = \"%s\";\n"
            "state_dir = \"%s\";\n"
            "report_interval_s = 1;\n"
            "%s"
            "labels = [\"zone=unit\"];\n"
            "networks = ( { name = \"sriov-net1\"; pf = \"ens1f0\"; } );\n%s",
            t->fx.root, t->fx.root,
            /* Reports go nowhere unless a test says where: port 1
             * refuses. */
            strstr(extra, "orchestrator =")
                ? ""
                : "orchestrator = \"http://127.0.0.1:1\";\n",
            extra);
    fclose(f);
}

/* Run the migrator with ARGV (NULL-terminated, after the program name),
 * stderr into t->log. */
static pid_t spawn(struct t *t, const char *const *argv)
{
    const char *args[16] = {bin()};
    pid_t pid;
    size_t n = 1;

    for (; argv[n - 1] && n < 15; n++)
        args[n] = argv[n - 1];
    args[n] = NULL;
    snprintf(t->log, sizeof(t->log), "%s/log", t->fx.root);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int fd = open(t->log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        dup2(fd, 1);
        dup2(fd, 2);
        execv(args[0], (char *const *)args);
        _exit(127);
    }
    return pid;
}

/* Wait for PID to exit within 10 s; its exit status, or -1. */
static int wait_exit(pid_t pid)
{
    int st;

    for (int i = 0; i < 200; i++) {
        pid_t r = waitpid(pid, &st, WNOHANG);
        if (r == pid)
            return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
        usleep(50 * 1000);
    }
    kill(pid, SIGKILL);
    waitpid(pid, &st, 0);
    return -1;
}

static bool log_has(struct t *t, const char *text)
{
    char *log = test_read_file(t->log, NULL);
    bool found = log && strstr(log, text);

    free(log);
    return found;
}

static int setup(void **state)
{
    struct t *t = calloc(1, sizeof(*t));

    if (!t || fx_make(&t->fx, "test_migrator_agent_http") < 0)
        return -1;
    fx_pf(&t->fx, "ens1f0", 0x3b, 8, vfs, 2);
    t->pid = -1;
    *state = t;
    return 0;
}

static int teardown(void **state)
{
    struct t *t = *state;

    if (t->pid > 0) {
        kill(t->pid, SIGKILL);
        waitpid(t->pid, NULL, 0);
    }
    fx_remove(&t->fx);
    free(t);
    return 0;
}

struct buf {
    char *data;
    size_t len;
};

static size_t on_data(char *p, size_t size, size_t n, void *arg)
{
    struct buf *b = arg;
    char *d = realloc(b->data, b->len + size * n + 1);

    if (!d)
        return 0;
    memcpy(d + b->len, p, size * n);
    b->data = d;
    b->len += size * n;
    d[b->len] = '\0';
    return size * n;
}

/* GET URL (https checked against `cacert`); the status, or -1 when no
 * answer came, the body in *ret_body (free). */
static long get_url(const char *url, const char *cacert, const char *token,
                    char **ret_body)
{
    CURL *c = curl_easy_init();
    struct curl_slist *h = NULL;
    struct buf b = {0};
    char auth[256];
    long code = -1;

    assert_non_null(c);
    if (cacert)
        curl_easy_setopt(c, CURLOPT_CAINFO, cacert);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 10L);
    if (token) {
        snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token);
        h = curl_slist_append(h, auth);
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    }
    if (curl_easy_perform(c) == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    if (ret_body)
        *ret_body = b.data;
    else
        free(b.data);
    return code;
}

/* GET PATH from the daemon over plain HTTP. */
static long get(struct t *t, const char *path, const char *token,
                char **ret_body)
{
    char url[256];

    snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", t->port, path);
    return get_url(url, NULL, token, ret_body);
}

static void test_serve(void **state)
{
    struct t *t = *state;
    const char *argv[] = {
        "-f",       t->conf,       "--libvirt", "test:///default",
        "--listen", "127.0.0.1:0", "--name",    "unit-http",
        NULL};
    json_t *inv, *doms, *d, *net;
    json_error_t jerr;
    char *body = NULL;
    long code;
    size_t i;
    bool found = false;

    write_conf(t, "agent_token = \"" TOKEN "\";\n");
    snprintf(t->log, sizeof(t->log), "%s/log", t->fx.root);
    t->port = test_daemon_start("migrator", argv, t->log, &t->pid);
    assert_true(log_has(t, "as 'unit-http', libvirt 'test:///default', "
                           "refresh every 1 s, bearer token required"));

    assert_int_equal(get(t, "/healthz", NULL, &body), 200);
    assert_string_equal(body, "ok");
    free(body);
    assert_int_equal(get(t, "/v1/inventory", NULL, NULL), 401);
    assert_int_equal(get(t, "/v1/inventory", "wrong-token-0123456789", NULL),
                     401);
    assert_true(log_has(t, "GET /v1/inventory from 127.0.0.1:"));

    /* The worker's first refresh may still be running. */
    for (int i = 0; i < 100; i++) {
        code = get(t, "/v1/inventory", TOKEN, &body);
        if (code != 503)
            break;
        free(body);
        usleep(50 * 1000);
    }
    assert_int_equal(code, 200);
    inv = json_loads(body, 0, &jerr);
    if (!inv)
        fail_msg("inventory is not JSON (%s): %s", jerr.text, body);
    free(body);
    assert_string_equal(json_string_value(json_object_get(inv, "name")),
                        "unit-http");
    assert_string_equal(json_string_value(json_object_get(
                            json_object_get(inv, "labels"), "zone")),
                        "unit");
    doms = json_object_get(inv, "domains");
    json_array_foreach(doms, i, d)
    {
        if (strcmp(json_string_value(json_object_get(d, "name")), "test"))
            continue;
        found = true;
        assert_string_equal(json_string_value(json_object_get(d, "state")),
                            "running");
    }
    assert_true(found);
    net = json_array_get(json_object_get(inv, "networks"), 0);
    assert_string_equal(json_string_value(json_object_get(net, "pf")),
                        "ens1f0");
    assert_int_equal(json_array_size(json_object_get(net, "vfs")), 2);
    assert_string_equal(
        json_string_value(json_object_get(
            json_array_get(json_object_get(net, "vfs"), 1), "pci")),
        "0000:3b:02.1");
    json_decref(inv);

    /* SIGHUP: logged, and the agent keeps serving. */
    assert_int_equal(kill(t->pid, SIGHUP), 0);
    for (int i = 0; i < 100 && !log_has(t, "SIGHUP received"); i++)
        usleep(20 * 1000);
    assert_true(log_has(t, "SIGHUP received, nothing to reload yet"));
    assert_int_equal(get(t, "/v1/inventory", TOKEN, NULL), 200);

    assert_int_equal(kill(t->pid, SIGTERM), 0);
    assert_int_equal(wait_exit(t->pid), 0);
    t->pid = -1;
    assert_true(log_has(t, "SIGTERM received, stopping"));
    assert_true(log_has(t, "migrator: info: stopped"));
}

/* POST BODY (JSON) to PATH with the token; the status, the body in
 * *ret_body (free). */
static long post(struct t *t, const char *path, const char *json,
                 char **ret_body)
{
    CURL *c = curl_easy_init();
    struct curl_slist *h = NULL;
    struct buf b = {0};
    char url[256];
    long code = -1;

    assert_non_null(c);
    snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", t->port, path);
    h = curl_slist_append(h, "Authorization: Bearer " TOKEN);
    h = curl_slist_append(h, "Content-Type: application/json");
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, json);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 10L);
    if (curl_easy_perform(c) == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    *ret_body = b.data;
    return code;
}

/* The real daemon runs a prepare job on its workers: POST answers 202 at
 * once, the watch streams the job to its final state and then ends, the
 * journal holds the end, and SIGTERM still stops the daemon cleanly. */
static void test_jobs(void **state)
{
    struct t *t = *state;
    const char *argv[] = {
        "-f",       t->conf,       "--libvirt", "test:///default",
        "--listen", "127.0.0.1:0", NULL};
    char *body = NULL, *line, *save = NULL, path[PATH_MAX + 32];
    json_t *o, *last = NULL, *jr;
    long code;

    write_conf(t, "agent_token = \"" TOKEN "\";\n");
    snprintf(t->log, sizeof(t->log), "%s/log", t->fx.root);
    t->port = test_daemon_start("migrator", argv, t->log, &t->pid);

    code = post(t, "/v1/jobs",
                "{\"id\":\"u-prepare\",\"type\":\"prepare\","
                "\"migration\":{\"namespace\":\"ns\",\"name\":\"m\","
                "\"uid\":\"u\"},\"domain\":\"ns_vm\",\"prepare\":{}}",
                &body);
    assert_int_equal(code, 202);
    o = json_loads(body, 0, NULL);
    assert_non_null(o);
    assert_string_equal(json_string_value(json_object_get(o, "id")),
                        "u-prepare");
    json_decref(o);
    free(body);

    /* The watch ends by itself after the final state (curl would time out
     * after 10 s otherwise, and the code would not be 200). */
    assert_int_equal(get(t, "/v1/jobs/u-prepare?watch=true", TOKEN, &body),
                     200);
    for (line = strtok_r(body, "\n", &save); line;
         line = strtok_r(NULL, "\n", &save)) {
        json_decref(last);
        last = json_loads(line, 0, NULL);
        assert_non_null(last);
    }
    free(body);
    o = json_object_get(last, "object");
    assert_string_equal(json_string_value(json_object_get(o, "state")),
                        "Succeeded");
    o = json_object_get(o, "result");
    assert_string_equal(
        json_string_value(json_object_get(o, "migrationAddress")), "127.0.0.1");
    assert_true(json_integer_value(json_object_get(o, "port")) >= 49152);
    json_decref(last);

    snprintf(path, sizeof(path), "%s/jobs/u-prepare.json", t->fx.root);
    jr = json_load_file(path, 0, NULL);
    assert_non_null(jr);
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(jr, "job"), "state")),
        "Succeeded");
    json_decref(jr);

    assert_int_equal(kill(t->pid, SIGTERM), 0);
    assert_int_equal(wait_exit(t->pid), 0);
    t->pid = -1;
}

/* A non-loopback address without a token is refused before serving. */
static void test_refuses_open_listen(void **state)
{
    struct t *t = *state;
    const char *check[] = {"-n", "-f", t->conf, "--listen", "0.0.0.0:0", NULL};
    const char *run[] = {
        "-f",       t->conf,     "--libvirt", "test:///default",
        "--listen", "0.0.0.0:0", NULL};
    const char *ok[] = {"-n", "-f", t->conf, NULL};
    const char *msg =
        "0.0.0.0:0 is not a loopback address and no 'agent_token' "
        "is set: the agent API would be open to anyone";

    write_conf(t, "");
    assert_int_equal(wait_exit(spawn(t, check)), 1);
    assert_true(log_has(t, msg));
    assert_int_equal(wait_exit(spawn(t, run)), 1);
    assert_true(log_has(t, msg));
    assert_false(log_has(t, "serving"));
    /* The default listen (loopback) is fine without one. */
    assert_int_equal(wait_exit(spawn(t, ok)), 0);
    assert_true(log_has(t, "migrator: configuration ok"));
}

/* The agent API over TLS: https with the test's CA answers, the
 * inventory says https in the agent's URL; plain HTTP gets nothing. */
static void test_tls(void **state)
{
    struct t *t = *state;
    const char *argv[] = {
        "-f",       t->conf,       "--libvirt", "test:///default",
        "--listen", "127.0.0.1:0", NULL};
    char extra[1024], url[256], ca[300], *body = NULL;
    json_t *inv;
    long code = -1;

    test_tls_cert(t->fx.root);
    snprintf(ca, sizeof(ca), "%s/cert.pem", t->fx.root);
    snprintf(extra, sizeof(extra),
             "agent_token = \"" TOKEN "\";\n"
             "tls_certificate = \"%s/cert.pem\";\n"
             "tls_key = \"%s/key.pem\";\n",
             t->fx.root, t->fx.root);
    write_conf(t, extra);
    snprintf(t->log, sizeof(t->log), "%s/log", t->fx.root);
    t->port = test_daemon_start("migrator", argv, t->log, &t->pid);
    assert_true(log_has(t, "serving HTTPS on 127.0.0.1:"));

    snprintf(url, sizeof(url), "https://127.0.0.1:%d/healthz", t->port);
    assert_int_equal(get_url(url, ca, NULL, &body), 200);
    assert_string_equal(body, "ok");
    free(body);
    /* Not with a CA that did not sign it (the system's). */
    assert_int_equal(get_url(url, NULL, NULL, NULL), -1);
    /* Plain HTTP on the TLS port: no answer. */
    assert_int_equal(get(t, "/healthz", NULL, NULL), -1);
    snprintf(url, sizeof(url), "https://127.0.0.1:%d/v1/inventory", t->port);
    assert_int_equal(get_url(url, ca, NULL, NULL), 401);
    for (int i = 0; i < 100; i++) {
        code = get_url(url, ca, TOKEN, &body);
        if (code != 503)
            break;
        free(body);
        usleep(50 * 1000);
    }
    assert_int_equal(code, 200);
    inv = json_loads(body, 0, NULL);
    free(body);
    assert_non_null(inv);
    snprintf(url, sizeof(url), "https://127.0.0.1:%d", t->port);
    assert_string_equal(json_string_value(json_object_get(
                            json_object_get(inv, "agent"), "url")),
                        url);
    json_decref(inv);

    assert_int_equal(kill(t->pid, SIGTERM), 0);
    assert_int_equal(wait_exit(t->pid), 0);
    t->pid = -1;
}

/* The daemon reports to orchestratord from the start; on SIGTERM, a
 * report hanging on an orchestratord that never answers does not hold up
 * the exit (the request timeout is 10 s). */
static void test_report_and_sigterm(void **state)
{
    struct t *t = *state;
    const char *argv[] = {
        "-f",       t->conf,       "--libvirt", "test:///default",
        "--listen", "127.0.0.1:0", "--name",    "unit-http",
        NULL};
    struct sockaddr_in a = {.sin_family = AF_INET};
    socklen_t len = sizeof(a);
    struct fake_orchd *f;
    struct fake_req q = {0};
    struct timespec t0, t1;
    char extra[512];
    uint16_t port;
    int fd, st = -1;
    long ms;

    /* A real one first: the report arrives with the token. */
    snprintf(t->log, sizeof(t->log), "%s/log", t->fx.root);
    f = fake_orchd_start(0, NULL, NULL, &port);
    snprintf(extra, sizeof(extra),
             "orchestrator = \"http://127.0.0.1:%u\";\n"
             "orchestrator_token = \"node-http-token-0123456789\";\n",
             (unsigned)port);
    write_conf(t, extra);
    t->port = test_daemon_start("migrator", argv, t->log, &t->pid);
    assert_true(fake_orchd_wait(f, 1, 5000));
    fake_orchd_get(f, 0, &q);
    assert_string_equal(q.path,
                        "/apis/agent.orchestrator.io/v1/nodereports/unit-http");
    assert_string_equal(q.authorization, "Bearer node-http-token-0123456789");
    assert_non_null(strstr(q.body, "\"name\":\"unit-http\""));
    fake_req_clear(&q);
    assert_true(log_has(t, "reporting to 'http://127.0.0.1:"));
    assert_int_equal(kill(t->pid, SIGTERM), 0);
    assert_int_equal(wait_exit(t->pid), 0);
    t->pid = -1;
    fake_orchd_stop(f);

    /* Listening, never accepting: the report waits for an answer. */
    fd = socket(AF_INET, SOCK_STREAM, 0);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_true(fd >= 0);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(listen(fd, 8), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    snprintf(extra, sizeof(extra), "orchestrator = \"http://127.0.0.1:%u\";\n",
             (unsigned)ntohs(a.sin_port));
    write_conf(t, extra);
    t->port = test_daemon_start("migrator", argv, t->log, &t->pid);
    usleep(500 * 1000); /* the first report is sent and hangs */
    clock_gettime(CLOCK_MONOTONIC, &t0);
    assert_int_equal(kill(t->pid, SIGTERM), 0);
    for (int i = 0; i < 400; i++) {
        if (waitpid(t->pid, &st, WNOHANG) == t->pid)
            break;
        usleep(5 * 1000);
        st = -1;
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
    printf("# exit %ld ms after SIGTERM\n", ms);
    assert_true(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0);
    assert_true(ms < 2000);
    t->pid = -1;
    assert_true(log_has(t, "migrator: info: stopped"));
    close(fd);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_serve, setup, teardown),
        cmocka_unit_test_setup_teardown(test_jobs, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refuses_open_listen, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_tls, setup, teardown),
        cmocka_unit_test_setup_teardown(test_report_and_sigterm, setup,
                                        teardown),
    };
    int r;

    curl_global_init(CURL_GLOBAL_DEFAULT);
    evthread_use_pthreads();
    r = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    return r;
}
