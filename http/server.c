/*
 * http: the evhttp server (see http.h).
 *
 * Connection tracking.  libevent 2.1's evhttp has no hook at the start of a
 * request and only inactivity timeouts, so a client trickling one header
 * byte per second would hold a connection forever.  Every connection's
 * bufferevent is made here (evhttp_set_bevcb), with an extra reference so it
 * stays valid while we track it; a one-second sweep shuts down the socket
 * of a connection that has not delivered a whole request within the
 * deadline (evhttp then sees EOF and frees it) and drops the reference of
 * connections evhttp has released.  Once a connection has delivered a
 * request its close callback releases our reference at once.
 */
#include "http/http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/listener.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

enum conn_state {
    CONN_READING = 0, /* waiting for (the rest of) a request */
    CONN_BUSY,        /* a reply is being sent */
    CONN_STREAMING,   /* a chunked reply of unbounded length */
};

struct http_conn {
    struct http_server *srv;
    struct bufferevent *bev;
    struct evhttp_connection *evcon; /* known after the first request */
    enum conn_state state;
    time_t deadline; /* for CONN_READING */
    struct http_stream *stream;
    char peer[64]; /* "ADDR:PORT", formatted at the first request */
    struct http_conn *prev, *next;
};

struct http_stream {
    struct http_conn *conn;
    struct evhttp_request *req;
    struct http_stream_callbacks cbs;
};

struct http_server {
    struct event_base *base;
    struct evhttp *evh;
    SSL_CTX *ssl_ctx;
    struct http_server_opts opts;
    http_handler_fn handler;
    void *handler_arg;
    struct event *sweep;
    struct evhttp_bound_socket *bound[4];
    size_t n_bound;
    struct http_conn *conns;
    size_t n_conns;
    size_t n_busy;
    /* The Date header of this second: evhttp would format it again for
     * every reply. */
    time_t date_time;
    char date[40];
};

static time_t now_mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec;
}

static void opts_defaults(struct http_server_opts *o)
{
    if (o->max_body_bytes == 0)
        o->max_body_bytes = 1024 * 1024;
    if (o->max_headers_bytes == 0)
        o->max_headers_bytes = 64 * 1024;
    if (o->max_connections <= 0)
        o->max_connections = 1024;
    if (o->idle_timeout_s <= 0)
        o->idle_timeout_s = 60;
    if (o->request_deadline_s <= 0)
        o->request_deadline_s = 10;
}

static void conn_unlink(struct http_conn *c)
{
    struct http_server *srv = c->srv;
    if (c->prev)
        c->prev->next = c->next;
    else
        srv->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    srv->n_conns--;
    if (c->state != CONN_READING)
        srv->n_busy--;
}

static void conn_set_state(struct http_conn *c, enum conn_state st)
{
    if (c->state == CONN_READING && st != CONN_READING)
        c->srv->n_busy++;
    else if (c->state != CONN_READING && st == CONN_READING)
        c->srv->n_busy--;
    c->state = st;
    if (st == CONN_READING)
        c->deadline = now_mono() + c->srv->opts.request_deadline_s;
}

static void stream_closed(struct http_stream *s)
{
    struct http_stream_callbacks cbs = s->cbs;
    s->conn->stream = NULL;
    /* When the client goes away mid-stream, evhttp detaches the request
     * from the connection and leaves freeing it to us (the reply was
     * never finished); a request still attached is freed by evhttp. */
    if (s->req && !evhttp_request_get_connection(s->req))
        evhttp_request_free(s->req);
    free(s);
    if (cbs.on_close)
        cbs.on_close(cbs.arg);
}

/* evhttp is freeing the connection: drop our reference (evhttp frees the
 * bufferevent right after this returns). */
static void conn_closecb(struct evhttp_connection *evcon, void *arg)
{
    struct http_conn *c = arg;
    (void)evcon;
    if (c->stream)
        stream_closed(c->stream);
    conn_unlink(c);
    bufferevent_decref(c->bev);
    free(c);
}

static void sweep_cb(evutil_socket_t fd, short what, void *arg)
{
    struct http_server *srv = arg;
    time_t now = now_mono();
    struct http_conn *c, *next;
    (void)fd;
    (void)what;

    for (c = srv->conns; c; c = next) {
        bufferevent_event_cb eventcb = NULL;
        next = c->next;
        if (!c->evcon) {
            bufferevent_getcb(c->bev, NULL, NULL, &eventcb, NULL);
            if (!eventcb) {
                /* evhttp freed it before any request completed. */
                conn_unlink(c);
                bufferevent_decref(c->bev);
                free(c);
                continue;
            }
        }
        if (c->state == CONN_READING && now >= c->deadline) {
            evutil_socket_t s = bufferevent_getfd(c->bev);
            if (s >= 0)
                shutdown(s, SHUT_RDWR);
            c->deadline = now + srv->opts.request_deadline_s;
        }
    }
}

static struct bufferevent *bevcb(struct event_base *base, void *arg)
{
    struct http_server *srv = arg;
    struct bufferevent *bev = NULL;
    struct http_conn *c;

    if (srv->ssl_ctx) {
        SSL *ssl = SSL_new(srv->ssl_ctx);
        if (!ssl)
            return NULL;
        bev = bufferevent_openssl_socket_new(
            base, -1, ssl, BUFFEREVENT_SSL_ACCEPTING, BEV_OPT_CLOSE_ON_FREE);
    } else {
        bev = bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE);
    }
    if (!bev)
        return NULL;
    c = calloc(1, sizeof(*c));
    if (!c)
        return bev; /* served, just not tracked */
    c->srv = srv;
    c->bev = bev;
    c->state = CONN_READING;
    c->deadline = now_mono() + srv->opts.request_deadline_s;
    bufferevent_incref(bev);
    c->next = srv->conns;
    if (srv->conns)
        srv->conns->prev = c;
    srv->conns = c;
    srv->n_conns++;
    return bev;
}

/* The tracked connection of BEV.  evhttp gives a connection no user
 * pointer, so this searches the list; the one found moves to the front, so
 * connections that keep sending requests stay near it and idle ones (many
 * kept-alive clients, watches) sink to the back. */
static struct http_conn *conn_find(struct http_server *srv,
                                   struct bufferevent *bev)
{
    struct http_conn *c;

    for (c = srv->conns; c; c = c->next)
        if (c->bev == bev)
            break;
    if (c && c != srv->conns) {
        c->prev->next = c->next;
        if (c->next)
            c->next->prev = c->prev;
        c->prev = NULL;
        c->next = srv->conns;
        srv->conns->prev = c;
        srv->conns = c;
    }
    return c;
}

static void request_done_cb(struct evhttp_request *req, void *arg)
{
    struct http_conn *c = arg;
    (void)req;
    if (c->state != CONN_READING)
        conn_set_state(c, CONN_READING);
}

static enum http_method method_of(enum evhttp_cmd_type t)
{
    switch (t) {
    case EVHTTP_REQ_GET:
        return HTTP_METHOD_GET;
    case EVHTTP_REQ_HEAD:
        return HTTP_METHOD_HEAD;
    case EVHTTP_REQ_POST:
        return HTTP_METHOD_POST;
    case EVHTTP_REQ_PUT:
        return HTTP_METHOD_PUT;
    case EVHTTP_REQ_DELETE:
        return HTTP_METHOD_DELETE;
    case EVHTTP_REQ_PATCH:
        return HTTP_METHOD_PATCH;
    case EVHTTP_REQ_OPTIONS:
        return HTTP_METHOD_OPTIONS;
    default:
        return HTTP_METHOD_OTHER;
    }
}

static void free_body(const void *data, size_t len, void *arg)
{
    (void)len;
    (void)arg;
    free((void *)data);
}

static void send_plain_error(struct evhttp_request *req, int status,
                             const char *reason, const char *message)
{
    /* A Kubernetes Status, built by hand: the glue knows no JSON library
     * and the message is one of ours, without quotes or backslashes. */
    struct evbuffer *b = evbuffer_new();
    struct evkeyvalq *h = evhttp_request_get_output_headers(req);
    if (!b) {
        evhttp_send_error(req, status, NULL);
        return;
    }
    evbuffer_add_printf(b,
                        "{\"kind\":\"Status\",\"apiVersion\":\"v1\","
                        "\"metadata\":{},\"status\":\"Failure\","
                        "\"message\":\"%s\",\"reason\":\"%s\",\"code\":%d}",
                        message, reason, status);
    evhttp_add_header(h, "Content-Type", "application/json");
    evhttp_add_header(h, "Connection", "close");
    evhttp_send_reply(req, status, http_status_phrase(status), b);
    evbuffer_free(b);
}

static void format_peer(struct evhttp_connection *evcon, char *buf, size_t len)
{
    char *host = NULL;
    ev_uint16_t port = 0;

    evhttp_connection_get_peer(evcon, &host, &port);
    if (host)
        snprintf(buf, len, strchr(host, ':') ? "[%s]:%u" : "%s:%u", host,
                 (unsigned)port);
}

/* The value of the Date header now, formatted once a second. */
static const char *date_now(struct http_server *srv)
{
    time_t now = time(NULL);
    struct tm tm;

    static const char days[7][4] = {"Sun", "Mon", "Tue", "Wed",
                                    "Thu", "Fri", "Sat"};
    static const char months[12][4] = {"Jan", "Feb", "Mar", "Apr",
                                       "May", "Jun", "Jul", "Aug",
                                       "Sep", "Oct", "Nov", "Dec"};

    /* By hand, not strftime(): the names must not follow a locale. */
    if (now != srv->date_time && gmtime_r(&now, &tm)) {
        snprintf(srv->date, sizeof(srv->date),
                 "%s, %02d %s %04d %02d:%02d:%02d GMT", days[tm.tm_wday % 7],
                 tm.tm_mday, months[tm.tm_mon % 12], tm.tm_year + 1900,
                 tm.tm_hour, tm.tm_min, tm.tm_sec);
        srv->date_time = now;
    }
    return srv->date;
}

/* Request targets up to this long are split in a buffer on the stack. */
#define TARGET_STACK_BYTES 2048

static void gencb(struct evhttp_request *ereq, void *arg)
{
    struct http_server *srv = arg;
    struct evhttp_connection *evcon = evhttp_request_get_connection(ereq);
    struct http_conn *c = NULL;
    struct http_request req;
    struct http_response resp;
    struct evkeyvalq *in = evhttp_request_get_input_headers(ereq);
    struct evkeyvalq *out = evhttp_request_get_output_headers(ereq);
    struct evbuffer *inbuf = evhttp_request_get_input_buffer(ereq);
    const char *uri = evhttp_request_get_uri(ereq);
    char stack_target[TARGET_STACK_BYTES];
    char *target = stack_target;
    size_t targetlen;
    char peer[80] = "";
    int r;

    memset(&req, 0, sizeof(req));
    memset(&resp, 0, sizeof(resp));

    if (evcon) {
        c = conn_find(srv, evhttp_connection_get_bufferevent(evcon));
        if (c && !c->evcon) {
            c->evcon = evcon;
            evhttp_connection_set_closecb(evcon, conn_closecb, c);
            format_peer(evcon, c->peer, sizeof(c->peer));
        }
        if (!c)
            format_peer(evcon, peer, sizeof(peer));
    }
    if (c) {
        conn_set_state(c, CONN_BUSY);
        evhttp_request_set_on_complete_cb(ereq, request_done_cb, c);
    }
    if (srv->n_conns > (size_t)srv->opts.max_connections) {
        send_plain_error(ereq, 503, "ServiceUnavailable",
                         "too many connections");
        return;
    }

    if (!uri)
        uri = "/";
    targetlen = strlen(uri) + 2 * HTTP_MAX_SEGMENTS + 2 * HTTP_MAX_PARAMS + 2;
    if (targetlen > sizeof(stack_target)) {
        target = malloc(targetlen);
        if (!target) {
            send_plain_error(ereq, 500, "InternalError", "out of memory");
            return;
        }
    }
    r = http_request_parse_target(&req, uri, target, targetlen);
    if (r < 0) {
        send_plain_error(ereq, 400, "BadRequest",
                         r == -E2BIG ? "request target has too many parts"
                                     : "malformed request target");
        goto out;
    }
    req.method = method_of(evhttp_request_get_command(ereq));
    req.path = uri;
    req.content_type = evhttp_find_header(in, "Content-Type");
    req.accept = evhttp_find_header(in, "Accept");
    req.authorization = evhttp_find_header(in, "Authorization");
    req.peer = c ? c->peer : peer;
    /* Terminate the body so handlers may treat it as a C string. */
    req.body_len = evbuffer_get_length(inbuf);
    if (evbuffer_add(inbuf, "", 1) < 0) {
        send_plain_error(ereq, 500, "InternalError", "out of memory");
        goto out;
    }
    req.body = (const char *)evbuffer_pullup(inbuf, -1);
    if (!req.body) {
        send_plain_error(ereq, 500, "InternalError", "out of memory");
        goto out;
    }

    srv->handler(&req, &resp, srv->handler_arg);

    for (size_t i = 0; i < resp.n_headers; i++)
        evhttp_add_header(out, resp.header_names[i], resp.header_values[i]);
    if (resp.content_type)
        evhttp_add_header(out, "Content-Type", resp.content_type);
    evhttp_add_header(out, "Date", date_now(srv));

    if (resp.stream_start) {
        struct http_stream *s = calloc(1, sizeof(*s));
        if (!s || !c || !evcon) {
            free(s);
            http_response_clear(&resp);
            send_plain_error(ereq, 500, "InternalError", "cannot stream");
            goto out;
        }
        s->conn = c;
        s->req = ereq;
        c->stream = s;
        conn_set_state(c, CONN_STREAMING);
        evhttp_send_reply_start(ereq, resp.status,
                                http_status_phrase(resp.status));
        resp.stream_start(s, resp.stream_arg);
        http_response_clear(&resp);
        goto out;
    }

    /* The body goes into the request's own output buffer by reference (no
     * copy); evhttp frees it with free_body() once sent. */
    if (resp.body && resp.body_len > 0) {
        struct evbuffer *ob = evhttp_request_get_output_buffer(ereq);
        if (evbuffer_add_reference(ob, resp.body, resp.body_len, free_body,
                                   NULL) == 0)
            resp.body = NULL; /* now owned by the buffer */
        else if (evbuffer_add(ob, resp.body, resp.body_len) < 0) {
            http_response_clear(&resp);
            send_plain_error(ereq, 500, "InternalError", "out of memory");
            goto out;
        }
    }
    evhttp_send_reply(ereq, resp.status, http_status_phrase(resp.status), NULL);
    http_response_clear(&resp);
out:
    if (target != stack_target)
        free(target);
}

void http_stream_set_callbacks(struct http_stream *stream,
                               const struct http_stream_callbacks *cbs)
{
    stream->cbs = *cbs;
}

static void stream_drained(struct evhttp_connection *evcon, void *arg)
{
    struct http_stream *s = arg;
    (void)evcon;
    if (s->cbs.on_drain)
        s->cbs.on_drain(s->cbs.arg);
}

int http_stream_write(struct http_stream *stream, const char *buf, size_t len)
{
    struct evbuffer *b;
    if (!stream->req)
        return -EPIPE;
    b = evbuffer_new();
    if (!b)
        return -ENOMEM;
    if (evbuffer_add(b, buf, len) < 0) {
        evbuffer_free(b);
        return -ENOMEM;
    }
    evhttp_send_reply_chunk_with_cb(stream->req, b, stream_drained, stream);
    evbuffer_free(b);
    return 0;
}

size_t http_stream_pending(const struct http_stream *stream)
{
    return evbuffer_get_length(bufferevent_get_output(stream->conn->bev));
}

void http_stream_end(struct http_stream *stream)
{
    if (!stream)
        return;
    stream->conn->stream = NULL;
    /* The connection goes back to reading when the end has been sent. */
    evhttp_send_reply_end(stream->req);
    free(stream);
}

static SSL_CTX *tls_context(const char *cert, const char *key, char *errbuf,
                            size_t errlen)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    if (!ctx) {
        snprintf(errbuf, errlen, "cannot create a TLS context");
        return NULL;
    }
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION);
    if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1) {
        snprintf(errbuf, errlen, "cannot load TLS certificate '%s': %s", cert,
                 ERR_reason_error_string(ERR_get_error()));
        goto fail;
    }
    if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1) {
        snprintf(errbuf, errlen, "cannot load TLS key '%s': %s", key,
                 ERR_reason_error_string(ERR_get_error()));
        goto fail;
    }
    if (SSL_CTX_check_private_key(ctx) != 1) {
        snprintf(errbuf, errlen, "TLS key '%s' does not match certificate",
                 key);
        goto fail;
    }
    return ctx;
fail:
    SSL_CTX_free(ctx);
    return NULL;
}

static void apply_limits(struct http_server *srv)
{
    evhttp_set_max_body_size(srv->evh, (ev_ssize_t)srv->opts.max_body_bytes);
    evhttp_set_max_headers_size(srv->evh,
                                (ev_ssize_t)srv->opts.max_headers_bytes);
    evhttp_set_timeout(srv->evh, srv->opts.idle_timeout_s);
}

int http_server_new(struct event_base *base, const struct http_server_opts *o,
                    http_handler_fn handler, void *handler_arg,
                    struct http_server **ret_server, char *errbuf,
                    size_t errlen)
{
    struct http_server *srv = calloc(1, sizeof(*srv));
    struct timeval one = {1, 0};
    int r = -ENOMEM;

    if (!srv)
        goto fail;
    srv->base = base;
    srv->handler = handler;
    srv->handler_arg = handler_arg;
    srv->opts = *o;
    srv->opts.tls_certificate = NULL;
    srv->opts.tls_key = NULL;
    opts_defaults(&srv->opts);
    if (o->tls_certificate || o->tls_key) {
        if (!o->tls_certificate || !o->tls_key) {
            snprintf(errbuf, errlen, "TLS needs both a certificate and a key");
            r = -EINVAL;
            goto fail;
        }
        srv->ssl_ctx =
            tls_context(o->tls_certificate, o->tls_key, errbuf, errlen);
        if (!srv->ssl_ctx) {
            r = -EINVAL;
            goto fail;
        }
    }
    srv->evh = evhttp_new(base);
    if (!srv->evh) {
        snprintf(errbuf, errlen, "cannot create the HTTP server");
        goto fail;
    }
    evhttp_set_allowed_methods(
        srv->evh, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD | EVHTTP_REQ_POST |
                      EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE | EVHTTP_REQ_PATCH |
                      EVHTTP_REQ_OPTIONS);
    /* Read and drop an oversized body before answering 413, so the client
     * sees the answer instead of a reset. */
    evhttp_set_flags(srv->evh, EVHTTP_SERVER_LINGERING_CLOSE);
    evhttp_set_default_content_type(srv->evh, "application/json");
    evhttp_set_bevcb(srv->evh, bevcb, srv);
    evhttp_set_gencb(srv->evh, gencb, srv);
    apply_limits(srv);
    srv->sweep = event_new(base, -1, EV_PERSIST, sweep_cb, srv);
    if (!srv->sweep || event_add(srv->sweep, &one) < 0) {
        snprintf(errbuf, errlen, "cannot start the connection timer");
        goto fail;
    }
    *ret_server = srv;
    return 0;
fail:
    if (r == -ENOMEM && errbuf && errlen && !errbuf[0])
        snprintf(errbuf, errlen, "out of memory");
    http_server_free(srv);
    return r;
}

int http_server_bind(struct http_server *srv, const char *host, uint16_t port,
                     uint16_t *ret_port)
{
    struct evhttp_bound_socket *b;
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    evutil_socket_t fd;

    if (srv->n_bound >= sizeof(srv->bound) / sizeof(*srv->bound))
        return -E2BIG;
    errno = 0;
    b = evhttp_bind_socket_with_handle(srv->evh, host, port);
    if (!b)
        return errno ? -errno : -EADDRNOTAVAIL;
    srv->bound[srv->n_bound++] = b;
    fd = evhttp_bound_socket_get_fd(b);
    if (ret_port) {
        if (getsockname(fd, (struct sockaddr *)&ss, &sl) < 0)
            return -errno;
        if (ss.ss_family == AF_INET6)
            *ret_port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
        else
            *ret_port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
    }
    return 0;
}

void http_server_set_limits(struct http_server *srv,
                            const struct http_server_opts *o)
{
    srv->opts.max_body_bytes = o->max_body_bytes;
    srv->opts.max_headers_bytes = o->max_headers_bytes;
    srv->opts.max_connections = o->max_connections;
    srv->opts.idle_timeout_s = o->idle_timeout_s;
    srv->opts.request_deadline_s = o->request_deadline_s;
    opts_defaults(&srv->opts);
    apply_limits(srv);
}

void http_server_stop_accepting(struct http_server *srv)
{
    for (size_t i = 0; i < srv->n_bound; i++)
        evhttp_del_accept_socket(srv->evh, srv->bound[i]);
    srv->n_bound = 0;
}

size_t http_server_connections(const struct http_server *srv)
{
    return srv->n_conns;
}

size_t http_server_requests_in_flight(const struct http_server *srv)
{
    return srv->n_busy;
}

void http_server_free(struct http_server *srv)
{
    if (!srv)
        return;
    if (srv->sweep)
        event_free(srv->sweep);
    /* evhttp_free() frees every connection, running our close callbacks
     * for those we know; the rest are dropped below. */
    if (srv->evh)
        evhttp_free(srv->evh);
    while (srv->conns) {
        struct http_conn *c = srv->conns;
        if (c->stream)
            stream_closed(c->stream);
        conn_unlink(c);
        bufferevent_decref(c->bev);
        free(c);
    }
    if (srv->ssl_ctx)
        SSL_CTX_free(srv->ssl_ctx);
    free(srv);
}
