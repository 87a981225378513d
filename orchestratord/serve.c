/*
 * orchestratord: the event loop around the HTTP server.  Signals are loop
 * events (STYLE.md rule 6): SIGTERM/SIGINT stop accepting, end the watches,
 * let the replies in flight go out and leave the loop; SIGHUP reloads
 * tokens and limits.
 */
#include "orchestratord/orchd.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include <event2/event.h>

#include "log/log.h"
#include "orchestratord/hosts.h"

#define DRAIN_GRACE_S 10

struct serve_state {
    struct orch_server *srv;
    const struct orch_serve_opts *opts;
    struct http_server_opts http_opts;
    struct event *drain_timer;
    int drain_ticks;
};

static void drain_cb(evutil_socket_t fd, short what, void *arg)
{
    struct serve_state *s = arg;
    (void)fd;
    (void)what;
    s->drain_ticks++;
    if (http_server_requests_in_flight(s->srv->http) == 0 ||
        s->drain_ticks > DRAIN_GRACE_S * 10) {
        if (s->drain_ticks > DRAIN_GRACE_S * 10)
            log_warn("%zu requests still in flight after %d s, leaving",
                     http_server_requests_in_flight(s->srv->http),
                     DRAIN_GRACE_S);
        event_base_loopexit(s->srv->base, NULL);
    }
}

static void term_cb(evutil_socket_t sig, short what, void *arg)
{
    struct serve_state *s = arg;
    struct timeval tick = {0, 100 * 1000};
    (void)what;

    if (s->srv->shutting_down)
        return;
    log_info("%s received, finishing requests in flight",
             sig == SIGINT ? "SIGINT" : "SIGTERM");
    s->srv->shutting_down = true;
    http_server_stop_accepting(s->srv->http);
    orch_watch_end_all(s->srv);
    s->drain_timer = event_new(s->srv->base, -1, EV_PERSIST, drain_cb, s);
    if (!s->drain_timer || event_add(s->drain_timer, &tick) < 0)
        event_base_loopexit(s->srv->base, NULL);
}

static void hup_cb(evutil_socket_t sig, short what, void *arg)
{
    struct serve_state *s = arg;
    struct http_server_opts http = s->http_opts;
    int r;
    (void)sig;
    (void)what;

    if (!s->opts->reload) {
        log_info("SIGHUP received, nothing to reload");
        return;
    }
    r = s->opts->reload(&s->srv->settings, &http, s->opts->reload_arg);
    if (r < 0) {
        log_error("SIGHUP: reload failed, keeping the old tokens and limits");
        return;
    }
    s->http_opts = http;
    http_server_set_limits(s->srv->http, &http);
    log_info("SIGHUP: reloaded %zu tokens and the limits",
             s->srv->settings.n_tokens);
}

int orch_serve(struct orch_server *srv, const struct orch_serve_opts *o)
{
    struct serve_state s = {.srv = srv, .opts = o, .http_opts = o->http};
    struct event_config *cfg;
    struct event_base *base = NULL;
    struct event *ev_term = NULL, *ev_int = NULL, *ev_hup = NULL;
    char err[512] = "";
    uint16_t port = 0;
    int r;

    s.http_opts.tls_certificate = o->tls_certificate;
    s.http_opts.tls_key = o->tls_key;
    signal(SIGPIPE, SIG_IGN);
    /* The changelist folds the epoll_ctl calls of one loop turn into one
     * per socket: evhttp switches every connection between reading and
     * writing for each request, which otherwise costs four syscalls. */
    cfg = event_config_new();
    if (cfg) {
        event_config_set_flag(cfg, EVENT_BASE_FLAG_EPOLL_USE_CHANGELIST);
        base = event_base_new_with_config(cfg);
        event_config_free(cfg);
    }
    if (!base) {
        log_error("cannot create the event loop");
        return -ENOMEM;
    }
    srv->base = base;
    r = http_server_new(base, &s.http_opts, orch_handle, srv, &srv->http, err,
                        sizeof(err));
    if (r < 0) {
        log_error("cannot start the HTTP server: %s", err);
        goto out;
    }
    r = http_server_bind(srv->http, o->listen_host, o->listen_port, &port);
    if (r < 0) {
        log_error("cannot listen on '%s:%u': %s", o->listen_host,
                  (unsigned)o->listen_port, strerror(-r));
        goto out;
    }
    ev_term = evsignal_new(base, SIGTERM, term_cb, &s);
    ev_int = evsignal_new(base, SIGINT, term_cb, &s);
    ev_hup = evsignal_new(base, SIGHUP, hup_cb, &s);
    if (!ev_term || !ev_int || !ev_hup || evsignal_add(ev_term, NULL) < 0 ||
        evsignal_add(ev_int, NULL) < 0 || evsignal_add(ev_hup, NULL) < 0) {
        log_error("cannot install the signal handlers");
        r = -ENOMEM;
        goto out;
    }
    r = orch_hosts_start(srv);
    if (r < 0) {
        log_error("cannot start the node monitor: %s", strerror(-r));
        goto out;
    }
    log_info("serving %s on %s:%u", o->tls_certificate ? "HTTPS" : "HTTP",
             o->listen_host, (unsigned)port);
    if (o->on_listening)
        o->on_listening(port, o->reload_arg);
    event_base_dispatch(base);
    log_info("stopped");
    r = 0;
out:
    orch_watch_end_all(srv);
    orch_hosts_stop(srv);
    if (s.drain_timer)
        event_free(s.drain_timer);
    if (ev_term)
        event_free(ev_term);
    if (ev_int)
        event_free(ev_int);
    if (ev_hup)
        event_free(ev_hup);
    http_server_free(srv->http);
    srv->http = NULL;
    srv->base = NULL;
    event_base_free(base);
    return r;
}
