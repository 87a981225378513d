/*
 * orchestratord/hosts: what the migrators report, turned into Node and VMI
 * records, and the node monitor that notices a migrator falling silent.
 *
 * Each migrator PUTs its whole picture (the inventory, see migrator/agent.h
 * and the issue 8 contract) to
 *     /apis/agent.orchestrator.io/v1/nodereports/NODE
 * every report_interval_s and after every lifecycle event.  A report is
 * idempotent: it is diffed against what is stored and only what changed is
 * written, in one store transaction per report.  A per-node cache in
 * memory lets an unchanged report write nothing at all except, every
 * ORCH_HOSTS_HEARTBEAT_WRITE_S, the node's lastHeartbeatTime: the hash of
 * the last applied report's text without "generation" and "refreshedAt"
 * (a repeat is not even decoded), hashes of its node part and of each
 * domain (a changed report compares only the domains that changed with
 * their VMIs), the VMIs the node runs, and when the node was written.  The
 * cache starts empty: the first report after a restart is compared with
 * the store in full, and writes only what differs.
 *
 * Node record /api/v1/nodes/NODE: labels (the report's plus
 * kubernetes.io/hostname), annotations (orchestrator.io/agent-url, ...),
 * spec as the admin set it (cordon), status.addresses, capacity,
 * allocatable (= capacity), nodeInfo, sriovNetworks, sriov, skippedDomains
 * and a Ready condition: True (KubeletReady), False (LibvirtUnreachable) or
 * Unknown (NodeStatusUnknown, set by the monitor).
 *
 * SR-IOV in the node record (what the scheduler and `orchctl describe node`
 * read; in the manner of SR-IOV Network Operator's SriovNetworkNodeState,
 * kept in the node's status since there is no second object here):
 *   status.sriov.pfs[]: one per PF interface name the config's networks
 *     use: {"name" (the PF's interface name: how VFs match across hosts),
 *     "networks" [names], "totalVFs", "numVFs", "vfsFree", "vfsInUse",
 *     "error" (the PF is missing or not SR-IOV: no "vfs"), "linkError",
 *     "vfs":[{"index","pci","netdev","driver","mac","vlan","trust",
 *     "spoofchk","linkState","reserved","inUse","usedBy"}]}; a VF is free
 *     when not "inUse" (reserved by the migrator, or named by an active
 *     domain's interface; from an older migrator: reserved or on vfio-pci).
 *   status.sriovNetworks[]: the config's networks {"name","pf","mode",
 *     "vlan","trust","spoofchk","vfsFree","vfsInUse" (their PF's), "error"}
 *     - the mapping from a manifest's multus networkName to a PF.
 *
 * VMI records: one per domain, by name ("NS_NAME", else "default"/NAME, else
 * skipped and listed on the node), with KubeVirt's phase mapping
 * (orch_domain_phase()), status.nodeName, interfaces, conditions Ready,
 * Paused, LiveMigratable.  A VMI owned by one node (status.nodeName) is not
 * taken by another node reporting the same domain while the owner still
 * reports it active; it moves when the owner reports it gone or migrated
 * and another Ready node runs it.  A domain gone from its owner's report
 * leaves its VMI in place, Failed if it was not final.
 *
 * Monitor: a node whose last report is older than the grace period
 * (settings.node_grace_s) turns Ready=Unknown and its VMIs get Ready=Unknown
 * (NodeUnreachable); nothing is deleted or moved.  After a restart every
 * stored node gets a fresh grace period from start-up (the observation time
 * is this process's, not the stored heartbeat), as Kubernetes' node
 * lifecycle controller does.
 *
 * Threads: the event loop thread only.  Apart from the request handler,
 * nothing here logs.
 */
#ifndef ORCH_HOSTS_H
#define ORCH_HOSTS_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

struct orch_server;
struct http_request;
struct http_response;
struct api_errors;

/* The interval the report answer asks migrators to use. */
#define ORCH_HOSTS_REPORT_INTERVAL_S 10
/* An unchanged report rewrites the node (its heartbeat) at most this
 * often. */
#define ORCH_HOSTS_HEARTBEAT_WRITE_S 30

/* A node's Ready condition status. */
enum orch_node_ready {
    ORCH_NODE_READY_TRUE = 0,
    ORCH_NODE_READY_FALSE,   /* libvirt unreachable */
    ORCH_NODE_READY_UNKNOWN, /* no report within the grace period */
};

/* What the monitor knows of a node. */
struct orch_node_obs {
    int64_t last_seen_ms; /* monotonic ms of the last report this process
                             saw, or of start-up when none came yet */
    enum orch_node_ready reported; /* what the last report said (after a
                                      restart without a report yet: what
                                      the store says) */
};

/* The node state machine, a pure function: UNKNOWN when more than GRACE_MS
 * passed since OBS->last_seen_ms, else what the node last reported (TRUE,
 * or FALSE when libvirt was unreachable; UNKNOWN stays UNKNOWN until a
 * report comes). */
enum orch_node_ready orch_node_ready_eval(const struct orch_node_obs *obs,
                                          int64_t now_ms, int64_t grace_ms);

/* "True", "False", "Unknown". */
const char *orch_node_ready_name(enum orch_node_ready r);

/* The Ready condition of the Node record NODE as stored (what the reports
 * and the monitor wrote): TRUE, FALSE, or UNKNOWN, also when NODE has no
 * Ready condition or its status is another word.  When not NULL,
 * *RET_REASON and *RET_MESSAGE get the condition's reason and message,
 * borrowed from NODE (NULL when absent).  The controller reads a target's
 * readiness through this (controller.h). */
enum orch_node_ready orch_node_ready_of(const json_t *node,
                                        const char **ret_reason,
                                        const char **ret_message);

/* KubeVirt's phase for a domain in STATE (virsh's word: "running",
 * "paused", "shut off", "crashed", ...) for REASON (virsh domstate
 * --reason's word, may be NULL), with ACPI as the domain's <acpi/>, given
 * the VMI's previous phase PREV (NULL or "" when new).  Returns a static
 * string, or PREV when the state does not tell ("migrated", unknown
 * reasons); for a new VMI whose state tells nothing: "Succeeded" when shut
 * off, "Failed" when crashed, else "Pending". */
const char *orch_domain_phase(const char *state, const char *reason, bool acpi,
                              const char *prev);

/* Whether STATE is one in which the domain runs on the host (running,
 * paused, blocked/idle, pmsuspended, in shutdown). */
bool orch_domain_state_active(const char *state);

/* Map a domain name to its VMI: "NS_NAME" splits at the first '_' (NS a
 * DNS-1123 label, NAME a DNS-1123 subdomain); a name without '_' is
 * "default"/NAME when a DNS-1123 subdomain.  Writes NUL-terminated copies
 * into NS (64 bytes) and NAME (254 bytes).  Returns 0, or -EINVAL with a
 * static reason in *RET_REASON (the domain is then skipped). */
int orch_domain_vmi_name(const char *domain, char ns[64], char name[254],
                         const char **ret_reason);

/* Check a report body's shape (types of every field orchestratord reads,
 * with their paths, e.g. "domains[3].memoryKiB").  NODE is the URL's node
 * name, which a "name" in the report must match.  Returns 0, or -EINVAL
 * with the errors in ERRS, or -ENOMEM. */
int orch_report_check(const json_t *report, const char *node,
                      struct api_errors *errs);

/* Apply a checked report of NODE at monotonic time NOW_MS: write the node
 * and VMI records that changed, in one transaction, and tell the watchers.
 * Returns the number of records written (>= 0), or a negative errno from
 * the store (nothing is then written and the cache is left as it was). */
int orch_hosts_report(struct orch_server *srv, const char *node,
                      const json_t *report, int64_t now_ms);

/* The order of NODE's reports (issue 10): a report carries its migrator
 * run's random "bootId" and "sequence", a counter of that run's pushes.
 * Given a report's BOOT_ID (NULL or "": not checked) and SEQ (< 0: not
 * checked), returns 0 when it comes after every report accepted from NODE
 * (it is now the latest: call this once per report, before applying it),
 * or, counted in srv->metrics.agent_rejected: -EALREADY (duplicate_report:
 * the sequence of the latest), -ESTALE (stale_report: an older sequence of
 * the same run, or a run that a newer one replaced while this process ran).
 * A rejected report must be ignored.  -ENOMEM. */
int orch_hosts_report_order(struct orch_server *srv, const char *node,
                            const char *boot_id, int64_t seq);

/* Whether the VMI NS/NAME runs on NODE by NODE's latest report received
 * at monotonic SINCE_MS or later (the clock orch_hosts_report() was
 * given): 1 its domain is active there (running, paused, arriving by
 * migration), 0 it is not, -EAGAIN no report since SINCE_MS told (none
 * came, or libvirt could not be asked).  The controller's evidence when a
 * job is lost (controller.h). */
int orch_hosts_vmi_runs(struct orch_server *srv, const char *node,
                        const char *ns, const char *name, int64_t since_ms);

/* Start-up: give every stored node a fresh grace period from NOW_MS.
 * Called by orch_hosts_start(); tests call it on a server without a loop.
 * Returns 0 or a negative errno. */
int orch_hosts_load(struct orch_server *srv, int64_t now_ms);

/* One round of the node monitor at NOW_MS: turn nodes past their grace
 * period Unknown (and their VMIs' Ready).  Returns the number of nodes
 * turned Unknown, or a negative errno from the store. */
int orch_hosts_tick(struct orch_server *srv, int64_t now_ms);

/* Load, then run the monitor every second on SRV->base.  Returns 0 or a
 * negative errno. */
int orch_hosts_start(struct orch_server *srv);

/* Stop the monitor's timer; NULL-safe, idempotent. */
void orch_hosts_stop(struct orch_server *srv);

/* Free the hosts state of SRV (the cache); the server may report again. */
void orch_hosts_release(struct orch_server *srv);

/* The current monotonic time in ms. */
int64_t orch_hosts_clock_ms(void);

/* The request handler for PUT .../nodereports/NODE, after authentication
 * (the caller checked that the credential may report for NODE). */
void orch_handle_nodereport(struct orch_server *srv,
                            const struct http_request *req,
                            struct http_response *resp, const char *node);

#endif
