/*
 * migrator/podnat: a masquerade interface's `ports` forwarded from the
 * host's addresses to its guest on the per-host NAT network (vmhost.h,
 * MIGR_VMHOST_NAT_NETWORK), as KubeVirt forwards them from the pod's
 * address.
 *
 * The guest gets a fixed address on the NAT network, a DHCP reservation
 * for its MAC (migr_podnat_addr: the same on every host, so it keeps it
 * across a migration), and for each port three iptables rules, tagged with
 * the comment "orch-pod:DOMAIN" so they are found again:
 *   nat PREROUTING   DNAT of connections to any local address but loopback
 *   nat OUTPUT       the same for connections made on the host itself
 *   filter FORWARD   inserted first: libvirt's own chains accept only
 *                    replies towards a NAT network and reject the rest
 * The caller (vmhost.c) leaves out 49152 and 49153, where libvirt receives
 * migrations, as KubeVirt's masquerade does with its legacy migration
 * transport (a VMI listing them is not live-migratable anyway).
 * Unlike KubeVirt, a masquerade interface without `ports` gets nothing
 * forwarded: the host's addresses are shared by every VM on it and by the
 * host's own daemons, where a pod's address is its VM's alone.
 *
 * The rules are fed to iptables-restore --noflush (one transaction per
 * table) and removed by deleting, from what iptables-save lists, the lines
 * with the domain's comment.  libvirt (9.0) has no port forwarding for a
 * NAT network of its own.  A libvirtd restart that reloads the network's
 * rules puts its chains back in front of the FORWARD rule: a stop and start
 * of the VM (or its migration) puts it first again.
 *
 * The text builders are pure (any thread); migr_podnat_forward and
 * migr_podnat_unforward run iptables in the caller's network namespace and
 * block: worker threads only.  Nothing here logs.
 */
#ifndef ORCH_MIGRATOR_PODNAT_H
#define ORCH_MIGRATOR_PODNAT_H

#include <stdbool.h>
#include <stddef.h>

/* The NAT network's bridge (vmhost.c defines the network with it). */
#define MIGR_PODNAT_BRIDGE "orch-pod0"
/* The comment on every rule of DOMAIN is MIGR_PODNAT_TAG DOMAIN. */
#define MIGR_PODNAT_TAG "orch-pod:"

struct migr_podnat_port {
    int port; /* 1..65535 */
    bool udp; /* else TCP */
};

/* The guest address of the VMI whose uid is `uid` on the NAT network
 * (10.0.2.0/24; .1 is the host): "10.0.2.N", N in 2..254 from a hash of
 * the uid, into buf.  Returns 0, -EINVAL (no uid), -ENAMETOOLONG. */
int migr_podnat_addr(const char *uid, char *buf, size_t len);

/* The iptables-restore input that adds DOMAIN's rules forwarding `ports`
 * (n of them) to `guest` (an IPv4 address).  *ret is the caller's (free).
 * Returns 0, -EINVAL (no domain, a domain with characters other than
 * letters, digits, '.', '_' and '-', a bad address or port), -ENOMEM. */
int migr_podnat_rules(const char *domain, const char *guest,
                      const struct migr_podnat_port *ports, size_t n,
                      char **ret);

/* From iptables-save's output for the nat and filter tables (`save`), the
 * iptables-restore input that deletes every rule tagged for DOMAIN; "" when
 * there is none.  *ret is the caller's (free).  Returns 0, -EINVAL,
 * -ENOMEM. */
int migr_podnat_unrules(const char *domain, const char *save, char **ret);

/* Forward `ports` to `guest` for DOMAIN: any rules of DOMAIN are removed
 * first, so a second call replaces them.  Returns 0, -EINVAL, -ENOENT
 * (no iptables-restore), -EIO (iptables refused: its message in err). */
int migr_podnat_forward(const char *domain, const char *guest,
                        const struct migr_podnat_port *ports, size_t n,
                        char *err, size_t errlen);

/* Remove DOMAIN's rules; none is success.  Returns 0, -EINVAL, -ENOENT,
 * -EIO as above. */
int migr_podnat_unforward(const char *domain, char *err, size_t errlen);

#endif
