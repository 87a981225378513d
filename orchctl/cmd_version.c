/*
 * orchctl version: the client's version and, unless --client, the
 * server's from GET /version.
 */
#include "orchctl/orchctl.h"

int orchctl_cmd_version(struct orchctl_ctx *ctx)
{
    json_t *doc = NULL;
    const char *v;

    fprintf(ctx->out, "Client Version: %s\n", ORCHCTL_VERSION);
    if (ctx->opts->client_only)
        return ORCHCTL_EXIT_OK;
    if (orchctl_ctx_call(ctx, "GET", "/version", NULL, false, NULL, &doc) < 0)
        return ORCHCTL_EXIT_FAILED;
    v = json_string_value(json_object_get(doc, "gitVersion"));
    fprintf(ctx->out, "Server Version: %s\n", v ? v : "unknown");
    json_decref(doc);
    return ORCHCTL_EXIT_OK;
}
