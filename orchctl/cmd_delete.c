/*
 * orchctl delete: delete objects by KIND NAME... or those of a manifest.
 * Deleting a migration in flight cancels it (the server aborts the job).
 */
#include "orchctl/orchctl.h"

#include <errno.h>
#include <stdlib.h>

static int delete_one(struct orchctl_ctx *ctx, const struct orchctl_kind *k,
                      const char *ns, const char *name)
{
    char *path = orchctl_object_path(k, ns, name);
    char res[128];
    int r;

    if (!path) {
        fprintf(ctx->err, "error: out of memory\n");
        return -ENOMEM;
    }
    r = orchctl_ctx_call(ctx, "DELETE", path, NULL, false, NULL, NULL);
    free(path);
    if (r < 0)
        return r;
    orchctl_kind_resource(k, res, sizeof(res));
    orchctl_printf_escaped(ctx->out, "%s \"%s\" deleted\n", res, name);
    return 0;
}

int orchctl_cmd_delete(struct orchctl_ctx *ctx)
{
    const struct orchctl_opts *o = ctx->opts;
    const struct orchctl_kind *k;
    int rc = ORCHCTL_EXIT_OK;
    int i;

    if (o->filename) {
        json_t *items = NULL, *obj;
        size_t n;

        if (o->nargs > 0) {
            fprintf(ctx->err, "error: a KIND and NAME cannot be given with "
                              "-f\nSee 'orchctl delete -h' for help.\n");
            return ORCHCTL_EXIT_USAGE;
        }
        if (orchctl_manifest_read(ctx, &items) < 0)
            return ORCHCTL_EXIT_FAILED;
        json_array_foreach(items, n, obj)
        {
            const char *name = orchctl_json_str(obj, "metadata.name");

            k = orchctl_manifest_kind(ctx, obj);
            if (!k) {
                rc = ORCHCTL_EXIT_FAILED;
                continue;
            }
            if (!name) {
                fprintf(ctx->err,
                        "error: an object of kind %s in \"%s\" "
                        "has no metadata.name\n",
                        k->kind, o->filename);
                rc = ORCHCTL_EXIT_FAILED;
                continue;
            }
            if (delete_one(ctx, k, orchctl_manifest_namespace(ctx, k, obj),
                           name) < 0)
                rc = ORCHCTL_EXIT_FAILED;
        }
        json_decref(items);
        return rc;
    }
    if (o->nargs == 0) {
        fprintf(ctx->err, "error: you must specify the type of resource to "
                          "delete\nSee 'orchctl delete -h' for help.\n");
        return ORCHCTL_EXIT_USAGE;
    }
    k = orchctl_ctx_kind(ctx, o->args[0]);
    if (!k)
        return ORCHCTL_EXIT_USAGE;
    if (o->nargs == 1) {
        fprintf(ctx->err, "error: resource(s) were provided, but no name "
                          "was specified\nSee 'orchctl delete -h' for "
                          "help.\n");
        return ORCHCTL_EXIT_USAGE;
    }
    for (i = 1; i < o->nargs; i++)
        if (delete_one(ctx, k, ctx->namespace, o->args[i]) < 0)
            rc = ORCHCTL_EXIT_FAILED;
    return rc;
}
