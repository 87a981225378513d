/*
 * http: the HTTP server glue, the only place that uses libevent's evhttp and
 * OpenSSL bufferevents.
 *
 * It turns each evhttp request into a plain struct http_request (method,
 * decoded path segments, decoded query parameters, the few headers the API
 * needs, the body) and hands it to one handler function that fills a struct
 * http_response.  Handlers therefore never see evhttp and are testable
 * without sockets.  A handler that wants to stream (a watch) sets
 * response.stream_start; the glue then starts a chunked reply and gives the
 * callback a struct http_stream to write lines into.
 *
 * The glue also enforces the transport limits: body and header sizes,
 * inactivity timeouts, deadlines for a request's headers and for the whole
 * of it (so headers or a body trickled in byte by byte time out), and a
 * connection cap kept at accept (see struct http_server_opts).  Every error
 * it answers itself, and every one evhttp makes, is a Kubernetes Status
 * (application/json) like the handlers' errors: 400 for a malformed request
 * line or header, or two Content-Length headers that differ; 413 for a body
 * over max_body_bytes (at once, before the body, when the client sent
 * "Expect: 100-continue"); 417 for another Expect; 431 for headers over
 * max_headers_bytes; 501 for a method it does not know.
 *
 * The client (http_client_*) makes requests to other servers on the same
 * loop, never blocking it: for orchestratord's calls to the migrators.
 *
 * Threads: everything runs on the event loop thread of the event_base given
 * to http_server_new() or http_client_new().  Nothing here logs.
 */
#ifndef ORCH_HTTP_H
#define ORCH_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct event_base;

enum http_method {
    HTTP_METHOD_GET = 0,
    HTTP_METHOD_HEAD,
    HTTP_METHOD_POST,
    HTTP_METHOD_PUT,
    HTTP_METHOD_DELETE,
    HTTP_METHOD_PATCH,
    HTTP_METHOD_OPTIONS,
    HTTP_METHOD_OTHER,
};

/* "GET", "POST", ...; "OTHER" for HTTP_METHOD_OTHER. */
const char *http_method_name(enum http_method method);

#define HTTP_MAX_SEGMENTS 16
#define HTTP_MAX_PARAMS   32

struct http_param {
    const char *key;
    const char *value; /* "" when the parameter had no '=' */
};

/* A parsed request.  Every pointer is borrowed from the glue (or from the
 * test that built it) and valid for the handler call only. */
struct http_request {
    enum http_method method;
    const char *path;                    /* raw path, for logs */
    const char *segv[HTTP_MAX_SEGMENTS]; /* percent-decoded, no empties */
    size_t segc;
    struct http_param params[HTTP_MAX_PARAMS]; /* percent-decoded */
    size_t n_params;
    const char *content_type;  /* NULL when absent */
    const char *accept;        /* NULL when absent */
    const char *authorization; /* NULL when absent */
    const char *body;          /* NUL-terminated; "" when none */
    size_t body_len;
    const char *peer; /* "ADDR:PORT" of the client */
};

/* The value of query parameter KEY (the first if repeated), or NULL. */
const char *http_request_param(const struct http_request *req, const char *key);

/* Split PATH_AND_QUERY ("/a/b%20c?x=1&y") into REQ's path segments and
 * parameters, percent-decoding them.  The strings are written into BUF (of
 * BUFLEN bytes), which must outlive REQ's use.  Used by the glue and by
 * tests.  Returns 0, -EINVAL (malformed escape, a NUL byte, an empty
 * parameter name) or -E2BIG (too many segments or parameters, or BUF too
 * small). */
int http_request_parse_target(struct http_request *req,
                              const char *path_and_query, char *buf,
                              size_t buflen);

/* The token of REQ's "Authorization: Bearer TOKEN" header (the scheme's
 * name in any case, spaces around the token left out).  Returns 0 with
 * *RET_TOKEN (borrowed from REQ, not NUL-terminated at *RET_LEN) or
 * -ENOKEY when there is no such header or the token is empty. */
int http_request_bearer(const struct http_request *req, const char **ret_token,
                        size_t *ret_len);

/* Whether the GIVEN_LEN bytes at GIVEN equal the NUL-terminated SECRET, in
 * a time that depends on GIVEN_LEN only, not on how much of GIVEN is right
 * (the length of the secret may show; tokens are long and random).  An
 * empty SECRET matches nothing.  The one compare for secrets in the tree. */
bool http_secret_equal(const char *given, size_t given_len, const char *secret);

struct http_stream;

/* Called once, right after the chunked reply has started.  The callee owns
 * the stream from then on (see http_stream_*). */
typedef void (*http_stream_start_fn)(struct http_stream *stream, void *arg);

#define HTTP_MAX_EXTRA_HEADERS 12

/* What a handler answers.  The glue frees body with free(). */
struct http_response {
    int status;               /* 200, 404, ... */
    const char *content_type; /* static string; NULL = no body type */
    char *body;               /* malloc'd, may be NULL */
    size_t body_len;
    /* Extra headers: static names, e.g. {"WWW-Authenticate", "Bearer"};
     * a value is static too, or a copy the response owns (owned[i]). */
    const char *header_names[HTTP_MAX_EXTRA_HEADERS];
    const char *header_values[HTTP_MAX_EXTRA_HEADERS];
    char *owned[HTTP_MAX_EXTRA_HEADERS];
    size_t n_headers;
    /* When set, status and content_type start a chunked reply and
     * stream_start(stream, stream_arg) is called; body is ignored. */
    http_stream_start_fn stream_start;
    void *stream_arg;
};

/* Add a static header to RESP.  Returns 0 or -E2BIG when full. */
int http_response_add_header(struct http_response *resp, const char *name,
                             const char *value);

/* Add a header with a copy of VALUE (built at run time; the caller has
 * made it safe for a header line).  Returns 0, -E2BIG when full or
 * -ENOMEM. */
int http_response_add_header_copy(struct http_response *resp, const char *name,
                                  const char *value);

/* Free RESP's body and forget its status and body, keeping the headers
 * already added (a reply written after them, e.g. Warning headers set
 * while the request was validated). */
void http_response_reset_body(struct http_response *resp);

/* Free what RESP holds and zero it.  NULL-safe. */
void http_response_clear(struct http_response *resp);

/* The standard reason phrase of an HTTP status ("Not Found"). */
const char *http_status_phrase(int status);

/* Handlers: fill RESP for REQ.  Called on the loop thread. */
typedef void (*http_handler_fn)(const struct http_request *req,
                                struct http_response *resp, void *arg);

/*
 * Streams (chunked replies).  The stream's owner writes chunks, learns when
 * they have been sent and when the client went away.
 */

/* Callbacks of a stream.  on_drain: every chunk written so far has been
 * handed to the kernel.  on_close: the connection is gone (client closed, a
 * write failed, or the server is shutting down); the stream is freed right
 * after on_close returns, so the owner must drop its pointer.  Either may be
 * NULL. */
struct http_stream_callbacks {
    void (*on_drain)(void *arg);
    void (*on_close)(void *arg);
    void *arg;
};

void http_stream_set_callbacks(struct http_stream *stream,
                               const struct http_stream_callbacks *cbs);

/* Send LEN bytes as one chunk.  Returns 0, or -EPIPE if the connection is
 * already closed, -ENOMEM. */
int http_stream_write(struct http_stream *stream, const char *buf, size_t len);

/* Bytes queued for the client and not yet sent. */
size_t http_stream_pending(const struct http_stream *stream);

/* End the reply (the final empty chunk) and free the stream; on_close is
 * not called.  NULL-safe. */
void http_stream_end(struct http_stream *stream);

/*
 * The server.
 */

struct http_server_opts {
    size_t max_body_bytes;    /* larger bodies get 413; 0 = 1 MiB */
    size_t max_headers_bytes; /* request line + headers; larger get 431;
                                 0 = 64 KiB */
    /* Open connections; 0 = 1024.  A connection accepted at the cap closes
     * the one idle longest (no byte of a request since it connected or
     * since its last reply); when none is idle, the newcomer's requests
     * get 503, except for probe_paths. */
    int max_connections;
    /* Paths ("/healthz") answered even on a connection beyond the cap, so
     * a crowd of slow clients does not fail a liveness probe; NULL-
     * terminated, borrowed for the server's life (set at creation only).
     * NULL: none. */
    const char *const *probe_paths;
    int idle_timeout_s;    /* inactivity while reading or writing; 0 = 60 */
    int header_timeout_s;  /* a request's headers received within; 0 = 10.
                              The clock starts at the connection or at the
                              end of the previous reply, so it also closes
                              idle kept-alive connections. */
    int request_timeout_s; /* the whole request (body too) within; 0 = 30 */
    const char *tls_certificate; /* PEM file; NULL = plain HTTP */
    const char *tls_key;         /* PEM file, with tls_certificate */
};

struct http_server;

/* Create a server on BASE calling HANDLER for every complete request.
 * With TLS options, the certificate and key are loaded now.  On failure
 * ERRBUF gets a one-line message.  Returns 0, -EINVAL (TLS files unusable),
 * -ENOMEM.  Free with http_server_free(). */
int http_server_new(struct event_base *base, const struct http_server_opts *o,
                    http_handler_fn handler, void *handler_arg,
                    struct http_server **ret_server, char *errbuf,
                    size_t errlen);

/* Listen on HOST (an IPv4 or IPv6 literal) and PORT (0 = any free port).
 * *RET_PORT (may be NULL) gets the bound port.  Returns 0 or a negative
 * errno (-EADDRINUSE, -EACCES, -EINVAL...). */
int http_server_bind(struct http_server *srv, const char *host, uint16_t port,
                     uint16_t *ret_port);

/* Change the size, count and time limits (not TLS) for new requests, e.g.
 * after SIGHUP. */
void http_server_set_limits(struct http_server *srv,
                            const struct http_server_opts *o);

/* Stop accepting connections; established ones go on. */
void http_server_stop_accepting(struct http_server *srv);

/* Number of open connections (those closed to make room not counted), and
 * of requests whose reply has not been completely sent (streams
 * included). */
size_t http_server_connections(const struct http_server *srv);
size_t http_server_requests_in_flight(const struct http_server *srv);

/* Close every connection and free the server.  NULL-safe. */
void http_server_free(struct http_server *srv);

/*
 * The client.  One connection per request (TCP_NODELAY set on it), closed
 * after the reply: calls are rare and small, and a connection kept for a
 * host that went away would cost a timeout of its own.
 */

struct http_client;

struct http_client_opts {
    /* PEM file of the CAs that sign the servers' certificates, for https
     * URLs; NULL: the system's.  The certificate must name the URL's host
     * (its IP address). */
    const char *cacert;
    int timeout_s;         /* connect + request + reply within; 0 = 10 */
    size_t max_body_bytes; /* a longer reply fails; 0 = 1 MiB */
};

/* Make a client on BASE.  Returns 0, -EINVAL (the CA file is unusable;
 * ERRBUF says why) or -ENOMEM.  Free with http_client_free(). */
int http_client_new(struct event_base *base, const struct http_client_opts *o,
                    struct http_client **ret_client, char *errbuf,
                    size_t errlen);

/* Drop every request in flight (their callbacks never come) and free C.
 * NULL-safe; not from inside one of C's callbacks. */
void http_client_free(struct http_client *c);

/* How a request ended.  ERR 0: the server answered STATUS with BODY
 * (BODY_LEN bytes, NUL-terminated, borrowed for the call).  ERR < 0, STATUS
 * 0: -ETIMEDOUT (no complete reply within timeout_s), -ECONNREFUSED (no
 * connection), -ECONNRESET (closed before a reply), -EPROTO (not HTTP, a
 * TLS failure such as a certificate that does not verify), -EMSGSIZE (the
 * reply is over max_body_bytes), -ENOMEM. */
typedef void (*http_client_done_fn)(int err, int status, const char *body,
                                    size_t body_len, void *arg);

struct http_client_request {
    enum http_method method; /* GET, POST, PUT, DELETE */
    /* "http://ADDR:PORT/path?query" or "https://...".  ADDR is an IPv4
     * literal or a bracketed IPv6 literal: names are not resolved, so that
     * nothing blocks the loop. */
    const char *url;
    const char *authorization; /* the header's value; NULL: none */
    const char *content_type;  /* NULL: none */
    const char *body;          /* NULL: none */
    size_t body_len;
};

/* Send R (copied) and call DONE(ARG) once, later, on the loop thread.
 * Returns 0, -EINVAL (a URL the client cannot call) or -ENOMEM (then DONE
 * is never called). */
int http_client_send(struct http_client *c, const struct http_client_request *r,
                     http_client_done_fn done, void *arg);

#endif
