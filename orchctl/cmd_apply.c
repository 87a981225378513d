/*
 * orchctl apply and create: post the objects of a manifest.  apply updates
 * an object that exists (PUT with its current resourceVersion) and leaves
 * an unchanged one alone; a migration is never updated, its spec being
 * immutable.
 *
 * --dry-run=client sends nothing that writes: create prints what it would
 * create; apply still reads each object to say whether it would be
 * created, configured or left unchanged.  --dry-run=server sends the same
 * writes with ?dryRun=All, which the server validates and admits without
 * storing.  Messages end in " (dry run)" / " (server dry run)" as
 * kubectl's do.
 */
#include "orchctl/orchctl.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* Whether applying `want` over `have` would change nothing the user
 * wrote: spec, labels and annotations. */
static bool apply_unchanged(const json_t *want, const json_t *have)
{
    static const char *const fields[] = {"spec", "metadata.labels",
                                         "metadata.annotations"};
    size_t i;

    for (i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
        json_t *a = orchctl_json_get(want, fields[i]);
        json_t *b = orchctl_json_get(have, fields[i]);

        /* A field the manifest leaves out is not the manifest's to clear. */
        if (a && !json_equal(a, b))
            return false;
    }
    return true;
}

/* What ends a message under --dry-run. */
static const char *dry_run_suffix(const struct orchctl_ctx *ctx)
{
    switch (ctx->opts->dry_run) {
    case ORCHCTL_DRY_RUN_CLIENT:
        return " (dry run)";
    case ORCHCTL_DRY_RUN_SERVER:
        return " (server dry run)";
    case ORCHCTL_DRY_RUN_NONE:
        break;
    }
    return "";
}

/* PATH with ?dryRun=All under --dry-run=server, else PATH itself; a new
 * string to free(), NULL when out of memory. */
static char *write_path(const struct orchctl_ctx *ctx, char *path)
{
    char *with = NULL;

    if (!path || ctx->opts->dry_run != ORCHCTL_DRY_RUN_SERVER)
        return path;
    if (asprintf(&with, "%s?dryRun=All", path) < 0)
        with = NULL;
    free(path);
    return with;
}

static int apply_post(struct orchctl_ctx *ctx, const struct orchctl_kind *k,
                      const char *ns, json_t *obj)
{
    char *path = write_path(ctx, orchctl_kind_path(k, ns));
    json_t *created = NULL;
    char res[128];
    const char *name;
    int r = 0;

    if (!path) {
        fprintf(ctx->err, "error: out of memory\n");
        return -ENOMEM;
    }
    if (ctx->opts->dry_run != ORCHCTL_DRY_RUN_CLIENT)
        r = orchctl_ctx_call(ctx, "POST", path, obj, false, NULL, &created);
    free(path);
    if (r < 0)
        return r;
    name = orchctl_json_str(created, "metadata.name");
    if (!name)
        name = orchctl_json_str(obj, "metadata.name");
    if (!name && ctx->opts->dry_run == ORCHCTL_DRY_RUN_CLIENT)
        name = orchctl_json_str(obj, "metadata.generateName");
    orchctl_kind_resource(k, res, sizeof(res));
    orchctl_printf_escaped(ctx->out, "%s/%s created%s\n", res, name ? name : "",
                           dry_run_suffix(ctx));
    json_decref(created);
    return 0;
}

static int apply_one(struct orchctl_ctx *ctx, json_t *obj, bool create_only)
{
    const struct orchctl_kind *k = orchctl_manifest_kind(ctx, obj);
    const char *ns, *name, *rv;
    char *path = NULL;
    json_t *have = NULL, *want = NULL;
    char res[128];
    long status = 0;
    int r;

    if (!k)
        return -EINVAL;
    ns = orchctl_manifest_namespace(ctx, k, obj);
    name = orchctl_json_str(obj, "metadata.name");
    if (create_only || !name || !*name)
        return apply_post(ctx, k, ns, obj);

    path = orchctl_object_path(k, ns, name);
    if (!path) {
        fprintf(ctx->err, "error: out of memory\n");
        return -ENOMEM;
    }
    r = orchctl_ctx_call(ctx, "GET", path, NULL, true, &status, &have);
    if (r < 0 && status == 404) {
        r = apply_post(ctx, k, ns, obj);
        goto out;
    }
    if (r < 0)
        goto out;
    orchctl_kind_resource(k, res, sizeof(res));
    if (apply_unchanged(obj, have)) {
        orchctl_printf_escaped(ctx->out, "%s/%s unchanged%s\n", res, name,
                               dry_run_suffix(ctx));
        goto out;
    }
    if (!strcmp(k->kind, "VirtualMachineInstanceMigration")) {
        orchctl_printf_escaped(
            ctx->err,
            "error: %s \"%s\" exists and its spec is immutable: delete "
            "it first or use another name\n",
            k->kind, name);
        r = -EEXIST;
        goto out;
    }
    want = json_deep_copy(obj);
    rv = orchctl_json_str(have, "metadata.resourceVersion");
    if (!want ||
        (rv && json_object_set_new(json_object_get(want, "metadata"),
                                   "resourceVersion", json_string(rv)) < 0)) {
        fprintf(ctx->err, "error: out of memory\n");
        r = -ENOMEM;
        goto out;
    }
    if (ctx->opts->dry_run == ORCHCTL_DRY_RUN_SERVER) {
        path = write_path(ctx, path);
        if (!path) {
            fprintf(ctx->err, "error: out of memory\n");
            r = -ENOMEM;
            goto out;
        }
    }
    if (ctx->opts->dry_run != ORCHCTL_DRY_RUN_CLIENT)
        r = orchctl_ctx_call(ctx, "PUT", path, want, false, NULL, NULL);
    if (r == 0)
        orchctl_printf_escaped(ctx->out, "%s/%s configured%s\n", res, name,
                               dry_run_suffix(ctx));
out:
    json_decref(have);
    json_decref(want);
    free(path);
    return r;
}

static int apply_all(struct orchctl_ctx *ctx, bool create_only)
{
    json_t *items = NULL, *obj;
    size_t i;
    int rc = ORCHCTL_EXIT_OK;

    if (orchctl_manifest_read(ctx, &items) < 0)
        return ctx->opts->filename ? ORCHCTL_EXIT_FAILED : ORCHCTL_EXIT_USAGE;
    /* Like kubectl, go on with the other objects after one fails. */
    json_array_foreach(items, i, obj)
    {
        if (apply_one(ctx, obj, create_only) < 0)
            rc = ORCHCTL_EXIT_FAILED;
    }
    json_decref(items);
    return rc;
}

int orchctl_cmd_apply(struct orchctl_ctx *ctx)
{
    return apply_all(ctx, false);
}

int orchctl_cmd_create(struct orchctl_ctx *ctx)
{
    return apply_all(ctx, true);
}
