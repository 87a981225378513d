/*
 * orchestratord: one job on a host's migrator as orchestratord's
 * controllers drive it - controller.c a migration's prepare, migrate,
 * abort and plug jobs, vms.c a VM's start and stop jobs - over
 * agent_client.h's calls (the contract in DESIGN.md, "How the parts
 * talk").
 *
 * A job is asked for by id (GET) unless the caller knows the agent cannot
 * have it; an agent that answers 404 gets it submitted (POST); then it is
 * asked for again until it is Succeeded or Failed, every poll_first_ms
 * doubling up to poll_max_ms.  A call without an answer (no connection, a
 * timeout, an error status, an answer about another job) is tried again
 * after orch_agent_backoff_ms.  A submission the agent refuses (400, 409)
 * makes the job Failed here: asking again will not change its mind.
 *
 *   struct orch_agent_job j = {.owner = m, .kind = K, .poll_first_ms = 10,
 *                              .poll_max_ms = 100, .refused_reason =
 *                              "Rejected"};
 *   if (orch_agent_job_due(&j, now))
 *       orch_agent_job_call(&j, &agent, url, id, req, done, &j, now);
 *   ... in done(err, status, body, arg):
 *       orch_agent_job_answer(&j, id, uid, err, status, body, now);
 *   ... once it is not needed any more: orch_agent_job_clear(&j).
 *
 * Everything on the event loop's thread; nothing here logs.
 */
#ifndef ORCH_ORCHESTRATORD_AGENT_JOB_H
#define ORCH_ORCHESTRATORD_AGENT_JOB_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "orchestratord/agent_client.h"

enum orch_job_state {
    ORCH_JOB_UNKNOWN = 0, /* not asked yet, or a state the agent made up */
    ORCH_JOB_PENDING,
    ORCH_JOB_RUNNING,
    ORCH_JOB_SUCCEEDED,
    ORCH_JOB_FAILED,
};

struct orch_agent_job {
    /* The caller's, set once: whose job it is and which of its jobs. */
    void *owner;
    int kind;
    int64_t poll_first_ms, poll_max_ms; /* the polls while not final */
    const char *refused_reason;         /* a refused submit's reason on 400 */

    bool busy;   /* a call in flight */
    bool exists; /* the agent has it */
    bool absent; /* the agent does not have it: submit it */
    bool posted; /* the call in flight is a submit */
    enum orch_job_state state;
    json_t *obj;     /* the last job object the agent gave (owned) */
    bool fresh;      /* obj not looked at by the caller yet */
    int fails;       /* calls in a row without an answer */
    int64_t poll_ms; /* the next poll's delay while not final */
    int64_t next_ms; /* no call before */
    int64_t last_answer_ms;
    char last_err[200]; /* why the last call failed; "" after an answer */
};

/* What orch_agent_job_answer made of an answer. */
enum orch_job_answer {
    ORCH_JOB_ANSWERED,  /* a job object: state, obj, fresh = true */
    ORCH_JOB_ABSENT,    /* 404 to a GET: absent, to be submitted */
    ORCH_JOB_REFUSED,   /* the agent refused the submit: Failed */
    ORCH_JOB_FOREIGN,   /* an answer about another job: a failed call */
    ORCH_JOB_NO_ANSWER, /* no answer or an error status: a failed call */
};

/* The backoff after `fails` failed calls in a row: 1 s doubling up to
 * 10 s. */
int64_t orch_agent_backoff_ms(int fails);

/* Whether `j` is Succeeded or Failed. */
bool orch_agent_job_final(const struct orch_agent_job *j);

/* Whether a call for `j` may go at `now`: none in flight, not final, and
 * next_ms reached. */
bool orch_agent_job_due(const struct orch_agent_job *j, int64_t now);

/* Count a call that failed at `now` (`why` kept in last_err) and put the
 * next one off by the backoff. */
void orch_agent_job_failed_call(struct orch_agent_job *j, int64_t now,
                                const char *why);

/* Make `j`'s call through `agent` to the agent at `url`: submit `req`
 * (borrowed) when the job is absent there, else ask for job `id`.
 * `done(err, status, body, arg)` gets the answer.  A call that cannot be
 * made is counted failed.  Returns 0 or the client's -errno. */
int orch_agent_job_call(struct orch_agent_job *j,
                        const struct orch_agent *agent, const char *url,
                        const char *id, const json_t *req,
                        orch_agent_done_fn done, void *arg, int64_t now);

/* Take the answer (as orch_agent_done_fn has it) to `j`'s call in flight
 * at `now`.  `id` is the job's id and `uid` (NULL: not checked) its
 * migration's uid: a job object naming others is another job's. */
enum orch_job_answer orch_agent_job_answer(struct orch_agent_job *j,
                                           const char *id, const char *uid,
                                           int err, int status,
                                           const json_t *body, int64_t now);

/* Free the last job object.  NULL-safe. */
void orch_agent_job_clear(struct orch_agent_job *j);

#endif
