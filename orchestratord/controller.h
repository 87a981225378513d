/*
 * orchestratord/controller: the migration controller.  It drives each
 * VirtualMachineInstanceMigration through KubeVirt's phases
 *   Pending -> Scheduling -> Scheduled -> PreparingTarget -> TargetReady
 *   -> Running -> Succeeded | Failed
 * with the rules of migration.h, the records in the store and the hosts'
 * migrators reached through the agent client seam (agent_client.h).  It
 * never calls libvirt.
 *
 * Level-triggered: a pass lists the migrations in flight and moves each as
 * far as what is known allows.  A pass runs after each change the feed
 * brings (VMIMs, VMIs, nodes, policies), after each agent answer and every
 * second; writes go through the store with resourceVersion checks (a
 * conflict is read again on the next pass).  What the controller knows
 * of the agents' jobs is kept in memory only: job ids are deterministic
 * (<vmim-uid>-prepare, -migrate, -abort, -plug), so after a restart it asks the
 * agents for them by id and resumes each migration from its recorded
 * phase.
 *
 *   Pending         until parallelMigrationsPerCluster and
 *                   parallelOutboundMigrationsPerNode allow it; the policy
 *                   is resolved into migrationState.migrationConfiguration
 *   Scheduling      a target (orch_sriov_pick_target() around
 *                   orch_migration_pick_target()), else Failed; a node's
 *                   free VFs are its report's less those work in flight
 *                   will take there (orch_migration_incoming(): other
 *                   migrations toward it, those this pass scheduled
 *                   included, and VMIs placed on it not yet running)
 *   Scheduled       hand-off: targetNode recorded on the VMI
 *   PreparingTarget the prepare job on the target's agent
 *   TargetReady     targetNodeAddress recorded; the migrate job submitted
 *   Running         the migrate job polled every second into
 *                   status.progress and migrationState.mode; when it
 *                   unplugged SR-IOV NICs (its result's "unplugged"), the
 *                   plug job (<vmim-uid>-plug) on the target once it
 *                   succeeded: Succeeded follows the plug's end (a failed
 *                   or unanswered plug - bounded by
 *                   ORCH_CONTROLLER_AGENT_BOUND_S - is a Warning event
 *                   SRIOVPlugFailed, the guest runs on the target anyway)
 *   Succeeded       the VMI's nodeName becomes the target
 *   Failed          failureReason; the VMI stays on the source; past
 *                   PreparingTarget (cancel included) a release job
 *                   (<vmim-uid>-release) goes to the target, retried
 *                   until its agent takes it, at most
 *                   ORCH_CONTROLLER_AGENT_BOUND_S
 * An agent that does not answer is retried with backoff; prepare and the
 * submission of the migrate job fail after ORCH_CONTROLLER_AGENT_BOUND_S.
 * PreparingTarget fails at once, with a reason naming the target, when
 * the target's Node is deleted or its Ready condition is no longer True
 * (Unknown: its migrator fell silent past the grace period; False: its
 * libvirt is unreachable): no migrate job exists before TargetReady, so
 * nothing of the guest has moved.  From TargetReady on the migrate job
 * may exist and only the bound and the job's outcome end a migration.
 *
 * A Running migration is never ended on a guess (issue 10): its outcome is
 * the source's migrate job's.  While the source does not answer, or
 * answers 404 for the job, the VMIM carries condition
 *   {"type":"OutcomeUnknown","status":"True",
 *    "reason":"SourceUnreachable"|"JobUnknown","message":...}
 * For JobUnknown the node reports received after the first 404 decide:
 * the domain reported running on the target only -> Succeeded, on the
 * source only -> Failed; on both (libvirt still migrating it) or neither
 * -> still unknown.  The job is asked for again every 2 s meanwhile.  The
 * condition goes when the job answers again; after
 * settings.migrations.outcome_timeout_s (ORCH_CONTROLLER_OUTCOME_TIMEOUT_S
 * when 0) of not knowing, the migration ends Failed with failureReason
 * "OutcomeUnknown: ..." saying what was not known.  After a restart the
 * same applies: the jobs are asked for by id, never submitted again once
 * Running.  Cancel (migrationState.abortRequested,
 * set by DELETE): before Running the migration just fails with abortStatus
 * Succeeded; while Running an abort job goes to the source: Succeeded ->
 * Failed with abortStatus Succeeded, TooLate -> Succeeded with abortStatus
 * Failed.
 *
 * Threads: the loop thread only.  It does not log: each phase change goes
 * to the on_phase hook its owner gives (serve.c logs it).
 */
#ifndef ORCH_CONTROLLER_H
#define ORCH_CONTROLLER_H

#include <stdint.h>

#include <jansson.h>

#include "orchestratord/agent_client.h"

struct orch_server;
struct orch_controller;

/* How long the controller tries an agent that does not answer (or a job
 * that stays Pending) before PreparingTarget or TargetReady fails. */
#define ORCH_CONTROLLER_AGENT_BOUND_S 120
/* How long a Running migration's outcome may stay unknown before it ends
 * Failed (OutcomeUnknown), by default (migrations.outcome_timeout_s); the
 * migrator enforces the migration's own timeouts. */
#define ORCH_CONTROLLER_OUTCOME_TIMEOUT_S 600
/* Polling of a job in flight; the pass timer. */
#define ORCH_CONTROLLER_POLL_MS 1000

/* A phase change the controller wrote: VMIM (borrowed) as stored, its
 * new PHASE name, and for Failed the reason (else NULL). */
typedef void (*orch_controller_phase_fn)(const json_t *vmim, const char *phase,
                                         const char *reason, void *arg);

struct orch_controller_opts {
    struct orch_agent agent;           /* taken over, released by stop */
    int64_t (*clock_ms)(void);         /* monotonic ms; NULL: the real clock */
    orch_controller_phase_fn on_phase; /* may be NULL */
    void *arg;
};

/* Start the controller on SRV: subscribe to the feed and, when SRV->base
 * is set, run passes on it (else the caller runs them with
 * orch_controller_run()).  Sets SRV->controller.  Returns 0, -EBUSY (one
 * is running), -ENOMEM or a store error; on failure O->agent is released.
 */
int orch_controller_start(struct orch_server *srv,
                          const struct orch_controller_opts *o);

/* Stop: unsubscribe, release the agent client (its calls in flight never
 * call back), free everything and clear the server's pointer.  NULL-safe. */
void orch_controller_stop(struct orch_controller *c);

/* One pass now (tests without an event base; the loop runs them by
 * itself).  Returns the number of records written (>= 0) or a negative
 * errno from the store. */
int orch_controller_run(struct orch_controller *c);

#endif
