/*
 * migrator/report: pushes this host's report (the inventory of
 * migr_agent_inventory, agent.h) to orchestratord:
 *
 *     PUT {orchestrator}/apis/agent.orchestrator.io/v1/nodereports/{node}
 *     Authorization: Bearer {orchestrator_token}   (none without a token)
 *     Content-Type: application/json
 *
 * A report is the whole picture, so only the newest one matters: a text
 * submitted before the previous one went out replaces it.  The reporter
 * sends each new text at once, and the last one again when nothing new came
 * for interval_s (the heartbeat, should the worker be stuck in libvirt).
 * A text naming its migrator run (agent.bootId) goes out with top-level
 * "bootId" (that id) and "sequence" (1, 2, ... for every push of this
 * reporter, resends included), so orchestratord ignores a push that an
 * older or repeated one overtook (orchestratord/hosts.h).
 * Any 2xx answer is a delivery; its body is not needed.  Anything else (no
 * connection, TLS, a 10 s timeout, another status) is retried 1 s later,
 * then 2, 4... up to interval_s; a newer text waits for that retry.  https
 * URLs are checked against `cacert`, or the system's CAs.
 *
 * Logging: the reporter runs on its own and has no caller to hand an error
 * to, and an operator must learn that reports fail, so it logs itself (the
 * one exception to "only main and handlers log"), rate-limited: the first
 * delivery; the first failure, and again only when failures change kind
 * (connection refused -> HTTP 401), at info for "cannot connect" (an
 * orchestratord not up yet is routine) and at warn otherwise, with the
 * Status message of an error answer; and the recovery.  Never the token.
 *
 * Threads: the pushes run on a thread of the reporter's own (libcurl,
 * blocking), never the agent's event loop or worker.  migr_report_submit
 * and migr_report_stats may be called from any thread; new, start, stop
 * and free from one thread (the agent's owner).
 */
#ifndef ORCH_MIGRATOR_REPORT_H
#define ORCH_MIGRATOR_REPORT_H

#include <stdint.h>

struct migr_report_opts {
    const char *url;    /* orchestratord's base URL, http[s]://HOST[:PORT] */
    const char *node;   /* this node's name */
    const char *token;  /* presented as a bearer token; NULL: none */
    const char *cacert; /* CA file for https; NULL: the system's CAs */
    int interval_s;     /* heartbeat and longest retry wait, >= 1 */
};

struct migr_report;

/* A reporter (not started) for `o`; the strings are copied.  Returns 0
 * and *ret (free with migr_report_free), -EINVAL (not an http[s] URL, no
 * node, interval below 1) or -ENOMEM. */
int migr_report_new(const struct migr_report_opts *o, struct migr_report **ret);

/* Stop the reporter if it runs and free it.  NULL-safe. */
void migr_report_free(struct migr_report *r);

/* Start the reporter thread; it pushes as soon as a text is submitted
 * (one submitted before start goes out at once).  Returns 0 (also when it
 * runs already) or -errno of pthread_create. */
int migr_report_start(struct migr_report *r);

/* Stop and join the reporter thread: a push in flight is abandoned within
 * about 100 ms.  The last text is kept for a later start.  NULL-safe; a
 * no-op when not started. */
void migr_report_stop(struct migr_report *r);

/* Hand over the newest report (JSON text, copied) and wake the reporter.
 * Returns 0, -EINVAL or -ENOMEM. */
int migr_report_submit(struct migr_report *r, const char *json);

struct migr_report_stats {
    uint64_t attempts;  /* pushes tried */
    uint64_t delivered; /* answered 2xx */
    uint64_t failed;    /* the others */
    int last_status;    /* HTTP status of the last answer; 0: none came */
};

/* The counters so far. */
void migr_report_stats(struct migr_report *r, struct migr_report_stats *ret);

#endif
