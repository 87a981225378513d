/*
 * orchctl manifests: reading -f FILE|- into objects, for apply, create and
 * delete -f.
 */
#include "orchctl/orchctl.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* Manifests bigger than this are refused (the server's body limit is
 * smaller still). */
#define MANIFEST_MAX (16u * 1024 * 1024)

int orchctl_manifest_read(struct orchctl_ctx *ctx, json_t **ret_items)
{
    const char *name = ctx->opts->filename;
    FILE *f = NULL;
    char *buf = NULL;
    size_t len = 0, cap = 0;
    char err[256];
    int r = -EINVAL;

    if (!name) {
        fprintf(ctx->err, "error: must specify -f FILE (or -f - for standard "
                          "input)\n");
        return -EINVAL;
    }
    f = strcmp(name, "-") ? fopen(name, "re") : stdin;
    if (!f) {
        fprintf(ctx->err, "error: the path \"%s\" does not exist\n", name);
        return -ENOENT;
    }
    for (;;) {
        size_t n;

        if (len + 4096 > cap) {
            char *b;

            cap = cap ? cap * 2 : 16384;
            b = realloc(buf, cap);
            if (!b) {
                fprintf(ctx->err, "error: out of memory\n");
                r = -ENOMEM;
                goto out;
            }
            buf = b;
        }
        n = fread(buf + len, 1, cap - len, f);
        len += n;
        if (len > MANIFEST_MAX) {
            fprintf(ctx->err, "error: \"%s\" is larger than %u bytes\n", name,
                    MANIFEST_MAX);
            r = -EFBIG;
            goto out;
        }
        if (n == 0)
            break;
    }
    if (ferror(f)) {
        fprintf(ctx->err, "error: cannot read \"%s\"\n", name);
        r = -EIO;
        goto out;
    }
    r = orchctl_doc_decode(buf ? buf : "", len, ret_items, err, sizeof(err));
    if (r < 0)
        orchctl_printf_escaped(ctx->err, "error: error parsing %s: %s\n", name,
                               err);
out:
    free(buf);
    if (f && f != stdin)
        fclose(f);
    return r;
}

const struct orchctl_kind *orchctl_manifest_kind(struct orchctl_ctx *ctx,
                                                 const json_t *obj)
{
    const char *kind = json_string_value(json_object_get(obj, "kind"));
    const char *apiv = json_string_value(json_object_get(obj, "apiVersion"));
    const struct orchctl_kind *k = kind ? orchctl_kind_find(kind) : NULL;
    char want[128];

    if (k) {
        snprintf(want, sizeof(want), "%s%s%s", k->group, *k->group ? "/" : "",
                 k->version);
        /* Only the exact kind name counts, not "vmim", and the version
         * must match. */
        if (strcmp(kind, k->kind) || !apiv || strcmp(apiv, want))
            k = NULL;
    }
    if (!k)
        orchctl_printf_escaped(
            ctx->err,
            "error: unable to recognize \"%s\": no matches for kind "
            "\"%s\" in version \"%s\"\n",
            ctx->opts->filename, kind ? kind : "", apiv ? apiv : "");
    return k;
}

const char *orchctl_manifest_namespace(struct orchctl_ctx *ctx,
                                       const struct orchctl_kind *k,
                                       json_t *obj)
{
    const char *ns = orchctl_json_str(obj, "metadata.namespace");
    json_t *meta = json_object_get(obj, "metadata");

    if (!k->namespaced)
        return NULL;
    if (ns && *ns)
        return ns;
    if (!json_is_object(meta)) {
        meta = json_object();
        json_object_set_new(obj, "metadata", meta);
    }
    json_object_set_new(meta, "namespace", json_string(ctx->namespace));
    return ctx->namespace;
}
