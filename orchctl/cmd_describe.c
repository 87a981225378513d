/*
 * orchctl describe: one object in kubectl describe's layout; a node with
 * the VMIs on it and its events, as kubectl describe node shows its pods.
 */
#include "orchctl/orchctl.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* GET path and return its items, or NULL after printing why (a 404 quietly
 * when quiet_404, *ret_missing then set). */
static json_t *describe_list(struct orchctl_ctx *ctx, const char *path,
                             bool quiet_404, bool *ret_missing)
{
    json_t *list = NULL, *items;
    long status = 0;

    if (orchctl_ctx_call(ctx, "GET", path, NULL, quiet_404, &status, &list) <
        0) {
        if (ret_missing)
            *ret_missing = status == 404;
        return NULL;
    }
    items = json_incref(json_object_get(list, "items"));
    json_decref(list);
    if (!json_is_array(items)) {
        json_decref(items);
        items = json_array();
    }
    return items;
}

/* The VMIs whose status.nodeName is node, by the server's field selector
 * (and checked here), or NULL after printing why. */
static json_t *describe_node_vmis(struct orchctl_ctx *ctx, const char *node,
                                  const char *esc)
{
    char *base = orchctl_kind_path(orchctl_kind_find("vmi"), NULL);
    char *path = NULL;
    json_t *items = NULL, *mine = NULL, *vmi;
    size_t i;

    if (!base || asprintf(&path, "%s?fieldSelector=status.nodeName%%3D%s", base,
                          esc) < 0) {
        path = NULL;
        fprintf(ctx->err, "error: out of memory\n");
        goto out;
    }
    items = describe_list(ctx, path, false, NULL);
    if (!items)
        goto out;
    mine = json_array();
    json_array_foreach(items, i, vmi)
    {
        const char *n = orchctl_json_str(vmi, "status.nodeName");

        if (mine && n && !strcmp(n, node) && json_array_append(mine, vmi) < 0) {
            json_decref(mine);
            mine = NULL;
        }
    }
    if (!mine)
        fprintf(ctx->err, "error: out of memory\n");
out:
    json_decref(items);
    free(base);
    free(path);
    return mine;
}

/* describe node NAME.  Returns an exit code: 1 when the node could not be
 * read, or when its VMIs or events could not (the rest is still shown). */
static int describe_node(struct orchctl_ctx *ctx, const struct orchctl_kind *k,
                         const char *name)
{
    char *path = orchctl_object_path(k, NULL, name);
    char *esc = orchctl_url_escape(name);
    char *events_path = NULL;
    json_t *node = NULL, *vmis = NULL, *events = NULL;
    bool missing = false;
    int rc = ORCHCTL_EXIT_FAILED;

    if (!path || !esc) {
        fprintf(ctx->err, "error: out of memory\n");
        goto out;
    }
    if (orchctl_ctx_call(ctx, "GET", path, NULL, false, NULL, &node) < 0)
        goto out;
    vmis = describe_node_vmis(ctx, name, esc);
    /* A node's events are cluster-wide, as kubectl describe node lists
     * them; a server that keeps none answers 404, and the section is
     * left out. */
    if (asprintf(&events_path,
                 "/api/v1/events?fieldSelector=involvedObject.kind%%3DNode%%2C"
                 "involvedObject.name%%3D%s",
                 esc) < 0) {
        events_path = NULL;
        fprintf(ctx->err, "error: out of memory\n");
        goto out;
    }
    events = describe_list(ctx, events_path, true, &missing);
    orchctl_describe_node_print(ctx->out, node, vmis, events, time(NULL));
    if (vmis && (events || missing))
        rc = ORCHCTL_EXIT_OK;
out:
    json_decref(node);
    json_decref(vmis);
    json_decref(events);
    free(path);
    free(esc);
    free(events_path);
    return rc;
}

int orchctl_cmd_describe(struct orchctl_ctx *ctx)
{
    const struct orchctl_kind *k = orchctl_ctx_kind(ctx, ctx->opts->args[0]);
    char *path;
    json_t *doc = NULL;
    int r;

    if (!k)
        return ORCHCTL_EXIT_USAGE;
    if (!strcmp(k->kind, "Node"))
        return describe_node(ctx, k, ctx->opts->args[1]);
    path = orchctl_object_path(k, ctx->namespace, ctx->opts->args[1]);
    if (!path) {
        fprintf(ctx->err, "error: out of memory\n");
        return ORCHCTL_EXIT_FAILED;
    }
    r = orchctl_ctx_call(ctx, "GET", path, NULL, false, NULL, &doc);
    free(path);
    if (r < 0)
        return ORCHCTL_EXIT_FAILED;
    orchctl_describe_print(ctx->out, doc);
    json_decref(doc);
    return ORCHCTL_EXIT_OK;
}
