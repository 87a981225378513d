/*
 * Integration test: start build/bin/orchestratord on a random loopback port
 * with a temporary database (a VMI record created through the store API
 * first) and drive it over raw sockets: the seed's migration.yaml and .json,
 * get, list, watch, delete, and the bad-input cases (malformed YAML, an
 * oversized body, a truncated body, headers trickled in, binary garbage)
 * while another client keeps being served; then SIGTERM exits 0.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include <jansson.h>

#include "api/api.h"
#include "store/store.h"
#include "tests/unit/support/daemon.h"

static char tmpdir[256];
static char logpath[300];
static char confpath[300];
static char dbpath[300];
static const char *auth; /* bearer token request() sends, if any */
static pid_t daemon_pid = -1;
static int port;

static int connect_daemon(void)
{
    struct sockaddr_in sa = {.sin_family = AF_INET};
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    sa.sin_port = htons((uint16_t)port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_true(fd >= 0);
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static void send_all(int fd, const char *buf, size_t len)
{
    while (len > 0) {
        ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);
        if (n <= 0)
            return;
        buf += n;
        len -= (size_t)n;
    }
}

/* Read until the peer closes; returns the bytes read.  A peer that is
 * still connected after TIMEOUT_MS fails the test: the callers check that
 * the server cuts a connection, and a timeout must not pass for a cut. */
static size_t read_until_close(int fd, char *buf, size_t cap, int timeout_ms)
{
    struct timespec t0, now;
    size_t len = 0;

    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (;;) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        long left;
        ssize_t n;
        int ready = 0;

        clock_gettime(CLOCK_MONOTONIC, &now);
        left = timeout_ms - ((now.tv_sec - t0.tv_sec) * 1000L +
                             (now.tv_nsec - t0.tv_nsec) / 1000000L);
        if (left > 0)
            ready = poll(&p, 1, (int)left);
        if (ready < 0 && errno == EINTR)
            continue;
        if (ready == 0)
            fail_msg("the server did not close the connection within %d ms "
                     "(%zu bytes read)",
                     timeout_ms, len);
        if (len + 1 == cap)
            fail_msg("more than %zu bytes before the close", cap - 1);
        n = recv(fd, buf + len, cap - 1 - len, 0);
        if (n <= 0)
            break;
        len += (size_t)n;
    }
    buf[len] = '\0';
    return len;
}

/* Read one response with a Content-Length body. */
static int read_response(int fd, char *buf, size_t cap)
{
    size_t len = 0;
    struct pollfd p = {.fd = fd, .events = POLLIN};
    while (len + 1 < cap && poll(&p, 1, 5000) > 0) {
        ssize_t n = recv(fd, buf + len, cap - 1 - len, 0);
        char *hend, *cl;
        if (n <= 0)
            break;
        len += (size_t)n;
        buf[len] = '\0';
        hend = strstr(buf, "\r\n\r\n");
        if (!hend)
            continue;
        cl = strcasestr(buf, "Content-Length:");
        if (cl && cl < hend &&
            len >= (size_t)(hend + 4 - buf) + (size_t)atol(cl + 15))
            break;
    }
    buf[len] = '\0';
    if (len < 12)
        return -1;
    return atoi(buf + 9);
}

/* One request on a new connection; returns the status, body in BUF. */
static int request(const char *method, const char *path, const char *ctype,
                   const char *body, size_t body_len, char *buf, size_t cap)
{
    char head[1024];
    int fd = connect_daemon(), code;
    if (fd < 0)
        return -1;
    snprintf(head, sizeof(head),
             "%s %s HTTP/1.1\r\nHost: localhost\r\n%s%s%s%s%s%sContent-Length: "
             "%zu\r\n\r\n",
             method, path, ctype ? "Content-Type: " : "", ctype ? ctype : "",
             ctype ? "\r\n" : "", auth ? "Authorization: Bearer " : "",
             auth ? auth : "", auth ? "\r\n" : "", body_len);
    send_all(fd, head, strlen(head));
    if (body_len)
        send_all(fd, body, body_len);
    code = read_response(fd, buf, cap);
    close(fd);
    return code;
}

#define VMIM                                                                   \
    "/apis/kubevirt.io/v1/namespaces/default/virtualmachineinstancemigrations"
#define POLICIES "/apis/migrations.kubevirt.io/v1alpha1/migrationpolicies"

/* Write the daemon's configuration: TOKENS (libconfig list items, or NULL
 * for none), the body limit and EXTRA lines (may be NULL). */
static void write_conf_extra(const char *tokens, int max_body,
                             const char *extra)
{
    FILE *f = fopen(confpath, "w");
    assert_non_null(f);
    fprintf(f,
            "listen = \"127.0.0.1:0\";\n"
            "limits = { max_body_bytes = %d; header_timeout_s = 2; "
            "request_timeout_s = 5; };\n"
            /* The migration controller runs: a limit of 0 keeps the
             * migrations these tests post in Pending, in flight. */
            "migrations = { parallel_migrations_per_cluster = 0; };\n",
            max_body);
    if (tokens)
        fprintf(f, "tokens = ( %s );\n", tokens);
    if (extra)
        fputs(extra, f);
    fclose(f);
}

static void write_conf(const char *tokens, int max_body)
{
    write_conf_extra(tokens, max_body, NULL);
}

static int start_daemon(void **state)
{
    char *db = dbpath, err[256];
    struct store *st = NULL;
    json_t *vmi;
    (void)state;

    snprintf(tmpdir, sizeof(tmpdir), "/tmp/orch-http-XXXXXX");
    assert_non_null(mkdtemp(tmpdir));
    snprintf(dbpath, sizeof(dbpath), "%s/orch.db", tmpdir);
    snprintf(confpath, sizeof(confpath), "%s/orchestratord.conf", tmpdir);
    snprintf(logpath, sizeof(logpath), "%s/log", tmpdir);

    /* VMIs have no POST: the test makes one with the store first. */
    assert_int_equal(store_open(db, NULL, &st, err, sizeof(err)), 0);
    vmi =
        json_pack("{s:s, s:s, s:{s:s, s:s}, s:{}, s:{s:s, s:s}}", "apiVersion",
                  "kubevirt.io/v1", "kind", "VirtualMachineInstance",
                  "metadata", "name", "vmi-fedora", "namespace", "default",
                  "spec", "status", "phase", "Running", "nodeName", "node1");
    assert_int_equal(store_create(st, STORE_KIND_VMI, vmi), 0);
    json_decref(vmi);
    store_close(st);

    write_conf(NULL, 65536);

    {
        const char *argv[] = {"-f", confpath, "--db", db, NULL};
        port = test_daemon_start("orchestratord", argv, logpath, &daemon_pid);
    }
    assert_true(port > 0);
    return 0;
}

static int stop_daemon(void **state)
{
    char cmd[400];
    (void)state;
    if (daemon_pid > 0) {
        kill(daemon_pid, SIGKILL);
        waitpid(daemon_pid, NULL, 0);
    }
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
    if (system(cmd) != 0)
        return -1;
    return 0;
}

static char *data_file(const char *name, size_t *len)
{
    const char *top = getenv("ORCH_TOP");
    char path[512];
    snprintf(path, sizeof(path), "%s/tests/data/%s", top ? top : ".", name);
    return test_read_file(path, len);
}

/* BUF holds a response: it must carry one Date header in the RFC 7231
 * form ("Wed, 25 Nov 2026 21:00:09 GMT"), close to now. */
static void assert_one_date(const char *buf)
{
    const char *d = strstr(buf, "\r\nDate: ");
    char wday[4], mon[4];
    int day, year, h, m, sec, n = 0;
    struct tm tm = {0};
    static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
    time_t t;

    assert_non_null(d);
    assert_null(strstr(d + 1, "\r\nDate: "));
    assert_int_equal(sscanf(d + 8, "%3[A-Za-z], %2d %3s %4d %2d:%2d:%2d GMT%n",
                            wday, &day, mon, &year, &h, &m, &sec, &n),
                     7);
    assert_true(n > 0);
    assert_int_equal(wday[3], '\0');
    assert_non_null(strstr(months, mon));
    tm.tm_year = year - 1900;
    tm.tm_mon = (int)(strstr(months, mon) - months) / 3;
    tm.tm_mday = day;
    tm.tm_hour = h;
    tm.tm_min = m;
    tm.tm_sec = sec;
    t = timegm(&tm);
    assert_true(t > time(NULL) - 60 && t < time(NULL) + 60);
}

static void test_crud_yaml_json(void **state)
{
    char buf[65536];
    size_t len;
    char *yaml = data_file("migration.yaml", &len);
    char *json;
    (void)state;

    assert_non_null(yaml);
    assert_int_equal(
        request("POST", VMIM, "application/yaml", yaml, len, buf, sizeof(buf)),
        201);
    assert_non_null(strstr(buf, "\"phase\":\"Pending\""));
    assert_int_equal(
        request("GET", VMIM "/migration-job", NULL, NULL, 0, buf, sizeof(buf)),
        200);
    assert_non_null(strstr(buf, "\"vmiName\":\"vmi-fedora\""));
    assert_non_null(strstr(buf, "\r\nContent-Type: application/json\r\n"));
    assert_one_date(buf);
    /* Two requests on one connection (kept alive): both answered whole. */
    {
        int fd = connect_daemon();
        const char *r = "GET " VMIM "/migration-job HTTP/1.1\r\nHost: x\r\n"
                        "\r\n";
        for (int i = 0; i < 2; i++) {
            char *body;
            send_all(fd, r, strlen(r));
            assert_int_equal(read_response(fd, buf, sizeof(buf)), 200);
            assert_one_date(buf);
            body = strstr(buf, "\r\n\r\n");
            assert_non_null(body);
            assert_int_equal(atol(strcasestr(buf, "Content-Length:") + 15),
                             strlen(body + 4));
            assert_non_null(strstr(body, "\"name\":\"migration-job\""));
        }
        close(fd);
    }
    /* YAML out. */
    {
        int fd = connect_daemon();
        const char *r = "GET " VMIM "/migration-job HTTP/1.1\r\nHost: x\r\n"
                        "Accept: application/yaml\r\n\r\n";
        send_all(fd, r, strlen(r));
        assert_int_equal(read_response(fd, buf, sizeof(buf)), 200);
        assert_non_null(strstr(buf, "Content-Type: application/yaml"));
        assert_non_null(strstr(buf, "vmiName: vmi-fedora"));
        close(fd);
    }
    assert_int_equal(request("GET", VMIM, NULL, NULL, 0, buf, sizeof(buf)),
                     200);
    assert_non_null(strstr(buf, "VirtualMachineInstanceMigrationList"));
    assert_non_null(strstr(buf, "\"name\":\"migration-job\""));
    assert_int_equal(request("DELETE", VMIM "/migration-job", NULL, NULL, 0,
                             buf, sizeof(buf)),
                     200);
    assert_int_equal(
        request("GET", VMIM "/migration-job", NULL, NULL, 0, buf, sizeof(buf)),
        404);
    assert_non_null(strstr(buf, "\"reason\":\"NotFound\""));

    /* The JSON form, without a Content-Type (sniffed). */
    json = data_file("migration.json", &len);
    assert_non_null(json);
    assert_int_equal(request("POST", VMIM, NULL, json, len, buf, sizeof(buf)),
                     201);
    assert_int_equal(request("DELETE", VMIM "/migration-job", NULL, NULL, 0,
                             buf, sizeof(buf)),
                     200);
    free(yaml);
    free(json);
}

static int metric(const char *name)
{
    char buf[65536], key[128];
    char *p;
    if (request("GET", "/metrics", NULL, NULL, 0, buf, sizeof(buf)) != 200)
        return -1;
    snprintf(key, sizeof(key), "\n%s ", name);
    p = strstr(buf, key);
    if (!p)
        return -1;
    return atoi(p + strlen(key));
}

/* Append what a stream sends to OUT (*GOT bytes so far, NUL-terminated)
 * until it holds NEEDLE, the peer closes, or 5 s pass. */
static void read_stream_until(int fd, char *out, size_t cap, size_t *got,
                              const char *needle)
{
    for (int i = 0; i < 50 && !strstr(out, needle); i++) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        ssize_t n;
        if (poll(&p, 1, 100) <= 0)
            continue;
        n = recv(fd, out + *got, cap - 1 - *got, 0);
        if (n <= 0)
            break;
        *got += (size_t)n;
        out[*got] = '\0';
    }
}

static void test_watch(void **state)
{
    char buf[65536], out[8192] = "";
    size_t len, got = 0;
    char *yaml = data_file("migration.yaml", &len);
    int wfd;
    const char *r = "GET " VMIM "?watch=true HTTP/1.1\r\nHost: x\r\n\r\n";
    (void)state;

    assert_int_equal(
        request("POST", VMIM, "application/yaml", yaml, len, buf, sizeof(buf)),
        201);
    wfd = connect_daemon();
    send_all(wfd, r, strlen(r));
    /* Headers, then the ADDED line of the existing object. */
    read_stream_until(wfd, out, sizeof(out), &got, "\"type\":\"ADDED\"");
    assert_non_null(strstr(out, "Transfer-Encoding: chunked"));
    assert_non_null(strstr(out, "{\"type\":\"ADDED\",\"object\":{"));
    assert_int_equal(metric("orchestratord_watchers"), 1);

    assert_int_equal(request("DELETE", VMIM "/migration-job", NULL, NULL, 0,
                             buf, sizeof(buf)),
                     200);
    read_stream_until(wfd, out, sizeof(out), &got, "\"type\":\"DELETED\"");
    assert_non_null(strstr(out, "{\"type\":\"DELETED\",\"object\":{"));

    /* The watcher goes away when its client does. */
    close(wfd);
    for (int i = 0; i < 30 && metric("orchestratord_watchers") != 0; i++)
        usleep(100 * 1000);
    assert_int_equal(metric("orchestratord_watchers"), 0);
    free(yaml);
}

#define VMIS "/apis/kubevirt.io/v1/namespaces/default/virtualmachineinstances"

/* A VMI as a host's report would write it, with ANNOT_BYTES of annotation
 * (0: none). */
static json_t *vmi_doc(const char *name, const char *phase, size_t annot_bytes)
{
    json_t *vmi = json_pack(
        "{s:s, s:s, s:{s:s, s:s}, s:{}, s:{s:s}}", "apiVersion",
        "kubevirt.io/v1", "kind", "VirtualMachineInstance", "metadata", "name",
        name, "namespace", "default", "spec", "status", "phase", phase);
    assert_non_null(vmi);
    if (annot_bytes) {
        char *big = malloc(annot_bytes + 1);
        assert_non_null(big);
        memset(big, 'x', annot_bytes);
        big[annot_bytes] = '\0';
        json_object_set_new(json_object_get(vmi, "metadata"), "annotations",
                            json_pack("{s:s}", "bulk", big));
        free(big);
    }
    return vmi;
}

/* The watch event lines in a raw chunked stream, in order. */
static json_t *stream_events(const char *out)
{
    json_t *events = json_array();
    const char *p = out;
    while ((p = strstr(p, "{\"type\":\"")) != NULL) {
        const char *nl = strchr(p, '\n');
        json_t *ev;
        assert_non_null(nl);
        ev = json_loadb(p, (size_t)(nl - p), 0, NULL);
        if (!ev)
            fail_msg("not a JSON line: %.*s", (int)(nl - p), p);
        json_array_append_new(events, ev);
        p = nl + 1;
    }
    return events;
}

/* Another process (this test, through the store API) writes VMIs into the
 * daemon's database: an open watch gets each change once, in order. */
static void test_watch_other_process(void **state)
{
    static const char *const want[][2] = {
        {"ADDED", "vmi-fedora"}, {"ADDED", "vmi-x1"},   {"ADDED", "vmi-x2"},
        {"MODIFIED", "vmi-x1"},  {"DELETED", "vmi-x2"}, {"ADDED", "vmi-end"},
    };
    const char *r = "GET " VMIS "?watch=true HTTP/1.1\r\nHost: x\r\n\r\n";
    char out[65536] = "", err[256];
    struct store *st = NULL;
    json_t *vmi, *events;
    size_t got = 0;
    long long prev = 0;
    int wfd;
    (void)state;

    wfd = connect_daemon();
    assert_true(wfd >= 0);
    send_all(wfd, r, strlen(r));
    read_stream_until(wfd, out, sizeof(out), &got, "\"name\":\"vmi-fedora\"");
    assert_non_null(strstr(out, "\"name\":\"vmi-fedora\""));

    assert_int_equal(store_open(dbpath, NULL, &st, err, sizeof(err)), 0);
    vmi = vmi_doc("vmi-x1", "Running", 0);
    assert_int_equal(store_create(st, STORE_KIND_VMI, vmi), 0);
    json_decref(vmi);
    vmi = vmi_doc("vmi-x2", "Running", 0);
    assert_int_equal(store_create(st, STORE_KIND_VMI, vmi), 0);
    json_decref(vmi);
    assert_int_equal(store_get(st, STORE_KIND_VMI, "default", "vmi-x1", &vmi),
                     0);
    api_doc_set_string(vmi, "status.phase", "Failed");
    assert_int_equal(store_update(st, STORE_KIND_VMI, vmi, 0), 0);
    json_decref(vmi);
    assert_int_equal(
        store_delete(st, STORE_KIND_VMI, "default", "vmi-x2", 0, NULL), 0);
    /* Changes come in order: once the last one is there, any duplicate of
     * an earlier one would be too. */
    vmi = vmi_doc("vmi-end", "Running", 0);
    assert_int_equal(store_create(st, STORE_KIND_VMI, vmi), 0);
    json_decref(vmi);
    read_stream_until(wfd, out, sizeof(out), &got, "\"name\":\"vmi-end\"");
    close(wfd);

    events = stream_events(out);
    if (json_array_size(events) != 6)
        fail_msg("%zu events: %s", json_array_size(events), out);
    for (size_t i = 0; i < 6; i++) {
        json_t *ev = json_array_get(events, i);
        json_t *obj = json_object_get(ev, "object");
        long long rv =
            atoll(api_doc_get_string(obj, "metadata.resourceVersion"));
        assert_string_equal(json_string_value(json_object_get(ev, "type")),
                            want[i][0]);
        assert_string_equal(api_doc_get_string(obj, "metadata.name"),
                            want[i][1]);
        assert_true(rv > prev);
        prev = rv;
    }
    json_decref(events);
    assert_int_equal(
        store_delete(st, STORE_KIND_VMI, "default", "vmi-x1", 0, NULL), 0);
    assert_int_equal(
        store_delete(st, STORE_KIND_VMI, "default", "vmi-end", 0, NULL), 0);
    store_close(st);
}

/* A watch from a resourceVersion the server has not reached: the API
 * server's Timeout Status as an ERROR event, then the end of the stream. */
static void test_watch_too_large_rv(void **state)
{
    const char *r = "GET " VMIM "?watch=true&resourceVersion=999999999 "
                    "HTTP/1.1\r\nHost: x\r\n\r\n";
    char out[8192] = "";
    size_t got = 0;
    int fd = connect_daemon();
    (void)state;

    assert_true(fd >= 0);
    send_all(fd, r, strlen(r));
    read_stream_until(fd, out, sizeof(out), &got, "\r\n0\r\n\r\n");
    close(fd);
    assert_true(strncmp(out, "HTTP/1.1 200", 12) == 0);
    assert_non_null(strstr(out, "{\"type\":\"ERROR\",\"object\":{"));
    assert_non_null(strstr(out, "\"reason\":\"Timeout\""));
    assert_non_null(strstr(out, "\"code\":504"));
    assert_non_null(strstr(out, "Too large resource version: 999999999"));
    assert_non_null(strstr(out, "\"reason\":\"ResourceVersionTooLarge\""));
    assert_true(got >= 7 && strcmp(out + got - 7, "\r\n0\r\n\r\n") == 0);
}

/* Check that BODY (after the headers) is a well-formed chunked stream of
 * whole lines, ended by the last chunk; returns its last line. */
static json_t *chunked_last_line(const char *body, size_t len)
{
    const char *p = body, *end = body + len;
    json_t *last = NULL;

    for (;;) {
        char *eol;
        unsigned long n = strtoul(p, &eol, 16);
        assert_true(eol + 2 <= end && eol[0] == '\r' && eol[1] == '\n');
        p = eol + 2;
        if (n == 0) {
            assert_true(p + 2 == end && p[0] == '\r' && p[1] == '\n');
            return last;
        }
        assert_true(p + n + 2 <= end);
        /* Each chunk is one whole event line. */
        assert_int_equal(p[n - 1], '\n');
        assert_null(memchr(p, '\n', n - 1));
        json_decref(last);
        last = json_loadb(p, n - 1, 0, NULL);
        assert_non_null(last);
        p += n;
        assert_true(p[0] == '\r' && p[1] == '\n');
        p += 2;
    }
}

/* A client that stops reading while a lot is written: its watch is ended
 * by the server once more than the cap is queued, with a 410 ERROR event
 * after what was queued and the last chunk; nothing is cut mid-chunk. */
static void test_watch_slow_reader(void **state)
{
    const char *r = "GET " VMIS "?watch=true HTTP/1.1\r\nHost: x\r\n\r\n";
    size_t cap = 32 << 20, got = 0;
    char *out = malloc(cap + 1), err[256];
    struct store *st = NULL;
    int rcvbuf = 4096, fd, n_vmis = 0, i;
    struct sockaddr_in sa = {.sin_family = AF_INET};
    struct timespec t0, now;
    const char *body;
    json_t *last, *obj, *bulk[120];
    (void)state;

    assert_non_null(out);
    /* A small receive window keeps the kernels from holding megabytes:
     * what the client leaves unread queues in the server. */
    fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
    sa.sin_port = htons((uint16_t)port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    send_all(fd, r, strlen(r));
    /* The listing's one object: the watch is live. */
    out[0] = '\0';
    read_stream_until(fd, out, cap, &got, "\"name\":\"vmi-fedora\"");
    assert_non_null(strstr(out, "\"name\":\"vmi-fedora\""));

    /* 120 objects of 64 KiB, 7.5 MiB, well over the 4 MiB cap (the kernels
     * hold little of it), in one transaction: the client stalls for as
     * short a time as can be, far below the server's 5 s idle timeout,
     * which would cut the connection instead.  Then the server must end
     * the watch (a safety bound of 20 s). */
    for (n_vmis = 0; n_vmis < 120; n_vmis++) {
        char name[32];
        snprintf(name, sizeof(name), "vmi-bulk-%03d", n_vmis);
        bulk[n_vmis] = vmi_doc(name, "Running", 64 * 1024);
    }
    assert_int_equal(store_open(dbpath, NULL, &st, err, sizeof(err)), 0);
    assert_int_equal(store_txn_begin(st), 0);
    for (i = 0; i < n_vmis; i++) {
        assert_int_equal(store_create(st, STORE_KIND_VMI, bulk[i]), 0);
        json_decref(bulk[i]);
    }
    assert_int_equal(store_txn_commit(st), 0);
    for (i = 0; i < 200 && metric("orchestratord_watchers") != 0; i++)
        usleep(100 * 1000);
    assert_int_equal(metric("orchestratord_watchers"), 0);

    /* Now read it all: until the last chunk, the peer closes or 30 s. */
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (;;) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        ssize_t n;
        clock_gettime(CLOCK_MONOTONIC, &now);
        if (now.tv_sec - t0.tv_sec > 30 ||
            (got >= 7 && memcmp(out + got - 7, "\r\n0\r\n\r\n", 7) == 0))
            break;
        if (poll(&p, 1, 1000) <= 0)
            continue;
        n = recv(fd, out + got, cap - got, 0);
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    close(fd);
    out[got] = '\0';
    body = strstr(out, "\r\n\r\n");
    assert_non_null(body);
    body += 4;
    last = chunked_last_line(body, got - (size_t)(body - out));
    assert_non_null(last);
    assert_string_equal(json_string_value(json_object_get(last, "type")),
                        "ERROR");
    obj = json_object_get(last, "object");
    assert_int_equal(json_integer_value(json_object_get(obj, "code")), 410);
    assert_non_null(
        strstr(json_string_value(json_object_get(obj, "message")), "unread"));
    json_decref(last);

    for (i = 0; i < n_vmis; i++) {
        char name[32];
        snprintf(name, sizeof(name), "vmi-bulk-%03d", i);
        assert_int_equal(
            store_delete(st, STORE_KIND_VMI, "default", name, 0, NULL), 0);
    }
    store_close(st);
    free(out);
}

static void test_bad_inputs(void **state)
{
    char buf[65536];
    char *big;
    int fd, slow;
    size_t n;
    struct timespec t0, t1;
    const char *part = "GET /healthz HTTP/1.1\r\nHost: x\r\n";
    (void)state;

    /* Malformed YAML: 400 Status. */
    assert_int_equal(request("POST", VMIM, "application/yaml",
                             "kind: [unclosed\n", 16, buf, sizeof(buf)),
                     400);
    assert_non_null(strstr(buf, "\"kind\":\"Status\""));
    assert_non_null(strstr(buf, "\"reason\":\"BadRequest\""));

    /* Oversized (the limit is 64 KiB): 413 Status. */
    n = 100 * 1024;
    big = malloc(n);
    memset(big, 'a', n);
    assert_int_equal(
        request("POST", VMIM, "application/yaml", big, n, buf, sizeof(buf)),
        413);
    assert_non_null(strstr(buf, "\"reason\":\"RequestEntityTooLarge\""));
    free(big);

    /* Truncated: a Content-Length larger than what is sent, then close. */
    fd = connect_daemon();
    snprintf(buf, sizeof(buf),
             "POST " VMIM " HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n"
             "\r\nkind: x\n");
    send_all(fd, buf, strlen(buf));
    close(fd);

    /* Binary garbage: 400 or a close, never a crash. */
    fd = connect_daemon();
    send_all(fd, "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n", 15);
    n = read_until_close(fd, buf, sizeof(buf), 10000);
    assert_true(n == 0 || strncmp(buf, "HTTP/1.1 400", 12) == 0);
    close(fd);

    /* Headers trickled in: cut off after the 2 s deadline, while another
     * client keeps getting answers.  The trickle would go on for 15 s; what
     * matters is that the server cut it, not how soon a shared machine got
     * to it. */
    slow = connect_daemon();
    clock_gettime(CLOCK_MONOTONIC, &t0);
    bool cut = false;
    for (int i = 0; i < 100 && !cut; i++) {
        /* The request line, then valid header lines that never end. */
        const char *filler = "X-Slow: 1\r\n";
        size_t head = strlen(part);
        char c = (size_t)i < head ? part[i]
                                  : filler[((size_t)i - head) % strlen(filler)];
        struct pollfd p = {.fd = slow, .events = POLLIN};
        if (send(slow, &c, 1, MSG_NOSIGNAL) != 1) {
            cut = true;
            break;
        }
        if (poll(&p, 1, 0) > 0 && recv(slow, buf, sizeof(buf), 0) <= 0)
            cut = true; /* closed by the server */
        assert_int_equal(
            request("GET", "/healthz", NULL, NULL, 0, buf, sizeof(buf)), 200);
        usleep(150 * 1000);
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    close(slow);
    if (!cut)
        fail_msg("a client trickling its headers was never cut off");
    assert_true(t1.tv_sec - t0.tv_sec >= 1);

    /* Still serving. */
    assert_int_equal(request("GET", "/readyz", NULL, NULL, 0, buf, sizeof(buf)),
                     200);
    assert_int_equal(
        request("GET", "/apis/kubevirt.io/v1", NULL, NULL, 0, buf, sizeof(buf)),
        200);
}

/* BUF holds a response whose body must be a Kubernetes Status, exactly
 * in the API server's shape: {kind, apiVersion, metadata: {}, status:
 * "Failure", message, reason, code[, details: {name?, group?, kind?,
 * causes?: [{reason, message, field?}]}]} and nothing else. */
static void assert_status_shape(const char *buf, int code, const char *reason)
{
    const char *body = strstr(buf, "\r\n\r\n");
    json_error_t jerr;
    json_t *st, *d;
    const char *key;
    json_t *v;

    assert_non_null(body);
    assert_non_null(strstr(buf, "\r\nContent-Type: application/json\r\n"));
    st = json_loads(body + 4, 0, &jerr);
    if (!st)
        fail_msg("not JSON (%s): %s", jerr.text, body + 4);
    json_object_foreach(st, key, v)
    {
        if (strcmp(key, "kind") && strcmp(key, "apiVersion") &&
            strcmp(key, "metadata") && strcmp(key, "status") &&
            strcmp(key, "message") && strcmp(key, "reason") &&
            strcmp(key, "code") && strcmp(key, "details"))
            fail_msg("unexpected Status member '%s'", key);
    }
    assert_string_equal(json_string_value(json_object_get(st, "kind")),
                        "Status");
    assert_string_equal(json_string_value(json_object_get(st, "apiVersion")),
                        "v1");
    assert_true(json_is_object(json_object_get(st, "metadata")));
    assert_int_equal(json_object_size(json_object_get(st, "metadata")), 0);
    assert_string_equal(json_string_value(json_object_get(st, "status")),
                        "Failure");
    assert_true(json_string_length(json_object_get(st, "message")) > 0);
    assert_string_equal(json_string_value(json_object_get(st, "reason")),
                        reason);
    assert_true(json_is_integer(json_object_get(st, "code")));
    assert_int_equal(json_integer_value(json_object_get(st, "code")), code);
    d = json_object_get(st, "details");
    if (d) {
        json_t *causes = json_object_get(d, "causes");
        size_t i;
        assert_true(json_is_object(d));
        json_object_foreach(d, key, v)
        {
            if (strcmp(key, "causes") == 0)
                continue;
            if (strcmp(key, "name") && strcmp(key, "group") &&
                strcmp(key, "kind"))
                fail_msg("unexpected details member '%s'", key);
            assert_true(json_is_string(v));
        }
        if (causes) {
            assert_true(json_array_size(causes) > 0);
            json_array_foreach(causes, i, v)
            {
                assert_true(json_is_string(json_object_get(v, "reason")));
                assert_true(json_is_string(json_object_get(v, "message")));
                v = json_object_get(v, "field");
                assert_true(!v || json_is_string(v));
            }
        }
    }
    json_decref(st);
}

/* A JSON member "NAME":"VALUE" in BUF. */
static void assert_member(const char *buf, const char *name, const char *value)
{
    char want[256];
    snprintf(want, sizeof(want), "\"%s\":\"%s\"", name, value);
    if (!strstr(buf, want))
        fail_msg("no %s in: %s", want, buf);
}

/* The errors of the API over the wire, each a Status of the right shape. */
static void test_status_shapes(void **state)
{
    char buf[65536];
    size_t len;
    char *yaml = data_file("migration.yaml", &len);
    static const char other[] = "apiVersion: kubevirt.io/v1\n"
                                "kind: VirtualMachineInstanceMigration\n"
                                "metadata: {name: other}\n"
                                "spec: {vmiName: vmi-fedora}\n";
    static const char no_vmi[] = "apiVersion: kubevirt.io/v1\n"
                                 "kind: VirtualMachineInstanceMigration\n"
                                 "metadata: {name: ghost}\n"
                                 "spec: {vmiName: vmi-ghost}\n";
    static const char policy[] =
        "apiVersion: migrations.kubevirt.io/v1alpha1\n"
        "kind: MigrationPolicy\nmetadata: {name: gold}\n"
        "spec: {selectors: {virtualMachineInstanceSelector: {tier: gold}}}\n";
    static const char invalid[] = "apiVersion: kubevirt.io/v1\n"
                                  "kind: VirtualMachineInstanceMigration\n"
                                  "metadata: {name: bad}\n"
                                  "spec: {}\n";
    (void)state;

    assert_int_equal(
        request("GET", VMIM "/nosuch", NULL, NULL, 0, buf, sizeof(buf)), 404);
    assert_status_shape(buf, 404, "NotFound");
    assert_member(buf, "message",
                  "virtualmachineinstancemigrations."
                  "kubevirt.io \\\"nosuch\\\" not found");
    assert_member(buf, "name", "nosuch");
    assert_member(buf, "group", "kubevirt.io");
    assert_member(buf, "kind", "virtualmachineinstancemigrations");

    assert_int_equal(
        request("POST", VMIM, "application/yaml", yaml, len, buf, sizeof(buf)),
        201);
    /* The same name again: AlreadyExists. */
    assert_int_equal(request("POST", POLICIES, "application/yaml", policy,
                             strlen(policy), buf, sizeof(buf)),
                     201);
    assert_int_equal(request("POST", POLICIES, "application/yaml", policy,
                             strlen(policy), buf, sizeof(buf)),
                     409);
    assert_status_shape(buf, 409, "AlreadyExists");
    assert_member(buf, "message",
                  "migrationpolicies.migrations.kubevirt.io "
                  "\\\"gold\\\" already exists");
    assert_member(buf, "name", "gold");
    assert_int_equal(
        request("DELETE", POLICIES "/gold", NULL, NULL, 0, buf, sizeof(buf)),
        200);
    /* Another migration of the same VMI: Conflict. */
    assert_int_equal(request("POST", VMIM, "application/yaml", other,
                             strlen(other), buf, sizeof(buf)),
                     409);
    assert_status_shape(buf, 409, "Conflict");
    assert_non_null(strstr(buf, "in-flight migration detected"));
    /* No such VMI: 422 naming it. */
    assert_int_equal(request("POST", VMIM, "application/yaml", no_vmi,
                             strlen(no_vmi), buf, sizeof(buf)),
                     422);
    assert_status_shape(buf, 422, "Invalid");
    assert_non_null(strstr(buf, "default/vmi-ghost"));
    /* Invalid: the field causes. */
    assert_int_equal(request("POST", VMIM, "application/yaml", invalid,
                             strlen(invalid), buf, sizeof(buf)),
                     422);
    assert_status_shape(buf, 422, "Invalid");
    assert_non_null(strstr(buf, "\"causes\":[{\"reason\":\"FieldValueRequired"
                                "\",\"message\":\"Required value\","
                                "\"field\":\"spec.vmiName\"}]"));
    assert_member(buf, "kind", "VirtualMachineInstanceMigration");

    assert_int_equal(request("DELETE", VMIM "/migration-job", NULL, NULL, 0,
                             buf, sizeof(buf)),
                     200);
    free(yaml);
}

/* ?watch=true&timeoutSeconds=1: the stream ends on its own after 1 s,
 * with the chunked encoding's last chunk. */
static void test_watch_timeout(void **state)
{
    char out[8192];
    const char *r = "GET " VMIM "?watch=true&timeoutSeconds=1 HTTP/1.1\r\n"
                    "Host: x\r\n\r\n";
    struct timespec t0, t1;
    double s;
    size_t n;
    int fd = connect_daemon();
    (void)state;

    assert_true(fd >= 0);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    send_all(fd, r, strlen(r));
    /* Wait far longer than the timeout but far less than the default
     * (1800 s): the point is that timeoutSeconds ends the watch, not how
     * fast a shared machine's event loop gets to it (a CI run once saw
     * 3.95 s while its disk was busy). */
    n = read_until_close(fd, out, sizeof(out), 25000);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    close(fd);
    s = (double)(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9;
    assert_true(n > 0);
    assert_true(strncmp(out, "HTTP/1.1 200", 12) == 0);
    assert_non_null(strstr(out, "Transfer-Encoding: chunked"));
    assert_true(n >= 5 && strcmp(out + n - 5, "0\r\n\r\n") == 0);
    if (s < 0.9 || s > 20)
        fail_msg("the watch ended after %.2f s", s);
    for (int i = 0; i < 30 && metric("orchestratord_watchers") != 0; i++)
        usleep(100 * 1000);
    assert_int_equal(metric("orchestratord_watchers"), 0);
}

/* The daemon's VmRSS in KiB, or -1. */
static long daemon_rss_kib(void)
{
    char path[64], line[256];
    long kib = -1;
    FILE *f;
    snprintf(path, sizeof(path), "/proc/%d/status", (int)daemon_pid);
    f = fopen(path, "r");
    while (f && fgets(line, sizeof(line), f))
        if (strncmp(line, "VmRSS:", 6) == 0)
            kib = atol(line + 6);
    if (f)
        fclose(f);
    return kib;
}

/* Memory stays bounded under bad input: 2000 malformed requests, 200
 * oversized bodies and 50 connections trickling their headers at once,
 * then the daemon's resident size is below the bound and it answers. */
static void test_memory_bounded(void **state)
{
    static const char *const bad[] = {
        "kind: [unclosed\n",
        "{\"apiVersion\": \"kubevirt.io/v1\", \"kind\": ",
        "\x01\x02\xff\xfe binary \x00 body",
        "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[",
        "apiVersion: kubevirt.io/v1\nkind: Nope\n",
    };
    char buf[65536];
    int slow[50];
    char *big;
    size_t n = 100 * 1024;
    long before, after;
    /* A sanitizer's shadow memory and quarantine are not ours to bound. */
#if defined(__SANITIZE_ADDRESS__)
    const long bound_kib = 512 * 1024;
#else
    const long bound_kib = 64 * 1024;
#endif
    (void)state;

    before = daemon_rss_kib();
    assert_true(before > 0);
    for (int i = 0; i < 50; i++) {
        slow[i] = connect_daemon();
        assert_true(slow[i] >= 0);
        send_all(slow[i], "GET /healthz HTTP/1.1\r\nHo", 25);
    }
    for (int i = 0; i < 2000; i++) {
        const char *b = bad[i % 5];
        size_t blen = i % 5 == 2 ? 19 : strlen(b);
        int code = request("POST", VMIM, i % 2 ? "application/json" : NULL, b,
                           blen, buf, sizeof(buf));
        /* Too deep a nesting is a size limit (413), the rest 400. */
        if (code != (i % 5 == 3 ? 413 : 400))
            fail_msg("bad request %d answered %d: %s", i, code, buf);
    }
    big = malloc(3 * n);
    assert_non_null(big);
    memset(big, 'a', 3 * n);
    for (int i = 0; i < 200; i++) {
        /* Past the handler's limit (a 413 Status) and past twice it
         * (refused by the HTTP layer before it is read in full). */
        int code = request("POST", VMIM, "application/yaml", big,
                           i % 2 ? n : 3 * n, buf, sizeof(buf));
        if (code != 413)
            fail_msg("oversized request %d answered %d", i, code);
    }
    free(big);
    /* The trickling clients are cut off at the 2 s header deadline. */
    for (int i = 0; i < 50; i++) {
        size_t got = read_until_close(slow[i], buf, sizeof(buf), 10000);
        assert_true(got == 0 || strncmp(buf, "HTTP/1.1 408", 12) == 0);
        close(slow[i]);
    }
    after = daemon_rss_kib();
    print_message("orchestratord VmRSS: %ld KiB before, %ld KiB after\n",
                  before, after);
    if (after > bound_kib)
        fail_msg("VmRSS %ld KiB over the bound of %ld KiB", after, bound_kib);
    assert_int_equal(request("GET", "/readyz", NULL, NULL, 0, buf, sizeof(buf)),
                     200);
}

/* SIGHUP re-reads tokens and limits: a new token works, the old one is
 * refused, a viewer cannot write, and the new body limit applies.  The
 * tokens never reach the log. */
static void test_sighup_reload(void **state)
{
    char buf[65536], *log, *body;
    size_t n = 5000;
    (void)state;

    /* Tokens and a 4 KiB body limit. */
    write_conf("{ name = \"ops\"; token = \"tok-aaaaaaaaaaaaaaaa\"; role = "
               "\"admin\"; }, { name = \"dash\"; token = "
               "\"tok-vvvvvvvvvvvvvvvv\"; role = \"viewer\"; }",
               4096);
    assert_int_equal(kill(daemon_pid, SIGHUP), 0);
    for (int i = 0; i < 50; i++) {
        log = test_read_file(logpath, NULL);
        if (log && strstr(log, "SIGHUP: reloaded 2 tokens")) {
            free(log);
            break;
        }
        free(log);
        usleep(50 * 1000);
    }
    auth = NULL;
    assert_int_equal(request("GET", VMIM, NULL, NULL, 0, buf, sizeof(buf)),
                     401);
    assert_status_shape(buf, 401, "Unauthorized");
    assert_non_null(strstr(buf, "\r\nWWW-Authenticate: Bearer\r\n"));
    auth = "tok-aaaaaaaaaaaaaaaa";
    assert_int_equal(request("GET", VMIM, NULL, NULL, 0, buf, sizeof(buf)),
                     200);
    body = malloc(n);
    assert_non_null(body);
    memset(body, ' ', n);
    memcpy(body, "kind: x\n", 8);
    assert_int_equal(
        request("POST", VMIM, "application/yaml", body, n, buf, sizeof(buf)),
        413);
    assert_status_shape(buf, 413, "RequestEntityTooLarge");
    assert_non_null(strstr(buf, "the limit is 4096"));
    free(body);
    auth = "tok-vvvvvvvvvvvvvvvv";
    assert_int_equal(
        request("DELETE", VMIM "/x", NULL, NULL, 0, buf, sizeof(buf)), 403);
    assert_status_shape(buf, 403, "Forbidden");
    assert_non_null(strstr(buf, "User \\\"dash\\\" cannot delete resource"));
    assert_member(buf, "kind", "virtualmachineinstancemigrations");

    /* Another token instead: the old one is refused. */
    write_conf("{ name = \"ops2\"; token = \"tok-bbbbbbbbbbbbbbbb\"; role = "
               "\"admin\"; }",
               65536);
    assert_int_equal(kill(daemon_pid, SIGHUP), 0);
    auth = "tok-bbbbbbbbbbbbbbbb";
    for (int i = 0; i < 50; i++) {
        if (request("GET", VMIM, NULL, NULL, 0, buf, sizeof(buf)) == 200)
            break;
        usleep(50 * 1000);
    }
    assert_int_equal(request("GET", VMIM, NULL, NULL, 0, buf, sizeof(buf)),
                     200);
    auth = "tok-aaaaaaaaaaaaaaaa";
    assert_int_equal(request("GET", VMIM, NULL, NULL, 0, buf, sizeof(buf)),
                     401);
    auth = "tok-bbbbbbbbbbbbbbbb";

    log = test_read_file(logpath, NULL);
    assert_non_null(log);
    assert_null(strstr(log, "tok-"));
    free(log);
}

/* A reload that revokes the token a watch was opened with ends that
 * watch: a 401 ERROR event, then the last chunk. */
static void test_sighup_ends_revoked_watch(void **state)
{
    char out[8192] = "", head[512];
    size_t got = 0;
    int fd = connect_daemon();
    (void)state;

    assert_true(fd >= 0);
    assert_non_null(auth);
    snprintf(head, sizeof(head),
             "GET " VMIM "?watch=true HTTP/1.1\r\nHost: x\r\n"
             "Authorization: Bearer %s\r\n\r\n",
             auth);
    send_all(fd, head, strlen(head));
    read_stream_until(fd, out, sizeof(out), &got, "\r\n\r\n");
    assert_true(strncmp(out, "HTTP/1.1 200", 12) == 0);

    write_conf("{ name = \"ops3\"; token = \"tok-cccccccccccccccc\"; role = "
               "\"admin\"; }",
               65536);
    assert_int_equal(kill(daemon_pid, SIGHUP), 0);
    read_stream_until(fd, out, sizeof(out), &got, "\r\n0\r\n\r\n");
    close(fd);
    assert_non_null(strstr(out, "{\"type\":\"ERROR\",\"object\":{"));
    assert_non_null(strstr(out, "\"code\":401"));
    assert_non_null(strstr(out, "\"reason\":\"Unauthorized\""));
    assert_true(got >= 7 && strcmp(out + got - 7, "\r\n0\r\n\r\n") == 0);
    auth = "tok-cccccccccccccccc";
}

/* Wait up to 5 s for GET PATH to answer with NEEDLE in its body. */
static bool wait_for_body(const char *path, const char *needle)
{
    char buf[65536];
    for (int i = 0; i < 100; i++) {
        if (request("GET", path, NULL, NULL, 0, buf, sizeof(buf)) == 200 &&
            strstr(buf, needle))
            return true;
        usleep(50 * 1000);
    }
    return false;
}

#define REPORT_HV1 "/apis/agent.orchestrator.io/v1/nodereports/hv1"
#define NODE_HV1   "/api/v1/nodes/hv1"

/* The node monitor runs on the daemon's loop: a node that stops reporting
 * turns Unknown after the grace period (1 s here, set by SIGHUP), reports
 * bring it back; a node token removed by SIGHUP is refused at once. */
static void test_node_monitor(void **state)
{
    static const char report[] =
        "{\"name\":\"hv1\",\"libvirt\":{\"version\":\"9.0.0\"},"
        "\"capacity\":{\"cpus\":4,\"memoryKiB\":4194304},\"domains\":["
        "{\"name\":\"web\",\"state\":\"running\",\"stateReason\":"
        "\"booted\",\"memoryKiB\":1048576,\"vcpus\":1}]}";
    static const char tokens[] =
        "{ name = \"ops2\"; token = \"tok-bbbbbbbbbbbbbbbb\"; role = "
        "\"admin\"; }, { name = \"hv1\"; token = \"tok-hhhhhhhhhhhhhhhh\"; "
        "role = \"node\"; }";
    char buf[65536];
    (void)state;

    write_conf_extra(tokens, 65536, "node_monitor_grace_period_s = 1;\n");
    assert_int_equal(kill(daemon_pid, SIGHUP), 0);
    auth = "tok-hhhhhhhhhhhhhhhh";
    for (int i = 0; i < 50; i++) {
        if (request("GET", NODE_HV1, NULL, NULL, 0, buf, sizeof(buf)) == 404)
            break;
        usleep(50 * 1000);
    }
    assert_int_equal(request("PUT", REPORT_HV1, "application/json", report,
                             strlen(report), buf, sizeof(buf)),
                     200);
    assert_non_null(strstr(buf, "\"heartbeatIntervalSeconds\":10"));
    assert_int_equal(
        request("PUT", "/apis/agent.orchestrator.io/v1/nodereports/hv2",
                "application/json", report, strlen(report), buf, sizeof(buf)),
        403);
    assert_true(wait_for_body(NODE_HV1, "\"KubeletReady\""));
    /* Silent for more than a second: Unknown, and its VMI says so. */
    assert_true(wait_for_body(NODE_HV1, "\"NodeStatusUnknown\""));
    assert_true(wait_for_body(
        "/apis/kubevirt.io/v1/namespaces/default/virtualmachineinstances/web",
        "\"NodeUnreachable\""));
    assert_int_equal(request("PUT", REPORT_HV1, "application/json", report,
                             strlen(report), buf, sizeof(buf)),
                     200);
    assert_int_equal(request("GET", NODE_HV1, NULL, NULL, 0, buf, sizeof(buf)),
                     200);
    assert_non_null(strstr(buf, "\"KubeletReady\""));

    /* Revoked: refused at once. */
    write_conf("{ name = \"ops2\"; token = \"tok-bbbbbbbbbbbbbbbb\"; role = "
               "\"admin\"; }",
               65536);
    assert_int_equal(kill(daemon_pid, SIGHUP), 0);
    for (int i = 0; i < 50; i++) {
        if (request("GET", NODE_HV1, NULL, NULL, 0, buf, sizeof(buf)) == 401)
            break;
        usleep(50 * 1000);
    }
    assert_int_equal(request("PUT", REPORT_HV1, "application/json", report,
                             strlen(report), buf, sizeof(buf)),
                     401);
    auth = "tok-bbbbbbbbbbbbbbbb";
}

static void test_sigterm(void **state)
{
    int status = 0;
    (void)state;
    assert_int_equal(metric("orchestratord_http_requests_in_flight"), 1);
    assert_int_equal(kill(daemon_pid, SIGTERM), 0);
    for (int i = 0; i < 100; i++) {
        if (waitpid(daemon_pid, &status, WNOHANG) == daemon_pid) {
            daemon_pid = -1;
            break;
        }
        usleep(50 * 1000);
    }
    if (daemon_pid != -1 || !WIFEXITED(status) || WEXITSTATUS(status)) {
        char *log = test_read_file(logpath, NULL);
        fprintf(stderr, "daemon did not exit cleanly; its log:\n%s\n",
                log ? log : "");
        free(log);
    }
    assert_int_equal(daemon_pid, -1);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_crud_yaml_json),
        cmocka_unit_test(test_watch),
        cmocka_unit_test(test_watch_timeout),
        cmocka_unit_test(test_status_shapes),
        cmocka_unit_test(test_bad_inputs),
        cmocka_unit_test(test_memory_bounded),
        cmocka_unit_test(test_watch_other_process),
        cmocka_unit_test(test_watch_too_large_rv),
        cmocka_unit_test(test_watch_slow_reader),
        cmocka_unit_test(test_sighup_reload),
        cmocka_unit_test(test_sighup_ends_revoked_watch),
        cmocka_unit_test(test_node_monitor),
        cmocka_unit_test(test_sigterm),
    };
    return cmocka_run_group_tests_name("orchestratord_http", tests,
                                       start_daemon, stop_daemon);
}
