/*
 * daemon: the skeleton both daemons (orchestratord, migrator) serve from.
 *
 * The order is fixed (STYLE.md, after OpenBSD httpd): main() has logged to
 * stderr, parsed and checked its configuration; daemon_serve() then makes
 * the event loop, starts the HTTP server (http/http.h) and binds it, calls
 * the daemon's start hook, and runs the loop.  Signals are loop events,
 * never work done in a signal handler: SIGTERM and SIGINT stop accepting,
 * call the stop hook (end watches, wake workers) and leave the loop once the
 * replies in flight have gone out or the grace period is over; SIGHUP calls
 * the reload hook.  SIGPIPE is ignored: a client that goes away is a failed
 * write, not a dead daemon.
 *
 * Under systemd (Type=notify) the service manager is told READY=1 once the
 * start hook has succeeded, STOPPING=1 on SIGTERM/SIGINT and RELOADING=1,
 * then READY=1, around the reload hook (daemon_notify()).
 *
 * Nothing here logs: what happened is reported through the hooks and the
 * return value, and the daemon's own code (main or its serve function) says
 * it in its words.
 *
 * Threads: daemon_serve() runs on the calling thread (main's) and so does
 * every hook.  One daemon_serve() at a time per process (signals are
 * process-wide).
 */
#ifndef ORCH_DAEMON_H
#define ORCH_DAEMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "http/http.h"

struct event_base;

/* The running daemon, handed to the hooks.  Valid from the start hook
 * until daemon_serve() returns. */
struct daemon_ctx;

/* The loop and the HTTP server of a running daemon (borrowed). */
struct event_base *daemon_ctx_base(const struct daemon_ctx *d);
struct http_server *daemon_ctx_http(const struct daemon_ctx *d);

/* Whether SIGTERM/SIGINT has arrived: the daemon is draining. */
bool daemon_ctx_stopping(const struct daemon_ctx *d);

struct daemon_hooks {
    /* After the bind, before the loop runs: PORT is the bound port (the
     * configuration may say 0).  Start workers, announce the address.
     * Returns 0, or a negative errno to give up (daemon_serve() then
     * returns it).  May be NULL. */
    int (*start)(struct daemon_ctx *d, uint16_t port, void *arg);
    /* SIGTERM (SIG is SIGTERM) or SIGINT arrived; the server has stopped
     * accepting.  End what would keep a connection busy for ever
     * (watches).  Called once.  May be NULL. */
    void (*stop)(struct daemon_ctx *d, int sig, void *arg);
    /* SIGHUP arrived.  May be NULL (then SIGHUP does nothing). */
    void (*reload)(struct daemon_ctx *d, void *arg);
    /* The loop has ended; the server still exists and is freed right
     * after this returns, closing every connection.  May be NULL. */
    void (*stopped)(struct daemon_ctx *d, void *arg);
    void *arg;
};

struct daemon_opts {
    const char *listen_host; /* IPv4 or IPv6 literal */
    uint16_t listen_port;    /* 0: any free port */
    /* The server's limits and TLS files (borrowed for the call). */
    struct http_server_opts http;
    http_handler_fn handler;
    void *handler_arg;
    /* How long replies in flight may take after SIGTERM; 0 = 10 s. */
    int drain_grace_s;
    struct daemon_hooks hooks;
};

/* What daemon_serve() saw on the way out. */
struct daemon_report {
    /* Requests still in flight when the grace period ran out (0 after a
     * clean drain). */
    size_t abandoned;
};

/*
 * Tell the service manager STATE ("READY=1", "STOPPING=1", "RELOADING=1",
 * "STATUS=..."; several assignments separated by newlines) through the
 * datagram socket named by $NOTIFY_SOCKET, as sd_notify(3) does: a path, or
 * "@name" for the abstract namespace.  The protocol is systemd's documented
 * stable interface, written here in a few lines rather than linking
 * libsystemd for one call.  Returns 1 when sent, 0 when NOTIFY_SOCKET is not
 * set (not under systemd, or Type= is not notify), -EINVAL for a value that
 * is neither an absolute path nor "@..." or too long, or the errno of
 * socket(2)/sendto(2).  Any thread.
 */
int daemon_notify(const char *state);

/*
 * Serve until SIGTERM or SIGINT and the drain that follows.  Returns 0
 * after a stop (*ret_report, may be NULL, says how it went), or a negative
 * errno when the daemon could not start, with a one-line message in ERRBUF:
 * -ENOMEM, -EINVAL (TLS files unusable), the bind's errno (-EADDRINUSE,
 * -EACCES, -EADDRNOTAVAIL...), or what the start hook returned (then ERRBUF
 * is empty: the hook said why).  The HTTP server is freed before it
 * returns.
 */
int daemon_serve(const struct daemon_opts *o, struct daemon_report *ret_report,
                 char *errbuf, size_t errlen);

#endif
