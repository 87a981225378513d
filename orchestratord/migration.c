/*
 * orchestratord: what a VMIM may do next (see migration.h).
 */
#include "orchestratord/migration.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "api/api.h"
#include "orchestratord/orchd.h"
#include "orchestratord/sriov.h"

#define VMI_NAME_LABEL "kubevirt.io/vmi-name"

int orch_migration_vmi_check(const json_t *vmi, char *msg, size_t len)
{
    const char *phase = api_doc_get_string(vmi, "status.phase");
    const json_t *conds;

    if (len)
        msg[0] = '\0';
    if (phase &&
        (strcmp(phase, "Succeeded") == 0 || strcmp(phase, "Failed") == 0)) {
        snprintf(msg, len, "Cannot migrate VMI in finalized state.");
        return -EDOM;
    }
    conds = json_object_get(json_object_get(vmi, "status"), "conditions");
    for (size_t i = 0; i < json_array_size(conds); i++) {
        const json_t *c = json_array_get(conds, i);
        const char *type = json_string_value(json_object_get(c, "type"));
        const char *st = json_string_value(json_object_get(c, "status"));
        const char *rs, *ms;

        /* Only an explicit "False" refuses: a VMI whose condition is
         * missing or Unknown has not been judged yet, as in KubeVirt. */
        if (!type || !st || strcmp(type, "LiveMigratable") != 0 ||
            strcmp(st, "False") != 0)
            continue;
        rs = json_string_value(json_object_get(c, "reason"));
        ms = json_string_value(json_object_get(c, "message"));
        snprintf(msg, len, "Cannot migrate VMI, Reason: %s, Message: %s",
                 rs ? rs : "", ms ? ms : "");
        return -EDOM;
    }
    return orch_sriov_vmi_check(vmi, msg, len); /* sriov.h: static MAC+IP */
}

int orch_migration_vmi_admit(struct store *st, const char *ns,
                             const char *vmi_name, char *msg, size_t len)
{
    json_t *vmi = NULL;
    int r;

    if (len)
        msg[0] = '\0';
    r = store_get(st, STORE_KIND_VMI, ns, vmi_name, &vmi);
    if (r == -ENOENT) {
        snprintf(msg, len, "the VMI \"%s/%s\" does not exist", ns, vmi_name);
        return -EDOM;
    }
    if (r < 0)
        return r;
    r = orch_migration_vmi_check(vmi, msg, len);
    json_decref(vmi);
    return r;
}

int orch_migration_check_in_flight(struct store *st, const char *ns,
                                   const char *vmi_name, char *msg, size_t len)
{
    json_t *other = NULL;
    int r;

    if (len)
        msg[0] = '\0';
    r = store_migration_find_in_flight(st, ns, vmi_name, &other);
    if (r == -ENOENT)
        return 0;
    if (r < 0)
        return r;
    {
        const char *oname = api_doc_get_string(other, "metadata.name");
        snprintf(msg, len,
                 "in-flight migration detected. Active migration job (%s) "
                 "is currently already in progress for VMI %s.",
                 oname ? oname : "", vmi_name);
    }
    json_decref(other);
    return -EALREADY;
}

int orch_migration_admit(struct store *st, bool live_migration, const char *ns,
                         json_t *doc, char *msg, size_t len)
{
    const char *vmi_name = api_doc_get_string(doc, "spec.vmiName");
    json_t *md, *labels, *status;
    char now[API_TIME_LEN];
    int r;

    if (len)
        msg[0] = '\0';
    if (!live_migration) {
        snprintf(msg, len,
                 "LiveMigration feature gate is not enabled "
                 "(feature_gates.LiveMigration in orchestratord's "
                 "configuration)");
        return -EDOM;
    }
    if (!vmi_name)
        return -EINVAL; /* validation requires it */
    r = orch_migration_vmi_admit(st, ns, vmi_name, msg, len);
    if (r < 0)
        return r;
    r = orch_migration_check_in_flight(st, ns, vmi_name, msg, len);
    if (r < 0)
        return r;

    md = json_object_get(doc, "metadata");
    labels = json_object_get(md, "labels");
    if (!json_is_object(labels)) {
        labels = json_object();
        if (!labels || json_object_set_new(md, "labels", labels) < 0)
            return -ENOMEM;
    }
    api_time_now(now);
    status = json_pack("{s:s, s:[{s:s, s:s}]}", "phase", "Pending",
                       "phaseTransitionTimestamps", "phase", "Pending",
                       "phaseTransitionTimestamp", now);
    if (json_object_set_new(labels, VMI_NAME_LABEL, json_string(vmi_name)) <
            0 ||
        !status || json_object_set_new(doc, "status", status) < 0)
        return -ENOMEM;
    return 0;
}

enum orch_migration_cancel orch_migration_cancel_action(const json_t *vmim)
{
    int p = orch_vmim_phase(vmim);
    if (p > API_VMIM_PHASE_PENDING && p != API_VMIM_PHASE_SUCCEEDED &&
        p != API_VMIM_PHASE_FAILED)
        return ORCH_MIGRATION_CANCEL_ABORT;
    return ORCH_MIGRATION_CANCEL_DELETE;
}

int orch_migration_request_abort(json_t *vmim)
{
    json_t *status = json_object_get(vmim, "status");
    json_t *ms;
    char now[API_TIME_LEN];

    if (!json_is_object(status)) {
        status = json_object();
        if (!status || json_object_set_new(vmim, "status", status) < 0)
            return -ENOMEM;
    }
    ms = json_object_get(status, "migrationState");
    if (!json_is_object(ms)) {
        ms = json_object();
        if (!ms || json_object_set_new(status, "migrationState", ms) < 0)
            return -ENOMEM;
    }
    if (json_object_set_new(ms, "abortRequested", json_true()) < 0)
        return -ENOMEM;
    api_time_now(now);
    if (!api_doc_get_string(vmim, "metadata.deletionTimestamp") &&
        api_doc_set_string(vmim, "metadata.deletionTimestamp", now) < 0)
        return -ENOMEM;
    return 0;
}

/*
 * The phase machine's rules.
 */

json_t *orch_migration_state(json_t *vmim)
{
    json_t *status = json_object_get(vmim, "status"), *ms;

    if (!json_is_object(status)) {
        status = json_object();
        if (!status || json_object_set_new(vmim, "status", status) < 0)
            return NULL;
    }
    ms = json_object_get(status, "migrationState");
    if (!json_is_object(ms)) {
        ms = json_object();
        if (!ms || json_object_set_new(status, "migrationState", ms) < 0)
            return NULL;
    }
    return ms;
}

int orch_migration_set_phase(json_t *vmim, int phase, const char *now)
{
    const char *name = api_vmim_phase_name((enum api_vmim_phase)phase);
    json_t *status, *tr;

    if (!json_is_object(vmim) || !name)
        return -EINVAL;
    if (orch_vmim_phase(vmim) == phase)
        return 0;
    if (!orch_migration_state(vmim))
        return -ENOMEM;
    status = json_object_get(vmim, "status");
    tr = json_object_get(status, "phaseTransitionTimestamps");
    if (!json_is_array(tr)) {
        tr = json_array();
        if (!tr ||
            json_object_set_new(status, "phaseTransitionTimestamps", tr) < 0)
            return -ENOMEM;
    }
    if (json_object_set_new(status, "phase", json_string(name)) < 0 ||
        json_array_append_new(tr, json_pack("{s:s, s:s}", "phase", name,
                                            "phaseTransitionTimestamp", now)) <
            0)
        return -ENOMEM;
    return 0;
}

int orch_migration_fail(json_t *vmim, const char *reason, const char *now)
{
    json_t *ms = orch_migration_state(vmim);

    if (!ms || json_object_set_new(ms, "completed", json_true()) < 0 ||
        json_object_set_new(ms, "failed", json_true()) < 0 ||
        json_object_set_new(ms, "failureReason", json_string(reason)) < 0 ||
        json_object_set_new(ms, "endTimestamp", json_string(now)) < 0)
        return -ENOMEM;
    return orch_migration_set_phase(vmim, API_VMIM_PHASE_FAILED, now);
}

bool orch_migration_limits_allow(const struct orch_migration_settings *m,
                                 long cluster_active, long source_active)
{
    return cluster_active < m->parallel_migrations_per_cluster &&
           source_active < m->parallel_outbound_migrations_per_node;
}

/* KubeVirt's countMatchingLabels: whether every label of SEL is in
 * LABELS with its value, and how many there are. */
static bool selector_count(const json_t *sel, const json_t *labels, long *ret_n)
{
    const char *k;
    const json_t *v;

    *ret_n = 0;
    json_object_foreach((json_t *)sel, k, v)
    {
        const char *have = json_string_value(json_object_get(labels, k));
        const char *want = json_string_value(v);
        if (!have || !want || strcmp(have, want) != 0)
            return false;
        (*ret_n)++;
    }
    return true;
}

const json_t *orch_migration_policy_match(const json_t *policies,
                                          const json_t *vmi_labels,
                                          const char *ns)
{
    const json_t *best = NULL;
    long best_total = -1, best_vmi = -1;
    json_t *ns_labels =
        json_pack("{s:s}", "kubernetes.io/metadata.name", ns ? ns : "");

    for (size_t i = 0; i < json_array_size(policies); i++) {
        const json_t *p = json_array_get(policies, i);
        const json_t *sels =
            json_object_get(json_object_get(p, "spec"), "selectors");
        const char *name = api_doc_get_string(p, "metadata.name");
        long nv, nn;

        if (!name ||
            !selector_count(
                json_object_get(sels, "virtualMachineInstanceSelector"),
                vmi_labels, &nv) ||
            !selector_count(json_object_get(sels, "namespaceSelector"),
                            ns_labels, &nn))
            continue;
        if (nv + nn > best_total ||
            (nv + nn == best_total &&
             (nv > best_vmi ||
              (nv == best_vmi &&
               strcmp(name, api_doc_get_string(best, "metadata.name")) < 0)))) {
            best = p;
            best_total = nv + nn;
            best_vmi = nv;
        }
    }
    json_decref(ns_labels);
    return best;
}

json_t *orch_migration_config_resolve(const struct orch_migration_settings *m,
                                      const json_t *policy)
{
    const json_t *spec = json_object_get(policy, "spec");
    const json_t *v;
    json_t *c = json_pack(
        "{s:b, s:s, s:I, s:I, s:I, s:I, s:I, s:b, s:b, s:b, s:b}",
        "allowAutoConverge", m->allow_auto_converge, "bandwidthPerMigration",
        m->bandwidth_per_migration ? m->bandwidth_per_migration : "0Mi",
        "completionTimeoutPerGiB", (json_int_t)m->completion_timeout_per_gib,
        "progressTimeout", (json_int_t)m->progress_timeout,
        "parallelMigrationsPerCluster",
        (json_int_t)m->parallel_migrations_per_cluster,
        "parallelOutboundMigrationsPerNode",
        (json_int_t)m->parallel_outbound_migrations_per_node, "maxDowntimeMs",
        (json_int_t)m->max_downtime_ms, "allowPostCopy", m->allow_post_copy,
        "allowWorkloadDisruption", m->allow_workload_disruption, "disableTLS",
        m->disable_tls, "unsafeMigrationOverride",
        m->unsafe_migration_override);
    static const char *const fields[] = {
        "allowAutoConverge", "bandwidthPerMigration", "completionTimeoutPerGiB",
        "maxDowntimeMs",     "allowPostCopy",         "allowWorkloadDisruption",
    };

    if (!c)
        return NULL;
    /* 0 is "libvirt's own", which KubeVirt's API (1..2000000) cannot
     * say: left out, as KubeVirt leaves out what is not set. */
    if (m->max_downtime_ms == 0)
        json_object_del(c, "maxDowntimeMs");
    for (size_t i = 0; i < sizeof(fields) / sizeof(*fields); i++)
        if ((v = json_object_get(spec, fields[i])) && !json_is_null(v))
            json_object_set(c, fields[i], (json_t *)v);
    /* KubeVirt's policy: allowWorkloadDisruption unset follows the
     * policy's allowPostCopy (the cluster's own fallback is the
     * configuration's, conf_orchestratord.c).  Both go to the migrate job
     * as explicit booleans. */
    v = json_object_get(spec, "allowPostCopy");
    if (json_is_boolean(v) &&
        !json_is_boolean(json_object_get(spec, "allowWorkloadDisruption")))
        json_object_set(c, "allowWorkloadDisruption", (json_t *)v);
    return c;
}

static int64_t quantity_at(const json_t *doc, const char *path)
{
    const char *q = api_doc_get_string(doc, path);
    int64_t v = 0;

    if (!q || api_quantity_parse(q, &v) < 0 || v < 0)
        return 0;
    return v;
}

int64_t orch_migration_vmi_memory(const json_t *vmi)
{
    static const char *const paths[] = {
        "spec.domain.memory.guest",
        "spec.domain.resources.requests.memory",
        "spec.domain.resources.limits.memory",
        "status.memory.guestCurrent",
    };
    for (size_t i = 0; i < sizeof(paths) / sizeof(*paths); i++) {
        int64_t v = quantity_at(vmi, paths[i]);
        if (v > 0)
            return v;
    }
    return 0;
}

int orch_migration_domain_name(const json_t *vmi, char *buf, size_t len)
{
    const char *ns = api_doc_get_string(vmi, "metadata.namespace");
    const char *name = api_doc_get_string(vmi, "metadata.name");
    const char *disc;
    int n;

    if (!ns)
        ns = "default";
    if (!name)
        name = "";
    /* api_doc_get_string() splits at every dot: read the annotation
     * directly. */
    disc = json_string_value(json_object_get(
        json_object_get(json_object_get(vmi, "metadata"), "annotations"),
        "orchestrator.io/discovered"));
    if (strcmp(ns, "default") == 0 && disc && strcmp(disc, "true") == 0)
        n = snprintf(buf, len, "%s", name);
    else
        n = snprintf(buf, len, "%s_%s", ns, name);
    return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

static bool node_ready(const json_t *node)
{
    const json_t *conds =
        json_object_get(json_object_get(node, "status"), "conditions");
    for (size_t i = 0; i < json_array_size(conds); i++) {
        const json_t *c = json_array_get(conds, i);
        const char *t = json_string_value(json_object_get(c, "type"));
        const char *s = json_string_value(json_object_get(c, "status"));
        if (t && strcmp(t, "Ready") == 0)
            return s && strcmp(s, "True") == 0;
    }
    return false;
}

/* Append "NAME WHY" to the message MSG of LEN bytes (at *POS). */
static void msg_add(char *msg, size_t len, size_t *pos, const char *name,
                    const char *why)
{
    int n;

    if (*pos >= len)
        return;
    n = snprintf(msg + *pos, len - *pos, "%s%s %s", *pos ? ", " : "", name,
                 why);
    if (n > 0)
        *pos += (size_t)n;
    if (*pos >= len)
        *pos = len;
}

int orch_migration_pick_target(const json_t *nodes, const char *source,
                               const json_t *selector, int64_t need,
                               orch_node_used_fn used, void *used_arg,
                               const json_t **ret_node, char *msg, size_t len)
{
    const json_t *best = NULL;
    int64_t best_free = 0;
    size_t others = 0, pos = 0;
    char why[1024] = "";

    if (len)
        msg[0] = '\0';
    for (size_t i = 0; i < json_array_size(nodes); i++) {
        const json_t *n = json_array_get(nodes, i);
        const char *name = api_doc_get_string(n, "metadata.name");
        const json_t *unsched =
            json_object_get(json_object_get(n, "spec"), "unschedulable");
        const json_t *ann =
            json_object_get(json_object_get(n, "metadata"), "annotations");
        int64_t cap, free_mem;

        if (!name || (source && strcmp(name, source) == 0))
            continue;
        others++;
        if (!node_ready(n)) {
            msg_add(why, sizeof(why), &pos, name, "is not Ready");
            continue;
        }
        if (json_is_true(unsched)) {
            msg_add(why, sizeof(why), &pos, name, "is unschedulable");
            continue;
        }
        if (!api_labels_match_map(
                selector,
                json_object_get(json_object_get(n, "metadata"), "labels"))) {
            msg_add(why, sizeof(why), &pos, name,
                    "does not match addedNodeSelector");
            continue;
        }
        if (!json_string_value(
                json_object_get(ann, "orchestrator.io/agent-url"))) {
            msg_add(why, sizeof(why), &pos, name, "has no agent URL");
            continue;
        }
        cap = quantity_at(n, "status.allocatable.memory");
        if (cap <= 0)
            cap = quantity_at(n, "status.capacity.memory");
        free_mem = cap - (used ? used(name, used_arg) : 0);
        if (free_mem < need) {
            msg_add(why, sizeof(why), &pos, name, "has not enough free memory");
            continue;
        }
        if (!best || free_mem > best_free ||
            (free_mem == best_free &&
             strcmp(name, api_doc_get_string(best, "metadata.name")) < 0)) {
            best = n;
            best_free = free_mem;
        }
    }
    if (best) {
        *ret_node = best;
        return 0;
    }
    if (!others)
        snprintf(msg, len,
                 "no node to migrate to: there is no node other than the "
                 "source '%s'",
                 source ? source : "");
    else
        snprintf(msg, len, "no node to migrate to: %zu other node%s: %s",
                 others, others == 1 ? "" : "s", why);
    return -ENOENT;
}

/* Append to OUT the VMIs of migrations from Scheduled to Running with NODE
 * as targetNode.  Returns 0 or a store error or -ENOMEM. */
static int migrating_to(struct store *st, const char *node, json_t *out)
{
    const char *moving[] = {
        api_vmim_phase_name(API_VMIM_PHASE_SCHEDULED),
        api_vmim_phase_name(API_VMIM_PHASE_PREPARING_TARGET),
        api_vmim_phase_name(API_VMIM_PHASE_TARGET_READY),
        api_vmim_phase_name(API_VMIM_PHASE_RUNNING),
    };
    /* node_name finds a migration by its source as well: targetNode is
     * checked below. */
    struct store_list_opts mo = {
        .node_name = node, .phases = moving, .n_phases = 4};
    struct store_page migs = {0};
    const json_t *m;
    size_t i;
    int r;

    r = store_list(st, STORE_KIND_MIGRATION, NULL, &mo, &migs);
    if (r < 0)
        return r;
    json_array_foreach(migs.items, i, m)
    {
        const char *target =
            api_doc_get_string(m, "status.migrationState.targetNode");
        json_t *v = NULL;

        if (!target || strcmp(target, node) != 0)
            continue;
        r = store_get(st, STORE_KIND_VMI,
                      api_doc_get_string(m, "metadata.namespace"),
                      api_doc_get_string(m, "spec.vmiName"), &v);
        if (r == -ENOENT) {
            r = 0;
            continue; /* the VMI is gone: it takes nothing there */
        }
        if (r < 0)
            break;
        if (json_array_append_new(out, v) < 0) {
            r = -ENOMEM;
            break;
        }
    }
    store_page_release(&migs);
    return r;
}

int orch_migration_incoming(struct store *st, const char *node, json_t **ret)
{
    static const char *const starting[] = {"Scheduling", "Scheduled"};
    struct store_list_opts so = {
        .node_name = node, .phases = starting, .n_phases = 2};
    struct store_page vmis = {0};
    json_t *out = json_array();
    int r;

    if (!out)
        return -ENOMEM;
    r = migrating_to(st, node, out);
    if (r == 0)
        r = store_list(st, STORE_KIND_VMI, NULL, &so, &vmis);
    if (r == 0 && json_array_extend(out, vmis.items) < 0)
        r = -ENOMEM;
    store_page_release(&vmis);
    if (r < 0) {
        json_decref(out);
        return r;
    }
    *ret = out;
    return 0;
}

int64_t orch_migration_node_used(struct store *st, const char *node)
{
    struct store_list_opts o = {.node_name = node};
    struct store_page page = {0};
    json_t *in = json_array();
    const json_t *v;
    int64_t used = 0;
    size_t i;

    if (store_list(st, STORE_KIND_VMI, NULL, &o, &page) == 0) {
        json_array_foreach(page.items, i, v)
        {
            const char *ph = api_doc_get_string(v, "status.phase");

            if (!ph ||
                (strcmp(ph, "Succeeded") != 0 && strcmp(ph, "Failed") != 0))
                used += orch_migration_vmi_memory(v);
        }
    }
    store_page_release(&page);
    /* The migrating ones are still on their source: one whose record
     * names NODE already is counted above. */
    if (in && migrating_to(st, node, in) == 0) {
        json_array_foreach(in, i, v)
        {
            const char *on = api_doc_get_string(v, "status.nodeName");

            if (!on || strcmp(on, node) != 0)
                used += orch_migration_vmi_memory(v);
        }
    }
    json_decref(in);
    return used;
}
