/*
 * orchestratord: what a VirtualMachineInstanceMigration (VMIM) may do next.
 *
 * The rules live here once, used by the REST handlers (admission on POST,
 * cancel on DELETE) and by the migration controller alike, so a new rule
 * (disks, SR-IOV MACs) is written in one place.  The functions decide; they
 * neither answer HTTP nor log.  A refusal comes as a negative errno that
 * orch_status_for_errno() maps to the API server's code (-EDOM 422 Invalid,
 * -EALREADY 409 Conflict) and a message worded as KubeVirt's
 * migration-create admitter words it, without the "admission webhook ...
 * denied the request: " prefix, which is the handlers' to add.
 *
 * Threads: the loop thread (the store handle is the server's).
 */
#ifndef ORCH_MIGRATION_H
#define ORCH_MIGRATION_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "store/store.h"

struct orch_migration_settings;

/* Whether the VMI object VMI may be migrated: its phase is not final
 * (Succeeded, Failed) and it has no LiveMigratable condition with status
 * "False".  Returns 0, or -EDOM with the reason in MSG (LEN bytes, always
 * NUL-terminated):
 *   "Cannot migrate VMI in finalized state."
 *   "Cannot migrate VMI, Reason: <reason>, Message: <message>" */
int orch_migration_vmi_check(const json_t *vmi, char *msg, size_t len);

/* orch_migration_vmi_check() on the stored VMI NS/NAME.  Returns 0, -EDOM
 * with MSG as above or, when there is no such VMI,
 *   "the VMI \"<ns>/<name>\" does not exist"
 * or a store error (MSG then empty). */
int orch_migration_vmi_admit(struct store *st, const char *ns,
                             const char *vmi_name, char *msg, size_t len);

/* The one-migration-at-a-time rule: no other VMIM for the VMI NS/VMI_NAME
 * may be in flight (phase neither Succeeded nor Failed).  Returns 0,
 * -EALREADY with MSG
 *   "in-flight migration detected. Active migration job (<name>) is
 *    currently already in progress for VMI <vmi>."
 * or a store error (MSG then empty). */
int orch_migration_check_in_flight(struct store *st, const char *ns,
                                   const char *vmi_name, char *msg, size_t len);

/* Everything admission decides for the new VMIM DOC (already validated)
 * in namespace NS, in order: the LiveMigration feature gate
 * (LIVE_MIGRATION), the VMI, the in-flight rule.  On success DOC gets the
 * kubevirt.io/vmi-name label and its initial status (phase Pending with
 * its transition timestamp), as KubeVirt's mutator and controller set them.
 * Returns 0, or the first refusal as above (-EDOM for the gate: "LiveMigration
 * feature gate is not enabled ..."), or a store error or -ENOMEM. */
int orch_migration_admit(struct store *st, bool live_migration, const char *ns,
                         json_t *doc, char *msg, size_t len);

/* What DELETE of a VMIM does.  One between Scheduling and Running has work
 * on hosts to undo, so DELETE only asks for the abort (KubeVirt's
 * migrationState.abortRequested) and the record stays until the controller
 * finishes it; one that has not started (no phase, Pending) or is final
 * goes at once. */
enum orch_migration_cancel {
    ORCH_MIGRATION_CANCEL_DELETE = 0,
    ORCH_MIGRATION_CANCEL_ABORT,
};

/* Which of the two DELETE does to the VMIM object VMIM. */
enum orch_migration_cancel orch_migration_cancel_action(const json_t *vmim);

/* Mark VMIM (in place) as asked to abort: migrationState.abortRequested
 * true and, unless already set, metadata.deletionTimestamp now.  The
 * caller stores it.  Returns 0 or -ENOMEM. */
int orch_migration_request_abort(json_t *vmim);

/*
 * The phase machine's rules, for the controller (controller.h).  Pure
 * functions of the records they are given: no store, no clock.
 */

/* Set VMIM's status.phase to PHASE (an enum api_vmim_phase) and append
 * {phase, phaseTransitionTimestamp: NOW} to phaseTransitionTimestamps,
 * unless the phase is already PHASE.  Returns 0, -EINVAL (not an object)
 * or -ENOMEM. */
int orch_migration_set_phase(json_t *vmim, int phase, const char *now);

/* The object status.migrationState of VMIM, made if absent; NULL on
 * ENOMEM. */
json_t *orch_migration_state(json_t *vmim);

/* End VMIM as Failed: migrationState completed, failed, failureReason
 * REASON, endTimestamp NOW; status.progress kept as it last was.  Returns
 * as orch_migration_set_phase(). */
int orch_migration_fail(json_t *vmim, const char *reason, const char *now);

/* Whether the parallel limits of M let one more migration leave
 * SOURCE_ACTIVE being under way from its node, CLUSTER_ACTIVE in all:
 * KubeVirt counts migrations past Pending and not final. */
bool orch_migration_limits_allow(const struct orch_migration_settings *m,
                                 long cluster_active, long source_active);

/* The MigrationPolicy of POLICIES (a JSON array of MigrationPolicy
 * objects) that applies to a VMI with labels VMI_LABELS (an object, may be
 * NULL) in namespace NS, as KubeVirt's MatchPolicy chooses: every label of
 * both selectors must match (an empty selector matches everything); the
 * most matching labels wins, then the most matching VMI labels, then the
 * smallest name.  Namespaces have no records here: a namespace's labels
 * are {"kubernetes.io/metadata.name": NS}, the one Kubernetes sets on
 * every namespace.  Returns a borrowed element or NULL (none applies). */
const json_t *orch_migration_policy_match(const json_t *policies,
                                          const json_t *vmi_labels,
                                          const char *ns);

/* migrationState.migrationConfiguration for a migration: the cluster
 * settings M with the fields POLICY (may be NULL) sets applied on top
 * (allowAutoConverge, bandwidthPerMigration, completionTimeoutPerGiB,
 * maxDowntimeMs, allowPostCopy, allowWorkloadDisruption, which follows the
 * policy's allowPostCopy when the policy leaves it unset; the migrate job
 * gets it as an explicit boolean).  maxDowntimeMs is left out while it is
 * 0 (libvirt's own).  Returns a new object or NULL (ENOMEM). */
json_t *orch_migration_config_resolve(const struct orch_migration_settings *m,
                                      const json_t *policy);

/* Bytes of guest memory of the VMI object VMI as KubeVirt sizes it
 * (spec.domain.memory.guest, else resources.requests.memory, else
 * limits.memory, else status.memory.guestCurrent); 0 when unknown. */
int64_t orch_migration_vmi_memory(const json_t *vmi);

/* The libvirt domain name of the VMI object VMI (hosts.h's mapping read
 * backwards): "NAME" for a VMI found as a domain of that name in namespace
 * "default" (annotation orchestrator.io/discovered), else "NS_NAME".
 * Writes at most LEN bytes; returns 0 or -ENAMETOOLONG. */
int orch_migration_domain_name(const json_t *vmi, char *buf, size_t len);

/* Memory in use on a node, for orch_migration_pick_target(): bytes of the
 * VMIs on NODE plus those on their way to it. */
typedef int64_t (*orch_node_used_fn)(const char *node, void *arg);

/* The VMIs on their way to node NODE whose VFs (sriov.h: work in flight)
 * its last report may not show yet: those of migrations from Scheduled to
 * Running with NODE as targetNode, and those placed on NODE that do not
 * run yet (phase Scheduling or Scheduled with status.nodeName NODE).  Read
 * from the store, so a change written a moment ago counts.  Returns 0 and
 * a new JSON array of VMI objects in *RET (the caller decrefs it), or a
 * store error or -ENOMEM. */
int orch_migration_incoming(struct store *st, const char *node, json_t **ret);

/* Bytes of memory in use on NODE, an orch_node_used_fn's answer: its VMIs
 * that have not ended, plus those migrating to it
 * (orch_migration_incoming), read from the store so that migrations
 * scheduled a moment ago in the same pass count.  A store error counts
 * what was read. */
int64_t orch_migration_node_used(struct store *st, const char *node);

/* Choose the target of a migration among NODES (a JSON array of Node
 * objects): Ready=True, not spec.unschedulable, not SOURCE, with an agent
 * URL (annotation orchestrator.io/agent-url), matching SELECTOR
 * (spec.addedNodeSelector, may be NULL) and with NEED bytes of memory free
 * (status.capacity.memory minus USED(node)); of those, the one with the
 * most free memory, then the smallest name.  Returns 0 and the chosen node
 * (borrowed) in *RET_NODE, or -ENOENT with what ruled each node out in MSG
 * (LEN bytes), e.g.
 *   "no node to migrate to: 3 other nodes: hv02 is not Ready, hv03 is
 *    unschedulable, hv04 does not match addedNodeSelector"
 * or "no node to migrate to: there is no node other than the source
 * 'hv01'". */
int orch_migration_pick_target(const json_t *nodes, const char *source,
                               const json_t *selector, int64_t need,
                               orch_node_used_fn used, void *used_arg,
                               const json_t **ret_node, char *msg, size_t len);

#endif
