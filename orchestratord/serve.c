/*
 * orchestratord: the daemon around the REST handlers, on the shared
 * skeleton (daemon/daemon.h).  SIGTERM/SIGINT end the watches and let the
 * replies in flight go out; SIGHUP reloads tokens and limits.
 */
#include "orchestratord/orchd.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "daemon/daemon.h"
#include "log/log.h"
#include "orchestratord/controller.h"
#include "orchestratord/events.h"
#include "orchestratord/vms.h"
#include "orchestratord/hosts.h"

#define DRAIN_GRACE_S 10

/* Answered even when every connection is taken (they touch nothing that
 * a crowd could exhaust). */
static const char *const probe_paths[] = {"/healthz", "/livez", "/readyz",
                                          NULL};

struct serve_state {
    struct orch_server *srv;
    const struct orch_serve_opts *opts;
    struct http_server_opts http_opts;
};

/* The controller's phase changes, logged here: it is a daemon part that
 * does not log itself (STYLE.md rule 7), and an operator wants one line
 * per step of a migration.  The uid tells apart two migrations of one
 * name (deleted, created again) in a journal that spans both. */
static void log_phase(const json_t *vmim, const char *phase, const char *reason,
                      void *arg)
{
    /* Each step is an Event too (events.h), as KubeVirt records them. */
    orch_events_vmim_phase(vmim, phase, reason, arg);
    if (reason)
        log_warn("migration '%s/%s' uid %s: %s: %s",
                 api_doc_get_string(vmim, "metadata.namespace"),
                 api_doc_get_string(vmim, "metadata.name"),
                 api_doc_get_string(vmim, "metadata.uid"), phase, reason);
    else
        log_info("migration '%s/%s' uid %s: %s",
                 api_doc_get_string(vmim, "metadata.namespace"),
                 api_doc_get_string(vmim, "metadata.name"),
                 api_doc_get_string(vmim, "metadata.uid"), phase);
}

static int controller_start(struct orch_server *srv)
{
    struct orch_controller_opts co = {.on_phase = log_phase, .arg = srv};
    char err[512] = "";
    int r;

    r = orch_agent_http_new(srv->base, &srv->settings, &co.agent, err,
                            sizeof(err));
    if (r < 0) {
        log_error("cannot start the agent client: %s",
                  err[0] ? err : strerror(-r));
        return r;
    }
    r = orch_controller_start(srv, &co);
    if (r < 0) {
        log_error("cannot start the migration controller: %s", strerror(-r));
        return r;
    }
    /* The VM controller has an agent client of its own: each client's
     * calls are its owner's to drop. */
    {
        struct orch_vms_opts vo = {0};
        r = orch_agent_http_new(srv->base, &srv->settings, &vo.agent, err,
                                sizeof(err));
        if (r == 0)
            r = orch_vms_start(srv, &vo);
        if (r < 0) {
            log_error("cannot start the VM controller: %s",
                      err[0] ? err : strerror(-r));
            orch_controller_stop(srv->controller);
        }
    }
    return r;
}

static int serve_start(struct daemon_ctx *d, uint16_t port, void *arg)
{
    struct serve_state *s = arg;
    const struct orch_serve_opts *o = s->opts;
    int r;

    s->srv->base = daemon_ctx_base(d);
    s->srv->http = daemon_ctx_http(d);
    r = orch_hosts_start(s->srv);
    if (r < 0) {
        log_error("cannot start the node monitor: %s", strerror(-r));
        return r;
    }
    r = controller_start(s->srv);
    if (r < 0) {
        orch_hosts_stop(s->srv);
        return r;
    }
    log_info("serving %s on %s%s%s:%u", o->tls_certificate ? "HTTPS" : "HTTP",
             strchr(o->listen_host, ':') ? "[" : "", o->listen_host,
             strchr(o->listen_host, ':') ? "]" : "", (unsigned)port);
    return 0;
}

static void serve_stop(struct daemon_ctx *d, int sig, void *arg)
{
    struct serve_state *s = arg;
    (void)d;

    log_info("%s received, finishing requests in flight",
             sig == SIGINT ? "SIGINT" : "SIGTERM");
    s->srv->shutting_down = true;
    orch_watch_end_all(s->srv);
}

static void serve_reload(struct daemon_ctx *d, void *arg)
{
    struct serve_state *s = arg;
    struct orch_settings fresh = {0}, old;
    struct http_server_opts http = s->http_opts;
    int r;
    (void)d;

    if (!s->opts->reload) {
        log_info("SIGHUP received, nothing to reload");
        return;
    }
    r = s->opts->reload(&fresh, &http, s->opts->reload_arg);
    if (r < 0) {
        orch_settings_clear(&fresh);
        log_error("SIGHUP: reload failed, keeping the old tokens and limits");
        return;
    }
    old = s->srv->settings;
    s->srv->settings = fresh;
    s->http_opts = http;
    http_server_set_limits(s->srv->http, &http);
    /* What depends on the change goes here, while OLD is still valid:
     * watches opened with a token the reload revoked end now. */
    orch_watch_end_revoked(s->srv);
    orch_settings_clear(&old);
    log_info("SIGHUP: reloaded %zu tokens and the limits",
             s->srv->settings.n_tokens);
}

static void serve_stopped(struct daemon_ctx *d, void *arg)
{
    struct serve_state *s = arg;
    (void)d;

    orch_watch_end_all(s->srv);
    /* Before the loop is freed: its events and the agents' connections
     * live on it.  Migrations in flight go on on the hosts; the next start
     * finds them. */
    orch_controller_stop(s->srv->controller);
    orch_hosts_stop(s->srv);
}

int orch_serve(struct orch_server *srv, const struct orch_serve_opts *o)
{
    struct serve_state s = {.srv = srv, .opts = o, .http_opts = o->http};
    struct daemon_opts d = {
        .listen_host = o->listen_host,
        .listen_port = o->listen_port,
        .handler = orch_handle,
        .handler_arg = srv,
        .drain_grace_s = DRAIN_GRACE_S,
        .hooks =
            {
                .start = serve_start,
                .stop = serve_stop,
                .reload = serve_reload,
                .stopped = serve_stopped,
                .arg = &s,
            },
    };
    struct daemon_report report = {0};
    char err[512] = "";
    int r;

    s.http_opts.tls_certificate = o->tls_certificate;
    s.http_opts.tls_key = o->tls_key;
    s.http_opts.probe_paths = probe_paths;
    d.http = s.http_opts;
    r = daemon_serve(&d, &report, err, sizeof(err));
    srv->http = NULL;
    srv->base = NULL;
    if (r < 0) {
        if (err[0])
            log_error("%s", err);
        return r;
    }
    if (report.abandoned)
        log_warn("%zu requests still in flight after %d s, leaving",
                 report.abandoned, DRAIN_GRACE_S);
    log_info("stopped");
    return 0;
}
