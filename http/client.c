/*
 * http: the client (see http.h), on evhttp's outgoing connections.
 *
 * Each request has its own evhttp connection over a bufferevent made here
 * (an OpenSSL one for https), so that TLS, TCP_NODELAY and the deadline
 * are ours to set.  evhttp frees a request after its callback and must not
 * see its connection freed from inside that callback, so a finished call
 * is freed by a zero timer on the next turn of the loop.
 */
#include "http/http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#define CLIENT_TIMEOUT_S 10
#define CLIENT_MAX_BODY  (1024 * 1024)

struct http_call {
    struct http_client *c;
    struct http_call *prev, *next;
    struct evhttp_connection *evcon;
    struct event *deadline; /* the whole call's time */
    struct event *reap;     /* frees the call on the next turn */
    http_client_done_fn done;
    void *arg;
    int error; /* from evhttp's error callback */
    bool finished;
};

struct http_client {
    struct event_base *base;
    SSL_CTX *ssl_ctx; /* made at the first https request */
    int timeout_s;
    size_t max_body;
    struct http_call *calls;
};

static SSL_CTX *client_tls(const char *cacert, char *errbuf, size_t errlen)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());

    if (!ctx) {
        snprintf(errbuf, errlen, "cannot make a TLS context");
        return NULL;
    }
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    if (cacert ? SSL_CTX_load_verify_locations(ctx, cacert, NULL) != 1
               : SSL_CTX_set_default_verify_paths(ctx) != 1) {
        unsigned long e = ERR_get_error();
        snprintf(errbuf, errlen, "cannot load the CA file '%s': %s",
                 cacert ? cacert : "(system)",
                 e ? ERR_reason_error_string(e) : "unknown error");
        ERR_clear_error();
        SSL_CTX_free(ctx);
        return NULL;
    }
    return ctx;
}

int http_client_new(struct event_base *base, const struct http_client_opts *o,
                    struct http_client **ret_client, char *errbuf,
                    size_t errlen)
{
    struct http_client *c = calloc(1, sizeof(*c));

    if (errlen)
        errbuf[0] = '\0';
    if (!c)
        return -ENOMEM;
    c->base = base;
    c->timeout_s = o && o->timeout_s > 0 ? o->timeout_s : CLIENT_TIMEOUT_S;
    c->max_body = o && o->max_body_bytes ? o->max_body_bytes : CLIENT_MAX_BODY;
    if (o && o->cacert) {
        /* Checked now, so a bad file is a start-up error, not a failure
         * of every later call. */
        c->ssl_ctx = client_tls(o->cacert, errbuf, errlen);
        if (!c->ssl_ctx) {
            free(c);
            return -EINVAL;
        }
    }
    *ret_client = c;
    return 0;
}

static void call_free(struct http_call *call)
{
    struct http_client *c = call->c;

    if (call->prev)
        call->prev->next = call->next;
    else
        c->calls = call->next;
    if (call->next)
        call->next->prev = call->prev;
    /* Frees the pending request without its callback, and the
     * bufferevent (and SSL) with it. */
    if (call->evcon)
        evhttp_connection_free(call->evcon);
    if (call->deadline)
        event_free(call->deadline);
    if (call->reap)
        event_free(call->reap);
    free(call);
}

void http_client_free(struct http_client *c)
{
    if (!c)
        return;
    while (c->calls)
        call_free(c->calls);
    if (c->ssl_ctx)
        SSL_CTX_free(c->ssl_ctx);
    free(c);
}

static void reap_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    call_free(arg);
}

/* Call back once and have the call freed on the next turn. */
static void call_finish(struct http_call *call, int err, int status,
                        const char *body, size_t len)
{
    struct timeval now = {0, 0};

    if (call->finished)
        return;
    call->finished = true;
    event_del(call->deadline);
    event_add(call->reap, &now);
    call->done(err, status, body, len, call->arg);
}

static void deadline_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    call_finish(arg, -ETIMEDOUT, 0, NULL, 0);
}

static void error_cb(enum evhttp_request_error e, void *arg)
{
    struct http_call *call = arg;

    switch (e) {
    case EVREQ_HTTP_TIMEOUT:
        call->error = -ETIMEDOUT;
        break;
    case EVREQ_HTTP_EOF:
        call->error = -ECONNRESET;
        break;
    case EVREQ_HTTP_DATA_TOO_LONG:
        call->error = -EMSGSIZE;
        break;
    case EVREQ_HTTP_REQUEST_CANCEL:
        call->error = -ECANCELED;
        break;
    default:
        call->error = -EPROTO;
        break;
    }
}

static void request_cb(struct evhttp_request *req, void *arg)
{
    struct http_call *call = arg;
    struct evbuffer *in;
    int status = req ? evhttp_request_get_response_code(req) : 0;
    size_t len;
    char *body;

    if (!req || status <= 0) {
        /* No reply: what the error callback saw, or a connection that
         * never came up (evhttp tells nothing more). */
        call_finish(call, call->error ? call->error : -ECONNREFUSED, 0, NULL,
                    0);
        return;
    }
    in = evhttp_request_get_input_buffer(req);
    len = evbuffer_get_length(in);
    if (len > call->c->max_body) {
        call_finish(call, -EMSGSIZE, 0, NULL, 0);
        return;
    }
    body = malloc(len + 1);
    if (!body) {
        call_finish(call, -ENOMEM, 0, NULL, 0);
        return;
    }
    evbuffer_copyout(in, body, len);
    body[len] = '\0';
    call_finish(call, 0, status, body, len);
    free(body);
}

static enum evhttp_cmd_type cmd_of(enum http_method m)
{
    switch (m) {
    case HTTP_METHOD_POST:
        return EVHTTP_REQ_POST;
    case HTTP_METHOD_PUT:
        return EVHTTP_REQ_PUT;
    case HTTP_METHOD_DELETE:
        return EVHTTP_REQ_DELETE;
    case HTTP_METHOD_PATCH:
        return EVHTTP_REQ_PATCH;
    case HTTP_METHOD_HEAD:
        return EVHTTP_REQ_HEAD;
    default:
        return EVHTTP_REQ_GET;
    }
}

/* HOST as an address literal ("198.18.0.1", "::1" or "[::1]") into BUF
 * without brackets; -EINVAL for a name. */
static int host_literal(const char *host, char *buf, size_t len)
{
    unsigned char a[sizeof(struct in6_addr)];
    size_t n = strlen(host);

    if (n >= 2 && host[0] == '[' && host[n - 1] == ']') {
        host++;
        n -= 2;
    }
    if (n + 1 > len)
        return -EINVAL;
    memcpy(buf, host, n);
    buf[n] = '\0';
    if (inet_pton(AF_INET, buf, a) == 1 || inet_pton(AF_INET6, buf, a) == 1)
        return 0;
    return -EINVAL;
}

int http_client_send(struct http_client *c, const struct http_client_request *r,
                     http_client_done_fn done, void *arg)
{
    struct evhttp_uri *uri = evhttp_uri_parse(r->url);
    const char *scheme, *path, *query;
    struct bufferevent *bev = NULL;
    struct evhttp_request *req = NULL;
    struct evkeyvalq *hdr;
    struct http_call *call = NULL;
    struct timeval tv = {c->timeout_s, 0};
    char host[64], target[2048], hosthdr[80];
    bool tls;
    int port, fd, one = 1, ret = -EINVAL;

    if (!uri || !(scheme = evhttp_uri_get_scheme(uri)) ||
        !evhttp_uri_get_host(uri) ||
        host_literal(evhttp_uri_get_host(uri), host, sizeof(host)) < 0)
        goto fail;
    if (strcasecmp(scheme, "https") == 0)
        tls = true;
    else if (strcasecmp(scheme, "http") == 0)
        tls = false;
    else
        goto fail;
    port = evhttp_uri_get_port(uri);
    if (port < 0)
        port = tls ? 443 : 80;
    path = evhttp_uri_get_path(uri);
    query = evhttp_uri_get_query(uri);
    if (snprintf(target, sizeof(target), "%s%s%s", path && *path ? path : "/",
                 query ? "?" : "", query ? query : "") >= (int)sizeof(target))
        goto fail;
    snprintf(hosthdr, sizeof(hosthdr), "%s%s%s:%d",
             strchr(host, ':') ? "[" : "", host, strchr(host, ':') ? "]" : "",
             port);

    ret = -ENOMEM;
    call = calloc(1, sizeof(*call));
    if (!call)
        goto fail;
    call->c = c;
    call->done = done;
    call->arg = arg;
    call->deadline = evtimer_new(c->base, deadline_cb, call);
    call->reap = evtimer_new(c->base, reap_cb, call);
    if (!call->deadline || !call->reap)
        goto fail;
    if (tls) {
        SSL *ssl;
        char err[256];

        if (!c->ssl_ctx && !(c->ssl_ctx = client_tls(NULL, err, sizeof(err)))) {
            ret = -EPROTO;
            goto fail;
        }
        ssl = SSL_new(c->ssl_ctx);
        /* The certificate must be the host's: its IP address. */
        if (!ssl ||
            X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), host) != 1) {
            SSL_free(ssl);
            goto fail;
        }
        bev = bufferevent_openssl_socket_new(
            c->base, -1, ssl, BUFFEREVENT_SSL_CONNECTING,
            BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS);
        if (!bev) {
            SSL_free(ssl);
            goto fail;
        }
    } else {
        bev = bufferevent_socket_new(c->base, -1, BEV_OPT_CLOSE_ON_FREE);
        if (!bev)
            goto fail;
    }
    call->evcon = evhttp_connection_base_bufferevent_new(c->base, NULL, bev,
                                                         host, (uint16_t)port);
    if (!call->evcon) {
        bufferevent_free(bev);
        goto fail;
    }
    evhttp_connection_set_timeout(call->evcon, c->timeout_s);
    evhttp_connection_set_retries(call->evcon, 0);
    evhttp_connection_set_max_body_size(call->evcon, (ev_ssize_t)c->max_body);
    req = evhttp_request_new(request_cb, call);
    if (!req)
        goto fail;
    evhttp_request_set_error_cb(req, error_cb);
    hdr = evhttp_request_get_output_headers(req);
    if (evhttp_add_header(hdr, "Host", hosthdr) < 0 ||
        evhttp_add_header(hdr, "Connection", "close") < 0 ||
        evhttp_add_header(hdr, "Accept", "application/json") < 0 ||
        (r->authorization &&
         evhttp_add_header(hdr, "Authorization", r->authorization) < 0) ||
        (r->content_type &&
         evhttp_add_header(hdr, "Content-Type", r->content_type) < 0) ||
        (r->body && evbuffer_add(evhttp_request_get_output_buffer(req), r->body,
                                 r->body_len) < 0)) {
        evhttp_request_free(req);
        goto fail;
    }
    call->next = c->calls;
    if (c->calls)
        c->calls->prev = call;
    c->calls = call;
    /* The request is the connection's from here, freed with it. */
    if (evhttp_make_request(call->evcon, req, cmd_of(r->method), target) < 0) {
        call->done = NULL;
        call_free(call);
        evhttp_uri_free(uri);
        return -ENOMEM;
    }
    /* An address literal connects at once: the socket exists now. */
    fd = bufferevent_getfd(evhttp_connection_get_bufferevent(call->evcon));
    if (fd >= 0)
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    event_add(call->deadline, &tv);
    evhttp_uri_free(uri);
    return 0;
fail:
    if (call) {
        if (call->evcon)
            evhttp_connection_free(call->evcon);
        if (call->deadline)
            event_free(call->deadline);
        if (call->reap)
            event_free(call->reap);
        free(call);
    }
    if (uri)
        evhttp_uri_free(uri);
    return ret;
}
