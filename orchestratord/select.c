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
    static const char *const vmim[] = {"create", "delete", "get",
                                       "list",   "watch",  NULL};
    static const char *const all[] = {"create", "delete", "get", "list",
                                      "update", "watch",  NULL};
    /* Nodes: the admin cordons (spec.unschedulable); hosts report the
     * rest through their node reports. */
    static const char *const node[] = {"get",    "list",  "patch",
                                       "update", "watch", NULL};
    switch (kind) {
    case API_KIND_VMIM:
        return vmim;
    case API_KIND_NODE:
        return node;
    case API_KIND_VM:
    case API_KIND_POLICY:
        return all;
    default:
        return read_only;
    }
}
