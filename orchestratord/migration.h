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

#endif
