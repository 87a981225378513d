/*
 * migrator/domxml: libvirt domain XML for a VirtualMachineInstance.
 *
 * From the api module's typed view of a VMI (or a VM's template) and what
 * this host decided (the VFs reserved for SR-IOV interfaces, the files that
 * back volumes, the NoCloud seed, the console log), build the <domain> that
 * the migrator defines:
 *   - name "NAMESPACE_NAME" (as KubeVirt's virt-launcher names it), uuid;
 *   - memory from memory.guest / resources.requests.memory / limits.memory,
 *     vcpus = sockets * cores * threads (each defaulting to 1) and the same
 *     <topology>; cpu model host-passthrough, host-model or a named model;
 *   - firmware.kernelBoot as <kernel>, <initrd>, <cmdline>; <acpi/> always
 *     (PCI hot-plug and hot-unplug of SR-IOV NICs need it);
 *   - disks in spec order as file disks  (virtio vdX, sata/scsi/usb sdX, ide
 * hdX), alias "ua-DISK"; the cloudInitNoCloud volume is the seed ISO,
 *     read-only; other volumes take their file from hostDisk.path or the
 *     caller's list;
 *   - <metadata><orch:vmi namespace name uid/></metadata> (namespace
 *     MIGR_VMI_XMLNS) when the VMI has a uid, so that a report maps the
 *     domain back to its VMI without parsing the name;
 *   - a cloudInitNoCloud volume that no disk names is still attached: as a
 *     read-only CD-ROM (IDE on 'pc' machines, SATA on others; cloud-init
 *     finds the seed by its label), and a VMI with a seed gets the SMBIOS
 *     system serial "ds=nocloud", the hint cloud-init's ds-identify reads;
 *   - interfaces in spec order: bridge binding -> <interface type='bridge'>
 *     on the pod bridge (pod network) or on the bridge the host maps the
 *     multus network to (alias "ua-NAME"); masquerade on the pod network
 *     -> <interface type='network'> on the host's NAT network; sriov on a
 * macvtap network -> <interface type='direct'> in passthrough mode on the VF
 * netdev, sriov on a hostdev network -> <interface type='hostdev'
 * managed='yes'> on the VF PCI address with VLAN, both with alias
 * "ua-sriov-NAME" (KubeVirt's "sriov-" prefix is how a migration finds the NICs
 * to unplug);
 *   - a serial console to a file (or a pty), rng when requested, no USB
 *     controller and no memory balloon.
 *
 * XML is written with a small escaping writer (& < > ' " are escaped;
 * characters XML 1.0 cannot hold are refused).  Errors are negative errnos
 * with a message ('interface "x": no VF assigned') in the caller's buffer;
 * nothing here logs.  All functions are reentrant.
 */
#ifndef ORCH_MIGRATOR_DOMXML_H
#define ORCH_MIGRATOR_DOMXML_H

#include <stddef.h>

struct api_meta;
struct api_vmi_spec;
struct api_interface;

/* The user alias prefix libvirt requires, and KubeVirt's SR-IOV one. */
#define MIGR_ALIAS_USER  "ua-"
#define MIGR_ALIAS_SRIOV "ua-sriov-"

enum migr_vf_mode {
    MIGR_VF_MODE_HOSTDEV, /* VFIO passthrough, unplugged for migration */
    MIGR_VF_MODE_MACVTAP, /* libvirt direct passthrough on the VF netdev */
};

/* The VF this host gives SR-IOV interface `iface`. */
struct migr_domxml_vf {
    const char *iface; /* interface name in the spec */
    enum migr_vf_mode mode;
    const char *pci;    /* hostdev: "0000:3b:02.1" */
    const char *netdev; /* macvtap: "ens1f0v1" */
    int vlan;           /* hostdev: 1..4094, 0 none (macvtap: set on the VF
                           by the SR-IOV module, not in the XML) */
};

/* The host bridge behind a multus network (config `networks` of mode
 * bridge). */
struct migr_domxml_bridge {
    const char *network; /* multus networkName */
    const char *bridge;
};

/* The namespace of the <metadata> element naming the VMI. */
#define MIGR_VMI_XMLNS "https://orchestrator.io/xmlns/vmi/1"

/* The file behind a volume that has no host path of its own
 * (containerDisk, persistentVolumeClaim, emptyDisk). */
struct migr_domxml_disk {
    const char *volume;
    const char *path;
    const char *format; /* "raw" when NULL, "qcow2", ... */
    const char *cache;  /* "none" when NULL (what libvirt wants for a live
                           migration); "writeback" for tmpfs, ... */
};

struct migr_domxml_opts {
    const char *domain_type;  /* "kvm" when NULL; "qemu" in the lab (TCG) */
    const char *arch;         /* "x86_64" when NULL */
    const char *machine;      /* "pc" when NULL */
    const char *uuid;         /* NULL: meta->uid when it is a UUID, else
                                 libvirt makes one */
    const char *seed_path;    /* the NoCloud ISO; required when the spec has a
                                 cloudInitNoCloud volume on a disk */
    const char *console_path; /* serial console log; NULL: a pty */
    const char *bridge;       /* host bridge for bridge bindings on the pod
                                 network */
    const char *nat_network;  /* libvirt network for masquerade on the pod
                                 network; NULL: masquerade is refused */
    /* Bridges of multus networks; a network not listed is bridged to a
     * bridge of its networkName. */
    const struct migr_domxml_bridge *bridges;
    size_t bridge_count;
    const struct migr_domxml_disk *disks;
    size_t disk_count;
    const struct migr_domxml_vf *vfs;
    size_t vf_count;
};

/* "NAMESPACE_NAME" into buf ("default" when the namespace is unset).
 * Returns 0, -EINVAL (no name), -ENAMETOOLONG. */
int migr_domxml_name(const struct api_meta *meta, char *buf, size_t len);

/* Build the domain XML.  On success *ret_xml is a malloc'd string the
 * caller frees.  Returns 0; -EINVAL (the spec or options do not add up: no
 * memory size, a disk without a volume, a volume without a file, an SR-IOV
 * interface without a VF, text XML cannot hold), -EOPNOTSUPP (a binding or
 * volume type this project does not run: slirp, passt, masquerade without
 * a NAT network), or
 * -ENOMEM; `err` (may be NULL) gets the reason. */
int migr_domxml_build(const struct api_meta *meta,
                      const struct api_vmi_spec *spec,
                      const struct migr_domxml_opts *opts, char **ret_xml,
                      char *err, size_t errlen);

/* The <interface> element alone for SR-IOV interface `iface` on `vf`, for
 * a live attach after migration (virDomainAttachDeviceFlags).  Same rules
 * and errors as migr_domxml_build. */
int migr_domxml_sriov_interface(const struct api_interface *iface,
                                const struct migr_domxml_vf *vf, char **ret_xml,
                                char *err, size_t errlen);

/* The destination XML of a macvtap migration: in `xml` (a domain as libvirt
 * writes it, e.g. from virDomainGetXMLDesc with VIR_DOMAIN_XML_MIGRATABLE),
 * point each listed SR-IOV direct interface, found by its alias
 * "ua-sriov-IFACE", at the target's VF netdev.  Everything else is kept
 * byte for byte.  On success *ret_xml is malloc'd (caller frees).
 * Returns 0, -ENOENT (an interface is not in the XML; `err` names it),
 * -EINVAL (it is not type='direct', or the XML is malformed there),
 * -ENOMEM. */
struct migr_domxml_retarget {
    const char *iface;  /* interface name in the spec */
    const char *netdev; /* the target host's VF netdev */
};

int migr_domxml_retarget_macvtap(const char *xml,
                                 const struct migr_domxml_retarget *map,
                                 size_t n, char **ret_xml, char *err,
                                 size_t errlen);

#endif
