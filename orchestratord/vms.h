/*
 * orchestratord/vms: the VirtualMachine controller.  It turns each VM's
 * wish to run (spec.running, spec.runStrategy, the start / stop / restart
 * subresources' status.stateChangeRequests) into a VirtualMachineInstance
 * placed on a host and a domain started there by that host's migrator
 * (the `start` and `stop` jobs of the session 3 contract, A.5), and keeps
 * the VM's status (printableStatus, ready, created, conditions) as
 * KubeVirt shows it.
 *
 * The VMI record it creates (the same shape reports then update):
 *   metadata: name and namespace of the VM, a uid chosen here, labels =
 *     the template's + "vm.kubevirt.io/name": VM + (once placed)
 *     "kubevirt.io/nodeName": NODE, annotations = the template's,
 *     ownerReferences [{apiVersion kubevirt.io/v1, kind VirtualMachine,
 *     name, uid, controller true, blockOwnerDeletion true}]
 *   spec: the template's spec
 *   status: phase Scheduling (no host: condition PodScheduled False
 *     Unschedulable naming what each node lacks) or Scheduled with nodeName,
 *     phaseTransitionTimestamps.
 * Reports map the domain "NS_NAME" back to it by name (hosts.h) and move it
 * to Running, Failed...; a Scheduling or Scheduled VMI is not failed by a
 * report that does not list its domain yet.
 *
 * What the node reports must carry for this: capacity (cpus, memoryKiB),
 * the agent URL, every network of the migrator's config in "networks"
 * (by "name": SR-IOV and bridge networks alike; placement needs each
 * multus networkName among them), "sharedStorage" (the config's
 * shared_storage, for the RWX rule at migration admission), and per
 * domain its name "NS_NAME" (and "vmi": {namespace, name, uid} from the
 * domain's <metadata>), state and stateReason.
 *
 * Jobs: "<vmi-uid>-start" to the chosen node (Failed -> VMI Failed with
 * condition Synchronized False reason = the job's reason; the VM gets
 * condition Failure with that reason and message), "<vmi-uid>-stop" when
 * the VM should not run (or is deleted, or restarted); the VMI record is
 * removed once the stop job Succeeded (the domain is gone).  A node that
 * is not Ready turns its VMs' VMIs to phase Unknown (the report of a node
 * that comes back tells the truth again); nothing is deleted.
 *
 * Level-triggered like the migration controller: a pass moves each VM it
 * looks at as far as what is known allows, after each change of a VM, VMI
 * or node, each agent answer and every second; it looks at the VMs whose
 * records changed and those with work in flight, and at every VM after a
 * node changed and every ORCH_VMS_RESYNC_S (so that 20 000 VMs do not cost
 * the loop a full read on each change).  Threads: the loop
 * thread only; nothing here logs.
 */
#ifndef ORCH_VMS_H
#define ORCH_VMS_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "orchestratord/agent_client.h"
#include "orchestratord/migration.h"
#include "orchestratord/sriov.h"
#include "store/store.h"

struct orch_server;
struct orch_vms;

/* The owner label KubeVirt puts on a VM's VMI. */
#define ORCH_VM_NAME_LABEL "vm.kubevirt.io/name"
/* A domain started by a start job that no report shows running within
 * this many seconds fails its VMI. */
#define ORCH_VMS_START_REPORT_S 60
/* A VMI that ended (Always, RerunOnFailure) is started again after this
 * many seconds. */
#define ORCH_VMS_RESTART_DELAY_S 5
/* A pass steps the VMs whose records changed and those with work in
 * flight; every VM at start, after a node changed, and this often. */
#define ORCH_VMS_RESYNC_S 30

struct orch_vms_opts {
    struct orch_agent agent;   /* taken over, released by stop */
    int64_t (*clock_ms)(void); /* monotonic ms; NULL: the real clock */
};

/* Start the controller on SRV (sets SRV->vms): subscribe to the feed and,
 * when SRV->base is set, run passes on it (else the caller runs them with
 * orch_vms_run()).  Returns 0, -EBUSY, -ENOMEM or a store error; on failure
 * O->agent is released. */
int orch_vms_start(struct orch_server *srv, const struct orch_vms_opts *o);

/* Stop: unsubscribe, release the agent client, free.  NULL-safe. */
void orch_vms_stop(struct orch_vms *v);

/* One pass now.  Returns the number of records written or a negative
 * errno from the store. */
int orch_vms_run(struct orch_vms *v);

/* Whether the VM object VM wants its VMI to run given that VMI (NULL:
 * none) and its status.stateChangeRequests: Always yes, Halted no,
 * RerunOnFailure unless the VMI Succeeded, Manual and Once as the last
 * start/stop asked (a running VMI keeps running).  spec.running true is
 * Always, false Halted. */
bool orch_vm_wants_run(const json_t *vm, const json_t *vmi);

/* The run strategy of VM ("Always", "Halted", ...; "Halted" when it says
 * none).  Static. */
const char *orch_vm_run_strategy(const json_t *vm);

/* Choose the node for the VMI object VMI among NODES (a JSON array of Node
 * objects): Ready=True, not unschedulable, with an agent URL, matching
 * spec.nodeSelector, with as many CPUs as the VMI's vCPUs, NEED bytes of
 * memory free (capacity minus USED(node)), every multus network the VMI
 * names among the node's status.sriovNetworks and, for its SR-IOV
 * interfaces, a free VF each (orch_sriov_target_ok() without a source:
 * vfsFree less what the VMIs INCOMING(node) names will take; INCOMING may
 * be NULL); of those, the one with the most free memory, then the smallest
 * name.  USED and INCOMING get USED_ARG.  Returns 0 and the node
 * (borrowed), or -ENOENT with what ruled each node out in MSG:
 *   "0/2 nodes are available: hv01: not Ready; hv02: lacks network
 *    'sriov-net1'"
 *   "0/1 nodes are available: hv02: PF 'ens1f0' (network 'sriov-net1')
 *    has no free VF (1 free, 1 held by work in flight: default/vm-a)" */
int orch_vm_pick_node(const json_t *nodes, const json_t *vmi, int64_t need,
                      orch_node_used_fn used, orch_node_incoming_fn incoming,
                      void *used_arg, const json_t **ret_node, char *msg,
                      size_t len);

/* Admission of a VM DOC (valid) against the store's nodes: its template's
 * memory must fit on some node (when some node reported its memory).  Returns
 * 0, -EDOM with the field path in FIELD and the detail in MSG ("Invalid value:
 * \"8Gi\": more memory than any node has (the largest has 4Gi)"), or a
 * store error. */
int orch_vm_admit(struct store *st, const json_t *doc, char *field,
                  size_t field_len, char *msg, size_t len);

#endif
