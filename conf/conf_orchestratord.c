/*
 * conf: orchestratord's keys, its token records and its command line.
 */
#include "conf/conf_schema.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define OFF(field) offsetof(struct conf_orchestratord, field)

static int orch_tokens_parse(void *vctx, const void *vset, void *vconf);
static void orch_tokens_free(void *vconf);

/* Every key orchestratord reads.  Bounds: the low ends keep the daemon
 * usable, the high ends catch typos (an extra zero) before they cost
 * memory. */
static const struct conf_key orch_keys[] = {
    {.path = "listen",
     .type = CONF_T_STRING,
     .offset = OFF(listen),
     .def_str = "127.0.0.1:8080",
     .check = conf_check_addr},
    {.path = "database",
     .type = CONF_T_STRING,
     .offset = OFF(database),
     .def_str = "/var/lib/orchestrator/orchestrator.db",
     .check = conf_check_database},
    {.path = "log_level",
     .type = CONF_T_LOG_LEVEL,
     .offset = OFF(log_level),
     .def_int = LOG_LEVEL_INFO},
    {.path = "tls", .type = CONF_T_GROUP},
    {.path = "tls.certificate",
     .type = CONF_T_STRING,
     .offset = OFF(tls.certificate),
     .check = conf_check_abs_path},
    {.path = "tls.key",
     .type = CONF_T_STRING,
     .offset = OFF(tls.key),
     .check = conf_check_abs_path},
    {.path = "tokens",
     .type = CONF_T_RECORDS,
     .parse = orch_tokens_parse,
     .free = orch_tokens_free},
    {.path = "limits", .type = CONF_T_GROUP},
    {.path = "limits.max_body_bytes",
     .type = CONF_T_INT,
     .offset = OFF(limits.max_body_bytes),
     .min = 1024,
     .max = 1073741824,
     .def_int = 1048576},
    {.path = "limits.max_depth",
     .type = CONF_T_INT,
     .offset = OFF(limits.max_depth),
     .min = 2,
     .max = 1000,
     .def_int = 32},
    {.path = "limits.max_string_bytes",
     .type = CONF_T_INT,
     .offset = OFF(limits.max_string_bytes),
     .min = 64,
     .max = 1073741824,
     .def_int = 65536},
    {.path = "limits.max_items",
     .type = CONF_T_INT,
     .offset = OFF(limits.max_items),
     .min = 1,
     .max = 10000000,
     .def_int = 10000},
    {.path = "limits.max_connections",
     .type = CONF_T_INT,
     .offset = OFF(limits.max_connections),
     .min = 1,
     .max = 65536,
     .def_int = 1024},
    {.path = "limits.request_timeout_s",
     .type = CONF_T_INT,
     .offset = OFF(limits.request_timeout_s),
     .min = 1,
     .max = 3600,
     .def_int = 30},
    {.path = "limits.header_timeout_s",
     .type = CONF_T_INT,
     .offset = OFF(limits.header_timeout_s),
     .min = 1,
     .max = 3600,
     .def_int = 10},
    {.path = "limits.max_watchers",
     .type = CONF_T_INT,
     .offset = OFF(limits.max_watchers),
     .min = 1,
     .max = 65536,
     .def_int = 256},
    {.path = "limits.max_list_limit",
     .type = CONF_T_INT,
     .offset = OFF(limits.max_list_limit),
     .min = 1,
     .max = 100000,
     .def_int = 500},
    {.path = "feature_gates",
     .type = CONF_T_GROUP,
     .unknown_noun = "feature gate"},
    {.path = "feature_gates.LiveMigration",
     .type = CONF_T_BOOL,
     .offset = OFF(feature_gates.live_migration),
     .def_int = 1},
    {.path = "migrations", .type = CONF_T_GROUP},
    /* KubeVirt's MigrationConfiguration, its defaults (reference §2). */
    {.path = "migrations.bandwidth_per_migration",
     .type = CONF_T_QUANTITY,
     .offset = OFF(migrations.bandwidth_per_migration),
     .min = 0,
     .max = 1099511627776LL, /* 1Ti per second */
     .def_str = "0"},
    {.path = "migrations.completion_timeout_per_gib",
     .type = CONF_T_INT,
     .offset = OFF(migrations.completion_timeout_per_gib),
     .min = 1,
     .max = 86400,
     .def_int = 150},
    {.path = "migrations.progress_timeout",
     .type = CONF_T_INT,
     .offset = OFF(migrations.progress_timeout),
     .min = 1,
     .max = 86400,
     .def_int = 150},
    {.path = "migrations.parallel_migrations_per_cluster",
     .type = CONF_T_INT,
     .offset = OFF(migrations.parallel_migrations_per_cluster),
     /* 0 holds every migration in Pending, as in KubeVirt: a switch to
      * stop migrations lab-wide without refusing them. */
     .min = 0,
     .max = 1000,
     .def_int = 5},
    {.path = "migrations.parallel_outbound_migrations_per_node",
     .type = CONF_T_INT,
     .offset = OFF(migrations.parallel_outbound_migrations_per_node),
     .min = 1,
     .max = 100,
     .def_int = 2},
    {.path = "migrations.max_downtime_ms",
     .type = CONF_T_INT,
     .offset = OFF(migrations.max_downtime_ms),
     /* 0 leaves libvirt's own (QEMU's 300 ms), as raw virsh does: at
      * KubeVirt's 900 the lab's guests paused up to 605 ms (README,
      * make bench-migrate). */
     .min = 0,
     .max = 2000000,
     .def_int = 0},
    {.path = "migrations.allow_auto_converge",
     .type = CONF_T_BOOL,
     .offset = OFF(migrations.allow_auto_converge)},
    {.path = "migrations.allow_post_copy",
     .type = CONF_T_BOOL,
     .offset = OFF(migrations.allow_post_copy)},
    {.path = "migrations.allow_workload_disruption",
     .type = CONF_T_BOOL,
     .offset = OFF(migrations.allow_workload_disruption)},
    {.path = "migrations.disable_tls",
     .type = CONF_T_BOOL,
     .offset = OFF(migrations.disable_tls)},
    {.path = "migrations.unsafe_migration_override",
     .type = CONF_T_BOOL,
     .offset = OFF(migrations.unsafe_migration_override)},
    /* Kubernetes' node-monitor-grace-period: 40 s is four missed reports
     * at the migrators' default 10 s interval. */
    {.path = "node_monitor_grace_period_s",
     .type = CONF_T_INT,
     .offset = OFF(node_monitor_grace_period_s),
     .min = 1,
     .max = 86400,
     .def_int = 40},
    {.path = "agent_token",
     .type = CONF_T_STRING,
     .offset = OFF(agent_token),
     .check = conf_check_token},
    {.path = "agent_cacert",
     .type = CONF_T_STRING,
     .offset = OFF(agent_cacert),
     .check = conf_check_abs_path},
};

static int orch_init(void *conf);
static void orch_clear(void *conf);
static int orch_finish(struct conf_ctx *ctx, const config_setting_t *root,
                       void *conf);

static const struct conf_schema orch_schema = {
    .keys = orch_keys,
    .n_keys = sizeof(orch_keys) / sizeof(*orch_keys),
    .size = sizeof(struct conf_orchestratord),
    .init = orch_init,
    .clear = orch_clear,
    .finish = orch_finish,
};

const struct conf_key *conf_orchestratord_keys(size_t *ret_n)
{
    *ret_n = orch_schema.n_keys;
    return orch_keys;
}

static void orch_tokens_free(void *vconf)
{
    struct conf_orchestratord *c = vconf;

    for (size_t i = 0; i < c->n_tokens; i++) {
        free(c->tokens[i].name);
        if (c->tokens[i].token) {
            /* Do not leave the secret lying in freed memory. */
            explicit_bzero(c->tokens[i].token, strlen(c->tokens[i].token));
            free(c->tokens[i].token);
        }
    }
    free(c->tokens);
    c->tokens = NULL;
    c->n_tokens = 0;
}

/* A token's name: what logs show instead of the secret. */
static bool orch_token_name_ok(const char *v)
{
    size_t n = strlen(v);

    if (n == 0 || n > 63)
        return false;
    for (const char *p = v; *p; p++)
        if (!isalnum((unsigned char)*p) && !strchr("-_.", *p))
            return false;
    return true;
}

/* A node name: a lowercase RFC 1123 subdomain (dot-separated labels of
 * [a-z0-9-] that start and end alphanumeric), as Kubernetes requires. */
static bool orch_node_name_ok(const char *v)
{
    size_t n = strlen(v);

    if (n == 0 || n > 253)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = v[i];
        bool alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
        bool edge = i == 0 || i == n - 1 || v[i - 1] == '.' || v[i + 1] == '.';
        if (!alnum && !(c == '-' && !edge) && !(c == '.' && !edge))
            return false;
    }
    return true;
}

/* Parse one { name = ...; token = ...; role = ...; } record into *t. */
static int orch_token_parse(struct conf_ctx *ctx, const config_setting_t *rec,
                            const char *recpath, struct conf_token *t)
{
    const char *name = NULL, *token = NULL, *role = NULL;
    int n = config_setting_length(rec);
    char path[96];
    char why[128];
    char q[80];
    int r;

    if (config_setting_type(rec) != CONFIG_TYPE_GROUP)
        return conf_error(ctx, rec, "'%s': expected a group, got %s", recpath,
                          conf_type_noun(config_setting_type(rec)));
    for (int i = 0; i < n; i++) {
        const config_setting_t *m = config_setting_get_elem(rec, i);
        const char *key = config_setting_name(m);
        const char **slot = NULL;

        if (strcmp(key, "name") == 0)
            slot = &name;
        else if (strcmp(key, "token") == 0)
            slot = &token;
        else if (strcmp(key, "role") == 0)
            slot = &role;
        snprintf(path, sizeof(path), "%s.%s", recpath, key);
        if (!slot)
            return conf_error(ctx, m, "unknown key '%s'", path);
        r = conf_record_string(ctx, m, path, slot);
        if (r < 0)
            return r;
        if (slot == &name && !orch_token_name_ok(name))
            return conf_error(ctx, m,
                              "'%s': invalid name \"%s\" (expected 1 to 63 "
                              "letters, digits, '-', '_' or '.')",
                              path, conf_quote(name, q, sizeof(q)));
        if (slot == &token && conf_check_token(token, why, sizeof(why)) < 0)
            return conf_error(ctx, m, "'%s': %s", path, why);
        if (slot == &role && strcmp(role, "admin") != 0 &&
            strcmp(role, "viewer") != 0 && strcmp(role, "node") != 0)
            return conf_error(ctx, m,
                              "'%s': invalid role \"%s\" (expected admin, "
                              "viewer or node)",
                              path, conf_quote(role, q, sizeof(q)));
    }
    if (!name || !token || !role)
        return conf_error(ctx, rec, "'%s': missing '%s'", recpath,
                          !name    ? "name"
                          : !token ? "token"
                                   : "role");
    /* A node token acts for the node of that name, so the name must be
     * one a Node record can have. */
    if (strcmp(role, "node") == 0 && !orch_node_name_ok(name))
        return conf_error(ctx, config_setting_get_member(rec, "name"),
                          "'%s.name': invalid node name \"%s\" (a node "
                          "token's name is its host's node name: lowercase "
                          "letters, digits, '-' and '.', starting and "
                          "ending with a letter or digit)",
                          recpath, conf_quote(name, q, sizeof(q)));
    t->name = strdup(name);
    t->token = strdup(token);
    t->role = strcmp(role, "admin") == 0    ? CONF_ROLE_ADMIN
              : strcmp(role, "viewer") == 0 ? CONF_ROLE_VIEWER
                                            : CONF_ROLE_NODE;
    if (!t->name || !t->token)
        return -ENOMEM;
    return 0;
}

/* tokens = ( { name = "ops"; token = "..."; role = "admin"; }, ... ); */
static int orch_tokens_parse(void *vctx, const void *vset, void *vconf)
{
    struct conf_ctx *ctx = vctx;
    const config_setting_t *set = vset;
    struct conf_orchestratord *c = vconf;
    int type = config_setting_type(set);
    int n = config_setting_length(set);
    struct conf_orchestratord tmp = {0};
    int r = 0;

    if (type != CONFIG_TYPE_LIST && !(type == CONFIG_TYPE_ARRAY && n == 0))
        return conf_error(ctx, set,
                          "'tokens': expected a list of groups, got %s",
                          conf_type_noun(type));
    if (n == 0)
        goto done;
    tmp.tokens = calloc((size_t)n, sizeof(*tmp.tokens));
    if (!tmp.tokens)
        return -ENOMEM;
    for (int i = 0; i < n; i++) {
        const config_setting_t *rec = config_setting_get_elem(set, i);
        char recpath[32];

        snprintf(recpath, sizeof(recpath), "tokens[%d]", i);
        tmp.n_tokens++;
        r = orch_token_parse(ctx, rec, recpath, &tmp.tokens[i]);
        if (r < 0)
            goto out;
        for (int j = 0; j < i; j++) {
            /* Names are what logs show, so each must name one token; and
             * one secret with two roles would make the role a guess. */
            if (strcmp(tmp.tokens[j].name, tmp.tokens[i].name) == 0) {
                r = conf_error(ctx, config_setting_get_member(rec, "name"),
                               "'%s.name': duplicate name \"%s\"", recpath,
                               tmp.tokens[i].name);
                goto out;
            }
            if (strcmp(tmp.tokens[j].token, tmp.tokens[i].token) == 0) {
                r = conf_error(ctx, config_setting_get_member(rec, "token"),
                               "'%s.token': same token as 'tokens[%d]' "
                               "(\"%s\")",
                               recpath, j, tmp.tokens[j].name);
                goto out;
            }
        }
    }
done:
    orch_tokens_free(c);
    c->tokens = tmp.tokens;
    c->n_tokens = tmp.n_tokens;
    tmp.tokens = NULL;
    tmp.n_tokens = 0;
out:
    orch_tokens_free(&tmp);
    return r;
}

static int orch_init(void *conf)
{
    memset(conf, 0, sizeof(struct conf_orchestratord));
    return conf_schema_defaults(&orch_schema, conf);
}

static void orch_clear(void *conf)
{
    conf_schema_clear(&orch_schema, conf);
}

/* Checks across keys of one file. */
static int orch_finish(struct conf_ctx *ctx, const config_setting_t *root,
                       void *conf)
{
    struct conf_orchestratord *c = conf;
    const config_setting_t *mig;

    if (!c->tls.certificate != !c->tls.key)
        return conf_error(ctx, config_setting_get_member(root, "tls"),
                          "'tls': 'certificate' and 'key' must be set "
                          "together");
    /* Each direction has its own secret: one that opens both would let a
     * stolen agent credential call the agents, and the other way round. */
    for (size_t i = 0; c->agent_token && i < c->n_tokens; i++)
        if (strcmp(c->agent_token, c->tokens[i].token) == 0)
            return conf_error(ctx,
                              config_setting_get_member(root, "agent_token"),
                              "'agent_token': same secret as 'tokens[%zu]' "
                              "(\"%s\"); use a separate one",
                              i, c->tokens[i].name);
    /* KubeVirt: an unset allowWorkloadDisruption follows allowPostCopy. */
    mig = config_setting_get_member(root, "migrations");
    if (!mig || !config_setting_get_member(mig, "allow_workload_disruption"))
        c->migrations.allow_workload_disruption = c->migrations.allow_post_copy;
    return 0;
}

int conf_orchestratord_init(struct conf_orchestratord *c)
{
    int r = orch_init(c);

    if (r < 0)
        orch_clear(c);
    return r;
}

void conf_orchestratord_clear(struct conf_orchestratord *c)
{
    if (c)
        orch_clear(c);
}

int conf_orchestratord_load_file(struct conf_orchestratord *c, const char *path,
                                 char *errbuf, size_t errlen)
{
    return conf_schema_load_file(&orch_schema, c, path, errbuf, errlen);
}

int conf_orchestratord_load_string(struct conf_orchestratord *c,
                                   const char *text, const char *name,
                                   char *errbuf, size_t errlen)
{
    return conf_schema_load_string(&orch_schema, c, text, name, errbuf, errlen);
}

int conf_orchestratord_check(const struct conf_orchestratord *c, char *errbuf,
                             size_t errlen)
{
    struct conf_addr addr;

    if (conf_addr_parse(c->listen, &addr) < 0)
        return conf_errorf(errbuf, errlen,
                           "'listen': invalid address \"%s\" (expected "
                           "ADDR:PORT)",
                           c->listen);
    /* Without tokens anyone who can connect is admin: keep that local. */
    if (c->n_tokens == 0 && !conf_addr_is_loopback(&addr))
        return conf_errorf(errbuf, errlen,
                           "'listen': %s is not a loopback address and no "
                           "'tokens' are configured",
                           c->listen);
    return 0;
}

/* ---------------------------------------------------------------------- */
/* Command line                                                            */

const char conf_orchestratord_usage[] =
    "usage: orchestratord [-f CONF] [--listen ADDR:PORT] [--db PATH] [-n] "
    "[-h]\n"
    "  -f, --config CONF       configuration file (default\n"
    "                          " CONF_ORCHESTRATORD_PATH ";\n"
    "                          if that is missing: the defaults)\n"
    "      --listen ADDR:PORT  REST API address, overrides 'listen'\n"
    "                          (default 127.0.0.1:8080; IPv6: [::1]:8080)\n"
    "      --db PATH           SQLite database, overrides 'database'\n"
    "  -n, --check             check the configuration and flags, then exit\n"
    "  -h, --help              show this help\n";

static const struct conf_flag orch_flags[] = {
    {"listen", conf_check_addr,
     offsetof(struct conf_orchestratord_args, listen), OFF(listen)},
    {"db", conf_check_database,
     offsetof(struct conf_orchestratord_args, database), OFF(database)},
};

static const struct conf_cmdline orch_cmdline = {
    .flags = orch_flags,
    .n_flags = sizeof(orch_flags) / sizeof(*orch_flags),
    .args_size = sizeof(struct conf_orchestratord_args),
    .config_path_offset = offsetof(struct conf_orchestratord_args, config_path),
    .check_only_offset = offsetof(struct conf_orchestratord_args, check_only),
    .help_offset = offsetof(struct conf_orchestratord_args, help),
};

int conf_orchestratord_args_parse(struct conf_orchestratord_args *ret, int argc,
                                  char **argv, char *errbuf, size_t errlen)
{
    return conf_args_parse(&orch_cmdline, ret, argc, argv, errbuf, errlen);
}

int conf_orchestratord_args_apply(struct conf_orchestratord *c,
                                  const struct conf_orchestratord_args *args)
{
    return conf_args_apply(&orch_cmdline, c, args);
}
