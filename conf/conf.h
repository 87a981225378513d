/*
 * conf: the configuration of both daemons, read from libconfig files into
 * plain structs with defaults.
 *
 * This module is the only user of libconfig.  Each daemon has one table of
 * keys (path, type, default, bounds); defaults, type checks, range checks
 * and the rejection of unknown keys all come from that table.  Records in
 * lists (tokens, networks) and label lists have small dedicated parsers.
 *
 * Error messages are written to the caller's buffer as "FILE:LINE: message",
 * lowercase, the key in single quotes, e.g.
 *     orchestratord.conf:7: 'listen': invalid address "foo" (expected
 *     ADDR:PORT)
 * A token's value never appears in a message.
 *
 * Lifecycle: conf_X_init() sets the defaults; conf_X_load_file() or
 * conf_X_load_string() replace the contents with defaults + the file's
 * settings, leaving the struct untouched on failure (so a SIGHUP reload that
 * fails keeps the old configuration); conf_X_clear() frees it (NULL-safe,
 * idempotent).  The structs are owned by the caller; every string in them is
 * owned by the struct.
 *
 * Threads: no global state except getopt's in conf_X_args_parse(), which
 * must therefore only be called from main().  Nothing here logs.
 */
#ifndef ORCH_CONF_H
#define ORCH_CONF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "log/log.h"

/* The files read when no -f is given.  A missing default file means "all
 * defaults"; a missing file named with -f is an error. */
#define CONF_ORCHESTRATORD_PATH "/etc/orchestrator/orchestratord.conf"
#define CONF_MIGRATOR_PATH      "/etc/orchestrator/migrator.conf"
/* Where the migrator reads the host's OS name (PRETTY_NAME) from. */
#define CONF_OS_RELEASE_PATH "/etc/os-release"

/* Longest host part of an ADDR:PORT, an IPv6 literal without brackets. */
#define CONF_ADDR_HOST_MAX 46

/* ---------------------------------------------------------------------- */
/* Shared value types                                                      */

/* A parsed "ADDR:PORT": an IPv4 literal or a bracketed IPv6 literal, and a
 * port 0..65535 (0: any free port, handy for tests). */
struct conf_addr {
    int family; /* AF_INET or AF_INET6 */
    char host[CONF_ADDR_HOST_MAX];
    uint16_t port;
};

/* A byte rate or size given as a Kubernetes quantity ("0", "64Mi", "1Gi",
 * "100M"), kept both as written and as a number of bytes. */
struct conf_quantity {
    char *text;
    uint64_t bytes;
};

/* Parse "ADDR:PORT" ("127.0.0.1:8080", "[::1]:8080").  Host names are not
 * accepted: the daemons must know what they bind to without DNS.
 * Returns 0 and fills *ret, or -EINVAL. */
int conf_addr_parse(const char *text, struct conf_addr *ret);

/* True if the address is a loopback address (127.0.0.0/8 or ::1). */
bool conf_addr_is_loopback(const struct conf_addr *addr);

/* ---------------------------------------------------------------------- */
/* orchestratord                                                           */

enum conf_role {
    CONF_ROLE_ADMIN,
    CONF_ROLE_VIEWER,
    CONF_ROLE_NODE, /* a migrator: the token's name is its node's name */
};

/* One API bearer token: name (for logs), secret, role.  A "node" token's
 * name is a lowercase RFC 1123 subdomain: the node it may report for. */
struct conf_token {
    char *name;
    char *token; /* never log this */
    enum conf_role role;
};

/* Request and resource limits of the REST API. */
struct conf_limits {
    int max_body_bytes;
    int max_depth;
    int max_string_bytes;
    int max_items;
    int max_connections;
    int request_timeout_s;
    int header_timeout_s;
    int max_watchers;
    int max_list_limit;
};

/* KubeVirt's cluster-wide migration settings (MigrationConfiguration). */
struct conf_migrations {
    struct conf_quantity bandwidth_per_migration; /* bytes/s, 0: unlimited */
    int completion_timeout_per_gib;               /* seconds */
    int progress_timeout;                         /* seconds */
    int parallel_migrations_per_cluster;
    int parallel_outbound_migrations_per_node;
    int max_downtime_ms; /* 0: libvirt's own */
    bool allow_auto_converge;
    bool allow_post_copy;
    /* When not set in the file it follows allow_post_copy, as in KubeVirt. */
    bool allow_workload_disruption;
    bool disable_tls;
    bool unsafe_migration_override;
    /* How long orchestratord waits to learn how a Running migration
     * ended (its source silent, its job lost) before it ends Failed
     * with reason OutcomeUnknown. */
    int outcome_timeout_s;
};

struct conf_orchestratord {
    char *listen;   /* "ADDR:PORT", see conf_addr_parse() */
    char *database; /* absolute path or ":memory:" */
    enum log_level log_level;
    struct {
        char *certificate; /* NULL: no TLS; set together with key */
        char *key;
    } tls;
    struct conf_token *tokens;
    size_t n_tokens;
    struct conf_limits limits;
    struct {
        bool live_migration; /* KubeVirt's LiveMigration gate */
    } feature_gates;
    struct conf_migrations migrations;
    /* Seconds without a node report before the node turns Ready=Unknown
     * (Kubernetes' node-monitor-grace-period). */
    int node_monitor_grace_period_s;
    /* The secret orchestratord presents to the migrators' agent API (their
     * 'agent_token'); NULL: none.  Never log it. */
    char *agent_token;
    /* PEM CA file that signs the agents' certificates; NULL: system CAs. */
    char *agent_cacert;
};

/* Set every key to its default.  Returns 0 or -ENOMEM (then *c is cleared
 * and safe to clear again). */
int conf_orchestratord_init(struct conf_orchestratord *c);

/* Free everything *c owns and reset it to zeros.  NULL-safe. */
void conf_orchestratord_clear(struct conf_orchestratord *c);

/* Read the file at path.  *c must be initialised (by init or an earlier
 * load); on success its contents are replaced by the defaults plus the
 * file's settings; on failure *c is unchanged and errbuf holds the message.
 * Returns 0, -EINVAL (bad content), -ENOENT, -EACCES, -EISDIR, -EFBIG or
 * another negative errno from open/read, or -ENOMEM. */
int conf_orchestratord_load_file(struct conf_orchestratord *c, const char *path,
                                 char *errbuf, size_t errlen);

/* Like conf_orchestratord_load_file() on the text, with name standing for
 * the file name in messages.  Returns 0, -EINVAL or -ENOMEM. */
int conf_orchestratord_load_string(struct conf_orchestratord *c,
                                   const char *text, const char *name,
                                   char *errbuf, size_t errlen);

/* Checks across keys that can only be made after the command-line
 * overrides: without tokens, 'listen' must be a loopback address.
 * Returns 0 or -EINVAL with a message. */
int conf_orchestratord_check(const struct conf_orchestratord *c, char *errbuf,
                             size_t errlen);

/* The command line: orchestratord [-f CONF] [--listen ADDR:PORT] [--db PATH]
 * [-n] [-h].  Pointers borrow from argv. */
struct conf_orchestratord_args {
    const char *config_path; /* -f/--config; NULL: the default path */
    const char *listen;      /* --listen; NULL: from the file */
    const char *database;    /* --db; NULL: from the file */
    bool check_only;         /* -n/--check */
    bool help;               /* -h/--help */
};

/* Parse argv with getopt_long, validating each flag's value like the file's
 * key.  Returns 0, or -EINVAL with a message naming the bad argument (a
 * usage error: exit 2).  Main thread only (getopt state). */
int conf_orchestratord_args_parse(struct conf_orchestratord_args *ret, int argc,
                                  char **argv, char *errbuf, size_t errlen);

/* Let the flags override what the file set.  Returns 0 or -ENOMEM. */
int conf_orchestratord_args_apply(struct conf_orchestratord *c,
                                  const struct conf_orchestratord_args *args);

/* The usage text, for -h. */
extern const char conf_orchestratord_usage[];

/* ---------------------------------------------------------------------- */
/* migrator                                                                */

enum conf_net_mode {
    CONF_NET_MODE_HOSTDEV, /* VFIO passthrough, unplugged for migration */
    CONF_NET_MODE_MACVTAP, /* libvirt direct on the VF netdev */
    CONF_NET_MODE_BRIDGE,  /* a host bridge (no SR-IOV): guests' bridge
                              bindings on it get a tap in `bridge` */
};

/* A network name used in manifests mapped to a PF on this host. */
struct conf_network {
    char *name;
    char *pf;     /* SR-IOV networks; NULL for a bridge network */
    char *bridge; /* CONF_NET_MODE_BRIDGE: the host bridge; else NULL */
    int vlan;     /* 0: none */
    enum conf_net_mode mode;
    int trust;    /* 1 on, 0 off, -1 left as the driver has it */
    int spoofchk; /* the same */
    /* How a guest's VF crosses a migration (config "migration"): true
     * "unplug" - hot-unplugged on the source before, a VF of the target
     * plugged after with the same MAC (hostdev always: VFIO state cannot
     * migrate); false "in-place" - the macvtap interface migrates, the
     * destination XML naming the target's VF (macvtap's default). */
    bool unplug;
};

/* A host label "key=value" (Kubernetes label syntax). */
struct conf_label {
    char *key;
    char *value;
};

struct conf_migrator {
    char *name;   /* node name; default: gethostname(), lowercased */
    char *listen; /* "ADDR:PORT" of the agent API */
    /* The agent API's URL as orchestratord should call it; NULL: formed
     * from 'listen' (or 'migration_address' when 'listen' is a wildcard)
     * with https when TLS is set. */
    char *advertise_url;
    char *libvirt_uri;  /* e.g. "qemu:///system" */
    char *orchestrator; /* URL of orchestratord, where reports go */
    /* Presented to orchestratord ("Authorization: Bearer"); NULL: none. */
    char *orchestrator_token;
    char *orchestrator_cacert; /* CA file for https; NULL: system CAs */
    /* Required from orchestratord on the agent API's /v1 endpoints; NULL:
     * none, and then the agent API listens on loopback only. */
    char *agent_token;
    char *tls_certificate; /* agent API over TLS: PEM files, both or none */
    char *tls_key;
    char *state_dir;
    char *sysfs_root;
    /* Program reserved VFs (MAC, VLAN, trust, spoof check) through netlink
     * on the PF; false only for stand-in VFs that are not VFs (the lab's
     * veths, LAB.md): they are then chosen and reserved, not programmed. */
    bool sriov_program_vfs;
    char *migration_address; /* IP for migration traffic; NULL: default */
    int migration_port_min;
    int migration_port_max;
    /* How other hosts' libvirtd reach this one's, for a migration to it;
     * NULL: "qemu+tcp://<migration address>/system". */
    char *libvirt_peer_uri;
    int migration_workers; /* threads running jobs (prepare, migrate...) */
    struct conf_label *labels;
    size_t n_labels;
    struct conf_network *networks;
    size_t n_networks;
    /* Absolute path prefixes of storage every host sees (shared/RWX): a
     * disk under one of them does not stop a live migration. */
    char **shared_storage;
    size_t n_shared_storage;
    /* Where containerDisk images are, as qcow2 files named after the
     * image reference (see migrator/vmhost.h). */
    char *image_dir;
    /* The host bridge a bridge binding on the pod network is put on;
     * NULL: such an interface is refused. */
    char *pod_bridge;
    /* libvirt domain type of the VMs a start job makes: "kvm", or "qemu"
     * (TCG emulation) where KVM is not usable. */
    char *domain_type;
    enum log_level log_level;
    int report_interval_s;
};

/* Same contracts as the orchestratord functions above. */
int conf_migrator_init(struct conf_migrator *c);
void conf_migrator_clear(struct conf_migrator *c);
int conf_migrator_load_file(struct conf_migrator *c, const char *path,
                            char *errbuf, size_t errlen);
int conf_migrator_load_string(struct conf_migrator *c, const char *text,
                              const char *name, char *errbuf, size_t errlen);

/* migrator [-f CONF] [--listen ADDR:PORT] [--libvirt URI] [--name HOST]
 * [--orchestrator URL] [-n] [-h]. */
struct conf_migrator_args {
    const char *config_path;
    const char *listen;
    const char *libvirt_uri;
    const char *name;
    const char *orchestrator;
    bool check_only;
    bool help;
};

int conf_migrator_args_parse(struct conf_migrator_args *ret, int argc,
                             char **argv, char *errbuf, size_t errlen);
int conf_migrator_args_apply(struct conf_migrator *c,
                             const struct conf_migrator_args *args);

extern const char conf_migrator_usage[];

/* ---------------------------------------------------------------------- */
/* The key tables, read-only, for tests and documentation.                 */

enum conf_type {
    CONF_T_GROUP,     /* a group of keys, e.g. 'limits' */
    CONF_T_BOOL,      /* bool field */
    CONF_T_INT,       /* int field, bounds min..max */
    CONF_T_STRING,    /* char * field, checked by a validator */
    CONF_T_QUANTITY,  /* struct conf_quantity field, bytes in min..max */
    CONF_T_LOG_LEVEL, /* enum log_level field */
    CONF_T_RECORDS,   /* tokens, networks, labels: a dedicated parser */
};

struct conf_key {
    const char *path; /* dotted: "limits.max_depth" */
    enum conf_type type;
    size_t offset; /* of the field in the daemon's struct */
    long long min; /* CONF_T_INT and CONF_T_QUANTITY */
    long long max;
    long long def_int;   /* CONF_T_INT, CONF_T_BOOL, CONF_T_LOG_LEVEL */
    const char *def_str; /* CONF_T_STRING, CONF_T_QUANTITY; NULL: unset */
    /* CONF_T_STRING: 0 if value is acceptable, else -EINVAL with the reason
     * in why (e.g. 'invalid address "x" (expected ADDR:PORT)'). */
    int (*check)(const char *value, char *why, size_t whylen);
    /* CONF_T_RECORDS: private parser and free function. */
    int (*parse)(void *ctx, const void *setting, void *conf);
    void (*free)(void *conf);
    const char *unknown_noun; /* CONF_T_GROUP: "feature gate"; NULL: key */
};

/* The tables; *ret_n receives the number of entries. */
const struct conf_key *conf_orchestratord_keys(size_t *ret_n);
const struct conf_key *conf_migrator_keys(size_t *ret_n);

#endif
