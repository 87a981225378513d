/*
 * orchctl describe node: kubectl describe node's layout for the Node records
 * orchestratord builds from the migrators' reports, plus what a hypervisor
 * host has that a kubelet's node does not (libvirt in System Info, SR-IOV
 * networks with their VFs, the VMIs on it, the domains it skipped) (see
 * orchctl.h).
 */
#include "orchctl/orchctl.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define ROW(w, level, ...) orchctl_tabw_row(w, level, __VA_ARGS__, NULL)

/* kubectl describe's time: RFC 1123 with a numeric zone, in local time;
 * a time that does not parse is shown as sent, a missing one "<unknown>". */
static void node_time(const char *s, char *buf, size_t size)
{
    struct tm tm;
    time_t t;

    if (!s || !*s) {
        snprintf(buf, size, "<unknown>");
        return;
    }
    if (orchctl_time_parse(s, &t) < 0 || !localtime_r(&t, &tm) ||
        strftime(buf, size, "%a, %d %b %Y %H:%M:%S %z", &tm) == 0)
        snprintf(buf, size, "%s", s);
}

static const char *str_or(const json_t *obj, const char *dotted,
                          const char *dflt)
{
    const char *s = orchctl_json_str(obj, dotted);

    return s && *s ? s : dflt;
}

/* A JSON scalar as a cell: strings as they are, integers in decimal,
 * "<none>" for null or absent. */
static void scalar_cell(const json_t *v, char *buf, size_t size)
{
    if (json_is_string(v))
        snprintf(buf, size, "%s", json_string_value(v));
    else if (json_is_integer(v))
        snprintf(buf, size, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
    else if (json_is_boolean(v))
        snprintf(buf, size, "%s", json_is_true(v) ? "true" : "false");
    else
        snprintf(buf, size, "<none>");
}

static int key_cmp(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* "Label:\tk SEP v" with one "\tk SEP v" line per further key, sorted;
 * "<none>" when empty.  kubectl writes labels k=v, annotations k: v. */
static void node_map(struct orchctl_tabw *w, const char *label,
                     const json_t *map, const char *sep)
{
    const char **keys;
    const char *key;
    json_t *v;
    size_t n = 0, i;

    if (!json_is_object(map) || json_object_size(map) == 0) {
        ROW(w, 0, label, "<none>");
        return;
    }
    keys = malloc(json_object_size(map) * sizeof(*keys));
    if (!keys) {
        ROW(w, 0, label, "(out of memory)");
        return;
    }
    json_object_foreach((json_t *)map, key, v) keys[n++] = key;
    qsort(keys, n, sizeof(*keys), key_cmp);
    for (i = 0; i < n; i++) {
        char value[512], *line = NULL;

        scalar_cell(json_object_get(map, keys[i]), value, sizeof(value));
        if (asprintf(&line, "%s%s%s", keys[i], sep, value) < 0)
            break;
        ROW(w, 0, i == 0 ? label : "", line);
        free(line);
    }
    free(keys);
}

static void node_taints(struct orchctl_tabw *w, const json_t *node)
{
    json_t *taints = orchctl_json_get(node, "spec.taints");
    size_t i;
    json_t *t;

    if (json_array_size(taints) == 0) {
        ROW(w, 0, "Taints:", "<none>");
        return;
    }
    json_array_foreach(taints, i, t)
    {
        const char *value = str_or(t, "value", NULL);
        char *line = NULL;

        if (asprintf(&line, "%s%s%s:%s", str_or(t, "key", ""), value ? "=" : "",
                     value ? value : "", str_or(t, "effect", "")) < 0)
            break;
        ROW(w, 0, i == 0 ? "Taints:" : "", line);
        free(line);
    }
}

static void node_conditions(struct orchctl_tabw *w, const json_t *node)
{
    json_t *conds = orchctl_json_get(node, "status.conditions");
    size_t i;
    json_t *c;

    if (json_array_size(conds) == 0) {
        ROW(w, 0, "Conditions:", "<none>");
        return;
    }
    ROW(w, 0, "Conditions:");
    ROW(w, 1, "Type", "Status", "LastHeartbeatTime", "LastTransitionTime",
        "Reason", "Message");
    ROW(w, 1, "----", "------", "-----------------", "------------------",
        "------", "-------");
    json_array_foreach(conds, i, c)
    {
        char hb[64], tr[64];

        node_time(str_or(c, "lastHeartbeatTime", NULL), hb, sizeof(hb));
        node_time(str_or(c, "lastTransitionTime", NULL), tr, sizeof(tr));
        ROW(w, 1, str_or(c, "type", ""), str_or(c, "status", ""), hb, tr,
            str_or(c, "reason", ""), str_or(c, "message", ""));
    }
}

/* "Label:" then "  key:\tvalue" for each key of a map of quantities. */
static void node_quantities(struct orchctl_tabw *w, const char *label,
                            const json_t *map)
{
    const char **keys;
    const char *key;
    json_t *v;
    size_t n = 0, i;

    if (!json_is_object(map) || json_object_size(map) == 0)
        return;
    keys = malloc(json_object_size(map) * sizeof(*keys));
    if (!keys)
        return;
    json_object_foreach((json_t *)map, key, v) keys[n++] = key;
    qsort(keys, n, sizeof(*keys), key_cmp);
    ROW(w, 0, label);
    for (i = 0; i < n; i++) {
        char k[256], value[128];

        snprintf(k, sizeof(k), "%s:", keys[i]);
        scalar_cell(json_object_get(map, keys[i]), value, sizeof(value));
        ROW(w, 1, k, value);
    }
    free(keys);
}

static void node_system_info(struct orchctl_tabw *w, const json_t *node)
{
    /* kubectl's lines in its order, then the hypervisor's. */
    static const struct {
        const char *label, *field;
    } lines[] = {
        {"Machine ID:", "machineID"},
        {"System UUID:", "systemUUID"},
        {"Kernel Version:", "kernelVersion"},
        {"OS Image:", "osImage"},
        {"Operating System:", "operatingSystem"},
        {"Architecture:", "architecture"},
        {"Kubelet Version:", "kubeletVersion"},
        {"Libvirt Version:", "libvirtVersion"},
        {"Hypervisor Version:", "hypervisorVersion"},
        {"CPU Model:", "cpuModel"},
    };
    json_t *info = orchctl_json_get(node, "status.nodeInfo");
    size_t i;

    if (!json_is_object(info))
        return;
    ROW(w, 0, "System Info:");
    for (i = 0; i < sizeof(lines) / sizeof(lines[0]); i++)
        ROW(w, 1, lines[i].label, str_or(info, lines[i].field, ""));
}

/* A VF's state: reserved by the migrator, in use (an active domain's
 * interface names it), or free, as the node record's reserved and inUse
 * say. */
static const char *vf_state(const json_t *vf)
{
    if (json_is_true(json_object_get(vf, "reserved")))
        return "reserved";
    if (json_is_true(json_object_get(vf, "inUse")))
        return "in use";
    return "free";
}

/* A boolean cell: "on", "off", or "<none>" when unknown or left alone. */
static const char *onoff(const json_t *v)
{
    return json_is_boolean(v) ? (json_is_true(v) ? "on" : "off") : "<none>";
}

/* The config's networks, one line each: the manifest's networkName to its
 * PF, with what is programmed on a VF and how many of the PF's are free. */
static void node_sriov_networks(struct orchctl_tabw *w, const json_t *node)
{
    json_t *nets = orchctl_json_get(node, "status.sriovNetworks");
    size_t i;
    json_t *net;

    if (json_array_size(nets) == 0) {
        ROW(w, 0, "SR-IOV Networks:", "<none>");
        return;
    }
    ROW(w, 0, "SR-IOV Networks:");
    ROW(w, 1, "NAME", "PF", "MODE", "VLAN", "TRUST", "SPOOFCHK", "FREE VFS");
    ROW(w, 1, "----", "--", "----", "----", "-----", "--------", "--------");
    json_array_foreach(nets, i, net)
    {
        char vlan[32], free_vfs[32];

        scalar_cell(json_object_get(net, "vlan"), vlan, sizeof(vlan));
        if (str_or(net, "error", NULL))
            snprintf(free_vfs, sizeof(free_vfs), "<error>");
        else
            scalar_cell(json_object_get(net, "vfsFree"), free_vfs,
                        sizeof(free_vfs));
        ROW(w, 1, str_or(net, "name", ""), str_or(net, "pf", "<none>"),
            str_or(net, "mode", "<none>"), vlan,
            onoff(json_object_get(net, "trust")),
            onoff(json_object_get(net, "spoofchk")), free_vfs);
    }
}

/* The PFs by interface name with their VFs. */
static void node_sriov_pfs(struct orchctl_tabw *w, const json_t *node)
{
    json_t *pfs = orchctl_json_get(node, "status.sriov.pfs");
    size_t i, k;
    json_t *pf, *vf;

    if (json_array_size(pfs) == 0) {
        ROW(w, 0, "SR-IOV PFs:", "<none>");
        return;
    }
    ROW(w, 0, "SR-IOV PFs:");
    json_array_foreach(pfs, i, pf)
    {
        json_t *vfs = json_object_get(pf, "vfs");
        size_t used = 0, reserved = 0;
        char count[96], names[256] = "", total[32];
        size_t n = 0;

        json_array_foreach(json_object_get(pf, "networks"), k, vf)
        {
            int w;

            if (!json_is_string(vf) || n >= sizeof(names) - 1)
                continue;
            w = snprintf(names + n, sizeof(names) - n, "%s%s", n ? ", " : "",
                         json_string_value(vf));
            n = w < 0 ? n : n + (size_t)w;
        }
        json_array_foreach(vfs, k, vf)
        {
            const char *st = vf_state(vf);

            if (!strcmp(st, "reserved"))
                reserved++;
            else if (!strcmp(st, "in use"))
                used++;
        }
        scalar_cell(json_object_get(pf, "totalVFs"), total, sizeof(total));
        snprintf(count, sizeof(count),
                 "%zu of %s (%zu in use, %zu reserved, %zu free)",
                 json_array_size(vfs), total, used, reserved,
                 json_array_size(vfs) - used - reserved);
        ROW(w, 1, "Name:", str_or(pf, "name", ""));
        ROW(w, 1, "Networks:", names[0] ? names : "<none>");
        if (str_or(pf, "error", NULL)) {
            ROW(w, 1, "Error:", str_or(pf, "error", ""));
            continue;
        }
        if (str_or(pf, "linkError", NULL))
            ROW(w, 1, "Link Error:", str_or(pf, "linkError", ""));
        ROW(w, 1, "VFs:", count);
        if (json_array_size(vfs) == 0)
            continue;
        ROW(w, 2, "INDEX", "PCI", "NETDEV", "MAC", "VLAN", "TRUST", "SPOOFCHK",
            "LINK", "STATE", "USED BY");
        ROW(w, 2, "-----", "---", "------", "---", "----", "-----", "--------",
            "----", "-----", "-------");
        json_array_foreach(vfs, k, vf)
        {
            char index[32], vfvlan[32];

            scalar_cell(json_object_get(vf, "index"), index, sizeof(index));
            scalar_cell(json_object_get(vf, "vlan"), vfvlan, sizeof(vfvlan));
            ROW(w, 2, index, str_or(vf, "pci", "<none>"),
                str_or(vf, "netdev", "<none>"), str_or(vf, "mac", "<none>"),
                vfvlan, onoff(json_object_get(vf, "trust")),
                onoff(json_object_get(vf, "spoofchk")),
                str_or(vf, "linkState", "<none>"), vf_state(vf),
                str_or(vf, "usedBy", "<none>"));
        }
    }
}

static void node_sriov(struct orchctl_tabw *w, const json_t *node)
{
    node_sriov_networks(w, node);
    node_sriov_pfs(w, node);
}

/* A VMI's memory: what the guest has now, else what its spec asks. */
static const char *vmi_memory(const json_t *vmi)
{
    const char *m = str_or(vmi, "status.memory.guestCurrent", NULL);

    if (!m)
        m = str_or(vmi, "spec.domain.resources.requests.memory", NULL);
    if (!m)
        m = str_or(vmi, "spec.domain.memory.guest", NULL);
    return m ? m : "<unknown>";
}

/* A VMI's vCPUs: sockets x cores x threads of its current topology, else
 * of its spec (KubeVirt's defaults of 1 for what is not said). */
static void vmi_vcpus(const json_t *vmi, char *buf, size_t size)
{
    static const char *const where[] = {"status.currentCPUTopology",
                                        "spec.domain.cpu"};
    size_t i;

    for (i = 0; i < sizeof(where) / sizeof(where[0]); i++) {
        json_t *topo = orchctl_json_get(vmi, where[i]);
        json_int_t n = 1;
        bool any = false;
        const char *f[] = {"sockets", "cores", "threads"};
        size_t k;

        if (!json_is_object(topo))
            continue;
        for (k = 0; k < 3; k++) {
            json_int_t v = json_integer_value(json_object_get(topo, f[k]));

            if (v > 0) {
                n *= v;
                any = true;
            }
        }
        if (any) {
            snprintf(buf, size, "%" JSON_INTEGER_FORMAT, n);
            return;
        }
    }
    snprintf(buf, size, "<unknown>");
}

static void node_vmis(struct orchctl_tabw *w, const json_t *vmis)
{
    size_t i, n = 0;
    json_t *vmi;
    char total[48];

    if (!vmis) {
        ROW(w, 0, "Non-terminated VMIs:", "<unknown>");
        return;
    }
    json_array_foreach(vmis, i, vmi)
    {
        if (!orchctl_phase_final(orchctl_json_str(vmi, "status.phase")))
            n++;
    }
    snprintf(total, sizeof(total), "(%zu in total)", n);
    ROW(w, 0, "Non-terminated VMIs:", total);
    if (!n)
        return;
    ROW(w, 1, "Namespace", "Name", "Phase", "Memory", "vCPUs");
    ROW(w, 1, "---------", "----", "-----", "------", "-----");
    json_array_foreach(vmis, i, vmi)
    {
        char vcpus[32];

        if (orchctl_phase_final(orchctl_json_str(vmi, "status.phase")))
            continue;
        vmi_vcpus(vmi, vcpus, sizeof(vcpus));
        ROW(w, 1, str_or(vmi, "metadata.namespace", ""),
            str_or(vmi, "metadata.name", ""),
            str_or(vmi, "status.phase", "Pending"), vmi_memory(vmi), vcpus);
    }
}

static void node_skipped(struct orchctl_tabw *w, const json_t *node)
{
    json_t *skipped = orchctl_json_get(node, "status.skippedDomains");
    size_t i;
    json_t *s;

    if (json_array_size(skipped) == 0) {
        ROW(w, 0, "Skipped Domains:", "<none>");
        return;
    }
    ROW(w, 0, "Skipped Domains:");
    ROW(w, 1, "Name", "Reason");
    ROW(w, 1, "----", "------");
    json_array_foreach(skipped, i, s)
        ROW(w, 1, str_or(s, "name", ""), str_or(s, "reason", ""));
}

/* kubectl's event age: "5m", or "5m (x3 over 20m)" for a repeated one. */
static void event_age(const json_t *ev, time_t now, char *buf, size_t size)
{
    const char *last = str_or(ev, "lastTimestamp", NULL);
    const char *first = str_or(ev, "firstTimestamp", NULL);
    json_int_t count = json_integer_value(json_object_get(ev, "count"));
    time_t tl, tf;
    char a[32], b[32];

    if (!last)
        last = str_or(ev, "eventTime", first);
    if (orchctl_time_parse(last, &tl) < 0) {
        snprintf(buf, size, "<unknown>");
        return;
    }
    orchctl_age_format((long long)(now - tl), a, sizeof(a));
    if (count > 1 && orchctl_time_parse(first, &tf) == 0) {
        orchctl_age_format((long long)(now - tf), b, sizeof(b));
        snprintf(buf, size, "%s (x%" JSON_INTEGER_FORMAT " over %s)", a, count,
                 b);
        return;
    }
    snprintf(buf, size, "%s", a);
}

static void node_events(struct orchctl_tabw *w, const json_t *events,
                        time_t now)
{
    size_t i;
    json_t *ev;

    if (json_array_size(events) == 0) {
        ROW(w, 0, "Events:", "<none>");
        return;
    }
    ROW(w, 0, "Events:");
    ROW(w, 1, "Type", "Reason", "Age", "From", "Message");
    ROW(w, 1, "----", "------", "----", "----", "-------");
    json_array_foreach(events, i, ev)
    {
        char age[96];
        const char *from = str_or(ev, "source.component", NULL);

        if (!from)
            from = str_or(ev, "reportingComponent", "");
        event_age(ev, now, age, sizeof(age));
        ROW(w, 1, str_or(ev, "type", ""), str_or(ev, "reason", ""), age, from,
            str_or(ev, "message", ""));
    }
}

void orchctl_describe_node_print(FILE *out, const json_t *node,
                                 const json_t *vmis, const json_t *events,
                                 time_t now)
{
    struct orchctl_tabw *w = orchctl_tabw_new();
    char roles[256], created[64];

    if (!w) {
        fprintf(out, "(output cut short: out of memory)\n");
        return;
    }
    orchctl_node_roles(node, roles, sizeof(roles));
    node_time(str_or(node, "metadata.creationTimestamp", NULL), created,
              sizeof(created));
    ROW(w, 0, "Name:", str_or(node, "metadata.name", ""));
    ROW(w, 0, "Roles:", roles);
    node_map(w, "Labels:", orchctl_json_get(node, "metadata.labels"), "=");
    node_map(w, "Annotations:", orchctl_json_get(node, "metadata.annotations"),
             ": ");
    ROW(w, 0, "CreationTimestamp:", created);
    node_taints(w, node);
    ROW(w, 0, "Unschedulable:",
        json_is_true(orchctl_json_get(node, "spec.unschedulable")) ? "true"
                                                                   : "false");
    node_conditions(w, node);
    if (json_array_size(orchctl_json_get(node, "status.addresses")) > 0) {
        size_t i;
        json_t *a;

        ROW(w, 0, "Addresses:");
        json_array_foreach(orchctl_json_get(node, "status.addresses"), i, a)
        {
            char type[128];

            snprintf(type, sizeof(type), "%s:", str_or(a, "type", ""));
            ROW(w, 1, type, str_or(a, "address", ""));
        }
    }
    node_quantities(w, "Capacity:", orchctl_json_get(node, "status.capacity"));
    node_quantities(
        w, "Allocatable:", orchctl_json_get(node, "status.allocatable"));
    node_system_info(w, node);
    node_sriov(w, node);
    node_vmis(w, vmis);
    node_skipped(w, node);
    if (events)
        node_events(w, events, now);
    orchctl_tabw_flush(w, out);
    orchctl_tabw_free(w);
}
