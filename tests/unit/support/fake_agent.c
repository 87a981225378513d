/*
 * Test helper: see fake_agent.h.
 */
#include "tests/unit/support/fake_agent.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

struct fake_agent_call {
    struct fake_agent_call *next;
    bool submit;
    char url[128];
    char id[160];
    orch_agent_done_fn done;
    void *arg;
};

int64_t fake_agent_now;

int64_t fake_agent_clock(void)
{
    return fake_agent_now;
}

static void queue(struct fake_agent *fk, bool submit, const char *url,
                  const char *id, orch_agent_done_fn done, void *arg)
{
    struct fake_agent_call *c = calloc(1, sizeof(*c));
    assert_non_null(c);
    c->submit = submit;
    snprintf(c->url, sizeof(c->url), "%s", url);
    snprintf(c->id, sizeof(c->id), "%s", id);
    c->done = done;
    c->arg = arg;
    *fk->tail = c;
    fk->tail = &c->next;
    json_array_append_new(
        fk->log, json_sprintf("%s %s %s", submit ? "submit" : "get", url, id));
}

static int fake_submit(void *ctx, const char *url, const json_t *job,
                       orch_agent_done_fn done, void *arg)
{
    struct fake_agent *fk = ctx;
    const char *id = json_string_value(json_object_get(job, "id"));
    assert_non_null(id);
    json_object_set(fk->requests, id, (json_t *)job);
    queue(fk, true, url, id, done, arg);
    return 0;
}

static int fake_get(void *ctx, const char *url, const char *id,
                    orch_agent_done_fn done, void *arg)
{
    queue(ctx, false, url, id, done, arg);
    return 0;
}

static void fake_free(void *ctx)
{
    struct fake_agent *fk = ctx;
    /* Calls in flight are dropped: they never answer. */
    while (fk->calls) {
        struct fake_agent_call *c = fk->calls;
        fk->calls = c->next;
        free(c);
    }
    fk->tail = &fk->calls;
    fk->freed = true;
}

const struct orch_agent_ops fake_agent_ops = {
    .submit = fake_submit,
    .get = fake_get,
    .free = fake_free,
};

void fake_agent_init(struct fake_agent *fk)
{
    memset(fk, 0, sizeof(*fk));
    fk->tail = &fk->calls;
    fk->jobs = json_object();
    fk->log = json_array();
    fk->requests = json_object();
}

void fake_agent_clear(struct fake_agent *fk)
{
    fake_free(fk);
    json_decref(fk->jobs);
    json_decref(fk->log);
    json_decref(fk->requests);
}

int fake_agent_flush(struct fake_agent *fk)
{
    int n = 0;
    while (fk->calls) {
        struct fake_agent_call *c = fk->calls;
        json_t *job;

        fk->calls = c->next;
        if (!fk->calls)
            fk->tail = &fk->calls;
        n++;
        if (fk->down[0] && strcmp(c->url, fk->down) == 0) {
            c->done(-ECONNREFUSED, 0, NULL, c->arg);
            free(c);
            continue;
        }
        job = json_object_get(fk->jobs, c->id);
        if (c->submit && !job) {
            const json_t *req = json_object_get(fk->requests, c->id);
            /* The job as a migrator shows it: what it was asked, Pending. */
            job = json_pack("{s:s, s:O, s:s, s:O*, s:O*}", "id", c->id, "type",
                            json_object_get(req, "type"), "state", "Pending",
                            "migration", json_object_get(req, "migration"),
                            "domain", json_object_get(req, "domain"));
            assert_non_null(job);
            json_object_set_new(fk->jobs, c->id, job);
            c->done(0, 202, job, c->arg);
        } else if (job && fk->wrong_id && !c->submit) {
            json_t *other = json_deep_copy(job);
            json_object_set_new(other, "id", json_string("someone-else"));
            c->done(0, 200, other, c->arg);
            json_decref(other);
        } else if (job) {
            c->done(0, 200, job, c->arg);
        } else {
            json_t *st = json_pack("{s:s, s:i}", "kind", "Status", "code", 404);
            c->done(0, 404, st, c->arg);
            json_decref(st);
        }
        free(c);
    }
    return n;
}

void fake_agent_set(struct fake_agent *fk, const char *id, const char *state,
                    json_t *extra)
{
    json_t *job = json_object_get(fk->jobs, id);
    if (!job)
        fail_msg("no job '%s'", id);
    json_object_set_new(job, "state", json_string(state));
    if (extra)
        json_object_update(job, extra);
    json_decref(extra);
}
