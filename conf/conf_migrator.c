/*
 * conf: the migrator's keys, its label and network records and its command
 * line.
 */
#include "conf/conf_schema.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define OFF(field) offsetof(struct conf_migrator, field)

static int migr_labels_parse(void *vctx, const void *vset, void *vconf);
static void migr_labels_free(void *vconf);
static int migr_networks_parse(void *vctx, const void *vset, void *vconf);
static void migr_networks_free(void *vconf);
static int migr_shared_parse(void *vctx, const void *vset, void *vconf);
static void migr_shared_free(void *vconf);
static int migr_check_ifname(const char *v, char *why, size_t len);
static int migr_check_domain_type(const char *v, char *why, size_t len);

static const struct conf_key migr_keys[] = {
    /* Default set by migr_init() from gethostname(). */
    {.path = "name",
     .type = CONF_T_STRING,
     .offset = OFF(name),
     .check = conf_check_host_name},
    {.path = "listen",
     .type = CONF_T_STRING,
     .offset = OFF(listen),
     .def_str = "127.0.0.1:8081",
     .check = conf_check_addr},
    {.path = "libvirt_uri",
     .type = CONF_T_STRING,
     .offset = OFF(libvirt_uri),
     .def_str = "qemu:///system",
     .check = conf_check_libvirt_uri},
    {.path = "orchestrator",
     .type = CONF_T_STRING,
     .offset = OFF(orchestrator),
     .def_str = "http://127.0.0.1:8080",
     .check = conf_check_url},
    {.path = "orchestrator_token",
     .type = CONF_T_STRING,
     .offset = OFF(orchestrator_token),
     .check = conf_check_token},
    {.path = "orchestrator_cacert",
     .type = CONF_T_STRING,
     .offset = OFF(orchestrator_cacert),
     .check = conf_check_abs_path},
    {.path = "agent_token",
     .type = CONF_T_STRING,
     .offset = OFF(agent_token),
     .check = conf_check_token},
    {.path = "tls_certificate",
     .type = CONF_T_STRING,
     .offset = OFF(tls_certificate),
     .check = conf_check_abs_path},
    {.path = "tls_key",
     .type = CONF_T_STRING,
     .offset = OFF(tls_key),
     .check = conf_check_abs_path},
    {.path = "advertise_url",
     .type = CONF_T_STRING,
     .offset = OFF(advertise_url),
     .check = conf_check_url},
    {.path = "state_dir",
     .type = CONF_T_STRING,
     .offset = OFF(state_dir),
     .def_str = "/var/lib/migrator",
     .check = conf_check_abs_path},
    {.path = "sysfs_root",
     .type = CONF_T_STRING,
     .offset = OFF(sysfs_root),
     .def_str = "/sys",
     .check = conf_check_abs_path},
    {.path = "sriov_program_vfs",
     .type = CONF_T_BOOL,
     .offset = OFF(sriov_program_vfs),
     .def_int = 1},
    {.path = "migration_address",
     .type = CONF_T_STRING,
     .offset = OFF(migration_address),
     .check = conf_check_ip},
    /* KubeVirt's 49152/49153 and up: the range libvirt's qemu.conf uses
     * by default for migration. */
    {.path = "migration_port_min",
     .type = CONF_T_INT,
     .offset = OFF(migration_port_min),
     .min = 1024,
     .max = 65535,
     .def_int = 49152},
    {.path = "migration_port_max",
     .type = CONF_T_INT,
     .offset = OFF(migration_port_max),
     .min = 1024,
     .max = 65535,
     .def_int = 49215},
    {.path = "libvirt_peer_uri",
     .type = CONF_T_STRING,
     .offset = OFF(libvirt_peer_uri),
     .check = conf_check_libvirt_uri},
    /* A migration holds a worker for as long as it runs; one more than
     * the outbound limit (2) keeps prepare and abort answered. */
    {.path = "migration_workers",
     .type = CONF_T_INT,
     .offset = OFF(migration_workers),
     .min = 2,
     .max = 64,
     .def_int = 4},
    {.path = "labels",
     .type = CONF_T_RECORDS,
     .parse = migr_labels_parse,
     .free = migr_labels_free},
    {.path = "networks",
     .type = CONF_T_RECORDS,
     .parse = migr_networks_parse,
     .free = migr_networks_free},
    {.path = "shared_storage",
     .type = CONF_T_RECORDS,
     .parse = migr_shared_parse,
     .free = migr_shared_free},
    {.path = "image_dir",
     .type = CONF_T_STRING,
     .offset = OFF(image_dir),
     .def_str = "/var/lib/orchestrator/images",
     .check = conf_check_abs_path},
    {.path = "pod_bridge",
     .type = CONF_T_STRING,
     .offset = OFF(pod_bridge),
     .check = migr_check_ifname},
    {.path = "domain_type",
     .type = CONF_T_STRING,
     .offset = OFF(domain_type),
     .def_str = "kvm",
     .check = migr_check_domain_type},
    {.path = "log_level",
     .type = CONF_T_LOG_LEVEL,
     .offset = OFF(log_level),
     .def_int = LOG_LEVEL_INFO},
    {.path = "report_interval_s",
     .type = CONF_T_INT,
     .offset = OFF(report_interval_s),
     .min = 1,
     .max = 3600,
     .def_int = 10},
};

/* One secret used to serve both directions; each has its own now. */
static const struct conf_removed_key migr_removed[] = {
    {"token", "no longer read: set 'orchestrator_token' (presented to "
              "orchestratord) and 'agent_token' (required from orchestratord "
              "on the agent API) instead"},
};

static int migr_init(void *conf);
static void migr_clear(void *conf);
static int migr_finish(struct conf_ctx *ctx, const config_setting_t *root,
                       void *conf);

static const struct conf_schema migr_schema = {
    .keys = migr_keys,
    .n_keys = sizeof(migr_keys) / sizeof(*migr_keys),
    .removed = migr_removed,
    .n_removed = sizeof(migr_removed) / sizeof(*migr_removed),
    .size = sizeof(struct conf_migrator),
    .init = migr_init,
    .clear = migr_clear,
    .finish = migr_finish,
};

const struct conf_key *conf_migrator_keys(size_t *ret_n)
{
    *ret_n = migr_schema.n_keys;
    return migr_keys;
}

/* ---------------------------------------------------------------------- */
/* labels = [ "k=v", ... ];                                                */

static void migr_labels_free(void *vconf)
{
    struct conf_migrator *c = vconf;

    for (size_t i = 0; i < c->n_labels; i++) {
        free(c->labels[i].key);
        free(c->labels[i].value);
    }
    free(c->labels);
    c->labels = NULL;
    c->n_labels = 0;
}

static int migr_labels_parse(void *vctx, const void *vset, void *vconf)
{
    struct conf_ctx *ctx = vctx;
    const config_setting_t *set = vset;
    struct conf_migrator *c = vconf;
    struct conf_migrator tmp = {0};
    int type = config_setting_type(set);
    int n = config_setting_length(set);
    int r = 0;

    if (type != CONFIG_TYPE_ARRAY && type != CONFIG_TYPE_LIST)
        return conf_error(ctx, set,
                          "'labels': expected an array of \"key=value\" "
                          "strings, got %s",
                          conf_type_noun(type));
    if (n > 0) {
        tmp.labels = calloc((size_t)n, sizeof(*tmp.labels));
        if (!tmp.labels)
            return -ENOMEM;
    }
    for (int i = 0; i < n; i++) {
        const config_setting_t *e = config_setting_get_elem(set, i);
        struct conf_label *l = &tmp.labels[i];
        const char *text;
        const char *eq;
        char path[32];
        char q[80];

        snprintf(path, sizeof(path), "labels[%d]", i);
        r = conf_record_string(ctx, e, path, &text);
        if (r < 0)
            goto out;
        if (conf_label_check(text) < 0) {
            r = conf_error(ctx, e,
                           "'%s': invalid label \"%s\" (expected key=value "
                           "in Kubernetes label syntax)",
                           path, conf_quote(text, q, sizeof(q)));
            goto out;
        }
        eq = strchr(text, '=');
        tmp.n_labels++;
        l->key = strndup(text, (size_t)(eq - text));
        l->value = strdup(eq + 1);
        if (!l->key || !l->value) {
            r = -ENOMEM;
            goto out;
        }
        for (int j = 0; j < i; j++)
            if (strcmp(tmp.labels[j].key, l->key) == 0) {
                r = conf_error(ctx, e, "'%s': duplicate label key '%s'", path,
                               l->key);
                goto out;
            }
    }
    migr_labels_free(c);
    c->labels = tmp.labels;
    c->n_labels = tmp.n_labels;
    tmp.labels = NULL;
    tmp.n_labels = 0;
out:
    migr_labels_free(&tmp);
    return r;
}

/* ---------------------------------------------------------------------- */
/* networks = ( { name = "sriov-net1"; pf = "ens1f0"; vlan = 0;            */
/*                mode = "hostdev"; trust = false; spoofchk = true;       */
/*                migration = "unplug"; },                                 */
/*              { name = "lab-net"; bridge = "br0"; }, ... );              */

static void migr_networks_free(void *vconf)
{
    struct conf_migrator *c = vconf;

    for (size_t i = 0; i < c->n_networks; i++) {
        free(c->networks[i].name);
        free(c->networks[i].pf);
        free(c->networks[i].bridge);
    }
    free(c->networks);
    c->networks = NULL;
    c->n_networks = 0;
}

/* A network name as manifests use it: "name" or "namespace/name". */
static bool migr_network_name_ok(const char *v)
{
    size_t n = strlen(v);

    if (n == 0 || n > 253 || v[0] == '/' || v[n - 1] == '/')
        return false;
    for (const char *p = v; *p; p++)
        if (!isalnum((unsigned char)*p) && !strchr("-_./", *p))
            return false;
    return true;
}

/* A Linux interface name (IFNAMSIZ - 1 characters, no '/', no spaces). */
static bool migr_ifname_ok(const char *v)
{
    size_t n = strlen(v);

    if (n == 0 || n > 15 || strcmp(v, ".") == 0 || strcmp(v, "..") == 0)
        return false;
    for (const char *p = v; *p; p++)
        if (*p == '/' || *p == ':' || !isgraph((unsigned char)*p))
            return false;
    return true;
}

static int migr_check_ifname(const char *v, char *why, size_t len)
{
    char q[80];

    if (!migr_ifname_ok(v))
        return conf_errorf(why, len, "invalid interface name \"%s\"",
                           conf_quote(v, q, sizeof(q)));
    return 0;
}

static int migr_check_domain_type(const char *v, char *why, size_t len)
{
    char q[80];

    if (strcmp(v, "kvm") != 0 && strcmp(v, "qemu") != 0)
        return conf_errorf(why, len,
                           "invalid domain type \"%s\" (expected kvm or "
                           "qemu)",
                           conf_quote(v, q, sizeof(q)));
    return 0;
}

static int migr_network_parse(struct conf_ctx *ctx, const config_setting_t *rec,
                              const char *recpath, struct conf_network *net)
{
    const char *name = NULL, *pf = NULL, *bridge = NULL, *mode = NULL;
    const char *migration = NULL;
    long long vlan = 0;
    int trust = -1, spoofchk = -1;
    int n = config_setting_length(rec);
    char path[96];
    char q[80];
    int r;

    if (config_setting_type(rec) != CONFIG_TYPE_GROUP)
        return conf_error(ctx, rec, "'%s': expected a group, got %s", recpath,
                          conf_type_noun(config_setting_type(rec)));
    for (int i = 0; i < n; i++) {
        const config_setting_t *m = config_setting_get_elem(rec, i);
        const char *key = config_setting_name(m);

        snprintf(path, sizeof(path), "%s.%s", recpath, key);
        if (strcmp(key, "name") == 0) {
            r = conf_record_string(ctx, m, path, &name);
            if (r < 0)
                return r;
            if (!migr_network_name_ok(name))
                return conf_error(ctx, m, "'%s': invalid network name \"%s\"",
                                  path, conf_quote(name, q, sizeof(q)));
        } else if (strcmp(key, "pf") == 0) {
            r = conf_record_string(ctx, m, path, &pf);
            if (r < 0)
                return r;
            if (!migr_ifname_ok(pf))
                return conf_error(ctx, m, "'%s': invalid interface name \"%s\"",
                                  path, conf_quote(pf, q, sizeof(q)));
        } else if (strcmp(key, "bridge") == 0) {
            r = conf_record_string(ctx, m, path, &bridge);
            if (r < 0)
                return r;
            if (!migr_ifname_ok(bridge))
                return conf_error(ctx, m, "'%s': invalid interface name \"%s\"",
                                  path, conf_quote(bridge, q, sizeof(q)));
        } else if (strcmp(key, "vlan") == 0) {
            r = conf_record_int(ctx, m, path, 0, 4094, &vlan);
            if (r < 0)
                return r;
        } else if (strcmp(key, "trust") == 0 || strcmp(key, "spoofchk") == 0) {
            /* Unset leaves the VF as the driver has it, as sriov-cni. */
            if (config_setting_type(m) != CONFIG_TYPE_BOOL)
                return conf_error(ctx, m, "'%s': expected a boolean, got %s",
                                  path, conf_type_noun(config_setting_type(m)));
            *(key[0] == 't' ? &trust : &spoofchk) =
                config_setting_get_bool(m) ? 1 : 0;
        } else if (strcmp(key, "mode") == 0) {
            r = conf_record_string(ctx, m, path, &mode);
            if (r < 0)
                return r;
            if (strcmp(mode, "hostdev") != 0 && strcmp(mode, "macvtap") != 0)
                return conf_error(ctx, m,
                                  "'%s': invalid mode \"%s\" (expected "
                                  "hostdev or macvtap)",
                                  path, conf_quote(mode, q, sizeof(q)));
        } else if (strcmp(key, "migration") == 0) {
            r = conf_record_string(ctx, m, path, &migration);
            if (r < 0)
                return r;
            if (strcmp(migration, "unplug") != 0 &&
                strcmp(migration, "in-place") != 0)
                return conf_error(ctx, m,
                                  "'%s': invalid migration \"%s\" (expected "
                                  "unplug or in-place)",
                                  path, conf_quote(migration, q, sizeof(q)));
        } else {
            return conf_error(ctx, m, "unknown key '%s'", path);
        }
    }
    if (!name || (!pf && !bridge))
        return conf_error(ctx, rec, "'%s': missing '%s'", recpath,
                          !name ? "name" : "pf");
    /* A network is either SR-IOV (a PF, its VFs in a mode) or a plain
     * host bridge; a VLAN on a bridge network would be the bridge's. */
    if (pf && bridge)
        return conf_error(
            ctx, rec, "'%s': 'pf' and 'bridge' exclude each other", recpath);
    if (bridge && (mode || vlan || trust >= 0 || spoofchk >= 0 || migration))
        return conf_error(ctx, rec, "'%s': a 'bridge' network takes no '%s'",
                          recpath,
                          mode         ? "mode"
                          : vlan       ? "vlan"
                          : trust >= 0 ? "trust"
                          : migration  ? "migration"
                                       : "spoofchk");
    /* A VFIO device's state cannot move with the guest. */
    if ((!mode || strcmp(mode, "hostdev") == 0) && migration &&
        strcmp(migration, "in-place") == 0)
        return conf_error(ctx, rec,
                          "'%s.migration': a hostdev VF cannot migrate "
                          "in place (use \"unplug\" or mode \"macvtap\")",
                          recpath);
    net->name = strdup(name);
    net->pf = pf ? strdup(pf) : NULL;
    net->bridge = bridge ? strdup(bridge) : NULL;
    net->vlan = (int)vlan;
    net->trust = trust;
    net->spoofchk = spoofchk;
    net->mode = bridge                                 ? CONF_NET_MODE_BRIDGE
                : mode && strcmp(mode, "macvtap") == 0 ? CONF_NET_MODE_MACVTAP
                                                       : CONF_NET_MODE_HOSTDEV;
    net->unplug = net->mode == CONF_NET_MODE_HOSTDEV ||
                  (migration && strcmp(migration, "unplug") == 0);
    if (!net->name || (pf && !net->pf) || (bridge && !net->bridge))
        return -ENOMEM;
    return 0;
}

static int migr_networks_parse(void *vctx, const void *vset, void *vconf)
{
    struct conf_ctx *ctx = vctx;
    const config_setting_t *set = vset;
    struct conf_migrator *c = vconf;
    struct conf_migrator tmp = {0};
    int type = config_setting_type(set);
    int n = config_setting_length(set);
    int r = 0;

    if (type != CONFIG_TYPE_LIST && !(type == CONFIG_TYPE_ARRAY && n == 0))
        return conf_error(ctx, set,
                          "'networks': expected a list of groups, got %s",
                          conf_type_noun(type));
    if (n > 0) {
        tmp.networks = calloc((size_t)n, sizeof(*tmp.networks));
        if (!tmp.networks)
            return -ENOMEM;
    }
    for (int i = 0; i < n; i++) {
        const config_setting_t *rec = config_setting_get_elem(set, i);
        char recpath[32];

        snprintf(recpath, sizeof(recpath), "networks[%d]", i);
        tmp.n_networks++;
        r = migr_network_parse(ctx, rec, recpath, &tmp.networks[i]);
        if (r < 0)
            goto out;
        for (int j = 0; j < i; j++)
            if (strcmp(tmp.networks[j].name, tmp.networks[i].name) == 0) {
                r = conf_error(ctx, config_setting_get_member(rec, "name"),
                               "'%s.name': duplicate network name \"%s\"",
                               recpath, tmp.networks[i].name);
                goto out;
            }
    }
    migr_networks_free(c);
    c->networks = tmp.networks;
    c->n_networks = tmp.n_networks;
    tmp.networks = NULL;
    tmp.n_networks = 0;
out:
    migr_networks_free(&tmp);
    return r;
}

/* ---------------------------------------------------------------------- */
/* shared_storage = [ "/path", ... ];                                      */

static void migr_shared_free(void *vconf)
{
    struct conf_migrator *c = vconf;

    for (size_t i = 0; i < c->n_shared_storage; i++)
        free(c->shared_storage[i]);
    free(c->shared_storage);
    c->shared_storage = NULL;
    c->n_shared_storage = 0;
}

static int migr_shared_parse(void *vctx, const void *vset, void *vconf)
{
    struct conf_ctx *ctx = vctx;
    const config_setting_t *set = vset;
    struct conf_migrator *c = vconf;
    struct conf_migrator tmp = {0};
    int type = config_setting_type(set);
    int n = config_setting_length(set);
    int r = 0;

    if (type != CONFIG_TYPE_ARRAY && type != CONFIG_TYPE_LIST)
        return conf_error(ctx, set,
                          "'shared_storage': expected an array of absolute "
                          "paths, got %s",
                          conf_type_noun(type));
    if (n > 0) {
        tmp.shared_storage = calloc((size_t)n, sizeof(*tmp.shared_storage));
        if (!tmp.shared_storage)
            return -ENOMEM;
    }
    for (int i = 0; i < n; i++) {
        const config_setting_t *e = config_setting_get_elem(set, i);
        char path[32], why[256];
        const char *v;

        snprintf(path, sizeof(path), "shared_storage[%d]", i);
        r = conf_record_string(ctx, e, path, &v);
        if (r < 0)
            goto out;
        if (conf_check_abs_path(v, why, sizeof(why)) < 0) {
            r = conf_error(ctx, e, "'%s': %s", path, why);
            goto out;
        }
        tmp.shared_storage[i] = strdup(v);
        if (!tmp.shared_storage[i]) {
            r = -ENOMEM;
            goto out;
        }
        tmp.n_shared_storage++;
    }
    migr_shared_free(c);
    c->shared_storage = tmp.shared_storage;
    c->n_shared_storage = tmp.n_shared_storage;
    tmp.shared_storage = NULL;
    tmp.n_shared_storage = 0;
out:
    migr_shared_free(&tmp);
    return r;
}

/* ---------------------------------------------------------------------- */

/* The node name defaults to this host's name, lowercased because node
 * names are DNS subdomains. */
static int migr_default_name(struct conf_migrator *c)
{
    char host[256];

    if (gethostname(host, sizeof(host)) < 0 || host[0] == '\0')
        snprintf(host, sizeof(host), "localhost");
    host[sizeof(host) - 1] = '\0';
    for (char *p = host; *p; p++)
        *p = (char)tolower((unsigned char)*p);
    return conf_string_set(&c->name, host);
}

static int migr_init(void *conf)
{
    int r;

    memset(conf, 0, sizeof(struct conf_migrator));
    r = conf_schema_defaults(&migr_schema, conf);
    if (r < 0)
        return r;
    return migr_default_name(conf);
}

static void migr_clear(void *conf)
{
    conf_schema_clear(&migr_schema, conf);
}

static int migr_finish(struct conf_ctx *ctx, const config_setting_t *root,
                       void *conf)
{
    struct conf_migrator *c = conf;
    const config_setting_t *at;

    if (c->migration_port_min > c->migration_port_max) {
        at = config_setting_get_member(root, "migration_port_min");
        if (!at)
            at = config_setting_get_member(root, "migration_port_max");
        return conf_error(ctx, at,
                          "'migration_port_min' %d is above "
                          "'migration_port_max' %d",
                          c->migration_port_min, c->migration_port_max);
    }
    if (!c->tls_certificate != !c->tls_key) {
        at = config_setting_get_member(
            root, c->tls_certificate ? "tls_certificate" : "tls_key");
        return conf_error(ctx, at,
                          "'tls_certificate' and 'tls_key' must be set "
                          "together");
    }
    return 0;
}

int conf_migrator_init(struct conf_migrator *c)
{
    int r = migr_init(c);

    if (r < 0)
        migr_clear(c);
    return r;
}

void conf_migrator_clear(struct conf_migrator *c)
{
    if (c)
        migr_clear(c);
}

int conf_migrator_load_file(struct conf_migrator *c, const char *path,
                            char *errbuf, size_t errlen)
{
    return conf_schema_load_file(&migr_schema, c, path, errbuf, errlen);
}

int conf_migrator_load_string(struct conf_migrator *c, const char *text,
                              const char *name, char *errbuf, size_t errlen)
{
    return conf_schema_load_string(&migr_schema, c, text, name, errbuf, errlen);
}

/* ---------------------------------------------------------------------- */
/* Command line                                                            */

const char conf_migrator_usage[] =
    "usage: migrator [-f CONF] [--listen ADDR:PORT] [--libvirt URI] "
    "[--name HOST]\n"
    "                [--orchestrator URL] [-n] [-h]\n"
    "  -f, --config CONF       configuration file (default\n"
    "                          " CONF_MIGRATOR_PATH ";\n"
    "                          if that is missing: the defaults)\n"
    "      --listen ADDR:PORT  agent API address, overrides 'listen'\n"
    "                          (default 127.0.0.1:8081)\n"
    "      --libvirt URI       libvirt connection, overrides 'libvirt_uri'\n"
    "                          (default qemu:///system)\n"
    "      --name HOST         node name, overrides 'name' (default: the "
    "host name)\n"
    "      --orchestrator URL  orchestratord's URL, overrides "
    "'orchestrator'\n"
    "                          (default http://127.0.0.1:8080)\n"
    "  -n, --check             check the configuration and flags, then exit\n"
    "  -h, --help              show this help\n";

static const struct conf_flag migr_flags[] = {
    {"listen", conf_check_addr, offsetof(struct conf_migrator_args, listen),
     OFF(listen)},
    {"libvirt", conf_check_libvirt_uri,
     offsetof(struct conf_migrator_args, libvirt_uri), OFF(libvirt_uri)},
    {"name", conf_check_host_name, offsetof(struct conf_migrator_args, name),
     OFF(name)},
    {"orchestrator", conf_check_url,
     offsetof(struct conf_migrator_args, orchestrator), OFF(orchestrator)},
};

static const struct conf_cmdline migr_cmdline = {
    .flags = migr_flags,
    .n_flags = sizeof(migr_flags) / sizeof(*migr_flags),
    .args_size = sizeof(struct conf_migrator_args),
    .config_path_offset = offsetof(struct conf_migrator_args, config_path),
    .check_only_offset = offsetof(struct conf_migrator_args, check_only),
    .help_offset = offsetof(struct conf_migrator_args, help),
};

int conf_migrator_args_parse(struct conf_migrator_args *ret, int argc,
                             char **argv, char *errbuf, size_t errlen)
{
    return conf_args_parse(&migr_cmdline, ret, argc, argv, errbuf, errlen);
}

int conf_migrator_args_apply(struct conf_migrator *c,
                             const struct conf_migrator_args *args)
{
    return conf_args_apply(&migr_cmdline, c, args);
}
