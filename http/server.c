/*
 * http: the evhttp server (see http.h).
 *
 * Connection tracking.  libevent 2.1's evhttp has no hook at the start of a
 * request, none when its headers are complete, only inactivity timeouts,
 * and it answers the errors it finds itself with an HTML page.  So every
 * connection's bufferevent is made here (evhttp_set_bevcb), with an extra
 * reference so it stays valid while we track it, and two evbuffer callbacks
 * watch what passes:
 *
 * - The input callback runs when bytes arrive, before evhttp parses them.
 *   It scans each request's head (request line and headers; bodies are not
 *   looked at) to know when the headers are complete, how big they are,
 *   and whether they are acceptable: conflicting Content-Length headers,
 *   a head over max_headers_bytes, or "Expect: 100-continue" with a body
 *   over max_body_bytes.  For those it notes the answer it wants and turns
 *   the unparsed input into a line evhttp cannot parse, so evhttp fails the
 *   request at once, without reading a body the client has not sent.
 * - The output callback sees evhttp write a reply while no handler has the
 *   request (so it is one of evhttp's own errors, or a "100 Continue") and
 *   schedules a fix-up that runs before the next write to the socket: it
 *   replaces evhttp's page with a Kubernetes Status, with the answer the
 *   scan wanted if there is one.
 *
 * A one-second sweep shuts down the socket of a connection whose headers
 * have not arrived within header_timeout_s or whose request has not within
 * request_timeout_s (evhttp then sees EOF and frees it), and drops the
 * reference of connections evhttp has released.  Once a connection has
 * delivered a request its close callback releases our reference at once.
 *
 * The connection cap is kept at accept: a connection beyond it makes the
 * one that has been idle longest (connected, no byte of a request yet) go,
 * so a crowd of idle sockets cannot keep everyone else out.  Only when no
 * connection is idle do requests get 503, the probes (probe_paths) still
 * answered.
 */
#include "http/http.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/ioctl.h>
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

/* Where the scan of the incoming bytes is. */
enum scan_phase {
    SCAN_HEAD = 0, /* in a request's head */
    SCAN_BODY,     /* head done; the rest is evhttp's until the handler */
    SCAN_FAILED,   /* refused: evhttp is made to fail, input is dropped */
};

/* Longest header line the scan keeps to look at (Content-Length, Expect);
 * longer lines are only counted. */
#define SCAN_LINE_MAX 128

struct http_conn {
    struct http_server *srv;
    struct bufferevent *bev;
    struct evhttp_connection *evcon; /* known after the first request */
    enum conn_state state;
    int64_t header_deadline;  /* ms, for CONN_READING in SCAN_HEAD */
    int64_t request_deadline; /* ms, for CONN_READING */
    struct http_stream *stream;
    char peer[64]; /* "ADDR:PORT", formatted at the first request */
    struct http_conn *prev, *next;

    struct evbuffer_cb_entry *in_cb, *out_cb;
    struct event *fixup; /* replaces an evhttp error page; made on need */
    bool in_fixup;       /* our own changes to the buffers */
    bool shed;           /* closed to make room, not freed yet */
    bool cut;            /* shut down by the sweep */
    bool over_cap;       /* accepted when nothing could make room */

    /* The scan of the current request's head. */
    enum scan_phase phase;
    size_t head_bytes;
    bool seen_request_line;
    unsigned n_lengths; /* Content-Length headers */
    bool have_length;   /* the first readable one is in length */
    bool length_invalid;
    bool length_conflict;
    bool expect_continue;
    unsigned long long length;
    size_t line_len;
    bool line_long;
    char line[SCAN_LINE_MAX];
    /* The answer the scan wants for a refused request. */
    int refuse_code;
    const char *refuse_reason;
    const char *refuse_message;
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
    /* Most recently active first: the idle ones sink to the tail. */
    struct http_conn *conns, *conns_tail;
    size_t n_conns;
    size_t n_shed;
    size_t n_busy;
    /* The Date header of this second: evhttp would format it again for
     * every reply. */
    time_t date_time;
    char date[40];
};

/* Milliseconds on the monotonic clock: deadlines are checked once a
 * second, but never before they are due. */
static int64_t now_mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
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
    if (o->header_timeout_s <= 0)
        o->header_timeout_s = 10;
    if (o->request_timeout_s <= 0)
        o->request_timeout_s = 30;
}

static void conn_list_push_front(struct http_conn *c)
{
    struct http_server *srv = c->srv;

    c->prev = NULL;
    c->next = srv->conns;
    if (srv->conns)
        srv->conns->prev = c;
    else
        srv->conns_tail = c;
    srv->conns = c;
}

static void conn_list_remove(struct http_conn *c)
{
    struct http_server *srv = c->srv;

    if (c->prev)
        c->prev->next = c->next;
    else
        srv->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    else
        srv->conns_tail = c->prev;
    c->prev = c->next = NULL;
}

static void conn_unlink(struct http_conn *c)
{
    struct http_server *srv = c->srv;

    conn_list_remove(c);
    srv->n_conns--;
    if (c->shed)
        srv->n_shed--;
    if (c->state != CONN_READING)
        srv->n_busy--;
}

/* Forget C: unlink it, drop our callbacks and our reference to its
 * bufferevent (evhttp may still hold one), free it. */
static void conn_release(struct http_conn *c)
{
    conn_unlink(c);
    if (c->in_cb)
        evbuffer_remove_cb_entry(bufferevent_get_input(c->bev), c->in_cb);
    if (c->out_cb)
        evbuffer_remove_cb_entry(bufferevent_get_output(c->bev), c->out_cb);
    if (c->fixup)
        event_free(c->fixup);
    bufferevent_decref(c->bev);
    free(c);
}

/* A new request may start on C: the clocks for its head and for the whole
 * of it start now. */
static void conn_deadlines_reset(struct http_conn *c)
{
    int64_t now = now_mono_ms();

    c->header_deadline = now + 1000 * (int64_t)c->srv->opts.header_timeout_s;
    c->request_deadline = now + 1000 * (int64_t)c->srv->opts.request_timeout_s;
}

static void conn_set_state(struct http_conn *c, enum conn_state st)
{
    if (c->state == CONN_READING && st != CONN_READING)
        c->srv->n_busy++;
    else if (c->state != CONN_READING && st == CONN_READING)
        c->srv->n_busy--;
    c->state = st;
    if (st == CONN_READING)
        conn_deadlines_reset(c);
}

/* Shut C's socket down: evhttp reads EOF and frees the connection. */
static void conn_shutdown(struct http_conn *c)
{
    evutil_socket_t s = bufferevent_getfd(c->bev);

    if (s >= 0)
        shutdown(s, SHUT_RDWR);
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
    conn_release(c);
}

static void sweep_cb(evutil_socket_t fd, short what, void *arg)
{
    struct http_server *srv = arg;
    int64_t now = now_mono_ms();
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
                conn_release(c);
                continue;
            }
        }
        if (c->state == CONN_READING && !c->cut &&
            ((c->phase == SCAN_HEAD && now >= c->header_deadline) ||
             now >= c->request_deadline)) {
            conn_shutdown(c);
            c->cut = true;
        }
    }
}

/*
 * The scan of request heads.
 */

/* Whether LINE (LEN bytes) is the header NAME, and if so where its value
 * starts, blanks skipped. */
static const char *header_value(const char *line, size_t len, const char *name)
{
    size_t n = strlen(name);
    const char *v;

    if (len <= n || strncasecmp(line, name, n) != 0 || line[n] != ':')
        return NULL;
    v = line + n + 1;
    while (*v == ' ' || *v == '\t')
        v++;
    return v;
}

/* One complete header line (NUL-terminated in c->line, CR removed). */
static void scan_header_line(struct http_conn *c)
{
    const char *v;
    size_t len = c->line_len;

    if (!c->seen_request_line) {
        /* evhttp judges the request line. */
        c->seen_request_line = true;
        return;
    }
    while (len > 0 && (c->line[len - 1] == ' ' || c->line[len - 1] == '\t'))
        c->line[--len] = '\0';
    if ((v = header_value(c->line, len, "Content-Length"))) {
        unsigned long long n = 0;
        const char *p = v;
        bool valid = *p != '\0' && !c->line_long;

        for (; valid && *p; p++) {
            if (!isdigit((unsigned char)*p) || n > (~0ULL - 9) / 10)
                valid = false;
            else
                n = n * 10 + (unsigned long long)(*p - '0');
        }
        /* One unreadable value is evhttp's to refuse; two values that
         * differ, or a second one either of which we cannot read, are
         * ours: evhttp would use the first and leave the rest of the body
         * to be read as the next request. */
        if (++c->n_lengths > 1 &&
            (!valid || c->length_invalid || (c->have_length && n != c->length)))
            c->length_conflict = true;
        if (!valid)
            c->length_invalid = true;
        else if (!c->have_length) {
            c->have_length = true;
            c->length = n;
        }
    } else if ((v = header_value(c->line, len, "Expect"))) {
        if (strcasecmp(v, "100-continue") == 0)
            c->expect_continue = true;
    }
}

static void scan_reset(struct http_conn *c)
{
    c->phase = SCAN_HEAD;
    c->head_bytes = 0;
    c->seen_request_line = false;
    c->n_lengths = 0;
    c->have_length = false;
    c->length_invalid = false;
    c->length_conflict = false;
    c->expect_continue = false;
    c->length = 0;
    c->line_len = 0;
    c->line_long = false;
}

/* Refuse the request being read on C with CODE: drop what evhttp has not
 * parsed and give it a line it cannot parse, so it fails the request now
 * and writes its error page, which the fix-up turns into ours. */
static void scan_refuse(struct http_conn *c, struct evbuffer *in, int code,
                        const char *reason, const char *message)
{
    c->phase = SCAN_FAILED;
    c->refuse_code = code;
    c->refuse_reason = reason;
    c->refuse_message = message;
    c->in_fixup = true;
    evbuffer_drain(in, evbuffer_get_length(in));
    /* A socket bufferevent keeps its input's end frozen against anyone
     * but itself adding, between its reads (an OpenSSL one does not): it
     * is ours for this one line, and then frozen again. */
    if (evbuffer_add(in, "\x01\r\n", 3) < 0) {
        evbuffer_unfreeze(in, 0);
        evbuffer_add(in, "\x01\r\n", 3);
        evbuffer_freeze(in, 0);
    }
    c->in_fixup = false;
}

/* The head is complete: check what only the whole of it tells. */
static void scan_head_done(struct http_conn *c, struct evbuffer *in)
{
    c->phase = SCAN_BODY;
    if (c->length_conflict)
        scan_refuse(c, in, 400, "BadRequest",
                    "conflicting Content-Length headers");
    else if (c->expect_continue && c->have_length &&
             c->length > c->srv->opts.max_body_bytes)
        scan_refuse(c, in, 413, "RequestEntityTooLarge",
                    "the request body is too large");
}

/* Scan LEN new bytes at P of C's current head; stops at its end.  Returns
 * false once the scan is no longer in the head. */
static bool scan_bytes(struct http_conn *c, struct evbuffer *in, const char *p,
                       size_t len)
{
    for (size_t i = 0; i < len && c->phase == SCAN_HEAD; i++) {
        char ch = p[i];

        if (++c->head_bytes > c->srv->opts.max_headers_bytes) {
            scan_refuse(c, in, 431, "RequestHeaderFieldsTooLarge",
                        "the request headers are too large");
            break;
        }
        if (ch != '\n') {
            if (c->line_len < SCAN_LINE_MAX - 1)
                c->line[c->line_len++] = ch;
            else
                c->line_long = true;
            continue;
        }
        if (c->line_len > 0 && c->line[c->line_len - 1] == '\r')
            c->line_len--;
        c->line[c->line_len] = '\0';
        if (c->line_len == 0 && !c->line_long && c->seen_request_line)
            scan_head_done(c, in);
        else
            scan_header_line(c);
        c->line_len = 0;
        c->line_long = false;
    }
    return c->phase == SCAN_HEAD;
}

/* Scan the bytes of IN from OFFSET on. */
static void scan_from(struct http_conn *c, struct evbuffer *in, size_t offset)
{
    struct evbuffer_ptr pos;
    struct evbuffer_iovec iov[8];
    size_t len = evbuffer_get_length(in);

    while (offset < len && c->phase == SCAN_HEAD) {
        int n;
        if (evbuffer_ptr_set(in, &pos, offset, EVBUFFER_PTR_SET) < 0)
            return;
        n = evbuffer_peek(in, (ev_ssize_t)(len - offset), &pos, iov, 8);
        for (int i = 0; i < n && i < 8; i++) {
            size_t l = iov[i].iov_len;
            if (offset + l > len)
                l = len - offset;
            offset += l;
            if (!scan_bytes(c, in, iov[i].iov_base, l))
                return;
        }
    }
}

static void conn_input_cb(struct evbuffer *in, const struct evbuffer_cb_info *i,
                          void *arg)
{
    struct http_conn *c = arg;

    if (c->in_fixup)
        return;
    if (c->phase == SCAN_FAILED) {
        /* Whatever else the client sends is not parsed. */
        if (i->n_added) {
            c->in_fixup = true;
            evbuffer_drain(in, evbuffer_get_length(in));
            c->in_fixup = false;
        }
        return;
    }
    if (i->n_added && c->phase == SCAN_HEAD)
        scan_from(c, in, i->orig_size);
}

/*
 * evhttp's own error pages, made Status objects.
 */

static const char *error_reason(int code)
{
    switch (code) {
    case 400:
        return "BadRequest";
    case 408:
        return "Timeout";
    case 413:
        return "RequestEntityTooLarge";
    case 417:
        return "ExpectationFailed";
    case 431:
        return "RequestHeaderFieldsTooLarge";
    case 501:
        return "NotImplemented";
    case 503:
        return "ServiceUnavailable";
    default:
        return code >= 500 ? "InternalError" : "BadRequest";
    }
}

static const char *error_message(int code)
{
    switch (code) {
    case 413:
        return "the request body is too large";
    case 417:
        return "only 'Expect: 100-continue' is supported";
    case 501:
        return "the request method is not implemented";
    default:
        return code >= 500 ? "the server cannot answer this request"
                           : "malformed request";
    }
}

static const char *date_now(struct http_server *srv);

/* Write a whole reply with a Status body to OUT (the connection closes
 * after it). */
static void add_status_reply(struct http_server *srv, struct evbuffer *out,
                             const char *version, int code, const char *reason,
                             const char *message)
{
    char body[512];
    int n = snprintf(body, sizeof(body),
                     "{\"kind\":\"Status\",\"apiVersion\":\"v1\","
                     "\"metadata\":{},\"status\":\"Failure\","
                     "\"message\":\"%s\",\"reason\":\"%s\",\"code\":%d}",
                     message, reason, code);

    evbuffer_add_printf(out,
                        "%s %d %s\r\nContent-Type: application/json\r\n"
                        "Connection: close\r\nDate: %s\r\n"
                        "Content-Length: %d\r\n\r\n%s",
                        version, code, http_status_phrase(code), date_now(srv),
                        n, body);
}

/* Length of the "HTTP/1.x 100 Continue" reply in OUT at OFFSET, or 0.
 * OUT's front must not be frozen. */
static size_t continue_len(struct evbuffer *out, size_t offset)
{
    char head[13];
    struct evbuffer_ptr pos, end;

    if (evbuffer_ptr_set(out, &pos, offset, EVBUFFER_PTR_SET) < 0 ||
        evbuffer_copyout_from(out, &pos, head, 12) != 12)
        return 0;
    head[12] = '\0';
    if (strncmp(head, "HTTP/1.", 7) != 0 || strncmp(head + 8, " 100", 4) != 0)
        return 0;
    end = evbuffer_search(out, "\r\n\r\n", 4, &pos);
    if (end.pos < 0)
        return 0;
    return (size_t)end.pos + 4 - offset;
}

static void fixup_cb(evutil_socket_t fd, short what, void *arg)
{
    struct http_conn *c = arg;
    struct evbuffer *out = bufferevent_get_output(c->bev);
    struct evbuffer_ptr pos;
    size_t keep = 0, n;
    char head[13], version[9];
    struct evbuffer *tmp = NULL;
    bool frozen;
    int code;
    (void)fd;
    (void)what;

    /* evhttp's replies are complete by now: it writes a reply in one go
     * and the socket is written only after the loop polls again.  A
     * socket bufferevent keeps the front of its output frozen against
     * anyone but itself draining (or even copying) it, between its writes
     * (an OpenSSL one does not); evhttp thaws it the same way to drop a
     * reply it cannot send.  Copying fails only when it is frozen. */
    if (evbuffer_get_length(out) == 0)
        return;
    frozen = evbuffer_copyout(out, head, 1) < 0;
    if (frozen)
        evbuffer_unfreeze(out, 1);
    c->in_fixup = true;
    while ((n = continue_len(out, keep)) > 0)
        keep += n;
    if (evbuffer_ptr_set(out, &pos, keep, EVBUFFER_PTR_SET) < 0 ||
        evbuffer_copyout_from(out, &pos, head, 12) != 12)
        goto out;
    head[12] = '\0';
    code = atoi(head + 9);
    if (strncmp(head, "HTTP/1.", 7) != 0 || code < 400 || code > 599)
        goto out;
    memcpy(version, head, 8);
    version[8] = '\0';
    tmp = evbuffer_new();
    if (!tmp)
        goto out; /* evhttp's page goes out as it is */
    evbuffer_remove_buffer(out, tmp, keep);
    evbuffer_drain(out, evbuffer_get_length(out));
    evbuffer_add_buffer(out, tmp);
    if (c->refuse_code)
        add_status_reply(c->srv, out, version, c->refuse_code, c->refuse_reason,
                         c->refuse_message);
    else
        add_status_reply(c->srv, out, version, code, error_reason(code),
                         error_message(code));
out:
    c->in_fixup = false;
    if (frozen)
        evbuffer_freeze(out, 1);
    if (tmp)
        evbuffer_free(tmp); /* not NULL-safe */
}

static void conn_output_cb(struct evbuffer *out,
                           const struct evbuffer_cb_info *i, void *arg)
{
    struct http_conn *c = arg;
    (void)out;

    /* Our handlers' replies are written in the other states. */
    if (c->in_fixup || c->state != CONN_READING || !i->n_added)
        return;
    if (!c->fixup) {
        c->fixup = event_new(c->srv->base, -1, 0, fixup_cb, c);
        if (!c->fixup)
            return;
    }
    event_active(c->fixup, EV_TIMEOUT, 0);
}

/*
 * Accepting.
 */

/* Whether C is between requests with nothing of the next one received,
 * not even what the kernel holds for it unread: a connection accepted in
 * the same turn of the loop as the newcomer has not been read yet. */
static bool conn_is_idle(struct http_conn *c)
{
    evutil_socket_t fd;
    int pending = 0;

    if (c->shed || c->state != CONN_READING || c->phase != SCAN_HEAD ||
        c->head_bytes > 0)
        return false;
    fd = bufferevent_getfd(c->bev);
    return fd < 0 || ioctl(fd, FIONREAD, &pending) < 0 || pending == 0;
}

/* Make room for one more connection if the cap is reached: close the one
 * idle longest.  Returns false when every connection is in a request. */
static bool conns_make_room(struct http_server *srv)
{
    struct http_conn *c;

    if (srv->n_conns - srv->n_shed < (size_t)srv->opts.max_connections)
        return true;
    for (c = srv->conns_tail; c; c = c->prev) {
        if (!conn_is_idle(c))
            continue;
        c->shed = true;
        srv->n_shed++;
        conn_shutdown(c);
        /* To the front, so the next search does not walk over it. */
        conn_list_remove(c);
        conn_list_push_front(c);
        return true;
    }
    return false;
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
    /* When nothing can go, the new connection is served a 503. */
    c->over_cap = !conns_make_room(srv);
    c->srv = srv;
    c->bev = bev;
    c->state = CONN_READING;
    conn_deadlines_reset(c);
    c->in_cb = evbuffer_add_cb(bufferevent_get_input(bev), conn_input_cb, c);
    c->out_cb = evbuffer_add_cb(bufferevent_get_output(bev), conn_output_cb, c);
    bufferevent_incref(bev);
    conn_list_push_front(c);
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
        conn_list_remove(c);
        conn_list_push_front(c);
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

/* Whether URI's path is one of the probes served even beyond the cap. */
static bool is_probe_path(const struct http_server *srv, const char *uri)
{
    size_t len;

    if (!srv->opts.probe_paths || !uri)
        return false;
    len = strcspn(uri, "?#");
    for (const char *const *p = srv->opts.probe_paths; *p; p++)
        if (strlen(*p) == len && strncmp(*p, uri, len) == 0)
            return true;
    return false;
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
        /* evhttp has read this request whole: what is left in the input
         * is the start of the next one. */
        scan_reset(c);
        scan_from(c, bufferevent_get_input(c->bev), 0);
    }
    if (c && c->over_cap && !is_probe_path(srv, uri)) {
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
    /* The scan refuses heads over the limit with a 431; evhttp's own
     * limit (a 400) is kept out of its way. */
    evhttp_set_max_headers_size(
        srv->evh, (ev_ssize_t)(2 * srv->opts.max_headers_bytes + 4096));
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
    /* evconnlistener listens with a backlog of 128: a burst of connections
     * (a crowd being shed, a restart of many clients) overflows it while
     * the loop is busy, and each SYN dropped costs its client a second.
     * Listening again only raises the queue's length. */
    listen(fd, SOMAXCONN);
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
    srv->opts.header_timeout_s = o->header_timeout_s;
    srv->opts.request_timeout_s = o->request_timeout_s;
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
    return srv->n_conns - srv->n_shed;
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
        conn_release(c);
    }
    if (srv->ssl_ctx)
        SSL_CTX_free(srv->ssl_ctx);
    free(srv);
}
