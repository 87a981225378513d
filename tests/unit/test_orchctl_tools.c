/*
 * Unit tests for what orchctl gained for scripts and shells (issue 13.4):
 * -o jsonpath templates (parsed and printed against documents, the errors
 * for what is not supported), `orchctl completion bash` (a script bash
 * accepts, naming every verb), and --dry-run on create and apply against a
 * fake API server on a thread that records each request: client sends no
 * write, server sends the writes with ?dryRun=All.
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include <event2/event.h>
#include <event2/thread.h>
#include <jansson.h>

#include "http/http.h"
#include "orchctl/orchctl.h"
#include "tests/unit/support/orchctl_run.h"

/* ---- jsonpath ----------------------------------------------------------- */

static const char *const doc_text =
    "{\"kind\":\"List\",\"items\":["
    "{\"metadata\":{\"name\":\"m1\",\"labels\":{\"kubevirt.io/vmi-name\":"
    "\"vm1\"}},\"status\":{\"phase\":\"Succeeded\",\"n\":3}},"
    "{\"metadata\":{\"name\":\"m2\",\"labels\":{}},\"status\":{\"phase\":"
    "\"Running\",\"ok\":true,\"o\":{\"a\":[1,2]}}}]}";

/* Print TMPL against doc_text; returns the output (caller frees). */
static char *jp(const char *tmpl)
{
    struct orchctl_jsonpath *t = NULL;
    json_t *doc = json_loads(doc_text, 0, NULL);
    char err[256], *buf = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&buf, &len);

    assert_non_null(doc);
    assert_non_null(out);
    if (orchctl_jsonpath_parse(tmpl, &t, err, sizeof(err)) < 0)
        fail_msg("template '%s': %s", tmpl, err);
    assert_int_equal(orchctl_jsonpath_print(t, out, doc), 0);
    fclose(out);
    orchctl_jsonpath_free(t);
    json_decref(doc);
    return buf;
}

static void expect_jp(const char *tmpl, const char *want)
{
    char *got = jp(tmpl);

    if (strcmp(got, want) != 0)
        fail_msg("template '%s': got '%s', want '%s'", tmpl, got, want);
    free(got);
}

static void expect_jp_error(const char *tmpl, const char *reason)
{
    struct orchctl_jsonpath *t = NULL;
    char err[256] = "";

    assert_int_equal(orchctl_jsonpath_parse(tmpl, &t, err, sizeof(err)),
                     -EINVAL);
    assert_null(t);
    if (!strstr(err, reason))
        fail_msg("template '%s': error '%s', want '%s'", tmpl, err, reason);
}

static void test_jsonpath(void **state)
{
    (void)state;
    expect_jp("{.kind}", "List");
    expect_jp("{.items[*].metadata.name}", "m1 m2");
    expect_jp("{.items[0].status.phase}", "Succeeded");
    expect_jp("{.items[-1].metadata.name}", "m2");
    expect_jp("{.items[5].metadata.name}", "");
    expect_jp("{$.items[1].status.ok} {.items[0].status.n}", "true 3");
    expect_jp("{.items[1].status.o}", "{\"a\":[1,2]}");
    expect_jp("{.items[0].metadata.labels.kubevirt\\.io/vmi-name}", "vm1");
    expect_jp("{.items[0].metadata.labels['kubevirt.io/vmi-name']}", "vm1");
    expect_jp("{.nosuch.field}x", "x");
    expect_jp("name: {.items[0].metadata.name}\n", "name: m1\n");
    expect_jp("{range .items[*]}{.metadata.name}{\"\\t\"}{.status.phase}"
              "{\"\\n\"}{end}",
              "m1\tSucceeded\nm2\tRunning\n");
    expect_jp("{range .items[*]}[{@.metadata.name}:{range .status.o.a[*]}"
              "<{.}>{end}]{end}",
              "[m1:][m2:<1><2>]");
    expect_jp("{'}'}{\"a\\\"b\"}", "}a\"b");
    expect_jp("{.items[0].status.*}", "Succeeded 3");

    expect_jp_error("{.items[?(@.x)]}", "unsupported subscript");
    expect_jp_error("{.items[1:2]}", "unsupported subscript");
    expect_jp_error("{..name}", "recursive descent");
    expect_jp_error("{range .items[*]}{.x}", "{range} without {end}");
    expect_jp_error("{end}", "{end} without {range}");
    expect_jp_error("{.a", "unclosed action");
    expect_jp_error("{.a[0}", "unclosed '['");
    expect_jp_error("{a.b}", "unexpected 'a'");
}

/* A name the server sends must not reach the terminal raw. */
static void test_jsonpath_escapes(void **state)
{
    struct orchctl_jsonpath *t = NULL;
    json_t *doc = json_pack("{s:s}", "name", "a\033]0;x\007b");
    char err[64], *buf = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&buf, &len);
    (void)state;

    assert_int_equal(orchctl_jsonpath_parse("{.name}", &t, err, sizeof(err)),
                     0);
    assert_int_equal(orchctl_jsonpath_print(t, out, doc), 0);
    fclose(out);
    assert_string_equal(buf, "a^[]0;x^Gb");
    free(buf);
    orchctl_jsonpath_free(t);
    json_decref(doc);
}

/* ---- completion -----------------------------------------------------------
 */

static void test_completion(void **state)
{
    struct run r;
    char path[] = "/tmp/orchctl-completion.XXXXXX", cmd[256];
    int fd;
    (void)state;

    run_orchctl(&(struct run_opts){0}, &r, "completion", "bash", NULL);
    assert_int_equal(r.rc, 0);
    assert_non_null(strstr(r.out, "complete -o default -F _orchctl orchctl"));
    for (const struct orchctl_verb *v = orchctl_verbs; v->name; v++) {
        char word[64];
        snprintf(word, sizeof(word), " %s", v->name);
        if (!strstr(r.out, word))
            fail_msg("verb '%s' is not in the completion script", v->name);
    }
    assert_non_null(strstr(r.out, "--dry-run"));
    assert_non_null(strstr(r.out, "jsonpath="));
    /* bash accepts it, and it completes a verb from a prefix. */
    fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, r.out, strlen(r.out)), (ssize_t)strlen(r.out));
    close(fd);
    snprintf(cmd, sizeof(cmd),
             "bash -c '. %s && COMP_WORDS=(orchctl migrate-c) COMP_CWORD=1 "
             "&& _orchctl && [ \"${COMPREPLY[*]}\" = migrate-cancel ]'",
             path);
    assert_int_equal(system(cmd), 0);
    unlink(path);
    run_clear(&r);

    run_orchctl(&(struct run_opts){0}, &r, "completion", "zsh", NULL);
    assert_int_equal(r.rc, 2);
    assert_non_null(strstr(r.err, "unsupported shell \"zsh\""));
    run_clear(&r);
}

/* ---- dry run against a recording server -------------------------------- */

struct fake {
    struct event_base *base;
    struct http_server *http;
    pthread_t thread;
    pthread_mutex_t lock;
    char log[4096]; /* "METHOD PATH?QUERY\n" per request */
    bool exists;    /* GET of the object answers 200 */
};

static struct fake fake;

static void fake_handler(const struct http_request *req,
                         struct http_response *resp, void *arg)
{
    struct fake *f = arg;
    const char *dry = http_request_param(req, "dryRun");
    size_t used;

    pthread_mutex_lock(&f->lock);
    used = strlen(f->log);
    snprintf(f->log + used, sizeof(f->log) - used, "%s %s%s%s\n",
             http_method_name(req->method), req->path, dry ? " dryRun=" : "",
             dry ? dry : "");
    resp->content_type = "application/json";
    if (req->method == HTTP_METHOD_GET && !f->exists) {
        resp->status = 404;
        resp->body = strdup("{\"kind\":\"Status\",\"code\":404}");
    } else {
        resp->status = req->method == HTTP_METHOD_POST ? 201 : 200;
        resp->body = strdup(
            "{\"apiVersion\":\"migrations.kubevirt.io/v1alpha1\",\"kind\":"
            "\"MigrationPolicy\",\"metadata\":{\"name\":\"p1\","
            "\"resourceVersion\":\"7\"},\"spec\":{\"allowPostCopy\":false}}");
    }
    resp->body_len = strlen(resp->body);
    pthread_mutex_unlock(&f->lock);
}

static void *fake_loop(void *arg)
{
    event_base_dispatch(((struct fake *)arg)->base);
    return NULL;
}

static const char *const policy =
    "apiVersion: migrations.kubevirt.io/v1alpha1\n"
    "kind: MigrationPolicy\n"
    "metadata:\n  name: p1\n"
    "spec:\n  allowPostCopy: true\n";

/* Run orchctl VERB -f - --dry-run=MODE with the policy on stdin; returns
 * what the server saw. */
static char *dry_run(const char *server, const char *verb, const char *mode,
                     bool exists, const char *want_out)
{
    char flag[64];
    struct run r;
    char *seen;

    pthread_mutex_lock(&fake.lock);
    fake.log[0] = '\0';
    fake.exists = exists;
    pthread_mutex_unlock(&fake.lock);
    snprintf(flag, sizeof(flag), "--dry-run=%s", mode);
    run_orchctl(&(struct run_opts){.server = server, .input = policy}, &r, verb,
                "-f", "-", flag, NULL);
    if (r.rc != 0 || strcmp(r.out, want_out) != 0)
        fail_msg("orchctl %s %s: rc %d, out '%s' err '%s', want '%s'", verb,
                 flag, r.rc, r.out, r.err, want_out);
    run_clear(&r);
    pthread_mutex_lock(&fake.lock);
    seen = strdup(fake.log);
    pthread_mutex_unlock(&fake.lock);
    return seen;
}

static void test_dry_run(void **state)
{
    const char *coll =
        "/apis/migrations.kubevirt.io/v1alpha1/migrationpolicies";
    struct http_server_opts o = {0};
    char err[256], server[64], want[512], *seen;
    uint16_t port = 0;
    struct run r;
    (void)state;

    evthread_use_pthreads();
    pthread_mutex_init(&fake.lock, NULL);
    fake.base = event_base_new();
    assert_non_null(fake.base);
    assert_int_equal(http_server_new(fake.base, &o, fake_handler, &fake,
                                     &fake.http, err, sizeof(err)),
                     0);
    assert_int_equal(http_server_bind(fake.http, "127.0.0.1", 0, &port), 0);
    assert_int_equal(pthread_create(&fake.thread, NULL, fake_loop, &fake), 0);
    snprintf(server, sizeof(server), "http://127.0.0.1:%u", (unsigned)port);

    /* create: client sends nothing, server posts with dryRun=All. */
    seen = dry_run(server, "create", "client", false,
                   "migrationpolicy.migrations.kubevirt.io/p1 created "
                   "(dry run)\n");
    assert_string_equal(seen, "");
    free(seen);
    seen = dry_run(server, "create", "server", false,
                   "migrationpolicy.migrations.kubevirt.io/p1 created "
                   "(server dry run)\n");
    snprintf(want, sizeof(want), "POST %s?dryRun=All dryRun=All\n", coll);
    assert_string_equal(seen, want);
    free(seen);

    /* apply over an existing object: client reads it only, server PUTs
     * with dryRun=All. */
    seen = dry_run(server, "apply", "client", true,
                   "migrationpolicy.migrations.kubevirt.io/p1 configured "
                   "(dry run)\n");
    snprintf(want, sizeof(want), "GET %s/p1\n", coll);
    assert_string_equal(seen, want);
    free(seen);
    seen = dry_run(server, "apply", "server", true,
                   "migrationpolicy.migrations.kubevirt.io/p1 configured "
                   "(server dry run)\n");
    snprintf(want, sizeof(want), "GET %s/p1\nPUT %s/p1?dryRun=All dryRun=All\n",
             coll, coll);
    assert_string_equal(seen, want);
    free(seen);
    /* apply of a new object under server dry run: POST with dryRun. */
    seen = dry_run(server, "apply", "server", false,
                   "migrationpolicy.migrations.kubevirt.io/p1 created "
                   "(server dry run)\n");
    snprintf(want, sizeof(want), "GET %s/p1\nPOST %s?dryRun=All dryRun=All\n",
             coll, coll);
    assert_string_equal(seen, want);
    free(seen);

    /* none: the plain write; a bad value and a verb without the flag are
     * usage errors. */
    seen = dry_run(server, "create", "none", false,
                   "migrationpolicy.migrations.kubevirt.io/p1 created\n");
    snprintf(want, sizeof(want), "POST %s\n", coll);
    assert_string_equal(seen, want);
    free(seen);
    run_orchctl(&(struct run_opts){.server = server, .input = policy}, &r,
                "create", "-f", "-", "--dry-run=maybe", NULL);
    assert_int_equal(r.rc, 2);
    assert_non_null(strstr(r.err, "Invalid dry-run value (maybe)"));
    run_clear(&r);
    run_orchctl(&(struct run_opts){.server = server}, &r, "delete", "vmim", "x",
                "--dry-run=server", NULL);
    assert_int_equal(r.rc, 2);
    assert_non_null(strstr(r.err, "unknown flag: --dry-run"));
    run_clear(&r);

    event_base_loopbreak(fake.base);
    pthread_join(fake.thread, NULL);
    http_server_free(fake.http);
    event_base_free(fake.base);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_jsonpath),
        cmocka_unit_test(test_jsonpath_escapes),
        cmocka_unit_test(test_completion),
        cmocka_unit_test(test_dry_run),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
