/*
 * orchctl kinds: name resolution, paths and the columns of each kind's
 * table (see orchctl.h).
 */
#include "orchctl/orchctl.h"

#include "api/api.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void cell_str(const json_t *obj, const char *dotted, char *buf,
                     size_t size)
{
    const char *s = orchctl_json_str(obj, dotted);

    snprintf(buf, size, "%s", s ? s : "");
}

static void cell_name(const json_t *obj, const struct orchctl_cell_env *env,
                      char *buf, size_t size)
{
    (void)env;
    cell_str(obj, "metadata.name", buf, size);
}

/* The status ("True", "False", "Unknown") of condition `type`, or NULL. */
static const char *condition_status(const json_t *obj, const char *type)
{
    json_t *conds = orchctl_json_get(obj, "status.conditions");
    size_t i;
    json_t *c;

    if (!json_is_array(conds))
        return NULL;
    json_array_foreach(conds, i, c)
    {
        const char *t = json_string_value(json_object_get(c, "type"));

        if (t && strcmp(t, type) == 0)
            return json_string_value(json_object_get(c, "status"));
    }
    return NULL;
}

static void cell_vmim_phase(const json_t *obj,
                            const struct orchctl_cell_env *env, char *buf,
                            size_t size)
{
    (void)env;
    cell_str(obj, "status.phase", buf, size);
}

static void cell_vmim_vmi(const json_t *obj, const struct orchctl_cell_env *env,
                          char *buf, size_t size)
{
    (void)env;
    cell_str(obj, "spec.vmiName", buf, size);
}

static void cell_vmim_source(const json_t *obj,
                             const struct orchctl_cell_env *env, char *buf,
                             size_t size)
{
    (void)env;
    cell_str(obj, "status.migrationState.sourceNode", buf, size);
}

static void cell_vmim_target(const json_t *obj,
                             const struct orchctl_cell_env *env, char *buf,
                             size_t size)
{
    (void)env;
    cell_str(obj, "status.migrationState.targetNode", buf, size);
}

static void cell_vmi_ip(const json_t *obj, const struct orchctl_cell_env *env,
                        char *buf, size_t size)
{
    json_t *ifs = orchctl_json_get(obj, "status.interfaces");
    const char *ip = NULL;

    (void)env;
    if (json_is_array(ifs) && json_array_size(ifs) > 0)
        ip = json_string_value(
            json_object_get(json_array_get(ifs, 0), "ipAddress"));
    snprintf(buf, size, "%s", ip ? ip : "");
}

static void cell_vmi_node(const json_t *obj, const struct orchctl_cell_env *env,
                          char *buf, size_t size)
{
    (void)env;
    cell_str(obj, "status.nodeName", buf, size);
}

static void cell_ready(const json_t *obj, const struct orchctl_cell_env *env,
                       char *buf, size_t size)
{
    json_t *ready = orchctl_json_get(obj, "status.ready");
    const char *s = condition_status(obj, "Ready");

    (void)env;
    /* A VM carries status.ready; a VMI only its Ready condition. */
    if (json_is_boolean(ready))
        s = json_is_true(ready) ? "True" : "False";
    snprintf(buf, size, "%s", s ? s : "False");
}

static void cell_vm_status(const json_t *obj,
                           const struct orchctl_cell_env *env, char *buf,
                           size_t size)
{
    (void)env;
    cell_str(obj, "status.printableStatus", buf, size);
}

/* kubectl's node STATUS: Ready, NotReady or Unknown from the Ready
 * condition, with ",SchedulingDisabled" for a cordoned node. */
static void cell_node_status(const json_t *obj,
                             const struct orchctl_cell_env *env, char *buf,
                             size_t size)
{
    const char *s = condition_status(obj, "Ready");
    const char *state = "Unknown";

    (void)env;
    if (s && strcmp(s, "True") == 0)
        state = "Ready";
    else if (s && strcmp(s, "False") == 0)
        state = "NotReady";
    snprintf(buf, size, "%s%s", state,
             json_is_true(orchctl_json_get(obj, "spec.unschedulable"))
                 ? ",SchedulingDisabled"
                 : "");
}

/* kubectl's ROLES: the X of every node-role.kubernetes.io/X label. */
void orchctl_node_roles(const json_t *node, char *buf, size_t size)
{
    static const char prefix[] = "node-role.kubernetes.io/";
    json_t *labels = orchctl_json_get(node, "metadata.labels");
    const char *key;
    json_t *v;
    size_t used = 0;

    buf[0] = '\0';
    if (json_is_object(labels)) {
        json_object_foreach(labels, key, v)
        {
            int n;

            if (strncmp(key, prefix, sizeof(prefix) - 1) != 0 ||
                !key[sizeof(prefix) - 1])
                continue;
            n = snprintf(buf + used, size - used, "%s%s", used ? "," : "",
                         key + sizeof(prefix) - 1);
            if (n < 0 || (size_t)n >= size - used)
                break;
            used += (size_t)n;
        }
    }
    if (!used)
        snprintf(buf, size, "<none>");
}

static void cell_node_roles(const json_t *obj,
                            const struct orchctl_cell_env *env, char *buf,
                            size_t size)
{
    (void)env;
    orchctl_node_roles(obj, buf, size);
}

static void cell_node_version(const json_t *obj,
                              const struct orchctl_cell_env *env, char *buf,
                              size_t size)
{
    (void)env;
    cell_str(obj, "status.nodeInfo.kubeletVersion", buf, size);
}

/* How many VMIs name the node in status.nodeName: counted by the caller
 * from one list of every VMI (orchctl_table_set_node_vmis), since a Node
 * record does not say. */
static void cell_node_vmis(const json_t *obj,
                           const struct orchctl_cell_env *env, char *buf,
                           size_t size)
{
    const char *name = orchctl_json_str(obj, "metadata.name");

    if (!env->node_vmis || !name) {
        snprintf(buf, size, "<unknown>");
        return;
    }
    snprintf(buf, size, "%" JSON_INTEGER_FORMAT,
             json_integer_value(json_object_get(env->node_vmis, name)));
}

/* kubectl's INTERNAL-IP: the first InternalIP address, "<none>" without. */
static void cell_node_internal_ip(const json_t *obj,
                                  const struct orchctl_cell_env *env, char *buf,
                                  size_t size)
{
    json_t *addrs = orchctl_json_get(obj, "status.addresses");
    size_t i;
    json_t *a;

    (void)env;
    json_array_foreach(addrs, i, a)
    {
        const char *type = json_string_value(json_object_get(a, "type"));
        const char *addr = json_string_value(json_object_get(a, "address"));

        if (type && addr && *addr && !strcmp(type, "InternalIP")) {
            snprintf(buf, size, "%s", addr);
            return;
        }
    }
    snprintf(buf, size, "<none>");
}

/* A nodeInfo field, "<unknown>" when the host did not say (kubectl's word
 * for an empty OS-IMAGE or KERNEL-VERSION). */
static void cell_node_info(const json_t *obj, const char *field, char *buf,
                           size_t size)
{
    const char *s = orchctl_json_str(obj, field);

    snprintf(buf, size, "%s", s && *s ? s : "<unknown>");
}

static void cell_node_os_image(const json_t *obj,
                               const struct orchctl_cell_env *env, char *buf,
                               size_t size)
{
    (void)env;
    cell_node_info(obj, "status.nodeInfo.osImage", buf, size);
}

static void cell_node_kernel(const json_t *obj,
                             const struct orchctl_cell_env *env, char *buf,
                             size_t size)
{
    (void)env;
    cell_node_info(obj, "status.nodeInfo.kernelVersion", buf, size);
}

static void cell_node_libvirt(const json_t *obj,
                              const struct orchctl_cell_env *env, char *buf,
                              size_t size)
{
    (void)env;
    cell_node_info(obj, "status.nodeInfo.libvirtVersion", buf, size);
}

/* KubeVirt's LIVE-MIGRATABLE: the LiveMigratable condition's status, ""
 * before the host has said. */
static void cell_vmi_live_migratable(const json_t *obj,
                                     const struct orchctl_cell_env *env,
                                     char *buf, size_t size)
{
    const char *s = condition_status(obj, "LiveMigratable");

    (void)env;
    snprintf(buf, size, "%s", s ? s : "");
}

static void cell_age(const json_t *obj, const struct orchctl_cell_env *env,
                     char *buf, size_t size)
{
    orchctl_age_of(obj, env->now, buf, size);
}

static const struct orchctl_column vmim_columns[] = {
    {"NAME", cell_name},          {"PHASE", cell_vmim_phase},
    {"VMI", cell_vmim_vmi},       {"SOURCE", cell_vmim_source},
    {"TARGET", cell_vmim_target}, {"AGE", cell_age},
};

static const struct orchctl_column vmi_columns[] = {
    {"NAME", cell_name},         {"AGE", cell_age},
    {"PHASE", cell_vmim_phase},  {"IP", cell_vmi_ip},
    {"NODENAME", cell_vmi_node}, {"READY", cell_ready},
};

/* -o wide: the normal columns, then these (kubectl's habit). */
static const struct orchctl_column vmi_wide_columns[] = {
    {"LIVE-MIGRATABLE", cell_vmi_live_migratable},
};

static const struct orchctl_column vm_columns[] = {
    {"NAME", cell_name},
    {"AGE", cell_age},
    {"STATUS", cell_vm_status},
    {"READY", cell_ready},
};

static const struct orchctl_column node_columns[] = {
    {"NAME", cell_name},
    {"STATUS", cell_node_status},
    {"ROLES", cell_node_roles},
    {"AGE", cell_age},
    {"VERSION", cell_node_version},
    {"VMIS", cell_node_vmis},
};

static const struct orchctl_column node_wide_columns[] = {
    {"INTERNAL-IP", cell_node_internal_ip},
    {"OS-IMAGE", cell_node_os_image},
    {"KERNEL-VERSION", cell_node_kernel},
    {"LIBVIRT", cell_node_libvirt},
};

static const struct orchctl_column policy_columns[] = {
    {"NAME", cell_name},
    {"AGE", cell_age},
};

#define COLUMNS(c) c, sizeof(c) / sizeof((c)[0])
#define NO_COLUMNS NULL, 0

static const struct orchctl_kind kinds[] = {
    {"VirtualMachineInstanceMigration", "virtualmachineinstancemigrations",
     "virtualmachineinstancemigration", "kubevirt.io", "v1", true,
     COLUMNS(vmim_columns), NO_COLUMNS},
    {"VirtualMachineInstance", "virtualmachineinstances",
     "virtualmachineinstance", "kubevirt.io", "v1", true, COLUMNS(vmi_columns),
     COLUMNS(vmi_wide_columns)},
    {"VirtualMachine", "virtualmachines", "virtualmachine", "kubevirt.io", "v1",
     true, COLUMNS(vm_columns), NO_COLUMNS},
    {"Node", "nodes", "node", "", "v1", false, COLUMNS(node_columns),
     COLUMNS(node_wide_columns)},
    {"MigrationPolicy", "migrationpolicies", "migrationpolicy",
     "migrations.kubevirt.io", "v1alpha1", false, COLUMNS(policy_columns),
     NO_COLUMNS},
};

/* Names resolve through api's kind table (kind, plural, singular, short
 * name, optional ".group"); this table only adds each kind's columns. */
const struct orchctl_kind *orchctl_kind_find(const char *name)
{
    const struct api_kind_info *info;
    size_t i;

    if (!name || !*name)
        return NULL;
    info = api_kind_lookup(name);
    if (!info)
        return NULL;
    for (i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
        if (!strcmp(kinds[i].kind, info->kind_name))
            return &kinds[i];
    return NULL;
}

/* One path segment, percent-encoded; "." and ".." too, which a URL
 * library would otherwise resolve as steps up the path.  A string to
 * free(), or NULL. */
static char *path_segment(const char *s)
{
    if (!strcmp(s, "."))
        return strdup("%2E");
    if (!strcmp(s, ".."))
        return strdup("%2E%2E");
    return orchctl_url_escape(s);
}

char *orchctl_kind_path(const struct orchctl_kind *k, const char *ns)
{
    char *path = NULL, *esc = NULL;
    int n;

    if (!k->namespaced)
        ns = NULL;
    /* Encoded as orchctl_object_path encodes names: a namespace can come
     * from the server too (drain). */
    if (ns && !(esc = path_segment(ns)))
        return NULL;
    if (!*k->group)
        n = asprintf(&path, "/api/%s%s%s/%s", k->version,
                     esc ? "/namespaces/" : "", esc ? esc : "", k->plural);
    else
        n = asprintf(&path, "/apis/%s/%s%s%s/%s", k->group, k->version,
                     esc ? "/namespaces/" : "", esc ? esc : "", k->plural);
    free(esc);
    return n < 0 ? NULL : path;
}

char *orchctl_object_path(const struct orchctl_kind *k, const char *ns,
                          const char *name)
{
    char *base = orchctl_kind_path(k, ns);
    char *esc = path_segment(name);
    char *path = NULL;

    /* A name can come from the server (the migration --wait polls): one
     * holding "/", "?" or "%" must not aim the request elsewhere. */
    if (base && esc && asprintf(&path, "%s/%s", base, esc) < 0)
        path = NULL;
    free(base);
    free(esc);
    return path;
}

void orchctl_kind_resource(const struct orchctl_kind *k, char *buf, size_t size)
{
    snprintf(buf, size, "%s%s%s", k->singular, *k->group ? "." : "", k->group);
}
