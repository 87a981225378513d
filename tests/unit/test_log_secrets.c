/*
 * No secret in any log (issue 13.3): the real orchestratord and migrator
 * (child processes) run at level debug with every kind of token in their
 * configuration - API tokens of each role, the agent tokens of both
 * directions - and are driven through what makes them log: requests with
 * the right tokens, with wrong ones (a token one character off, a node
 * token used on another node's report), a node report pushed by the
 * migrator with its token, a SIGHUP reload and a SIGTERM.  Then both logs
 * are searched for every token's value, and for a telling part of it.
 * The test first checks the logs say what was done (so an empty log, or
 * one of a daemon that never served, cannot pass).
 */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "tests/unit/support/daemon.h"
#include "tests/unit/support/httpc.h"

#define ADMIN_TOKEN  "admin-S3cr3t-aaaaaaaaaaaaaaaa"
#define VIEWER_TOKEN "viewer-S3cr3t-bbbbbbbbbbbbbbb"
#define NODE_TOKEN   "node-S3cr3t-ccccccccccccccccc"
#define AGENT_TOKEN  "agent-S3cr3t-ddddddddddddddd"
/* The admin token with its last character changed. */
#define WRONG_TOKEN "admin-S3cr3t-aaaaaaaaaaaaaaab"

static const char *const secrets[] = {ADMIN_TOKEN, VIEWER_TOKEN, NODE_TOKEN,
                                      AGENT_TOKEN, WRONG_TOKEN};

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");

    assert_non_null(f);
    assert_true(fputs(text, f) >= 0);
    assert_int_equal(fclose(f), 0);
}

/* Send one request with TOKEN; returns the HTTP status. */
static int request(int port, const char *method, const char *path,
                   const char *token, const char *body)
{
    char raw[2048], buf[16384];

    snprintf(raw, sizeof(raw),
             "%s %s HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"
             "Content-Type: application/json\r\nContent-Length: %zu\r\n"
             "Connection: close\r\n\r\n%s",
             method, path, token, body ? strlen(body) : 0, body ? body : "");
    return test_http_exchange(port, raw, strlen(raw), buf, sizeof(buf));
}

static void stop(pid_t pid)
{
    int status = 0;

    assert_int_equal(kill(pid, SIGTERM), 0);
    assert_int_equal(waitpid(pid, &status, 0), pid);
}

/* Wait up to 10 s for TEXT in the file at PATH. */
static void wait_log(const char *path, const char *text)
{
    for (int i = 0; i < 100; i++) {
        char *log = test_read_file(path, NULL);
        bool found = log && strstr(log, text);

        free(log);
        if (found)
            return;
        usleep(100 * 1000);
    }
    fail_msg("no '%s' in %s", text, path);
}

static void assert_no_secret(const char *path)
{
    char *log = test_read_file(path, NULL);

    assert_non_null(log);
    for (size_t i = 0; i < sizeof(secrets) / sizeof(*secrets); i++) {
        /* The whole value, and its secret middle part alone (a log line
         * that cut or quoted a token differently). */
        if (strstr(log, secrets[i]))
            fail_msg("'%s' is in %s:\n%s", secrets[i], path, log);
    }
    if (strstr(log, "S3cr3t"))
        fail_msg("part of a token is in %s:\n%s", path, log);
    free(log);
}

static void test_no_tokens_in_logs(void **state)
{
    char dir[] = "/tmp/test_log_secrets.XXXXXX";
    char oconf[256], mconf[256], olog[256], mlog[256], text[2048], url[64];
    char db[256], statedir[256], sysfs[256];
    pid_t opid = -1, mpid = -1;
    int oport, mport;
    (void)state;

    assert_non_null(mkdtemp(dir));
    snprintf(oconf, sizeof(oconf), "%s/orchestratord.conf", dir);
    snprintf(mconf, sizeof(mconf), "%s/migrator.conf", dir);
    snprintf(olog, sizeof(olog), "%s/orchestratord.log", dir);
    snprintf(mlog, sizeof(mlog), "%s/migrator.log", dir);
    snprintf(db, sizeof(db), "%s/orch.db", dir);
    snprintf(statedir, sizeof(statedir), "%s/state", dir);
    snprintf(sysfs, sizeof(sysfs), "%s/sys", dir);

    snprintf(text, sizeof(text),
             "listen = \"127.0.0.1:0\";\n"
             "database = \"%s\";\n"
             "log_level = \"debug\";\n"
             "agent_token = \"" AGENT_TOKEN "\";\n"
             "tokens = (\n"
             "  { name = \"ops\"; token = \"" ADMIN_TOKEN "\"; role = "
             "\"admin\"; },\n"
             "  { name = \"ro\"; token = \"" VIEWER_TOKEN "\"; role = "
             "\"viewer\"; },\n"
             "  { name = \"hv01\"; token = \"" NODE_TOKEN "\"; role = "
             "\"node\"; }\n"
             ");\n",
             db);
    write_file(oconf, text);
    oport = test_daemon_start(
        "orchestratord", (const char *const[]){"-f", oconf, NULL}, olog, &opid);

    /* Right and wrong tokens, each role, a node report for another node. */
    assert_int_equal(request(oport, "GET", "/api/v1/nodes", ADMIN_TOKEN, NULL),
                     200);
    assert_int_equal(request(oport, "GET", "/api/v1/nodes", VIEWER_TOKEN, NULL),
                     200);
    assert_int_equal(request(oport, "GET", "/api/v1/nodes", WRONG_TOKEN, NULL),
                     401);
    assert_int_equal(
        request(oport, "DELETE", "/api/v1/nodes/x", VIEWER_TOKEN, NULL), 403);
    assert_int_equal(request(oport, "PUT",
                             "/apis/agent.orchestrator.io/v1/nodereports/hv02",
                             NODE_TOKEN, "{}"),
                     403);

    /* A migrator with both of its tokens, reporting as hv01. */
    assert_int_equal(mkdir(statedir, 0700), 0);
    assert_int_equal(mkdir(sysfs, 0700), 0);
    snprintf(url, sizeof(url), "http://127.0.0.1:%d", oport);
    snprintf(text, sizeof(text),
             "name = \"hv01\";\n"
             "listen = \"127.0.0.1:0\";\n"
             "libvirt_uri = \"test:///default\";\n"
             "orchestrator = \"%s\";\n"
             "orchestrator_token = \"" NODE_TOKEN "\";\n"
             "agent_token = \"" AGENT_TOKEN "\";\n"
             "state_dir = \"%s\";\n"
             "sysfs_root = \"%s\";\n"
             "log_level = \"debug\";\n"
             "report_interval_s = 1;\n",
             url, statedir, sysfs);
    write_file(mconf, text);
    mport = test_daemon_start(
        "migrator", (const char *const[]){"-f", mconf, NULL}, mlog, &mpid);
    assert_int_equal(request(mport, "GET", "/v1/jobs", AGENT_TOKEN, NULL), 200);
    assert_int_equal(request(mport, "GET", "/v1/jobs", WRONG_TOKEN, NULL), 401);
    assert_int_equal(request(mport, "GET", "/v1/jobs", NODE_TOKEN, NULL), 401);
    wait_log(olog, "node report 'hv01'");

    /* A reload re-reads the tokens. */
    assert_int_equal(kill(opid, SIGHUP), 0);
    wait_log(olog, "SIGHUP: reloaded 3 tokens");
    stop(mpid);
    stop(opid);

    /* The logs say what happened, then that no secret is in them. */
    wait_log(olog, "serving HTTP on 127.0.0.1:");
    wait_log(olog, " 401");
    wait_log(mlog, "reporting to '");
    wait_log(mlog, "stopped");
    assert_no_secret(olog);
    assert_no_secret(mlog);

    unlink(oconf);
    unlink(mconf);
    unlink(olog);
    unlink(mlog);
    {
        char cmd[300];
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
        assert_int_equal(system(cmd), 0);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_no_tokens_in_logs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
