/*
 * orchestratord: one job on a host's migrator, as the controllers drive
 * it (see agent_job.h).
 */
#include "orchestratord/agent_job.h"

#include <stdio.h>
#include <string.h>

#define BACKOFF_FIRST_MS 1000
#define BACKOFF_MAX_MS   10000

int64_t orch_agent_backoff_ms(int fails)
{
    int64_t ms = BACKOFF_FIRST_MS;

    for (int i = 1; i < fails && ms < BACKOFF_MAX_MS; i++)
        ms *= 2;
    return ms < BACKOFF_MAX_MS ? ms : BACKOFF_MAX_MS;
}

static enum orch_job_state state_parse(const char *s)
{
    static const char *const names[] = {
        [ORCH_JOB_PENDING] = "Pending",
        [ORCH_JOB_RUNNING] = "Running",
        [ORCH_JOB_SUCCEEDED] = "Succeeded",
        [ORCH_JOB_FAILED] = "Failed",
    };

    for (size_t i = ORCH_JOB_PENDING; s && i < sizeof(names) / sizeof(*names);
         i++)
        if (strcmp(s, names[i]) == 0)
            return (enum orch_job_state)i;
    return ORCH_JOB_UNKNOWN;
}

bool orch_agent_job_final(const struct orch_agent_job *j)
{
    return j->state == ORCH_JOB_SUCCEEDED || j->state == ORCH_JOB_FAILED;
}

bool orch_agent_job_due(const struct orch_agent_job *j, int64_t now)
{
    return !j->busy && !orch_agent_job_final(j) && now >= j->next_ms;
}

void orch_agent_job_failed_call(struct orch_agent_job *j, int64_t now,
                                const char *why)
{
    j->fails++;
    j->next_ms = now + orch_agent_backoff_ms(j->fails);
    snprintf(j->last_err, sizeof(j->last_err), "%s", why);
}

int orch_agent_job_call(struct orch_agent_job *j,
                        const struct orch_agent *agent, const char *url,
                        const char *id, const json_t *req,
                        orch_agent_done_fn done, void *arg, int64_t now)
{
    int r;

    j->busy = true;
    j->posted = j->absent;
    r = j->absent ? agent->ops->submit(agent->ctx, url, req, done, arg)
                  : agent->ops->get(agent->ctx, url, id, done, arg);
    if (r < 0) {
        j->busy = false;
        j->posted = false;
        orch_agent_job_failed_call(j, now, strerror(-r));
    }
    return r;
}

/* Whether `body`, a job object an agent answered, is job `id` (of the
 * migration `uid`, when given): an answer naming another is not. */
static bool answer_ours(const json_t *body, const char *id, const char *uid)
{
    const char *bid = json_string_value(json_object_get(body, "id"));
    const char *buid = json_string_value(
        json_object_get(json_object_get(body, "migration"), "uid"));

    if (bid && id && strcmp(bid, id) != 0)
        return false;
    return !buid || !uid || strcmp(buid, uid) == 0;
}

enum orch_job_answer orch_agent_job_answer(struct orch_agent_job *j,
                                           const char *id, const char *uid,
                                           int err, int status,
                                           const json_t *body, int64_t now)
{
    bool posted = j->posted;
    const char *state = json_string_value(json_object_get(body, "state"));
    char why[160];

    j->busy = false;
    j->posted = false;
    if (err < 0) {
        orch_agent_job_failed_call(j, now, strerror(-err));
        return ORCH_JOB_NO_ANSWER;
    }
    if (status == 404 && !posted) {
        j->absent = true;
        j->exists = false;
        j->fails = 0;
        j->next_ms = now;
        j->last_answer_ms = now;
        j->last_err[0] = '\0';
        return ORCH_JOB_ABSENT;
    }
    if (status >= 200 && status < 300 && !answer_ours(body, id, uid)) {
        /* A confused agent, a proxy's mix-up: no answer for ours. */
        snprintf(why, sizeof(why), "the agent answered for another job '%.60s'",
                 json_string_value(json_object_get(body, "id")));
        orch_agent_job_failed_call(j, now, why);
        return ORCH_JOB_FOREIGN;
    }
    if (status >= 200 && status < 300 && state) {
        j->exists = true;
        j->absent = false;
        j->fails = 0;
        j->last_err[0] = '\0';
        j->state = state_parse(state);
        json_decref(j->obj);
        j->obj = json_deep_copy(body);
        j->fresh = true;
        j->last_answer_ms = now;
        j->poll_ms = j->poll_ms ? j->poll_ms * 2 : j->poll_first_ms;
        if (j->poll_ms > j->poll_max_ms)
            j->poll_ms = j->poll_max_ms;
        j->next_ms = now + j->poll_ms;
        return ORCH_JOB_ANSWERED;
    }
    if (posted && (status == 400 || status == 409)) {
        const char *msg = json_string_value(json_object_get(body, "message"));

        json_decref(j->obj);
        j->obj = json_pack(
            "{s:s, s:{s:s, s:s}}", "state", "Failed", "error", "reason",
            status == 409
                ? "Conflict"
                : (j->refused_reason ? j->refused_reason : "Rejected"),
            "message", msg ? msg : "refused by the agent");
        j->state = ORCH_JOB_FAILED;
        j->fresh = true;
        j->last_answer_ms = now;
        return ORCH_JOB_REFUSED;
    }
    snprintf(why, sizeof(why), "HTTP %d", status);
    orch_agent_job_failed_call(j, now, why);
    return ORCH_JOB_NO_ANSWER;
}

void orch_agent_job_clear(struct orch_agent_job *j)
{
    if (!j)
        return;
    json_decref(j->obj);
    j->obj = NULL;
}
