/*
 * orchestratord: meta.k8s.io/v1 Table responses, the server-side printing
 * kubectl get asks for (Accept: application/json;as=Table;v=v1;
 * g=meta.k8s.io).  The columns are KubeVirt's additionalPrinterColumns for
 * its kinds and kubelet's for nodes, so `kubectl get vmim` prints what it
 * prints against a KubeVirt cluster.
 */
#include "orchestratord/kubeapi.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

bool orch_accept_table(const char *accept)
{
    const char *p = accept;

    /* The first media range decides: a client lists Table first when it
     * wants one and plain JSON after it as the fallback. */
    while (p && *p) {
        char range[256];
        size_t n = strcspn(p, ",");
        bool json = false, table = false, meta = false, v1 = false;
        const char *q;

        if (n >= sizeof(range))
            return false;
        memcpy(range, p, n);
        range[n] = '\0';
        p += n + (p[n] == ',');
        for (q = strtok(range, ";"); q; q = strtok(NULL, ";")) {
            while (*q == ' ')
                q++;
            if (!strcasecmp(q, "application/json"))
                json = true;
            else if (!strcmp(q, "as=Table"))
                table = true;
            else if (!strcmp(q, "g=meta.k8s.io"))
                meta = true;
            else if (!strcmp(q, "v=v1") || !strcmp(q, "v=v1beta1"))
                v1 = true;
        }
        if (json && table && meta && v1)
            return true;
        if (json || strstr(p, "as=") == NULL)
            return false;
    }
    return false;
}

/* Kubernetes' duration.HumanDuration: "45s", "3m20s", "5h", "12d". */
static void human_age(long long s, char *buf, size_t len)
{
    long long m = s / 60, h = s / 3600, d = h / 24, y = d / 365;

    if (s < -1)
        snprintf(buf, len, "<invalid>");
    else if (s < 0)
        snprintf(buf, len, "0s");
    else if (s < 120)
        snprintf(buf, len, "%llds", s);
    else if (m < 10 && s % 60)
        snprintf(buf, len, "%lldm%llds", m, s % 60);
    else if (m < 180)
        snprintf(buf, len, "%lldm", m);
    else if (h < 8 && m % 60)
        snprintf(buf, len, "%lldh%lldm", h, m % 60);
    else if (h < 48)
        snprintf(buf, len, "%lldh", h);
    else if (h < 24 * 8 && h % 24)
        snprintf(buf, len, "%lldd%lldh", d, h % 24);
    else if (d < 365 * 2)
        snprintf(buf, len, "%lldd", d);
    else if (d < 365 * 8 && d % 365)
        snprintf(buf, len, "%lldy%lldd", y, d % 365);
    else
        snprintf(buf, len, "%lldy", y);
}

static const json_t *path_get(const json_t *obj, const char *path)
{
    const json_t *v = obj;
    const char *p = path;

    while (v && *p) {
        size_t n = strcspn(p, ".");
        v = json_is_object(v) ? json_object_getn(v, p, n) : NULL;
        p += n + (p[n] == '.');
    }
    return v;
}

static json_t *cell_string(const json_t *obj, const char *path)
{
    const char *s = json_string_value(path_get(obj, path));
    return json_string(s ? s : "");
}

static json_t *cell_age(const json_t *obj, const char *path, long long now)
{
    int64_t t;
    char buf[32];
    const char *s = json_string_value(path_get(obj, path));

    if (!s || api_time_parse(s, &t) < 0)
        return json_string("<unknown>");
    human_age(now - (long long)t, buf, sizeof(buf));
    return json_string(buf);
}

/* The status of the condition of TYPE in obj.status.conditions, or "". */
static json_t *cell_condition(const json_t *obj, const char *type)
{
    const json_t *conds = path_get(obj, "status.conditions");
    for (size_t i = 0; i < json_array_size(conds); i++) {
        const json_t *c = json_array_get(conds, i);
        const char *t = json_string_value(json_object_get(c, "type"));
        if (t && !strcmp(t, type))
            return cell_string(c, "status");
    }
    return json_string("");
}

/* kubectl's node STATUS: Ready / NotReady / Unknown, then
 * SchedulingDisabled when cordoned. */
static json_t *cell_node_status(const json_t *node)
{
    const json_t *conds = path_get(node, "status.conditions");
    const char *st = "Unknown";
    char buf[64];

    for (size_t i = 0; i < json_array_size(conds); i++) {
        const json_t *c = json_array_get(conds, i);
        const char *t = json_string_value(json_object_get(c, "type"));
        const char *s = json_string_value(json_object_get(c, "status"));
        if (t && s && !strcmp(t, "Ready"))
            st = !strcmp(s, "True")    ? "Ready"
                 : !strcmp(s, "False") ? "NotReady"
                                       : "Unknown";
    }
    snprintf(buf, sizeof(buf), "%s%s", st,
             json_is_true(path_get(node, "spec.unschedulable"))
                 ? ",SchedulingDisabled"
                 : "");
    return json_string(buf);
}

/* kubectl's node ROLES: the X of node-role.kubernetes.io/X labels (and
 * kubernetes.io/role=X), sorted, or <none>. */
static json_t *cell_node_roles(const json_t *node)
{
    const json_t *labels = path_get(node, "metadata.labels");
    const char *k;
    json_t *v;
    char buf[256] = "";
    size_t o = 0;
    const char *pfx = "node-role.kubernetes.io/";

    json_object_foreach((json_t *)labels, k, v)
    {
        const char *role = NULL;
        if (!strncmp(k, pfx, strlen(pfx)) && k[strlen(pfx)])
            role = k + strlen(pfx);
        else if (!strcmp(k, "kubernetes.io/role") && json_string_value(v))
            role = json_string_value(v);
        if (role && o < sizeof(buf))
            o += (size_t)snprintf(buf + o, sizeof(buf) - o, "%s%s",
                                  o ? "," : "", role);
    }
    return json_string(o ? buf : "<none>");
}

static json_t *cell_node_version(const json_t *node)
{
    const char *v = json_string_value(path_get(node, "status.nodeInfo."
                                                     "kubeletVersion"));
    if (!v)
        v = json_string_value(
            json_object_get(path_get(node, "metadata.annotations"),
                            "orchestrator.io/agent-version"));
    return json_string(v ? v : "");
}

static json_t *cell_vmi_ip(const json_t *vmi)
{
    const json_t *ifs = path_get(vmi, "status.interfaces");
    return cell_string(json_array_get(ifs, 0), "ipAddress");
}

enum col {
    C_NAME,
    C_AGE,
    C_VMIM_PHASE,
    C_VMIM_VMI,
    C_VMI_PHASE,
    C_VMI_IP,
    C_VMI_NODE,
    C_READY,
    C_LIVE_MIGRATABLE,
    C_PAUSED,
    C_VM_STATUS,
    C_NODE_STATUS,
    C_NODE_ROLES,
    C_NODE_VERSION,
    C_EV_LAST_SEEN,
    C_EV_TYPE,
    C_EV_REASON,
    C_EV_OBJECT,
    C_EV_MESSAGE,
};

struct column {
    enum col col;
    const char *name, *type, *format, *description;
    int priority;
};

#define NAME_COL                                                               \
    {                                                                          \
        C_NAME, "Name", "string", "name",                                      \
            "Name must be unique within a namespace.", 0                       \
    }
#define AGE_COL                                                                \
    {                                                                          \
        C_AGE, "Age", "date", "",                                              \
            "CreationTimestamp is a timestamp representing the server time "   \
            "when "                                                            \
            "this object was created.",                                        \
            0                                                                  \
    }

static const struct column vmim_cols[] = {
    NAME_COL,
    {C_VMIM_PHASE, "Phase", "string", "",
     "The current phase of VM instance migration", 0},
    {C_VMIM_VMI, "VMI", "string", "",
     "The name of the VMI to perform the migration on", 0},
    {0},
};
static const struct column vmi_cols[] = {
    NAME_COL,
    AGE_COL,
    {C_VMI_PHASE, "Phase", "string", "", "", 0},
    {C_VMI_IP, "IP", "string", "", "", 0},
    {C_VMI_NODE, "NodeName", "string", "", "", 0},
    {C_READY, "Ready", "string", "", "", 0},
    {C_LIVE_MIGRATABLE, "Live-Migratable", "string", "", "", 1},
    {C_PAUSED, "Paused", "string", "", "", 1},
    {0},
};
static const struct column vm_cols[] = {
    NAME_COL,
    AGE_COL,
    {C_VM_STATUS, "Status", "string", "", "Human Readable Status", 0},
    {C_READY, "Ready", "string", "", "", 0},
    {0},
};
static const struct column node_cols[] = {
    NAME_COL,
    {C_NODE_STATUS, "Status", "string", "", "The status of the node", 0},
    {C_NODE_ROLES, "Roles", "string", "", "The roles of the node", 0},
    AGE_COL,
    {C_NODE_VERSION, "Version", "string", "",
     "Kubelet Version reported by the node.", 0},
    {0},
};
static const struct column plain_cols[] = {NAME_COL, AGE_COL, {0}};
static const struct column event_cols[] = {
    {C_EV_LAST_SEEN, "Last Seen", "string", "",
     "The time since the event was last seen", 0},
    {C_EV_TYPE, "Type", "string", "", "Normal or Warning", 0},
    {C_EV_REASON, "Reason", "string", "", "Why the event was recorded", 0},
    {C_EV_OBJECT, "Object", "string", "", "The object it is about", 0},
    {C_EV_MESSAGE, "Message", "string", "", "What happened", 0},
    {0},
};

static json_t *cell(enum col c, const json_t *o, long long now)
{
    switch (c) {
    case C_NAME:
        return cell_string(o, "metadata.name");
    case C_AGE:
        return cell_age(o, "metadata.creationTimestamp", now);
    case C_VMIM_PHASE:
    case C_VMI_PHASE:
        return cell_string(o, "status.phase");
    case C_VMIM_VMI:
        return cell_string(o, "spec.vmiName");
    case C_VMI_IP:
        return cell_vmi_ip(o);
    case C_VMI_NODE:
        return cell_string(o, "status.nodeName");
    case C_READY:
        return cell_condition(o, "Ready");
    case C_LIVE_MIGRATABLE:
        return cell_condition(o, "LiveMigratable");
    case C_PAUSED:
        return cell_condition(o, "Paused");
    case C_VM_STATUS:
        return cell_string(o, "status.printableStatus");
    case C_NODE_STATUS:
        return cell_node_status(o);
    case C_NODE_ROLES:
        return cell_node_roles(o);
    case C_NODE_VERSION:
        return cell_node_version(o);
    case C_EV_LAST_SEEN:
        return cell_age(o, "lastTimestamp", now);
    case C_EV_TYPE:
        return cell_string(o, "type");
    case C_EV_REASON:
        return cell_string(o, "reason");
    case C_EV_OBJECT: {
        const char *k = json_string_value(path_get(o, "involvedObject.kind"));
        const char *n = json_string_value(path_get(o, "involvedObject.name"));
        char buf[512];
        char lower[128];
        size_t i = 0;
        for (; k && k[i] && i + 1 < sizeof(lower); i++)
            lower[i] = (char)((k[i] >= 'A' && k[i] <= 'Z') ? k[i] + 32 : k[i]);
        lower[i] = '\0';
        snprintf(buf, sizeof(buf), "%s/%s", lower, n ? n : "");
        return json_string(buf);
    }
    case C_EV_MESSAGE:
        return cell_string(o, "message");
    }
    return json_string("");
}

static json_t *table_build(const struct column *cols, const json_t *items,
                           const json_t *list_meta, const char *include,
                           long long now)
{
    json_t *defs = json_array(), *rows = json_array(), *md;

    if (!defs || !rows)
        goto nomem;
    for (const struct column *c = cols; c->name; c++)
        json_array_append_new(
            defs, json_pack("{s:s, s:s, s:s, s:s, s:i}", "name", c->name,
                            "type", c->type, "format", c->format, "description",
                            c->description, "priority", c->priority));
    for (size_t i = 0; i < json_array_size(items); i++) {
        const json_t *o = json_array_get(items, i);
        json_t *cells = json_array(), *row;
        if (!cells)
            goto nomem;
        for (const struct column *c = cols; c->name; c++)
            json_array_append_new(cells, cell(c->col, o, now));
        row = json_pack("{s:o}", "cells", cells);
        if (!row)
            goto nomem;
        if (include && !strcmp(include, "Object"))
            json_object_set(row, "object", (json_t *)o);
        else if (!include || strcmp(include, "None"))
            json_object_set_new(row, "object",
                                json_pack("{s:s, s:s, s:O}", "kind",
                                          "PartialObjectMetadata", "apiVersion",
                                          "meta.k8s.io/v1", "metadata",
                                          json_object_get(o, "metadata")));
        json_array_append_new(rows, row);
    }
    md = list_meta ? json_incref((json_t *)list_meta) : json_object();
    return json_pack("{s:s, s:s, s:o, s:o, s:o}", "kind", "Table", "apiVersion",
                     "meta.k8s.io/v1", "metadata", md, "columnDefinitions",
                     defs, "rows", rows);
nomem:
    json_decref(defs);
    json_decref(rows);
    return NULL;
}

json_t *orch_table_new(enum api_kind kind, const json_t *items,
                       const json_t *list_meta, const char *include_object,
                       long long now)
{
    const struct column *cols = plain_cols;

    switch (kind) {
    case API_KIND_VMIM:
        cols = vmim_cols;
        break;
    case API_KIND_VMI:
        cols = vmi_cols;
        break;
    case API_KIND_VM:
        cols = vm_cols;
        break;
    case API_KIND_NODE:
        cols = node_cols;
        break;
    default:
        break;
    }
    return table_build(cols, items, list_meta, include_object, now);
}

json_t *orch_table_events(const json_t *items, const json_t *list_meta,
                          const char *include_object, long long now)
{
    return table_build(event_cols, items, list_meta, include_object, now);
}
