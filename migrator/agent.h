/*
 * migrator/agent: the per-host agent daemon - the agent API that
 * orchestratord calls, served from one libevent loop (http/http.h).
 *
 * Threads (STYLE.md rule 6): the loop thread only answers requests and
 * signals; it never calls libvirt.  A worker thread owns the libvirt
 * connection and rebuilds the host's inventory every report_interval_s and
 * whenever libvirt reports a domain lifecycle event (start, stop, define,
 * undefine, migrate...), then swaps the cached JSON text in under a mutex;
 * GET /v1/inventory copies that text.  If libvirtd cannot be reached the
 * inventory says so ("libvirt":{"error"}, "domains":null: unknown, not
 * empty) and the worker reconnects on its next round, so the agent keeps
 * serving through a libvirtd restart.
 *
 * Endpoints (JSON unless said otherwise):
 *   GET /healthz       200 "ok" (text/plain), never needs a token
 *   GET /v1/inventory  200 the inventory (see migr_agent_inventory), 503
 *                      before the first refresh finished
 * Others: 404, or 405 for a method other than GET/HEAD on a known path.
 * Errors are Kubernetes Status objects, as orchestratord's.
 *
 * Auth: each direction has its own secret.  orchestratord presents conf's
 * 'agent_token' here: when it is set, every /v1 request must carry
 * "Authorization: Bearer TOKEN" (401 otherwise); when it is not set, the
 * agent only listens on a loopback address (a non-loopback 'listen' without
 * it is refused at start-up, as orchestratord refuses one without tokens).
 * With 'tls_certificate' and 'tls_key' the API is served over TLS only.
 *
 * Reports: with an 'orchestrator' URL the agent also pushes every new
 * inventory to orchestratord (migrator/report.h), presenting
 * 'orchestrator_token'; a reporter thread does that, so neither the loop
 * nor the worker ever waits on orchestratord.
 */
#ifndef ORCH_MIGRATOR_AGENT_H
#define ORCH_MIGRATOR_AGENT_H

#include <stdint.h>

#include <jansson.h>

#include "conf/conf.h"
#include "http/http.h"
#include "migrator/sriov.h"
#include "migrator/virt.h"

/* The agent's version, reported to orchestratord (as kubelet's). */
#define MIGR_AGENT_VERSION "v0.1.0"

/* Where an inventory comes from.  Everything is borrowed. */
struct migr_agent_sources {
    const struct conf_migrator *cfg;   /* name, labels, networks, sysfs_root,
                                          shared_storage */
    struct migr_virt *virt;            /* NULL: libvirt not connected */
    const char *virt_error;            /* why not, when virt is NULL */
    const struct migr_netlink_ops *nl; /* VF MAC/VLAN; NULL: sysfs only */
    struct migr_sriov *sriov;          /* VF reservations; NULL: none */
    const char *agent_url;             /* the agent API's URL; NULL: "" */
    const char *boot_id;               /* this run's id; NULL: "" */
    const char *libvirt_peer_uri;      /* migr_jobs_peer_uri; NULL: none */
    const char *os_release; /* NULL: CONF_OS_RELEASE_PATH (tests: a file) */
};

/*
 * Build the host's inventory (the body of the report to orchestratord,
 * migrator/report.h):
 *   {"name", "addresses":[{"type":"Hostname"|"InternalIP","address"}],
 *    "agent":{"url","version","bootId","libvirtPeerURI"?},
 *    "nodeInfo":{"kernelVersion","osImage","arch", and with libvirt:
 *                "libvirtVersion","hypervisorVersion","hostUUID"?,
 *                "cpuModel"},
 *    "libvirt":{"uri","version","hostUUID"?} or {"uri","error"},
 *    "capacity":{"cpus","memoryKiB"} (absent without libvirt),
 *    "labels":{KEY:VALUE},
 *    "domains":[{"name","uuid","state","stateReason","id","persistent",
 *                "migrating","memoryKiB","vcpus",
 *                "interfaces":[{"name","mac","type","source",
 *                               "ipAddresses":[IP]}],
 *                "disks":[{"target","device","source","type","shared",
 *                          "readonly"}],
 *                "hostdevs","acpi"}]
 *              sorted by name, or null when libvirt could not be asked,
 *    "networks":[{"name","pf","mode","vlan","trust","spoofchk",
 *                 "totalVFs","numVFs",
 *                 "vfs":[{"index","pci","netdev","driver","mac","vlan",
 *                         "trust","spoofchk","linkState","reserved",
 *                         "inUse","usedBy"}]} | {"name","pf","mode","vlan",
 *                 "trust","spoofchk","error"}]}
 * InternalIP addresses are this host's (its network namespace's) global
 * addresses, loopback and link-local left out.  A network's "trust" and
 * "spoofchk" are what the config programs (null: left alone).  A VF's
 * "mac", "vlan", "trust", "spoofchk" and "linkState" ("auto", "enable",
 * "disable") are null when netlink did not report them; "inUse" is true
 * when the VF is reserved (migrator/sriov.h) or an active domain's
 * interface names it (its PCI address or netdev as the source), and
 * "usedBy" names the reservation's owner or that domain (null when
 * free).  Networks sharing a PF list the same VFs.  A PF whose VF list netlink
 * cannot read still lists its VFs, with "linkError" saying why.  A PF
 * missing on this host is reported with "error", not a failure.  "state"
 * is virsh's word ("running", "shut off", ...), "stateReason" too (see
 * struct migr_dom_info).  "id" is -1 for an inactive domain.  A disk is
 * "shared" when it is a network disk or its source lies under one of the
 * config's shared_storage prefixes.  A domain whose devices could not be
 * read has "interfaces" and "disks" null (unknown, not none), no
 * "hostdevs"/"acpi", and "devicesError" saying why; one that vanished
 * since the listing is left out.  "hostUUID" is absent when the driver has
 * none; "cpuModel" falls back to the architecture when it names no model.
 *
 * Blocking (libvirt, sysfs, netlink): worker threads only.  Returns 0 and
 * *ret (json_decref) with *ret_virt_err (may be NULL) set to 0 or the
 * negative errno of the libvirt call that failed; or -EINVAL, -ENOMEM.
 */
int migr_agent_inventory(const struct migr_agent_sources *src, json_t **ret,
                         int *ret_virt_err);

/* Take back the VFs this host's domains hold into `s` after a migrator
 * restart (the table starts empty; see migrator/sriov.h): for every SR-IOV
 * interface (alias "ua-sriov-...") of every domain on `v`, active domains
 * first, then defined ones, migr_sriov_adopt_iface with the interface's
 * type, source and MAC.  Logs one line per VF adopted and a warning for
 * each interface that could not be (no configured PF here has its VF,
 * another domain holds it, a bad MAC) or domain whose XML could not be
 * read: those are not failures, the agent goes on.  migr_agent_start calls
 * it before the jobs run.  Blocking (libvirt, sysfs): main or worker
 * thread.  Returns how many VFs were adopted, or a translated libvirt
 * error of listing the domains (logged too), -EINVAL, -ENOMEM. */
int migr_agent_sriov_adopt(const struct conf_migrator *cfg, struct migr_virt *v,
                           struct migr_sriov *s);

struct migr_agent;

/* A new agent for `cfg` (borrowed: it must outlive the agent) and netlink
 * ops `nl` (borrowed; NULL: migr_netlink_libnl).  Checks the listen
 * address, the auth rule above, and that the agent's URL can be formed
 * (see migr_agent_url); makes this run's boot id and, with an
 * 'orchestrator', the reporter (not started).  Returns 0 and *ret (free
 * with migr_agent_free), or -EINVAL (with a message: a bad 'listen', a
 * non-loopback one without 'agent_token', a wildcard one without
 * 'advertise_url' or 'migration_address'), -ENOMEM, or -errno of
 * getrandom. */
int migr_agent_new(const struct conf_migrator *cfg,
                   const struct migr_netlink_ops *nl, struct migr_agent **ret,
                   char *err, size_t errlen);

/* Log a last summary of refused requests not reported yet, stop the
 * worker if it runs and free the agent; NULL-safe. */
void migr_agent_free(struct migr_agent *a);

/* Rebuild the inventory now on the calling thread (connecting to libvirt
 * first if need be) and publish it.  Blocking; not concurrently with the
 * worker (tests call it without one).  Returns 0, or -ENOMEM; a libvirt
 * failure is not an error here, it is in the inventory. */
int migr_agent_refresh(struct migr_agent *a);

/* The agent API's URL as reported to orchestratord ("agent":{"url"}):
 * 'advertise_url', else http[s]://ADDR:PORT from 'listen' (the address
 * 'migration_address' when 'listen' is a wildcard).  Borrowed from the
 * agent. */
const char *migr_agent_url(const struct migr_agent *a);

/* The agent API was bound to `port`: with 'listen' port 0 the URL takes
 * it.  Before migr_agent_start only (the worker reads the URL).  Main
 * thread. */
void migr_agent_bound(struct migr_agent *a, uint16_t port);

/* Adopt the domains' VFs (migr_agent_sriov_adopt, on a connection of its
 * own; libvirt unreachable is a warning), then start the worker thread
 * (and libvirt's event loop, before the worker's first connection): a
 * refresh at once, then every report_interval_s and on every domain
 * lifecycle event; read the jobs' journal back and start the job workers;
 * and the reporter thread, which pushes each refreshed inventory.
 * Returns 0 or a negative errno. */
int migr_agent_start(struct migr_agent *a);

/* Stop and join the reporter (a push in flight is cut within about
 * 100 ms), the worker (waiting for a libvirt call in progress) and
 * libvirt's event loop.  NULL-safe; a no-op when not started. */
void migr_agent_stop(struct migr_agent *a);

/* How many inventories have been published (0: none yet).  Any thread. */
uint64_t migr_agent_generation(struct migr_agent *a);

/* The HTTP handler (an http_handler_fn; `arg` is the agent).  Reads only
 * the cache: never blocks.  Logs failed auth, rate-limited so that a
 * client guessing tokens cannot flood the log: the first in full, then at
 * most one summary a minute of how many more came and from where.  Loop
 * thread only (one at a time). */
void migr_agent_handle(const struct http_request *req,
                       struct http_response *resp, void *arg);

/* Run the daemon: start the worker, bind 'listen' (port 0: any free port,
 * logged as "serving HTTP on ADDR:PORT", or HTTPS with TLS), serve until
 * SIGTERM or SIGINT,
 * then stop accepting, let replies in flight go out, stop the worker.
 * SIGHUP is logged; nothing is reloaded yet.  Main thread.  Returns 0 after
 * a clean stop, or a negative errno when it could not start. */
int migr_agent_serve(struct migr_agent *a);

/* Whether `path` lies under one of cfg's shared_storage prefixes: the
 * prefix itself or below it at a '/' boundary.  A path that climbs with
 * ".." is not trusted to stay below.  The one rule for the inventory's
 * "shared" and a migration target's DiskNotShared.  Any thread. */
bool migr_agent_path_shared(const struct conf_migrator *cfg, const char *path);

#endif
