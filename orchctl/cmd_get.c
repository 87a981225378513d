/*
 * orchctl get: list objects or show one, as a table, JSON, YAML or names,
 * and with -w stream the changes that follow.
 */
#include "orchctl/orchctl.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct get {
    struct orchctl_ctx *ctx;
    const struct orchctl_kind *kind;
    struct orchctl_table *table;
    const char *name; /* a single object's watch: only its events */
    struct orchctl_jsonpath *jsonpath; /* -o jsonpath= */
    bool header_done;
    bool failed;
};

static bool get_tabular(const struct orchctl_ctx *ctx)
{
    return ctx->opts->output == ORCHCTL_OUTPUT_TABLE ||
           ctx->opts->output == ORCHCTL_OUTPUT_WIDE;
}

/* The VMIs per node for Node's VMIS column: {"node1": 3, ...}, counted
 * from one list of the VMIs of every namespace, or of only those on `node`
 * (a fieldSelector the server filters by) when one node is shown.  Rows a
 * watch prints later keep these counts.  Returns a new object, or NULL
 * after printing why. */
static json_t *get_node_vmis(struct orchctl_ctx *ctx, const char *node)
{
    const struct orchctl_kind *vmi = orchctl_kind_find("vmi");
    char *base = orchctl_kind_path(vmi, NULL);
    char *esc = node ? orchctl_url_escape(node) : NULL;
    char *path = NULL;
    json_t *list = NULL, *counts = NULL, *item;
    size_t i;

    if (!base || (node && !esc) ||
        asprintf(&path, "%s%s%s", base,
                 node ? "?fieldSelector=status.nodeName%3D" : "",
                 node ? esc : "") < 0) {
        path = NULL;
        fprintf(ctx->err, "error: out of memory\n");
        goto out;
    }
    if (orchctl_ctx_call(ctx, "GET", path, NULL, false, NULL, &list) < 0)
        goto out;
    counts = json_object();
    if (!counts) {
        fprintf(ctx->err, "error: out of memory\n");
        goto out;
    }
    json_array_foreach(json_object_get(list, "items"), i, item)
    {
        const char *n = orchctl_json_str(item, "status.nodeName");

        if (!n || !*n)
            continue;
        if (json_object_set_new(
                counts, n,
                json_integer(json_integer_value(json_object_get(counts, n)) +
                             1)) < 0) {
            fprintf(ctx->err, "error: out of memory\n");
            json_decref(counts);
            counts = NULL;
            goto out;
        }
    }
out:
    json_decref(list);
    free(base);
    free(esc);
    free(path);
    return counts;
}

/* Print one object in the chosen output.  Returns 0 or a negative errno. */
static int get_print(struct get *g, const json_t *obj)
{
    struct orchctl_ctx *ctx = g->ctx;
    char res[128];

    switch (ctx->opts->output) {
    case ORCHCTL_OUTPUT_JSON:
        return orchctl_doc_print_json(ctx->out, obj);
    case ORCHCTL_OUTPUT_YAML:
        return orchctl_doc_print_yaml(ctx->out, obj);
    case ORCHCTL_OUTPUT_NAME:
        orchctl_kind_resource(g->kind, res, sizeof(res));
        orchctl_printf_escaped(ctx->out, "%s/%s\n", res,
                               orchctl_json_str(obj, "metadata.name")
                                   ? orchctl_json_str(obj, "metadata.name")
                                   : "");
        return 0;
    case ORCHCTL_OUTPUT_JSONPATH:
        return orchctl_jsonpath_print(g->jsonpath, ctx->out, obj);
    case ORCHCTL_OUTPUT_TABLE:
    case ORCHCTL_OUTPUT_WIDE:
        break;
    }
    if (orchctl_table_add(g->table, obj, time(NULL)) < 0)
        return -ENOMEM;
    return 0;
}

static void get_flush(struct get *g)
{
    if (!get_tabular(g->ctx))
        return;
    orchctl_table_flush(g->table, g->ctx->out, !g->header_done);
    g->header_done = true;
}

static void get_report_print(struct get *g, int r)
{
    if (r < 0)
        fprintf(g->ctx->err, "error: cannot print the object: %s\n",
                strerror(-r));
}

static int get_on_event(void *data, const json_t *event)
{
    struct get *g = data;
    const char *type = json_string_value(json_object_get(event, "type"));
    const json_t *obj = json_object_get(event, "object");
    int r;

    if (type && !strcmp(type, "ERROR")) {
        char *text = json_dumps(obj, JSON_COMPACT);

        orchctl_print_server_error(
            g->ctx->err, json_integer_value(json_object_get(obj, "code")),
            text ? text : "", text ? strlen(text) : 0);
        free(text);
        g->failed = true;
        return 1;
    }
    if (!json_is_object(obj))
        return 0;
    /* BOOKMARK events carry no object worth a row. */
    if (type && !strcmp(type, "BOOKMARK"))
        return 0;
    if (g->name && strcmp(g->name, orchctl_json_str(obj, "metadata.name")
                                       ? orchctl_json_str(obj, "metadata.name")
                                       : ""))
        return 0;
    if (g->ctx->opts->output == ORCHCTL_OUTPUT_YAML)
        fprintf(g->ctx->out, "---\n");
    r = get_print(g, obj);
    if (r < 0) {
        get_report_print(g, r);
        g->failed = true;
        return r;
    }
    get_flush(g);
    fflush(g->ctx->out);
    return 0;
}

/* Stream the changes after resource version rv. */
static int get_watch(struct get *g, const char *ns, const char *rv,
                     const char *selector)
{
    struct orchctl_ctx *ctx = g->ctx;
    struct orchctl_reply reply = {0};
    char *base = orchctl_kind_path(g->kind, ns);
    char *path = NULL, *esc_rv = NULL, *esc_sel = NULL, *esc_name = NULL;
    int rc = ORCHCTL_EXIT_FAILED;
    int r;

    esc_rv = orchctl_url_escape(rv ? rv : "");
    esc_sel = orchctl_url_escape(selector ? selector : "");
    esc_name = orchctl_url_escape(g->name ? g->name : "");
    if (!base || !esc_rv || !esc_sel || !esc_name ||
        asprintf(&path, "%s?watch=true%s%s%s%s%s%s", base,
                 rv ? "&resourceVersion=" : "", esc_rv,
                 selector ? "&labelSelector=" : "", esc_sel,
                 g->name ? "&fieldSelector=metadata.name%3D" : "",
                 esc_name) < 0) {
        path = NULL;
        fprintf(ctx->err, "error: out of memory\n");
        goto out;
    }
    r = orchctl_client_watch(ctx->client, path, ORCHCTL_WATCH_TIMEOUT_S,
                             get_on_event, g, &reply);
    if (r == -EPROTO && reply.body) {
        orchctl_print_server_error(ctx->err, reply.status, reply.body,
                                   reply.len);
        goto out;
    }
    if (r < 0 && !g->failed) {
        orchctl_printf_escaped(ctx->err, "%s\n",
                               orchctl_client_error(ctx->client));
        goto out;
    }
    if (r == 0 && !g->failed)
        rc = ORCHCTL_EXIT_OK;
out:
    orchctl_reply_clear(&reply);
    free(base);
    free(path);
    free(esc_rv);
    free(esc_sel);
    free(esc_name);
    return rc;
}

/* Follow the continue tokens of the list DOC (the first page, got from
 * BASE, ending in "?labelSelector=..." or not, per HAS_QUERY) and append
 * each later page's items to DOC's, as kubectl does: a server ends a page
 * early, even empty, when a selector makes it read many records.  Returns
 * 0 (DOC then has no continue token) or the call's negative errno. */
static int get_all_pages(struct orchctl_ctx *ctx, const char *base,
                         bool has_query, json_t *doc)
{
    json_t *md = json_object_get(doc, "metadata");
    json_t *items = json_object_get(doc, "items");
    char *last = NULL;
    int r = 0;

    while (r == 0 && json_is_string(json_object_get(md, "continue"))) {
        const char *cont = json_string_value(json_object_get(md, "continue"));
        char *esc = orchctl_url_escape(cont), *path = NULL;
        json_t *page = NULL;

        /* A server that hands out the same token again would loop us. */
        if (last && strcmp(last, cont) == 0) {
            fprintf(ctx->err, "error: the server repeated a continue "
                              "token\n");
            r = -EPROTO;
        }
        if (r == 0) {
            free(last);
            last = strdup(cont);
            if (!esc || !last ||
                asprintf(&path, "%s%scontinue=%s", base, has_query ? "&" : "?",
                         esc) < 0) {
                fprintf(ctx->err, "error: out of memory\n");
                path = NULL;
                r = -ENOMEM;
            }
        }
        if (r == 0)
            r = orchctl_ctx_call(ctx, "GET", path, NULL, false, NULL, &page);
        if (r == 0 &&
            json_array_extend(items, json_object_get(page, "items")) < 0) {
            fprintf(ctx->err, "error: out of memory\n");
            r = -ENOMEM;
        }
        if (r == 0) {
            json_t *next =
                json_object_get(json_object_get(page, "metadata"), "continue");
            if (next)
                json_object_set(md, "continue", next);
            else
                json_object_del(md, "continue");
        }
        json_decref(page);
        free(path);
        free(esc);
    }
    free(last);
    return r;
}

int orchctl_cmd_get(struct orchctl_ctx *ctx)
{
    const struct orchctl_opts *o = ctx->opts;
    struct get g = {.ctx = ctx};
    const char *ns = o->all_namespaces ? NULL : ctx->namespace;
    char *path = NULL, *base = NULL, *sel = NULL;
    json_t *doc = NULL, *node_vmis = NULL;
    const char *rv = NULL;
    bool counted = true;
    int rc = ORCHCTL_EXIT_FAILED;
    int r;

    g.kind = orchctl_ctx_kind(ctx, o->args[0]);
    if (!g.kind)
        return ORCHCTL_EXIT_USAGE;
    if (o->nargs > 1 && o->all_namespaces) {
        fprintf(ctx->err, "error: a resource cannot be retrieved by name "
                          "across all namespaces\n");
        return ORCHCTL_EXIT_USAGE;
    }
    if (o->output == ORCHCTL_OUTPUT_JSONPATH) {
        char why[256];

        if (orchctl_jsonpath_parse(o->jsonpath, &g.jsonpath, why, sizeof(why)) <
            0) {
            fprintf(ctx->err, "error: error parsing jsonpath %s: %s\n",
                    o->jsonpath, why);
            return ORCHCTL_EXIT_USAGE;
        }
    }
    g.table = orchctl_table_new(g.kind, o->all_namespaces,
                                o->output == ORCHCTL_OUTPUT_WIDE);
    if (!g.table) {
        fprintf(ctx->err, "error: out of memory\n");
        orchctl_jsonpath_free(g.jsonpath);
        return ORCHCTL_EXIT_FAILED;
    }
    if (o->nargs > 1) {
        g.name = o->args[1];
        path = orchctl_object_path(g.kind, ns, g.name);
    } else {
        base = orchctl_kind_path(g.kind, ns);
        sel = o->selector ? orchctl_url_escape(o->selector) : NULL;
        if (base && (!o->selector || sel) &&
            asprintf(&path, "%s%s%s", base, sel ? "?labelSelector=" : "",
                     sel ? sel : "") < 0)
            path = NULL;
    }
    if (!path) {
        fprintf(ctx->err, "error: out of memory\n");
        goto out;
    }
    r = orchctl_ctx_call(ctx, "GET", path, NULL, false, NULL, &doc);
    if (r == 0 && !g.name)
        r = get_all_pages(ctx, path, sel != NULL, doc);
    if (r < 0)
        goto out;
    rv = orchctl_json_str(doc, "metadata.resourceVersion");
    /* After the nodes, so that a missing node is reported as such, and
     * not at all for no nodes; a count that fails leaves VMIS "<unknown>"
     * and the exit code 1, the nodes still listed. */
    if (get_tabular(ctx) && !strcmp(g.kind->kind, "Node") &&
        (g.name || json_array_size(json_object_get(doc, "items")) > 0)) {
        node_vmis = get_node_vmis(ctx, g.name);
        counted = node_vmis != NULL;
        orchctl_table_set_node_vmis(g.table, node_vmis);
    }

    if (g.name || o->output == ORCHCTL_OUTPUT_JSON ||
        o->output == ORCHCTL_OUTPUT_YAML ||
        o->output == ORCHCTL_OUTPUT_JSONPATH) {
        /* One object, or the List as the server sent it. */
        if (g.name && o->output == ORCHCTL_OUTPUT_YAML && o->watch)
            fprintf(ctx->out, "---\n");
        r = get_print(&g, doc);
        if (r < 0) {
            get_report_print(&g, r);
            goto out;
        }
    } else {
        json_t *items = json_object_get(doc, "items");
        size_t i;
        json_t *item;

        json_array_foreach(items, i, item)
        {
            r = get_print(&g, item);
            if (r < 0) {
                fprintf(ctx->err, "error: out of memory\n");
                goto out;
            }
        }
        if (json_array_size(items) == 0 && !o->watch) {
            if (ns && g.kind->namespaced)
                fprintf(ctx->err, "No resources found in %s namespace.\n", ns);
            else
                fprintf(ctx->err, "No resources found\n");
        }
    }
    if (g.table && (g.name || json_array_size(json_object_get(doc, "items"))))
        get_flush(&g);
    if (!o->watch) {
        rc = counted ? ORCHCTL_EXIT_OK : ORCHCTL_EXIT_FAILED;
        goto out;
    }
    fflush(ctx->out);
    rc = get_watch(&g, ns, rv, o->selector);
    if (!counted)
        rc = ORCHCTL_EXIT_FAILED;
out:
    json_decref(doc);
    orchctl_table_free(g.table);
    orchctl_jsonpath_free(g.jsonpath);
    json_decref(node_vmis);
    free(path);
    free(base);
    free(sel);
    return rc;
}
