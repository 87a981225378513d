/*
 * api: the KubeVirt-shaped resources shared by every program.
 *
 * One document model: a jansson json_t.  YAML and JSON bodies decode into it
 * (api_doc_decode), it encodes back to JSON or YAML (api_doc_encode), it is
 * validated against per-kind schema tables with Kubernetes-worded errors
 * (api_object_validate), and the daemons read and write the parts they use
 * through C structs that are views of it (api_vmim_from_json / _to_json ...).
 * The stored document is always the json_t; a struct keeps a reference to
 * the document it came from so that _to_json never drops fields the struct
 * does not model.
 *
 * Kinds (api_kind_table): VirtualMachineInstanceMigration (vmim),
 * VirtualMachineInstance (vmi), VirtualMachine (vm) in kubevirt.io/v1,
 * MigrationPolicy in migrations.kubevirt.io/v1alpha1 (cluster-scoped) and
 * Node in the core group v1 (cluster-scoped, /api/v1/nodes).
 *
 * Errors: functions return 0 (or a count) on success and a negative errno:
 * -EINVAL invalid input, -EMSGSIZE body larger than max_body_bytes,
 * -E2BIG another decode limit (depth, string length, items, nodes),
 * -ENOMEM.  Messages for the user go into a struct api_errors list.
 * Library code never logs.
 *
 * Threads: every function is reentrant; objects are not shared between
 * threads without the caller's locking.  jansson reference counting is not
 * atomic for concurrent use of one json_t.
 */
#ifndef ORCH_API_H
#define ORCH_API_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

/* ------------------------------------------------------------------ */
/* Error lists                                                         */
/* ------------------------------------------------------------------ */

/* Kubernetes field error types; api_error_reason() gives the Status cause
 * reason ("FieldValueRequired", ...). */
enum api_error_type {
    API_ERR_REQUIRED,      /* "Required value" */
    API_ERR_INVALID,       /* "Invalid value: VALUE: detail" */
    API_ERR_TYPE,          /* "Invalid value: VALUE: F in body must be of
                              type T" */
    API_ERR_UNSUPPORTED,   /* "Unsupported value: VALUE: supported values:
                              ..." */
    API_ERR_UNKNOWN_FIELD, /* unknown field "spec.foo" */
    API_ERR_DUPLICATE,     /* "Duplicate value: VALUE" */
    API_ERR_FORBIDDEN,     /* "Forbidden: detail" */
    API_ERR_TOO_LONG,      /* "Too long: detail" */
    API_ERR_TOO_MANY,      /* "Too many: N: must have at most M items" */
    API_ERR_DECODE,        /* syntax error in the body (no field) */
    API_ERR_LIMIT,         /* a decode limit was hit (no field) */
};

struct api_error {
    enum api_error_type type;
    char *field;   /* "spec.vmiName"; "" when there is none */
    char *detail;  /* the message without "field: " (Status cause message) */
    char *message; /* the full text: "spec.vmiName: Required value" */
    int line;      /* 1-based position in the decoded body, 0 unknown */
    int column;
};

/* At most API_ERRORS_MAX errors are kept; later ones set `truncated`. */
#define API_ERRORS_MAX 64

struct api_errors {
    struct api_error *items;
    size_t count;
    size_t alloc;
    bool truncated;
};

#define API_ERRORS_INIT                                                        \
    {                                                                          \
        0                                                                      \
    }

void api_errors_init(struct api_errors *errs);
/* Free every error; the list is empty and reusable afterwards. */
void api_errors_clear(struct api_errors *errs);

/* Append an error.  `field` may be NULL or "".  `detail` is printf-style and
 * becomes the message after "field: ".  Returns 0, -ENOMEM, or -E2BIG when
 * the list is full (the error is then dropped and `truncated` set).  Used by
 * admission code outside this module that wants the same wording. */
int api_errors_add(struct api_errors *errs, enum api_error_type type,
                   const char *field, const char *detail_fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* "FieldValueRequired", "FieldValueInvalid", "FieldValueTypeInvalid",
 * "FieldValueNotSupported", "FieldValueUnknown", "FieldValueDuplicate",
 * "FieldValueForbidden", "FieldValueTooLong", "FieldValueTooMany",
 * "BadRequest" (decode), "RequestEntityTooLarge" (limit). */
const char *api_error_reason(enum api_error_type type);

struct api_kind_info;

/* The Kubernetes Status message for a rejected object:
 *   VirtualMachineInstanceMigration.kubevirt.io "name" is invalid: err1
 *   VirtualMachineInstanceMigration.kubevirt.io "name" is invalid: [e1, e2]
 * (Node has no group: `Node "n" is invalid: ...`).  `kind` may be NULL
 * (then "object"), `name` NULL or "" gives "".  When every error is a
 * decode or limit error the messages are joined without the prefix.
 * Returns a malloc'd string the caller frees, NULL on ENOMEM. */
char *api_errors_status_message(const struct api_errors *errs,
                                const struct api_kind_info *kind,
                                const char *name);

/* The messages joined: "e1" or "[e1, e2]".  Caller frees; NULL on ENOMEM. */
char *api_errors_join(const struct api_errors *errs);

/* ------------------------------------------------------------------ */
/* Kinds                                                               */
/* ------------------------------------------------------------------ */

enum api_kind {
    API_KIND_NONE = 0, /* "any kind" where a kind is expected */
    API_KIND_VMIM,
    API_KIND_VMI,
    API_KIND_VM,
    API_KIND_POLICY,
    API_KIND_NODE,
    API_KIND_COUNT,
};

struct api_kind_info {
    enum api_kind kind;
    const char *kind_name;          /* "VirtualMachineInstanceMigration" */
    const char *list_kind;          /* "VirtualMachineInstanceMigrationList" */
    const char *group;              /* "kubevirt.io"; "" for the core group */
    const char *version;            /* "v1" */
    const char *api_version;        /* "kubevirt.io/v1"; "v1" for Node */
    const char *plural;             /* "virtualmachineinstancemigrations" */
    const char *singular;           /* "virtualmachineinstancemigration" */
    const char *const *short_names; /* NULL-terminated: "vmim", ... */
    const char *const *verbs;       /* NULL-terminated: "create", ... */
    const char *const *categories;  /* NULL-terminated: "all" */
    bool namespaced;
};

/* The table of every kind, in enum order without API_KIND_NONE.  Never
 * NULL; *ret_count gets API_KIND_COUNT - 1. */
const struct api_kind_info *api_kind_table(size_t *ret_count);

/* Info for one kind; NULL for API_KIND_NONE or out of range. */
const struct api_kind_info *api_kind_info(enum api_kind kind);

/* Resolve what a user types (kubectl habits), case-insensitively: kind
 * name, plural, singular, short name, each optionally followed by
 * ".group" ("vmim", "vmis", "VirtualMachine", "nodes",
 * "migrationpolicies.migrations.kubevirt.io").  NULL if unknown. */
const struct api_kind_info *api_kind_lookup(const char *name);

/* Exact match of an object's apiVersion and kind.  NULL if unknown. */
const struct api_kind_info *api_kind_find(const char *api_version,
                                          const char *kind_name);

/* Route lookup: group ("" for core), version and plural from a URL path.
 * NULL if unknown. */
const struct api_kind_info *api_kind_by_resource(const char *group,
                                                 const char *version,
                                                 const char *plural);

/* ------------------------------------------------------------------ */
/* Codec                                                               */
/* ------------------------------------------------------------------ */

struct api_limits {
    size_t max_body_bytes;   /* whole input; default 1 MiB */
    size_t max_depth;        /* nested mappings/sequences; default 32 */
    size_t max_string_bytes; /* one scalar or key; default 64 KiB */
    size_t max_items;        /* entries of one mapping/sequence; 10000 */
    size_t max_nodes;        /* every value in the document; 100000 */
};

#define API_LIMITS_DEFAULT                                                     \
    {                                                                          \
        .max_body_bytes = 1024 * 1024, .max_depth = 32,                        \
        .max_string_bytes = 64 * 1024, .max_items = 10000,                     \
        .max_nodes = 100000,                                                   \
    }

/* Fill *ret_limits with API_LIMITS_DEFAULT. */
void api_limits_default(struct api_limits *ret_limits);

/* Decode one YAML or JSON document into *ret_doc (a new reference the
 * caller releases with json_decref).  A body whose first non-space byte is
 * '{' or '[' is read as JSON (jansson); if it is not JSON it is tried as a
 * YAML flow document, and the JSON error is reported when libyaml cannot
 * read it either (YAML's when libyaml reads it but it is refused below).
 * JSON with duplicate keys, invalid UTF-8 or NULs is refused as JSON.
 * YAML plain scalars resolve as Kubernetes' YAML-to-JSON does (null/~/
 * empty, true/false, integers, floats; quoted scalars stay strings).
 * Refused with an error naming line:column: syntax errors, an empty body,
 * more than one document, aliases and anchors, duplicate keys, keys that
 * are not scalars, unknown tags, invalid UTF-8, NUL bytes.
 * `limits` NULL means the defaults.
 * Returns 0, -EINVAL, -EMSGSIZE (body too large), -E2BIG (other limits),
 * -ENOMEM.  `errs` may be NULL. */
int api_doc_decode(const char *buf, size_t len, const struct api_limits *limits,
                   json_t **ret_doc, struct api_errors *errs);

enum api_format {
    API_FORMAT_JSON,        /* compact, one line, no trailing newline */
    API_FORMAT_JSON_PRETTY, /* 2-space indent, trailing newline */
    API_FORMAT_YAML,        /* block style, strings quoted when they would
                               re-resolve as another type */
};

/* "json", "yaml" (and "yml") -> format; -EINVAL otherwise. */
int api_format_parse(const char *name);

/* Encode `doc` (any value) into a malloc'd, NUL-terminated buffer the
 * caller frees; *ret_len (may be NULL) gets its length.  Key order is kept.
 * decode(encode(d)) equals d and encode is stable over decode.
 * Returns 0, -EINVAL (NaN/Inf or not encodable), -ENOMEM. */
int api_doc_encode(const json_t *doc, enum api_format format, char **ret_buf,
                   size_t *ret_len);

/* ------------------------------------------------------------------ */
/* Validation                                                          */
/* ------------------------------------------------------------------ */

/* Validate an object: apiVersion and kind (must equal `expect` unless it is
 * API_KIND_NONE; then any known kind), metadata rules (name or
 * generateName, DNS-1123 names, namespace label, label and annotation
 * key/value syntax), unknown fields, JSON types, required fields, enums,
 * quantities (never negative), MACs and cross references (a VM's
 * interface naming a network it lacks, a disk naming a volume it lacks).
 * Server-owned metadata and status are accepted (and typed).  Every
 * problem is appended to `errs` with Kubernetes wording.
 * *ret_kind (may be NULL) gets the object's kind info when apiVersion and
 * kind were recognised, even if other errors were found.
 * Returns 0 if valid, -EINVAL if not, -ENOMEM. */
int api_object_validate(const json_t *doc, enum api_kind expect,
                        const struct api_kind_info **ret_kind,
                        struct api_errors *errs);

/* Check TEXT (LEN bytes, YAML or JSON) as cloud-init network-config: a
 * mapping (optionally under "network") with version 1 (a "config" list of
 * physical, bond, bridge, vlan, nameserver and route entries, subnets with a
 * known type and a static address) or version 2 (ethernets, bonds,
 * bridges, vlans, wifis: mappings of devices whose addresses, gateways and
 * nameservers are IP addresses, routes with "to" and "via").  Returns 0, or
 * -EINVAL with the first problem in MSG (MSGLEN bytes), led by its path
 * inside the document ("ethernets.eth0.addresses[0]: ..."), or -ENOMEM. */
int api_network_config_check(const char *text, size_t len, char *msg,
                             size_t msglen);

/* KubeVirt's escape hatch for a bridge binding on the pod network. */
#define API_ALLOW_POD_BRIDGE_MIGRATION                                         \
    "kubevirt.io/allow-pod-bridge-network-live-migration"

/* Whether the VMI object VMI may live-migrate as far as its spec tells
 * (KubeVirt's LiveMigratable reasons that need no host): a bridge binding
 * on the pod network (unless annotated API_ALLOW_POD_BRIDGE_MIGRATION), a
 * masquerade interface forwarding port 49152 or 49153 ->
 * "InterfaceNotLiveMigratable"; a hostDisk neither "shared: true" nor under
 * one of the paths of SHARED (a JSON array of absolute directory paths, the
 * source host's shared_storage; may be NULL) -> "DisksNotLiveMigratable".
 * A persistentVolumeClaim is a file only its host can place: the host's
 * report judges it (the VMI's LiveMigratable condition).  Returns 0, or
 * -EDOM with the reason (static) in *RET_REASON and in MSG (LEN bytes) a
 * message led by the field path. */
int api_vmi_live_migratable(const json_t *vmi, const json_t *shared,
                            const char **ret_reason, char *msg, size_t len);

/* The schema api_object_validate() checks KIND against, as an OpenAPI
 * structural schema (the subset both OpenAPI v2 and v3 read, as a CRD's
 * openAPIV3Schema): type, properties, required, items, enum, format,
 * additionalProperties for maps, x-kubernetes-int-or-string for
 * quantities and x-kubernetes-preserve-unknown-fields where any member is
 * taken.  No descriptions.  Returns a new reference, or NULL for a kind
 * without a schema or on allocation failure. */
json_t *api_kind_openapi_schema(enum api_kind kind);

/* api_doc_decode + api_object_validate.  On success *ret_doc is the new
 * document and *ret_kind its kind; on failure nothing is returned. */
int api_object_parse(const char *buf, size_t len,
                     const struct api_limits *limits, enum api_kind expect,
                     json_t **ret_doc, const struct api_kind_info **ret_kind,
                     struct api_errors *errs);

/* Fill defaults a valid object gets before it is stored: metadata.namespace
 * "default" for a namespaced kind when absent (a cluster-scoped kind has
 * its namespace removed).  Returns 0, -EINVAL (not an object), -ENOMEM. */
int api_object_set_defaults(json_t *doc, const struct api_kind_info *kind);

/* Borrowed string at a dotted path ("metadata.name"), NULL if absent or
 * not a string.  Convenience for callers reading a document. */
const char *api_doc_get_string(const json_t *doc, const char *path);

/* Set a string at a dotted path, creating intermediate objects.  Returns 0,
 * -EINVAL (a non-object is in the way), -ENOMEM. */
int api_doc_set_string(json_t *doc, const char *path, const char *value);

/* Name checks with Kubernetes' messages.  Return NULL if valid, else a
 * static message such as "a lowercase RFC 1123 subdomain must consist
 * of ..." (the text after `Invalid value: "x": `). */
const char *api_check_dns1123_subdomain(const char *s);
const char *api_check_dns1123_label(const char *s);

/* ------------------------------------------------------------------ */
/* Quantities, durations, selectors, time, names                       */
/* ------------------------------------------------------------------ */

/* Parse a Kubernetes quantity ("1024M", "2Gi", "500m", "1e3", "0.5Gi")
 * into its value in base units, rounded up to an integer as
 * Quantity.Value() does ("500m" -> 1).  Returns 0, -EINVAL (syntax),
 * -ERANGE (overflows int64). */
int api_quantity_parse(const char *s, int64_t *ret_value);

/* The same in thousandths ("500m" -> 500, "2" -> 2000, "0.1" -> 100),
 * rounded up, for CPU amounts. */
int api_quantity_parse_milli(const char *s, int64_t *ret_milli);

/* Parse a Go duration ("1h30m", "150s", "1.5h", "300ms", "0") into
 * milliseconds, truncating toward zero below 1 ms.  Returns 0, -EINVAL,
 * -ERANGE. */
int api_duration_parse(const char *s, int64_t *ret_ms);

/* A parsed label selector ("a=b,c!=d,e in (x,y),f notin (z),g,!h";
 * "a==b" is "a=b"; "" selects everything). */
struct api_selector;

/* Returns 0 and a selector the caller frees with api_selector_free,
 * -EINVAL with an error in `errs` (may be NULL) for bad syntax or an
 * invalid key or value, -ENOMEM. */
int api_selector_parse(const char *text, struct api_selector **ret_sel,
                       struct api_errors *errs);
void api_selector_free(struct api_selector *sel);

/* True when `labels` (an object of strings, or NULL for none) satisfies
 * every requirement of `sel` (NULL selects everything). */
bool api_selector_match(const struct api_selector *sel, const json_t *labels);

/* The operator of one requirement of a selector. */
enum api_selector_op {
    API_SELECTOR_EXISTS = 0, /* "key" */
    API_SELECTOR_NOT_EXISTS, /* "!key" */
    API_SELECTOR_IN,         /* "key=v", "key==v", "key in (v,...)" */
    API_SELECTOR_NOT_IN,     /* "key!=v", "key notin (v,...)" */
};

/* One requirement of a selector; the strings are borrowed from it. */
struct api_selector_req {
    const char *key;
    enum api_selector_op op;
    const char *const *values; /* IN, NOT_IN: n_values (>= 1) values */
    size_t n_values;
};

/* The number of requirements of `sel` (0 for NULL), which holds when all
 * of them hold. */
size_t api_selector_count(const struct api_selector *sel);

/* The requirement at `index` (< api_selector_count()), so that a caller can
 * serve some of them another way (an index) and the rest with
 * api_selector_match(). */
void api_selector_get(const struct api_selector *sel, size_t index,
                      struct api_selector_req *ret);

/* True when every key of `selector_map` (an object of strings such as
 * spec.addedNodeSelector or a MigrationPolicy selector; NULL or empty
 * matches all) is in `labels` with the same value. */
bool api_labels_match_map(const json_t *selector_map, const json_t *labels);

/* RFC 3339 UTC timestamps as Kubernetes writes them:
 * "2026-11-25T21:00:00Z".  API_TIME_LEN includes the NUL. */
#define API_TIME_LEN 21

/* Format `unix_seconds` into buf.  Returns 0 or -ERANGE (year outside
 * 1000..9999). */
int api_time_format(int64_t unix_seconds, char buf[API_TIME_LEN]);

/* The current wall-clock time, formatted. */
void api_time_now(char buf[API_TIME_LEN]);

/* Parse RFC 3339 ("...Z", "...+02:00", optional fraction, which is
 * dropped).  Returns 0 or -EINVAL. */
int api_time_parse(const char *s, int64_t *ret_unix_seconds);

/* A random version 4 UUID, lowercase with dashes; API_UID_LEN includes the
 * NUL.  Returns 0 or a negative errno from getrandom. */
#define API_UID_LEN 37
int api_uid_new(char buf[API_UID_LEN]);

/* Name from metadata.generateName as Kubernetes makes it: the prefix cut to
 * 58 bytes plus 5 random characters from "bcdfghjklmnpqrstvwxz2456789".
 * Returns 0 and a malloc'd name, -EINVAL (empty prefix), -ENOMEM. */
int api_name_generate(const char *generate_name, char **ret_name);

/* ------------------------------------------------------------------ */
/* Typed views                                                         */
/* ------------------------------------------------------------------ */
/*
 * Each api_X_from_json(doc, ret, errs) fills *ret from a document that
 * passed api_object_validate (it re-checks only what it reads and returns
 * -EINVAL with errors for a wrong type), taking a reference to `doc` in
 * ret->doc.  Strings in structs are owned copies (malloc'd, NULL when
 * absent); json_t members are owned references (NULL when absent).
 * api_X_to_json(x) returns a new document: a deep copy of x->doc (or a
 * fresh object) with apiVersion, kind and every field the struct models
 * written from the struct (removed when NULL/unset), so fields the struct
 * does not model survive.  NULL on ENOMEM.
 * api_X_clear(x) frees everything and zeroes the struct; NULL-safe.
 * Optional scalars use `has_` flags or API_BOOL_UNSET; zero-initialised
 * structs are empty.
 */

enum api_bool {
    API_BOOL_UNSET = 0,
    API_BOOL_FALSE,
    API_BOOL_TRUE,
};

struct api_meta {
    char *name;
    char *generate_name;
    char *namespace;
    char *uid;
    char *resource_version;
    bool has_generation;
    int64_t generation;
    char *creation_timestamp;
    char *deletion_timestamp;
    json_t *labels;      /* object of strings */
    json_t *annotations; /* object of strings */
};

void api_meta_clear(struct api_meta *m);

/* A status condition (KubeVirt/Kubernetes shape). */
struct api_condition {
    char *type;
    char *status; /* "True", "False", "Unknown" */
    char *reason;
    char *message;
    char *last_probe_time;
    char *last_transition_time;
};

struct api_conditions {
    struct api_condition *items;
    size_t count;
};

void api_conditions_clear(struct api_conditions *c);
/* The condition of `type`, or NULL. */
struct api_condition *api_conditions_find(const struct api_conditions *c,
                                          const char *type);
/* Set (add or update) a condition; lastTransitionTime is set to `now` only
 * when the status changes.  Strings are copied.  Returns 0 or -ENOMEM. */
int api_conditions_set(struct api_conditions *c, const char *type,
                       const char *status, const char *reason,
                       const char *message, const char *now);

/* Migration configuration: KubeVirt's MigrationConfiguration (cluster) and
 * the override fields of a MigrationPolicy; also
 * migrationState.migrationConfiguration. */
struct api_migration_config {
    char *bandwidth_per_migration; /* quantity text, e.g. "64Mi" */
    bool has_completion_timeout_per_gib;
    int64_t completion_timeout_per_gib; /* seconds */
    bool has_progress_timeout;
    int64_t progress_timeout; /* seconds */
    bool has_max_downtime_ms;
    int64_t max_downtime_ms;
    bool has_parallel_migrations_per_cluster;
    int64_t parallel_migrations_per_cluster;
    bool has_parallel_outbound_migrations_per_node;
    int64_t parallel_outbound_migrations_per_node;
    enum api_bool allow_auto_converge;
    enum api_bool allow_post_copy;
    enum api_bool allow_workload_disruption;
    enum api_bool unsafe_migration_override;
    enum api_bool disable_tls;
    char *network;
    json_t *experimental; /* kept as is */
};

void api_migration_config_clear(struct api_migration_config *c);

enum api_vmim_phase {
    API_VMIM_PHASE_UNSET = 0,
    API_VMIM_PHASE_PENDING,
    API_VMIM_PHASE_SCHEDULING,
    API_VMIM_PHASE_SCHEDULED,
    API_VMIM_PHASE_PREPARING_TARGET,
    API_VMIM_PHASE_TARGET_READY,
    API_VMIM_PHASE_RUNNING,
    API_VMIM_PHASE_SUCCEEDED,
    API_VMIM_PHASE_FAILED,
    API_VMIM_PHASE_COUNT,
};

/* "Pending", ... ; "" for UNSET; NULL when out of range. */
const char *api_vmim_phase_name(enum api_vmim_phase phase);
/* The phase for a name ("" -> UNSET), or -EINVAL. */
int api_vmim_phase_parse(const char *name);
/* Succeeded or Failed. */
bool api_vmim_phase_is_final(enum api_vmim_phase phase);

enum api_abort_status {
    API_ABORT_NONE = 0,
    API_ABORT_ABORTING,
    API_ABORT_SUCCEEDED,
    API_ABORT_FAILED,
};
const char *api_abort_status_name(enum api_abort_status s); /* "" NONE */
int api_abort_status_parse(const char *name);               /* or -EINVAL */

enum api_migration_mode {
    API_MODE_NONE = 0,
    API_MODE_PRECOPY,
    API_MODE_POSTCOPY,
    API_MODE_PAUSED,
};
const char *api_migration_mode_name(enum api_migration_mode m); /* "" */
int api_migration_mode_parse(const char *name);                 /* or -EINVAL */

/* status.migrationState of a VMI and a final VMIM: KubeVirt's fields that
 * make sense without pods (the pod fields survive in the document). */
struct api_migration_state {
    char *start_timestamp;
    char *end_timestamp;
    char *target_node_domain_ready_timestamp;
    bool target_node_domain_detected;
    char *target_node_address;
    json_t *target_direct_migration_node_ports; /* {"tcp port": int} */
    char *target_node;
    char *source_node;
    bool completed;
    bool failed;
    bool abort_requested;
    enum api_abort_status abort_status;
    char *failure_reason;
    char *migration_uid;
    enum api_migration_mode mode;
    char *migration_policy_name;
    bool has_migration_configuration;
    struct api_migration_config migration_configuration;
};

void api_migration_state_clear(struct api_migration_state *s);

/* Live progress of a running migration (status.progress; this project's
 * addition, named after KubeVirt's migration metrics). */
struct api_migration_progress {
    int64_t data_total_bytes;
    int64_t data_processed_bytes;
    int64_t data_remaining_bytes;
    int64_t dirty_memory_rate_bytes;    /* per second */
    int64_t memory_transfer_rate_bytes; /* per second */
    int64_t iteration;
    int64_t elapsed_ms;
    char *update_timestamp;
};

struct api_phase_transition {
    enum api_vmim_phase phase;
    char *timestamp;
};

struct api_vmim {
    json_t *doc;
    struct api_meta meta;
    /* spec */
    char *vmi_name;
    json_t *added_node_selector; /* object of strings */
    /* status */
    enum api_vmim_phase phase;
    struct api_phase_transition *transitions;
    size_t transition_count;
    struct api_migration_state *migration_state; /* NULL when absent */
    struct api_conditions conditions;
    struct api_migration_progress *progress; /* NULL when absent */
};

int api_vmim_from_json(const json_t *doc, struct api_vmim *ret,
                       struct api_errors *errs);
json_t *api_vmim_to_json(const struct api_vmim *m);
void api_vmim_clear(struct api_vmim *m);
/* Set the phase and append a phaseTransitionTimestamps entry at `now`.
 * Returns 0 or -ENOMEM. */
int api_vmim_set_phase(struct api_vmim *m, enum api_vmim_phase phase,
                       const char *now);

/* ---- VirtualMachine / VirtualMachineInstance spec ---- */

enum api_disk_type {
    API_DISK_DISK = 0, /* disk: {bus} */
    API_DISK_CDROM,
    API_DISK_LUN,
};

struct api_disk {
    char *name;
    enum api_disk_type type;
    char *bus; /* "virtio", "sata", "scsi", "usb"; NULL default */
    bool has_boot_order;
    int64_t boot_order;
};

enum api_iface_binding {
    API_BINDING_NONE = 0,
    API_BINDING_MASQUERADE,
    API_BINDING_BRIDGE,
    API_BINDING_SRIOV,
    API_BINDING_SLIRP,
    API_BINDING_PASST,
};
const char *api_iface_binding_name(enum api_iface_binding b);

struct api_port {
    char *name;
    int64_t port;
    char *protocol; /* "TCP" (default), "UDP" */
};

struct api_interface {
    char *name;
    enum api_iface_binding binding;
    char *mac_address;
    char *model;
    struct api_port *ports;
    size_t port_count;
};

enum api_network_type {
    API_NETWORK_POD = 0,
    API_NETWORK_MULTUS,
};

struct api_network {
    char *name;
    enum api_network_type type;
    char *network_name;    /* multus.networkName */
    char *vm_network_cidr; /* pod.vmNetworkCIDR */
};

enum api_volume_type {
    API_VOLUME_CONTAINER_DISK = 0,
    API_VOLUME_CLOUD_INIT_NOCLOUD,
    API_VOLUME_PVC,
    API_VOLUME_HOST_DISK,
    API_VOLUME_EMPTY_DISK,
    API_VOLUME_OTHER, /* a source this project does not model */
};

struct api_volume {
    char *name;
    enum api_volume_type type;
    char *image;          /* containerDisk.image */
    char *user_data;      /* cloudInitNoCloud.userData */
    char *network_data;   /* cloudInitNoCloud.networkData */
    char *claim_name;     /* persistentVolumeClaim.claimName */
    bool read_only;       /* persistentVolumeClaim.readOnly */
    char *path;           /* hostDisk.path */
    char *host_disk_type; /* hostDisk.type: Disk, DiskOrCreate */
    bool shared;          /* hostDisk.shared */
    char *capacity;       /* hostDisk/emptyDisk capacity (quantity) */
    int64_t capacity_bytes;
};

struct api_kernel_boot {
    char *kernel_args;
    char *image; /* container.image */
    char *kernel_path;
    char *initrd_path;
};

/* spec of a VMI, and spec.template.spec of a VM. */
struct api_vmi_spec {
    int64_t cpu_cores;   /* 0 unset */
    int64_t cpu_sockets; /* 0 unset */
    int64_t cpu_threads; /* 0 unset */
    char *cpu_model;
    char *memory_guest; /* domain.memory.guest quantity text */
    int64_t memory_guest_bytes;
    char *requests_memory; /* domain.resources.requests.memory */
    int64_t requests_memory_bytes;
    char *requests_cpu;
    int64_t requests_cpu_milli;
    char *limits_memory;
    int64_t limits_memory_bytes;
    char *limits_cpu;
    int64_t limits_cpu_milli;
    struct api_disk *disks;
    size_t disk_count;
    struct api_interface *interfaces;
    size_t interface_count;
    bool rng;
    struct api_kernel_boot *kernel_boot; /* NULL when absent */
    struct api_network *networks;
    size_t network_count;
    struct api_volume *volumes;
    size_t volume_count;
    json_t *node_selector; /* object of strings */
    char *eviction_strategy;
    bool has_termination_grace_period;
    int64_t termination_grace_period_seconds;
};

void api_vmi_spec_clear(struct api_vmi_spec *s);

/* Bytes of guest memory as KubeVirt sizes it: memory.guest when set, else
 * resources.requests.memory, else limits.memory; 0 if none. */
int64_t api_vmi_spec_memory_bytes(const struct api_vmi_spec *s);

struct api_vm {
    json_t *doc;
    struct api_meta meta;
    enum api_bool running;
    char *run_strategy;      /* Always, Halted, Manual, RerunOnFailure, Once */
    json_t *template_labels; /* spec.template.metadata.labels */
    json_t *template_annotations; /* spec.template.metadata.annotations */
    struct api_vmi_spec spec;     /* spec.template.spec */
    /* status (subset) */
    char *printable_status;
    bool ready;
    bool created;
};

int api_vm_from_json(const json_t *doc, struct api_vm *ret,
                     struct api_errors *errs);
json_t *api_vm_to_json(const struct api_vm *vm);
void api_vm_clear(struct api_vm *vm);

struct api_vmi_interface_status {
    char *name;
    char *mac;
    char *ip_address;
    json_t *ip_addresses; /* array of strings */
    char *interface_name;
};

/* VMI phases (KubeVirt): Pending, Scheduling, Scheduled, Running,
 * Succeeded, Failed, Unknown; kept as text. */
struct api_vmi {
    json_t *doc;
    struct api_meta meta;
    struct api_vmi_spec spec;
    char *phase;
    char *node_name;
    struct api_vmi_interface_status *interfaces;
    size_t interface_count;
    struct api_migration_state *migration_state; /* NULL when absent */
    char *migration_method;           /* BlockMigration, LiveMigration */
    struct api_conditions conditions; /* incl. LiveMigratable */
};

int api_vmi_from_json(const json_t *doc, struct api_vmi *ret,
                      struct api_errors *errs);
json_t *api_vmi_to_json(const struct api_vmi *vmi);
void api_vmi_clear(struct api_vmi *vmi);

struct api_policy {
    json_t *doc;
    struct api_meta meta;
    json_t *namespace_selector; /* spec.selectors.namespaceSelector */
    json_t *vmi_selector; /* spec.selectors.virtualMachineInstanceSelector */
    struct api_migration_config config; /* the override fields of spec */
};

int api_policy_from_json(const json_t *doc, struct api_policy *ret,
                         struct api_errors *errs);
json_t *api_policy_to_json(const struct api_policy *p);
void api_policy_clear(struct api_policy *p);

struct api_node_address {
    char *type; /* InternalIP, ExternalIP, Hostname */
    char *address;
};

struct api_node {
    json_t *doc;
    struct api_meta meta;
    bool unschedulable; /* spec.unschedulable (cordon) */
    struct api_node_address *addresses;
    size_t address_count;
    json_t *capacity;    /* status.capacity: {"cpu": "8", "memory": ...} */
    json_t *allocatable; /* status.allocatable */
    int64_t capacity_cpu_milli;       /* parsed from capacity.cpu, 0 unset */
    int64_t capacity_memory_bytes;    /* parsed from capacity.memory */
    struct api_conditions conditions; /* Ready, ... */
    json_t *node_info;                /* status.nodeInfo, kept as is */
};

int api_node_from_json(const json_t *doc, struct api_node *ret,
                       struct api_errors *errs);
json_t *api_node_to_json(const struct api_node *n);
void api_node_clear(struct api_node *n);

#endif
