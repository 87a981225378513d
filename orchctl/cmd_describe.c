/*
 * orchctl describe: one object in kubectl describe's layout.
 */
#include "orchctl/orchctl.h"

#include <stdlib.h>

int orchctl_cmd_describe(struct orchctl_ctx *ctx)
{
    const struct orchctl_kind *k = orchctl_ctx_kind(ctx, ctx->opts->args[0]);
    char *path;
    json_t *doc = NULL;
    int r;

    if (!k)
        return ORCHCTL_EXIT_USAGE;
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
