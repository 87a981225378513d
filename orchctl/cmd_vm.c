/*
 * orchctl start, stop, restart: the VM subresources, as virtctl calls them
 * (PUT /apis/subresources.kubevirt.io/v1/namespaces/NS/virtualmachines/
 * NAME/ACTION).  The server changes the VM's run strategy or records the
 * request; the VM controller does the work, so these return at once.  A
 * VM already in the asked state is the server's 409 ("VM is already
 * running"): exit 1, as virtctl fails.
 */
#include "orchctl/orchctl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int vm_action(struct orchctl_ctx *ctx, const char *action)
{
    const char *name = ctx->opts->args[0];
    char *ns = orchctl_url_escape(ctx->namespace);
    char *esc = orchctl_url_escape(name);
    char *path = NULL;
    int rc = ORCHCTL_EXIT_FAILED;

    if (!ns || !esc ||
        asprintf(&path,
                 "/apis/subresources.kubevirt.io/v1/namespaces/%s/"
                 "virtualmachines/%s/%s",
                 ns, esc, action) < 0) {
        path = NULL;
        fprintf(ctx->err, "error: out of memory\n");
        goto out;
    }
    if (orchctl_ctx_call(ctx, "PUT", path, NULL, false, NULL, NULL) < 0)
        goto out;
    orchctl_printf_escaped(ctx->out, "VM %s was scheduled to %s\n", name,
                           action);
    rc = ORCHCTL_EXIT_OK;
out:
    free(path);
    free(esc);
    free(ns);
    return rc;
}

int orchctl_cmd_start(struct orchctl_ctx *ctx)
{
    return vm_action(ctx, "start");
}

int orchctl_cmd_stop(struct orchctl_ctx *ctx)
{
    return vm_action(ctx, "stop");
}

int orchctl_cmd_restart(struct orchctl_ctx *ctx)
{
    return vm_action(ctx, "restart");
}
