/*
 * orchctl nodes: cordon and uncordon, shared by the cordon, uncordon and
 * drain verbs (see orchctl.h).
 */
#include "orchctl/orchctl.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define MERGE_PATCH "application/merge-patch+json"

/* GET the node; NULL after printing why (a 404 in the server's words). */
static json_t *node_get(struct orchctl_ctx *ctx, const char *path, int *ret_r)
{
    json_t *node = NULL;

    *ret_r = orchctl_ctx_call(ctx, "GET", path, NULL, false, NULL, &node);
    if (*ret_r == 0 && !json_is_object(node)) {
        orchctl_printf_escaped(
            ctx->err, "error: the server sent no object for %s\n", path);
        json_decref(node);
        node = NULL;
        *ret_r = -EPROTO;
    }
    return node;
}

/* Send body (JSON text) with method and media type; returns 0 with the
 * reply, or a transport errno after printing it. */
static int node_send(struct orchctl_ctx *ctx, const char *method,
                     const char *path, const char *type, const json_t *body,
                     struct orchctl_reply *ret_reply)
{
    char *text = json_dumps(body, JSON_COMPACT | JSON_PRESERVE_ORDER);
    int r;

    if (!text) {
        fprintf(ctx->err, "error: out of memory\n");
        return -ENOMEM;
    }
    r = orchctl_client_send(ctx->client, method, path, type, text, ret_reply);
    free(text);
    if (r == -ENOMEM)
        fprintf(ctx->err, "error: out of memory\n");
    else if (r < 0)
        orchctl_printf_escaped(ctx->err, "%s\n",
                               orchctl_client_error(ctx->client));
    return r;
}

static bool reply_ok(const struct orchctl_reply *reply)
{
    return reply->status >= 200 && reply->status <= 299;
}

/* The old way, for a server that takes no PATCH on nodes: the node as read
 * with spec.unschedulable changed, PUT with its resourceVersion so a
 * concurrent writer is not overwritten; on a conflict read it again and
 * try once more.  Returns 0, or a negative errno after printing why. */
static int node_put(struct orchctl_ctx *ctx, const char *path, json_t *node,
                    bool on, bool *ret_already)
{
    struct orchctl_reply reply = {0};
    json_t *fresh = NULL, *spec;
    int attempt, r = 0;

    *ret_already = false;
    for (attempt = 0; attempt < 2; attempt++) {
        if (attempt > 0) {
            fresh = node_get(ctx, path, &r);
            if (!fresh)
                goto out;
            node = fresh;
            /* Someone else did it meanwhile. */
            if (json_is_true(orchctl_json_get(node, "spec.unschedulable")) ==
                on) {
                *ret_already = true;
                goto out;
            }
        }
        spec = json_object_get(node, "spec");
        if (!json_is_object(spec)) {
            spec = json_object();
            if (!spec || json_object_set_new(node, "spec", spec) < 0) {
                fprintf(ctx->err, "error: out of memory\n");
                r = -ENOMEM;
                goto out;
            }
        }
        if (!on) {
            json_object_del(spec, "unschedulable");
        } else if (json_object_set_new(spec, "unschedulable", json_true()) <
                   0) {
            fprintf(ctx->err, "error: out of memory\n");
            r = -ENOMEM;
            goto out;
        }
        r = node_send(ctx, "PUT", path, NULL, node, &reply);
        if (r < 0)
            goto out;
        if (reply_ok(&reply))
            goto out;
        if (reply.status != 409 || attempt > 0) {
            orchctl_print_server_error(ctx->err, reply.status, reply.body,
                                       reply.len);
            r = -EPROTO;
            goto out;
        }
        orchctl_reply_clear(&reply);
    }
out:
    orchctl_reply_clear(&reply);
    json_decref(fresh);
    return r;
}

int orchctl_node_set_unschedulable(struct orchctl_ctx *ctx, const char *name,
                                   bool on)
{
    const char *done = on ? "cordoned" : "uncordoned";
    char *path = orchctl_object_path(orchctl_kind_find("node"), NULL, name);
    struct orchctl_reply reply = {0};
    json_t *node = NULL, *patch = NULL;
    bool already = false;
    int r;

    if (!path) {
        fprintf(ctx->err, "error: out of memory\n");
        return -ENOMEM;
    }
    /* Read first, as kubectl does: a node already so is said to be, and
     * nothing is written. */
    node = node_get(ctx, path, &r);
    if (!node)
        goto out;
    if (json_is_true(orchctl_json_get(node, "spec.unschedulable")) == on) {
        already = true;
        goto out;
    }
    /* A merge patch touches only the one field: it cannot undo what a
     * host's report wrote between our read and our write.  null removes
     * the field, as kubectl uncordon leaves a node. */
    patch = json_pack("{s:{s:o}}", "spec", "unschedulable",
                      on ? json_true() : json_null());
    if (!patch) {
        fprintf(ctx->err, "error: out of memory\n");
        r = -ENOMEM;
        goto out;
    }
    r = node_send(ctx, "PATCH", path, MERGE_PATCH, patch, &reply);
    if (r < 0)
        goto out;
    if (reply.status == 405 || reply.status == 415) {
        /* A server without (merge) PATCH on nodes. */
        r = node_put(ctx, path, node, on, &already);
        goto out;
    }
    if (!reply_ok(&reply)) {
        orchctl_print_server_error(ctx->err, reply.status, reply.body,
                                   reply.len);
        r = -EPROTO;
    }
out:
    if (r == 0)
        orchctl_printf_escaped(ctx->out, "node/%s %s%s\n", name,
                               already ? "already " : "", done);
    orchctl_reply_clear(&reply);
    json_decref(patch);
    json_decref(node);
    free(path);
    return r;
}
