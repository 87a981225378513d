/*
 * orchctl uncordon: make a cordoned (or drained) node schedulable again.
 */
#include "orchctl/orchctl.h"

int orchctl_cmd_uncordon(struct orchctl_ctx *ctx)
{
    return orchctl_node_set_unschedulable(ctx, ctx->opts->args[0], false) < 0
               ? ORCHCTL_EXIT_FAILED
               : ORCHCTL_EXIT_OK;
}
