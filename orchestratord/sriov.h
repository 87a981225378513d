/*
 * orchestratord/sriov: the SR-IOV rules of a migration, read from the VMI
 * and the node records (hosts.h documents status.sriov and
 * status.sriovNetworks).
 *
 * A VMI's SR-IOV interfaces are spec.domain.devices.interfaces[] with the
 * "sriov" binding; each names a spec.networks[] entry whose
 * multus.networkName is a network of the hosts' configs (a host's
 * status.sriovNetworks maps it to a PF interface name).  A VF is matched by
 * that PF name: a target fits when, for each SR-IOV interface, its network
 * maps to the same PF name as on the source and that PF has a free VF, one
 * per interface: status.sriov.pfs[].vfsFree less the VFs held by work in
 * flight toward that node.
 *
 * Work in flight: the node record is the migrator's last report, so a VF
 * that another migration's prepare is about to reserve there, or a VM
 * start placed there is about to take, still shows free.  The caller
 * names those VMIs (orch_node_incoming_fn: migrations from Scheduled to
 * Running with the node as targetNode, VMIs placed on it and not yet
 * Running); each holds one VF of a PF per SR-IOV interface whose network
 * the node maps to that PF, less the VFs of that PF the report already
 * shows with usedBy its domain ("NS_NAME": reserved by the prepare or the
 * start, or the running domain's), which vfsFree has counted already.  A
 * finished migration is no longer in flight: it holds nothing beyond what
 * the report shows.  The migrator's reservation table still guarantees
 * that no VF is ever given twice; this only makes the choice well and
 * refuses early, with the reason.
 *
 * Admission (DESIGN.md, KubeVirt's rule for a guest whose NIC is unplugged
 * and plugged back): every SR-IOV interface needs a static macAddress, and
 * the cloudInitNoCloud networkData must give that MAC a static address
 * (network-config v1: a physical entry with mac_address and a static
 * subnet; v2: an ethernets entry matching macaddress with addresses, not
 * only DHCP).  networkDataBase64 and networkDataSecretRef are not read: a
 * VMI with only those is refused with the reason.
 *
 * Nothing here logs or blocks.  Loop thread (the documents are borrowed).
 */
#ifndef ORCH_SRIOV_H
#define ORCH_SRIOV_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "orchestratord/migration.h"

/* Whether the VMI object VMI may be migrated as far as SR-IOV goes.
 * Returns 0 (also without SR-IOV interfaces), or -EDOM with the reason in
 * MSG (LEN bytes, NUL-terminated), worded as orch_migration_vmi_check's:
 *   "Cannot migrate VMI, Reason: InterfaceNotLiveMigratable, Message:
 *    SR-IOV interface 'sriov-net1' (spec.domain.devices.interfaces[0]) has
 *    no static macAddress"
 *   "... Message: SR-IOV interface 'sriov-net1': the cloudInitNoCloud
 *    networkData gives MAC 02:00:00:00:00:01 no static address"
 * A networkData that does not parse is a reason too. */
int orch_sriov_vmi_check(const json_t *vmi, char *msg, size_t len);

/* The same rule when a VirtualMachine is created or changed (an SR-IOV VM
 * that could never migrate, or whose VF could not be programmed, is
 * refused up front): VM's spec.template.  Returns 0, or -EDOM with the
 * field path (FIELD, FLEN bytes: "spec.template.spec.domain.devices.
 * interfaces[0].macAddress", "spec.template.spec.volumes") and the reason
 * without the migration's "Cannot migrate VMI" head:
 *   "SR-IOV interface 'sriov-net1' (spec.domain.devices.interfaces[0])
 *    has no static macAddress" */
int orch_sriov_vm_check(const json_t *vm, char *field, size_t flen, char *msg,
                        size_t len);

/* The VMIs (a new JSON array of VMI objects; the caller decrefs it) that
 * work in flight will put on the node named NODE and whose VFs its report
 * may not show yet; NULL for none, also when it cannot tell (ENOMEM, a
 * store error): the rule then trusts the report alone.  ARG is the
 * caller's.  Loop thread. */
typedef json_t *(*orch_node_incoming_fn)(const char *node, void *arg);

/* Whether node NODE can take VMI's SR-IOV interfaces: see the top.
 * SOURCE (the source's Node, may be NULL) is compared for the PF name;
 * with SOURCE NULL this is also the rule for placing a new VMI (the VM
 * controller's orch_vm_pick_node()).  INCOMING (may be NULL: the report
 * alone) is called with INCOMING_ARG at most once, only when a PF's VFs
 * are counted; a VMI of its list with VMI's namespace and name is not
 * counted against itself.
 * Returns 1 (fits; also without SR-IOV interfaces) or 0 with why not in
 * REASON (LEN bytes), naming the network, the PF and the host, e.g.
 *   "host-b: PF 'ens1f0' (network 'sriov-net1') has no free VF (4 of 4 in
 *    use)"
 *   "host-b: PF 'ens1f0' (network 'sriov-net1') has no free VF (1 free, 1
 *    held by work in flight: default/vm-a)" (up to three VMIs named)
 *   "host-b: network 'sriov-net1' is on PF 'ens2f0' here but on PF
 *    'ens1f0' on the source host-a"
 *   "host-b: no SR-IOV network 'sriov-net1'"
 *   "host-b: PF 'ens1f0' (network 'sriov-net1'): no such interface" */
int orch_sriov_target_ok(const json_t *vmi, const json_t *source,
                         const json_t *node, orch_node_incoming_fn incoming,
                         void *incoming_arg, char *reason, size_t len);

/* orch_migration_pick_target() among the NODES that
 * orch_sriov_target_ok() accepts for VMI (the source, by name SOURCE, is
 * looked up in NODES), with INCOMING (may be NULL) for the VFs work in
 * flight holds; USED and INCOMING both get USED_ARG.  On -ENOENT, MSG also
 * says which nodes SR-IOV ruled out and why.  *RET_NODE is borrowed from
 * NODES.  Same returns, and -ENOMEM. */
int orch_sriov_pick_target(const json_t *vmi, const json_t *nodes,
                           const char *source, const json_t *selector,
                           int64_t need, orch_node_used_fn used,
                           orch_node_incoming_fn incoming, void *used_arg,
                           const json_t **ret_node, char *msg, size_t len);

#endif
