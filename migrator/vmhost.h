/*
 * migrator/vmhost: a VirtualMachineInstance made real on this host - the
 * work of the agent's `start` and `stop` jobs, and the VM's files on a
 * migration target (a `prepare` with "vmi").
 *
 * What only the host can know is checked here (the manifest's shape was
 * checked by orchestratord): a multus network that is not in the config's
 * `networks`, a containerDisk image that is not in `image_dir`, a disk file
 * that does not exist, kernel boot files that do not exist, a networkData
 * that is not network-config v1/v2.  Then, under state_dir/vms/NS_NAME/:
 *   seed.iso         the NoCloud seed (migrator/seed.h), when the VMI has a
 *                    cloudInitNoCloud volume;
 *   VOLUME.qcow2     a qcow2 overlay per containerDisk volume, its backing
 *                    file the image (qemu-img create -b, see vmhost.c);
 *   VOLUME.img       a sparse raw file per emptyDisk volume;
 *   console.log      the serial console.
 * The domain (migrator/domxml.h) is defined and started.  A failure takes
 * back everything it made: the directory, the definition.
 *
 * The mapping (README "VirtualMachine manifests"):
 *   containerDisk image REF -> image_dir/NAME.qcow2, NAME being REF with
 *     every '/', ':' and '@' turned into '_' ("quay.io/containerdisks/
 *     fedora:39" -> "quay.io_containerdisks_fedora_39.qcow2");
 *   persistentVolumeClaim CLAIM in namespace NS -> the first existing file
 *     S/NS/CLAIM for S in shared_storage (storage every host sees: RWX);
 *   hostDisk path -> that file (DiskOrCreate: created sparse, capacity);
 *   pod network + masquerade -> the per-host libvirt NAT network
 *     MIGR_VMHOST_NAT_NETWORK (MIGR_VMHOST_NAT_SUBNET, DHCP), the guest's
 *     address reserved for its MAC and its `ports` forwarded from the
 *     host's addresses (migrator/podnat.h; recorded in DIR/podnat, undone
 *     by stop and release, made again by a target's prepare);
 *   pod network + bridge -> the config's pod_bridge;
 *   multus network N -> the config's network N: a bridge network's bridge;
 *     an SR-IOV network (sriov binding, macAddress required) -> a VF of
 *     its PF reserved in the agent's table (migrator/sriov.h, owner the
 *     domain) and programmed with the MAC and VLAN (not in the lab:
 *     sriov_program_vfs = false), attached in macvtap mode as a `direct`
 *     passthrough interface on the VF netdev, in hostdev mode as
 *     <interface type='hostdev' managed='yes'> on its PCI address.  A VF
 *     a running domain holds is never handed out, reserved or not.
 *     Stop, and release once the domain is not here, give the VFs back;
 *   rng -> virtio-rng; macAddress kept.
 *
 * Errors: functions return 0 or a negative errno, and on failure fill
 * `struct migr_vmhost_error` with the job's failure reason ("InvalidSpec",
 * whose message starts with the field path; "DefineFailed";
 * "StartFailed"; "StopFailed"; "PrepareFailed"; "NoFreeVF", whose message
 * names the PF and this host) and a message.  Nothing
 * here logs.  Every call blocks on libvirt or the disk: worker threads
 * only; calls for different domains may run at once.
 */
#ifndef ORCH_MIGRATOR_VMHOST_H
#define ORCH_MIGRATOR_VMHOST_H

#include <stddef.h>

#include <jansson.h>

#include "conf/conf.h"

struct migr_sriov;

#define MIGR_VMHOST_NAT_NETWORK "orch-pod"
#define MIGR_VMHOST_NAT_SUBNET  "10.0.2.0/24"

struct migr_vmhost_error {
    char reason[32];
    char message[1024];
};

/* The file of containerDisk image `image` in `image_dir` (see above) into
 * buf.  Returns 0, -EINVAL (an empty reference, or one with characters a
 * file name should not get: anything but letters, digits and . _ - / : @),
 * -ENAMETOOLONG. */
int migr_vmhost_image_file(const char *image_dir, const char *image, char *buf,
                           size_t len);

/* state_dir/vms/DOMAIN into buf.  Returns 0, -EINVAL (a domain name that
 * is not one path component), -ENAMETOOLONG. */
int migr_vmhost_dir(const struct conf_migrator *cfg, const char *domain,
                    char *buf, size_t len);

/* The `start` job: check, write the files, define and start `domain` from
 * `vmi` (a VirtualMachineInstance object, borrowed).  `domain` must be the
 * VMI's NAMESPACE_NAME.  A domain of that name made for the same VMI (its
 * metadata's uid) that runs already is success; one that is shut off is
 * started.  On success *ret_result is {"domain","uuid"} (the caller's).
 * Returns 0, -EINVAL (InvalidSpec), -EEXIST (DefineFailed: a domain of
 * that name belongs to another VMI), or another negative errno with the
 * reason set. */
int migr_vmhost_start(const struct conf_migrator *cfg, struct migr_sriov *sriov,
                      const char *domain, const json_t *vmi,
                      json_t **ret_result, struct migr_vmhost_error *err);

/* The `stop` job: ACPI shutdown, up to grace_s seconds for the guest to
 * go, destroy, undefine, remove state_dir/vms/DOMAIN.  A domain that does
 * not exist is success (its directory is still removed).  poll_ms (0:
 * 250) is how often the state is read while waiting.  The VFs `sriov`
 * holds for the domain are released. */
int migr_vmhost_stop(const struct conf_migrator *cfg, struct migr_sriov *sriov,
                     const char *domain, int grace_s, int poll_ms,
                     struct migr_vmhost_error *err);

/* A migration target's share of a VM made from a manifest: the same checks
 * of what the host has, then the seed (byte for byte the one the source
 * wrote: migr_seed_write is deterministic) and each containerDisk's overlay
 * on the same image, under state_dir/vms/DOMAIN.  A directory left from an
 * earlier prepare is replaced, unless the domain runs here.  Then a VF for
 * each SR-IOV interface is reserved and programmed in `sriov` (again for
 * the same domain and MAC: the same VF) and *ret_vfs (may be NULL) gets
 * them: [{"iface","pf","pci","netdev" (macvtap; absent without one),
 * "mac","unplug"}], [] without SR-IOV interfaces - the migrate job's
 * destination XML names the netdevs of those migrated in place, and the
 * source unplugs those with "unplug" (their network's `migration`).  Returns 0
 * or a negative errno with the reason (InvalidSpec, NoFreeVF, PrepareFailed)
 * set; nothing is kept then. */
int migr_vmhost_prepare(const struct conf_migrator *cfg,
                        struct migr_sriov *sriov, const char *domain,
                        const json_t *vmi, json_t **ret_vfs,
                        struct migr_vmhost_error *err);

/* The `plug` job, on a migration's target once the domain has arrived:
 * each SR-IOV interface of `vmi` whose network unplugs for a migration
 * and that the running domain lacks (by alias "ua-sriov-NAME") is
 * attached, live and persistent, on the VF reserved for it (the prepare's:
 * the same owner and MAC), with the same MAC.  An interface there already
 * is left alone, so a retried plug is safe.  *ret_result is {"plugged":
 * [{"iface","pf","pci","netdev"?,"mac"}]} (the caller's).  Returns 0 or a
 * negative errno with the reason set: InvalidSpec, DomainNotFound,
 * NoFreeVF, PlugFailed (the message names the interface and the VF). */
int migr_vmhost_plug(const struct conf_migrator *cfg, struct migr_sriov *sriov,
                     const char *domain, const json_t *vmi, json_t **ret_result,
                     struct migr_vmhost_error *err);

/* Remove state_dir/vms/DOMAIN unless the domain is defined here (a
 * release of a prepare whose migration never came, or a source after the
 * domain left), and release the VFs `sriov` holds for it (MACs cleared).
 * Returns 0 (also when there was nothing), -EBUSY (the domain is here:
 * kept), or a negative errno. */
int migr_vmhost_release(const struct conf_migrator *cfg,
                        struct migr_sriov *sriov, const char *domain,
                        struct migr_vmhost_error *err);

#endif
