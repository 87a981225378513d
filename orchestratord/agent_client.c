/*
 * orchestratord: the agent client seam (see agent_client.h).  The real
 * operations are in agent_http.c.
 */
#include "orchestratord/agent_client.h"

#include <string.h>

void orch_agent_release(struct orch_agent *a)
{
    if (!a)
        return;
    if (a->ops && a->ops->free)
        a->ops->free(a->ctx);
    memset(a, 0, sizeof(*a));
}
