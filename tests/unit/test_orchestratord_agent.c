/*
 * Unit tests for the real agent client (orchestratord/agent_http.c over
 * http/client.c): a fake migrator agent API served by http/'s own server
 * on the same event loop, plain and over TLS, and the failures a call can
 * meet: refused, no answer (deadline), a certificate that does not verify,
 * a URL it will not call, a client freed with calls in flight.  Each test
 * runs the loop until its calls have called back, bounded by a guard
 * timer that fails the test.
 */
#include <errno.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include <event2/event.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "http/http.h"
#include "orchestratord/agent_client.h"
#include "orchestratord/orchd.h"

struct fixture {
    struct event_base *base;
    struct http_server *http;
    int port;
    struct orch_settings settings;
    struct orch_agent agent;
    /* What the fake agent saw last. */
    char method[8];
    char path[256];
    char auth[128];
    json_t *posted;
    /* What the calls got. */
    int calls_done;
    int err, status;
    json_t *body;
    char dir[64];
};

/* The fake agent: POST /v1/jobs -> 202 the job (Pending); GET
 * /v1/jobs/known -> 200 Running; anything else 404. */
static void agent_handler(const struct http_request *req,
                          struct http_response *resp, void *arg)
{
    struct fixture *f = arg;
    json_t *out = NULL;

    snprintf(f->method, sizeof(f->method), "%s", http_method_name(req->method));
    snprintf(f->path, sizeof(f->path), "%s", req->path);
    snprintf(f->auth, sizeof(f->auth), "%s",
             req->authorization ? req->authorization : "");
    if (req->method == HTTP_METHOD_POST && req->segc == 2 &&
        strcmp(req->segv[1], "jobs") == 0) {
        json_decref(f->posted);
        f->posted = json_loadb(req->body, req->body_len, 0, NULL);
        out = json_pack("{s:O, s:s}", "id", json_object_get(f->posted, "id"),
                        "state", "Pending");
        resp->status = 202;
    } else if (req->method == HTTP_METHOD_GET && req->segc == 3 &&
               strcmp(req->segv[2], "known") == 0) {
        out = json_pack("{s:s, s:s}", "id", "known", "state", "Running");
        resp->status = 200;
    } else {
        out = json_pack("{s:s, s:i}", "kind", "Status", "code", 404);
        resp->status = 404;
    }
    resp->content_type = "application/json";
    resp->body = json_dumps(out, JSON_COMPACT);
    resp->body_len = strlen(resp->body);
    json_decref(out);
}

static void done(int err, int status, const json_t *body, void *arg)
{
    struct fixture *f = arg;
    f->calls_done++;
    f->err = err;
    f->status = status;
    json_decref(f->body);
    f->body = body ? json_deep_copy(body) : NULL;
}

static void guard_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    (void)arg;
    fail_msg("the call did not call back within the guard time");
}

/* Run the loop until N calls have called back. */
static void wait_calls(struct fixture *f, int n)
{
    struct timeval tv = {15, 0};
    struct event *guard = evtimer_new(f->base, guard_cb, f);
    evtimer_add(guard, &tv);
    while (f->calls_done < n)
        assert_true(event_base_loop(f->base, EVLOOP_ONCE) >= 0);
    event_free(guard);
}

static void server_new(struct fixture *f, const char *cert, const char *key)
{
    struct http_server_opts o = {.tls_certificate = cert, .tls_key = key};
    char err[256];
    uint16_t port = 0;

    assert_int_equal(http_server_new(f->base, &o, agent_handler, f, &f->http,
                                     err, sizeof(err)),
                     0);
    assert_int_equal(http_server_bind(f->http, "127.0.0.1", 0, &port), 0);
    f->port = port;
}

static void agent_new(struct fixture *f)
{
    char err[256];
    assert_int_equal(
        orch_agent_http_new(f->base, &f->settings, &f->agent, err, sizeof(err)),
        0);
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    f->base = event_base_new();
    assert_non_null(f->base);
    f->settings.agent_token = strdup("agent-secret-0123456789");
    strcpy(f->dir, "/tmp/orch-agent-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    char cmd[128];
    orch_agent_release(&f->agent);
    http_server_free(f->http);
    orch_settings_clear(&f->settings);
    json_decref(f->posted);
    json_decref(f->body);
    event_base_free(f->base);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
    assert_int_equal(system(cmd), 0);
    free(f);
    return 0;
}

static void test_submit_and_get(void **state)
{
    struct fixture *f = *state;
    json_t *job =
        json_pack("{s:s, s:s}", "id", "uid-1-prepare", "type", "prepare");
    char url[64];

    server_new(f, NULL, NULL);
    agent_new(f);
    /* A trailing '/' on the agent's URL is fine. */
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/", f->port);
    assert_int_equal(f->agent.ops->submit(f->agent.ctx, url, job, done, f), 0);
    wait_calls(f, 1);
    assert_int_equal(f->err, 0);
    assert_int_equal(f->status, 202);
    assert_string_equal(json_string_value(json_object_get(f->body, "state")),
                        "Pending");
    assert_string_equal(f->method, "POST");
    assert_string_equal(f->path, "/v1/jobs");
    assert_string_equal(f->auth, "Bearer agent-secret-0123456789");
    assert_true(json_equal(f->posted, job));

    assert_int_equal(f->agent.ops->get(f->agent.ctx, url, "known", done, f), 0);
    wait_calls(f, 2);
    assert_int_equal(f->status, 200);
    assert_string_equal(f->path, "/v1/jobs/known");
    assert_string_equal(json_string_value(json_object_get(f->body, "state")),
                        "Running");

    /* The token is read at each call: a reload changes it. */
    free(f->settings.agent_token);
    f->settings.agent_token = NULL;
    assert_int_equal(f->agent.ops->get(f->agent.ctx, url, "nope", done, f), 0);
    wait_calls(f, 3);
    assert_int_equal(f->err, 0);
    assert_int_equal(f->status, 404);
    assert_string_equal(f->auth, "");
    json_decref(job);
}

/* A port with nobody listening. */
static int closed_port(void)
{
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(a);
    int fd = socket(AF_INET, SOCK_STREAM, 0), port;

    assert_true(fd >= 0);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    port = ntohs(a.sin_port);
    close(fd);
    return port;
}

static void test_refused_and_bad_urls(void **state)
{
    struct fixture *f = *state;
    char url[64];

    agent_new(f);
    snprintf(url, sizeof(url), "http://127.0.0.1:%d", closed_port());
    assert_int_equal(f->agent.ops->get(f->agent.ctx, url, "known", done, f), 0);
    wait_calls(f, 1);
    assert_int_equal(f->err, -ECONNREFUSED);
    assert_int_equal(f->status, 0);
    /* Names are not resolved on the loop; odd schemes and ids refused. */
    assert_int_equal(
        f->agent.ops->get(f->agent.ctx, "http://hv01:8443", "known", done, f),
        -EINVAL);
    assert_int_equal(
        f->agent.ops->get(f->agent.ctx, "ftp://127.0.0.1:21", "known", done, f),
        -EINVAL);
    assert_int_equal(f->agent.ops->get(f->agent.ctx, url, "../x", done, f),
                     -EINVAL);
    assert_int_equal(f->calls_done, 1);
}

/* A socket that listens and never answers: the kernel completes the
 * connection, nobody reads the request. */
static int silent_listener(int *ret_port)
{
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(a);
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    assert_true(fd >= 0);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(listen(fd, 8), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    *ret_port = ntohs(a.sin_port);
    return fd;
}

static void client_done(int err, int status, const char *body, size_t len,
                        void *arg)
{
    struct fixture *f = arg;
    (void)body;
    (void)len;
    f->calls_done++;
    f->err = err;
    f->status = status;
}

static void test_deadline(void **state)
{
    struct fixture *f = *state;
    struct http_client_opts o = {.timeout_s = 1};
    struct http_client *c = NULL;
    struct http_client_request r = {.method = HTTP_METHOD_GET};
    char url[64], err[128];
    int port, fd = silent_listener(&port);

    snprintf(url, sizeof(url), "http://127.0.0.1:%d/v1/jobs/x", port);
    r.url = url;
    assert_int_equal(http_client_new(f->base, &o, &c, err, sizeof(err)), 0);
    assert_int_equal(http_client_send(c, &r, client_done, f), 0);
    wait_calls(f, 1);
    assert_int_equal(f->err, -ETIMEDOUT);
    http_client_free(c);
    close(fd);
}

static void never(int err, int status, const json_t *body, void *arg)
{
    (void)err;
    (void)status;
    (void)body;
    (void)arg;
    fail_msg("a call called back after its client was freed");
}

static void stop_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    event_base_loopbreak(arg);
}

static void test_free_with_calls_in_flight(void **state)
{
    struct fixture *f = *state;
    struct timeval tv = {0, 200000};
    json_t *job = json_pack("{s:s}", "id", "x");
    char url[64];
    int port, fd = silent_listener(&port);

    agent_new(f);
    snprintf(url, sizeof(url), "http://127.0.0.1:%d", port);
    assert_int_equal(f->agent.ops->submit(f->agent.ctx, url, job, never, f), 0);
    assert_int_equal(f->agent.ops->get(f->agent.ctx, url, "x", never, f), 0);
    /* Let the connections come up, then free the client under them. */
    event_base_once(f->base, -1, EV_TIMEOUT, stop_cb, f->base, &tv);
    event_base_dispatch(f->base);
    orch_agent_release(&f->agent);
    assert_null(f->agent.ops);
    event_base_once(f->base, -1, EV_TIMEOUT, stop_cb, f->base, &tv);
    event_base_dispatch(f->base);
    json_decref(job);
    close(fd);
}

/* A self-signed certificate for 127.0.0.1 (EC P-256) written as PEM. */
static void make_cert(const char *cert_path, const char *key_path)
{
    EVP_PKEY *key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    X509 *x = X509_new();
    X509_NAME *name;
    X509V3_CTX v3;
    X509_EXTENSION *ext;
    FILE *fp;

    assert_non_null(key);
    assert_non_null(x);
    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
    X509_gmtime_adj(X509_getm_notBefore(x), -60);
    X509_gmtime_adj(X509_getm_notAfter(x), 3600);
    X509_set_pubkey(x, key);
    name = X509_get_subject_name(x);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                               (const unsigned char *)"127.0.0.1", -1, -1, 0);
    X509_set_issuer_name(x, name);
    X509V3_set_ctx(&v3, x, x, NULL, NULL, 0);
    ext = X509V3_EXT_conf_nid(NULL, &v3, NID_subject_alt_name, "IP:127.0.0.1");
    assert_non_null(ext);
    X509_add_ext(x, ext, -1);
    X509_EXTENSION_free(ext);
    assert_true(X509_sign(x, key, EVP_sha256()) > 0);
    fp = fopen(cert_path, "w");
    assert_non_null(fp);
    assert_int_equal(PEM_write_X509(fp, x), 1);
    fclose(fp);
    fp = fopen(key_path, "w");
    assert_non_null(fp);
    assert_int_equal(PEM_write_PrivateKey(fp, key, NULL, NULL, 0, NULL, NULL),
                     1);
    fclose(fp);
    X509_free(x);
    EVP_PKEY_free(key);
}

static void test_https_verified(void **state)
{
    struct fixture *f = *state;
    char cert[128], key[128], url[64];

    snprintf(cert, sizeof(cert), "%s/cert.pem", f->dir);
    snprintf(key, sizeof(key), "%s/key.pem", f->dir);
    make_cert(cert, key);
    server_new(f, cert, key);
    snprintf(url, sizeof(url), "https://127.0.0.1:%d", f->port);

    /* Against the system's CAs the self-signed agent does not verify. */
    agent_new(f);
    assert_int_equal(f->agent.ops->get(f->agent.ctx, url, "known", done, f), 0);
    wait_calls(f, 1);
    assert_true(f->err < 0);
    assert_int_equal(f->status, 0);
    assert_string_equal(f->path, ""); /* no request reached it */
    orch_agent_release(&f->agent);

    /* With agent_cacert it does. */
    f->settings.agent_cacert = strdup(cert);
    agent_new(f);
    assert_int_equal(f->agent.ops->get(f->agent.ctx, url, "known", done, f), 0);
    wait_calls(f, 2);
    assert_int_equal(f->err, 0);
    assert_int_equal(f->status, 200);
    assert_string_equal(f->auth, "Bearer agent-secret-0123456789");
}

static void test_bad_cacert(void **state)
{
    struct fixture *f = *state;
    char err[256] = "";

    f->settings.agent_cacert = strdup("/nonexistent/ca.pem");
    assert_int_equal(
        orch_agent_http_new(f->base, &f->settings, &f->agent, err, sizeof(err)),
        -EINVAL);
    assert_non_null(strstr(err, "'/nonexistent/ca.pem'"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_submit_and_get, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refused_and_bad_urls, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_deadline, setup, teardown),
        cmocka_unit_test_setup_teardown(test_free_with_calls_in_flight, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_https_verified, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_cacert, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
