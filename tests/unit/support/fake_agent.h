/*
 * Test helper: the migrators faked at orchestratord's agent client seam
 * (struct orch_agent_ops), for the tests of the controllers that send jobs
 * (test_orchestratord_controller.c, test_orchestratord_vms.c).  One job
 * table stands for every host (job ids are unique); calls are queued and
 * answered only when the test calls fake_agent_flush(), from the table as
 * it is then, so a test decides what each migrator has done meanwhile.
 */
#ifndef ORCH_TEST_FAKE_AGENT_H
#define ORCH_TEST_FAKE_AGENT_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "orchestratord/agent_client.h"

struct fake_agent_call;

struct fake_agent {
    struct fake_agent_call *calls, **tail;
    json_t *jobs;     /* id -> job object */
    json_t *log;      /* ["submit URL ID" | "get URL ID", ...] */
    json_t *requests; /* id -> the request submitted */
    char down[128];   /* a URL that does not answer */
    bool wrong_id;    /* answer GETs with another job's id */
    bool freed;       /* the controller released its client */
};

/* Pass with the fake as ctx. */
extern const struct orch_agent_ops fake_agent_ops;

/* The test's clock, in ms, for the controllers' clock_ms option. */
extern int64_t fake_agent_now;
int64_t fake_agent_clock(void);

void fake_agent_init(struct fake_agent *fk);
void fake_agent_clear(struct fake_agent *fk);

/* Answer every queued call from the job table as it is now: a submit of an
 * unknown id creates the job Pending (202), a GET answers the job (200) or
 * 404, a call to fk->down fails with ECONNREFUSED.  Returns how many calls
 * were answered. */
int fake_agent_flush(struct fake_agent *fk);

/* Set job ID's state and merge EXTRA (consumed, may be NULL) into it; fails
 * the test when there is no such job. */
void fake_agent_set(struct fake_agent *fk, const char *id, const char *state,
                    json_t *extra);

#endif
