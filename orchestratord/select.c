/*
 * orchestratord: label and field selectors for lists and watches.
 */
#include "orchestratord/orchd.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The fields a fieldSelector may name, as Kubernetes and KubeVirt index
 * them. */
static const char *const field_paths[] = {
    "metadata.name", "metadata.namespace", "spec.vmiName",
    "status.phase",  "status.nodeName",
};

enum store_kind orch_store_kind(enum api_kind kind)
{
    switch (kind) {
    case API_KIND_VMIM:
        return STORE_KIND_MIGRATION;
    case API_KIND_VMI:
        return STORE_KIND_VMI;
    case API_KIND_VM:
        return STORE_KIND_VM;
    case API_KIND_POLICY:
        return STORE_KIND_MIGRATION_POLICY;
    case API_KIND_NODE:
    default:
        return STORE_KIND_NODE;
    }
}

static int parse_fields(struct orch_filter *f, const char *text, char **ret_msg)
{
    const char *p = text;

    while (*p) {
        const char *end = strchr(p, ',');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        char term[512];
        char *op, *value;
        bool negate = false;
        const char *path = NULL;

        if (n == 0 || n >= sizeof(term)) {
            if (asprintf(ret_msg, "invalid field selector: '%s'", text) < 0)
                *ret_msg = NULL;
            return -EINVAL;
        }
        memcpy(term, p, n);
        term[n] = '\0';
        p += n + (end ? 1 : 0);
        if ((op = strstr(term, "!=")) != NULL) {
            negate = true;
            *op = '\0';
            value = op + 2;
        } else if ((op = strstr(term, "==")) != NULL) {
            *op = '\0';
            value = op + 2;
        } else if ((op = strchr(term, '=')) != NULL) {
            *op = '\0';
            value = op + 1;
        } else {
            if (asprintf(ret_msg, "invalid field selector: '%s'", term) < 0)
                *ret_msg = NULL;
            return -EINVAL;
        }
        for (size_t i = 0; i < sizeof(field_paths) / sizeof(*field_paths); i++)
            if (strcmp(term, field_paths[i]) == 0)
                path = field_paths[i];
        if (!path) {
            if (asprintf(ret_msg, "field label not supported: %s", term) < 0)
                *ret_msg = NULL;
            return -EINVAL;
        }
        if (f->n_fields >= sizeof(f->fields) / sizeof(*f->fields)) {
            if (asprintf(ret_msg, "too many field selector terms") < 0)
                *ret_msg = NULL;
            return -EINVAL;
        }
        f->fields[f->n_fields].path = path;
        f->fields[f->n_fields].negate = negate;
        f->fields[f->n_fields].value = strdup(value);
        if (!f->fields[f->n_fields].value)
            return -ENOMEM;
        f->n_fields++;
    }
    return 0;
}

int orch_filter_parse(struct orch_filter *f, const char *labels,
                      const char *fields, char **ret_msg)
{
    int r;

    memset(f, 0, sizeof(*f));
    *ret_msg = NULL;
    if (labels && *labels) {
        struct api_errors errs = API_ERRORS_INIT;
        r = api_selector_parse(labels, &f->labels, &errs);
        if (r < 0) {
            char *j = api_errors_join(&errs);
            if (asprintf(ret_msg, "unable to parse requirement: %s",
                         j ? j : "invalid label selector") < 0)
                *ret_msg = NULL;
            free(j);
            api_errors_clear(&errs);
            return r;
        }
        api_errors_clear(&errs);
    }
    if (fields && *fields) {
        r = parse_fields(f, fields, ret_msg);
        if (r < 0) {
            orch_filter_clear(f);
            return r;
        }
    }
    return 0;
}

bool orch_filter_match(const json_t *obj, void *arg)
{
    const struct orch_filter *f = arg;

    if (!f)
        return true;
    if (f->labels) {
        const json_t *md = json_object_get(obj, "metadata");
        if (!api_selector_match(f->labels, json_object_get(md, "labels")))
            return false;
    }
    for (size_t i = 0; i < f->n_fields; i++) {
        const char *v = api_doc_get_string(obj, f->fields[i].path);
        bool eq = strcmp(v ? v : "", f->fields[i].value) == 0;
        if (eq == f->fields[i].negate)
            return false;
    }
    return true;
}

/* The members down each field path, for orch_jscan_path(). */
static const char *const *field_members(const char *path)
{
    static const char *const members[][3] = {
        {"metadata", "name", NULL},   {"metadata", "namespace", NULL},
        {"spec", "vmiName", NULL},    {"status", "phase", NULL},
        {"status", "nodeName", NULL},
    };
    for (size_t i = 0; i < sizeof(field_paths) / sizeof(*field_paths); i++)
        if (path == field_paths[i])
            return members[i];
    return NULL;
}

/* The label selector on the labels object LABELS (a span; NULL: no
 * labels).  Returns 1, 0, or -EINVAL when the text cannot be read without
 * decoding it (the caller parses it then). */
static int labels_match_span(const struct orch_filter *f,
                             const struct orch_jspan *labels)
{
    for (size_t i = 0; i < api_selector_count(f->labels); i++) {
        struct api_selector_req req;
        struct orch_jspan v;
        bool in = false;
        int r;

        api_selector_get(f->labels, i, &req);
        r = labels ? orch_jscan_member(labels, req.key, &v) : -ENOENT;
        if (r == -EINVAL)
            return r;
        for (size_t j = 0; r == 0 && !in && j < req.n_values; j++) {
            int eq = orch_jscan_string_eq(&v, req.values[j]);
            if (eq < 0)
                return eq;
            in = eq == 1;
        }
        switch (req.op) {
        case API_SELECTOR_EXISTS:
            if (r < 0)
                return 0;
            break;
        case API_SELECTOR_NOT_EXISTS:
            if (r == 0)
                return 0;
            break;
        case API_SELECTOR_IN:
            if (!in)
                return 0;
            break;
        default:
            if (in)
                return 0;
            break;
        }
    }
    return 1;
}

/* A text with a backslash in it has escapes: jscan compares strings and
 * keys as written, so such a record is parsed instead (the API's label and
 * field values have none; jansson escapes only what JSON requires). */
static bool has_escape(const char *text, size_t len)
{
    return memchr(text, '\\', len) != NULL;
}

bool orch_filter_match_labels(const char *text, size_t len, void *arg)
{
    const struct orch_filter *f = arg;
    struct orch_jspan labels = {text, len};
    int r;

    if (!f || !f->labels)
        return true;
    r = has_escape(text, len) ? -EINVAL : labels_match_span(f, &labels);
    if (r < 0) {
        /* Escapes, or not an object: as the filter reads the record. */
        json_t *j = json_loadb(text, len, JSON_DECODE_ANY, NULL);
        bool ok = api_selector_match(f->labels, json_is_object(j) ? j : NULL);
        json_decref(j);
        return ok;
    }
    return r == 1;
}

bool orch_filter_match_text(const char *text, size_t len, void *arg)
{
    const struct orch_filter *f = arg;
    const struct orch_jspan obj = {text, len};
    static const char *const labels_path[] = {"metadata", "labels", NULL};
    struct orch_jspan v;
    json_t *j;
    bool ok;
    int r = 0;

    if (!f)
        return true;
    if (has_escape(text, len))
        goto parse;
    if (f->labels) {
        r = orch_jscan_path(&obj, labels_path, &v);
        if (r == -ENOENT)
            r = labels_match_span(f, NULL);
        else if (r == 0 && v.len && v.text[0] == '{')
            r = labels_match_span(f, &v);
        else
            goto parse; /* labels that are not an object */
        if (r < 0)
            goto parse;
        if (r == 0)
            return false;
    }
    for (size_t i = 0; i < f->n_fields; i++) {
        const char *const *members = field_members(f->fields[i].path);
        bool eq;

        if (!members)
            goto parse;
        r = orch_jscan_path(&obj, members, &v);
        if (r == -EINVAL)
            goto parse; /* e.g. status is not an object */
        if (r == -ENOENT || v.len == 0 || v.text[0] != '"') {
            eq = *f->fields[i].value == '\0'; /* absent, not a string: "" */
        } else {
            r = orch_jscan_string_eq(&v, f->fields[i].value);
            if (r < 0)
                goto parse;
            eq = r == 1;
        }
        if (eq == f->fields[i].negate)
            return false;
    }
    return true;
parse:
    j = json_loadb(text, len, JSON_ALLOW_NUL, NULL);
    ok = j && orch_filter_match(j, (void *)f);
    json_decref(j);
    return ok;
}

/* The indexed column, if any, that serves field PATH for KIND: what
 * store/ keeps in a column of that kind's table (store.h). */
static int field_for(const char *path, enum api_kind kind)
{
    if (strcmp(path, "metadata.name") == 0)
        return STORE_FIELD_NAME;
    if (strcmp(path, "metadata.namespace") == 0)
        return STORE_FIELD_NAMESPACE;
    if (strcmp(path, "status.phase") == 0 &&
        (kind == API_KIND_VMIM || kind == API_KIND_VMI))
        return STORE_FIELD_PHASE;
    if (strcmp(path, "status.nodeName") == 0 && kind == API_KIND_VMI)
        return STORE_FIELD_NODE_NAME;
    if (strcmp(path, "spec.vmiName") == 0 && kind == API_KIND_VMIM)
        return STORE_FIELD_VMI_NAME;
    return -ENOENT;
}

void orch_filter_list_opts(struct orch_filter *f, enum api_kind kind,
                           struct store_list_opts *o)
{
    static const enum store_term_op ops[] = {
        [API_SELECTOR_EXISTS] = STORE_TERM_EXISTS,
        [API_SELECTOR_NOT_EXISTS] = STORE_TERM_NOT_EXISTS,
        [API_SELECTOR_IN] = STORE_TERM_IN,
        [API_SELECTOR_NOT_IN] = STORE_TERM_NOT_IN,
    };
    const size_t cap = sizeof(f->terms) / sizeof(*f->terms);
    bool fields_left = false, labels_left = false;

    f->n_terms = 0;
    for (size_t i = 0; i < f->n_fields; i++) {
        int field = field_for(f->fields[i].path, kind);
        if (field < 0 || f->n_terms == cap) {
            fields_left = true;
            continue;
        }
        f->terms[f->n_terms++] = (struct store_term){
            .field = (enum store_field)field,
            .op = f->fields[i].negate ? STORE_TERM_NOT_IN : STORE_TERM_IN,
            .values = (const char *const *)&f->fields[i].value,
            .n_values = 1,
        };
    }
    for (size_t i = 0; i < api_selector_count(f->labels); i++) {
        struct api_selector_req req;
        api_selector_get(f->labels, i, &req);
        if (kind != API_KIND_VMIM || strcmp(req.key, STORE_VMI_NAME_LABEL) ||
            f->n_terms == cap) {
            labels_left = true;
            continue;
        }
        f->terms[f->n_terms++] = (struct store_term){
            .field = STORE_FIELD_VMI_NAME_LABEL,
            .op = ops[req.op],
            .values = req.values,
            .n_values = req.n_values,
        };
    }
    o->terms = f->terms;
    o->n_terms = f->n_terms;
    /* What the store cannot check from its columns is checked on the
     * record's text; the labels column is enough for a label selector.
     * (The whole filter is applied then: the terms already checked hold.) */
    o->match = NULL;
    o->match_text = fields_left ? orch_filter_match_text : NULL;
    o->match_labels =
        !fields_left && labels_left ? orch_filter_match_labels : NULL;
    o->match_arg = fields_left || labels_left ? f : NULL;
}

void orch_filter_clear(struct orch_filter *f)
{
    if (!f)
        return;
    api_selector_free(f->labels);
    for (size_t i = 0; i < f->n_fields; i++)
        free(f->fields[i].value);
    memset(f, 0, sizeof(*f));
}

int orch_vmim_phase(const json_t *obj)
{
    const char *ph = api_doc_get_string(obj, "status.phase");
    return api_vmim_phase_parse(ph ? ph : "");
}

const char *const *orch_kind_verbs(enum api_kind kind)
{
    static const char *const read_only[] = {"get", "list", "watch", NULL};
    /* Whatever takes an update takes a patch too (kubectl apply, label,
     * annotate, edit), and kubectl finds a kind in OpenAPI by its PATCH
     * operation.  KubeVirt's VMIMs take updates of their metadata; the
     * handlers refuse a change of the spec. */
    static const char *const all[] = {"create", "delete", "get",   "list",
                                      "patch",  "update", "watch", NULL};
    /* Nodes: the admin cordons (spec.unschedulable); hosts report the
     * rest through their node reports. */
    static const char *const node[] = {"get",    "list",  "patch",
                                       "update", "watch", NULL};
    switch (kind) {
    case API_KIND_NODE:
        return node;
    case API_KIND_VMIM:
    case API_KIND_VM:
    case API_KIND_POLICY:
        return all;
    default:
        return read_only;
    }
}
