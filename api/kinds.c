/*
 * The kind table: names, groups, versions, plurals and short names of every
 * resource, for routing, discovery documents and the CLI.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "api/api.h"

static const char *const verbs_all[] = {"create", "delete", "get", "list",
                                        "update", "watch",  NULL};
static const char *const cat_all[] = {"all", NULL};
static const char *const no_names[] = {NULL};
static const char *const sn_vmim[] = {"vmim", "vmims", NULL};
static const char *const sn_vmi[] = {"vmi", "vmis", NULL};
static const char *const sn_vm[] = {"vm", "vms", NULL};
static const char *const sn_node[] = {"no", NULL};

/* What the three kinds of kubevirt.io/v1 have in common. */
#define KUBEVIRT_V1                                                            \
    .group = "kubevirt.io", .version = "v1", .api_version = "kubevirt.io/v1",  \
    .verbs = verbs_all, .categories = cat_all, .namespaced = true

static const struct api_kind_info kinds[] = {
    {
        .kind = API_KIND_VMIM,
        .kind_name = "VirtualMachineInstanceMigration",
        .list_kind = "VirtualMachineInstanceMigrationList",
        .plural = "virtualmachineinstancemigrations",
        .singular = "virtualmachineinstancemigration",
        .short_names = sn_vmim,
        KUBEVIRT_V1,
    },
    {
        .kind = API_KIND_VMI,
        .kind_name = "VirtualMachineInstance",
        .list_kind = "VirtualMachineInstanceList",
        .plural = "virtualmachineinstances",
        .singular = "virtualmachineinstance",
        .short_names = sn_vmi,
        KUBEVIRT_V1,
    },
    {
        .kind = API_KIND_VM,
        .kind_name = "VirtualMachine",
        .list_kind = "VirtualMachineList",
        .plural = "virtualmachines",
        .singular = "virtualmachine",
        .short_names = sn_vm,
        KUBEVIRT_V1,
    },
    {
        .kind = API_KIND_POLICY,
        .kind_name = "MigrationPolicy",
        .list_kind = "MigrationPolicyList",
        .group = "migrations.kubevirt.io",
        .version = "v1alpha1",
        .api_version = "migrations.kubevirt.io/v1alpha1",
        .plural = "migrationpolicies",
        .singular = "migrationpolicy",
        .short_names = no_names,
        .verbs = verbs_all,
        .categories = cat_all,
        .namespaced = false,
    },
    {
        .kind = API_KIND_NODE,
        .kind_name = "Node",
        .list_kind = "NodeList",
        .group = "",
        .version = "v1",
        .api_version = "v1",
        .plural = "nodes",
        .singular = "node",
        .short_names = sn_node,
        .verbs = verbs_all,
        .categories = no_names,
        .namespaced = false,
    },
};

_Static_assert(sizeof(kinds) / sizeof(kinds[0]) == API_KIND_COUNT - 1,
               "one table entry per kind");

const struct api_kind_info *api_kind_table(size_t *ret_count)
{
    if (ret_count)
        *ret_count = API_KIND_COUNT - 1;
    return kinds;
}

const struct api_kind_info *api_kind_info(enum api_kind kind)
{
    if (kind <= API_KIND_NONE || kind >= API_KIND_COUNT)
        return NULL;
    return &kinds[kind - 1];
}

static bool name_matches(const struct api_kind_info *k, const char *name,
                         size_t len)
{
    if ((strlen(k->kind_name) == len &&
         !strncasecmp(k->kind_name, name, len)) ||
        (strlen(k->plural) == len && !strncasecmp(k->plural, name, len)) ||
        (strlen(k->singular) == len && !strncasecmp(k->singular, name, len)))
        return true;
    for (const char *const *s = k->short_names; *s; s++)
        if (strlen(*s) == len && !strncasecmp(*s, name, len))
            return true;
    return false;
}

const struct api_kind_info *api_kind_lookup(const char *name)
{
    const char *dot;
    size_t len;

    if (!name || !*name)
        return NULL;
    dot = strchr(name, '.');
    len = dot ? (size_t)(dot - name) : strlen(name);
    for (size_t i = 0; i < API_KIND_COUNT - 1; i++) {
        const struct api_kind_info *k = &kinds[i];
        if (!name_matches(k, name, len))
            continue;
        /* "kind.group" must name the kind's own group. */
        if (dot && strcasecmp(dot + 1, k->group) != 0)
            continue;
        return k;
    }
    return NULL;
}

const struct api_kind_info *api_kind_find(const char *api_version,
                                          const char *kind_name)
{
    if (!api_version || !kind_name)
        return NULL;
    for (size_t i = 0; i < API_KIND_COUNT - 1; i++)
        if (!strcmp(kinds[i].api_version, api_version) &&
            !strcmp(kinds[i].kind_name, kind_name))
            return &kinds[i];
    return NULL;
}

const struct api_kind_info *
api_kind_by_resource(const char *group, const char *version, const char *plural)
{
    if (!group || !version || !plural)
        return NULL;
    for (size_t i = 0; i < API_KIND_COUNT - 1; i++)
        if (!strcmp(kinds[i].group, group) &&
            !strcmp(kinds[i].version, version) &&
            !strcmp(kinds[i].plural, plural))
            return &kinds[i];
    return NULL;
}
