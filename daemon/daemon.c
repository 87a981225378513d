/*
 * daemon: the serve skeleton (see daemon.h).
 */
#include "daemon/daemon.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#define DRAIN_GRACE_DEFAULT_S 10
/* The drain looks at the requests in flight this often. */
#define DRAIN_TICK_MS 100

struct daemon_ctx {
    const struct daemon_opts *opts;
    struct event_base *base;
    struct http_server *http;
    struct event *drain_timer;
    int drain_ticks;
    int drain_max_ticks;
    size_t abandoned;
    bool stopping;
};

struct event_base *daemon_ctx_base(const struct daemon_ctx *d)
{
    return d->base;
}

struct http_server *daemon_ctx_http(const struct daemon_ctx *d)
{
    return d->http;
}

bool daemon_ctx_stopping(const struct daemon_ctx *d)
{
    return d->stopping;
}

int daemon_notify(const char *state)
{
    const char *path = getenv("NOTIFY_SOCKET");
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    socklen_t salen;
    size_t len;
    ssize_t n;
    int fd;
    int r = 1;

    if (!path || !*path)
        return 0;
    len = strlen(path);
    if ((path[0] != '/' && path[0] != '@') || len >= sizeof(sa.sun_path))
        return -EINVAL;
    memcpy(sa.sun_path, path, len);
    /* "@name": the abstract namespace, whose names start with a NUL and
     * are as long as the address length says (no terminating NUL). */
    if (path[0] == '@')
        sa.sun_path[0] = '\0';
    salen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len +
                        (path[0] == '/' ? 1 : 0));
    fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    n = sendto(fd, state, strlen(state), MSG_NOSIGNAL, (struct sockaddr *)&sa,
               salen);
    if (n < 0)
        r = -errno;
    close(fd);
    return r;
}

static void drain_cb(evutil_socket_t fd, short what, void *arg)
{
    struct daemon_ctx *d = arg;
    size_t left = http_server_requests_in_flight(d->http);
    (void)fd;
    (void)what;

    d->drain_ticks++;
    if (left == 0 || d->drain_ticks > d->drain_max_ticks) {
        d->abandoned = left;
        event_base_loopexit(d->base, NULL);
    }
}

static void term_cb(evutil_socket_t sig, short what, void *arg)
{
    struct daemon_ctx *d = arg;
    struct timeval tick = {0, DRAIN_TICK_MS * 1000};
    (void)what;

    if (d->stopping)
        return;
    d->stopping = true;
    /* Best effort, as everything told to the service manager: a daemon
     * that cannot say it stops still stops. */
    (void)daemon_notify("STOPPING=1");
    http_server_stop_accepting(d->http);
    if (d->opts->hooks.stop)
        d->opts->hooks.stop(d, (int)sig, d->opts->hooks.arg);
    d->drain_timer = event_new(d->base, -1, EV_PERSIST, drain_cb, d);
    if (!d->drain_timer || event_add(d->drain_timer, &tick) < 0)
        event_base_loopexit(d->base, NULL);
}

static void hup_cb(evutil_socket_t sig, short what, void *arg)
{
    struct daemon_ctx *d = arg;
    struct timespec now;
    char msg[64];
    (void)sig;
    (void)what;

    if (!d->opts->hooks.reload)
        return;
    /* MONOTONIC_USEC lets a Type=notify-reload manager (systemd 253 and
     * later) match this reload to its signal; older ones ignore it. */
    clock_gettime(CLOCK_MONOTONIC, &now);
    snprintf(msg, sizeof(msg), "RELOADING=1\nMONOTONIC_USEC=%lld",
             (long long)now.tv_sec * 1000000LL + now.tv_nsec / 1000);
    (void)daemon_notify(msg);
    d->opts->hooks.reload(d, d->opts->hooks.arg);
    (void)daemon_notify("READY=1");
}

/* A loop whose changelist folds the epoll_ctl calls of one turn into one
 * per socket: evhttp switches every connection between reading and writing
 * for each request, which otherwise costs four syscalls. */
static struct event_base *base_new(void)
{
    struct event_config *cfg = event_config_new();
    struct event_base *base = NULL;

    if (!cfg)
        return NULL;
    event_config_set_flag(cfg, EVENT_BASE_FLAG_EPOLL_USE_CHANGELIST);
    base = event_base_new_with_config(cfg);
    event_config_free(cfg);
    return base;
}

int daemon_serve(const struct daemon_opts *o, struct daemon_report *ret_report,
                 char *errbuf, size_t errlen)
{
    static const int sigs[] = {SIGTERM, SIGINT, SIGHUP};
    struct event *ev_sig[sizeof(sigs) / sizeof(*sigs)] = {NULL};
    struct daemon_ctx d = {.opts = o};
    int grace = o->drain_grace_s > 0 ? o->drain_grace_s : DRAIN_GRACE_DEFAULT_S;
    uint16_t port = 0;
    int r;

    if (errlen)
        errbuf[0] = '\0';
    d.drain_max_ticks = grace * (1000 / DRAIN_TICK_MS);
    signal(SIGPIPE, SIG_IGN);
    d.base = base_new();
    if (!d.base) {
        snprintf(errbuf, errlen, "cannot create the event loop");
        return -ENOMEM;
    }
    r = http_server_new(d.base, &o->http, o->handler, o->handler_arg, &d.http,
                        errbuf, errlen);
    if (r < 0)
        goto out;
    r = http_server_bind(d.http, o->listen_host, o->listen_port, &port);
    if (r < 0) {
        snprintf(errbuf, errlen, "cannot listen on '%s%s%s:%u': %s",
                 strchr(o->listen_host, ':') ? "[" : "", o->listen_host,
                 strchr(o->listen_host, ':') ? "]" : "",
                 (unsigned)o->listen_port, strerror(-r));
        goto out;
    }
    for (size_t i = 0; i < sizeof(sigs) / sizeof(*sigs); i++) {
        ev_sig[i] = evsignal_new(d.base, sigs[i],
                                 sigs[i] == SIGHUP ? hup_cb : term_cb, &d);
        if (!ev_sig[i] || evsignal_add(ev_sig[i], NULL) < 0) {
            snprintf(errbuf, errlen, "cannot install the signal handlers");
            r = -ENOMEM;
            goto out;
        }
    }
    if (o->hooks.start) {
        r = o->hooks.start(&d, port, o->hooks.arg);
        if (r < 0)
            goto out;
    }
    /* Bound, configured and started: what systemd's Type=notify waits for
     * before it starts the units ordered after this one. */
    (void)daemon_notify("READY=1\nSTATUS=serving");
    event_base_dispatch(d.base);
    if (o->hooks.stopped)
        o->hooks.stopped(&d, o->hooks.arg);
    if (ret_report)
        ret_report->abandoned = d.abandoned;
    r = 0;
out:
    for (size_t i = 0; i < sizeof(sigs) / sizeof(*sigs); i++)
        if (ev_sig[i])
            event_free(ev_sig[i]);
    if (d.drain_timer)
        event_free(d.drain_timer);
    http_server_free(d.http);
    event_base_free(d.base);
    return r;
}
