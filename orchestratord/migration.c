/*
 * orchestratord: what a VMIM may do next (see migration.h).
 */
#include "orchestratord/migration.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "api/api.h"
#include "orchestratord/orchd.h"

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
    return 0;
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
