/*
 * api: what a VirtualMachineInstance's spec alone says about live migration
 * (KubeVirt's LiveMigratable reasons that need no host): the seed's
 * limitations, turned into refusals at migration admission.
 */
#include "api/api.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

/* Whether PATH lies under the directory PREFIX (a whole path component). */
static bool path_under(const char *path, const char *prefix)
{
    size_t n = strlen(prefix);

    while (n > 1 && prefix[n - 1] == '/')
        n--;
    if (n == 0 || strncmp(path, prefix, n) != 0)
        return false;
    return path[n] == '/' || path[n] == '\0' || (n == 1 && prefix[0] == '/');
}

static const json_t *network_named(const json_t *nets, const char *name)
{
    size_t i;
    const json_t *n;

    json_array_foreach(nets, i, n)
    {
        const char *nn = json_string_value(json_object_get(n, "name"));
        if (nn && name && strcmp(nn, name) == 0)
            return n;
    }
    return NULL;
}

int api_vmi_live_migratable(const json_t *vmi, const json_t *shared,
                            const char **ret_reason, char *msg, size_t len)
{
    const json_t *spec = json_object_get(vmi, "spec");
    const json_t *ifaces = json_object_get(
        json_object_get(json_object_get(spec, "domain"), "devices"),
        "interfaces");
    const json_t *nets = json_object_get(spec, "networks");
    const json_t *vols = json_object_get(spec, "volumes");
    const json_t *ann =
        json_object_get(json_object_get(vmi, "metadata"), "annotations");
    const json_t *f, *v;
    size_t i;

    if (len)
        msg[0] = '\0';
    *ret_reason = NULL;
    json_array_foreach(ifaces, i, f)
    {
        const char *name = json_string_value(json_object_get(f, "name"));
        const json_t *net = network_named(nets, name);
        const json_t *ports = json_object_get(f, "ports"), *p;
        size_t j;

        if (!net || !json_object_get(net, "pod"))
            continue;
        if (json_object_get(f, "bridge") &&
            !json_object_get(ann, API_ALLOW_POD_BRIDGE_MIGRATION)) {
            *ret_reason = "InterfaceNotLiveMigratable";
            snprintf(msg, len,
                     "spec.domain.devices.interfaces[%zu].bridge: cannot "
                     "migrate VMI which does not use masquerade, bridge with "
                     "%s VM annotation or a migratable plugin to connect to "
                     "the pod network",
                     i, API_ALLOW_POD_BRIDGE_MIGRATION);
            return -EDOM;
        }
        if (!json_object_get(f, "masquerade"))
            continue;
        json_array_foreach(ports, j, p)
        {
            json_int_t port = json_integer_value(json_object_get(p, "port"));
            if (port == 49152 || port == 49153) {
                *ret_reason = "InterfaceNotLiveMigratable";
                snprintf(msg, len,
                         "spec.domain.devices.interfaces[%zu].ports[%zu].port:"
                         " cannot migrate VMI: masquerade interface \"%s\" "
                         "forwards port %" JSON_INTEGER_FORMAT
                         ", which live migration needs (49152 and 49153 are "
                         "reserved for it)",
                         i, j, name ? name : "", port);
                return -EDOM;
            }
        }
    }
    json_array_foreach(vols, i, v)
    {
        const json_t *hd = json_object_get(v, "hostDisk");
        const char *path = json_string_value(json_object_get(hd, "path"));
        const json_t *s;
        size_t j;
        bool ok = false;

        if (!hd)
            continue;
        if (json_is_true(json_object_get(hd, "shared")))
            continue;
        json_array_foreach(shared, j, s)
        {
            if (path && json_is_string(s) &&
                path_under(path, json_string_value(s)))
                ok = true;
        }
        if (ok)
            continue;
        *ret_reason = "DisksNotLiveMigratable";
        snprintf(msg, len,
                 "spec.volumes[%zu].hostDisk.path: cannot migrate VMI: "
                 "hostDisk \"%s\" (%s) is not shared: live migration needs "
                 "its disks on storage every host shares (RWX), i.e. under a "
                 "shared_storage path of the hosts or hostDisk.shared: true",
                 i,
                 json_string_value(json_object_get(v, "name"))
                     ? json_string_value(json_object_get(v, "name"))
                     : "",
                 path ? path : "");
        return -EDOM;
    }
    return 0;
}
