/*
 * orchestratord/agent_client: the one seam between orchestratord and the
 * migrators' agent API (jobs, see the issue 9 contract): a table of
 * operations, so the controller does not know how a job reaches a host and
 * unit tests fake the agents here.
 *
 * Every operation starts a call and returns at once; its callback comes
 * later, on the loop thread, exactly once, unless the client is freed
 * first (then never).  A callback may start other calls.
 *
 * Threads: the loop thread only.  Nothing here logs.
 */
#ifndef ORCH_AGENT_CLIENT_H
#define ORCH_AGENT_CLIENT_H

#include <jansson.h>

struct event_base;
struct orch_settings;

/* How a call ended.  ERR 0: the agent answered HTTP STATUS with BODY (the
 * parsed JSON body, borrowed for the call; NULL when it had none or it was
 * not JSON).  ERR < 0: no answer: -ETIMEDOUT (no reply within the call's
 * time), -ECONNREFUSED / -EHOSTUNREACH / -ECONNRESET (transport), -EPROTO
 * (a reply that is not HTTP, a TLS failure), -ENOMEM; STATUS is then 0. */
typedef void (*orch_agent_done_fn)(int err, int status, const json_t *body,
                                   void *arg);

struct orch_agent_ops {
    /* POST URL/v1/jobs with the job request JOB (borrowed).  Returns 0 (the
     * callback will come) or -EINVAL (a URL the client cannot call),
     * -ENOMEM. */
    int (*submit)(void *ctx, const char *url, const json_t *job,
                  orch_agent_done_fn done, void *arg);
    /* GET URL/v1/jobs/ID.  Returns as submit. */
    int (*get)(void *ctx, const char *url, const char *id,
               orch_agent_done_fn done, void *arg);
    /* Drop every call in flight without calling back, and free CTX. */
    void (*free)(void *ctx);
};

/* A client: the operations and their context. */
struct orch_agent {
    const struct orch_agent_ops *ops;
    void *ctx;
};

/* How long a call to an agent may take, connection included: the agent
 * answers at once (long work is a job), so a slow answer is a sick host. */
#define ORCH_AGENT_CALL_TIMEOUT_S 5

/* The real client on BASE: HTTP or HTTPS by the URL (an IP literal host:
 * names are not resolved, so nothing blocks the loop), TCP_NODELAY, each
 * call bounded by ORCH_AGENT_CALL_TIMEOUT_S, "Authorization: Bearer" with
 * SETTINGS->agent_token as it is at each call (SETTINGS is borrowed and
 * must outlive the client), https verified against SETTINGS->agent_cacert
 * (read now; NULL: the system's CAs) and the URL's host.  Fills *RET.
 * Returns 0, -EINVAL (the CA file is unusable; ERRBUF says why) or
 * -ENOMEM. */
int orch_agent_http_new(struct event_base *base,
                        const struct orch_settings *settings,
                        struct orch_agent *ret, char *errbuf, size_t errlen);

/* Free A's context (A->ops->free); A is zeroed.  NULL-safe. */
void orch_agent_release(struct orch_agent *a);

#endif
