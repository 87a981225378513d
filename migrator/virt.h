/*
 * migrator/virt: the libvirt seam.  The only code that calls libvirt.
 *
 * A connection (struct migr_virt) to the local hypervisor; domains are
 * named by their libvirt name ("NAMESPACE_NAME", see domxml.h).  Lifecycle
 * (define, start, destroy, undefine), the domain list with states and
 * their reasons, a domain's XML and the devices it names (read with
 * libxml2, which libvirt itself uses), the guests' addresses, live device
 * attach and detach (SR-IOV unplug/replug), and the peer-to-peer live
 * migration: virDomainMigrateToURI3 with LIVE | PEER2PEER | PERSIST_DEST |
 * UNDEFINE_SOURCE plus what the resolved migration policy allows, and typed
 * parameters (migration URI, bandwidth, destination and persistent XML,
 * parallel connections).
 *
 * Errors: 0 or a negative errno; libvirt's error is translated here
 * (-ENOENT no such domain, -EINVAL invalid XML or operation for the
 * domain's state, -EOPNOTSUPP the driver cannot do it, -EACCES, -ETIMEDOUT,
 * -ECANCELED an aborted job, -ECONNREFUSED no connection, -EIO the rest)
 * and its message copied into the caller's `err` buffer when one is given.
 * Nothing here logs.
 *
 * Threads: every call blocks (migration for as long as it runs), so the
 * agent calls these from worker threads, never its event loop.  One
 * struct migr_virt may be used from several threads at once (libvirt
 * connections are thread-safe; errors are per thread).
 */
#ifndef ORCH_MIGRATOR_VIRT_H
#define ORCH_MIGRATOR_VIRT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct migr_virt;

/* Open a connection to `uri` ("qemu:///system", "test:///default", ...).
 * Returns 0 and *ret (close with migr_virt_close), or a negative errno. */
int migr_virt_open(const char *uri, struct migr_virt **ret, char *err,
                   size_t errlen);

/* Close the connection; NULL-safe.  With a lifecycle callback registered
 * (migr_virt_on_lifecycle), first waits for a call of it in progress on
 * libvirt's event thread to return; once this returns the callback is not
 * running and is never called again, so its `arg` may be freed.  Not from
 * inside the callback itself (it would wait for itself). */
void migr_virt_close(struct migr_virt *v);

enum migr_dom_state {
    MIGR_DOM_NOSTATE = 0,
    MIGR_DOM_RUNNING,
    MIGR_DOM_BLOCKED,
    MIGR_DOM_PAUSED,
    MIGR_DOM_SHUTDOWN, /* shutting down */
    MIGR_DOM_SHUTOFF,
    MIGR_DOM_CRASHED,
    MIGR_DOM_PMSUSPENDED,
};

/* "running", "paused", "shut off", ... as virsh says them. */
const char *migr_dom_state_name(enum migr_dom_state s);

struct migr_dom_info {
    char name[256];
    char uuid[37];
    enum migr_dom_state state;
    /* Why it is in that state, as `virsh domstate --reason` words it
     * ("booted", "unpaused", "user", "migrating", "post-copy", "shutdown",
     * "destroyed", "crashed", "migrated", "saved", "failed", "from
     * snapshot", "unknown", ...); a static string. */
    const char *state_reason;
    int id; /* the running domain's id; -1 when inactive */
    bool persistent;
    /* A migration runs on this host: a libvirt migration job (in or out)
     * is active, or the domain is paused for migration or in post-copy. */
    bool migrating;
    uint64_t memory_kib; /* the domain's maximum memory (its allocation) */
    unsigned vcpus;      /* virtual CPUs now */
};

/* Every domain, active and inactive, sorted by name.  *ret is malloc'd
 * (caller frees; NULL when there are none) and the count is returned. */
int migr_virt_list(struct migr_virt *v, struct migr_dom_info **ret, char *err,
                   size_t errlen);

/* One domain's info by name. */
int migr_virt_info(struct migr_virt *v, const char *name,
                   struct migr_dom_info *ret, char *err, size_t errlen);

/* What this hypervisor host is, for the inventory. */
struct migr_host_info {
    char uri[256];               /* the connection's canonical URI */
    char version[32];            /* libvirt's version, "9.0.0" */
    char hypervisor_version[32]; /* the driver's (QEMU's) version, "7.2.0" */
    char host_uuid[37];  /* the host UUID from the capabilities; "" unknown */
    char cpu_model[128]; /* the host CPU model from the capabilities; "" when
                            the driver names none (the test driver) */
    char arch[32];       /* the host CPU's architecture, "x86_64"; "" unknown */
    unsigned cpus;       /* logical CPUs */
    uint64_t memory_kib; /* physical memory */
};

/* Read the host facts.  Returns 0 and fills *ret, or a translated libvirt
 * error (an unanswering libvirtd: -ECONNREFUSED or -EIO). */
int migr_virt_host(struct migr_virt *v, struct migr_host_info *ret, char *err,
                   size_t errlen);

/*
 * A domain's devices and features, as its XML says, for the inventory and
 * the live-migration checks orchestratord makes.
 */

#define MIGR_IFACE_MAX_IPS 8

struct migr_dom_iface {
    char name[64];    /* the host-side device (<target dev>); "" unknown */
    char mac[18];     /* "52:54:00:..."; "" none */
    char type[16];    /* bridge, network, direct, hostdev, user, ... */
    char source[256]; /* bridge, network or device name, a hostdev's PCI
                         address "0000:3b:02.1", a socket path; "" none */
    char alias[64];   /* <alias name>: "ua-sriov-net1" (domxml.h); "" none */
    /* The guest's addresses on it, as far as libvirt knows them. */
    char ips[MIGR_IFACE_MAX_IPS][46];
    size_t n_ips;
};

struct migr_dom_disk {
    char target[32]; /* "vda" */
    char device[16]; /* disk, cdrom, floppy, lun */
    char type[16];   /* file, block, network, volume, dir, nvme, ... */
    /* A file or block device path, a directory, "PROTOCOL:NAME" of a network
     * disk, "POOL/VOLUME"; "" when none (an empty CD-ROM drive). */
    char source[4096];
    bool readonly;
};

struct migr_dom_devices {
    struct migr_dom_iface *ifaces; /* in XML order */
    size_t n_ifaces;
    struct migr_dom_disk *disks; /* in XML order */
    size_t n_disks;
    unsigned hostdevs;   /* <hostdev> elements (not hostdev interfaces) */
    bool acpi;           /* <features><acpi/> */
    uint64_t memory_kib; /* <memory> (the guest's maximum) in KiB; 0 none */
    /* The VMI the domain was made for, from <metadata><orch:vmi> (see
     * domxml.h, MIGR_VMI_XMLNS); "" when the domain has none. */
    char vmi_namespace[64];
    char vmi_name[254];
    char vmi_uid[64];
};

/* Parse a domain's XML into *ret, which must be zeroed or hold an earlier
 * result (freed first); free what it holds with migr_dom_devices_clear.
 * No libvirt call: any thread.  Returns 0, -EINVAL (not a <domain>
 * document) or -ENOMEM. */
int migr_dom_devices_parse(const char *xml, struct migr_dom_devices *ret);

/* Free what *d holds and zero it.  NULL-safe. */
void migr_dom_devices_clear(struct migr_dom_devices *d);

/* Domain `name`'s devices from its live XML.  With `addresses`, and when
 * the domain is active, each interface's guest addresses from libvirt's
 * DHCP leases, then the host's ARP table for interfaces still without one
 * (matched by MAC); an address source that fails or knows nothing leaves
 * the list empty, it is not an error.  Returns 0 and *ret (zeroed or an
 * earlier result, which is freed; clear with migr_dom_devices_clear),
 * -ENOENT (no such domain), -ENOMEM, or a translated libvirt error; *ret
 * is untouched on failure. */
int migr_virt_devices(struct migr_virt *v, const char *name, bool addresses,
                      struct migr_dom_devices *ret, char *err, size_t errlen);

/*
 * Domain lifecycle events.  libvirt delivers events from its own event
 * loop, which must be registered in the process before the first
 * connection is opened: migr_virt_events_start() does that once and runs
 * the loop on a thread of its own; migr_virt_events_stop() ends that thread
 * (libvirt cannot unregister its loop, so a later start only restarts the
 * thread).  Main thread only, not concurrently with each other.
 * Returns 0, -EIO (libvirt refused the loop), or -errno of
 * pthread_create.
 */
int migr_virt_events_start(void);
void migr_virt_events_stop(void);

/* Called on libvirt's event thread when domain `name` started, stopped,
 * was defined, undefined, suspended, resumed, migrated... */
typedef void (*migr_virt_lifecycle_fn)(const char *name, void *arg);

/* Call `fn(name, arg)` for every lifecycle event of every domain of `v`
 * until migr_virt_close(v), on libvirt's event thread (one call at a
 * time).  Needs migr_virt_events_start() before migr_virt_open().  One
 * callback per connection.  What the event thread reads is libvirt's to
 * free once deregistered, never freed under a running callback.  Returns
 * 0, -EBUSY (one is registered already), -ENOMEM, or a translated libvirt
 * error. */
int migr_virt_on_lifecycle(struct migr_virt *v, migr_virt_lifecycle_fn fn,
                           void *arg, char *err, size_t errlen);

/* Define (persistently) a domain from XML; *ret_name (may be NULL) gets
 * its name, malloc'd. */
int migr_virt_define(struct migr_virt *v, const char *xml, char **ret_name,
                     char *err, size_t errlen);
int migr_virt_start(struct migr_virt *v, const char *name, char *err,
                    size_t errlen);
/* Hard power-off (virDomainDestroy). */
int migr_virt_destroy(struct migr_virt *v, const char *name, char *err,
                      size_t errlen);
int migr_virt_undefine(struct migr_virt *v, const char *name, char *err,
                       size_t errlen);
/* Ask the guest to shut down (ACPI power button, virDomainShutdown); it
 * may take its time or ignore it.  Returns 0, -ENOENT, or a translated
 * libvirt error (-EINVAL: the domain is not running). */
int migr_virt_shutdown(struct migr_virt *v, const char *name, char *err,
                       size_t errlen);

/* Make sure the libvirt network `xml` (a <network> with a <name>) is
 * defined, active and autostarted; one already defined under its name is
 * kept as it is.  Returns 0 or a translated libvirt error. */
int migr_virt_network_ensure(struct migr_virt *v, const char *xml, char *err,
                             size_t errlen);

/* A DHCP reservation of `ip` for `mac` in the active network `network`
 * (its first IPv4 range), live and in its definition: with `add` it is
 * made, replacing one that `mac` had; without, the reservation of `mac`
 * is removed (none is success).  Returns 0, -ENOENT (no such network), or
 * a translated libvirt error (e.g. `ip` reserved for another MAC). */
int migr_virt_network_dhcp_host(struct migr_virt *v, const char *network,
                                const char *mac, const char *ip, bool add,
                                char *err, size_t errlen);

/* The domain's XML (migratable: without what only this host knows, as
 * libvirt sends it to a migration target).  *ret_xml is malloc'd. */
int migr_virt_xml(struct migr_virt *v, const char *name, bool migratable,
                  char **ret_xml, char *err, size_t errlen);

/* Attach a device (e.g. migr_domxml_sriov_interface's XML) to the running
 * domain and its persistent definition. */
int migr_virt_attach(struct migr_virt *v, const char *name,
                     const char *device_xml, char *err, size_t errlen);

/* Detach the device with user alias `alias` ("ua-sriov-net1") from the
 * running domain and its persistent definition.  libvirt returns once the
 * request is sent; the guest releases the device asynchronously. */
int migr_virt_detach_alias(struct migr_virt *v, const char *name,
                           const char *alias, char *err, size_t errlen);

/* A migration as the resolved policy asks for it. */
struct migr_migrate_params {
    const char *dest_uri;     /* target libvirtd, e.g.
                                 "qemu+tcp://198.18.0.2/system" (required) */
    const char *migrate_uri;  /* data stream, e.g. "tcp://198.18.0.2:49152";
                                 NULL: libvirt picks */
    const char *dest_xml;     /* domain XML on the target (a macvtap
                                 retarget); NULL: the source's */
    const char *persist_xml;  /* persistent definition on the target;
                                 NULL: same as dest_xml */
    uint64_t bandwidth_mib;   /* MiB/s; 0 unlimited */
    uint64_t max_downtime_ms; /* 0: libvirt's default */
    int parallel_connections; /* > 1: multifd with that many */
    bool auto_converge;       /* allowAutoConverge */
    bool post_copy;           /* allowPostCopy: may switch to post-copy */
    bool unsafe;              /* unsafeMigrationOverride */
    bool tls;                 /* VIR_MIGRATE_TLS (not disableTLS) */
    bool block_migration;     /* copy local disks (NON_SHARED_INC) */
    int disks_port;           /* block_migration: the target's port for
                                 libvirt's NBD server (DISKS_PORT), one the
                                 target's prepare gave; 0: libvirt picks
                                 from its own range - which may be the
                                 port migrate_uri names */
};

/* Migrate domain `name` peer-to-peer and wait for the end.  Flags:
 * LIVE | PEER2PEER | PERSIST_DEST | UNDEFINE_SOURCE, plus AUTO_CONVERGE,
 * POSTCOPY, UNSAFE, TLS, NON_SHARED_INC, PARALLEL as set, and PAUSED when
 * the domain is paused now.  A max downtime, when given, is set on the
 * domain first (jobs.c gives none and sets it once the job runs).
 * Returns 0 when libvirt reports success, -EINVAL (no dest_uri), or the
 * translated libvirt error. */
int migr_virt_migrate(struct migr_virt *v, const char *name,
                      const struct migr_migrate_params *p, char *err,
                      size_t errlen);

/*
 * The migration job of a domain (the source side's view), for the monitor
 * in migrator/jobs.c.  Each call looks the domain up by name and blocks;
 * worker threads only.
 */

enum migr_job_kind {
    MIGR_JOB_NONE = 0,  /* no job */
    MIGR_JOB_ACTIVE,    /* a job runs (bounded or unbounded) */
    MIGR_JOB_COMPLETED, /* (completed stats) it ended well */
    MIGR_JOB_FAILED,    /* (completed stats) it failed */
    MIGR_JOB_CANCELLED, /* (completed stats) it was aborted */
};

/* virDomainGetJobStats' fields; what libvirt leaves out stays 0. */
struct migr_job_stats {
    enum migr_job_kind kind;
    bool migration; /* the job is a migration (or does not say what) */
    uint64_t data_total, data_processed, data_remaining; /* bytes */
    uint64_t memory_total;                               /* bytes */
    uint64_t memory_bps;                                 /* bytes/s */
    uint64_t dirty_rate;  /* pages/s (memory_dirty_rate) */
    uint64_t iteration;   /* memory_iteration */
    uint64_t downtime_ms; /* expected while running, real when completed */
    uint64_t time_elapsed_ms;
};

/* Domain `name`'s job statistics: the running job's, or with `completed`
 * those of the job that ended last (VIR_DOMAIN_JOB_STATS_COMPLETED).
 * Returns 0 and *ret, -ENOENT (no such domain: a migrated-away domain is
 * undefined), or a translated libvirt error. */
int migr_virt_job_stats(struct migr_virt *v, const char *name, bool completed,
                        struct migr_job_stats *ret, char *err, size_t errlen);

/* Abort domain `name`'s job (virDomainAbortJob).  A pre-copy migration
 * then fails and the domain keeps running here.  Returns 0, -ENOENT, or a
 * translated libvirt error (-EINVAL: no job, or one that cannot be aborted
 * any more, such as a post-copy migration). */
int migr_virt_job_abort(struct migr_virt *v, const char *name, char *err,
                        size_t errlen);

/* Switch domain `name`'s migration to post-copy
 * (virDomainMigrateStartPostCopy); it must have been started with
 * post_copy.  Returns 0, -ENOENT, or a translated libvirt error. */
int migr_virt_postcopy_start(struct migr_virt *v, const char *name, char *err,
                             size_t errlen);

/* Pause domain `name`'s guest (virDomainSuspend) so that a migration that
 * does not converge can finish: KubeVirt's answer to the completion
 * timeout when workload disruption is allowed without post-copy.  The
 * migration goes on; libvirt resumes the guest on the target.  Returns 0,
 * -ENOENT, or a translated libvirt error. */
int migr_virt_suspend(struct migr_virt *v, const char *name, char *err,
                      size_t errlen);

/* Resume domain `name`'s paused guest (virDomainResume), e.g. on the
 * source after a migration it was paused for failed.  Returns 0, -ENOENT,
 * or a translated libvirt error (-EINVAL: it is not paused). */
int migr_virt_resume(struct migr_virt *v, const char *name, char *err,
                     size_t errlen);

/* Set the maximum downtime of domain `name`'s migration in ms
 * (virDomainMigrateSetMaxDowntime), meant while the migration runs.
 * Returns 0, -EINVAL (ms is 0), -ENOENT, or a translated libvirt error. */
int migr_virt_downtime_set(struct migr_virt *v, const char *name, uint64_t ms,
                           char *err, size_t errlen);

/*
 * A migration target's checks (the prepare job), on the target's own
 * connection with the source's migratable XML.
 */

/* Whether this host's hypervisor can run the guest CPU that domain XML
 * `xml` describes (virConnectCompareHypervisorCPU with the domain's virt
 * type, architecture and machine, the <cpu> element as the CPU).  Returns
 * 1 when it can (IDENTICAL or SUPERSET) or when the XML names no CPU model
 * to compare (no <cpu>, host-passthrough, maximum: those are the host's
 * own CPU wherever they run); 0 when libvirt says INCOMPATIBLE, with the
 * guest's model in `model` (`model_len` bytes); -EINVAL (not a domain
 * XML), -ENOMEM, or a translated libvirt error. */
int migr_virt_cpu_compare(struct migr_virt *v, const char *xml, char *model,
                          size_t model_len, char *err, size_t errlen);

/* This host's free memory in bytes (virNodeGetFreeMemory).  Returns 0 and
 * *ret, or a translated libvirt error. */
int migr_virt_free_memory(struct migr_virt *v, uint64_t *ret, char *err,
                          size_t errlen);

/* KubeVirt's bandwidthPerMigration rule: bytes per second to MiB/s,
 * rounded to nearest, at least 1 when not 0. */
uint64_t migr_bandwidth_mib(int64_t bytes_per_second);

#endif
