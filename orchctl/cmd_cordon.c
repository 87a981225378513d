/*
 * orchctl cordon: mark a node unschedulable (spec.unschedulable), so that
 * no VM is placed or migrated onto it; what runs there stays.
 */
#include "orchctl/orchctl.h"

int orchctl_cmd_cordon(struct orchctl_ctx *ctx)
{
    return orchctl_node_set_unschedulable(ctx, ctx->opts->args[0], true) < 0
               ? ORCHCTL_EXIT_FAILED
               : ORCHCTL_EXIT_OK;
}
