/*
 * orchestratord: the central daemon.
 *
 * Start-up order (STYLE.md): log to stderr, parse the command line, read and
 * check the configuration, stop there with -n, then bind and serve.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf/conf.h"
#include "log/log.h"
#include "orchestratord/orchd.h"

/* What SIGHUP reloads from: the file and the command line; and the
 * address the server was bound to at start-up, which a reload does not
 * move. */
struct reload_ctx {
    const char *path;
    const struct conf_orchestratord_args *args;
    const char *bound_listen;
};

/* Copy the tokens and limits of CFG into SETTINGS and HTTP. */
static int settings_from_conf(const struct conf_orchestratord *cfg,
                              struct orch_settings *settings,
                              struct http_server_opts *http)
{
    struct orch_settings s = {0};
    const struct conf_limits *l = &cfg->limits;

    s.tokens = calloc(cfg->n_tokens ? cfg->n_tokens : 1, sizeof(*s.tokens));
    if (!s.tokens)
        return -ENOMEM;
    for (size_t i = 0; i < cfg->n_tokens; i++) {
        s.tokens[i].name = strdup(cfg->tokens[i].name);
        s.tokens[i].token = strdup(cfg->tokens[i].token);
        s.tokens[i].role =
            cfg->tokens[i].role == CONF_ROLE_ADMIN  ? ORCH_ROLE_ADMIN
            : cfg->tokens[i].role == CONF_ROLE_NODE ? ORCH_ROLE_NODE
                                                    : ORCH_ROLE_VIEWER;
        s.n_tokens++;
        if (!s.tokens[i].name || !s.tokens[i].token) {
            orch_settings_clear(&s);
            return -ENOMEM;
        }
    }
    api_limits_default(&s.api_limits);
    s.api_limits.max_body_bytes = (size_t)l->max_body_bytes;
    s.api_limits.max_depth = (size_t)l->max_depth;
    s.api_limits.max_string_bytes = (size_t)l->max_string_bytes;
    s.api_limits.max_items = (size_t)l->max_items;
    s.max_list_limit = (size_t)l->max_list_limit;
    s.max_watchers = (size_t)l->max_watchers;
    s.live_migration = cfg->feature_gates.live_migration;
    s.node_grace_s = cfg->node_monitor_grace_period_s;
    {
        const struct conf_migrations *m = &cfg->migrations;
        struct orch_migration_settings *o = &s.migrations;

        o->bandwidth_bytes = (int64_t)m->bandwidth_per_migration.bytes;
        o->completion_timeout_per_gib = m->completion_timeout_per_gib;
        o->progress_timeout = m->progress_timeout;
        o->parallel_migrations_per_cluster = m->parallel_migrations_per_cluster;
        o->parallel_outbound_migrations_per_node =
            m->parallel_outbound_migrations_per_node;
        o->max_downtime_ms = m->max_downtime_ms;
        o->allow_auto_converge = m->allow_auto_converge;
        o->allow_post_copy = m->allow_post_copy;
        o->allow_workload_disruption = m->allow_workload_disruption;
        o->disable_tls = m->disable_tls;
        o->unsafe_migration_override = m->unsafe_migration_override;
        o->outcome_timeout_s = m->outcome_timeout_s;
        if (m->bandwidth_per_migration.text &&
            !(o->bandwidth_per_migration =
                  strdup(m->bandwidth_per_migration.text))) {
            orch_settings_clear(&s);
            return -ENOMEM;
        }
    }
    if ((cfg->agent_token && !(s.agent_token = strdup(cfg->agent_token))) ||
        (cfg->agent_cacert && !(s.agent_cacert = strdup(cfg->agent_cacert)))) {
        orch_settings_clear(&s);
        return -ENOMEM;
    }

    memset(http, 0, sizeof(*http));
    /* evhttp refuses bodies beyond twice the limit on its own (a bare 413);
     * the handlers answer those up to it with a Status. */
    http->max_body_bytes = 2 * (size_t)l->max_body_bytes + 4096;
    http->max_connections = l->max_connections;
    http->idle_timeout_s = l->request_timeout_s;
    http->header_timeout_s = l->header_timeout_s;
    http->request_timeout_s = l->request_timeout_s;

    orch_settings_clear(settings);
    *settings = s;
    return 0;
}

static int reload(struct orch_settings *settings, struct http_server_opts *http,
                  void *arg)
{
    struct reload_ctx *ctx = arg;
    struct conf_orchestratord cfg = {0};
    char err[1024];
    int r;

    r = conf_orchestratord_init(&cfg);
    if (r == 0)
        r = conf_orchestratord_load_file(&cfg, ctx->path, err, sizeof(err));
    if (r == 0)
        r = conf_orchestratord_args_apply(&cfg, ctx->args);
    /* The rules across keys (no tokens: loopback only) hold for the
     * socket as it is, not for where the file would put it on the next
     * start; serve.c checks the socket itself as well. */
    if (r == 0 && strcmp(cfg.listen, ctx->bound_listen) != 0) {
        char *bound = strdup(ctx->bound_listen);
        if (!bound) {
            r = -ENOMEM;
        } else {
            log_warn("SIGHUP: 'listen' changed to '%s'; it takes a restart, "
                     "serving on '%s' meanwhile",
                     cfg.listen, bound);
            free(cfg.listen);
            cfg.listen = bound;
        }
    }
    if (r == 0 && (r = conf_orchestratord_check(&cfg, err, sizeof(err))) < 0)
        log_error("%s", err);
    else if (r < 0)
        log_error("%s", r == -ENOMEM ? "out of memory" : err);
    if (r == 0)
        r = settings_from_conf(&cfg, settings, http);
    if (r == 0)
        log_set_level(cfg.log_level);
    conf_orchestratord_clear(&cfg);
    return r;
}

int main(int argc, char **argv)
{
    struct conf_orchestratord_args args;
    struct conf_orchestratord cfg = {0};
    struct orch_server srv = {0};
    struct orch_serve_opts so = {0};
    struct reload_ctx rctx = {0};
    struct conf_addr addr;
    struct store *st = NULL;
    const char *path;
    char err[1024];
    int status = 1;
    int r;

    log_init("orchestratord", LOG_LEVEL_INFO);
    if (conf_orchestratord_args_parse(&args, argc, argv, err, sizeof(err)) <
        0) {
        log_error("%s", err);
        fprintf(stderr, "try 'orchestratord -h'\n");
        return 2;
    }
    if (args.help) {
        fputs(conf_orchestratord_usage, stdout);
        return 0;
    }
    if (conf_orchestratord_init(&cfg) < 0) {
        log_error("configuration: %s", "out of memory");
        goto out;
    }
    path = args.config_path ? args.config_path : CONF_ORCHESTRATORD_PATH;
    r = conf_orchestratord_load_file(&cfg, path, err, sizeof(err));
    if (r == -ENOENT && !args.config_path) {
        /* No file in the default place: run on defaults. */
        path = NULL;
    } else if (r < 0) {
        log_error("%s", err);
        goto out;
    }
    if (conf_orchestratord_args_apply(&cfg, &args) < 0) {
        log_error("configuration: %s", "out of memory");
        goto out;
    }
    if (conf_orchestratord_check(&cfg, err, sizeof(err)) < 0) {
        log_error("%s", err);
        goto out;
    }
    log_set_level(cfg.log_level);
    if (args.check_only) {
        printf("orchestratord: configuration ok\n");
        status = 0;
        goto out;
    }
    if (!path)
        log_info("no '%s', using the defaults", CONF_ORCHESTRATORD_PATH);

    r = store_open(cfg.database, NULL, &st, err, sizeof(err));
    if (r < 0) {
        log_error("database '%s': %s", cfg.database, err);
        goto out;
    }
    orch_server_init(&srv, st);
    rctx.path = path;
    rctx.args = &args;
    rctx.bound_listen = cfg.listen;
    if (settings_from_conf(&cfg, &srv.settings, &so.http) < 0 ||
        conf_addr_parse(cfg.listen, &addr) < 0) {
        log_error("configuration: cannot use 'listen' or out of memory");
        goto out;
    }
    so.listen_host = addr.host;
    so.listen_port = addr.port;
    so.tls_certificate = cfg.tls.certificate;
    so.tls_key = cfg.tls.key;
    /* Running on defaults, there is no file to read again. */
    so.reload = path ? reload : NULL;
    so.reload_arg = &rctx;
    if (orch_serve(&srv, &so) == 0)
        status = 0;
out:
    orch_server_release(&srv);
    store_close(st);
    conf_orchestratord_clear(&cfg);
    return status;
}
