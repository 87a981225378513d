/*
 * migrator/sriov: SR-IOV virtual functions of this host.
 *
 * The inventory of a physical function (PF) comes from sysfs under a
 * configurable root (conf's sysfs_root, "/sys" on a host, a fixture tree in
 * tests):
 *   <root>/class/net/<pf>/device/sriov_totalvfs, sriov_numvfs
 *   <root>/class/net/<pf>/device/virtfnN -> ../0000:3b:02.0  (VF PCI address)
 *   <root>/class/net/<pf>/device/virtfnN/net/<netdev>       (VF netdev)
 *   <root>/class/net/<pf>/device/virtfnN/driver -> .../vfio-pci
 * and from netlink: the PF's VF list (MAC, VLAN, trust, spoof check, link
 * state), which is also how a VF's MAC and VLAN are programmed.  Netlink sits
 * behind struct migr_netlink_ops so unit tests can fake it;
 * migr_netlink_libnl is the real one (libnl-route-3, used nowhere else).
 *
 * A reservation table (struct migr_sriov) hands out free VFs: not reserved
 * by this process and not in use by a domain, lowest VF index first, so the
 * choice is deterministic for a given state.
 *
 * The VF API for jobs (the start job, a migration target's prepare, the
 * unplug/plug jobs and release), all on worker threads:
 *   migr_sriov_reserve_vmi(s, cfg, &spec, "NS_NAME", in_use, &v, err, len)
 *       every SR-IOV interface of a VMI spec at once (all or nothing);
 *       v.vfs goes straight into migr_domxml_opts.vfs.
 *   migr_sriov_reserve_net(s, net, mac, "NS_NAME", in_use, &res)
 *       takes a free VF of config network `net` (its PF by interface name,
 *       a netdev when the mode is macvtap) and programs MAC, VLAN, trust
 *       and spoof check on the PF through netlink; res names the VF's PCI
 *       address (hostdev XML) and netdev (macvtap XML).  The same owner
 *       and MAC again returns the same VF (a retried job).
 *   migr_sriov_release(s, "NS_NAME", mac or NULL)
 *       clears the VF's MAC (00:00:00:00:00:00) and VLAN and returns it to
 *       the pool (a migration's source after success, a target's release
 *       job, a stop job).
 *   migr_sriov_adopt(s, net, source, "NS_NAME", mac)
 *       records a VF a running domain already holds (after a restart, or
 *       a domain that arrived by migration) without programming it.
 *   migr_sriov_adopt_iface(s, cfg, "NS_NAME", type, source, mac, ...)
 *       the same for one interface of a domain's XML, finding the config
 *       network whose PF has that VF (what the agent does at start-up).
 *   migr_sriov_domxml_vf(&res, net, iface, &vf)
 *       the reservation as migrator/domxml.h's struct migr_domxml_vf.
 * Two reservations never get the same VF, whichever threads ask: choosing,
 * programming and recording happen under the table's lock.
 *
 * The table is in memory and starts empty.  So that a restarted migrator
 * knows what its domains hold (and a later stop, release or migration
 * away clears the VF and returns it), the agent adopts, at start-up and
 * before its jobs run, the VF of every SR-IOV interface (alias
 * "ua-sriov-...") of its domains, active and defined, with
 * migr_sriov_adopt_iface.  `in_use` (which the caller builds from its
 * active domains' interface sources: a hostdev interface's VF PCI
 * address, a direct interface's netdev; migrator/virt.h's struct
 * migr_dom_iface .source) still keeps out a VF that a domain holds but
 * that was not adopted (libvirt unreachable at start-up, a domain not
 * made by this agent).  Then the jobs' journal gives back what only it
 * knows (migr_jobs_recover, migrator/jobs.h): the VFs of prepares that
 * finished before the restart and whose domain has not arrived yet, and
 * the VFs of NICs a migrate job in flight unplugged.  A prepare re-run
 * from the journal reserves again for the same owner and MAC, which takes
 * the lowest free VF: the one it had unless a VF below it was freed
 * meanwhile.
 *
 * Errors are negative errnos; nothing here logs.  The inventory functions
 * are reentrant; a struct migr_sriov is safe to share between threads (it
 * has its own lock).
 */
#ifndef ORCH_MIGRATOR_SRIOV_H
#define ORCH_MIGRATOR_SRIOV_H

#include <net/if.h>
#include <stdbool.h>
#include <stddef.h>

#include "conf/conf.h"
#include "migrator/domxml.h"

struct api_vmi_spec;

#define MIGR_MAC_LEN    18 /* "02:00:00:00:00:01" and the NUL */
#define MIGR_PCI_LEN    32 /* "0000:3b:02.0" and room to spare */
#define MIGR_DRIVER_LEN 64
#define MIGR_OWNER_LEN  320 /* "NAMESPACE_NAME" (63 + 1 + 253) and the NUL */

/* IFLA_VF_LINK_STATE values. */
enum migr_vf_link_state {
    MIGR_VF_LINK_AUTO = 0,
    MIGR_VF_LINK_ENABLE = 1,
    MIGR_VF_LINK_DISABLE = 2,
};

/* One VF as the PF's netlink VF list reports it.  Fields the kernel did not
 * send are -1 (numbers) or "" (mac). */
struct migr_vf_link {
    unsigned index;
    char mac[MIGR_MAC_LEN]; /* lowercase */
    int vlan;               /* 0: none */
    int qos;
    int spoofchk;   /* 0/1 */
    int trust;      /* 0/1 */
    int link_state; /* enum migr_vf_link_state */
};

/* The word for a link state ("auto", "enable", "disable"); NULL for an
 * unknown one. */
const char *migr_vf_link_state_name(int link_state);

/* What programming a VF sets.  trust and spoofchk are 0/1, or -1 to leave
 * them as they are. */
struct migr_vf_config {
    const char *mac; /* "aa:bb:cc:dd:ee:ff"; all zeros clears it */
    int vlan;        /* 0: none */
    int trust;
    int spoofchk;
};

/* The netlink seam.  Every function returns 0 (or a count) or a negative
 * errno; -ENODEV means no interface of that name. */
struct migr_netlink_ops {
    /* The VF list of interface `pf`: *ret_vfs gets a malloc'd array sorted
     * by index (the caller frees it; NULL when the count is 0) and the
     * return value is its length.  An interface without VFs (no SR-IOV, a
     * veth, lo) returns 0. */
    int (*vf_list)(void *ctx, const char *pf, struct migr_vf_link **ret_vfs);
    /* Program VF `index` of `pf` in one RTM_SETLINK on the PF: IFLA_VF_MAC,
     * IFLA_VF_VLAN_LIST (VLAN 0 clears it) and, when not -1,
     * IFLA_VF_TRUST and IFLA_VF_SPOOFCHK. */
    int (*vf_set)(void *ctx, const char *pf, unsigned index,
                  const struct migr_vf_config *cfg);
    void *ctx;
};

/* The real implementation over libnl-route-3; each call opens and closes its
 * own NETLINK_ROUTE socket.  Kernel and libnl errors are mapped to errnos
 * (-ENODEV no such link, -EOPNOTSUPP the driver cannot program VFs, -EPERM,
 * -EINVAL, -ENOMEM, -EIO for the rest). */
extern const struct migr_netlink_ops migr_netlink_libnl;

/* One VF of a PF. */
struct migr_vf {
    unsigned index;               /* N of virtfnN, the netlink VF index */
    char pci[MIGR_PCI_LEN];       /* "0000:3b:02.0" */
    char netdev[IF_NAMESIZE];     /* "" when it has none (e.g. on vfio-pci) */
    char driver[MIGR_DRIVER_LEN]; /* "iavf", "vfio-pci"; "" when unbound */
    bool vfio;                    /* driver is vfio-pci */
    bool has_link;                /* `link` was filled from netlink */
    struct migr_vf_link link;
};

struct migr_pf {
    char name[IF_NAMESIZE];
    int total_vfs;       /* sriov_totalvfs */
    int num_vfs;         /* sriov_numvfs */
    struct migr_vf *vfs; /* sorted by index */
    size_t vf_count;
};

/* Read PF `pf` from sysfs under `sysfs_root`, and its VF list from `nl`
 * when `nl` is not NULL (VFs netlink reports get has_link).
 * Returns 0 and fills *ret (free with migr_pf_clear), or -EINVAL (a bad
 * interface name), -ENODEV (no such interface under the root),
 * -EOPNOTSUPP (not an SR-IOV PF: no sriov_totalvfs), -EIO (unreadable
 * sysfs), -ENOMEM, or the error of nl->vf_list. */
int migr_pf_read(const char *sysfs_root, const char *pf,
                 const struct migr_netlink_ops *nl, struct migr_pf *ret);

/* Free what migr_pf_read filled and zero the struct; NULL-safe. */
void migr_pf_clear(struct migr_pf *pf);

/* The VF of index `index`, or NULL. */
const struct migr_vf *migr_pf_vf(const struct migr_pf *pf, unsigned index);

/* ---------------------------------------------------------------------- */
/* Reservations                                                            */

struct migr_sriov;

/* A new reservation table over `sysfs_root` (copied) and `nl` (borrowed,
 * must outlive the table; NULL: VFs are chosen but not programmed).
 * Returns 0, -EINVAL, -ENOMEM. */
int migr_sriov_new(const char *sysfs_root, const struct migr_netlink_ops *nl,
                   struct migr_sriov **ret);

/* Free the table (reservations are forgotten, VFs are left as they are);
 * NULL-safe. */
void migr_sriov_free(struct migr_sriov *s);

/* What a VF must offer. */
enum migr_vf_need {
    MIGR_VF_ANY,    /* hostdev: libvirt rebinds it to vfio-pci itself */
    MIGR_VF_NETDEV, /* macvtap: it must have a netdev */
};

struct migr_vf_reservation {
    char pf[IF_NAMESIZE];
    unsigned index;
    char pci[MIGR_PCI_LEN];
    char netdev[IF_NAMESIZE];
    char mac[MIGR_MAC_LEN];
    int vlan;
    int trust;    /* as programmed: 0/1, -1 left alone */
    int spoofchk; /* the same */
    char owner[MIGR_OWNER_LEN];
};

/* Reserve a VF of PF `pf` for `owner` (e.g. the domain "NS_NAME") and
 * program it with `cfg` (cfg->mac required, not all zeros) through the
 * table's netlink ops.  The VF is the lowest-index one that is not
 * reserved, not named in `in_use` (a NULL-terminated list of PCI addresses
 * and netdevs that running domains hold; NULL for none) and meets `need`.
 * Reserving again for the same owner and MAC returns the existing
 * reservation (programming it again), so a retried preparation is safe.
 * On success *ret (may be NULL) gets a copy of the reservation.
 * Returns 0, -EINVAL (bad pf, owner - empty or MIGR_OWNER_LEN or longer -
 * MAC, VLAN, trust or spoofchk), -ENOSPC (no free VF), an error of
 * migr_pf_read, or of programming (then nothing is reserved). */
int migr_sriov_reserve(struct migr_sriov *s, const char *pf,
                       const struct migr_vf_config *cfg, enum migr_vf_need need,
                       const char *owner, const char *const *in_use,
                       struct migr_vf_reservation *ret);

/* migr_sriov_reserve for config network `net`: its pf, vlan, trust and
 * spoofchk, MIGR_VF_NETDEV when its mode is macvtap, and the interface's
 * `mac`.  Same returns. */
int migr_sriov_reserve_net(struct migr_sriov *s, const struct conf_network *net,
                           const char *mac, const char *owner,
                           const char *const *in_use,
                           struct migr_vf_reservation *ret);

/* Record that `owner` holds the VF of config network `net` that `source`
 * names (its PCI address or netdev: a running domain's interface source),
 * with MAC `mac`, without programming it: after a migrator restart, or
 * when a domain arrived by migration, so that the table knows what the
 * running domains hold and release can clear it later.  Adopting again
 * for the same owner is a no-op.  Returns 0, -EINVAL, -ENOENT (no VF of
 * that PF is named so), -EBUSY (another owner holds it), an error of
 * migr_pf_read, or -ENOMEM. */
int migr_sriov_adopt(struct migr_sriov *s, const struct conf_network *net,
                     const char *source, const char *owner, const char *mac);

/* Adopt for `owner` (the domain, "NS_NAME") the VF that one of its
 * interfaces holds, as the domain's XML names it: `type` "direct" (macvtap
 * mode: `source` is the VF netdev) or "hostdev" (`source` is the VF PCI
 * address, "0000:3b:02.1"), and the interface's `mac`.  The VF is looked
 * for on the PF of each network of `cfg` with a pf, those whose mode
 * matches the type first (networks may share a PF); a configured PF this
 * host lacks is skipped.  Like migr_sriov_adopt, nothing is programmed,
 * and adopting again for the same owner is a no-op.  On success *ret (may
 * be NULL) gets the reservation and *ret_net (may be NULL) the network.
 * Returns 0, -EINVAL (another type, an empty source, a bad owner or MAC),
 * -ENOENT (no configured PF here has that VF), -EBUSY (another owner
 * holds it), -ENOMEM, or -EIO (an unreadable PF). */
int migr_sriov_adopt_iface(struct migr_sriov *s,
                           const struct conf_migrator *cfg, const char *owner,
                           const char *type, const char *source,
                           const char *mac, struct migr_vf_reservation *ret,
                           const struct conf_network **ret_net);

/* Why migr_sriov_adopt_iface returned `r` (< 0), for a warning. */
const char *migr_sriov_adopt_why(int r);

/* The VFs of one VMI: its SR-IOV interfaces in spec order. */
struct migr_sriov_vmi {
    size_t count;
    struct migr_vf_reservation *res; /* count of them */
    struct migr_domxml_vf *vfs;      /* count: migr_domxml_opts.vfs; iface
                                        borrowed from the spec, pci and
                                        netdev from res */
    /* count of each, borrowed: the spec's interface and the config network
     * it is on (whose `unplug` says how it crosses a migration). */
    const struct api_interface **ifaces;
    const struct conf_network **nets;
};

/*
 * Reserve and program a VF for every SR-IOV interface of `spec` (a VMI's
 * or a VM template's), owned by `owner` (the domain, "NS_NAME"), each on
 * the config network its spec.networks[] entry names (multus.networkName
 * in cfg->networks), with the interface's macAddress.  What the start job
 * (issue 11) and a migration target's prepare call.  All or nothing: on
 * failure what this call reserved is released again.  Returns 0 and *ret
 * (free with migr_sriov_vmi_clear; count 0 without SR-IOV interfaces), or
 * with the reason in `err`, starting with the field path as the start
 * job's InvalidSpec wants it:
 *   -EINVAL  'spec.networks[0].multus.networkName: "x" is not a network of
 *            this host', 'spec.domain.devices.interfaces[0].macAddress:
 *            required for an SR-IOV interface', an interface without a
 *            multus network
 *   -ENOSPC  'spec.networks[0].multus.networkName: no free VF on PF
 *            "ens1f0"'
 *   -ENODEV  '...: PF "ens1f0" is not on this host' (or another error of
 *            migr_sriov_reserve, said with strerror), -ENOMEM.
 */
int migr_sriov_reserve_vmi(struct migr_sriov *s,
                           const struct conf_migrator *cfg,
                           const struct api_vmi_spec *spec, const char *owner,
                           const char *const *in_use,
                           struct migr_sriov_vmi *ret, char *err,
                           size_t errlen);

/* Free what migr_sriov_reserve_vmi filled (the reservations stay: release
 * them with migr_sriov_release) and zero it; NULL-safe. */
void migr_sriov_vmi_clear(struct migr_sriov_vmi *v);

/* The domain XML's view (migrator/domxml.h) of reservation `res` for
 * SR-IOV interface `iface` on network `net`: hostdev mode names the VF's
 * PCI address and the VLAN, macvtap mode the VF netdev.  The strings are
 * borrowed from `res` and `iface`. */
void migr_sriov_domxml_vf(const struct migr_vf_reservation *res,
                          const struct conf_network *net, const char *iface,
                          struct migr_domxml_vf *ret);

/* Release every reservation of `owner`, or of `owner` and `mac` when `mac`
 * is not NULL: clear each VF's MAC and VLAN through netlink, then return
 * it to the pool.  A VF whose clearing fails is returned to the pool all
 * the same (the next reservation programs it anew).  Returns how many were
 * released (0 when none), or the first clearing error (after releasing
 * them all). */
int migr_sriov_release(struct migr_sriov *s, const char *owner,
                       const char *mac);

/* Copy up to `max` reservations (in reservation order) into `out`; returns
 * the total number held, which may be more than `max`. */
size_t migr_sriov_list(struct migr_sriov *s, struct migr_vf_reservation *out,
                       size_t max);

/* Parse "aa:bb:cc:dd:ee:ff" (either case) into 6 bytes.  Returns 0 or
 * -EINVAL. */
int migr_mac_parse(const char *text, unsigned char ret_mac[6]);

#endif
