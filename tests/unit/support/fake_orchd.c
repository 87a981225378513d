/*
 * Test helper: a fake orchestratord.  See fake_orchd.h.
 */
#include "tests/unit/support/fake_orchd.h"

#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <event2/event.h>
#include <jansson.h>

#include "http/http.h"

#define MAX_REQS 256

struct fake_orchd {
    struct event_base *base;
    struct http_server *http;
    pthread_t thread;
    pthread_mutex_t lock;
    struct fake_req reqs[MAX_REQS];
    size_t n;
    int status;
    char message[256];
};

static char *dup_or_null(const char *s)
{
    return s ? strdup(s) : NULL;
}

static void handle(const struct http_request *req, struct http_response *resp,
                   void *arg)
{
    struct fake_orchd *f = arg;
    json_t *j;
    int status;

    pthread_mutex_lock(&f->lock);
    if (f->n < MAX_REQS) {
        struct fake_req *r = &f->reqs[f->n++];

        snprintf(r->method, sizeof(r->method), "%s",
                 http_method_name(req->method));
        r->path = dup_or_null(req->path);
        r->authorization = dup_or_null(req->authorization);
        r->content_type = dup_or_null(req->content_type);
        r->body = dup_or_null(req->body);
    }
    status = f->status;
    if (status >= 200 && status < 300)
        j = json_pack("{s:s, s:s, s:i}", "kind", "NodeReportResult",
                      "apiVersion", "agent.orchestrator.io/v1",
                      "heartbeatIntervalSeconds", 10);
    else
        j = json_pack("{s:s, s:s, s:{}, s:s, s:s, s:i}", "kind", "Status",
                      "apiVersion", "v1", "metadata", "status", "Failure",
                      "message", f->message, "code", status);
    pthread_mutex_unlock(&f->lock);
    resp->status = status;
    resp->content_type = "application/json";
    resp->body = json_dumps(j, JSON_COMPACT);
    resp->body_len = resp->body ? strlen(resp->body) : 0;
    json_decref(j);
}

static void *loop_main(void *arg)
{
    struct fake_orchd *f = arg;

    event_base_loop(f->base, EVLOOP_NO_EXIT_ON_EMPTY);
    return NULL;
}

struct fake_orchd *fake_orchd_start(uint16_t port, const char *cert,
                                    const char *key, uint16_t *ret_port)
{
    struct fake_orchd *f = calloc(1, sizeof(*f));
    struct http_server_opts o = {0};
    char err[256];
    uint16_t bound = 0;

    assert_non_null(f);
    pthread_mutex_init(&f->lock, NULL);
    f->status = 200;
    f->base = event_base_new();
    assert_non_null(f->base);
    o.tls_certificate = cert;
    o.tls_key = key;
    if (http_server_new(f->base, &o, handle, f, &f->http, err, sizeof(err)) < 0)
        fail_msg("fake orchestratord: %s", err);
    assert_int_equal(http_server_bind(f->http, "127.0.0.1", port, &bound), 0);
    assert_int_equal(pthread_create(&f->thread, NULL, loop_main, f), 0);
    if (ret_port)
        *ret_port = bound;
    return f;
}

void fake_req_clear(struct fake_req *r)
{
    free(r->path);
    free(r->authorization);
    free(r->content_type);
    free(r->body);
    memset(r, 0, sizeof(*r));
}

void fake_orchd_stop(struct fake_orchd *f)
{
    if (!f)
        return;
    event_base_loopbreak(f->base);
    pthread_join(f->thread, NULL);
    http_server_free(f->http);
    event_base_free(f->base);
    for (size_t i = 0; i < f->n; i++)
        fake_req_clear(&f->reqs[i]);
    pthread_mutex_destroy(&f->lock);
    free(f);
}

void fake_orchd_answer(struct fake_orchd *f, int status, const char *message)
{
    pthread_mutex_lock(&f->lock);
    f->status = status;
    snprintf(f->message, sizeof(f->message), "%s", message ? message : "");
    pthread_mutex_unlock(&f->lock);
}

size_t fake_orchd_count(struct fake_orchd *f)
{
    size_t n;

    pthread_mutex_lock(&f->lock);
    n = f->n;
    pthread_mutex_unlock(&f->lock);
    return n;
}

bool fake_orchd_wait(struct fake_orchd *f, size_t n, int timeout_ms)
{
    for (int waited = 0; waited <= timeout_ms; waited += 10) {
        if (fake_orchd_count(f) >= n)
            return true;
        usleep(10 * 1000);
    }
    return fake_orchd_count(f) >= n;
}

void fake_orchd_get(struct fake_orchd *f, size_t i, struct fake_req *ret)
{
    pthread_mutex_lock(&f->lock);
    assert_true(i < f->n);
    memcpy(ret->method, f->reqs[i].method, sizeof(ret->method));
    ret->path = dup_or_null(f->reqs[i].path);
    ret->authorization = dup_or_null(f->reqs[i].authorization);
    ret->content_type = dup_or_null(f->reqs[i].content_type);
    ret->body = dup_or_null(f->reqs[i].body);
    pthread_mutex_unlock(&f->lock);
}

void test_tls_cert(const char *dir)
{
    char cmd[1024];

    snprintf(cmd, sizeof(cmd),
             "openssl req -x509 -newkey ec -pkeyopt "
             "ec_paramgen_curve:prime256v1 -nodes -days 1 "
             "-subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 "
             "-keyout '%s/key.pem' -out '%s/cert.pem' >/dev/null 2>&1",
             dir, dir);
    if (system(cmd) != 0)
        fail_msg("openssl could not make a test certificate in '%s'", dir);
}
