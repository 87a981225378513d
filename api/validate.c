/*
 * Validation of objects from schema tables, with Kubernetes' wording.
 *
 * One table per object type lists its fields: JSON type, whether it is
 * required, the child schema for objects and arrays of objects, allowed
 * values and a check function.  Unknown fields are errors except in
 * schemas marked open (statuses, which the server owns and may ignore).
 * null is accepted for every optional field, as Go's decoder takes it for
 * the zero value.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/internal.h"

enum ftype {
    F_STRING,
    F_BOOL,
    F_INT,
    F_NUMBER,
    F_OBJECT,   /* with child schema */
    F_ANYOBJ,   /* any object */
    F_ANYARR,   /* any array */
    F_ANY,      /* anything */
    F_STRMAP,   /* object of strings */
    F_QUANTITY, /* string or number, a Kubernetes quantity */
    F_QMAP,     /* object of quantities */
    F_TIME,     /* RFC 3339 string */
};

#define REQ   0x1 /* required */
#define ARR   0x2 /* an array whose items have the field's type */
#define RANGE 0x4 /* integer within [min, max] */

struct vctx;
struct field;

typedef void (*check_fn)(struct vctx *c, const json_t *v);

struct schema {
    const struct field *fields; /* terminated by a NULL name */
    check_fn check;             /* whole-object check, after the fields */
    bool open;                  /* unknown fields allowed */
};

struct field {
    const char *name;
    enum ftype type;
    unsigned flags;
    const struct schema *child;
    check_fn check;
    const char *const *values; /* allowed string values, NULL-terminated */
    int64_t min, max;
};

struct vctx {
    struct api_errors *errs;
    const struct api_kind_info *kind;
    char path[512];
    size_t len;
    bool nomem;
    bool any;
};

/* ---------------- paths and errors ---------------- */

static size_t path_push(struct vctx *c, const char *name)
{
    size_t old = c->len, n = strlen(name);

    /* Hot path of every field: no printf.  A path that does not fit is
     * cut, which only shortens error messages. */
    if (c->len && c->len + 1 < sizeof(c->path))
        c->path[c->len++] = '.';
    if (n > sizeof(c->path) - 1 - c->len)
        n = sizeof(c->path) - 1 - c->len;
    memcpy(c->path + c->len, name, n);
    c->len += n;
    c->path[c->len] = '\0';
    return old;
}

static size_t path_index(struct vctx *c, size_t i)
{
    size_t old = c->len;
    int n = snprintf(c->path + c->len, sizeof(c->path) - c->len, "[%zu]", i);
    if (n > 0)
        c->len += (size_t)n;
    if (c->len >= sizeof(c->path))
        c->len = sizeof(c->path) - 1;
    return old;
}

static void path_pop(struct vctx *c, size_t old)
{
    c->len = old;
    c->path[old] = '\0';
}

__attribute__((format(printf, 3, 4))) static void
verr(struct vctx *c, enum api_error_type t, const char *fmt, ...)
{
    va_list ap;

    c->any = true;
    va_start(ap, fmt);
    if (api_errors_addv(c->errs, t, 0, 0, c->path, fmt, ap) == -ENOMEM)
        c->nomem = true;
    va_end(ap);
}

void api_value_render(const json_t *v, char *buf, size_t size)
{
    size_t o = 0;

#define PUT(ch)                                                                \
    do {                                                                       \
        if (o + 1 < size)                                                      \
            buf[o++] = (ch);                                                   \
    } while (0)
    if (size == 0)
        return;
    if (json_is_string(v)) {
        const char *s = json_string_value(v);
        size_t len = json_string_length(v);
        PUT('"');
        for (size_t i = 0; i < len && o + 8 < size; i++) {
            unsigned char ch = (unsigned char)s[i];
            if (ch == '"' || ch == '\\') {
                PUT('\\');
                PUT((char)ch);
            } else if (ch == '\n') {
                PUT('\\');
                PUT('n');
            } else if (ch == '\t') {
                PUT('\\');
                PUT('t');
            } else if (ch < 0x20 || ch == 0x7f) {
                o += (size_t)snprintf(buf + o, size - o, "\\x%02x", ch);
            } else
                PUT((char)ch);
        }
        PUT('"');
        buf[o] = '\0';
        return;
    }
#undef PUT
    if (json_is_object(v) || json_is_array(v)) {
        char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
        if (s && strlen(s) < size && strlen(s) <= 64)
            snprintf(buf, size, "%s", s);
        else
            snprintf(buf, size, "%s", json_is_object(v) ? "{...}" : "[...]");
        free(s);
        return;
    }
    {
        char *s = json_dumps(v, JSON_ENCODE_ANY);
        snprintf(buf, size, "%s", s ? s : "?");
        free(s);
    }
}

#define RENDER_MAX 1100

static void err_invalid(struct vctx *c, const json_t *v, const char *detail)
{
    char val[RENDER_MAX];

    api_value_render(v, val, sizeof(val));
    verr(c, API_ERR_INVALID, "Invalid value: %s: %s", val, detail);
}

static void err_type(struct vctx *c, const json_t *v, const char *type)
{
    c->any = true;
    if (api_errors_add_type(c->errs, c->path, v, type) == -ENOMEM)
        c->nomem = true;
}

static void err_dup(struct vctx *c, const json_t *v)
{
    char val[RENDER_MAX];

    api_value_render(v, val, sizeof(val));
    verr(c, API_ERR_DUPLICATE, "Duplicate value: %s", val);
}

static const char *type_name(enum ftype t)
{
    switch (t) {
    case F_STRING:
    case F_TIME:
        return "string";
    case F_BOOL:
        return "boolean";
    case F_INT:
        return "integer";
    case F_NUMBER:
        return "number";
    case F_QUANTITY:
        return "string or number";
    case F_ANYARR:
        return "array";
    default:
        return "object";
    }
}

/* ---------------- value checks ---------------- */

#define QUANTITY_MSG                                                           \
    "quantities must match the regular expression "                            \
    "'^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"

/* apimachinery's ValidateNonnegativeQuantity: no field here (memory, CPU,
 * capacities, bandwidth) has a meaning for a negative amount. */
#define NEGATIVE_MSG "must be greater than or equal to 0"

static void check_quantity_value(struct vctx *c, const json_t *v)
{
    int64_t q;
    int r;

    if (json_is_number(v)) {
        if (json_number_value(v) < 0)
            err_invalid(c, v, NEGATIVE_MSG);
        return;
    }
    r = api_quantity_parse(json_string_value(v), &q);
    if (r == -ERANGE)
        err_invalid(c, v, "quantity is too large");
    else if (r < 0)
        err_invalid(c, v, QUANTITY_MSG);
    else if (q < 0)
        err_invalid(c, v, NEGATIVE_MSG);
}

static void check_time_value(struct vctx *c, const json_t *v)
{
    int64_t t;

    if (api_time_parse(json_string_value(v), &t) < 0)
        err_invalid(c, v,
                    "must be an RFC 3339 timestamp (e.g. "
                    "'2026-11-25T21:00:00Z')");
}

static bool type_ok(enum ftype t, const json_t *v)
{
    switch (t) {
    case F_STRING:
    case F_TIME:
        return json_is_string(v);
    case F_BOOL:
        return json_is_boolean(v);
    case F_INT:
        return json_is_integer(v);
    case F_NUMBER:
        return json_is_number(v);
    case F_OBJECT:
    case F_ANYOBJ:
    case F_STRMAP:
    case F_QMAP:
        return json_is_object(v);
    case F_ANYARR:
        return json_is_array(v);
    case F_ANY:
        return true;
    case F_QUANTITY:
        return json_is_string(v) || json_is_number(v);
    }
    return false;
}

static void validate_object(struct vctx *c, const json_t *obj,
                            const struct schema *s);

static void validate_map(struct vctx *c, const json_t *v, enum ftype t)
{
    const char *k;
    json_t *e;

    json_object_foreach((json_t *)v, k, e)
    {
        size_t old = path_push(c, k);
        if (t == F_STRMAP && !json_is_string(e))
            err_type(c, e, "string");
        else if (t == F_QMAP) {
            if (!json_is_string(e) && !json_is_number(e))
                err_type(c, e, "string or number");
            else
                check_quantity_value(c, e);
        }
        path_pop(c, old);
    }
}

static void validate_one(struct vctx *c, const struct field *f, const json_t *v)
{
    if (!type_ok(f->type, v)) {
        err_type(c, v, type_name(f->type));
        return;
    }
    switch (f->type) {
    case F_OBJECT:
        validate_object(c, v, f->child);
        break;
    case F_STRMAP:
    case F_QMAP:
        validate_map(c, v, f->type);
        break;
    case F_QUANTITY:
        check_quantity_value(c, v);
        break;
    case F_TIME:
        check_time_value(c, v);
        break;
    case F_INT:
        if ((f->flags & RANGE) && json_integer_value(v) < f->min)
            verr(c, API_ERR_INVALID,
                 "Invalid value: %" JSON_INTEGER_FORMAT
                 ": must be greater than or equal to %lld",
                 json_integer_value(v), (long long)f->min);
        else if ((f->flags & RANGE) && json_integer_value(v) > f->max)
            verr(c, API_ERR_INVALID,
                 "Invalid value: %" JSON_INTEGER_FORMAT
                 ": must be less than or equal to %lld",
                 json_integer_value(v), (long long)f->max);
        break;
    case F_STRING:
        if (f->values) {
            const char *s = json_string_value(v);
            bool ok = false;
            char list[512] = "", val[RENDER_MAX];
            size_t o = 0;
            for (const char *const *a = f->values; *a; a++) {
                if (!strcmp(*a, s))
                    ok = true;
                if (**a)
                    o += (size_t)snprintf(list + o, sizeof(list) - o,
                                          "%s\"%s\"", o ? ", " : "", *a);
                if (o >= sizeof(list))
                    o = sizeof(list) - 1;
            }
            if (!ok) {
                api_value_render(v, val, sizeof(val));
                verr(c, API_ERR_UNSUPPORTED,
                     "Unsupported value: %s: supported values: %s", val, list);
                return;
            }
        }
        break;
    default:
        break;
    }
    if (f->check)
        f->check(c, v);
}

static void validate_field(struct vctx *c, const struct field *f,
                           const json_t *v)
{
    if (!(f->flags & ARR)) {
        validate_one(c, f, v);
        return;
    }
    if (!json_is_array(v)) {
        err_type(c, v, "array");
        return;
    }
    for (size_t i = 0; i < json_array_size(v); i++) {
        size_t old = path_index(c, i);
        validate_one(c, f, json_array_get(v, i));
        path_pop(c, old);
    }
}

static void validate_object(struct vctx *c, const json_t *obj,
                            const struct schema *s)
{
    const char *k;
    json_t *v;

    json_object_foreach((json_t *)obj, k, v)
    {
        const struct field *f = s->fields;
        size_t old;
        while (f->name && strcmp(f->name, k))
            f++;
        old = path_push(c, k);
        if (!f->name) {
            if (!s->open)
                verr(c, API_ERR_UNKNOWN_FIELD, "unknown field \"%s\"", c->path);
        } else if (!json_is_null(v))
            validate_field(c, f, v);
        path_pop(c, old);
    }
    for (const struct field *f = s->fields; f->name; f++) {
        if (!(f->flags & REQ))
            continue;
        v = json_object_get(obj, f->name);
        if (v && !json_is_null(v) &&
            !(json_is_string(v) && json_string_length(v) == 0 &&
              f->type == F_STRING))
            continue;
        size_t old = path_push(c, f->name);
        verr(c, API_ERR_REQUIRED, "Required value");
        path_pop(c, old);
    }
    if (s->check)
        s->check(c, obj);
}

/* ---------------- field checks ---------------- */

static void check_subdomain(struct vctx *c, const json_t *v)
{
    const char *msg = api_check_dns1123_subdomain(json_string_value(v));

    if (msg && json_string_length(v))
        err_invalid(c, v, msg);
}

static void check_label(struct vctx *c, const json_t *v)
{
    const char *msg = api_check_dns1123_label(json_string_value(v));

    if (msg && json_string_length(v))
        err_invalid(c, v, msg);
}

static void check_generate_name(struct vctx *c, const json_t *v)
{
    /* Kubernetes checks the prefix with a trailing '-' allowed
     * (MaskTrailingDash), but not a prefix that is only "-". */
    char buf[300];
    const char *msg;
    size_t len = json_string_length(v);

    if (len == 0)
        return;
    if (len >= sizeof(buf)) {
        err_invalid(c, v, "must be no more than 253 characters");
        return;
    }
    memcpy(buf, json_string_value(v), len + 1);
    if (len > 1 && buf[len - 1] == '-')
        buf[len - 1] = 'a';
    msg = api_check_dns1123_subdomain(buf);
    if (msg)
        err_invalid(c, v, msg);
}

static void check_labels(struct vctx *c, const json_t *v)
{
    const char *k;
    json_t *e;

    json_object_foreach((json_t *)v, k, e)
    {
        const char *msg = api_check_qualified_name(k);
        json_t *key = json_string(k);
        if (msg && key)
            err_invalid(c, key, msg);
        json_decref(key);
        if (json_is_string(e) &&
            (msg = api_check_label_value(json_string_value(e))))
            err_invalid(c, e, msg);
    }
}

static void check_annotations(struct vctx *c, const json_t *v)
{
    const char *k;
    json_t *e;
    size_t total = 0;

    json_object_foreach((json_t *)v, k, e)
    {
        const char *msg = api_check_qualified_name(k);
        json_t *key = json_string(k);
        if (msg && key)
            err_invalid(c, key, msg);
        json_decref(key);
        total += strlen(k) + json_string_length(e);
    }
    if (total > 256 * 1024)
        verr(c, API_ERR_TOO_LONG, "Too long: must have at most 262144 bytes");
}

static void check_mac(struct vctx *c, const json_t *v)
{
    const char *s = json_string_value(v);
    bool ok = json_string_length(v) == 17;

    for (size_t i = 0; ok && i < 17; i++) {
        char ch = s[i];
        if (i % 3 == 2)
            ok = ch == ':' || ch == '-';
        else
            ok = (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f') ||
                 (ch >= 'A' && ch <= 'F');
    }
    if (ok && s[2] != s[5])
        ok = false;
    if (!ok)
        err_invalid(c, v,
                    "must be a valid MAC address (e.g. "
                    "'02:00:00:00:00:01')");
}

static void check_metadata(struct vctx *c, const json_t *m)
{
    const json_t *name = json_object_get(m, "name");
    const json_t *gen = json_object_get(m, "generateName");
    const json_t *ns = json_object_get(m, "namespace");

    if ((!json_is_string(name) || !json_string_length(name)) &&
        (!json_is_string(gen) || !json_string_length(gen))) {
        size_t old = path_push(c, "name");
        if (!name || json_is_null(name) || json_is_string(name))
            verr(c, API_ERR_REQUIRED,
                 "Required value: name or generateName is required");
        path_pop(c, old);
    }
    if (c->kind && !c->kind->namespaced && json_is_string(ns) &&
        json_string_length(ns)) {
        size_t old = path_push(c, "namespace");
        verr(c, API_ERR_FORBIDDEN, "Forbidden: not allowed on this type");
        path_pop(c, old);
    }
}

/* ---------------- schemas ---------------- */

static const struct field metadata_fields[] = {
    {.name = "name", .type = F_STRING, .check = check_subdomain},
    {.name = "generateName", .type = F_STRING, .check = check_generate_name},
    {.name = "namespace", .type = F_STRING, .check = check_label},
    {.name = "uid", .type = F_STRING},
    {.name = "resourceVersion", .type = F_STRING},
    {.name = "generation", .type = F_INT},
    {.name = "creationTimestamp", .type = F_TIME},
    {.name = "deletionTimestamp", .type = F_TIME},
    {.name = "deletionGracePeriodSeconds", .type = F_INT},
    {.name = "labels", .type = F_STRMAP, .check = check_labels},
    {.name = "annotations", .type = F_STRMAP, .check = check_annotations},
    {.name = "finalizers", .type = F_STRING, .flags = ARR},
    {.name = "ownerReferences", .type = F_ANYOBJ, .flags = ARR},
    {.name = "managedFields", .type = F_ANYOBJ, .flags = ARR},
    {.name = "selfLink", .type = F_STRING},
    {0},
};
static const struct schema metadata_schema = {.fields = metadata_fields,
                                              .check = check_metadata};

/* A pod template's metadata: no name rules. */
static const struct field template_meta_fields[] = {
    {.name = "name", .type = F_STRING},
    {.name = "generateName", .type = F_STRING},
    {.name = "namespace", .type = F_STRING},
    {.name = "creationTimestamp", .type = F_TIME},
    {.name = "labels", .type = F_STRMAP, .check = check_labels},
    {.name = "annotations", .type = F_STRMAP, .check = check_annotations},
    {0},
};
static const struct schema template_meta_schema = {.fields =
                                                       template_meta_fields};

static const char *const condition_status[] = {"True", "False", "Unknown",
                                               NULL};
static const struct field condition_fields[] = {
    {.name = "type", .type = F_STRING, .flags = REQ},
    {.name = "status",
     .type = F_STRING,
     .flags = REQ,
     .values = condition_status},
    {.name = "reason", .type = F_STRING},
    {.name = "message", .type = F_STRING},
    {.name = "lastProbeTime", .type = F_TIME},
    {.name = "lastTransitionTime", .type = F_TIME},
    {.name = "lastHeartbeatTime", .type = F_TIME},
    {0},
};
static const struct schema condition_schema = {.fields = condition_fields};

/* The settings a MigrationPolicy overrides, typed and bounded as in the
 * cluster's MigrationConfiguration, which has them all. */
#define POLICY_OVERRIDE_FIELDS                                                 \
    {.name = "allowAutoConverge", .type = F_BOOL},                             \
        {.name = "bandwidthPerMigration", .type = F_QUANTITY},                 \
        {.name = "completionTimeoutPerGiB",                                    \
         .type = F_INT,                                                        \
         .flags = RANGE,                                                       \
         .min = 0,                                                             \
         .max = INT64_MAX},                                                    \
        {.name = "maxDowntimeMs",                                              \
         .type = F_INT,                                                        \
         .flags = RANGE,                                                       \
         .min = 1,                                                             \
         .max = 2000000},                                                      \
        {.name = "allowPostCopy", .type = F_BOOL},                             \
        {.name = "allowWorkloadDisruption", .type = F_BOOL},                   \
    {                                                                          \
        .name = "experimental", .type = F_ANYOBJ                               \
    }

static const struct field migration_config_fields[] = {
    POLICY_OVERRIDE_FIELDS,
    {.name = "progressTimeout",
     .type = F_INT,
     .flags = RANGE,
     .min = 0,
     .max = INT64_MAX},
    {.name = "parallelMigrationsPerCluster",
     .type = F_INT,
     .flags = RANGE,
     .min = 0,
     .max = INT64_MAX},
    {.name = "parallelOutboundMigrationsPerNode",
     .type = F_INT,
     .flags = RANGE,
     .min = 0,
     .max = INT64_MAX},
    {.name = "utilityVolumesTimeout", .type = F_INT},
    {.name = "unsafeMigrationOverride", .type = F_BOOL},
    {.name = "disableTLS", .type = F_BOOL},
    {.name = "matchSELinuxLevelOnMigration", .type = F_BOOL},
    {.name = "nodeDrainTaintKey", .type = F_STRING},
    {.name = "network", .type = F_STRING},
    {0},
};
static const struct schema migration_config_schema = {
    .fields = migration_config_fields};

static const struct field migration_state_fields[] = {
    {.name = "startTimestamp", .type = F_TIME},
    {.name = "endTimestamp", .type = F_TIME},
    {.name = "targetNodeDomainReadyTimestamp", .type = F_TIME},
    {.name = "targetNodeDomainDetected", .type = F_BOOL},
    {.name = "targetNodeAddress", .type = F_STRING},
    {.name = "targetDirectMigrationNodePorts", .type = F_ANYOBJ},
    {.name = "targetNode", .type = F_STRING},
    {.name = "targetPod", .type = F_STRING},
    {.name = "targetAttachmentPodUID", .type = F_STRING},
    {.name = "sourceNode", .type = F_STRING},
    {.name = "sourcePod", .type = F_STRING},
    {.name = "completed", .type = F_BOOL},
    {.name = "failed", .type = F_BOOL},
    {.name = "abortRequested", .type = F_BOOL},
    {.name = "abortStatus", .type = F_STRING, .values = api_abort_status_names},
    {.name = "failureReason", .type = F_STRING},
    {.name = "migrationUid", .type = F_STRING},
    {.name = "mode", .type = F_STRING, .values = api_migration_mode_names},
    {.name = "migrationPolicyName", .type = F_STRING},
    {.name = "migrationConfiguration",
     .type = F_OBJECT,
     .child = &migration_config_schema},
    {.name = "targetCPUSet", .type = F_INT, .flags = ARR},
    {.name = "targetNodeTopology", .type = F_STRING},
    {.name = "sourcePersistentStatePVCName", .type = F_STRING},
    {.name = "targetPersistentStatePVCName", .type = F_STRING},
    {.name = "sourceState", .type = F_ANYOBJ},
    {.name = "targetState", .type = F_ANYOBJ},
    {.name = "migrationNetworkType", .type = F_STRING},
    {.name = "targetMemoryOverhead", .type = F_QUANTITY},
    {0},
};
static const struct schema migration_state_schema = {
    .fields = migration_state_fields};

/* ---- VirtualMachineInstanceMigration ---- */

static const char *const priority_values[] = {
    "system-critical", "user-triggered", "system-maintenance", NULL};
static const struct field vmim_spec_fields[] = {
    {.name = "vmiName",
     .type = F_STRING,
     .flags = REQ,
     .check = check_subdomain},
    {.name = "addedNodeSelector", .type = F_STRMAP},
    {.name = "sendTo", .type = F_ANYOBJ},
    {.name = "receive", .type = F_ANYOBJ},
    {.name = "priority", .type = F_STRING, .values = priority_values},
    {0},
};
static const struct schema vmim_spec_schema = {.fields = vmim_spec_fields};

static const struct field transition_fields[] = {
    {.name = "phase", .type = F_STRING, .values = api_vmim_phase_names},
    {.name = "phaseTransitionTimestamp", .type = F_TIME},
    {0},
};
static const struct schema transition_schema = {.fields = transition_fields};

static const struct field progress_fields[] = {
    {.name = "dataTotalBytes", .type = F_INT},
    {.name = "dataProcessedBytes", .type = F_INT},
    {.name = "dataRemainingBytes", .type = F_INT},
    {.name = "dirtyMemoryRateBytes", .type = F_INT},
    {.name = "memoryTransferRateBytes", .type = F_INT},
    {.name = "iteration", .type = F_INT},
    {.name = "elapsedMs", .type = F_INT},
    {.name = "updateTimestamp", .type = F_TIME},
    {0},
};
static const struct schema progress_schema = {.fields = progress_fields};

static const struct field vmim_status_fields[] = {
    {.name = "phase", .type = F_STRING, .values = api_vmim_phase_names},
    {.name = "phaseTransitionTimestamps",
     .type = F_OBJECT,
     .flags = ARR,
     .child = &transition_schema},
    {.name = "migrationState",
     .type = F_OBJECT,
     .child = &migration_state_schema},
    {.name = "conditions",
     .type = F_OBJECT,
     .flags = ARR,
     .child = &condition_schema},
    {.name = "synchronizationAddresses", .type = F_STRING, .flags = ARR},
    {.name = "progress", .type = F_OBJECT, .child = &progress_schema},
    {0},
};
static const struct schema vmim_status_schema = {.fields = vmim_status_fields};

/* ---- VirtualMachineInstance spec (also a VM's template spec) ---- */

static const char *const bus_values[] = {"virtio", "sata", "scsi", "usb", NULL};
static const struct field disk_target_fields[] = {
    {.name = "bus", .type = F_STRING, .values = bus_values},
    {.name = "readonly", .type = F_BOOL},
    {.name = "pciAddress", .type = F_STRING},
    {.name = "tray", .type = F_STRING},
    {.name = "reservation", .type = F_BOOL},
    {0},
};
static const struct schema disk_target_schema = {.fields = disk_target_fields};

static const char *const cache_values[] = {"none", "writethrough", "writeback",
                                           NULL};
static void check_disk(struct vctx *c, const json_t *v);
static const struct field disk_fields[] = {
    {.name = "name", .type = F_STRING, .flags = REQ},
    {.name = "disk", .type = F_OBJECT, .child = &disk_target_schema},
    {.name = "cdrom", .type = F_OBJECT, .child = &disk_target_schema},
    {.name = "lun", .type = F_OBJECT, .child = &disk_target_schema},
    {.name = "bootOrder",
     .type = F_INT,
     .flags = RANGE,
     .min = 1,
     .max = INT64_MAX},
    {.name = "serial", .type = F_STRING},
    {.name = "cache", .type = F_STRING, .values = cache_values},
    {.name = "io", .type = F_STRING},
    {.name = "dedicatedIOThread", .type = F_BOOL},
    {.name = "shareable", .type = F_BOOL},
    {.name = "errorPolicy", .type = F_STRING},
    {.name = "blockSize", .type = F_ANYOBJ},
    {.name = "tag", .type = F_STRING},
    {0},
};
static const struct schema disk_schema = {.fields = disk_fields,
                                          .check = check_disk};

static const char *const protocol_values[] = {"TCP", "UDP", NULL};
static const struct field port_fields[] = {
    {.name = "name", .type = F_STRING},
    {.name = "port",
     .type = F_INT,
     .flags = REQ | RANGE,
     .min = 1,
     .max = 65535},
    {.name = "protocol", .type = F_STRING, .values = protocol_values},
    {0},
};
static const struct schema port_schema = {.fields = port_fields};

static const struct field binding_plugin_fields[] = {
    {.name = "name", .type = F_STRING, .flags = REQ},
    {0},
};
static const struct schema binding_plugin_schema = {.fields =
                                                        binding_plugin_fields};

static void check_interface(struct vctx *c, const json_t *v);
static const struct field interface_fields[] = {
    {.name = "name", .type = F_STRING, .flags = REQ},
    {.name = "masquerade", .type = F_ANYOBJ},
    {.name = "bridge", .type = F_ANYOBJ},
    {.name = "sriov", .type = F_ANYOBJ},
    {.name = "slirp", .type = F_ANYOBJ},
    {.name = "passt", .type = F_ANYOBJ},
    {.name = "binding", .type = F_OBJECT, .child = &binding_plugin_schema},
    {.name = "macAddress", .type = F_STRING, .check = check_mac},
    {.name = "model", .type = F_STRING},
    {.name = "ports", .type = F_OBJECT, .flags = ARR, .child = &port_schema},
    {.name = "pciAddress", .type = F_STRING},
    {.name = "bootOrder",
     .type = F_INT,
     .flags = RANGE,
     .min = 1,
     .max = INT64_MAX},
    {.name = "dhcpOptions", .type = F_ANYOBJ},
    {.name = "tag", .type = F_STRING},
    {.name = "acpiIndex", .type = F_INT},
    {.name = "state", .type = F_STRING},
    {0},
};
static const struct schema interface_schema = {.fields = interface_fields,
                                               .check = check_interface};

static const struct field devices_fields[] = {
    {.name = "disks", .type = F_OBJECT, .flags = ARR, .child = &disk_schema},
    {.name = "interfaces",
     .type = F_OBJECT,
     .flags = ARR,
     .child = &interface_schema},
    {.name = "rng", .type = F_ANYOBJ},
    {.name = "autoattachPodInterface", .type = F_BOOL},
    {.name = "autoattachGraphicsDevice", .type = F_BOOL},
    {.name = "autoattachSerialConsole", .type = F_BOOL},
    {.name = "autoattachMemBalloon", .type = F_BOOL},
    {.name = "autoattachInputDevice", .type = F_BOOL},
    {.name = "autoattachVSOCK", .type = F_BOOL},
    {.name = "networkInterfaceMultiqueue", .type = F_BOOL},
    {.name = "blockMultiQueue", .type = F_BOOL},
    {.name = "useVirtioTransitional", .type = F_BOOL},
    {.name = "hostDevices", .type = F_ANYOBJ, .flags = ARR},
    {.name = "gpus", .type = F_ANYOBJ, .flags = ARR},
    {.name = "inputs", .type = F_ANYOBJ, .flags = ARR},
    {.name = "filesystems", .type = F_ANYOBJ, .flags = ARR},
    {.name = "watchdog", .type = F_ANYOBJ},
    {.name = "tpm", .type = F_ANYOBJ},
    {.name = "sound", .type = F_ANYOBJ},
    {.name = "clientPassthrough", .type = F_ANYOBJ},
    {.name = "downwardMetrics", .type = F_ANYOBJ},
    {.name = "logSerialConsole", .type = F_BOOL},
    {0},
};
static const struct schema devices_schema = {.fields = devices_fields};

static const struct field cpu_fields[] = {
    {.name = "cores", .type = F_INT, .flags = RANGE, .min = 1, .max = 1024},
    {.name = "sockets", .type = F_INT, .flags = RANGE, .min = 1, .max = 1024},
    {.name = "threads", .type = F_INT, .flags = RANGE, .min = 1, .max = 1024},
    {.name = "maxSockets",
     .type = F_INT,
     .flags = RANGE,
     .min = 1,
     .max = 1024},
    {.name = "model", .type = F_STRING},
    {.name = "dedicatedCpuPlacement", .type = F_BOOL},
    {.name = "isolateEmulatorThread", .type = F_BOOL},
    {.name = "features", .type = F_ANYOBJ, .flags = ARR},
    {.name = "numa", .type = F_ANYOBJ},
    {.name = "realtime", .type = F_ANYOBJ},
    {0},
};
static const struct schema cpu_schema = {.fields = cpu_fields};

static const struct field memory_fields[] = {
    {.name = "guest", .type = F_QUANTITY},
    {.name = "maxGuest", .type = F_QUANTITY},
    {.name = "hugepages", .type = F_ANYOBJ},
    {0},
};
static const struct schema memory_schema = {.fields = memory_fields};

static const struct field resources_fields[] = {
    {.name = "requests", .type = F_QMAP},
    {.name = "limits", .type = F_QMAP},
    {.name = "overcommitGuestOverhead", .type = F_BOOL},
    {0},
};
static const struct schema resources_schema = {.fields = resources_fields};

static const struct field kernel_container_fields[] = {
    {.name = "image", .type = F_STRING, .flags = REQ},
    {.name = "kernelPath", .type = F_STRING},
    {.name = "initrdPath", .type = F_STRING},
    {.name = "imagePullPolicy", .type = F_STRING},
    {.name = "imagePullSecret", .type = F_STRING},
    {0},
};
static const struct schema kernel_container_schema = {
    .fields = kernel_container_fields};

static const struct field kernel_boot_fields[] = {
    {.name = "kernelArgs", .type = F_STRING},
    {.name = "container", .type = F_OBJECT, .child = &kernel_container_schema},
    {0},
};
static const struct schema kernel_boot_schema = {.fields = kernel_boot_fields};

static const struct field firmware_fields[] = {
    {.name = "kernelBoot", .type = F_OBJECT, .child = &kernel_boot_schema},
    {.name = "bootloader", .type = F_ANYOBJ},
    {.name = "uuid", .type = F_STRING},
    {.name = "serial", .type = F_STRING},
    {.name = "acpi", .type = F_ANYOBJ},
    {0},
};
static const struct schema firmware_schema = {.fields = firmware_fields};

static const struct field machine_fields[] = {
    {.name = "type", .type = F_STRING},
    {0},
};
static const struct schema machine_schema = {.fields = machine_fields};

static const struct field domain_fields[] = {
    {.name = "cpu", .type = F_OBJECT, .child = &cpu_schema},
    {.name = "memory", .type = F_OBJECT, .child = &memory_schema},
    {.name = "resources", .type = F_OBJECT, .child = &resources_schema},
    {.name = "devices",
     .type = F_OBJECT,
     .flags = REQ,
     .child = &devices_schema},
    {.name = "firmware", .type = F_OBJECT, .child = &firmware_schema},
    {.name = "machine", .type = F_OBJECT, .child = &machine_schema},
    {.name = "features", .type = F_ANYOBJ},
    {.name = "clock", .type = F_ANYOBJ},
    {.name = "chassis", .type = F_ANYOBJ},
    {.name = "ioThreadsPolicy", .type = F_STRING},
    {.name = "ioThreads", .type = F_ANYOBJ},
    {.name = "launchSecurity", .type = F_ANYOBJ},
    {0},
};
static const struct schema domain_schema = {.fields = domain_fields};

static const struct field pod_network_fields[] = {
    {.name = "vmNetworkCIDR", .type = F_STRING},
    {.name = "vmIPv6NetworkCIDR", .type = F_STRING},
    {0},
};
static const struct schema pod_network_schema = {.fields = pod_network_fields};

static const struct field multus_fields[] = {
    {.name = "networkName", .type = F_STRING, .flags = REQ},
    {.name = "default", .type = F_BOOL},
    {0},
};
static const struct schema multus_schema = {.fields = multus_fields};

static void check_network(struct vctx *c, const json_t *v);
static const struct field network_fields[] = {
    {.name = "name", .type = F_STRING, .flags = REQ},
    {.name = "pod", .type = F_OBJECT, .child = &pod_network_schema},
    {.name = "multus", .type = F_OBJECT, .child = &multus_schema},
    {0},
};
static const struct schema network_schema = {.fields = network_fields,
                                             .check = check_network};

static const struct field container_disk_fields[] = {
    {.name = "image", .type = F_STRING, .flags = REQ},
    {.name = "path", .type = F_STRING},
    {.name = "imagePullPolicy", .type = F_STRING},
    {.name = "imagePullSecret", .type = F_STRING},
    {0},
};
static const struct schema container_disk_schema = {.fields =
                                                        container_disk_fields};

/* networkData becomes the seed's network-config: a guest given one that
 * cloud-init cannot read comes up without its static address. */
static void check_network_data(struct vctx *c, const json_t *v)
{
    char msg[400];
    const char *text = json_string_value(v);
    int r =
        api_network_config_check(text, json_string_length(v), msg, sizeof(msg));

    if (r == -ENOMEM)
        c->nomem = true;
    else if (r < 0)
        verr(c, API_ERR_INVALID,
             "Invalid value: not a valid cloud-init network-config (version "
             "1 or 2): %s",
             msg);
}

static const struct field nocloud_fields[] = {
    {.name = "userData", .type = F_STRING},
    {.name = "userDataBase64", .type = F_STRING},
    {.name = "networkData", .type = F_STRING, .check = check_network_data},
    {.name = "networkDataBase64", .type = F_STRING},
    {.name = "secretRef", .type = F_ANYOBJ},
    {.name = "networkDataSecretRef", .type = F_ANYOBJ},
    {0},
};
static const struct schema nocloud_schema = {.fields = nocloud_fields};

static const struct field pvc_fields[] = {
    {.name = "claimName", .type = F_STRING, .flags = REQ},
    {.name = "readOnly", .type = F_BOOL},
    {.name = "hotpluggable", .type = F_BOOL},
    {0},
};
static const struct schema pvc_schema = {.fields = pvc_fields};

static const char *const host_disk_types[] = {"Disk", "DiskOrCreate", NULL};
static const struct field host_disk_fields[] = {
    {.name = "path", .type = F_STRING, .flags = REQ},
    {.name = "type", .type = F_STRING, .flags = REQ, .values = host_disk_types},
    {.name = "capacity", .type = F_QUANTITY},
    {.name = "shared", .type = F_BOOL},
    {0},
};
static const struct schema host_disk_schema = {.fields = host_disk_fields};

static const struct field empty_disk_fields[] = {
    {.name = "capacity", .type = F_QUANTITY, .flags = REQ},
    {0},
};
static const struct schema empty_disk_schema = {.fields = empty_disk_fields};

static void check_volume(struct vctx *c, const json_t *v);
static const struct field volume_fields[] = {
    {.name = "name", .type = F_STRING, .flags = REQ},
    {.name = "containerDisk",
     .type = F_OBJECT,
     .child = &container_disk_schema},
    {.name = "cloudInitNoCloud", .type = F_OBJECT, .child = &nocloud_schema},
    {.name = "persistentVolumeClaim", .type = F_OBJECT, .child = &pvc_schema},
    {.name = "hostDisk", .type = F_OBJECT, .child = &host_disk_schema},
    {.name = "emptyDisk", .type = F_OBJECT, .child = &empty_disk_schema},
    {.name = "dataVolume", .type = F_ANYOBJ},
    {.name = "cloudInitConfigDrive", .type = F_ANYOBJ},
    {.name = "configMap", .type = F_ANYOBJ},
    {.name = "secret", .type = F_ANYOBJ},
    {.name = "serviceAccount", .type = F_ANYOBJ},
    {.name = "downwardAPI", .type = F_ANYOBJ},
    {.name = "downwardMetrics", .type = F_ANYOBJ},
    {.name = "ephemeral", .type = F_ANYOBJ},
    {.name = "memoryDump", .type = F_ANYOBJ},
    {.name = "sysprep", .type = F_ANYOBJ},
    {0},
};
static const struct schema volume_schema = {.fields = volume_fields,
                                            .check = check_volume};

static const char *const eviction_values[] = {
    "None", "LiveMigrate", "LiveMigrateIfPossible", "External", NULL};
static void check_vmi_spec(struct vctx *c, const json_t *v);
static const struct field vmi_spec_fields[] = {
    {.name = "domain", .type = F_OBJECT, .flags = REQ, .child = &domain_schema},
    {.name = "networks",
     .type = F_OBJECT,
     .flags = ARR,
     .child = &network_schema},
    {.name = "volumes",
     .type = F_OBJECT,
     .flags = ARR,
     .child = &volume_schema},
    {.name = "nodeSelector", .type = F_STRMAP},
    {.name = "affinity", .type = F_ANYOBJ},
    {.name = "tolerations", .type = F_ANYOBJ, .flags = ARR},
    {.name = "topologySpreadConstraints", .type = F_ANYOBJ, .flags = ARR},
    {.name = "terminationGracePeriodSeconds",
     .type = F_INT,
     .flags = RANGE,
     .min = 0,
     .max = INT64_MAX},
    {.name = "evictionStrategy", .type = F_STRING, .values = eviction_values},
    {.name = "hostname", .type = F_STRING, .check = check_label},
    {.name = "subdomain", .type = F_STRING, .check = check_label},
    {.name = "dnsPolicy", .type = F_STRING},
    {.name = "dnsConfig", .type = F_ANYOBJ},
    {.name = "schedulerName", .type = F_STRING},
    {.name = "priorityClassName", .type = F_STRING},
    {.name = "livenessProbe", .type = F_ANYOBJ},
    {.name = "readinessProbe", .type = F_ANYOBJ},
    {.name = "accessCredentials", .type = F_ANYOBJ, .flags = ARR},
    {.name = "architecture", .type = F_STRING},
    {.name = "startStrategy", .type = F_STRING},
    {0},
};
static const struct schema vmi_spec_schema = {.fields = vmi_spec_fields,
                                              .check = check_vmi_spec};

/* ---- VirtualMachineInstance status (open: owned by the server) ---- */

static const struct field vmi_iface_status_fields[] = {
    {.name = "name", .type = F_STRING},
    {.name = "mac", .type = F_STRING},
    {.name = "ipAddress", .type = F_STRING},
    {.name = "ipAddresses", .type = F_STRING, .flags = ARR},
    {.name = "interfaceName", .type = F_STRING},
    {.name = "infoSource", .type = F_STRING},
    {.name = "queueCount", .type = F_INT},
    {.name = "podInterfaceName", .type = F_STRING},
    {.name = "linkState", .type = F_STRING},
    {0},
};
static const struct schema vmi_iface_status_schema = {
    .fields = vmi_iface_status_fields};

static const char *const vmi_phase_values[] = {
    "",          "Pending", "Scheduling", "Scheduled",      "Running",
    "Succeeded", "Failed",  "Unknown",    "WaitingForSync", NULL};
static const struct field vmi_status_fields[] = {
    {.name = "phase", .type = F_STRING, .values = vmi_phase_values},
    {.name = "nodeName", .type = F_STRING},
    {.name = "reason", .type = F_STRING},
    {.name = "interfaces",
     .type = F_OBJECT,
     .flags = ARR,
     .child = &vmi_iface_status_schema},
    {.name = "migrationState",
     .type = F_OBJECT,
     .child = &migration_state_schema},
    {.name = "conditions",
     .type = F_OBJECT,
     .flags = ARR,
     .child = &condition_schema},
    {.name = "migrationMethod", .type = F_STRING},
    {.name = "migrationTransport", .type = F_STRING},
    {.name = "evacuationNodeName", .type = F_STRING},
    {0},
};
static const struct schema vmi_status_schema = {.fields = vmi_status_fields,
                                                .open = true};

/* ---- VirtualMachine ---- */

static const struct field vm_template_fields[] = {
    {.name = "metadata", .type = F_OBJECT, .child = &template_meta_schema},
    {.name = "spec", .type = F_OBJECT, .flags = REQ, .child = &vmi_spec_schema},
    {0},
};
static const struct schema vm_template_schema = {.fields = vm_template_fields};

static const char *const run_strategy_values[] = {
    "Always", "Halted",         "Manual", "RerunOnFailure",
    "Once",   "WaitAsReceiver", NULL};
static void check_vm_spec(struct vctx *c, const json_t *v);
static const struct field vm_spec_fields[] = {
    {.name = "running", .type = F_BOOL},
    {.name = "runStrategy", .type = F_STRING, .values = run_strategy_values},
    {.name = "template",
     .type = F_OBJECT,
     .flags = REQ,
     .child = &vm_template_schema},
    {.name = "dataVolumeTemplates", .type = F_ANYOBJ, .flags = ARR},
    {.name = "instancetype", .type = F_ANYOBJ},
    {.name = "preference", .type = F_ANYOBJ},
    {.name = "updateVolumesStrategy", .type = F_STRING},
    {0},
};
static const struct schema vm_spec_schema = {.fields = vm_spec_fields,
                                             .check = check_vm_spec};

static const struct field vm_status_fields[] = {
    {.name = "printableStatus", .type = F_STRING},
    {.name = "ready", .type = F_BOOL},
    {.name = "created", .type = F_BOOL},
    {.name = "conditions",
     .type = F_OBJECT,
     .flags = ARR,
     .child = &condition_schema},
    {0},
};
static const struct schema vm_status_schema = {.fields = vm_status_fields,
                                               .open = true};

/* ---- MigrationPolicy ---- */

static const struct field selectors_fields[] = {
    {.name = "namespaceSelector", .type = F_STRMAP, .check = check_labels},
    {.name = "virtualMachineInstanceSelector",
     .type = F_STRMAP,
     .check = check_labels},
    {0},
};
static const struct schema selectors_schema = {.fields = selectors_fields};

static const struct field policy_spec_fields[] = {
    {.name = "selectors",
     .type = F_OBJECT,
     .flags = REQ,
     .child = &selectors_schema},
    POLICY_OVERRIDE_FIELDS,
    {0},
};
static const struct schema policy_spec_schema = {.fields = policy_spec_fields};
static const struct field any_fields[] = {{0}};
static const struct schema open_schema = {.fields = any_fields, .open = true};

/* ---- Node ---- */

static const char *const taint_effects[] = {"NoSchedule", "PreferNoSchedule",
                                            "NoExecute", NULL};
static const struct field taint_fields[] = {
    {.name = "key", .type = F_STRING, .flags = REQ},
    {.name = "value", .type = F_STRING},
    {.name = "effect", .type = F_STRING, .flags = REQ, .values = taint_effects},
    {.name = "timeAdded", .type = F_TIME},
    {0},
};
static const struct schema taint_schema = {.fields = taint_fields};

static const struct field node_spec_fields[] = {
    {.name = "unschedulable", .type = F_BOOL},
    {.name = "taints", .type = F_OBJECT, .flags = ARR, .child = &taint_schema},
    {.name = "podCIDR", .type = F_STRING},
    {.name = "podCIDRs", .type = F_STRING, .flags = ARR},
    {.name = "providerID", .type = F_STRING},
    {0},
};
static const struct schema node_spec_schema = {.fields = node_spec_fields};

static const struct field node_address_fields[] = {
    {.name = "type", .type = F_STRING, .flags = REQ},
    {.name = "address", .type = F_STRING, .flags = REQ},
    {0},
};
static const struct schema node_address_schema = {.fields =
                                                      node_address_fields};

static const struct field node_status_fields[] = {
    {.name = "addresses",
     .type = F_OBJECT,
     .flags = ARR,
     .child = &node_address_schema},
    {.name = "capacity", .type = F_QMAP},
    {.name = "allocatable", .type = F_QMAP},
    {.name = "conditions",
     .type = F_OBJECT,
     .flags = ARR,
     .child = &condition_schema},
    {.name = "nodeInfo", .type = F_ANYOBJ},
    {.name = "phase", .type = F_STRING},
    {0},
};
static const struct schema node_status_schema = {.fields = node_status_fields,
                                                 .open = true};

/* ---- top level, per kind ---- */

#define TOP_FIELDS(spec_flags, spec_schema, status_schema)                     \
    {.name = "apiVersion", .type = F_STRING},                                  \
        {.name = "kind", .type = F_STRING},                                    \
        {.name = "metadata",                                                   \
         .type = F_OBJECT,                                                     \
         .flags = REQ,                                                         \
         .child = &metadata_schema},                                           \
        {.name = "spec",                                                       \
         .type = F_OBJECT,                                                     \
         .flags = (spec_flags),                                                \
         .child = (spec_schema)},                                              \
        {.name = "status", .type = F_OBJECT, .child = (status_schema)},        \
    {                                                                          \
        0                                                                      \
    }

static const struct field vmim_fields[] = {
    TOP_FIELDS(REQ, &vmim_spec_schema, &vmim_status_schema)};
static const struct field vmi_fields[] = {
    TOP_FIELDS(REQ, &vmi_spec_schema, &vmi_status_schema)};
static const struct field vm_fields[] = {
    TOP_FIELDS(REQ, &vm_spec_schema, &vm_status_schema)};
static const struct field policy_fields[] = {
    TOP_FIELDS(REQ, &policy_spec_schema, &open_schema)};
static const struct field node_fields[] = {
    TOP_FIELDS(0, &node_spec_schema, &node_status_schema)};

static const struct schema top_schemas[API_KIND_COUNT] = {
    [API_KIND_VMIM] = {.fields = vmim_fields},
    [API_KIND_VMI] = {.fields = vmi_fields},
    [API_KIND_VM] = {.fields = vm_fields},
    [API_KIND_POLICY] = {.fields = policy_fields},
    [API_KIND_NODE] = {.fields = node_fields},
};

/* ---------------- cross checks ---------------- */

/* At most one of `names` may be set in `v`; `need` says at least one. */
static void one_of(struct vctx *c, const json_t *v, const char *const *names,
                   const char *what, bool need)
{
    size_t n = 0;
    char list[256] = "";
    size_t o = 0;

    for (const char *const *k = names; *k; k++) {
        const json_t *e = json_object_get(v, *k);
        if (e && !json_is_null(e))
            n++;
        o += (size_t)snprintf(list + o, sizeof(list) - o, "%s%s", o ? ", " : "",
                              *k);
        if (o >= sizeof(list))
            o = sizeof(list) - 1;
    }
    if (n > 1)
        verr(c, API_ERR_FORBIDDEN, "Forbidden: must have at most one %s (%s)",
             what, list);
    else if (n == 0 && need)
        verr(c, API_ERR_REQUIRED, "Required value: must have one %s (%s)", what,
             list);
}

static void check_disk(struct vctx *c, const json_t *v)
{
    static const char *const k[] = {"disk", "cdrom", "lun", NULL};
    one_of(c, v, k, "disk type", false);
}

static void check_interface(struct vctx *c, const json_t *v)
{
    static const char *const k[] = {"masquerade", "bridge",  "sriov", "slirp",
                                    "passt",      "binding", NULL};
    one_of(c, v, k, "binding method", false);
}

static void check_network(struct vctx *c, const json_t *v)
{
    static const char *const k[] = {"pod", "multus", NULL};
    one_of(c, v, k, "network source", true);
}

static void check_volume(struct vctx *c, const json_t *v)
{
    static const char *const k[] = {"containerDisk",
                                    "cloudInitNoCloud",
                                    "persistentVolumeClaim",
                                    "hostDisk",
                                    "emptyDisk",
                                    "dataVolume",
                                    "cloudInitConfigDrive",
                                    "configMap",
                                    "secret",
                                    "serviceAccount",
                                    "downwardAPI",
                                    "downwardMetrics",
                                    "ephemeral",
                                    "memoryDump",
                                    "sysprep",
                                    NULL};
    one_of(c, v, k, "volume source", true);
}

static const char *item_name(const json_t *arr, size_t i)
{
    return json_string_value(json_object_get(json_array_get(arr, i), "name"));
}

/* Remember `name` in `set` (an object used as a hash set, so that lists
 * as long as the decoder allows are checked in linear time).  Returns
 * false if it was there already. */
static bool name_add(struct vctx *c, json_t *set, const char *name)
{
    if (json_object_get(set, name))
        return false;
    /* The name is a jansson string already: valid UTF-8. */
    if (json_object_set_new_nocheck(set, name, json_true()) < 0)
        c->nomem = true;
    return true;
}

/* Names in `arr` are unique; each must appear in `other` (when
 * `detail` is set). */
static void check_names(struct vctx *c, const char *arr_path, const json_t *arr,
                        const json_t *other, const char *detail)
{
    size_t base = path_push(c, arr_path);
    json_t *seen = json_object(), *wanted = detail ? json_object() : NULL;

    if (!seen || (detail && !wanted)) {
        c->nomem = true;
        goto out;
    }
    for (size_t i = 0; detail && i < json_array_size(other); i++) {
        const char *n = item_name(other, i);
        if (n)
            name_add(c, wanted, n);
    }
    for (size_t i = 0; i < json_array_size(arr); i++) {
        const char *n = item_name(arr, i);
        size_t old, o2;
        if (!n || !*n)
            continue;
        old = path_index(c, i);
        o2 = path_push(c, "name");
        if (!name_add(c, seen, n))
            err_dup(c, json_object_get(json_array_get(arr, i), "name"));
        else if (detail && !json_object_get(wanted, n))
            err_invalid(c, json_object_get(json_array_get(arr, i), "name"),
                        detail);
        path_pop(c, o2);
        path_pop(c, old);
    }
out:
    json_decref(seen);
    json_decref(wanted);
    path_pop(c, base);
}

static void check_vmi_spec(struct vctx *c, const json_t *spec)
{
    const json_t *devices =
        json_object_get(json_object_get(spec, "domain"), "devices");
    const json_t *ifaces = json_object_get(devices, "interfaces");
    const json_t *disks = json_object_get(devices, "disks");
    const json_t *nets = json_object_get(spec, "networks");
    const json_t *vols = json_object_get(spec, "volumes");
    char detail[600];
    size_t old;

    if (!json_is_object(devices))
        return;
    if (!json_is_array(nets))
        nets = NULL;
    if (!json_is_array(vols))
        vols = NULL;
    if (json_is_array(ifaces)) {
        old = path_push(c, "domain.devices");
        snprintf(detail, sizeof(detail),
                 "must match the name of a network in %.*s.networks", (int)old,
                 c->path);
        check_names(c, "interfaces", ifaces, nets, detail);
        path_pop(c, old);
    }
    if (json_is_array(disks)) {
        old = path_push(c, "domain.devices");
        snprintf(detail, sizeof(detail),
                 "must match the name of a volume in %.*s.volumes", (int)old,
                 c->path);
        check_names(c, "disks", disks, vols, detail);
        path_pop(c, old);
    }
    if (nets) {
        snprintf(detail, sizeof(detail),
                 "must match the name of an interface in "
                 "%s%sdomain.devices.interfaces",
                 c->path, c->len ? "." : "");
        check_names(c, "networks", nets, json_is_array(ifaces) ? ifaces : NULL,
                    detail);
    }
    if (vols)
        check_names(c, "volumes", vols, NULL, NULL);
}

static void check_vm_spec(struct vctx *c, const json_t *spec)
{
    const json_t *running = json_object_get(spec, "running");
    const json_t *strategy = json_object_get(spec, "runStrategy");

    if (json_is_boolean(running) && json_is_string(strategy)) {
        size_t old = path_push(c, "running");
        verr(c, API_ERR_FORBIDDEN,
             "Forbidden: running and runStrategy are mutually exclusive");
        path_pop(c, old);
    }
}

/* ---------------- entry points ---------------- */

static void supported_kinds(char *buf, size_t size, bool versions,
                            enum api_kind expect)
{
    size_t o = 0;

    buf[0] = '\0';
    for (int k = API_KIND_NONE + 1; k < API_KIND_COUNT; k++) {
        const struct api_kind_info *ki = api_kind_info(k);
        const char *name = versions ? ki->api_version : ki->kind_name;
        bool seen = false;
        if (expect != API_KIND_NONE && (enum api_kind)k != expect)
            continue;
        /* Versions repeat across kinds; list each once. */
        for (int j = API_KIND_NONE + 1; j < k; j++)
            if ((expect == API_KIND_NONE) &&
                !strcmp(api_kind_info(j)->api_version, name) && versions)
                seen = true;
        if (seen)
            continue;
        o += (size_t)snprintf(buf + o, size - o, "%s\"%s\"", o ? ", " : "",
                              name);
        if (o >= size)
            return;
    }
}

/* apiVersion or kind: a string that must be there.  Returns the value. */
static const json_t *check_type_meta(struct vctx *c, const json_t *doc,
                                     const char *name)
{
    const json_t *v = json_object_get(doc, name);
    size_t old = path_push(c, name);

    if (!v || json_is_null(v) || (json_is_string(v) && !json_string_length(v)))
        verr(c, API_ERR_REQUIRED, "Required value");
    else if (!json_is_string(v))
        err_type(c, v, "string");
    path_pop(c, old);
    return v;
}

int api_object_validate(const json_t *doc, enum api_kind expect,
                        const struct api_kind_info **ret_kind,
                        struct api_errors *errs)
{
    struct vctx c = {.errs = errs};
    const json_t *av, *kv;
    const struct api_kind_info *ki = NULL;
    char list[512], val[RENDER_MAX];

    if (!json_is_object(doc)) {
        api_errors_add(errs, API_ERR_DECODE, NULL,
                       "the document is not an object");
        return -EINVAL;
    }
    av = check_type_meta(&c, doc, "apiVersion");
    kv = check_type_meta(&c, doc, "kind");
    if (c.any)
        goto out;
    ki = api_kind_find(json_string_value(av), json_string_value(kv));
    if (!ki || (expect != API_KIND_NONE && ki->kind != expect)) {
        /* Say which of the two is wrong. */
        const struct api_kind_info *by_kind = NULL;
        for (int k = API_KIND_NONE + 1; k < API_KIND_COUNT; k++)
            if (!strcmp(api_kind_info(k)->kind_name, json_string_value(kv)))
                by_kind = api_kind_info(k);
        if ((expect == API_KIND_NONE && !by_kind) ||
            (expect != API_KIND_NONE &&
             strcmp(json_string_value(kv), api_kind_info(expect)->kind_name))) {
            supported_kinds(list, sizeof(list), false, expect);
            api_value_render(kv, val, sizeof(val));
            path_push(&c, "kind");
            verr(&c, API_ERR_UNSUPPORTED,
                 "Unsupported value: %s: supported values: %s", val, list);
            path_pop(&c, 0);
        } else {
            enum api_kind want =
                expect != API_KIND_NONE ? expect : by_kind->kind;
            supported_kinds(list, sizeof(list), true, want);
            api_value_render(av, val, sizeof(val));
            path_push(&c, "apiVersion");
            verr(&c, API_ERR_UNSUPPORTED,
                 "Unsupported value: %s: supported values: %s", val, list);
            path_pop(&c, 0);
        }
        ki = NULL;
        goto out;
    }
    c.kind = ki;
    validate_object(&c, doc, &top_schemas[ki->kind]);
out:
    if (c.nomem)
        return -ENOMEM;
    if (ret_kind && ki)
        *ret_kind = ki;
    return c.any ? -EINVAL : 0;
}

int api_object_parse(const char *buf, size_t len,
                     const struct api_limits *limits, enum api_kind expect,
                     json_t **ret_doc, const struct api_kind_info **ret_kind,
                     struct api_errors *errs)
{
    const struct api_kind_info *ki = NULL;
    json_t *doc = NULL;
    int r;

    r = api_doc_decode(buf, len, limits, &doc, errs);
    if (r < 0)
        return r;
    r = api_object_validate(doc, expect, &ki, errs);
    if (r < 0) {
        json_decref(doc);
        return r;
    }
    *ret_doc = doc;
    if (ret_kind)
        *ret_kind = ki;
    return 0;
}

int api_object_set_defaults(json_t *doc, const struct api_kind_info *kind)
{
    json_t *meta;

    if (!json_is_object(doc) || !kind)
        return -EINVAL;
    meta = json_object_get(doc, "metadata");
    if (!meta) {
        meta = json_object();
        if (!meta || json_object_set_new(doc, "metadata", meta) < 0)
            return -ENOMEM;
    }
    if (!json_is_object(meta))
        return -EINVAL;
    if (kind->namespaced) {
        const json_t *ns = json_object_get(meta, "namespace");
        if (!json_is_string(ns) || !json_string_length(ns))
            if (json_object_set_new(meta, "namespace", json_string("default")) <
                0)
                return -ENOMEM;
    } else
        json_object_del(meta, "namespace");
    return 0;
}

const char *api_doc_get_string(const json_t *doc, const char *path)
{
    const json_t *v = doc;
    const char *p = path;

    while (v && *p) {
        const char *dot = strchr(p, '.');
        size_t n = dot ? (size_t)(dot - p) : strlen(p);
        if (!json_is_object(v))
            return NULL;
        v = json_object_getn(v, p, n);
        p += n + (dot ? 1 : 0);
    }
    return json_string_value(v);
}

int api_doc_set_string(json_t *doc, const char *path, const char *value)
{
    json_t *v = doc;
    const char *p = path;

    if (!json_is_object(doc) || !path || !*path || !value)
        return -EINVAL;
    for (;;) {
        const char *dot = strchr(p, '.');
        size_t n = dot ? (size_t)(dot - p) : strlen(p);
        if (!dot) {
            json_t *s = json_string(value);
            if (!s)
                return -EINVAL;
            return json_object_setn_new(v, p, n, s) < 0 ? -ENOMEM : 0;
        }
        json_t *next = json_object_getn(v, p, n);
        if (!next) {
            next = json_object();
            if (!next || json_object_setn_new(v, p, n, next) < 0)
                return -ENOMEM;
        } else if (!json_is_object(next))
            return -EINVAL;
        v = next;
        p = dot + 1;
    }
}

/* ---------------- the schema tables as OpenAPI ---------------- */

/* The generator below turns the validation tables into the structural
 * schemas OpenAPI v2 and v3 both read (the subset a CRD's
 * openAPIV3Schema uses), so that what kubectl explains and validates is
 * exactly what this file checks. */

static json_t *openapi_object(const struct schema *s);

static json_t *openapi_quantity(void)
{
    /* A CRD's spelling of resource.Quantity. */
    return json_pack("{s:[{s:s}, {s:s}], s:b}", "anyOf", "type", "integer",
                     "type", "string", "x-kubernetes-int-or-string", 1);
}

static json_t *openapi_one(const struct field *f)
{
    json_t *o = NULL;

    switch (f->type) {
    case F_STRING:
        o = json_pack("{s:s}", "type", "string");
        if (o && f->values) {
            json_t *e = json_array();
            for (const char *const *a = f->values; *a; a++)
                json_array_append_new(e, json_string(*a));
            json_object_set_new(o, "enum", e);
        }
        break;
    case F_TIME:
        o = json_pack("{s:s, s:s}", "type", "string", "format", "date-time");
        break;
    case F_BOOL:
        o = json_pack("{s:s}", "type", "boolean");
        break;
    case F_INT:
        o = json_pack("{s:s, s:s}", "type", "integer", "format", "int64");
        if (o && (f->flags & RANGE)) {
            json_object_set_new(o, "minimum", json_integer(f->min));
            json_object_set_new(o, "maximum", json_integer(f->max));
        }
        break;
    case F_NUMBER:
        o = json_pack("{s:s, s:s}", "type", "number", "format", "double");
        break;
    case F_OBJECT:
        o = openapi_object(f->child);
        break;
    case F_ANYOBJ:
        o = json_pack("{s:s, s:b}", "type", "object",
                      "x-kubernetes-preserve-unknown-fields", 1);
        break;
    case F_ANYARR:
        o = json_pack("{s:s, s:{s:b}}", "type", "array", "items",
                      "x-kubernetes-preserve-unknown-fields", 1);
        break;
    case F_ANY:
        o = json_pack("{s:b}", "x-kubernetes-preserve-unknown-fields", 1);
        break;
    case F_STRMAP:
        o = json_pack("{s:s, s:{s:s}}", "type", "object",
                      "additionalProperties", "type", "string");
        break;
    case F_QUANTITY:
        o = openapi_quantity();
        break;
    case F_QMAP:
        o = json_pack("{s:s, s:o}", "type", "object", "additionalProperties",
                      openapi_quantity());
        break;
    }
    if (o && (f->flags & ARR))
        o = json_pack("{s:s, s:o}", "type", "array", "items", o);
    return o;
}

static json_t *openapi_object(const struct schema *s)
{
    json_t *o = json_pack("{s:s}", "type", "object");
    json_t *props = json_object(), *req = json_array();

    if (!o || !props || !req)
        goto fail;
    for (const struct field *f = s->fields; f->name; f++) {
        json_t *p = openapi_one(f);
        if (!p || json_object_set_new(props, f->name, p) < 0)
            goto fail;
        if ((f->flags & REQ) &&
            json_array_append_new(req, json_string(f->name)))
            goto fail;
    }
    if (json_object_size(props))
        json_object_set(o, "properties", props);
    if (json_array_size(req))
        json_object_set(o, "required", req);
    if (s->open)
        json_object_set_new(o, "x-kubernetes-preserve-unknown-fields",
                            json_true());
    json_decref(props);
    json_decref(req);
    return o;
fail:
    json_decref(o);
    json_decref(props);
    json_decref(req);
    return NULL;
}

json_t *api_kind_openapi_schema(enum api_kind kind)
{
    if (kind <= API_KIND_NONE || kind >= API_KIND_COUNT ||
        !top_schemas[kind].fields)
        return NULL;
    return openapi_object(&top_schemas[kind]);
}
