/*
 * orchctl completion SHELL: print a completion script (bash only), as
 * kubectl completion does; `make install` writes the same script to
 * bash-completion's directory.
 */
#include "orchctl/orchctl.h"

#include <string.h>

int orchctl_cmd_completion(struct orchctl_ctx *ctx)
{
    const char *shell = ctx->opts->args[0];

    if (strcmp(shell, "bash") != 0) {
        orchctl_printf_escaped(
            ctx->err, "error: unsupported shell \"%s\" (only bash)\n", shell);
        return ORCHCTL_EXIT_USAGE;
    }
    orchctl_completion_bash(ctx->out);
    return ORCHCTL_EXIT_OK;
}
