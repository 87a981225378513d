/*
 * orchctl version: the client's version and, unless --client, the
 * server's from GET /version (Kubernetes' gitVersion field).
 */
#include "orchctl/orchctl.h"

int orchctl_cmd_version(struct orchctl_ctx *ctx)
{
    json_t *doc = NULL;
    const char *v;
    long status = 0;

    fprintf(ctx->out, "Client Version: %s\n", ORCHCTL_VERSION);
    if (ctx->opts->client_only)
        return ORCHCTL_EXIT_OK;
    if (orchctl_ctx_call(ctx, "GET", "/version", NULL, true, &status, &doc) <
        0) {
        /* Reachable and authorised, but without a /version document. */
        if (status == 404) {
            fprintf(ctx->out, "Server Version: unknown (the server has no "
                              "/version)\n");
            return ORCHCTL_EXIT_OK;
        }
        return ORCHCTL_EXIT_FAILED;
    }
    v = json_string_value(json_object_get(doc, "gitVersion"));
    orchctl_printf_escaped(ctx->out, "Server Version: %s\n", v ? v : "unknown");
    json_decref(doc);
    return ORCHCTL_EXIT_OK;
}
