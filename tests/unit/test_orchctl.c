/*
 * Unit tests for orchctl/: argument parsing, kind resolution, ages, tables,
 * describe, error wording and exit codes in-process; then the real
 * build/bin/orchctl run against a fake HTTP server (libevent evhttp in a
 * thread, canned JSON per path) with its stdout, stderr and exit code
 * asserted.
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
#include <sys/socket.h>
#include <sys/stat.h>
#include <netinet/in.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/thread.h>

#include "api/api.h"
#include "orchctl/orchctl.h"
#include "tests/unit/support/orchctl_run.h"

/* ------------------------------------------------------------------ */
/* Helpers                                                             */
/* ------------------------------------------------------------------ */

/* Parse argv given as a NULL-terminated list; the error text goes into
 * *ret_err (caller frees). */
static int parse(struct orchctl_opts *o, char **ret_err, ...)
{
    char *argv[32];
    int argc = 0;
    va_list ap;
    char *buf = NULL;
    size_t len = 0;
    FILE *err = open_memstream(&buf, &len);
    int r;

    argv[argc++] = "orchctl";
    va_start(ap, ret_err);
    for (;;) {
        char *a = va_arg(ap, char *);

        if (!a)
            break;
        argv[argc++] = a;
    }
    va_end(ap);
    argv[argc] = NULL;
    r = orchctl_args_parse(argc, argv, o, err);
    fclose(err);
    *ret_err = buf;
    return r;
}

static char *iso_ago(long seconds)
{
    static char buf[4][32];
    static int n;
    time_t t = time(NULL) - seconds;
    struct tm tm;
    char *b = buf[n++ % 4];

    gmtime_r(&t, &tm);
    strftime(b, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return b;
}

static json_t *load(const char *text)
{
    json_error_t jerr;
    json_t *j = json_loads(text, 0, &jerr);

    if (!j)
        fail_msg("bad test JSON: %s: %s", jerr.text, text);
    return j;
}

/* ------------------------------------------------------------------ */
/* In-process: parsing                                                 */
/* ------------------------------------------------------------------ */

static void test_args_get(void **state)
{
    struct orchctl_opts o;
    char *err;

    (void)state;
    assert_int_equal(parse(&o, &err, "get", "vmim", "-n", "lab", "-o", "json",
                           "-l", "a=b", "-w", NULL),
                     0);
    assert_string_equal(err, "");
    free(err);
    assert_string_equal(o.verb->name, "get");
    assert_int_equal(o.nargs, 1);
    assert_string_equal(o.args[0], "vmim");
    assert_string_equal(o.namespace, "lab");
    assert_int_equal(o.output, ORCHCTL_OUTPUT_JSON);
    assert_string_equal(o.selector, "a=b");
    assert_true(o.watch);

    /* Global flags before the verb, --flag=value and -nVALUE forms. */
    assert_int_equal(parse(&o, &err, "--server=http://h:1", "-nprod", "get",
                           "vm", "x", "--output=yaml", "-A", NULL),
                     0);
    free(err);
    assert_string_equal(o.server, "http://h:1");
    assert_string_equal(o.namespace, "prod");
    assert_int_equal(o.output, ORCHCTL_OUTPUT_YAML);
    assert_true(o.all_namespaces);
    assert_int_equal(o.nargs, 2);
    assert_string_equal(o.args[1], "x");
    /* A request timeout unless told otherwise, so cron never hangs. */
    assert_int_equal(o.request_timeout_ms, ORCHCTL_DEFAULT_REQUEST_TIMEOUT_MS);
    assert_int_equal(ORCHCTL_DEFAULT_REQUEST_TIMEOUT_MS, 60000);

    /* --request-timeout, kubectl's: a duration, bare seconds, 0 never. */
    assert_int_equal(
        parse(&o, &err, "--request-timeout=1m30s", "get", "vm", NULL), 0);
    free(err);
    assert_int_equal(o.request_timeout_ms, 90000);
    assert_int_equal(
        parse(&o, &err, "get", "vm", "--request-timeout", "0", NULL), 0);
    free(err);
    assert_int_equal(o.request_timeout_ms, 0);
    assert_int_equal(parse(&o, &err, "version", "--request-timeout", "5", NULL),
                     0);
    free(err);
    assert_int_equal(o.request_timeout_ms, 5000);
    assert_int_equal(
        parse(&o, &err, "get", "vm", "--request-timeout", "soon", NULL),
        -EINVAL);
    assert_string_equal(err, "error: invalid argument \"soon\" for "
                             "\"--request-timeout\" flag: invalid duration "
                             "\"soon\"\n");
    free(err);

    /* wide is an output of its own, not the plain table. */
    assert_int_equal(parse(&o, &err, "get", "no", "-o", "wide", NULL), 0);
    free(err);
    assert_int_equal(o.output, ORCHCTL_OUTPUT_WIDE);
    assert_int_equal(parse(&o, &err, "get", "no", "-otable", NULL), 0);
    free(err);
    assert_int_equal(o.output, ORCHCTL_OUTPUT_TABLE);
}

static void test_args_migrate(void **state)
{
    struct orchctl_opts o;
    char *err;

    (void)state;
    assert_int_equal(parse(&o, &err, "migrate", "vm1", "--to", "node2",
                           "--wait", "--timeout", "1m30s", NULL),
                     0);
    free(err);
    assert_string_equal(o.verb->name, "migrate");
    assert_string_equal(o.args[0], "vm1");
    assert_string_equal(o.to, "node2");
    assert_true(o.wait);
    assert_int_equal(o.timeout_ms, 90000);
}

static void test_args_errors(void **state)
{
    static const struct {
        const char *argv[6];
        const char *err;
    } cases[] = {
        {{NULL}, "error: missing command\nSee 'orchctl -h' for help.\n"},
        {{"frobnicate"},
         "error: unknown command \"frobnicate\" for \"orchctl\"\n"
         "See 'orchctl -h' for help.\n"},
        {{"get"},
         "error: you must specify the type of resource to get\n"
         "See 'orchctl get -h' for help.\n"},
        {{"get", "vmim", "--to", "x"},
         "error: unknown flag: --to\nSee 'orchctl get -h' for help.\n"},
        {{"get", "vmim", "--bogus"},
         "error: unknown flag: --bogus\nSee 'orchctl -h' for help.\n"},
        {{"get", "vmim", "-Z"},
         "error: unknown shorthand flag: 'Z' in -Z\n"
         "See 'orchctl -h' for help.\n"},
        {{"get", "vmim", "-n"}, "error: flag needs an argument: -n\n"},
        {{"get", "vmim", "-o", "xml"},
         "error: unable to match a printer suitable for the output format "
         "\"xml\", allowed formats are: json,jsonpath,name,table,wide,yaml\n"},
        {{"migrate"},
         "error: migrate needs the name of a VM\n"
         "See 'orchctl migrate -h' for help.\n"},
        {{"migrate", "vm1", "--to", "a", "--selector", "k=v"},
         "error: --to and --selector cannot be used together\n"
         "See 'orchctl migrate -h' for help.\n"},
        {{"migrate", "vm1", "--wait", "--timeout", "soon"},
         "error: invalid argument \"soon\" for \"--timeout\" flag: invalid "
         "duration \"soon\"\n"},
        {{"describe", "vmim"},
         "error: describe needs a KIND and a NAME\n"
         "See 'orchctl describe -h' for help.\n"},
        {{"describe", "vmim", "a", "b"},
         "error: unexpected argument \"b\" for \"orchctl describe\"\n"
         "See 'orchctl describe -h' for help.\n"},
    };
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct orchctl_opts o;
        char *err;
        const char *const *a = cases[i].argv;

        assert_int_equal(
            parse(&o, &err, a[0], a[0] ? a[1] : NULL,
                  a[0] && a[1] ? a[2] : NULL,
                  a[0] && a[1] && a[2] ? a[3] : NULL,
                  a[0] && a[1] && a[2] && a[3] ? a[4] : NULL,
                  a[0] && a[1] && a[2] && a[3] && a[4] ? a[5] : NULL, NULL),
            -EINVAL);
        assert_string_equal(err, cases[i].err);
        free(err);
    }
}

/* orchctl_main returns the exit codes: 2 for usage, 0 for -h. */
static void test_main_exit_codes(void **state)
{
    char *out = NULL, *err = NULL;
    size_t olen, elen;
    FILE *fo, *fe;
    char *help[] = {"orchctl", "get", "-h", NULL};
    char *bad[] = {"orchctl", "get", "nonsense", NULL};
    char *badsrv[] = {"orchctl", "-s", "ftp://x", "get", "vmim", NULL};

    (void)state;
    setenv("HOME", "/nonexistent-orchctl-test", 1);
    unsetenv("XDG_CONFIG_HOME");
    fo = open_memstream(&out, &olen);
    fe = open_memstream(&err, &elen);
    assert_int_equal(orchctl_main(3, help, fo, fe), ORCHCTL_EXIT_OK);
    fflush(fo);
    assert_non_null(strstr(out, "Usage: orchctl get KIND [NAME]"));
    assert_non_null(strstr(out, "--all-namespaces"));
    assert_non_null(strstr(out, "wide (more columns)"));
    {
        char *top[] = {"orchctl", "-h", NULL};

        assert_int_equal(orchctl_main(2, top, fo, fe), ORCHCTL_EXIT_OK);
        fflush(fo);
        assert_non_null(strstr(out, "\n  cordon           mark a node "
                                    "unschedulable"));
        assert_non_null(strstr(out, "\n  uncordon         mark a node "
                                    "schedulable again\n"));
    }
    assert_int_equal(orchctl_main(3, bad, fo, fe), ORCHCTL_EXIT_USAGE);
    assert_int_equal(orchctl_main(5, badsrv, fo, fe), ORCHCTL_EXIT_USAGE);
    fclose(fo);
    fclose(fe);
    assert_string_equal(
        err, "error: the server doesn't have a resource type \"nonsense\"\n"
             "error: server 'ftp://x' is not an http:// or https:// URL\n");
    free(out);
    free(err);
}

/* ------------------------------------------------------------------ */
/* In-process: kinds, times, durations                                 */
/* ------------------------------------------------------------------ */

static void test_kind_resolution(void **state)
{
    static const struct {
        const char *name;
        const char *kind;
    } ok[] = {
        {"vmim", "VirtualMachineInstanceMigration"},
        {"VMIM", "VirtualMachineInstanceMigration"},
        {"virtualmachineinstancemigrations", "VirtualMachineInstanceMigration"},
        {"virtualmachineinstancemigration", "VirtualMachineInstanceMigration"},
        {"VirtualMachineInstanceMigration", "VirtualMachineInstanceMigration"},
        {"vmim.kubevirt.io", "VirtualMachineInstanceMigration"},
        {"vmi", "VirtualMachineInstance"},
        {"vmis", "VirtualMachineInstance"},
        {"vm", "VirtualMachine"},
        {"virtualmachines", "VirtualMachine"},
        {"node", "Node"},
        {"no", "Node"},
        {"nodes", "Node"},
        {"migrationpolicy", "MigrationPolicy"},
        {"migrationpolicies.migrations.kubevirt.io", "MigrationPolicy"},
    };
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        const struct orchctl_kind *k = orchctl_kind_find(ok[i].name);

        assert_non_null(k);
        assert_string_equal(k->kind, ok[i].kind);
    }
    assert_null(orchctl_kind_find("pods"));
    assert_null(orchctl_kind_find("vmim.example.com"));
    assert_null(orchctl_kind_find(""));
    assert_null(orchctl_kind_find("vmimx"));
}

/* Every kind api serves has columns here, under the same names. */
static void test_kind_table_matches_api(void **state)
{
    size_t n, i;
    const struct api_kind_info *t = api_kind_table(&n);

    (void)state;
    assert_int_equal(n, 5);
    for (i = 0; i < n; i++) {
        const struct orchctl_kind *k = orchctl_kind_find(t[i].kind_name);

        assert_non_null(k);
        assert_string_equal(k->kind, t[i].kind_name);
        assert_string_equal(k->plural, t[i].plural);
        assert_string_equal(k->singular, t[i].singular);
        assert_string_equal(k->group, t[i].group);
        assert_string_equal(k->version, t[i].version);
        assert_int_equal(k->namespaced, t[i].namespaced);
        assert_true(k->ncolumns >= 2);
        assert_string_equal(k->columns[0].header, "NAME");
    }
}

static void test_kind_paths(void **state)
{
    char *p;
    char res[128];

    (void)state;
    p = orchctl_kind_path(orchctl_kind_find("vmim"), "lab");
    assert_string_equal(
        p,
        "/apis/kubevirt.io/v1/namespaces/lab/virtualmachineinstancemigrations");
    free(p);
    p = orchctl_kind_path(orchctl_kind_find("vmi"), NULL);
    assert_string_equal(p, "/apis/kubevirt.io/v1/virtualmachineinstances");
    free(p);
    p = orchctl_object_path(orchctl_kind_find("no"), "ignored", "host1");
    assert_string_equal(p, "/api/v1/nodes/host1");
    free(p);
    p = orchctl_object_path(orchctl_kind_find("migrationpolicy"), "x", "fast");
    assert_string_equal(
        p, "/apis/migrations.kubevirt.io/v1alpha1/migrationpolicies/fast");
    free(p);
    /* A name or namespace (maybe the server's) cannot aim elsewhere. */
    p = orchctl_object_path(orchctl_kind_find("vm"), "a/../b",
                            "../../x?y#\x1b");
    assert_string_equal(p, "/apis/kubevirt.io/v1/namespaces/a%2F..%2Fb/"
                           "virtualmachines/..%2F..%2Fx%3Fy%23%1B");
    free(p);
    p = orchctl_object_path(orchctl_kind_find("vm"), ".", "..");
    assert_string_equal(p, "/apis/kubevirt.io/v1/namespaces/%2E/"
                           "virtualmachines/%2E%2E");
    free(p);
    orchctl_kind_resource(orchctl_kind_find("vmim"), res, sizeof(res));
    assert_string_equal(res, "virtualmachineinstancemigration.kubevirt.io");
    orchctl_kind_resource(orchctl_kind_find("nodes"), res, sizeof(res));
    assert_string_equal(res, "node");
}

static void test_age_format(void **state)
{
    static const struct {
        long long s;
        const char *want;
    } cases[] = {
        {-5, "<invalid>"},
        {-1, "0s"},
        {0, "0s"},
        {5, "5s"},
        {119, "119s"},
        {120, "2m"},
        {200, "3m20s"},
        {599, "9m59s"},
        {600, "10m"},
        {3 * 3600 - 1, "179m"},
        {3 * 3600, "3h"},
        {2 * 3600 + 600, "2h10m"}, /* minutes < 180: still minutes */
        {7 * 3600 + 1800, "7h30m"},
        {8 * 3600, "8h"},
        {47 * 3600, "47h"},
        {2 * 86400, "2d"},
        {4 * 86400 + 5 * 3600, "4d5h"},
        {8 * 86400, "8d"},
        {400 * 86400, "400d"},
        {2 * 365 * 86400LL, "2y"},
        {(3 * 365 + 10) * 86400LL, "3y10d"},
        {9 * 365 * 86400LL, "9y"},
    };
    size_t i;
    char buf[32];

    (void)state;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        orchctl_age_format(cases[i].s, buf, sizeof(buf));
        /* 2h10m is 130 minutes: kubectl prints "130m". */
        if (cases[i].s == 2 * 3600 + 600)
            assert_string_equal(buf, "130m");
        else
            assert_string_equal(buf, cases[i].want);
    }
}

static void test_time_and_duration(void **state)
{
    time_t t;
    long long ms;

    (void)state;
    assert_int_equal(orchctl_time_parse("1970-01-01T00:01:40Z", &t), 0);
    assert_int_equal(t, 100);
    assert_int_equal(orchctl_time_parse("1970-01-01T01:01:40.123+01:00", &t),
                     0);
    assert_int_equal(t, 100);
    assert_int_equal(orchctl_time_parse("1970-01-01T00:01:40", &t), -EINVAL);
    assert_int_equal(orchctl_time_parse("yesterday", &t), -EINVAL);
    assert_int_equal(orchctl_time_parse("1970-01-01T00:01:40Zjunk", &t),
                     -EINVAL);

    assert_int_equal(orchctl_duration_parse("30", &ms), 0);
    assert_int_equal(ms, 30000);
    assert_int_equal(orchctl_duration_parse("500ms", &ms), 0);
    assert_int_equal(ms, 500);
    assert_int_equal(orchctl_duration_parse("1h30m", &ms), 0);
    assert_int_equal(ms, 5400000);
    assert_int_equal(orchctl_duration_parse("2m5s", &ms), 0);
    assert_int_equal(ms, 125000);
    assert_int_equal(orchctl_duration_parse("", &ms), -EINVAL);
    assert_int_equal(orchctl_duration_parse("5x", &ms), -EINVAL);
    assert_int_equal(orchctl_duration_parse("m", &ms), -EINVAL);
    assert_int_equal(orchctl_duration_parse("-5s", &ms), -EINVAL);
}

/* ------------------------------------------------------------------ */
/* In-process: tables, describe, errors, progress                      */
/* ------------------------------------------------------------------ */

#define NOW 1700000000L /* 2023-11-14T22:13:20Z */

/* The table of objs for kind, -o wide when wide, with node_vmis (JSON
 * text, NULL for none) as the VMI counts of Node's VMIS column. */
static char *render_with(const char *kind, bool with_ns, bool wide,
                         const char *node_vmis, const char *const *objs)
{
    struct orchctl_table *t =
        orchctl_table_new(orchctl_kind_find(kind), with_ns, wide);
    json_t *counts = node_vmis ? load(node_vmis) : NULL;
    char *buf = NULL;
    size_t len;
    FILE *f = open_memstream(&buf, &len);

    orchctl_table_set_node_vmis(t, counts);
    for (; *objs; objs++) {
        json_t *o = load(*objs);

        assert_int_equal(orchctl_table_add(t, o, NOW), 0);
        json_decref(o);
    }
    orchctl_table_flush(t, f, true);
    orchctl_table_free(t);
    json_decref(counts);
    fclose(f);
    return buf;
}

static char *render(const char *kind, bool with_ns, const char *const *objs)
{
    return render_with(kind, with_ns, false, NULL, objs);
}

static const char vmim_done[] =
    "{\"metadata\":{\"name\":\"migration-job\",\"namespace\":\"default\","
    "\"creationTimestamp\":\"2023-11-14T22:13:15Z\"},"
    "\"spec\":{\"vmiName\":\"vmi-fedora\"},"
    "\"status\":{\"phase\":\"Succeeded\",\"migrationState\":{"
    "\"sourceNode\":\"node1\",\"targetNode\":\"node2\"}}}";
static const char vmim_running[] =
    "{\"metadata\":{\"name\":\"kubevirt-migrate-vm-x7k2p\","
    "\"namespace\":\"lab\",\"creationTimestamp\":\"2023-11-14T19:13:20Z\"},"
    "\"spec\":{\"vmiName\":\"vm2\"},"
    "\"status\":{\"phase\":\"Running\",\"migrationState\":{"
    "\"sourceNode\":\"node2\"}}}";

static void test_table_vmim(void **state)
{
    const char *objs[] = {vmim_done, vmim_running, NULL};
    char *out;

    (void)state;
    out = render("vmim", false, objs);
    assert_string_equal(out, "NAME                        PHASE       VMI      "
                             "    SOURCE   TARGET   AGE\n"
                             "migration-job               Succeeded   "
                             "vmi-fedora   node1    node2    5s\n"
                             "kubevirt-migrate-vm-x7k2p   Running     vm2      "
                             "    node2             3h\n");
    free(out);
    out = render("vmim", true, objs);
    assert_string_equal(out, "NAMESPACE   NAME                        PHASE    "
                             "   VMI          SOURCE   TARGET   AGE\n"
                             "default     migration-job               "
                             "Succeeded   vmi-fedora   node1    node2    5s\n"
                             "lab         kubevirt-migrate-vm-x7k2p   Running  "
                             "   vm2          node2             3h\n");
    free(out);
}

static void test_table_other_kinds(void **state)
{
    const char *vmis[] = {
        "{\"metadata\":{\"name\":\"vmi-fedora\","
        "\"creationTimestamp\":\"2023-11-10T22:13:20Z\"},"
        "\"status\":{\"phase\":\"Running\",\"nodeName\":\"node1\","
        "\"interfaces\":[{\"ipAddress\":\"10.10.10.12\"}],"
        "\"conditions\":[{\"type\":\"Ready\",\"status\":\"True\"}]}}",
        "{\"metadata\":{\"name\":\"vmi-new\","
        "\"creationTimestamp\":\"2023-11-14T22:12:20Z\"},"
        "\"status\":{\"phase\":\"Pending\"}}",
        NULL};
    const char *vms[] = {"{\"metadata\":{\"name\":\"vm1\","
                         "\"creationTimestamp\":\"2023-11-14T22:03:20Z\"},"
                         "\"status\":{\"printableStatus\":\"Running\","
                         "\"ready\":true}}",
                         NULL};
    const char *nodes[] = {
        "{\"metadata\":{\"name\":\"node1\","
        "\"creationTimestamp\":\"2023-11-04T22:13:20Z\",\"labels\":{"
        "\"node-role.kubernetes.io/hypervisor\":\"\"}},"
        "\"status\":{\"conditions\":[{\"type\":\"Ready\",\"status\":"
        "\"True\"}],\"nodeInfo\":{\"kubeletVersion\":\"v0.1.0\"}}}",
        "{\"metadata\":{\"name\":\"node2\","
        "\"creationTimestamp\":\"2023-11-14T18:13:20Z\"},"
        "\"spec\":{\"unschedulable\":true},"
        "\"status\":{\"conditions\":[{\"type\":\"Ready\",\"status\":"
        "\"False\"}]}}",
        NULL};
    const char *pols[] = {"{\"metadata\":{\"name\":\"fast\","
                          "\"creationTimestamp\":\"2023-11-14T22:13:19Z\"}}",
                          NULL};
    char *out;

    (void)state;
    out = render("vmi", false, vmis);
    assert_string_equal(
        out, "NAME         AGE   PHASE     IP            NODENAME   READY\n"
             "vmi-fedora   4d    Running   10.10.10.12   node1      True\n"
             "vmi-new      60s   Pending                            False\n");
    free(out);
    out = render("vm", false, vms);
    assert_string_equal(out, "NAME   AGE   STATUS    READY\n"
                             "vm1    10m   Running   True\n");
    free(out);
    /* Without counts VMIS does not pretend to know. */
    out = render("no", false, nodes);
    assert_string_equal(
        out,
        "NAME    STATUS                        ROLES        AGE   VERSION   "
        "VMIS\n"
        "node1   Ready                         hypervisor   10d   v0.1.0    "
        "<unknown>\n"
        "node2   NotReady,SchedulingDisabled   <none>       4h              "
        "<unknown>\n");
    free(out);
    /* A node without VMIs counts 0, one absent from the counts too. */
    out = render_with("no", false, false, "{\"node1\":3,\"node9\":1}", nodes);
    assert_string_equal(
        out,
        "NAME    STATUS                        ROLES        AGE   VERSION   "
        "VMIS\n"
        "node1   Ready                         hypervisor   10d   v0.1.0    3\n"
        "node2   NotReady,SchedulingDisabled   <none>       4h              "
        "0\n");
    free(out);
    out = render("migrationpolicy", false, pols);
    assert_string_equal(out, "NAME   AGE\n"
                             "fast   1s\n");
    free(out);
}

/* -o wide: the normal columns, then each kind's wide ones, on records as
 * orchestratord builds them from the migrators' reports. */
static void test_table_wide(void **state)
{
    const char *vmis[] = {
        "{\"metadata\":{\"name\":\"web\",\"namespace\":\"default\","
        "\"creationTimestamp\":\"2023-11-14T22:03:20Z\"},"
        "\"status\":{\"phase\":\"Running\",\"nodeName\":\"hv01\","
        "\"interfaces\":[{\"name\":\"vnet0\",\"mac\":\"52:54:00:00:00:01\","
        "\"ipAddress\":\"198.18.1.10\",\"ipAddresses\":[\"198.18.1.10\"]}],"
        "\"conditions\":[{\"type\":\"Ready\",\"status\":\"True\"},"
        "{\"type\":\"LiveMigratable\",\"status\":\"True\"}]}}",
        "{\"metadata\":{\"name\":\"db\",\"namespace\":\"lab\","
        "\"creationTimestamp\":\"2023-11-14T22:03:20Z\"},"
        "\"status\":{\"phase\":\"Running\",\"nodeName\":\"hv02\","
        "\"interfaces\":[],"
        "\"conditions\":[{\"type\":\"Ready\",\"status\":\"True\"},"
        "{\"type\":\"LiveMigratable\",\"status\":\"False\",\"reason\":"
        "\"DisksNotLiveMigratable\"}]}}",
        "{\"metadata\":{\"name\":\"new\",\"namespace\":\"lab\","
        "\"creationTimestamp\":\"2023-11-14T22:13:10Z\"},"
        "\"status\":{\"phase\":\"Pending\"}}",
        NULL};
    const char *nodes[] = {
        "{\"metadata\":{\"name\":\"hv01\","
        "\"creationTimestamp\":\"2023-11-04T22:13:20Z\",\"labels\":{"
        "\"kubernetes.io/hostname\":\"hv01\"}},"
        "\"status\":{\"addresses\":[{\"type\":\"Hostname\",\"address\":"
        "\"hv01\"},{\"type\":\"InternalIP\",\"address\":\"198.18.0.11\"},"
        "{\"type\":\"InternalIP\",\"address\":\"2001:db8::11\"}],"
        "\"conditions\":[{\"type\":\"Ready\",\"status\":\"True\"}],"
        "\"nodeInfo\":{\"kubeletVersion\":\"v0.1.0\",\"osImage\":"
        "\"Debian GNU/Linux 12 (bookworm)\",\"kernelVersion\":"
        "\"6.1.0-26-amd64\",\"libvirtVersion\":\"9.0.0\"}}}",
        /* libvirt unreachable: no nodeInfo beyond the agent's version. */
        "{\"metadata\":{\"name\":\"hv02\","
        "\"creationTimestamp\":\"2023-11-04T22:13:20Z\"},"
        "\"status\":{\"addresses\":[{\"type\":\"Hostname\",\"address\":"
        "\"hv02\"}],\"conditions\":[{\"type\":\"Ready\",\"status\":"
        "\"False\"}],\"nodeInfo\":{\"kubeletVersion\":\"v0.1.0\"}}}",
        NULL};
    char *out;

    (void)state;
    out = render_with("vmi", true, true, NULL, vmis);
    assert_string_equal(
        out, "NAMESPACE   NAME   AGE   PHASE     IP            NODENAME   "
             "READY   LIVE-MIGRATABLE\n"
             "default     web    10m   Running   198.18.1.10   hv01       "
             "True    True\n"
             "lab         db     10m   Running                 hv02       "
             "True    False\n"
             "lab         new    10s   Pending                            "
             "False   \n");
    free(out);
    out = render_with("no", false, true, "{\"hv01\":2}", nodes);
    assert_string_equal(
        out, "NAME   STATUS     ROLES    AGE   VERSION   VMIS   INTERNAL-IP   "
             "OS-IMAGE                         KERNEL-VERSION   LIBVIRT\n"
             "hv01   Ready      <none>   10d   v0.1.0    2      198.18.0.11   "
             "Debian GNU/Linux 12 (bookworm)   6.1.0-26-amd64   9.0.0\n"
             "hv02   NotReady   <none>   10d   v0.1.0    0      <none>        "
             "<unknown>                        <unknown>        <unknown>\n");
    free(out);
    /* Kinds without wide columns print their table. */
    {
        const char *vms[] = {"{\"metadata\":{\"name\":\"vm1\"}}", NULL};

        out = render_with("vm", false, true, NULL, vms);
        assert_string_equal(out, "NAME   AGE         STATUS   READY\n"
                                 "vm1    <unknown>            False\n");
        free(out);
    }
}

static void test_describe(void **state)
{
    json_t *o = load(
        "{\"apiVersion\":\"kubevirt.io/v1\","
        "\"kind\":\"VirtualMachineInstanceMigration\","
        "\"metadata\":{\"name\":\"migration-job\",\"namespace\":\"default\","
        "\"labels\":{\"kubevirt.io/vmi-name\":\"vmi-fedora\",\"a\":\"b\"},"
        "\"uid\":\"1234\",\"resourceVersion\":\"7\","
        "\"creationTimestamp\":\"2023-11-14T22:13:15Z\"},"
        "\"spec\":{\"vmiName\":\"vmi-fedora\",\"addedNodeSelector\":{"
        "\"kubernetes.io/hostname\":\"node2\"}},"
        "\"status\":{\"phase\":\"Succeeded\",\"migrationState\":{"
        "\"completed\":true,\"sourceNode\":\"node1\",\"migrationUid\":\"1234\"}"
        ","
        "\"phaseTransitionTimestamps\":[{\"phase\":\"Pending\","
        "\"phaseTransitionTimestamp\":\"2023-11-14T22:13:15Z\"}]}}");
    char *buf = NULL;
    size_t len;
    FILE *f = open_memstream(&buf, &len);

    (void)state;
    orchctl_describe_print(f, o);
    fclose(f);
    assert_string_equal(
        buf, "Name:         migration-job\n"
             "Namespace:    default\n"
             "Labels:       a=b\n"
             "              kubevirt.io/vmi-name=vmi-fedora\n"
             "Annotations:  <none>\n"
             "API Version:  kubevirt.io/v1\n"
             "Kind:         VirtualMachineInstanceMigration\n"
             "Metadata:\n"
             "  Creation Timestamp:  2023-11-14T22:13:15Z\n"
             "  Resource Version:    7\n"
             "  UID:                 1234\n"
             "Spec:\n"
             "  Added Node Selector:\n"
             "    kubernetes.io/hostname:  node2\n"
             "  Vmi Name:                  vmi-fedora\n"
             "Status:\n"
             "  Migration State:\n"
             "    Completed:      true\n"
             "    Migration UID:  1234\n"
             "    Source Node:    node1\n"
             "  Phase:            Succeeded\n"
             "  Phase Transition Timestamps:\n"
             "    Phase:                       Pending\n"
             "    Phase Transition Timestamp:  2023-11-14T22:13:15Z\n");
    free(buf);
    json_decref(o);
}

static void test_server_error_wording(void **state)
{
    static const struct {
        long status;
        const char *body;
        const char *want;
    } cases[] = {
        {404,
         "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"status\":\"Failure\","
         "\"message\":\"virtualmachineinstancemigrations.kubevirt.io \\\"x\\\" "
         "not found\",\"reason\":\"NotFound\",\"code\":404}",
         "Error from server (NotFound): "
         "virtualmachineinstancemigrations.kubevirt.io \"x\" not found\n"},
        {409,
         "{\"kind\":\"Status\",\"message\":\"in-flight migration detected\","
         "\"code\":409}",
         "Error from server (Conflict): in-flight migration detected\n"},
        {404, "404 page not found",
         "Error from server (NotFound): the server could not find the "
         "requested resource\n"},
        {403, "",
         "Error from server (Forbidden): the server does not allow access to "
         "the requested resource\n"},
        {500, "boom",
         "Error from server (InternalError): an error on the server "
         "(\"boom\") has prevented the request from succeeding (status "
         "500)\n"},
    };
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *buf = NULL;
        size_t len;
        FILE *f = open_memstream(&buf, &len);

        orchctl_print_server_error(f, cases[i].status, cases[i].body,
                                   strlen(cases[i].body));
        fclose(f);
        assert_string_equal(buf, cases[i].want);
        free(buf);
    }
}

static void test_progress_line(void **state)
{
    json_t *o = load("{\"metadata\":{\"name\":\"m1\"},\"status\":{"
                     "\"phase\":\"Running\",\"migrationState\":{"
                     "\"sourceNode\":\"node1\",\"targetNode\":\"node2\"},"
                     "\"progress\":{\"dataTotalBytes\":2147483648,"
                     "\"dataProcessedBytes\":1073741824,"
                     "\"dataRemainingBytes\":1073741824}}}");
    json_t *p = load("{\"metadata\":{\"name\":\"m1\"},\"status\":{}}");
    char buf[160];

    (void)state;
    orchctl_progress_format(o, buf, sizeof(buf));
    assert_string_equal(
        buf, "m1  Running  [##########----------]  50%  1.0GiB/2.0GiB  "
             "node1 -> node2");
    orchctl_progress_format(p, buf, sizeof(buf));
    assert_string_equal(buf, "m1  Pending");
    json_decref(o);
    json_decref(p);
}

/* What a terminal would act on is made visible; text is kept. */
static void test_text_escape(void **state)
{
    static const struct {
        const char *in, *want;
    } cases[] = {
        /* The issue's example: retitle, then clear the screen. */
        {"x\x1b]0;pwned\x07\x1b[2Jy", "x^[]0;pwned^G^[[2Jy"},
        {"a\tb\nc\rd", "a\\tb\\nc\\rd"},
        {"\x01\x1f\x7f", "^A^_^?"},
        /* C1 controls, CSI among them; NEL too. */
        {"\xc2\x9b"
         "31m \xc2\x85 \xc2\x80",
         "\\u009b31m \\u0085 \\u0080"},
        /* UTF-8 text is kept, from U+00A0 to four-byte characters. */
        {"caf\xc3\xa9 \xc2\xa0 \xe2\x9c\x93 \xe6\x97\xa5 \xf0\x9f\x99\x82",
         "caf\xc3\xa9 \xc2\xa0 \xe2\x9c\x93 \xe6\x97\xa5 \xf0\x9f\x99\x82"},
        /* Not UTF-8: stray bytes, an overlong '/', a cut sequence, a
         * surrogate, past U+10FFFF. */
        {"\xff\xfe", "\\xff\\xfe"},
        {"\xc0\xaf", "\\xc0\\xaf"},
        {"\xe2\x9c", "\\xe2\\x9c"},
        {"\xed\xa0\x80", "\\xed\\xa0\\x80"},
        {"\xf4\x90\x80\x80", "\\xf4\\x90\\x80\\x80"},
        {"", ""},
    };
    char *buf = NULL;
    size_t len;
    FILE *f;

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *e = orchctl_text_escape(cases[i].in);

        assert_non_null(e);
        assert_string_equal(e, cases[i].want);
        free(e);
    }
    f = open_memstream(&buf, &len);
    orchctl_printf_escaped(f, "error: %s: %d\n", "a\nb\x1b", 7);
    orchctl_printf_escaped(f, "%s", "no newline\n");
    orchctl_text_print(f, NULL);
    fclose(f);
    assert_string_equal(buf, "error: a\\nb^[: 7\nno newline\n");
    free(buf);
}

/* Nothing that a terminal acts on is in s: no C0 control but the newline,
 * no DEL, no C1 control. */
static void assert_terminal_safe(const char *what, const char *s)
{
    const unsigned char *p = (const unsigned char *)s;

    for (size_t i = 0; p[i]; i++) {
        if ((p[i] < 0x20 && p[i] != '\n') || p[i] == 0x7f ||
            (p[i] == 0xc2 && p[i + 1] >= 0x80 && p[i + 1] <= 0x9f))
            fail_msg("%s: byte 0x%02x at %zu in: %s", what, p[i], i, s);
    }
}

/* The JSON and YAML printers escape controls their own way; what they
 * print reads back as the same object. */
static void test_doc_print_controls(void **state)
{
    json_t *o = load("{\"metadata\":{\"name\":\"x\\u001b[2J\",\"annotations\":"
                     "{\"k\\u0007\":\"v\\u001b]0;t\\u0007\\u007f\\u009b1m\\t\\n"
                     "caf\\u00e9 \\u2713\"}}}");
    char *buf = NULL;
    size_t len;
    FILE *f;
    json_t *back = NULL;
    struct api_errors errs = API_ERRORS_INIT;

    (void)state;
    f = open_memstream(&buf, &len);
    assert_int_equal(orchctl_doc_print_json(f, o), 0);
    fclose(f);
    assert_terminal_safe("json", buf);
    assert_non_null(strstr(buf, "\\u007f\\u009b1m"));
    assert_non_null(strstr(buf, "caf\xc3\xa9 \xe2\x9c\x93"));
    back = json_loads(buf, 0, NULL);
    assert_true(json_equal(back, o));
    json_decref(back);
    free(buf);

    buf = NULL;
    f = open_memstream(&buf, &len);
    assert_int_equal(orchctl_doc_print_yaml(f, o), 0);
    fclose(f);
    assert_terminal_safe("yaml", buf);
    assert_int_equal(api_doc_decode(buf, strlen(buf), NULL, &back, &errs), 0);
    assert_true(json_equal(back, o));
    json_decref(back);
    api_errors_clear(&errs);
    free(buf);
    json_decref(o);
}

/* Table cells and describe lines are escaped, and measured escaped. */
static void test_table_describe_controls(void **state)
{
    const char *objs[] = {
        "{\"metadata\":{\"name\":\"a\\u001b[2J\",\"namespace\":\"n\\u0007\"},"
        "\"spec\":{\"vmiName\":\"v\\u009b\"},\"status\":{\"phase\":\"P\\r\"}}",
        NULL};
    json_t *o = load(objs[0]);
    char *buf = render("vmim", true, objs), *d = NULL;
    size_t len;
    FILE *f;

    (void)state;
    assert_terminal_safe("table", buf);
    assert_string_equal(buf, "NAMESPACE   NAME     PHASE   VMI       SOURCE   "
                             "TARGET   AGE\n"
                             "n^G         a^[[2J   P\\r     v\\u009b       "
                             "              <unknown>\n");
    free(buf);
    f = open_memstream(&d, &len);
    json_object_set_new(json_object_get(o, "metadata"), "annotations",
                        json_pack("{s:s}", "t\x1b]0;", "x\x07"));
    orchctl_describe_print(f, o);
    fclose(f);
    assert_terminal_safe("describe", d);
    assert_true(strncmp(d,
                        "Name:         a^[[2J\n"
                        "Namespace:    n^G\n"
                        "Labels:       <none>\n"
                        "Annotations:  t^[]0;=x^G\n",
                        strlen("Name:         a^[[2J\n"
                               "Namespace:    n^G\n"
                               "Labels:       <none>\n"
                               "Annotations:  t^[]0;=x^G\n")) == 0);
    assert_non_null(strstr(d, "  Phase:  P\\r\n"));
    free(d);
    json_decref(o);
}

/* A file of tests/data as a JSON document. */
static json_t *load_data(const char *name)
{
    const char *top = getenv("ORCH_TOP");
    char path[1024];
    json_error_t jerr;
    json_t *j;

    snprintf(path, sizeof(path), "%s/tests/data/%s", top ? top : ".", name);
    j = json_load_file(path, 0, &jerr);
    if (!j)
        fail_msg("cannot load %s: %s", path, jerr.text);
    return j;
}

/* Go's tabwriter: a column is aligned over a run of consecutive lines
 * that have a cell in it; a line without one ends the run ("Conditions:"
 * here, not "Total:", which shares the first column with the lines around
 * it, and Bé's column with none of them).  Widths count characters. */
static void test_tabw(void **state)
{
    struct orchctl_tabw *w = orchctl_tabw_new();
    char *buf = NULL;
    size_t len;
    FILE *f = open_memstream(&buf, &len);

    (void)state;
    assert_int_equal(orchctl_tabw_row(w, 0, "Name:", "x", NULL), 0);
    orchctl_tabw_row(w, 0, "CreationTimestamp:", "y", NULL);
    orchctl_tabw_row(w, 0, "Conditions:", NULL);
    orchctl_tabw_row(w, 1, "Type", "Status", "Message", NULL);
    orchctl_tabw_row(w, 1, "Ready", "True", "ok", NULL);
    orchctl_tabw_row(w, 0, "Total:", "(1)", NULL);
    orchctl_tabw_row(w, 1, "A", "Bé", "c", NULL);
    /* A tab or newline in a cell is text, not layout. */
    orchctl_tabw_row(w, 1, "a\tb", "c\nd", NULL);
    orchctl_tabw_flush(w, f);
    orchctl_tabw_free(w);
    fclose(f);
    assert_string_equal(buf, "Name:               x\n"
                             "CreationTimestamp:  y\n"
                             "Conditions:\n"
                             "  Type   Status  Message\n"
                             "  Ready  True    ok\n"
                             "Total:   (1)\n"
                             "  A      Bé  c\n"
                             "  a\\tb   c\\nd\n");
    free(buf);
}

/* describe node on a record as orchestratord builds it from a migrator's
 * report (tests/data/node-hv01.json): kubectl describe node's layout, then
 * SR-IOV, the VMIs on it, skipped domains and events. */
static void test_describe_node(void **state)
{
    json_t *node = load_data("node-hv01.json");
    json_t *vmis = load_data("node-hv01-vmis.json");
    json_t *events = load_data("node-hv01-events.json");
    json_t *bare = load("{\"metadata\":{\"name\":\"node1\"}}");
    char *buf = NULL;
    size_t len;
    FILE *f = open_memstream(&buf, &len);

    (void)state;
    orchctl_describe_node_print(f, node, vmis, events, NOW);
    fclose(f);
    // clang-format off
    assert_string_equal(buf,
        "Name:               hv01\n"
        "Roles:              hypervisor\n"
        "Labels:             kubernetes.io/hostname=hv01\n"
        "                    node-role.kubernetes.io/hypervisor=\n"
        "                    rack=a\n"
        "Annotations:        orchestrator.io/agent-boot-id: 7d1c\n"
        "                    orchestrator.io/agent-url: https://198.18.0.11:8443\n"
        "                    orchestrator.io/agent-version: v0.1.0\n"
        "CreationTimestamp:  Sat, 04 Nov 2023 22:13:20 +0000\n"
        "Taints:             <none>\n"
        "Unschedulable:      true\n"
        "Conditions:\n"
        "  Type   Status  LastHeartbeatTime                LastTransitionTime               Reason        Message\n"
        "  ----   ------  -----------------                ------------------               ------        -------\n"
        "  Ready  True    Tue, 14 Nov 2023 22:13:10 +0000  Tue, 14 Nov 2023 21:13:20 +0000  KubeletReady  migrator is posting ready status\n"
        "Addresses:\n"
        "  Hostname:    hv01\n"
        "  InternalIP:  198.18.0.11\n"
        "Capacity:\n"
        "  cpu:     8\n"
        "  memory:  16Gi\n"
        "Allocatable:\n"
        "  cpu:     8\n"
        "  memory:  16Gi\n"
        "System Info:\n"
        "  Machine ID:          0f7e\n"
        "  System UUID:         0f7e\n"
        "  Kernel Version:      6.1.0-26-amd64\n"
        "  OS Image:            Debian GNU/Linux 12 (bookworm)\n"
        "  Operating System:    linux\n"
        "  Architecture:        x86_64\n"
        "  Kubelet Version:     v0.1.0\n"
        "  Libvirt Version:     9.0.0\n"
        "  Hypervisor Version:  7.2.0\n"
        "  CPU Model:           Skylake-Client-IBRS\n"
        "SR-IOV Networks:\n"
        "  NAME     PF        MODE     VLAN  TRUST   SPOOFCHK  FREE VFS\n"
        "  ----     --        ----     ----  -----   --------  --------\n"
        "  fabric   enp1s0f0  macvtap  100   <none>  on        1\n"
        "  storage  enp2s0    hostdev  0     <none>  <none>    <error>\n"
        "SR-IOV PFs:\n"
        "  Name:               enp1s0f0\n"
        "  Networks:           fabric\n"
        "  VFs:                3 of 8 (1 in use, 1 reserved, 1 free)\n"
        "    INDEX             PCI           NETDEV      MAC                VLAN    TRUST   SPOOFCHK  LINK    STATE     USED BY\n"
        "    -----             ---           ------      ---                ----    -----   --------  ----    -----     -------\n"
        "    0                 0000:01:00.1  enp1s0f0v0  52:54:00:aa:00:00  <none>  off     on        auto    free      <none>\n"
        "    1                 0000:01:00.2  <none>      52:54:00:aa:00:01  100     <none>  <none>    <none>  in use    default_web\n"
        "    2                 0000:01:00.3  enp1s0f0v2  <none>             <none>  on      off       enable  reserved  lab_db\n"
        "  Name:               enp2s0\n"
        "  Networks:           storage\n"
        "  Error:              no such interface\n"
        "Non-terminated VMIs:  (2 in total)\n"
        "  Namespace           Name  Phase      Memory  vCPUs\n"
        "  ---------           ----  -----      ------  -----\n"
        "  default             web   Running    2Gi     2\n"
        "  lab                 db    Scheduled  8Gi     8\n"
        "Skipped Domains:\n"
        "  Name      Reason\n"
        "  ----      ------\n"
        "  Bad_Name  the part before '_' is not a valid namespace (a DNS-1123 label)\n"
        "Events:\n"
        "  Type     Reason              Age               From           Message\n"
        "  ----     ------              ----              ----           -------\n"
        "  Normal   NodeNotSchedulable  10m               orchestratord  Node hv01 status is now: NodeNotSchedulable\n"
        "  Warning  LibvirtUnreachable  5m (x3 over 60m)  migrator       libvirt unreachable: ^[[2Jboom\n");
    // clang-format on
    free(buf);

    /* A node no host reported for yet; VMIs that could not be listed;
     * a server without events (no section). */
    buf = NULL;
    f = open_memstream(&buf, &len);
    orchctl_describe_node_print(f, bare, NULL, NULL, NOW);
    fclose(f);
    assert_string_equal(buf, "Name:                 node1\n"
                             "Roles:                <none>\n"
                             "Labels:               <none>\n"
                             "Annotations:          <none>\n"
                             "CreationTimestamp:    <unknown>\n"
                             "Taints:               <none>\n"
                             "Unschedulable:        false\n"
                             "Conditions:           <none>\n"
                             "SR-IOV Networks:      <none>\n"
                             "SR-IOV PFs:           <none>\n"
                             "Non-terminated VMIs:  <unknown>\n"
                             "Skipped Domains:      <none>\n");
    free(buf);

    /* What a host reports cannot reach the terminal raw. */
    json_object_set_new(json_object_get(node, "metadata"), "labels",
                        json_pack("{s:s}", "evil", "\x1b]0;pwned\x07"));
    json_object_set_new(
        json_array_get(orchctl_json_get(node, "status.skippedDomains"), 0),
        "name", json_string("dom\n\x1b[2J"));
    buf = NULL;
    f = open_memstream(&buf, &len);
    orchctl_describe_node_print(f, node, vmis, events, NOW);
    fclose(f);
    assert_terminal_safe("describe node", buf);
    assert_non_null(strstr(buf, "Labels:             evil=^[]0;pwned^G\n"));
    assert_non_null(strstr(buf, "  dom\\n^[[2J  the part before"));
    free(buf);
    json_decref(node);
    json_decref(vmis);
    json_decref(events);
    json_decref(bare);
}

static void test_doc_decode(void **state)
{
    static const char two[] =
        "# two documents\n---\n{\"kind\":\"A\"}\n---\n\n---\n"
        "{\"kind\":\"BList\",\"items\":[{\"kind\":\"B\"},{\"kind\":\"C\"}]}\n";
    static const char yaml[] = "kind: VirtualMachineInstanceMigration\n"
                               "spec:\n  vmiName: vmi-a\n"
                               "---  # the second\n"
                               "kind: X\nspec: {priority: 3}\n";
    json_t *items = NULL;
    char err[256];

    (void)state;
    assert_int_equal(
        orchctl_doc_decode(two, strlen(two), &items, err, sizeof(err)), 0);
    assert_int_equal(json_array_size(items), 3);
    assert_string_equal(
        json_string_value(json_object_get(json_array_get(items, 2), "kind")),
        "C");
    json_decref(items);
    assert_int_equal(
        orchctl_doc_decode(yaml, strlen(yaml), &items, err, sizeof(err)), 0);
    assert_int_equal(json_array_size(items), 2);
    assert_string_equal(
        orchctl_json_str(json_array_get(items, 0), "spec.vmiName"), "vmi-a");
    assert_true(json_is_integer(
        orchctl_json_get(json_array_get(items, 1), "spec.priority")));
    json_decref(items);
    assert_int_equal(orchctl_doc_decode("a: [", 4, &items, err, sizeof(err)),
                     -EINVAL);
    assert_non_null(strstr(err, "document 1: "));
    assert_int_equal(orchctl_doc_decode("[1]", 3, &items, err, sizeof(err)),
                     -EINVAL);
    assert_string_equal(err, "document 1 is not an object");
    assert_int_equal(
        orchctl_doc_decode("\n# nothing\n", 11, &items, err, sizeof(err)),
        -EINVAL);
    assert_string_equal(err, "no objects passed to apply");
}

static void test_config_file(void **state)
{
    char dir[] = "/tmp/orchctl-cfg-XXXXXX";
    char path[256];
    struct orchctl_file_config cfg;
    FILE *f;
    int line = 0;

    (void)state;
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/config", dir);
    assert_int_equal(orchctl_file_config_read(path, &cfg, &line), 0);
    assert_null(cfg.server);
    f = fopen(path, "w");
    fprintf(f, "# orchctl\nserver = \"https://lab:8443\"\n  token=abc \n"
               "insecure-skip-tls-verify = true\nnamespace = lab\n");
    fclose(f);
    assert_int_equal(orchctl_file_config_read(path, &cfg, &line), 0);
    assert_string_equal(cfg.server, "https://lab:8443");
    assert_string_equal(cfg.token, "abc");
    assert_string_equal(cfg.namespace, "lab");
    assert_true(cfg.insecure);
    orchctl_file_config_clear(&cfg);
    f = fopen(path, "w");
    fprintf(f, "server = x\ncolour = blue\n");
    fclose(f);
    assert_int_equal(orchctl_file_config_read(path, &cfg, &line), -EINVAL);
    assert_int_equal(line, 2);
    unlink(path);
    rmdir(dir);
}

/* ------------------------------------------------------------------ */
/* The fake server                                                     */
/* ------------------------------------------------------------------ */

#define FAKE_MAX_ROUTES    32
#define FAKE_MAX_RESPONSES 8
#define FAKE_MAX_REQUESTS  64

struct fake_route {
    char method[8];
    char uri[512]; /* exact, query included */
    int status[FAKE_MAX_RESPONSES];
    char *body[FAKE_MAX_RESPONSES];
    int n;
    int next; /* each request takes the next response; the last repeats */
    bool last_served; /* a response added later is served next */
};

struct fake_request {
    char method[8];
    char uri[512];
    char *body;
    char auth[256];
    char ctype[128];
};

struct fake {
    struct event_base *base;
    struct evhttp *http;
    pthread_t thread;
    int port;
    pthread_mutex_t lock;
    struct fake_route routes[FAKE_MAX_ROUTES];
    int nroutes;
    struct fake_request reqs[FAKE_MAX_REQUESTS];
    int nreqs;
};

static const char *method_name(enum evhttp_cmd_type t)
{
    switch (t) {
    case EVHTTP_REQ_GET:
        return "GET";
    case EVHTTP_REQ_POST:
        return "POST";
    case EVHTTP_REQ_PUT:
        return "PUT";
    case EVHTTP_REQ_DELETE:
        return "DELETE";
    case EVHTTP_REQ_PATCH:
        return "PATCH";
    default:
        return "OTHER";
    }
}

static void fake_handle(struct evhttp_request *req, void *data)
{
    struct fake *f = data;
    const char *method = method_name(evhttp_request_get_command(req));
    const char *uri = evhttp_request_get_uri(req);
    const char *auth = evhttp_find_header(evhttp_request_get_input_headers(req),
                                          "Authorization");
    const char *ctype = evhttp_find_header(
        evhttp_request_get_input_headers(req), "Content-Type");
    struct evbuffer *in = evhttp_request_get_input_buffer(req);
    struct evbuffer *out = evbuffer_new();
    size_t inlen = evbuffer_get_length(in);
    int status = 404, i;
    const char *body = "{\"kind\":\"Status\",\"apiVersion\":\"v1\","
                       "\"status\":\"Failure\",\"message\":\"the fake has no "
                       "route\",\"reason\":\"NotFound\",\"code\":404}";

    pthread_mutex_lock(&f->lock);
    if (f->nreqs < FAKE_MAX_REQUESTS) {
        struct fake_request *r = &f->reqs[f->nreqs++];

        snprintf(r->method, sizeof(r->method), "%s", method);
        snprintf(r->uri, sizeof(r->uri), "%s", uri);
        snprintf(r->auth, sizeof(r->auth), "%s", auth ? auth : "");
        snprintf(r->ctype, sizeof(r->ctype), "%s", ctype ? ctype : "");
        r->body = calloc(1, inlen + 1);
        evbuffer_copyout(in, r->body, inlen);
    }
    for (i = 0; i < f->nroutes; i++) {
        struct fake_route *rt = &f->routes[i];

        if (strcmp(rt->method, method) || strcmp(rt->uri, uri))
            continue;
        status = rt->status[rt->next];
        body = rt->body[rt->next];
        if (rt->next + 1 < rt->n)
            rt->next++;
        else
            rt->last_served = true;
        break;
    }
    if (status == 0) {
        /* A stalled server: the request is never answered (evhttp frees
         * it when the client gives up and closes). */
        pthread_mutex_unlock(&f->lock);
        evbuffer_free(out);
        return;
    }
    evbuffer_add(out, body, strlen(body));
    pthread_mutex_unlock(&f->lock);
    evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
                      "application/json");
    evhttp_send_reply(req, status, status < 300 ? "OK" : "Error", out);
    evbuffer_free(out);
}

static void *fake_thread(void *data)
{
    struct fake *f = data;

    event_base_dispatch(f->base);
    return NULL;
}

static struct fake *fake_start(void)
{
    struct fake *f = calloc(1, sizeof(*f));
    struct evhttp_bound_socket *sock;
    struct sockaddr_in sa;
    socklen_t salen = sizeof(sa);

    assert_non_null(f);
    pthread_mutex_init(&f->lock, NULL);
    f->base = event_base_new();
    f->http = evhttp_new(f->base);
    evhttp_set_gencb(f->http, fake_handle, f);
    evhttp_set_allowed_methods(f->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST |
                                            EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE |
                                            EVHTTP_REQ_PATCH);
    sock = evhttp_bind_socket_with_handle(f->http, "127.0.0.1", 0);
    assert_non_null(sock);
    assert_int_equal(getsockname(evhttp_bound_socket_get_fd(sock),
                                 (struct sockaddr *)&sa, &salen),
                     0);
    f->port = ntohs(sa.sin_port);
    assert_int_equal(pthread_create(&f->thread, NULL, fake_thread, f), 0);
    return f;
}

static void fake_stop(struct fake *f)
{
    int i, k;

    event_base_loopexit(f->base, NULL);
    pthread_join(f->thread, NULL);
    evhttp_free(f->http);
    event_base_free(f->base);
    for (i = 0; i < f->nroutes; i++)
        for (k = 0; k < f->routes[i].n; k++)
            free(f->routes[i].body[k]);
    for (i = 0; i < f->nreqs; i++)
        free(f->reqs[i].body);
    pthread_mutex_destroy(&f->lock);
    free(f);
}

/* Add a response for METHOD URI; several calls queue responses in order.
 * Status 0 is no answer at all, as from a stalled server. */
static void fake_add(struct fake *f, const char *method, const char *uri,
                     int status, const char *body)
{
    struct fake_route *rt = NULL;
    int i;

    pthread_mutex_lock(&f->lock);
    for (i = 0; i < f->nroutes; i++)
        if (!strcmp(f->routes[i].method, method) &&
            !strcmp(f->routes[i].uri, uri))
            rt = &f->routes[i];
    if (!rt) {
        assert_true(f->nroutes < FAKE_MAX_ROUTES);
        rt = &f->routes[f->nroutes++];
        snprintf(rt->method, sizeof(rt->method), "%s", method);
        snprintf(rt->uri, sizeof(rt->uri), "%s", uri);
    }
    assert_true(rt->n < FAKE_MAX_RESPONSES);
    if (rt->last_served) {
        rt->next = rt->n;
        rt->last_served = false;
    }
    rt->status[rt->n] = status;
    rt->body[rt->n] = strdup(body);
    rt->n++;
    pthread_mutex_unlock(&f->lock);
}

/* The i-th request the fake saw (copied out under the lock). */
static struct fake_request fake_req(struct fake *f, int i)
{
    struct fake_request r = {0};

    pthread_mutex_lock(&f->lock);
    if (i < f->nreqs)
        r = f->reqs[i];
    pthread_mutex_unlock(&f->lock);
    return r;
}

static int fake_count(struct fake *f, const char *method)
{
    int i, n = 0;

    pthread_mutex_lock(&f->lock);
    for (i = 0; i < f->nreqs; i++)
        if (!strcmp(f->reqs[i].method, method))
            n++;
    pthread_mutex_unlock(&f->lock);
    return n;
}

/* ------------------------------------------------------------------ */
/* Running the real binary                                             */
/* ------------------------------------------------------------------ */

#define VMIMS                                                                  \
    "/apis/kubevirt.io/v1/namespaces/default/virtualmachineinstancemigrations"
#define VMIS     "/apis/kubevirt.io/v1/namespaces/default/virtualmachineinstances"
#define VMS      "/apis/kubevirt.io/v1/namespaces/default/virtualmachines"
#define NODES    "/api/v1/nodes"
#define ALL_VMIS "/apis/kubevirt.io/v1/virtualmachineinstances"
#define NODE_NOT_FOUND                                                         \
    "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"status\":\"Failure\","       \
    "\"message\":\"nodes \\\"nosuch\\\" not found\",\"reason\":"               \
    "\"NotFound\",\"code\":404}"

/* A Node as the hosts branch's orchestratord writes it (resourceVersion
 * "7"), cordoned or not.  Returns a static buffer (one of four). */
static const char *node_json(const char *name, bool unschedulable)
{
    static char buf[4][1024];
    static int n;
    char *b = buf[n++ % 4];

    snprintf(b, sizeof(buf[0]),
             "{\"apiVersion\":\"v1\",\"kind\":\"Node\",\"metadata\":{"
             "\"name\":\"%s\",\"resourceVersion\":\"7\",\"labels\":{"
             "\"kubernetes.io/hostname\":\"%s\"},\"creationTimestamp\":"
             "\"%s\"},\"spec\":{%s},\"status\":{\"conditions\":[{"
             "\"type\":\"Ready\",\"status\":\"True\",\"reason\":"
             "\"KubeletReady\"}],\"nodeInfo\":{\"kubeletVersion\":"
             "\"v0.1.0\"}}}",
             name, name, iso_ago(3600),
             unschedulable ? "\"unschedulable\":true" : "");
    return b;
}

struct env {
    struct fake *fake;
    char server[64];
    struct run_opts ro;
};

static int env_setup(void **state)
{
    struct env *e = calloc(1, sizeof(*e));

    e->fake = fake_start();
    snprintf(e->server, sizeof(e->server), "http://127.0.0.1:%d",
             e->fake->port);
    e->ro.server = e->server;
    *state = e;
    return 0;
}

static int env_teardown(void **state)
{
    struct env *e = *state;

    fake_stop(e->fake);
    free(e);
    return 0;
}

static char *vmim_json(const char *name, const char *vmi, const char *phase,
                       long age, const char *extra_status)
{
    char *s = NULL;

    assert_true(
        asprintf(&s,
                 "{\"apiVersion\":\"kubevirt.io/v1\",\"kind\":"
                 "\"VirtualMachineInstanceMigration\",\"metadata\":{\"name\":"
                 "\"%s\",\"namespace\":\"default\",\"resourceVersion\":\"5\","
                 "\"labels\":{\"kubevirt.io/vmi-name\":\"%s\"},"
                 "\"creationTimestamp\":\"%s\"},\"spec\":{\"vmiName\":\"%s\"},"
                 "\"status\":{\"phase\":\"%s\"%s%s}}",
                 name, vmi, iso_ago(age), vmi, phase, extra_status ? "," : "",
                 extra_status ? extra_status : "") > 0);
    return s;
}

/* ------------------------------------------------------------------ */
/* The binary against the fake                                         */
/* ------------------------------------------------------------------ */

static void test_bin_get_table(void **state)
{
    struct env *e = *state;
    char *a = vmim_json("migration-job", "vmi-fedora", "Succeeded", 10800,
                        "\"migrationState\":{\"sourceNode\":\"node1\","
                        "\"targetNode\":\"node2\"}");
    char *list = NULL;
    struct run r;

    assert_true(asprintf(&list,
                         "{\"kind\":\"VirtualMachineInstanceMigrationList\","
                         "\"metadata\":{\"resourceVersion\":\"9\"},"
                         "\"items\":[%s]}",
                         a) > 0);
    fake_add(e->fake, "GET", VMIMS, 200, list);
    run_orchctl(&e->ro, &r, "get", "vmim", NULL);
    assert_int_equal(r.rc, 0);
    assert_string_equal(
        r.out,
        "NAME            PHASE       VMI          SOURCE   TARGET   AGE\n"
        "migration-job   Succeeded   vmi-fedora   node1    node2    3h\n");
    assert_string_equal(r.err, "");
    run_clear(&r);

    /* -o name and -o json of the same list. */
    run_orchctl(&e->ro, &r, "get", "virtualmachineinstancemigrations", "-o",
                "name", NULL);
    assert_int_equal(r.rc, 0);
    assert_string_equal(
        r.out, "virtualmachineinstancemigration.kubevirt.io/migration-job\n");
    run_clear(&r);
    run_orchctl(&e->ro, &r, "get", "vmim", "-o", "json", NULL);
    assert_int_equal(r.rc, 0);
    {
        json_t *got = load(r.out), *want = load(list);

        assert_true(json_equal(got, want));
        assert_non_null(strstr(r.out, "\n    \"kind\": "));
        json_decref(got);
        json_decref(want);
    }
    run_clear(&r);
    free(a);
    free(list);
}

/* A list in pages (a server ends one early, even empty, when a selector
 * makes it read many records): get follows the continue tokens and prints
 * the items together; a token handed out twice is an error, not a loop. */
static void test_bin_get_pages(void **state)
{
    struct env *e = *state;
    char *a = vmim_json("mig-a", "vmi-a", "Succeeded", 60, NULL);
    char *b = vmim_json("mig-b", "vmi-b", "Running", 60, NULL);
    char *p1 = NULL, *p2 = NULL;
    struct run r;

    assert_true(asprintf(&p1,
                         "{\"kind\":\"VirtualMachineInstanceMigrationList\","
                         "\"metadata\":{\"resourceVersion\":\"9\","
                         "\"continue\":\"tok1\"},\"items\":[%s]}",
                         a) > 0);
    assert_true(asprintf(&p2,
                         "{\"kind\":\"VirtualMachineInstanceMigrationList\","
                         "\"metadata\":{\"resourceVersion\":\"9\"},"
                         "\"items\":[%s]}",
                         b) > 0);
    fake_add(e->fake, "GET", VMIMS "?labelSelector=app%3Dx", 200, p1);
    fake_add(e->fake, "GET", VMIMS "?labelSelector=app%3Dx&continue=tok1", 200,
             "{\"kind\":\"VirtualMachineInstanceMigrationList\","
             "\"metadata\":{\"resourceVersion\":\"9\",\"continue\":"
             "\"tok2\"},\"items\":[]}");
    fake_add(e->fake, "GET", VMIMS "?labelSelector=app%3Dx&continue=tok2", 200,
             p2);
    run_orchctl(&e->ro, &r, "get", "vmim", "-l", "app=x", "-o", "name", NULL);
    assert_int_equal(r.rc, 0);
    assert_string_equal(r.out,
                        "virtualmachineinstancemigration.kubevirt.io/mig-a\n"
                        "virtualmachineinstancemigration.kubevirt.io/mig-b\n");
    assert_string_equal(r.err, "");
    run_clear(&r);

    /* -o json: one List, without a continue token. */
    fake_add(e->fake, "GET", VMIMS, 200, p1);
    fake_add(e->fake, "GET", VMIMS "?continue=tok1", 200, p2);
    run_orchctl(&e->ro, &r, "get", "vmim", "-o", "json", NULL);
    assert_int_equal(r.rc, 0);
    {
        json_t *got = load(r.out);
        assert_int_equal(json_array_size(json_object_get(got, "items")), 2);
        assert_null(
            json_object_get(json_object_get(got, "metadata"), "continue"));
        json_decref(got);
    }
    run_clear(&r);

    /* The same token again. */
    fake_add(e->fake, "GET", VMIMS, 200, p1);
    fake_add(e->fake, "GET", VMIMS "?continue=tok1", 200, p1);
    run_orchctl(&e->ro, &r, "get", "vmim", NULL);
    assert_int_equal(r.rc, 1);
    assert_string_equal(r.err, "error: the server repeated a continue token\n");
    run_clear(&r);
    free(a);
    free(b);
    free(p1);
    free(p2);
}

static void test_bin_get_errors(void **state)
{
    struct env *e = *state;
    struct run r;

    fake_add(e->fake, "GET", VMIMS "/nosuch", 404,
             "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"status\":"
             "\"Failure\",\"message\":\"virtualmachineinstancemigrations."
             "kubevirt.io \\\"nosuch\\\" not found\",\"reason\":\"NotFound\","
             "\"code\":404}");
    run_orchctl(&e->ro, &r, "get", "vmim", "nosuch", NULL);
    assert_int_equal(r.rc, 1);
    assert_string_equal(r.out, "");
    assert_string_equal(r.err, "Error from server (NotFound): "
                               "virtualmachineinstancemigrations.kubevirt.io "
                               "\"nosuch\" not found\n");
    run_clear(&r);

    /* An empty list says so on stderr, like kubectl. */
    fake_add(e->fake, "GET", VMIS "?labelSelector=app%3Dweb%2Ctier%21%3Ddb",
             200, "{\"kind\":\"VirtualMachineInstanceList\",\"items\":[]}");
    run_orchctl(&e->ro, &r, "get", "vmi", "-l", "app=web,tier!=db", NULL);
    assert_int_equal(r.rc, 0);
    assert_string_equal(r.out, "");
    assert_string_equal(r.err, "No resources found in default namespace.\n");
    run_clear(&r);

    /* Usage errors exit 2 without touching the server. */
    run_orchctl(&e->ro, &r, "get", "pods", NULL);
    assert_int_equal(r.rc, 2);
    assert_string_equal(r.err, "error: the server doesn't have a resource type "
                               "\"pods\"\n");
    run_clear(&r);
    run_orchctl(&e->ro, &r, "-h", NULL);
    assert_int_equal(r.rc, 0);
    assert_non_null(strstr(r.out, "Exit codes: 0 done, 1 failed, 2 usage."));
    run_clear(&r);
    assert_int_equal(fake_count(e->fake, "GET"), 2);
}

static void test_bin_all_namespaces_and_watch(void **state)
{
    struct env *e = *state;
    char *a = vmim_json("m1", "vm1", "Pending", 10800, NULL);
    char *b = vmim_json("m1", "vm1", "Running", 14400,
                        "\"migrationState\":{\"sourceNode\":\"node1\"}");
    char *list = NULL, *events = NULL;
    struct run r;

    assert_true(asprintf(&list,
                         "{\"kind\":\"VirtualMachineInstanceMigrationList\","
                         "\"metadata\":{\"resourceVersion\":\"41\"},"
                         "\"items\":[%s]}",
                         a) > 0);
    assert_true(asprintf(&events,
                         "{\"type\":\"MODIFIED\",\"object\":%s}\n"
                         "{\"type\":\"DELETED\",\"object\":%s}\n",
                         b, b) > 0);
    fake_add(e->fake, "GET",
             "/apis/kubevirt.io/v1/virtualmachineinstancemigrations", 200,
             list);
    fake_add(e->fake, "GET",
             "/apis/kubevirt.io/v1/virtualmachineinstancemigrations"
             "?watch=true&resourceVersion=41&timeoutSeconds=1800",
             200, events);
    run_orchctl(&e->ro, &r, "get", "vmim", "-A", "-w", NULL);
    assert_int_equal(r.rc, 0);
    assert_string_equal(
        r.out, "NAMESPACE   NAME   PHASE     VMI   SOURCE   TARGET   AGE\n"
               "default     m1     Pending   vm1                     3h\n"
               "default     m1     Running   vm1   node1             4h\n"
               "default     m1     Running   vm1   node1             4h\n");
    assert_string_equal(r.err, "");
    run_clear(&r);
    free(a);
    free(b);
    free(list);
    free(events);
}

static void test_bin_describe_delete(void **state)
{
    struct env *e = *state;
    char *a = vmim_json("migration-job", "vmi-fedora", "Running", 5, NULL);
    struct run r;

    fake_add(e->fake, "GET", VMIMS "/migration-job", 200, a);
    run_orchctl(&e->ro, &r, "describe", "vmim", "migration-job", NULL);
    assert_int_equal(r.rc, 0);
    assert_non_null(strstr(r.out, "Name:         migration-job\n"
                                  "Namespace:    default\n"
                                  "Labels:       "
                                  "kubevirt.io/vmi-name=vmi-fedora\n"));
    assert_non_null(strstr(r.out, "Spec:\n  Vmi Name:  vmi-fedora\n"
                                  "Status:\n  Phase:  Running\n"));
    run_clear(&r);

    fake_add(e->fake, "DELETE", VMIMS "/migration-job", 200,
             "{\"kind\":\"Status\",\"status\":\"Success\"}");
    fake_add(e->fake, "DELETE", VMIMS "/gone", 404,
             "{\"kind\":\"Status\",\"message\":\"virtualmachineinstance"
             "migrations.kubevirt.io \\\"gone\\\" not found\",\"reason\":"
             "\"NotFound\",\"code\":404}");
    run_orchctl(&e->ro, &r, "delete", "vmim", "migration-job", "gone", NULL);
    assert_int_equal(r.rc, 1);
    assert_string_equal(r.out, "virtualmachineinstancemigration.kubevirt.io "
                               "\"migration-job\" deleted\n");
    assert_string_equal(r.err, "Error from server (NotFound): "
                               "virtualmachineinstancemigrations.kubevirt.io "
                               "\"gone\" not found\n");
    run_clear(&r);
    free(a);
}

static void test_bin_apply_create(void **state)
{
    struct env *e = *state;
    char dir[] = "/tmp/orchctl-apply-XXXXXX";
    char path[256];
    char *created = vmim_json("migration-job", "vmi-fedora", "", 0, NULL);
    const char *vm_have =
        "{\"apiVersion\":\"kubevirt.io/v1\",\"kind\":\"VirtualMachine\","
        "\"metadata\":{\"name\":\"vm1\",\"namespace\":\"default\","
        "\"resourceVersion\":\"42\"},\"spec\":{\"running\":false}}";
    struct fake_request q;
    struct run r;
    FILE *f;
    int base;

    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/m.json", dir);
    f = fopen(path, "w");
    fprintf(f,
            "{\"apiVersion\":\"kubevirt.io/v1\",\"kind\":"
            "\"VirtualMachineInstanceMigration\",\"metadata\":{\"name\":"
            "\"migration-job\"},\"spec\":{\"vmiName\":\"vmi-fedora\"}}\n"
            "---\n"
            "{\"apiVersion\":\"kubevirt.io/v1\",\"kind\":\"VirtualMachine\","
            "\"metadata\":{\"name\":\"vm1\"},\"spec\":{\"running\":true}}\n");
    fclose(f);

    /* The VMIM is new (404, then POST); the VM exists and differs (PUT). */
    fake_add(e->fake, "GET", VMIMS "/migration-job", 404,
             "{\"kind\":\"Status\",\"reason\":\"NotFound\",\"code\":404}");
    fake_add(e->fake, "GET", VMIMS "/migration-job", 200, created);
    fake_add(e->fake, "POST", VMIMS, 201, created);
    fake_add(e->fake, "GET", VMS "/vm1", 200, vm_have);
    fake_add(e->fake, "PUT", VMS "/vm1", 200, vm_have);
    base = e->fake->nreqs;
    run_orchctl(&e->ro, &r, "apply", "-f", path, NULL);
    assert_int_equal(r.rc, 0);
    assert_string_equal(
        r.out, "virtualmachineinstancemigration.kubevirt.io/migration-job "
               "created\n"
               "virtualmachine.kubevirt.io/vm1 configured\n");
    assert_string_equal(r.err, "");
    run_clear(&r);
    q = fake_req(e->fake, base + 1);
    assert_string_equal(q.method, "POST");
    {
        json_t *b = load(q.body);

        assert_string_equal(orchctl_json_str(b, "spec.vmiName"), "vmi-fedora");
        assert_string_equal(orchctl_json_str(b, "metadata.namespace"),
                            "default");
        json_decref(b);
    }
    q = fake_req(e->fake, base + 3);
    assert_string_equal(q.method, "PUT");
    {
        json_t *b = load(q.body);

        assert_string_equal(orchctl_json_str(b, "metadata.resourceVersion"),
                            "42");
        assert_true(json_is_true(orchctl_json_get(b, "spec.running")));
        json_decref(b);
    }

    /* Applying the migration again changes nothing and posts nothing. */
    snprintf(path, sizeof(path), "%s/m2.json", dir);
    f = fopen(path, "w");
    fprintf(f, "{\"apiVersion\":\"kubevirt.io/v1\",\"kind\":"
               "\"VirtualMachineInstanceMigration\",\"metadata\":{\"name\":"
               "\"migration-job\"},\"spec\":{\"vmiName\":\"vmi-fedora\"}}\n");
    fclose(f);
    run_orchctl(&e->ro, &r, "apply", "-f", path, NULL);
    assert_int_equal(r.rc, 0);
    assert_string_equal(r.out, "virtualmachineinstancemigration.kubevirt.io/"
                               "migration-job unchanged\n");
    run_clear(&r);
    assert_int_equal(fake_count(e->fake, "POST"), 1);
    unlink(path);

    /* create -f - reads standard input; a refusal exits 1. */
    fake_add(e->fake, "POST", VMIMS, 409,
             "{\"kind\":\"Status\",\"message\":\"in-flight migration "
             "detected. Active migration job (migration-job) is currently "
             "already in progress for VMI vmi-fedora.\",\"reason\":"
             "\"Conflict\",\"code\":409}");
    e->ro.input = "{\"apiVersion\":\"kubevirt.io/v1\",\"kind\":"
                  "\"VirtualMachineInstanceMigration\",\"metadata\":{"
                  "\"generateName\":\"job-\"},\"spec\":{\"vmiName\":"
                  "\"vmi-fedora\"}}";
    run_orchctl(&e->ro, &r, "create", "-f", "-", NULL);
    e->ro.input = NULL;
    assert_int_equal(r.rc, 1);
    assert_string_equal(r.err, "Error from server (Conflict): in-flight "
                               "migration detected. Active migration job "
                               "(migration-job) is currently already in "
                               "progress for VMI vmi-fedora.\n");
    run_clear(&r);

    /* A kind the API does not serve. */
    e->ro.input = "{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{"
                  "\"name\":\"p\"}}";
    run_orchctl(&e->ro, &r, "apply", "-f", "-", NULL);
    e->ro.input = NULL;
    assert_int_equal(r.rc, 1);
    assert_string_equal(r.err, "error: unable to recognize \"-\": no matches "
                               "for kind \"Pod\" in version \"v1\"\n");
    run_clear(&r);
    run_orchctl(&e->ro, &r, "apply", NULL);
    assert_int_equal(r.rc, 2);
    assert_string_equal(r.err, "error: must specify -f FILE (or -f - for "
                               "standard input)\n");
    run_clear(&r);
    snprintf(path, sizeof(path), "%s/m.json", dir);
    unlink(path);
    rmdir(dir);
    free(created);
}

/* The seed's migration.yaml, applied as it is, and -o yaml back. */
static void test_bin_apply_seed_yaml(void **state)
{
    struct env *e = *state;
    const char *top = getenv("ORCH_TOP");
    char path[1024];
    const char *created =
        "{\"apiVersion\":\"kubevirt.io/v1\",\"kind\":"
        "\"VirtualMachineInstanceMigration\",\"metadata\":{\"name\":"
        "\"migration-job\",\"namespace\":\"default\"},\"spec\":{"
        "\"vmiName\":\"vmi-fedora\"},\"status\":{\"phase\":\"Pending\"}}";
    struct run r;
    json_t *b;

    snprintf(path, sizeof(path), "%s/tests/data/migration.yaml",
             top ? top : ".");
    fake_add(e->fake, "GET", VMIMS "/migration-job", 404,
             "{\"kind\":\"Status\",\"reason\":\"NotFound\",\"code\":404}");
    fake_add(e->fake, "POST", VMIMS, 201, created);
    run_orchctl(&e->ro, &r, "apply", "-f", path, NULL);
    assert_int_equal(r.rc, 0);
    assert_string_equal(r.out, "virtualmachineinstancemigration.kubevirt.io/"
                               "migration-job created\n");
    run_clear(&r);
    b = load(fake_req(e->fake, 1).body);
    assert_string_equal(orchctl_json_str(b, "kind"),
                        "VirtualMachineInstanceMigration");
    assert_string_equal(orchctl_json_str(b, "metadata.name"), "migration-job");
    assert_string_equal(orchctl_json_str(b, "spec.vmiName"), "vmi-fedora");
    json_decref(b);

    fake_add(e->fake, "GET", VMIMS "/migration-job", 200, created);
    run_orchctl(&e->ro, &r, "get", "vmim", "migration-job", "-o", "yaml", NULL);
    assert_int_equal(r.rc, 0);
    assert_string_equal(r.out, "apiVersion: kubevirt.io/v1\n"
                               "kind: VirtualMachineInstanceMigration\n"
                               "metadata:\n"
                               "  name: migration-job\n"
                               "  namespace: default\n"
                               "spec:\n"
                               "  vmiName: vmi-fedora\n"
                               "status:\n"
                               "  phase: Pending\n");
    run_clear(&r);
}

static void queue_migration(struct env *e, const char *name, const char *vmi,
                            const char *final_status)
{
    char uri[256];
    char *pending = vmim_json(name, vmi, "Pending", 0, NULL);
    char *running =
        vmim_json(name, vmi, "Running", 1,
                  "\"migrationState\":{\"sourceNode\":\"node1\",\"targetNode\":"
                  "\"node2\"},\"progress\":{\"dataTotalBytes\":2147483648,"
                  "\"dataProcessedBytes\":1073741824,\"dataRemainingBytes\":"
                  "1073741824}");
    char *final = vmim_json(name, vmi, final_status, 2,
                            final_status[0] == 'S'
                                ? "\"migrationState\":{\"sourceNode\":"
                                  "\"node1\",\"targetNode\":\"node2\","
                                  "\"completed\":true}"
                                : "\"migrationState\":{\"sourceNode\":"
                                  "\"node1\",\"targetNode\":\"node2\","
                                  "\"failed\":true,\"failureReason\":"
                                  "\"Live migration has been aborted\"}");

    snprintf(uri, sizeof(uri), VMIMS "/%s", name);
    fake_add(e->fake, "POST", VMIMS, 201, pending);
    fake_add(e->fake, "GET", uri, 200, pending);
    fake_add(e->fake, "GET", uri, 200, running);
    fake_add(e->fake, "GET", uri, 200, final);
    free(pending);
    free(running);
    free(final);
}

static void test_bin_migrate_wait(void **state)
{
    struct env *e = *state;
    struct fake_request q;
    struct run r;
    json_t *b;

    queue_migration(e, "kubevirt-migrate-vm-abcde", "vm1", "Succeeded");
    run_orchctl(&e->ro, &r, "migrate", "vm1", "--to", "node2", "--wait", NULL);
    assert_int_equal(r.rc, 0);
    assert_string_equal(
        r.out,
        "VM vm1 was scheduled to migrate "
        "(virtualmachineinstancemigration.kubevirt.io/"
        "kubevirt-migrate-vm-abcde)\n"
        "kubevirt-migrate-vm-abcde: Pending\n"
        "kubevirt-migrate-vm-abcde: Running\n"
        "kubevirt-migrate-vm-abcde: Succeeded\n"
        "virtualmachineinstancemigration.kubevirt.io/kubevirt-migrate-vm-abcde "
        "Succeeded: VM vm1 moved from node1 to node2\n");
    assert_string_equal(r.err, "");
    q = fake_req(e->fake, 0);
    assert_string_equal(q.method, "POST");
    assert_string_equal(q.uri, VMIMS);
    b = load(q.body);
    assert_string_equal(orchctl_json_str(b, "metadata.generateName"),
                        "kubevirt-migrate-vm-");
    assert_string_equal(orchctl_json_str(b, "spec.vmiName"), "vm1");
    assert_string_equal(json_string_value(json_object_get(
                            orchctl_json_get(b, "spec.addedNodeSelector"),
                            "kubernetes.io/hostname")),
                        "node2");
    json_decref(b);
    run_clear(&r);
}

static void test_bin_migrate_failed(void **state)
{
    struct env *e = *state;
    struct run r;

    queue_migration(e, "kubevirt-migrate-vm-fffff", "vm1", "Failed");
    run_orchctl(&e->ro, &r, "migrate", "vm1", "--selector", "rack=b", "--wait",
                "--timeout", "20s", NULL);
    assert_int_equal(r.rc, 1);
    assert_string_equal(
        r.err, "error: migration \"kubevirt-migrate-vm-fffff\" of VM \"vm1\" "
               "failed: Live migration has been aborted\n");
    assert_non_null(strstr(r.out, "kubevirt-migrate-vm-fffff: Failed\n"));
    run_clear(&r);
    {
        json_t *b = load(fake_req(e->fake, 0).body);

        assert_string_equal(
            json_string_value(json_object_get(
                orchctl_json_get(b, "spec.addedNodeSelector"), "rack")),
            "b");
        json_decref(b);
    }
}

static void test_bin_migrate_tty(void **state)
{
    struct env *e = *state;
    struct run r;

    queue_migration(e, "kubevirt-migrate-vm-ttyyy", "vm1", "Succeeded");
    e->ro.tty = true;
    run_orchctl(&e->ro, &r, "migrate", "vm1", "--wait", NULL);
    e->ro.tty = false;
    assert_int_equal(r.rc, 0);
    /* The terminal turns \n into \r\n. */
    assert_non_null(
        strstr(r.out, "\r\033[Kkubevirt-migrate-vm-ttyyy  Pending"));
    assert_non_null(strstr(r.out, "\r\033[Kkubevirt-migrate-vm-ttyyy  Running  "
                                  "[##########----------]  50%  "
                                  "1.0GiB/2.0GiB  node1 -> node2"));
    assert_non_null(strstr(r.out, "Succeeded: VM vm1 moved from node1 to "
                                  "node2\r\n"));
    run_clear(&r);
}

static void test_bin_migrate_cancel(void **state)
{
    struct env *e = *state;
    char *done = vmim_json("old", "vm1", "Succeeded", 60, NULL);
    char *live =
        vmim_json("kubevirt-migrate-vm-live1", "vm1", "Running", 5, NULL);
    char *list = NULL;
    struct run r;

    assert_true(asprintf(&list,
                         "{\"kind\":\"VirtualMachineInstanceMigrationList\","
                         "\"items\":[%s,%s]}",
                         done, live) > 0);
    fake_add(e->fake, "GET",
             VMIMS "?labelSelector=kubevirt.io%2Fvmi-name%3Dvm1", 200, list);
    fake_add(e->fake, "DELETE", VMIMS "/kubevirt-migrate-vm-live1", 200,
             "{\"kind\":\"Status\",\"status\":\"Success\"}");
    run_orchctl(&e->ro, &r, "migrate-cancel", "vm1", NULL);
    assert_int_equal(r.rc, 0);
    assert_string_equal(r.out, "migration \"kubevirt-migrate-vm-live1\" of VM "
                               "\"vm1\" cancelled\n");
    assert_int_equal(fake_count(e->fake, "DELETE"), 1);
    run_clear(&r);

    fake_add(e->fake, "GET",
             VMIMS "?labelSelector=kubevirt.io%2Fvmi-name%3Dvm9", 200,
             "{\"items\":[]}");
    run_orchctl(&e->ro, &r, "migrate-cancel", "vm9", NULL);
    assert_int_equal(r.rc, 1);
    assert_string_equal(r.err,
                        "error: found no migration to cancel for VM \"vm9\"\n");
    run_clear(&r);
    free(done);
    free(live);
    free(list);
}

static void test_bin_drain(void **state)
{
    struct env *e = *state;
    struct run r;
    const char *vmis =
        "{\"kind\":\"VirtualMachineInstanceList\",\"items\":["
        "{\"metadata\":{\"name\":\"a\",\"namespace\":\"default\"},"
        "\"status\":{\"phase\":\"Running\",\"nodeName\":\"node1\"}},"
        "{\"metadata\":{\"name\":\"b\",\"namespace\":\"default\"},"
        "\"status\":{\"phase\":\"Running\",\"nodeName\":\"node3\"}},"
        "{\"metadata\":{\"name\":\"c\",\"namespace\":\"default\"},"
        "\"status\":{\"phase\":\"Running\",\"nodeName\":\"node1\"}}]}";

    fake_add(e->fake, "GET", NODES "/node1", 200, node_json("node1", false));
    fake_add(e->fake, "PATCH", NODES "/node1", 200, node_json("node1", true));
    fake_add(e->fake, "GET", "/apis/kubevirt.io/v1/virtualmachineinstances",
             200, vmis);
    queue_migration(e, "kubevirt-migrate-vm-aaaaa", "a", "Succeeded");
    queue_migration(e, "kubevirt-migrate-vm-ccccc", "c", "Succeeded");
    run_orchctl(&e->ro, &r, "drain", "node1", "--timeout", "20s", NULL);
    assert_int_equal(r.rc, 0);
    /* Cordoned before anything moves, as kubectl drain does. */
    assert_true(strncmp(r.out, "node/node1 cordoned\n", 20) == 0);
    assert_string_equal(fake_req(e->fake, 1).method, "PATCH");
    assert_string_equal(fake_req(e->fake, 2).uri,
                        "/apis/kubevirt.io/v1/virtualmachineinstances");
    assert_non_null(strstr(r.out, "VM a was scheduled to migrate"));
    assert_non_null(strstr(r.out, "VM c was scheduled to migrate"));
    assert_null(strstr(r.out, "VM b "));
    assert_non_null(strstr(r.out, "node node1 drained: 2 VMs migrated\n"));
    assert_string_equal(r.err, "");
    assert_int_equal(fake_count(e->fake, "POST"), 2);
    {
        json_t *b = load(fake_req(e->fake, 4).body);

        assert_string_equal(orchctl_json_str(b, "spec.vmiName"), "c");
        json_decref(b);
    }
    run_clear(&r);

    /* A node that cannot be cordoned is not drained at all. */
    fake_add(e->fake, "GET", NODES "/nosuch", 404, NODE_NOT_FOUND);
    run_orchctl(&e->ro, &r, "drain", "nosuch", NULL);
    assert_int_equal(r.rc, 1);
    assert_string_equal(r.out, "");
    assert_string_equal(r.err, "Error from server (NotFound): nodes "
                               "\"nosuch\" not found\n");
    assert_int_equal(fake_count(e->fake, "POST"), 2);
    assert_string_equal(fake_req(e->fake, e->fake->nreqs - 1).uri,
                        NODES "/nosuch");
    run_clear(&r);
}

/* cordon and uncordon at the HTTP seam, against a fake that answers as
 * the hosts branch's orchestratord does (merge PATCH on nodes), and as
 * one that takes only PUT. */
static void test_bin_cordon(void **state)
{
    struct env *e = *state;
    struct fake_request q;
    struct run r;
    json_t *b;
    int base;

    /* A merge patch of the one field, after a read. */
    fake_add(e->fake, "GET", NODES "/hv01", 200, node_json("hv01", false));
    fake_add(e->fake, "PATCH", NODES "/hv01", 200, node_json("hv01", true));
    run_orchctl(&e->ro, &r, "cordon", "hv01", NULL);
    assert_int_equal(r.rc, 0);
    assert_string_equal(r.out, "node/hv01 cordoned\n");
    assert_string_equal(r.err, "");
    run_clear(&r);
    assert_int_equal(e->fake->nreqs, 2);
    q = fake_req(e->fake, 1);
    assert_string_equal(q.method, "PATCH");
    assert_string_equal(q.ctype, "application/merge-patch+json");
    assert_string_equal(q.body, "{\"spec\":{\"unschedulable\":true}}");

    /* Already so: said, and nothing written. */
    fake_add(e->fake, "GET", NODES "/hv02", 200, node_json("hv02", true));
    run_orchctl(&e->ro, &r, "cordon", "hv02", NULL);
    assert_int_equal(r.rc, 0);
    assert_string_equal(r.out, "node/hv02 already cordoned\n");
    run_clear(&r);
    run_orchctl(&e->ro, &r, "uncordon", "hv01", NULL);
    assert_int_equal(r.rc, 0);
    assert_string_equal(r.out, "node/hv01 already uncordoned\n");
    run_clear(&r);
    assert_int_equal(fake_count(e->fake, "PATCH"), 1);

    /* uncordon removes the field (null in a merge patch). */
    fake_add(e->fake, "PATCH", NODES "/hv02", 200, node_json("hv02", false));
    run_orchctl(&e->ro, &r, "uncordon", "hv02", NULL);
    assert_int_equal(r.rc, 0);
    assert_string_equal(r.out, "node/hv02 uncordoned\n");
    run_clear(&r);
    q = fake_req(e->fake, e->fake->nreqs - 1);
    assert_string_equal(q.method, "PATCH");
    assert_string_equal(q.body, "{\"spec\":{\"unschedulable\":null}}");

    /* A server without PATCH on nodes (405): GET + PUT with the
     * resourceVersion; a conflict reads again and retries once. */
    fake_add(e->fake, "GET", NODES "/hv04", 200, node_json("hv04", false));
    fake_add(e->fake, "GET", NODES "/hv04", 200,
             "{\"apiVersion\":\"v1\",\"kind\":\"Node\",\"metadata\":{\"name\":"
             "\"hv04\",\"resourceVersion\":\"8\"},\"status\":{}}");
    fake_add(e->fake, "PATCH", NODES "/hv04", 405,
             "{\"kind\":\"Status\",\"reason\":\"MethodNotAllowed\",\"code\":"
             "405}");
    fake_add(e->fake, "PUT", NODES "/hv04", 409,
             "{\"kind\":\"Status\",\"reason\":\"Conflict\",\"code\":409}");
    fake_add(e->fake, "PUT", NODES "/hv04", 200, node_json("hv04", true));
    base = e->fake->nreqs;
    run_orchctl(&e->ro, &r, "cordon", "hv04", NULL);
    assert_int_equal(r.rc, 0);
    assert_string_equal(r.out, "node/hv04 cordoned\n");
    assert_string_equal(r.err, "");
    run_clear(&r);
    assert_int_equal(e->fake->nreqs - base, 5);
    q = fake_req(e->fake, base + 2);
    assert_string_equal(q.method, "PUT");
    assert_string_equal(q.ctype, "application/json");
    b = load(q.body);
    assert_string_equal(orchctl_json_str(b, "metadata.resourceVersion"), "7");
    assert_true(json_is_true(orchctl_json_get(b, "spec.unschedulable")));
    /* The status read is sent back as it was. */
    assert_string_equal(
        json_string_value(json_object_get(
            json_array_get(orchctl_json_get(b, "status.conditions"), 0),
            "reason")),
        "KubeletReady");
    json_decref(b);
    assert_string_equal(fake_req(e->fake, base + 3).method, "GET");
    b = load(fake_req(e->fake, base + 4).body);
    assert_string_equal(orchctl_json_str(b, "metadata.resourceVersion"), "8");
    assert_true(json_is_true(orchctl_json_get(b, "spec.unschedulable")));
    json_decref(b);

    /* A second conflict is the server's answer: 1. */
    fake_add(e->fake, "GET", NODES "/hv05", 200, node_json("hv05", true));
    fake_add(e->fake, "PATCH", NODES "/hv05", 415,
             "{\"kind\":\"Status\",\"reason\":\"UnsupportedMediaType\","
             "\"code\":415}");
    fake_add(e->fake, "PUT", NODES "/hv05", 409,
             "{\"kind\":\"Status\",\"message\":\"Operation cannot be "
             "fulfilled on nodes \\\"hv05\\\": the object has been "
             "modified\",\"reason\":\"Conflict\",\"code\":409}");
    base = e->fake->nreqs;
    run_orchctl(&e->ro, &r, "uncordon", "hv05", NULL);
    assert_int_equal(r.rc, 1);
    assert_string_equal(r.out, "");
    assert_string_equal(r.err, "Error from server (Conflict): Operation "
                               "cannot be fulfilled on nodes \"hv05\": the "
                               "object has been modified\n");
    run_clear(&r);
    assert_int_equal(e->fake->nreqs - base, 5);
    b = load(fake_req(e->fake, base + 2).body);
    assert_null(orchctl_json_get(b, "spec.unschedulable"));
    json_decref(b);

    /* Other refusals are not retried another way. */
    fake_add(e->fake, "GET", NODES "/hv06", 200, node_json("hv06", false));
    fake_add(e->fake, "PATCH", NODES "/hv06", 403,
             "{\"kind\":\"Status\",\"message\":\"User \\\"dash\\\" cannot "
             "patch resource \\\"nodes\\\"\",\"reason\":\"Forbidden\","
             "\"code\":403}");
    run_orchctl(&e->ro, &r, "cordon", "hv06", NULL);
    assert_int_equal(r.rc, 1);
    assert_string_equal(r.err, "Error from server (Forbidden): User \"dash\" "
                               "cannot patch resource \"nodes\"\n");
    run_clear(&r);
    fake_add(e->fake, "GET", NODES "/nosuch", 404, NODE_NOT_FOUND);
    run_orchctl(&e->ro, &r, "cordon", "nosuch", NULL);
    assert_int_equal(r.rc, 1);
    assert_string_equal(r.err, "Error from server (NotFound): nodes "
                               "\"nosuch\" not found\n");
    run_clear(&r);
    assert_int_equal(fake_count(e->fake, "PUT"), 4);

    /* Usage: 2, nothing sent. */
    base = e->fake->nreqs;
    run_orchctl(&e->ro, &r, "cordon", NULL);
    assert_int_equal(r.rc, 2);
    assert_string_equal(r.err, "error: cordon needs the name of a node\n"
                               "See 'orchctl cordon -h' for help.\n");
    run_clear(&r);
    run_orchctl(&e->ro, &r, "uncordon", "a", "b", NULL);
    assert_int_equal(r.rc, 2);
    run_clear(&r);
    assert_int_equal(e->fake->nreqs, base);
}

/* get nodes lists the VMIs once, across namespaces, and counts them per
 * node; a count it cannot get leaves the nodes listed, exit 1. */
static void test_bin_get_nodes(void **state)
{
    struct env *e = *state;
    struct run r;
    char *list = NULL;
    int n;

    assert_true(asprintf(&list,
                         "{\"kind\":\"NodeList\",\"apiVersion\":\"v1\","
                         "\"metadata\":{\"resourceVersion\":\"9\"},"
                         "\"items\":[%s,%s]}",
                         node_json("hv01", false),
                         node_json("hv02", true)) > 0);
    fake_add(e->fake, "GET", NODES, 200, list);
    fake_add(e->fake, "GET", ALL_VMIS, 200,
             "{\"kind\":\"VirtualMachineInstanceList\",\"items\":["
             "{\"metadata\":{\"name\":\"a\",\"namespace\":\"default\"},"
             "\"status\":{\"phase\":\"Running\",\"nodeName\":\"hv02\"}},"
             "{\"metadata\":{\"name\":\"b\",\"namespace\":\"lab\"},"
             "\"status\":{\"phase\":\"Succeeded\",\"nodeName\":\"hv02\"}},"
             "{\"metadata\":{\"name\":\"c\",\"namespace\":\"lab\"},"
             "\"status\":{\"phase\":\"Pending\"}}]}");
    run_orchctl(&e->ro, &r, "get", "nodes", NULL);
    assert_int_equal(r.rc, 0);
    assert_string_equal(
        r.out, "NAME   STATUS                     ROLES    AGE   VERSION   "
               "VMIS\n"
               "hv01   Ready                      <none>   60m   v0.1.0    0\n"
               "hv02   Ready,SchedulingDisabled   <none>   60m   v0.1.0    "
               "2\n");
    assert_string_equal(r.err, "");
    run_clear(&r);
    assert_int_equal(fake_count(e->fake, "GET"), 2);
    assert_string_equal(fake_req(e->fake, 1).uri, ALL_VMIS);

    /* JSON is the server's list, nothing counted. */
    run_orchctl(&e->ro, &r, "get", "nodes", "-o", "json", NULL);
    assert_int_equal(r.rc, 0);
    assert_null(strstr(r.out, "VMIS"));
    run_clear(&r);
    assert_int_equal(fake_count(e->fake, "GET"), 3);

    fake_add(e->fake, "GET", ALL_VMIS, 403,
             "{\"kind\":\"Status\",\"message\":\"virtualmachineinstances is "
             "forbidden\",\"reason\":\"Forbidden\",\"code\":403}");
    run_orchctl(&e->ro, &r, "get", "nodes", NULL);
    assert_int_equal(r.rc, 1);
    assert_non_null(strstr(r.out, "hv01   Ready                      <none>   "
                                  "60m   v0.1.0    <unknown>\n"));
    assert_string_equal(r.err, "Error from server (Forbidden): "
                               "virtualmachineinstances is forbidden\n");
    run_clear(&r);

    /* No nodes: nothing to count, no VMI list asked for. */
    fake_add(e->fake, "GET", NODES, 200,
             "{\"kind\":\"NodeList\",\"items\":[]}");
    n = fake_count(e->fake, "GET");
    run_orchctl(&e->ro, &r, "get", "nodes", NULL);
    assert_int_equal(r.rc, 0);
    assert_string_equal(r.out, "");
    assert_string_equal(r.err, "No resources found\n");
    run_clear(&r);
    assert_int_equal(fake_count(e->fake, "GET"), n + 1);
    free(list);
}

/* describe node at the HTTP seam: the node, its VMIs by field selector
 * (one that is not on it, from a server that ignored the selector, is
 * left out), its events; what could not be read is said, the rest shown. */
static void test_bin_describe_node(void **state)
{
    struct env *e = *state;
    json_t *node = load_data("node-hv01.json");
    json_t *vmis = load_data("node-hv01-vmis.json");
    json_t *events = load_data("node-hv01-events.json");
    char *node_text, *vmi_list, *event_list;
    struct run r;

    json_array_append_new(
        vmis, load("{\"metadata\":{\"name\":\"elsewhere\",\"namespace\":"
                   "\"default\"},\"status\":{\"phase\":\"Running\","
                   "\"nodeName\":\"hv02\"}}"));
    node_text = json_dumps(node, JSON_COMPACT);
    {
        json_t *l = json_pack("{s:s, s:O}", "kind",
                              "VirtualMachineInstanceList", "items", vmis);

        vmi_list = json_dumps(l, JSON_COMPACT);
        json_decref(l);
        l = json_pack("{s:s, s:O}", "kind", "EventList", "items", events);
        event_list = json_dumps(l, JSON_COMPACT);
        json_decref(l);
    }
    fake_add(e->fake, "GET", NODES "/hv01", 200, node_text);
    fake_add(e->fake, "GET", ALL_VMIS "?fieldSelector=status.nodeName%3Dhv01",
             200, vmi_list);
    fake_add(e->fake, "GET",
             "/api/v1/events?fieldSelector=involvedObject.kind%3DNode%2C"
             "involvedObject.name%3Dhv01",
             200, event_list);
    run_orchctl(&e->ro, &r, "describe", "no", "hv01", NULL);
    assert_int_equal(r.rc, 0);
    assert_string_equal(r.err, "");
    assert_true(strncmp(r.out, "Name:               hv01\n", 25) == 0);
    assert_non_null(strstr(r.out, "CreationTimestamp:  Sat, 04 Nov 2023 "
                                  "22:13:20 +0000\n"));
    assert_non_null(strstr(r.out, "Non-terminated VMIs:  (2 in total)\n"));
    assert_null(strstr(r.out, "elsewhere"));
    assert_non_null(strstr(r.out, "    2                 0000:01:00.3  "
                                  "enp1s0f0v2  <none>             <none>  "
                                  "on      off       enable  reserved  "
                                  "lab_db\n"));
    assert_non_null(strstr(r.out, "libvirt unreachable: ^[[2Jboom\n"));
    run_clear(&r);
    assert_int_equal(e->fake->nreqs, 3);

    /* Events refused, VMIs failing: shown as unknown or left out, exit
     * 1, the server's words on stderr. */
    fake_add(e->fake, "GET",
             "/api/v1/events?fieldSelector=involvedObject.kind%3DNode%2C"
             "involvedObject.name%3Dhv01",
             403,
             "{\"kind\":\"Status\",\"message\":\"events is forbidden\","
             "\"reason\":\"Forbidden\",\"code\":403}");
    fake_add(e->fake, "GET", ALL_VMIS "?fieldSelector=status.nodeName%3Dhv01",
             500,
             "{\"kind\":\"Status\",\"message\":\"disk I/O error\","
             "\"reason\":\"InternalError\",\"code\":500}");
    run_orchctl(&e->ro, &r, "describe", "no", "hv01", NULL);
    assert_int_equal(r.rc, 1);
    assert_non_null(strstr(r.out, "Non-terminated VMIs:  <unknown>\n"));
    assert_non_null(strstr(r.out, "System Info:\n"));
    assert_null(strstr(r.out, "Events:"));
    assert_string_equal(r.err,
                        "Error from server (InternalError): disk I/O error\n"
                        "Error from server (Forbidden): events is forbidden\n");
    run_clear(&r);

    free(node_text);
    free(vmi_list);
    free(event_list);
    json_decref(node);
    json_decref(vmis);
    json_decref(events);
}

/* scripts/cron-drain.sh: one migrate --wait per VM on the host. */
/* A drain that does not finish: one migration fails, one is refused. */
static void test_bin_drain_failures(void **state)
{
    struct env *e = *state;
    struct run r;
    const char *vmis =
        "{\"kind\":\"VirtualMachineInstanceList\",\"items\":["
        "{\"metadata\":{\"name\":\"a\",\"namespace\":\"default\"},"
        "\"status\":{\"phase\":\"Running\",\"nodeName\":\"node1\"}},"
        "{\"metadata\":{\"name\":\"c\",\"namespace\":\"default\"},"
        "\"status\":{\"phase\":\"Running\",\"nodeName\":\"node1\"}},"
        "{\"metadata\":{\"name\":\"d\",\"namespace\":\"default\"},"
        "\"status\":{\"phase\":\"Running\",\"nodeName\":\"node1\"}},"
        "{\"metadata\":{\"name\":\"e\",\"namespace\":\"default\"},"
        "\"status\":{\"phase\":\"Succeeded\",\"nodeName\":\"node1\"}}]}";

    fake_add(e->fake, "GET", NODES "/node1", 200, node_json("node1", true));
    fake_add(e->fake, "GET", "/apis/kubevirt.io/v1/virtualmachineinstances",
             200, vmis);
    queue_migration(e, "kubevirt-migrate-vm-aaaaa", "a", "Succeeded");
    queue_migration(e, "kubevirt-migrate-vm-ccccc", "c", "Failed");
    fake_add(e->fake, "POST", VMIMS, 422,
             "{\"kind\":\"Status\",\"message\":\"cannot migrate VMI: "
             "PVC disk is not shared, live migration requires that all PVCs "
             "must be shared (using ReadWriteMany access mode)\",\"reason\":"
             "\"Invalid\",\"code\":422}");
    run_orchctl(&e->ro, &r, "drain", "node1", NULL);
    assert_int_equal(r.rc, 1);
    /* A drain run again on a cordoned node: nothing to patch. */
    assert_true(strncmp(r.out, "node/node1 already cordoned\n", 28) == 0);
    assert_int_equal(fake_count(e->fake, "PATCH"), 0);
    assert_non_null(strstr(r.out, "VM a was scheduled to migrate"));
    assert_null(strstr(r.out, "VM e "));
    assert_string_equal(
        r.err, "Error from server (Invalid): cannot migrate VMI: PVC disk is "
               "not shared, live migration requires that all PVCs must be "
               "shared (using ReadWriteMany access mode)\n"
               "error: migration \"kubevirt-migrate-vm-ccccc\" of VM \"c\" "
               "failed: Live migration has been aborted\n"
               "error: node node1 not drained: 2 of 3 VMs did not migrate\n");
    assert_int_equal(fake_count(e->fake, "POST"), 3);
    run_clear(&r);
}

static void test_bin_cron_drain_script(void **state)
{
    struct env *e = *state;
    const char *top = getenv("ORCH_TOP");
    char script[1024];
    struct run r;
    const char *vmis =
        "{\"kind\":\"VirtualMachineInstanceList\",\"items\":["
        "{\"metadata\":{\"name\":\"a\",\"namespace\":\"default\"},"
        "\"status\":{\"phase\":\"Running\",\"nodeName\":\"node1\"}},"
        "{\"metadata\":{\"name\":\"b\",\"namespace\":\"default\"},"
        "\"status\":{\"phase\":\"Running\",\"nodeName\":\"node3\","
        "\"interfaces\":[{\"ipAddress\":\"10.0.0.2\"}]}},"
        "{\"metadata\":{\"name\":\"c\",\"namespace\":\"default\"},"
        "\"status\":{\"phase\":\"Running\",\"nodeName\":\"node1\","
        "\"interfaces\":[{\"ipAddress\":\"10.0.0.3\"}]}}]}";

    snprintf(script, sizeof(script), "%s/scripts/cron-drain.sh",
             top ? top : ".");
    fake_add(e->fake, "GET", "/apis/kubevirt.io/v1/virtualmachineinstances",
             200, vmis);
    queue_migration(e, "kubevirt-migrate-vm-aaaaa", "a", "Succeeded");
    queue_migration(e, "kubevirt-migrate-vm-ccccc", "c", "Failed");
    e->ro.program = script;
    run_orchctl(&e->ro, &r, "node1", "20s", NULL);
    e->ro.program = NULL;
    assert_int_equal(r.rc, 1);
    assert_non_null(strstr(r.out, "migrating default/a away from node1\n"));
    assert_non_null(strstr(r.out, "migrating default/c away from node1\n"));
    assert_null(strstr(r.out, "default/b"));
    assert_non_null(strstr(r.out, "node1: 1 moved, 1 failed\n"));
    assert_non_null(strstr(r.err, "error: migration "
                                  "\"kubevirt-migrate-vm-ccccc\" of VM \"c\" "
                                  "failed: Live migration has been aborted\n"));
    assert_int_equal(fake_count(e->fake, "POST"), 2);
    run_clear(&r);
}

static void test_bin_auth_and_config(void **state)
{
    struct env *e = *state;
    char home[] = "/tmp/orchctl-home-XXXXXX";
    char path[256];
    struct run_opts ro = {0};
    struct run r;
    FILE *f;

    fake_add(e->fake, "GET", "/version", 401,
             "{\"kind\":\"Status\",\"message\":\"Unauthorized\",\"reason\":"
             "\"Unauthorized\",\"code\":401}");
    fake_add(e->fake, "GET", "/version", 200, "{\"gitVersion\":\"v9.9.9\"}");
    run_orchctl(&e->ro, &r, "version", "--token", "s3cret-t0ken", NULL);
    assert_int_equal(r.rc, 1);
    assert_string_equal(r.out, "Client Version: " ORCHCTL_VERSION "\n");
    assert_string_equal(r.err,
                        "Error from server (Unauthorized): Unauthorized\n");
    assert_string_equal(fake_req(e->fake, 0).auth, "Bearer s3cret-t0ken");
    run_clear(&r);

    /* Server and token from the config file, no flags, no environment. */
    assert_non_null(mkdtemp(home));
    snprintf(path, sizeof(path), "%s/.config", home);
    mkdir(path, 0700);
    snprintf(path, sizeof(path), "%s/.config/orchctl", home);
    mkdir(path, 0700);
    snprintf(path, sizeof(path), "%s/.config/orchctl/config", home);
    f = fopen(path, "w");
    fprintf(f, "server = %s\ntoken = from-file\n", e->server);
    fclose(f);
    ro.home = home;
    run_orchctl(&ro, &r, "version", NULL);
    assert_int_equal(r.rc, 0);
    assert_string_equal(r.out, "Client Version: " ORCHCTL_VERSION "\n"
                               "Server Version: v9.9.9\n");
    assert_string_equal(fake_req(e->fake, 1).auth, "Bearer from-file");
    run_clear(&r);
    unlink(path);
    snprintf(path, sizeof(path), "%s/.config/orchctl", home);
    rmdir(path);
    snprintf(path, sizeof(path), "%s/.config", home);
    rmdir(path);
    rmdir(home);
}

/* A server answering with hostile strings (an OSC that retitles the
 * terminal, a clear-screen, a C1 CSI) in names, annotations, phases,
 * Status messages and raw error bodies: whatever orchctl prints, nothing
 * reaches the terminal raw. */
#define HOSTILE      "\\u001b]0;pwned\\u0007\\u001b[2J\\u009b31m\\u007f"
#define HOSTILE_SEEN "^[]0;pwned^G^[[2J\\u009b31m^?"

static void test_bin_hostile_strings(void **state)
{
    static const char obj[] =
        "{\"apiVersion\":\"kubevirt.io/v1\",\"kind\":"
        "\"VirtualMachineInstanceMigration\",\"metadata\":{\"name\":"
        "\"evil" HOSTILE
        "\",\"namespace\":\"default\",\"annotations\":{\"note" HOSTILE
        "\":\"" HOSTILE "\\n2nd line\"}},\"spec\":{\"vmiName\":\"v" HOSTILE
        "\"},\"status\":{\"phase\":\"Failed" HOSTILE "\","
        "\"migrationState\":{\"sourceNode\":\"n" HOSTILE "\","
        "\"failureReason\":\"why" HOSTILE "\"}}}";
    static const char *const runs[][6] = {
        {"get", "vmim"},
        {"get", "vmim", "-o", "name"},
        {"get", "vmim", "evil", "-o", "yaml"},
        {"get", "vmim", "evil", "-o", "json"},
        {"describe", "vmim", "evil"},
        {"get", "vmim", "gone"},
        {"get", "vmim", "boom"},
        {"get", "vmim", "notjson"},
        {"version"},
    };
    struct env *e = *state;
    char *list = NULL;
    struct run r;

    assert_true(asprintf(&list,
                         "{\"kind\":\"VirtualMachineInstanceMigrationList\","
                         "\"metadata\":{\"resourceVersion\":\"9\"},"
                         "\"items\":[%s]}",
                         obj) > 0);
    fake_add(e->fake, "GET", VMIMS, 200, list);
    fake_add(e->fake, "GET", VMIMS "/evil", 200, obj);
    fake_add(e->fake, "GET", VMIMS "/gone", 404,
             "{\"kind\":\"Status\",\"status\":\"Failure\",\"reason\":"
             "\"NotFound" HOSTILE "\",\"message\":\"gone" HOSTILE "\","
             "\"code\":404}");
    fake_add(e->fake, "GET", VMIMS "/boom", 500,
             "raw \x1b]0;pwned\x07\x1b[2J\xc2\x9b\xff body");
    fake_add(e->fake, "GET", VMIMS "/notjson", 200, "{\"a\":\x1b[2J}");
    fake_add(e->fake, "GET", "/version", 200,
             "{\"gitVersion\":\"v1" HOSTILE "\"}");
    for (size_t i = 0; i < sizeof(runs) / sizeof(runs[0]); i++) {
        run_orchctl(&e->ro, &r, runs[i][0], runs[i][1], runs[i][2], runs[i][3],
                    runs[i][4], NULL);
        assert_terminal_safe(runs[i][0], r.out);
        assert_terminal_safe(runs[i][0], r.err);
        /* The ones that answer 2xx with JSON succeed, the rest fail. */
        assert_int_equal(r.rc, i >= 5 && i <= 7 ? 1 : 0);
        if (i == 0 || i == 1 || i == 4 || i == 5 || i == 8)
            assert_non_null(strstr(i == 5 ? r.err : r.out, HOSTILE_SEEN));
        if (i == 2 || i == 3)
            assert_non_null(strstr(r.out, "pwned"));
        run_clear(&r);
    }
    free(list);
}

static long long elapsed_ms(const struct timespec *t0)
{
    struct timespec t1;

    clock_gettime(CLOCK_MONOTONIC, &t1);
    return (t1.tv_sec - t0->tv_sec) * 1000LL +
           (t1.tv_nsec - t0->tv_nsec) / 1000000;
}

/* A server that accepts connections and then says nothing: a request, the
 * start of a watch, and the polls of --wait all give up in time, with
 * exit 1 and a message saying what happened. */
static void test_bin_stalled_server(void **state)
{
    struct env *e = *state;
    struct run_opts ro = {0};
    struct sockaddr_in sa = {.sin_family = AF_INET};
    socklen_t salen = sizeof(sa);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    char server[64], want[256];
    char *list = NULL, *a = vmim_json("m1", "vm1", "Pending", 60, NULL);
    struct timespec t0;
    struct run r;

    /* Listening, never accepting: the kernel completes the handshake and
     * takes the request, and no answer ever comes. */
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    assert_int_equal(listen(fd, 8), 0);
    getsockname(fd, (struct sockaddr *)&sa, &salen);
    snprintf(server, sizeof(server), "http://127.0.0.1:%d", ntohs(sa.sin_port));
    ro.server = server;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    run_orchctl(&ro, &r, "get", "vmim", "--request-timeout", "1s", NULL);
    if (elapsed_ms(&t0) > 10000)
        fail_msg("a 1 s request timeout took %lld ms", elapsed_ms(&t0));
    assert_true(elapsed_ms(&t0) >= 900);
    assert_int_equal(r.rc, 1);
    assert_string_equal(r.out, "");
    snprintf(want, sizeof(want),
             "Unable to get an answer from the server 127.0.0.1:%d: none "
             "within 1s (--request-timeout)\n",
             ntohs(sa.sin_port));
    assert_string_equal(r.err, want);
    run_clear(&r);
    close(fd);

    /* The list comes, the watch never answers. */
    assert_true(asprintf(&list,
                         "{\"kind\":\"VirtualMachineInstanceMigrationList\","
                         "\"metadata\":{\"resourceVersion\":\"7\"},"
                         "\"items\":[%s]}",
                         a) > 0);
    fake_add(e->fake, "GET", VMIMS, 200, list);
    fake_add(e->fake, "GET",
             VMIMS "?watch=true&resourceVersion=7&timeoutSeconds=1800", 0, "");
    clock_gettime(CLOCK_MONOTONIC, &t0);
    run_orchctl(&e->ro, &r, "get", "vmim", "-w", "--request-timeout", "1s",
                NULL);
    if (elapsed_ms(&t0) > 10000)
        fail_msg("a watch's 1 s request timeout took %lld ms", elapsed_ms(&t0));
    assert_int_equal(r.rc, 1);
    assert_non_null(strstr(r.out, "m1 "));
    snprintf(want, sizeof(want),
             "Unable to get an answer from the server 127.0.0.1:%d: none "
             "within 1s (--request-timeout)\n",
             e->fake->port);
    assert_string_equal(r.err, want);
    run_clear(&r);

    /* --wait --timeout 2s: a poll that hangs does not outlast the wait,
     * even with the default request timeout of a minute. */
    fake_add(e->fake, "POST", VMIMS, 201, a);
    fake_add(e->fake, "GET", VMIMS "/m1", 0, "");
    clock_gettime(CLOCK_MONOTONIC, &t0);
    run_orchctl(&e->ro, &r, "migrate", "vm1", "--wait", "--timeout", "2s",
                NULL);
    if (elapsed_ms(&t0) > 15000)
        fail_msg("--wait --timeout 2s took %lld ms", elapsed_ms(&t0));
    assert_int_equal(r.rc, 1);
    assert_string_equal(r.err, "error: timed out after 2s waiting for "
                               "migration \"m1\" of VM \"vm1\" (phase "
                               "unknown)\n");
    run_clear(&r);
    free(list);
    free(a);
}

static void test_bin_connection_refused(void **state)
{
    struct run_opts ro = {0};
    struct run r;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET};
    socklen_t len = sizeof(sa);
    char server[64];

    (void)state;
    /* A port that was just free: bound, never listened on, closed. */
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    getsockname(fd, (struct sockaddr *)&sa, &len);
    close(fd);
    snprintf(server, sizeof(server), "http://127.0.0.1:%d", ntohs(sa.sin_port));
    ro.server = server;
    run_orchctl(&ro, &r, "get", "vmim", NULL);
    assert_int_equal(r.rc, 1);
    assert_string_equal(r.out, "");
    {
        char want[256];

        snprintf(want, sizeof(want),
                 "The connection to the server 127.0.0.1:%d was refused - did "
                 "you specify the right host or port?\n",
                 ntohs(sa.sin_port));
        assert_string_equal(r.err, want);
    }
    run_clear(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_args_get),
        cmocka_unit_test(test_args_migrate),
        cmocka_unit_test(test_args_errors),
        cmocka_unit_test(test_main_exit_codes),
        cmocka_unit_test(test_kind_resolution),
        cmocka_unit_test(test_kind_table_matches_api),
        cmocka_unit_test(test_kind_paths),
        cmocka_unit_test(test_age_format),
        cmocka_unit_test(test_time_and_duration),
        cmocka_unit_test(test_table_vmim),
        cmocka_unit_test(test_table_other_kinds),
        cmocka_unit_test(test_table_wide),
        cmocka_unit_test(test_describe),
        cmocka_unit_test(test_server_error_wording),
        cmocka_unit_test(test_progress_line),
        cmocka_unit_test(test_text_escape),
        cmocka_unit_test(test_doc_print_controls),
        cmocka_unit_test(test_table_describe_controls),
        cmocka_unit_test(test_tabw),
        cmocka_unit_test(test_describe_node),
        cmocka_unit_test(test_doc_decode),
        cmocka_unit_test(test_config_file),
        cmocka_unit_test_setup_teardown(test_bin_get_table, env_setup,
                                        env_teardown),
        cmocka_unit_test_setup_teardown(test_bin_get_pages, env_setup,
                                        env_teardown),
        cmocka_unit_test_setup_teardown(test_bin_get_errors, env_setup,
                                        env_teardown),
        cmocka_unit_test_setup_teardown(test_bin_all_namespaces_and_watch,
                                        env_setup, env_teardown),
        cmocka_unit_test_setup_teardown(test_bin_describe_delete, env_setup,
                                        env_teardown),
        cmocka_unit_test_setup_teardown(test_bin_apply_create, env_setup,
                                        env_teardown),
        cmocka_unit_test_setup_teardown(test_bin_apply_seed_yaml, env_setup,
                                        env_teardown),
        cmocka_unit_test_setup_teardown(test_bin_migrate_wait, env_setup,
                                        env_teardown),
        cmocka_unit_test_setup_teardown(test_bin_migrate_failed, env_setup,
                                        env_teardown),
        cmocka_unit_test_setup_teardown(test_bin_migrate_tty, env_setup,
                                        env_teardown),
        cmocka_unit_test_setup_teardown(test_bin_migrate_cancel, env_setup,
                                        env_teardown),
        cmocka_unit_test_setup_teardown(test_bin_drain, env_setup,
                                        env_teardown),
        cmocka_unit_test_setup_teardown(test_bin_cordon, env_setup,
                                        env_teardown),
        cmocka_unit_test_setup_teardown(test_bin_get_nodes, env_setup,
                                        env_teardown),
        cmocka_unit_test_setup_teardown(test_bin_describe_node, env_setup,
                                        env_teardown),
        cmocka_unit_test_setup_teardown(test_bin_drain_failures, env_setup,
                                        env_teardown),
        cmocka_unit_test_setup_teardown(test_bin_cron_drain_script, env_setup,
                                        env_teardown),
        cmocka_unit_test_setup_teardown(test_bin_auth_and_config, env_setup,
                                        env_teardown),
        cmocka_unit_test_setup_teardown(test_bin_hostile_strings, env_setup,
                                        env_teardown),
        cmocka_unit_test_setup_teardown(test_bin_stalled_server, env_setup,
                                        env_teardown),
        cmocka_unit_test(test_bin_connection_refused),
    };

    evthread_use_pthreads();
    /* describe prints local times, as kubectl does: UTC here, and in the
     * orchctl binaries run from here. */
    setenv("TZ", "UTC", 1);
    tzset();
    return cmocka_run_group_tests_name("orchctl", tests, NULL, NULL);
}
