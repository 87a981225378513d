/*
 * Typed views of documents: api_X_from_json copies the fields a daemon
 * uses into C structs, api_X_to_json writes them back over a copy of the
 * original document so that nothing the struct does not model is lost.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/internal.h"

/* ---------------- enum names ---------------- */

/* The names of the enums, indexed by value and NULL-terminated; validation
 * takes its lists of allowed values from here too (internal.h), so that
 * every value it accepts can be read into a struct. */
const char *const api_vmim_phase_names[API_VMIM_PHASE_COUNT + 1] = {
    "",          "Pending",         "Scheduling",
    "Scheduled", "PreparingTarget", "TargetReady",
    "Running",   "Succeeded",       "Failed",
    NULL,
};

const char *api_vmim_phase_name(enum api_vmim_phase phase)
{
    if ((int)phase < 0 || phase >= API_VMIM_PHASE_COUNT)
        return NULL;
    return api_vmim_phase_names[phase];
}

static int name_index(const char *const *names, const char *name)
{
    if (!name)
        return -EINVAL;
    for (int i = 0; names[i]; i++)
        if (!strcmp(names[i], name))
            return i;
    return -EINVAL;
}

int api_vmim_phase_parse(const char *name)
{
    return name_index(api_vmim_phase_names, name);
}

bool api_vmim_phase_is_final(enum api_vmim_phase phase)
{
    return phase == API_VMIM_PHASE_SUCCEEDED || phase == API_VMIM_PHASE_FAILED;
}

const char *const api_abort_status_names[API_ABORT_FAILED + 2] = {
    "", "Aborting", "Succeeded", "Failed", NULL};

const char *api_abort_status_name(enum api_abort_status s)
{
    return (int)s >= 0 && s <= API_ABORT_FAILED ? api_abort_status_names[s]
                                                : NULL;
}

int api_abort_status_parse(const char *name)
{
    return name_index(api_abort_status_names, name);
}

const char *const api_migration_mode_names[API_MODE_PAUSED + 2] = {
    "", "PreCopy", "PostCopy", "Paused", NULL};

const char *api_migration_mode_name(enum api_migration_mode m)
{
    return (int)m >= 0 && m <= API_MODE_PAUSED ? api_migration_mode_names[m]
                                               : NULL;
}

int api_migration_mode_parse(const char *name)
{
    return name_index(api_migration_mode_names, name);
}

static const char *const binding_names[] = {"",      "masquerade", "bridge",
                                            "sriov", "slirp",      "passt"};

const char *api_iface_binding_name(enum api_iface_binding b)
{
    return (int)b >= 0 && b <= API_BINDING_PASST ? binding_names[b] : NULL;
}

/* ---------------- reading ---------------- */

struct rd {
    struct api_errors *errs;
    const char *prefix; /* path of the object being read, for messages */
    int err;
};

static const json_t *rget(const json_t *obj, const char *path)
{
    const json_t *v = obj;
    const char *p = path;

    while (v && *p) {
        const char *dot = strchr(p, '.');
        size_t n = dot ? (size_t)(dot - p) : strlen(p);
        if (!json_is_object(v))
            return NULL;
        v = json_object_getn(v, p, n);
        p += n + (dot ? 1 : 0);
    }
    return json_is_null(v) ? NULL : v;
}

static void rtype(struct rd *r, const char *path, const json_t *v,
                  const char *type)
{
    char full[512];

    snprintf(full, sizeof(full), "%s%s%s", r->prefix, *r->prefix ? "." : "",
             path);
    api_errors_add_type(r->errs, full, v, type);
    if (!r->err)
        r->err = -EINVAL;
}

static char *rstr(struct rd *r, const json_t *obj, const char *path)
{
    const json_t *v = rget(obj, path);
    char *s;

    if (!v)
        return NULL;
    if (!json_is_string(v)) {
        rtype(r, path, v, "string");
        return NULL;
    }
    s = strdup(json_string_value(v));
    if (!s)
        r->err = -ENOMEM;
    return s;
}

static int64_t rd_int(struct rd *r, const json_t *obj, const char *path,
                      bool *has)
{
    const json_t *v = rget(obj, path);

    if (has)
        *has = false;
    if (!v)
        return 0;
    if (!json_is_integer(v)) {
        rtype(r, path, v, "integer");
        return 0;
    }
    if (has)
        *has = true;
    return json_integer_value(v);
}

static enum api_bool rbool3(struct rd *r, const json_t *obj, const char *path)
{
    const json_t *v = rget(obj, path);

    if (!v)
        return API_BOOL_UNSET;
    if (!json_is_boolean(v)) {
        rtype(r, path, v, "boolean");
        return API_BOOL_UNSET;
    }
    return json_is_true(v) ? API_BOOL_TRUE : API_BOOL_FALSE;
}

static bool rbool(struct rd *r, const json_t *obj, const char *path)
{
    return rbool3(r, obj, path) == API_BOOL_TRUE;
}

/* A deep copy of an object member, NULL when absent. */
static json_t *robj(struct rd *r, const json_t *obj, const char *path)
{
    const json_t *v = rget(obj, path);
    json_t *c;

    if (!v)
        return NULL;
    if (!json_is_object(v) && !json_is_array(v)) {
        rtype(r, path, v, "object");
        return NULL;
    }
    c = json_deep_copy(v);
    if (!c)
        r->err = -ENOMEM;
    return c;
}

static const json_t *rarr(struct rd *r, const json_t *obj, const char *path)
{
    const json_t *v = rget(obj, path);

    if (v && !json_is_array(v)) {
        rtype(r, path, v, "array");
        return NULL;
    }
    return v;
}

static void *rcalloc(struct rd *r, size_t n, size_t size)
{
    void *p;

    if (n == 0)
        return NULL;
    p = calloc(n, size);
    if (!p)
        r->err = -ENOMEM;
    return p;
}

/* A quantity member as text, and its value. */
static char *rquantity(struct rd *r, const json_t *obj, const char *path,
                       int64_t *ret_value, bool milli)
{
    const json_t *v = rget(obj, path);
    char *s = NULL;
    int64_t q = 0;

    *ret_value = 0;
    if (!v)
        return NULL;
    if (json_is_string(v))
        s = strdup(json_string_value(v));
    else if (json_is_number(v)) {
        char *d = json_dumps(v, JSON_ENCODE_ANY);
        s = d;
    } else {
        rtype(r, path, v, "string or number");
        return NULL;
    }
    if (!s) {
        r->err = -ENOMEM;
        return NULL;
    }
    if ((milli ? api_quantity_parse_milli(s, &q) : api_quantity_parse(s, &q)) ==
        0)
        *ret_value = q;
    return s;
}

static void read_meta(struct rd *r, const json_t *doc, struct api_meta *m)
{
    m->name = rstr(r, doc, "metadata.name");
    m->generate_name = rstr(r, doc, "metadata.generateName");
    m->namespace = rstr(r, doc, "metadata.namespace");
    m->uid = rstr(r, doc, "metadata.uid");
    m->resource_version = rstr(r, doc, "metadata.resourceVersion");
    m->generation = rd_int(r, doc, "metadata.generation", &m->has_generation);
    m->creation_timestamp = rstr(r, doc, "metadata.creationTimestamp");
    m->deletion_timestamp = rstr(r, doc, "metadata.deletionTimestamp");
    m->labels = robj(r, doc, "metadata.labels");
    m->annotations = robj(r, doc, "metadata.annotations");
}

static void read_conditions(struct rd *r, const json_t *obj, const char *path,
                            struct api_conditions *c)
{
    const json_t *a = rarr(r, obj, path);
    size_t n = json_array_size(a);

    c->items = rcalloc(r, n, sizeof(*c->items));
    if (!c->items)
        return;
    c->count = n;
    for (size_t i = 0; i < n; i++) {
        const json_t *e = json_array_get(a, i);
        struct api_condition *d = &c->items[i];
        d->type = rstr(r, e, "type");
        d->status = rstr(r, e, "status");
        d->reason = rstr(r, e, "reason");
        d->message = rstr(r, e, "message");
        d->last_probe_time = rstr(r, e, "lastProbeTime");
        d->last_transition_time = rstr(r, e, "lastTransitionTime");
    }
}

static void read_config(struct rd *r, const json_t *o,
                        struct api_migration_config *c)
{
    int64_t ignored;

    c->bandwidth_per_migration =
        rquantity(r, o, "bandwidthPerMigration", &ignored, false);
    c->completion_timeout_per_gib = rd_int(r, o, "completionTimeoutPerGiB",
                                           &c->has_completion_timeout_per_gib);
    c->progress_timeout =
        rd_int(r, o, "progressTimeout", &c->has_progress_timeout);
    c->max_downtime_ms = rd_int(r, o, "maxDowntimeMs", &c->has_max_downtime_ms);
    c->parallel_migrations_per_cluster =
        rd_int(r, o, "parallelMigrationsPerCluster",
               &c->has_parallel_migrations_per_cluster);
    c->parallel_outbound_migrations_per_node =
        rd_int(r, o, "parallelOutboundMigrationsPerNode",
               &c->has_parallel_outbound_migrations_per_node);
    c->allow_auto_converge = rbool3(r, o, "allowAutoConverge");
    c->allow_post_copy = rbool3(r, o, "allowPostCopy");
    c->allow_workload_disruption = rbool3(r, o, "allowWorkloadDisruption");
    c->unsafe_migration_override = rbool3(r, o, "unsafeMigrationOverride");
    c->disable_tls = rbool3(r, o, "disableTLS");
    c->network = rstr(r, o, "network");
    c->experimental = robj(r, o, "experimental");
}

static int parse_enum(struct rd *r, const json_t *o, const char *path,
                      int (*parse)(const char *))
{
    char *s = rstr(r, o, path);
    int v = 0;

    if (s) {
        v = parse(s);
        if (v < 0) {
            api_errors_add(r->errs, API_ERR_UNSUPPORTED, path,
                           "Unsupported value: \"%s\"", s);
            r->err = -EINVAL;
            v = 0;
        }
    }
    free(s);
    return v;
}

static struct api_migration_state *read_state(struct rd *r, const json_t *o)
{
    struct api_migration_state *s;
    const json_t *cfg;

    if (!o)
        return NULL;
    if (!json_is_object(o)) {
        rtype(r, "migrationState", o, "object");
        return NULL;
    }
    s = rcalloc(r, 1, sizeof(*s));
    if (!s)
        return NULL;
    s->start_timestamp = rstr(r, o, "startTimestamp");
    s->end_timestamp = rstr(r, o, "endTimestamp");
    s->target_node_domain_ready_timestamp =
        rstr(r, o, "targetNodeDomainReadyTimestamp");
    s->target_node_domain_detected = rbool(r, o, "targetNodeDomainDetected");
    s->target_node_address = rstr(r, o, "targetNodeAddress");
    s->target_direct_migration_node_ports =
        robj(r, o, "targetDirectMigrationNodePorts");
    s->target_node = rstr(r, o, "targetNode");
    s->source_node = rstr(r, o, "sourceNode");
    s->completed = rbool(r, o, "completed");
    s->failed = rbool(r, o, "failed");
    s->abort_requested = rbool(r, o, "abortRequested");
    s->abort_status = parse_enum(r, o, "abortStatus", api_abort_status_parse);
    s->failure_reason = rstr(r, o, "failureReason");
    s->migration_uid = rstr(r, o, "migrationUid");
    s->mode = parse_enum(r, o, "mode", api_migration_mode_parse);
    s->migration_policy_name = rstr(r, o, "migrationPolicyName");
    cfg = rget(o, "migrationConfiguration");
    if (cfg) {
        s->has_migration_configuration = true;
        read_config(r, cfg, &s->migration_configuration);
    }
    return s;
}

/* ---------------- writing ---------------- */

struct wr {
    int err;
};

/* Set (v non-NULL, reference stolen) or delete (v NULL) the member at a
 * dotted path; intermediate objects are created only when setting. */
static void wset(struct wr *w, json_t *root, const char *path, json_t *v,
                 bool alloc_failed)
{
    json_t *o = root;
    const char *p = path;

    if (alloc_failed) {
        w->err = -ENOMEM;
        return;
    }
    for (;;) {
        const char *dot = strchr(p, '.');
        size_t n = dot ? (size_t)(dot - p) : strlen(p);
        if (!dot) {
            if (!v) {
                char key[128];
                snprintf(key, sizeof(key), "%.*s", (int)n, p);
                json_object_del(o, key);
            } else if (json_object_setn_new(o, p, n, v) < 0)
                w->err = -ENOMEM;
            return;
        }
        json_t *next = json_object_getn(o, p, n);
        if (!next || !json_is_object(next)) {
            if (!v)
                return;
            next = json_object();
            if (!next || json_object_setn_new(o, p, n, next) < 0) {
                json_decref(v);
                w->err = -ENOMEM;
                return;
            }
        }
        o = next;
        p = dot + 1;
    }
}

static void wstr(struct wr *w, json_t *root, const char *path, const char *s)
{
    json_t *v = s ? json_string(s) : NULL;

    wset(w, root, path, v, s && !v);
}

static void wint(struct wr *w, json_t *root, const char *path, bool has,
                 int64_t n)
{
    json_t *v = has ? json_integer(n) : NULL;

    wset(w, root, path, v, has && !v);
}

static void wbool3(struct wr *w, json_t *root, const char *path,
                   enum api_bool b)
{
    wset(w, root, path,
         b == API_BOOL_UNSET ? NULL : json_boolean(b == API_BOOL_TRUE), false);
}

/* A flag KubeVirt omits when false. */
static void wflag(struct wr *w, json_t *root, const char *path, bool b)
{
    wset(w, root, path, b ? json_true() : NULL, false);
}

static void wjson(struct wr *w, json_t *root, const char *path, const json_t *o)
{
    json_t *v = o ? json_deep_copy(o) : NULL;

    wset(w, root, path, v, o && !v);
}

/* The array at `path` rebuilt with n elements, each starting from a copy
 * of the old element at the same index so unmodelled members survive.
 * Returns the new array (owned by the caller) or NULL on ENOMEM. */
static json_t *warray_base(struct wr *w, json_t *root, const char *path,
                           size_t n)
{
    const json_t *old = rget(root, path);
    json_t *a = json_array();

    if (!a) {
        w->err = -ENOMEM;
        return NULL;
    }
    for (size_t i = 0; i < n; i++) {
        const json_t *e = json_is_array(old) ? json_array_get(old, i) : NULL;
        json_t *c = json_is_object(e) ? json_deep_copy(e) : json_object();
        if (!c || json_array_append_new(a, c) < 0) {
            json_decref(a);
            w->err = -ENOMEM;
            return NULL;
        }
    }
    return a;
}

static json_t *doc_base(struct wr *w, const json_t *doc, enum api_kind kind)
{
    const struct api_kind_info *ki = api_kind_info(kind);
    json_t *d = doc ? json_deep_copy(doc) : json_object();

    if (!d) {
        w->err = -ENOMEM;
        return NULL;
    }
    wstr(w, d, "apiVersion", ki->api_version);
    wstr(w, d, "kind", ki->kind_name);
    return d;
}

static void write_meta(struct wr *w, json_t *d, const struct api_meta *m)
{
    wstr(w, d, "metadata.name", m->name);
    wstr(w, d, "metadata.generateName", m->generate_name);
    wstr(w, d, "metadata.namespace", m->namespace);
    wstr(w, d, "metadata.uid", m->uid);
    wstr(w, d, "metadata.resourceVersion", m->resource_version);
    wint(w, d, "metadata.generation", m->has_generation, m->generation);
    wstr(w, d, "metadata.creationTimestamp", m->creation_timestamp);
    wstr(w, d, "metadata.deletionTimestamp", m->deletion_timestamp);
    wjson(w, d, "metadata.labels", m->labels);
    wjson(w, d, "metadata.annotations", m->annotations);
    if (!json_object_get(d, "metadata"))
        wset(w, d, "metadata", json_object(), false);
}

static void write_conditions(struct wr *w, json_t *d, const char *path,
                             const struct api_conditions *c)
{
    json_t *a;

    if (!c->count) {
        wset(w, d, path, NULL, false);
        return;
    }
    a = warray_base(w, d, path, c->count);
    if (!a)
        return;
    for (size_t i = 0; i < c->count; i++) {
        json_t *e = json_array_get(a, i);
        const struct api_condition *s = &c->items[i];
        wstr(w, e, "type", s->type);
        wstr(w, e, "status", s->status);
        wstr(w, e, "reason", s->reason);
        wstr(w, e, "message", s->message);
        wstr(w, e, "lastProbeTime", s->last_probe_time);
        wstr(w, e, "lastTransitionTime", s->last_transition_time);
    }
    wset(w, d, path, a, false);
}

static void write_config(struct wr *w, json_t *o,
                         const struct api_migration_config *c)
{
    wstr(w, o, "bandwidthPerMigration", c->bandwidth_per_migration);
    wint(w, o, "completionTimeoutPerGiB", c->has_completion_timeout_per_gib,
         c->completion_timeout_per_gib);
    wint(w, o, "progressTimeout", c->has_progress_timeout, c->progress_timeout);
    wint(w, o, "maxDowntimeMs", c->has_max_downtime_ms, c->max_downtime_ms);
    wint(w, o, "parallelMigrationsPerCluster",
         c->has_parallel_migrations_per_cluster,
         c->parallel_migrations_per_cluster);
    wint(w, o, "parallelOutboundMigrationsPerNode",
         c->has_parallel_outbound_migrations_per_node,
         c->parallel_outbound_migrations_per_node);
    wbool3(w, o, "allowAutoConverge", c->allow_auto_converge);
    wbool3(w, o, "allowPostCopy", c->allow_post_copy);
    wbool3(w, o, "allowWorkloadDisruption", c->allow_workload_disruption);
    wbool3(w, o, "unsafeMigrationOverride", c->unsafe_migration_override);
    wbool3(w, o, "disableTLS", c->disable_tls);
    wstr(w, o, "network", c->network);
    wjson(w, o, "experimental", c->experimental);
}

static void write_state(struct wr *w, json_t *d, const char *path,
                        const struct api_migration_state *s)
{
    json_t *o;

    if (!s) {
        wset(w, d, path, NULL, false);
        return;
    }
    o = json_is_object(rget(d, path)) ? json_deep_copy(rget(d, path))
                                      : json_object();
    if (!o) {
        w->err = -ENOMEM;
        return;
    }
    wstr(w, o, "startTimestamp", s->start_timestamp);
    wstr(w, o, "endTimestamp", s->end_timestamp);
    wstr(w, o, "targetNodeDomainReadyTimestamp",
         s->target_node_domain_ready_timestamp);
    wflag(w, o, "targetNodeDomainDetected", s->target_node_domain_detected);
    wstr(w, o, "targetNodeAddress", s->target_node_address);
    wjson(w, o, "targetDirectMigrationNodePorts",
          s->target_direct_migration_node_ports);
    wstr(w, o, "targetNode", s->target_node);
    wstr(w, o, "sourceNode", s->source_node);
    wflag(w, o, "completed", s->completed);
    wflag(w, o, "failed", s->failed);
    wflag(w, o, "abortRequested", s->abort_requested);
    wstr(w, o, "abortStatus",
         s->abort_status ? api_abort_status_name(s->abort_status) : NULL);
    wstr(w, o, "failureReason", s->failure_reason);
    wstr(w, o, "migrationUid", s->migration_uid);
    wstr(w, o, "mode", s->mode ? api_migration_mode_name(s->mode) : NULL);
    wstr(w, o, "migrationPolicyName", s->migration_policy_name);
    if (s->has_migration_configuration) {
        json_t *c = json_is_object(rget(o, "migrationConfiguration"))
                        ? json_deep_copy(rget(o, "migrationConfiguration"))
                        : json_object();
        if (!c)
            w->err = -ENOMEM;
        else {
            write_config(w, c, &s->migration_configuration);
            wset(w, o, "migrationConfiguration", c, false);
        }
    } else
        wset(w, o, "migrationConfiguration", NULL, false);
    wset(w, d, path, o, false);
}

/* ---------------- shared clear functions ---------------- */

void api_meta_clear(struct api_meta *m)
{
    if (!m)
        return;
    free(m->name);
    free(m->generate_name);
    free(m->namespace);
    free(m->uid);
    free(m->resource_version);
    free(m->creation_timestamp);
    free(m->deletion_timestamp);
    json_decref(m->labels);
    json_decref(m->annotations);
    memset(m, 0, sizeof(*m));
}

static void condition_clear(struct api_condition *c)
{
    free(c->type);
    free(c->status);
    free(c->reason);
    free(c->message);
    free(c->last_probe_time);
    free(c->last_transition_time);
}

void api_conditions_clear(struct api_conditions *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->count; i++)
        condition_clear(&c->items[i]);
    free(c->items);
    memset(c, 0, sizeof(*c));
}

struct api_condition *api_conditions_find(const struct api_conditions *c,
                                          const char *type)
{
    for (size_t i = 0; c && type && i < c->count; i++)
        if (c->items[i].type && !strcmp(c->items[i].type, type))
            return &c->items[i];
    return NULL;
}

static int replace_str(char **dst, const char *src)
{
    char *s = NULL;

    if (src && !(s = strdup(src)))
        return -ENOMEM;
    free(*dst);
    *dst = s;
    return 0;
}

int api_conditions_set(struct api_conditions *c, const char *type,
                       const char *status, const char *reason,
                       const char *message, const char *now)
{
    struct api_condition *e = api_conditions_find(c, type);
    bool changed;

    if (!e) {
        struct api_condition *p =
            realloc(c->items, (c->count + 1) * sizeof(*p));
        if (!p)
            return -ENOMEM;
        c->items = p;
        e = &c->items[c->count];
        memset(e, 0, sizeof(*e));
        if (replace_str(&e->type, type) < 0)
            return -ENOMEM;
        c->count++;
    }
    changed = !e->status || !status || strcmp(e->status, status);
    if (replace_str(&e->status, status) < 0 ||
        replace_str(&e->reason, reason) < 0 ||
        replace_str(&e->message, message) < 0)
        return -ENOMEM;
    if (changed && replace_str(&e->last_transition_time, now) < 0)
        return -ENOMEM;
    return 0;
}

void api_migration_config_clear(struct api_migration_config *c)
{
    if (!c)
        return;
    free(c->bandwidth_per_migration);
    free(c->network);
    json_decref(c->experimental);
    memset(c, 0, sizeof(*c));
}

void api_migration_state_clear(struct api_migration_state *s)
{
    if (!s)
        return;
    free(s->start_timestamp);
    free(s->end_timestamp);
    free(s->target_node_domain_ready_timestamp);
    free(s->target_node_address);
    json_decref(s->target_direct_migration_node_ports);
    free(s->target_node);
    free(s->source_node);
    free(s->failure_reason);
    free(s->migration_uid);
    free(s->migration_policy_name);
    api_migration_config_clear(&s->migration_configuration);
    memset(s, 0, sizeof(*s));
}

static json_t *take_doc(const json_t *doc)
{
    return json_incref((json_t *)doc);
}

/* ---------------- VirtualMachineInstanceMigration ---------------- */

void api_vmim_clear(struct api_vmim *m)
{
    if (!m)
        return;
    json_decref(m->doc);
    api_meta_clear(&m->meta);
    free(m->vmi_name);
    json_decref(m->added_node_selector);
    for (size_t i = 0; i < m->transition_count; i++)
        free(m->transitions[i].timestamp);
    free(m->transitions);
    api_migration_state_clear(m->migration_state);
    free(m->migration_state);
    api_conditions_clear(&m->conditions);
    if (m->progress)
        free(m->progress->update_timestamp);
    free(m->progress);
    memset(m, 0, sizeof(*m));
}

int api_vmim_from_json(const json_t *doc, struct api_vmim *ret,
                       struct api_errors *errs)
{
    struct rd r = {.errs = errs, .prefix = ""};
    struct api_vmim m = {0};
    const json_t *a, *p;

    if (!json_is_object(doc))
        return -EINVAL;
    read_meta(&r, doc, &m.meta);
    m.vmi_name = rstr(&r, doc, "spec.vmiName");
    m.added_node_selector = robj(&r, doc, "spec.addedNodeSelector");
    m.phase = parse_enum(&r, doc, "status.phase", api_vmim_phase_parse);
    a = rarr(&r, doc, "status.phaseTransitionTimestamps");
    m.transitions = rcalloc(&r, json_array_size(a), sizeof(*m.transitions));
    if (m.transitions) {
        m.transition_count = json_array_size(a);
        for (size_t i = 0; i < m.transition_count; i++) {
            const json_t *e = json_array_get(a, i);
            m.transitions[i].phase =
                parse_enum(&r, e, "phase", api_vmim_phase_parse);
            m.transitions[i].timestamp =
                rstr(&r, e, "phaseTransitionTimestamp");
        }
    }
    m.migration_state = read_state(&r, rget(doc, "status.migrationState"));
    read_conditions(&r, doc, "status.conditions", &m.conditions);
    p = rget(doc, "status.progress");
    if (p && (m.progress = rcalloc(&r, 1, sizeof(*m.progress)))) {
        struct api_migration_progress *g = m.progress;
        g->data_total_bytes = rd_int(&r, p, "dataTotalBytes", NULL);
        g->data_processed_bytes = rd_int(&r, p, "dataProcessedBytes", NULL);
        g->data_remaining_bytes = rd_int(&r, p, "dataRemainingBytes", NULL);
        g->dirty_memory_rate_bytes =
            rd_int(&r, p, "dirtyMemoryRateBytes", NULL);
        g->memory_transfer_rate_bytes =
            rd_int(&r, p, "memoryTransferRateBytes", NULL);
        g->iteration = rd_int(&r, p, "iteration", NULL);
        g->elapsed_ms = rd_int(&r, p, "elapsedMs", NULL);
        g->update_timestamp = rstr(&r, p, "updateTimestamp");
    }
    if (r.err) {
        api_vmim_clear(&m);
        return r.err;
    }
    m.doc = take_doc(doc);
    *ret = m;
    return 0;
}

json_t *api_vmim_to_json(const struct api_vmim *m)
{
    struct wr w = {0};
    json_t *d = doc_base(&w, m->doc, API_KIND_VMIM);
    json_t *a;

    if (!d)
        return NULL;
    write_meta(&w, d, &m->meta);
    wstr(&w, d, "spec.vmiName", m->vmi_name);
    wjson(&w, d, "spec.addedNodeSelector", m->added_node_selector);
    wstr(&w, d, "status.phase",
         m->phase ? api_vmim_phase_name(m->phase) : NULL);
    if (m->transition_count) {
        a = warray_base(&w, d, "status.phaseTransitionTimestamps",
                        m->transition_count);
        for (size_t i = 0; a && i < m->transition_count; i++) {
            json_t *e = json_array_get(a, i);
            wstr(&w, e, "phase", api_vmim_phase_name(m->transitions[i].phase));
            wstr(&w, e, "phaseTransitionTimestamp",
                 m->transitions[i].timestamp);
        }
        if (a)
            wset(&w, d, "status.phaseTransitionTimestamps", a, false);
    } else
        wset(&w, d, "status.phaseTransitionTimestamps", NULL, false);
    write_state(&w, d, "status.migrationState", m->migration_state);
    write_conditions(&w, d, "status.conditions", &m->conditions);
    if (m->progress) {
        const struct api_migration_progress *g = m->progress;
        wint(&w, d, "status.progress.dataTotalBytes", true,
             g->data_total_bytes);
        wint(&w, d, "status.progress.dataProcessedBytes", true,
             g->data_processed_bytes);
        wint(&w, d, "status.progress.dataRemainingBytes", true,
             g->data_remaining_bytes);
        wint(&w, d, "status.progress.dirtyMemoryRateBytes", true,
             g->dirty_memory_rate_bytes);
        wint(&w, d, "status.progress.memoryTransferRateBytes", true,
             g->memory_transfer_rate_bytes);
        wint(&w, d, "status.progress.iteration", true, g->iteration);
        wint(&w, d, "status.progress.elapsedMs", true, g->elapsed_ms);
        wstr(&w, d, "status.progress.updateTimestamp", g->update_timestamp);
    } else
        wset(&w, d, "status.progress", NULL, false);
    if (w.err) {
        json_decref(d);
        return NULL;
    }
    return d;
}

int api_vmim_set_phase(struct api_vmim *m, enum api_vmim_phase phase,
                       const char *now)
{
    struct api_phase_transition *p;
    char *ts = NULL;

    if (now && !(ts = strdup(now)))
        return -ENOMEM;
    p = realloc(m->transitions, (m->transition_count + 1) * sizeof(*p));
    if (!p) {
        free(ts);
        return -ENOMEM;
    }
    m->transitions = p;
    p[m->transition_count].phase = phase;
    p[m->transition_count].timestamp = ts;
    m->transition_count++;
    m->phase = phase;
    return 0;
}

/* ---------------- VMI spec (VM template spec) ---------------- */

void api_vmi_spec_clear(struct api_vmi_spec *s)
{
    if (!s)
        return;
    free(s->cpu_model);
    free(s->memory_guest);
    free(s->requests_memory);
    free(s->requests_cpu);
    free(s->limits_memory);
    free(s->limits_cpu);
    for (size_t i = 0; i < s->disk_count; i++) {
        free(s->disks[i].name);
        free(s->disks[i].bus);
    }
    free(s->disks);
    for (size_t i = 0; i < s->interface_count; i++) {
        struct api_interface *f = &s->interfaces[i];
        free(f->name);
        free(f->mac_address);
        free(f->model);
        for (size_t j = 0; j < f->port_count; j++) {
            free(f->ports[j].name);
            free(f->ports[j].protocol);
        }
        free(f->ports);
    }
    free(s->interfaces);
    if (s->kernel_boot) {
        free(s->kernel_boot->kernel_args);
        free(s->kernel_boot->image);
        free(s->kernel_boot->kernel_path);
        free(s->kernel_boot->initrd_path);
        free(s->kernel_boot);
    }
    for (size_t i = 0; i < s->network_count; i++) {
        free(s->networks[i].name);
        free(s->networks[i].network_name);
        free(s->networks[i].vm_network_cidr);
    }
    free(s->networks);
    for (size_t i = 0; i < s->volume_count; i++) {
        struct api_volume *v = &s->volumes[i];
        free(v->name);
        free(v->image);
        free(v->user_data);
        free(v->network_data);
        free(v->claim_name);
        free(v->path);
        free(v->host_disk_type);
        free(v->capacity);
    }
    free(s->volumes);
    json_decref(s->node_selector);
    free(s->eviction_strategy);
    memset(s, 0, sizeof(*s));
}

int64_t api_vmi_spec_memory_bytes(const struct api_vmi_spec *s)
{
    if (s->memory_guest_bytes > 0)
        return s->memory_guest_bytes;
    if (s->requests_memory_bytes > 0)
        return s->requests_memory_bytes;
    return s->limits_memory_bytes > 0 ? s->limits_memory_bytes : 0;
}

static void read_vmi_spec(struct rd *r, const json_t *spec,
                          struct api_vmi_spec *s)
{
    const json_t *a;
    size_t n;

    s->cpu_cores = rd_int(r, spec, "domain.cpu.cores", NULL);
    s->cpu_sockets = rd_int(r, spec, "domain.cpu.sockets", NULL);
    s->cpu_threads = rd_int(r, spec, "domain.cpu.threads", NULL);
    s->cpu_model = rstr(r, spec, "domain.cpu.model");
    s->memory_guest = rquantity(r, spec, "domain.memory.guest",
                                &s->memory_guest_bytes, false);
    s->requests_memory = rquantity(r, spec, "domain.resources.requests.memory",
                                   &s->requests_memory_bytes, false);
    s->requests_cpu = rquantity(r, spec, "domain.resources.requests.cpu",
                                &s->requests_cpu_milli, true);
    s->limits_memory = rquantity(r, spec, "domain.resources.limits.memory",
                                 &s->limits_memory_bytes, false);
    s->limits_cpu = rquantity(r, spec, "domain.resources.limits.cpu",
                              &s->limits_cpu_milli, true);

    a = rarr(r, spec, "domain.devices.disks");
    n = json_array_size(a);
    if ((s->disks = rcalloc(r, n, sizeof(*s->disks)))) {
        s->disk_count = n;
        for (size_t i = 0; i < n; i++) {
            const json_t *e = json_array_get(a, i);
            struct api_disk *d = &s->disks[i];
            const char *t = "disk";
            d->name = rstr(r, e, "name");
            if (rget(e, "cdrom"))
                d->type = API_DISK_CDROM, t = "cdrom";
            else if (rget(e, "lun"))
                d->type = API_DISK_LUN, t = "lun";
            d->bus = rstr(r, rget(e, t), "bus");
            d->boot_order = rd_int(r, e, "bootOrder", &d->has_boot_order);
        }
    }

    a = rarr(r, spec, "domain.devices.interfaces");
    n = json_array_size(a);
    if ((s->interfaces = rcalloc(r, n, sizeof(*s->interfaces)))) {
        s->interface_count = n;
        for (size_t i = 0; i < n; i++) {
            const json_t *e = json_array_get(a, i);
            struct api_interface *f = &s->interfaces[i];
            const json_t *ports;
            f->name = rstr(r, e, "name");
            for (int b = API_BINDING_MASQUERADE; b <= API_BINDING_PASST; b++)
                if (rget(e, binding_names[b]))
                    f->binding = b;
            f->mac_address = rstr(r, e, "macAddress");
            f->model = rstr(r, e, "model");
            ports = rarr(r, e, "ports");
            if ((f->ports =
                     rcalloc(r, json_array_size(ports), sizeof(*f->ports)))) {
                f->port_count = json_array_size(ports);
                for (size_t j = 0; j < f->port_count; j++) {
                    const json_t *p = json_array_get(ports, j);
                    f->ports[j].name = rstr(r, p, "name");
                    f->ports[j].port = rd_int(r, p, "port", NULL);
                    f->ports[j].protocol = rstr(r, p, "protocol");
                }
            }
        }
    }
    s->rng = rget(spec, "domain.devices.rng") != NULL;
    if (rget(spec, "domain.firmware.kernelBoot") &&
        (s->kernel_boot = rcalloc(r, 1, sizeof(*s->kernel_boot)))) {
        const json_t *k = rget(spec, "domain.firmware.kernelBoot");
        s->kernel_boot->kernel_args = rstr(r, k, "kernelArgs");
        s->kernel_boot->image = rstr(r, k, "container.image");
        s->kernel_boot->kernel_path = rstr(r, k, "container.kernelPath");
        s->kernel_boot->initrd_path = rstr(r, k, "container.initrdPath");
    }

    a = rarr(r, spec, "networks");
    n = json_array_size(a);
    if ((s->networks = rcalloc(r, n, sizeof(*s->networks)))) {
        s->network_count = n;
        for (size_t i = 0; i < n; i++) {
            const json_t *e = json_array_get(a, i);
            struct api_network *w = &s->networks[i];
            w->name = rstr(r, e, "name");
            w->type = rget(e, "multus") ? API_NETWORK_MULTUS : API_NETWORK_POD;
            w->network_name = rstr(r, e, "multus.networkName");
            w->vm_network_cidr = rstr(r, e, "pod.vmNetworkCIDR");
        }
    }

    a = rarr(r, spec, "volumes");
    n = json_array_size(a);
    if ((s->volumes = rcalloc(r, n, sizeof(*s->volumes)))) {
        s->volume_count = n;
        for (size_t i = 0; i < n; i++) {
            const json_t *e = json_array_get(a, i);
            struct api_volume *v = &s->volumes[i];
            v->name = rstr(r, e, "name");
            if (rget(e, "containerDisk")) {
                v->type = API_VOLUME_CONTAINER_DISK;
                v->image = rstr(r, e, "containerDisk.image");
            } else if (rget(e, "cloudInitNoCloud")) {
                v->type = API_VOLUME_CLOUD_INIT_NOCLOUD;
                v->user_data = rstr(r, e, "cloudInitNoCloud.userData");
                v->network_data = rstr(r, e, "cloudInitNoCloud.networkData");
            } else if (rget(e, "persistentVolumeClaim")) {
                v->type = API_VOLUME_PVC;
                v->claim_name = rstr(r, e, "persistentVolumeClaim.claimName");
                v->read_only = rbool(r, e, "persistentVolumeClaim.readOnly");
            } else if (rget(e, "hostDisk")) {
                v->type = API_VOLUME_HOST_DISK;
                v->path = rstr(r, e, "hostDisk.path");
                v->host_disk_type = rstr(r, e, "hostDisk.type");
                v->shared = rbool(r, e, "hostDisk.shared");
                v->capacity = rquantity(r, e, "hostDisk.capacity",
                                        &v->capacity_bytes, false);
            } else if (rget(e, "emptyDisk")) {
                v->type = API_VOLUME_EMPTY_DISK;
                v->capacity = rquantity(r, e, "emptyDisk.capacity",
                                        &v->capacity_bytes, false);
            } else
                v->type = API_VOLUME_OTHER;
        }
    }
    s->node_selector = robj(r, spec, "nodeSelector");
    s->eviction_strategy = rstr(r, spec, "evictionStrategy");
    s->termination_grace_period_seconds =
        rd_int(r, spec, "terminationGracePeriodSeconds",
               &s->has_termination_grace_period);
}

static void wpos(struct wr *w, json_t *o, const char *path, int64_t v)
{
    wint(w, o, path, v > 0, v);
}

static void write_vmi_spec(struct wr *w, json_t *d, const char *base,
                           const struct api_vmi_spec *s)
{
    json_t *spec = (json_t *)rget(d, base);
    json_t *a;

    if (!json_is_object(spec)) {
        wset(w, d, base, json_object(), false);
        spec = (json_t *)rget(d, base);
        if (!spec)
            return;
    }
    wpos(w, spec, "domain.cpu.cores", s->cpu_cores);
    wpos(w, spec, "domain.cpu.sockets", s->cpu_sockets);
    wpos(w, spec, "domain.cpu.threads", s->cpu_threads);
    wstr(w, spec, "domain.cpu.model", s->cpu_model);
    wstr(w, spec, "domain.memory.guest", s->memory_guest);
    wstr(w, spec, "domain.resources.requests.memory", s->requests_memory);
    wstr(w, spec, "domain.resources.requests.cpu", s->requests_cpu);
    wstr(w, spec, "domain.resources.limits.memory", s->limits_memory);
    wstr(w, spec, "domain.resources.limits.cpu", s->limits_cpu);

    if ((a = warray_base(w, spec, "domain.devices.disks", s->disk_count))) {
        static const char *const types[] = {"disk", "cdrom", "lun"};
        for (size_t i = 0; i < s->disk_count; i++) {
            json_t *e = json_array_get(a, i);
            const struct api_disk *k = &s->disks[i];
            wstr(w, e, "name", k->name);
            for (int t = 0; t < 3; t++)
                if (t != (int)k->type)
                    wset(w, e, types[t], NULL, false);
            if (!json_is_object(json_object_get(e, types[k->type])))
                wset(w, e, types[k->type], json_object(), false);
            wstr(w, json_object_get(e, types[k->type]), "bus", k->bus);
            wint(w, e, "bootOrder", k->has_boot_order, k->boot_order);
        }
        wset(w, spec, "domain.devices.disks", s->disk_count ? a : NULL, false);
        if (!s->disk_count)
            json_decref(a);
    }
    if ((a = warray_base(w, spec, "domain.devices.interfaces",
                         s->interface_count))) {
        for (size_t i = 0; i < s->interface_count; i++) {
            json_t *e = json_array_get(a, i);
            const struct api_interface *f = &s->interfaces[i];
            json_t *ports;
            wstr(w, e, "name", f->name);
            for (int b = API_BINDING_MASQUERADE; b <= API_BINDING_PASST; b++)
                if (b != (int)f->binding)
                    wset(w, e, binding_names[b], NULL, false);
            if (f->binding &&
                !json_is_object(json_object_get(e, binding_names[f->binding])))
                wset(w, e, binding_names[f->binding], json_object(), false);
            wstr(w, e, "macAddress", f->mac_address);
            wstr(w, e, "model", f->model);
            ports = warray_base(w, e, "ports", f->port_count);
            for (size_t j = 0; ports && j < f->port_count; j++) {
                json_t *p = json_array_get(ports, j);
                wstr(w, p, "name", f->ports[j].name);
                wint(w, p, "port", true, f->ports[j].port);
                wstr(w, p, "protocol", f->ports[j].protocol);
            }
            if (ports) {
                wset(w, e, "ports", f->port_count ? ports : NULL, false);
                if (!f->port_count)
                    json_decref(ports);
            }
        }
        wset(w, spec, "domain.devices.interfaces",
             s->interface_count ? a : NULL, false);
        if (!s->interface_count)
            json_decref(a);
    }
    if (s->rng && !rget(spec, "domain.devices.rng"))
        wset(w, spec, "domain.devices.rng", json_object(), false);
    else if (!s->rng)
        wset(w, spec, "domain.devices.rng", NULL, false);
    if (s->kernel_boot) {
        const struct api_kernel_boot *k = s->kernel_boot;
        wstr(w, spec, "domain.firmware.kernelBoot.kernelArgs", k->kernel_args);
        wstr(w, spec, "domain.firmware.kernelBoot.container.image", k->image);
        wstr(w, spec, "domain.firmware.kernelBoot.container.kernelPath",
             k->kernel_path);
        wstr(w, spec, "domain.firmware.kernelBoot.container.initrdPath",
             k->initrd_path);
    } else
        wset(w, spec, "domain.firmware.kernelBoot", NULL, false);

    if ((a = warray_base(w, spec, "networks", s->network_count))) {
        for (size_t i = 0; i < s->network_count; i++) {
            json_t *e = json_array_get(a, i);
            const struct api_network *n = &s->networks[i];
            wstr(w, e, "name", n->name);
            if (n->type == API_NETWORK_MULTUS) {
                wset(w, e, "pod", NULL, false);
                wstr(w, e, "multus.networkName", n->network_name);
            } else {
                wset(w, e, "multus", NULL, false);
                if (!json_is_object(json_object_get(e, "pod")))
                    wset(w, e, "pod", json_object(), false);
                wstr(w, e, "pod.vmNetworkCIDR", n->vm_network_cidr);
            }
        }
        wset(w, spec, "networks", s->network_count ? a : NULL, false);
        if (!s->network_count)
            json_decref(a);
    }
    if ((a = warray_base(w, spec, "volumes", s->volume_count))) {
        for (size_t i = 0; i < s->volume_count; i++) {
            json_t *e = json_array_get(a, i);
            const struct api_volume *v = &s->volumes[i];
            wstr(w, e, "name", v->name);
            switch (v->type) {
            case API_VOLUME_CONTAINER_DISK:
                wstr(w, e, "containerDisk.image", v->image);
                break;
            case API_VOLUME_CLOUD_INIT_NOCLOUD:
                if (!json_is_object(json_object_get(e, "cloudInitNoCloud")))
                    wset(w, e, "cloudInitNoCloud", json_object(), false);
                wstr(w, e, "cloudInitNoCloud.userData", v->user_data);
                wstr(w, e, "cloudInitNoCloud.networkData", v->network_data);
                break;
            case API_VOLUME_PVC:
                wstr(w, e, "persistentVolumeClaim.claimName", v->claim_name);
                wset(w, e, "persistentVolumeClaim.readOnly",
                     v->read_only ? json_true() : NULL, false);
                break;
            case API_VOLUME_HOST_DISK:
                wstr(w, e, "hostDisk.path", v->path);
                wstr(w, e, "hostDisk.type", v->host_disk_type);
                wstr(w, e, "hostDisk.capacity", v->capacity);
                wset(w, e, "hostDisk.shared", v->shared ? json_true() : NULL,
                     false);
                break;
            case API_VOLUME_EMPTY_DISK:
                wstr(w, e, "emptyDisk.capacity", v->capacity);
                break;
            case API_VOLUME_OTHER:
                break;
            }
        }
        wset(w, spec, "volumes", s->volume_count ? a : NULL, false);
        if (!s->volume_count)
            json_decref(a);
    }
    wjson(w, spec, "nodeSelector", s->node_selector);
    wstr(w, spec, "evictionStrategy", s->eviction_strategy);
    wint(w, spec, "terminationGracePeriodSeconds",
         s->has_termination_grace_period, s->termination_grace_period_seconds);
}

/* ---------------- VirtualMachine ---------------- */

void api_vm_clear(struct api_vm *vm)
{
    if (!vm)
        return;
    json_decref(vm->doc);
    api_meta_clear(&vm->meta);
    free(vm->run_strategy);
    json_decref(vm->template_labels);
    json_decref(vm->template_annotations);
    api_vmi_spec_clear(&vm->spec);
    free(vm->printable_status);
    memset(vm, 0, sizeof(*vm));
}

int api_vm_from_json(const json_t *doc, struct api_vm *ret,
                     struct api_errors *errs)
{
    struct rd r = {.errs = errs, .prefix = ""};
    struct api_vm vm = {0};
    const json_t *spec;

    if (!json_is_object(doc))
        return -EINVAL;
    read_meta(&r, doc, &vm.meta);
    vm.running = rbool3(&r, doc, "spec.running");
    vm.run_strategy = rstr(&r, doc, "spec.runStrategy");
    vm.template_labels = robj(&r, doc, "spec.template.metadata.labels");
    vm.template_annotations =
        robj(&r, doc, "spec.template.metadata.annotations");
    spec = rget(doc, "spec.template.spec");
    if (spec) {
        r.prefix = "spec.template.spec";
        read_vmi_spec(&r, spec, &vm.spec);
        r.prefix = "";
    }
    vm.printable_status = rstr(&r, doc, "status.printableStatus");
    vm.ready = rbool(&r, doc, "status.ready");
    vm.created = rbool(&r, doc, "status.created");
    if (r.err) {
        api_vm_clear(&vm);
        return r.err;
    }
    vm.doc = take_doc(doc);
    *ret = vm;
    return 0;
}

json_t *api_vm_to_json(const struct api_vm *vm)
{
    struct wr w = {0};
    json_t *d = doc_base(&w, vm->doc, API_KIND_VM);

    if (!d)
        return NULL;
    write_meta(&w, d, &vm->meta);
    wbool3(&w, d, "spec.running", vm->running);
    wstr(&w, d, "spec.runStrategy", vm->run_strategy);
    wjson(&w, d, "spec.template.metadata.labels", vm->template_labels);
    wjson(&w, d, "spec.template.metadata.annotations",
          vm->template_annotations);
    write_vmi_spec(&w, d, "spec.template.spec", &vm->spec);
    wstr(&w, d, "status.printableStatus", vm->printable_status);
    wflag(&w, d, "status.ready", vm->ready);
    wflag(&w, d, "status.created", vm->created);
    if (w.err) {
        json_decref(d);
        return NULL;
    }
    return d;
}

/* ---------------- VirtualMachineInstance ---------------- */

void api_vmi_clear(struct api_vmi *vmi)
{
    if (!vmi)
        return;
    json_decref(vmi->doc);
    api_meta_clear(&vmi->meta);
    api_vmi_spec_clear(&vmi->spec);
    free(vmi->phase);
    free(vmi->node_name);
    for (size_t i = 0; i < vmi->interface_count; i++) {
        struct api_vmi_interface_status *f = &vmi->interfaces[i];
        free(f->name);
        free(f->mac);
        free(f->ip_address);
        json_decref(f->ip_addresses);
        free(f->interface_name);
    }
    free(vmi->interfaces);
    api_migration_state_clear(vmi->migration_state);
    free(vmi->migration_state);
    free(vmi->migration_method);
    api_conditions_clear(&vmi->conditions);
    memset(vmi, 0, sizeof(*vmi));
}

int api_vmi_from_json(const json_t *doc, struct api_vmi *ret,
                      struct api_errors *errs)
{
    struct rd r = {.errs = errs, .prefix = ""};
    struct api_vmi vmi = {0};
    const json_t *spec, *a;

    if (!json_is_object(doc))
        return -EINVAL;
    read_meta(&r, doc, &vmi.meta);
    spec = rget(doc, "spec");
    if (spec) {
        r.prefix = "spec";
        read_vmi_spec(&r, spec, &vmi.spec);
        r.prefix = "";
    }
    vmi.phase = rstr(&r, doc, "status.phase");
    vmi.node_name = rstr(&r, doc, "status.nodeName");
    a = rarr(&r, doc, "status.interfaces");
    if ((vmi.interfaces =
             rcalloc(&r, json_array_size(a), sizeof(*vmi.interfaces)))) {
        vmi.interface_count = json_array_size(a);
        for (size_t i = 0; i < vmi.interface_count; i++) {
            const json_t *e = json_array_get(a, i);
            struct api_vmi_interface_status *f = &vmi.interfaces[i];
            f->name = rstr(&r, e, "name");
            f->mac = rstr(&r, e, "mac");
            f->ip_address = rstr(&r, e, "ipAddress");
            f->ip_addresses = robj(&r, e, "ipAddresses");
            f->interface_name = rstr(&r, e, "interfaceName");
        }
    }
    vmi.migration_state = read_state(&r, rget(doc, "status.migrationState"));
    vmi.migration_method = rstr(&r, doc, "status.migrationMethod");
    read_conditions(&r, doc, "status.conditions", &vmi.conditions);
    if (r.err) {
        api_vmi_clear(&vmi);
        return r.err;
    }
    vmi.doc = take_doc(doc);
    *ret = vmi;
    return 0;
}

json_t *api_vmi_to_json(const struct api_vmi *vmi)
{
    struct wr w = {0};
    json_t *d = doc_base(&w, vmi->doc, API_KIND_VMI);
    json_t *a;

    if (!d)
        return NULL;
    write_meta(&w, d, &vmi->meta);
    write_vmi_spec(&w, d, "spec", &vmi->spec);
    wstr(&w, d, "status.phase", vmi->phase);
    wstr(&w, d, "status.nodeName", vmi->node_name);
    if (vmi->interface_count &&
        (a = warray_base(&w, d, "status.interfaces", vmi->interface_count))) {
        for (size_t i = 0; i < vmi->interface_count; i++) {
            json_t *e = json_array_get(a, i);
            const struct api_vmi_interface_status *f = &vmi->interfaces[i];
            wstr(&w, e, "name", f->name);
            wstr(&w, e, "mac", f->mac);
            wstr(&w, e, "ipAddress", f->ip_address);
            wjson(&w, e, "ipAddresses", f->ip_addresses);
            wstr(&w, e, "interfaceName", f->interface_name);
        }
        wset(&w, d, "status.interfaces", a, false);
    } else if (!vmi->interface_count)
        wset(&w, d, "status.interfaces", NULL, false);
    write_state(&w, d, "status.migrationState", vmi->migration_state);
    wstr(&w, d, "status.migrationMethod", vmi->migration_method);
    write_conditions(&w, d, "status.conditions", &vmi->conditions);
    if (w.err) {
        json_decref(d);
        return NULL;
    }
    return d;
}

/* ---------------- MigrationPolicy ---------------- */

void api_policy_clear(struct api_policy *p)
{
    if (!p)
        return;
    json_decref(p->doc);
    api_meta_clear(&p->meta);
    json_decref(p->namespace_selector);
    json_decref(p->vmi_selector);
    api_migration_config_clear(&p->config);
    memset(p, 0, sizeof(*p));
}

int api_policy_from_json(const json_t *doc, struct api_policy *ret,
                         struct api_errors *errs)
{
    struct rd r = {.errs = errs, .prefix = ""};
    struct api_policy p = {0};
    const json_t *spec;

    if (!json_is_object(doc))
        return -EINVAL;
    read_meta(&r, doc, &p.meta);
    p.namespace_selector = robj(&r, doc, "spec.selectors.namespaceSelector");
    p.vmi_selector =
        robj(&r, doc, "spec.selectors.virtualMachineInstanceSelector");
    spec = rget(doc, "spec");
    if (spec) {
        r.prefix = "spec";
        read_config(&r, spec, &p.config);
    }
    if (r.err) {
        api_policy_clear(&p);
        return r.err;
    }
    p.doc = take_doc(doc);
    *ret = p;
    return 0;
}

json_t *api_policy_to_json(const struct api_policy *p)
{
    struct wr w = {0};
    json_t *d = doc_base(&w, p->doc, API_KIND_POLICY);
    json_t *spec;

    if (!d)
        return NULL;
    write_meta(&w, d, &p->meta);
    wjson(&w, d, "spec.selectors.namespaceSelector", p->namespace_selector);
    wjson(&w, d, "spec.selectors.virtualMachineInstanceSelector",
          p->vmi_selector);
    if (!rget(d, "spec.selectors"))
        wset(&w, d, "spec.selectors", json_object(), false);
    spec = (json_t *)rget(d, "spec");
    if (spec) {
        write_config(&w, spec, &p->config);
        /* Fields a policy cannot override never appear in its spec. */
        json_object_del(spec, "progressTimeout");
        json_object_del(spec, "parallelMigrationsPerCluster");
        json_object_del(spec, "parallelOutboundMigrationsPerNode");
        json_object_del(spec, "unsafeMigrationOverride");
        json_object_del(spec, "disableTLS");
        json_object_del(spec, "network");
    }
    if (w.err) {
        json_decref(d);
        return NULL;
    }
    return d;
}

/* ---------------- Node ---------------- */

void api_node_clear(struct api_node *n)
{
    if (!n)
        return;
    json_decref(n->doc);
    api_meta_clear(&n->meta);
    for (size_t i = 0; i < n->address_count; i++) {
        free(n->addresses[i].type);
        free(n->addresses[i].address);
    }
    free(n->addresses);
    json_decref(n->capacity);
    json_decref(n->allocatable);
    api_conditions_clear(&n->conditions);
    json_decref(n->node_info);
    memset(n, 0, sizeof(*n));
}

int api_node_from_json(const json_t *doc, struct api_node *ret,
                       struct api_errors *errs)
{
    struct rd r = {.errs = errs, .prefix = ""};
    struct api_node n = {0};
    const json_t *a;
    char *s;

    if (!json_is_object(doc))
        return -EINVAL;
    read_meta(&r, doc, &n.meta);
    n.unschedulable = rbool(&r, doc, "spec.unschedulable");
    a = rarr(&r, doc, "status.addresses");
    if ((n.addresses = rcalloc(&r, json_array_size(a), sizeof(*n.addresses)))) {
        n.address_count = json_array_size(a);
        for (size_t i = 0; i < n.address_count; i++) {
            n.addresses[i].type = rstr(&r, json_array_get(a, i), "type");
            n.addresses[i].address = rstr(&r, json_array_get(a, i), "address");
        }
    }
    n.capacity = robj(&r, doc, "status.capacity");
    n.allocatable = robj(&r, doc, "status.allocatable");
    s = rquantity(&r, doc, "status.capacity.cpu", &n.capacity_cpu_milli, true);
    free(s);
    s = rquantity(&r, doc, "status.capacity.memory", &n.capacity_memory_bytes,
                  false);
    free(s);
    read_conditions(&r, doc, "status.conditions", &n.conditions);
    n.node_info = robj(&r, doc, "status.nodeInfo");
    if (r.err) {
        api_node_clear(&n);
        return r.err;
    }
    n.doc = take_doc(doc);
    *ret = n;
    return 0;
}

json_t *api_node_to_json(const struct api_node *n)
{
    struct wr w = {0};
    json_t *d = doc_base(&w, n->doc, API_KIND_NODE);
    json_t *a;

    if (!d)
        return NULL;
    write_meta(&w, d, &n->meta);
    wflag(&w, d, "spec.unschedulable", n->unschedulable);
    if (n->address_count &&
        (a = warray_base(&w, d, "status.addresses", n->address_count))) {
        for (size_t i = 0; i < n->address_count; i++) {
            wstr(&w, json_array_get(a, i), "type", n->addresses[i].type);
            wstr(&w, json_array_get(a, i), "address", n->addresses[i].address);
        }
        wset(&w, d, "status.addresses", a, false);
    } else if (!n->address_count)
        wset(&w, d, "status.addresses", NULL, false);
    wjson(&w, d, "status.capacity", n->capacity);
    wjson(&w, d, "status.allocatable", n->allocatable);
    write_conditions(&w, d, "status.conditions", &n->conditions);
    wjson(&w, d, "status.nodeInfo", n->node_info);
    if (w.err) {
        json_decref(d);
        return NULL;
    }
    return d;
}
