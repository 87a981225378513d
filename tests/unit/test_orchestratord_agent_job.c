/*
 * Unit tests for orchestratord/agent_job: the answers an agent gives for a
 * job (a job object, 404, another job's object, a refusal, none) and what
 * they make of the job; the polls and backoff; a call submitted or asked
 * for through a fake client.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "orchestratord/agent_job.h"

/* A fake client: records the last call, answers with `fail` (0: taken). */
static struct {
    int submits, gets, fail;
    char url[64], id[64];
} fk;

static int fake_submit(void *ctx, const char *url, const json_t *job,
                       orch_agent_done_fn done, void *arg)
{
    (void)ctx;
    (void)job;
    (void)done;
    (void)arg;
    fk.submits++;
    snprintf(fk.url, sizeof(fk.url), "%s", url);
    return fk.fail;
}

static int fake_get(void *ctx, const char *url, const char *id,
                    orch_agent_done_fn done, void *arg)
{
    (void)ctx;
    (void)done;
    (void)arg;
    fk.gets++;
    snprintf(fk.url, sizeof(fk.url), "%s", url);
    snprintf(fk.id, sizeof(fk.id), "%s", id);
    return fk.fail;
}

static const struct orch_agent_ops fake_ops = {fake_submit, fake_get, NULL};
static const struct orch_agent fake_agent = {&fake_ops, NULL};

static struct orch_agent_job job_new(void)
{
    return (struct orch_agent_job){.poll_first_ms = 10,
                                   .poll_max_ms = 30,
                                   .refused_reason = "InvalidSpec"};
}

static json_t *obj(const char *id, const char *uid, const char *state)
{
    return json_pack("{s:s, s:{s:s}, s:s}", "id", id, "migration", "uid", uid,
                     "state", state);
}

static void test_backoff(void **state)
{
    (void)state;
    assert_int_equal(orch_agent_backoff_ms(1), 1000);
    assert_int_equal(orch_agent_backoff_ms(2), 2000);
    assert_int_equal(orch_agent_backoff_ms(4), 8000);
    assert_int_equal(orch_agent_backoff_ms(5), 10000);
    assert_int_equal(orch_agent_backoff_ms(40), 10000);
}

/* Asked for, absent, submitted, then polled 10, 20, 30, 30 ms apart until
 * it is final; a final job is not due any more. */
static void test_ask_submit_poll(void **state)
{
    struct orch_agent_job j = job_new();
    json_t *run = obj("u1-prepare", "u1", "Running");
    json_t *done = obj("u1-prepare", "u1", "Succeeded");
    json_t *req = json_pack("{s:s}", "id", "u1-prepare");
    (void)state;

    memset(&fk, 0, sizeof(fk));
    assert_true(orch_agent_job_due(&j, 0));
    assert_int_equal(orch_agent_job_call(&j, &fake_agent, "http://a",
                                         "u1-prepare", req, NULL, NULL, 0),
                     0);
    assert_int_equal(fk.gets, 1);
    assert_string_equal(fk.id, "u1-prepare");
    assert_true(j.busy);
    assert_false(orch_agent_job_due(&j, 0));
    assert_int_equal(
        orch_agent_job_answer(&j, "u1-prepare", "u1", 0, 404, NULL, 5),
        ORCH_JOB_ABSENT);
    assert_true(j.absent && !j.exists && !j.busy);
    assert_int_equal(j.next_ms, 5);

    assert_int_equal(orch_agent_job_call(&j, &fake_agent, "http://a",
                                         "u1-prepare", req, NULL, NULL, 5),
                     0);
    assert_int_equal(fk.submits, 1);
    assert_true(j.posted);
    assert_int_equal(
        orch_agent_job_answer(&j, "u1-prepare", "u1", 0, 202, run, 10),
        ORCH_JOB_ANSWERED);
    assert_true(j.exists && !j.absent && j.fresh && !j.posted);
    assert_int_equal(j.state, ORCH_JOB_RUNNING);
    assert_int_equal(j.next_ms, 20);
    for (int64_t now = 20, want = 40; now <= 70; now = want, want += 30) {
        assert_false(orch_agent_job_due(&j, now - 1));
        assert_true(orch_agent_job_due(&j, now));
        j.busy = true;
        assert_int_equal(
            orch_agent_job_answer(&j, "u1-prepare", "u1", 0, 200, run, now),
            ORCH_JOB_ANSWERED);
        assert_int_equal(j.next_ms, want);
    }
    j.busy = true;
    assert_int_equal(
        orch_agent_job_answer(&j, "u1-prepare", "u1", 0, 200, done, 100),
        ORCH_JOB_ANSWERED);
    assert_true(orch_agent_job_final(&j));
    assert_false(orch_agent_job_due(&j, 1000000));
    assert_string_equal(json_string_value(json_object_get(j.obj, "state")),
                        "Succeeded");
    orch_agent_job_clear(&j);
    assert_null(j.obj);
    json_decref(run);
    json_decref(done);
    json_decref(req);
}

/* No answer, an error status, another job's answer: failed calls, put off
 * by the backoff, the reason kept; an answer clears it. */
static void test_failed_calls(void **state)
{
    struct orch_agent_job j = job_new();
    json_t *other = obj("u2-prepare", "u1", "Running");
    json_t *other_mig = obj("u1-prepare", "u9", "Running");
    json_t *ours = obj("u1-prepare", "u1", "Pending");
    (void)state;

    j.busy = true;
    assert_int_equal(orch_agent_job_answer(&j, "u1-prepare", "u1",
                                           -ECONNREFUSED, 0, NULL, 0),
                     ORCH_JOB_NO_ANSWER);
    assert_int_equal(j.fails, 1);
    assert_int_equal(j.next_ms, 1000);
    assert_string_equal(j.last_err, strerror(ECONNREFUSED));
    assert_int_equal(
        orch_agent_job_answer(&j, "u1-prepare", "u1", 0, 503, NULL, 1000),
        ORCH_JOB_NO_ANSWER);
    assert_string_equal(j.last_err, "HTTP 503");
    assert_int_equal(j.next_ms, 3000);
    assert_int_equal(
        orch_agent_job_answer(&j, "u1-prepare", "u1", 0, 200, other, 3000),
        ORCH_JOB_FOREIGN);
    assert_non_null(strstr(j.last_err, "another job 'u2-prepare'"));
    assert_int_equal(
        orch_agent_job_answer(&j, "u1-prepare", "u1", 0, 200, other_mig, 7000),
        ORCH_JOB_FOREIGN);
    assert_int_equal(j.fails, 4);
    assert_null(j.obj);
    /* Without a uid to check, only the id counts. */
    assert_int_equal(
        orch_agent_job_answer(&j, "u1-prepare", NULL, 0, 200, other_mig, 15000),
        ORCH_JOB_ANSWERED);
    assert_int_equal(
        orch_agent_job_answer(&j, "u1-prepare", "u1", 0, 200, ours, 15010),
        ORCH_JOB_ANSWERED);
    assert_int_equal(j.fails, 0);
    assert_string_equal(j.last_err, "");
    assert_int_equal(j.state, ORCH_JOB_PENDING);
    orch_agent_job_clear(&j);

    /* A call the client cannot make is a failed call too. */
    memset(&fk, 0, sizeof(fk));
    fk.fail = -EINVAL;
    j = job_new();
    j.absent = true;
    assert_int_equal(orch_agent_job_call(&j, &fake_agent, "ftp://x",
                                         "u1-prepare", ours, NULL, NULL, 50),
                     -EINVAL);
    assert_int_equal(fk.submits, 1);
    assert_false(j.busy || j.posted);
    assert_int_equal(j.next_ms, 1050);
    json_decref(other);
    json_decref(other_mig);
    json_decref(ours);
}

/* A submit refused with 400 or 409 is Failed for good, with the caller's
 * reason for 400 and Conflict for 409; 400 to a GET is only a failed call. */
static void test_refused(void **state)
{
    struct orch_agent_job j = job_new();
    json_t *msg = json_pack("{s:s}", "message", "start.vmi: Required value");
    (void)state;

    j.absent = j.posted = j.busy = true;
    assert_int_equal(orch_agent_job_answer(&j, "v-start", NULL, 0, 400, msg, 0),
                     ORCH_JOB_REFUSED);
    assert_true(orch_agent_job_final(&j));
    assert_int_equal(j.state, ORCH_JOB_FAILED);
    assert_string_equal(json_string_value(json_object_get(
                            json_object_get(j.obj, "error"), "reason")),
                        "InvalidSpec");
    assert_string_equal(json_string_value(json_object_get(
                            json_object_get(j.obj, "error"), "message")),
                        "start.vmi: Required value");
    orch_agent_job_clear(&j);

    j = job_new();
    j.posted = true;
    assert_int_equal(
        orch_agent_job_answer(&j, "v-start", NULL, 0, 409, NULL, 0),
        ORCH_JOB_REFUSED);
    assert_string_equal(json_string_value(json_object_get(
                            json_object_get(j.obj, "error"), "reason")),
                        "Conflict");
    orch_agent_job_clear(&j);

    j = job_new();
    assert_int_equal(orch_agent_job_answer(&j, "v-start", NULL, 0, 400, msg, 0),
                     ORCH_JOB_NO_ANSWER);
    assert_false(orch_agent_job_final(&j));
    json_decref(msg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_backoff),
        cmocka_unit_test(test_ask_submit_poll),
        cmocka_unit_test(test_failed_calls),
        cmocka_unit_test(test_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
