/*
 * Integration test: the real orchctl against the real orchestratord.
 *
 * Starts build/bin/orchestratord on a random loopback port with a temporary
 * database (VMI and Node records made through the store first, as the
 * migrators would report them) and two bearer tokens, then runs orchctl:
 * apply of the seed's migration.yaml, get as table / JSON / YAML, the
 * conflict of a second migration, migrate-cancel, migrate --to with the
 * node selector it posts, migrate --wait running into its timeout (no
 * migration leaves Pending: the cluster limit is 0), a watch seeing a new
 * migration, and the server's NotFound / Unauthorized / Forbidden errors with
 * their exit codes.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "orchctl/orchctl.h"
#include "store/store.h"
#include "tests/unit/support/daemon.h"
#include "tests/unit/support/orchctl_run.h"

#define ADMIN  "admin-token-0123456789abcdef"
#define VIEWER "viewer-token-0123456789abcdef"

static char tmpdir[256];
static pid_t daemon_pid = -1;
static char server[64];

static void store_record(struct store *st, enum store_kind kind,
                         const char *json)
{
    json_error_t jerr;
    json_t *obj = json_loads(json, 0, &jerr);

    if (!obj)
        fail_msg("bad record: %s", jerr.text);
    assert_int_equal(store_create(st, kind, obj), 0);
    json_decref(obj);
}

static int start_daemon(void **state)
{
    char db[300], conf[300], logpath[300], err[256];
    struct store *st = NULL;
    FILE *f;
    int port;

    (void)state;
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/orchctl-srv-XXXXXX");
    assert_non_null(mkdtemp(tmpdir));
    snprintf(db, sizeof(db), "%s/orch.db", tmpdir);
    snprintf(conf, sizeof(conf), "%s/orchestratord.conf", tmpdir);
    snprintf(logpath, sizeof(logpath), "%s/log", tmpdir);

    assert_int_equal(store_open(db, NULL, &st, err, sizeof(err)), 0);
    store_record(st, STORE_KIND_VMI,
                 "{\"apiVersion\":\"kubevirt.io/v1\",\"kind\":"
                 "\"VirtualMachineInstance\",\"metadata\":{\"name\":"
                 "\"vmi-fedora\",\"namespace\":\"default\"},\"spec\":{},"
                 "\"status\":{\"phase\":\"Running\",\"nodeName\":\"node1\","
                 "\"interfaces\":[{\"ipAddress\":\"10.10.10.12\"}],"
                 "\"conditions\":[{\"type\":\"Ready\",\"status\":\"True\"}]}}");
    store_record(st, STORE_KIND_VMI,
                 "{\"apiVersion\":\"kubevirt.io/v1\",\"kind\":"
                 "\"VirtualMachineInstance\",\"metadata\":{\"name\":"
                 "\"vmi-two\",\"namespace\":\"default\"},\"spec\":{},"
                 "\"status\":{\"phase\":\"Running\",\"nodeName\":\"node1\"}}");
    store_record(st, STORE_KIND_VMI,
                 "{\"apiVersion\":\"kubevirt.io/v1\",\"kind\":"
                 "\"VirtualMachineInstance\",\"metadata\":{\"name\":"
                 "\"vmi-lab\",\"namespace\":\"lab\"},\"spec\":{},"
                 "\"status\":{\"phase\":\"Running\",\"nodeName\":\"node2\"}}");
    store_record(st, STORE_KIND_NODE,
                 "{\"apiVersion\":\"v1\",\"kind\":\"Node\",\"metadata\":{"
                 "\"name\":\"node1\"},\"status\":{\"conditions\":[{\"type\":"
                 "\"Ready\",\"status\":\"True\"}]}}");
    store_close(st);

    f = fopen(conf, "w");
    assert_non_null(f);
    fprintf(f,
            "listen = \"127.0.0.1:0\";\n"
            /* The migration controller runs: a limit of 0 keeps every
             * migration in Pending, so the phases below are known. */
            "migrations = { parallel_migrations_per_cluster = 0; };\n"
            "tokens = (\n"
            "  { name = \"ops\"; token = \"" ADMIN "\"; role = \"admin\"; },\n"
            "  { name = \"dash\"; token = \"" VIEWER "\"; role = "
            "\"viewer\"; }\n"
            ");\n");
    fclose(f);

    {
        const char *argv[] = {"-f", conf, "--db", db, NULL};
        port = test_daemon_start("orchestratord", argv, logpath, &daemon_pid);
    }
    snprintf(server, sizeof(server), "http://127.0.0.1:%d", port);
    return 0;
}

static int stop_daemon(void **state)
{
    char cmd[400];
    int status = 0;

    (void)state;
    if (daemon_pid > 0) {
        kill(daemon_pid, SIGTERM);
        waitpid(daemon_pid, &status, 0);
    }
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
    if (system(cmd) != 0)
        return -1;
    return 0;
}

static struct run_opts admin(void)
{
    struct run_opts ro = {.server = server, .token = ADMIN};

    return ro;
}

static json_t *parse_out(const struct run *r)
{
    json_error_t jerr;
    json_t *j = json_loads(r->out, 0, &jerr);

    if (!j)
        fail_msg("orchctl printed no JSON (%s): %s", jerr.text, r->out);
    return j;
}

static void test_empty_then_apply_seed(void **state)
{
    struct run_opts ro = admin();
    char path[1024];
    const char *top = getenv("ORCH_TOP");
    struct run r;

    (void)state;
    run_orchctl(&ro, &r, "get", "vmim", NULL);
    assert_int_equal(r.rc, 0);
    assert_string_equal(r.out, "");
    assert_string_equal(r.err, "No resources found in default namespace.\n");
    run_clear(&r);

    snprintf(path, sizeof(path), "%s/tests/data/migration.yaml",
             top ? top : ".");
    run_orchctl(&ro, &r, "apply", "-f", path, NULL);
    assert_int_equal(r.rc, 0);
    assert_string_equal(r.out, "virtualmachineinstancemigration.kubevirt.io/"
                               "migration-job created\n");
    assert_string_equal(r.err, "");
    run_clear(&r);

    /* The same manifest again: nothing to change, nothing posted. */
    run_orchctl(&ro, &r, "apply", "-f", path, NULL);
    assert_int_equal(r.rc, 0);
    assert_string_equal(r.out, "virtualmachineinstancemigration.kubevirt.io/"
                               "migration-job unchanged\n");
    run_clear(&r);

    /* create refuses what exists, in the server's words. */
    run_orchctl(&ro, &r, "create", "-f", path, NULL);
    assert_int_equal(r.rc, 1);
    assert_string_equal(r.out, "");
    assert_true(strncmp(r.err, "Error from server (", 19) == 0);
    assert_non_null(strstr(r.err, "migration-job"));
    run_clear(&r);
}

static void test_get_outputs(void **state)
{
    struct run_opts ro = admin();
    struct run r;
    json_t *j;

    (void)state;
    run_orchctl(&ro, &r, "get", "vmim", NULL);
    assert_int_equal(r.rc, 0);
    /* SOURCE and TARGET are empty until a controller schedules it; the
     * AGE is a few seconds. */
    {
        char want[256];

        /* Column widths: the widest cell plus 3 (NAME 13+3, PHASE 7+3,
         * VMI 10+3, SOURCE and TARGET 6+3). */
        snprintf(want, sizeof(want),
                 "%-16s%-10s%-13s%-9s%-9sAGE\n"
                 "%-16s%-10s%-13s%-9s%-9s",
                 "NAME", "PHASE", "VMI", "SOURCE", "TARGET", "migration-job",
                 "Pending", "vmi-fedora", "", "");
        assert_true(strncmp(r.out, want, strlen(want)) == 0);
    }
    assert_string_equal(r.out + strlen(r.out) - 2, "s\n");
    run_clear(&r);

    run_orchctl(&ro, &r, "get", "vmim", "migration-job", "-o", "json", NULL);
    assert_int_equal(r.rc, 0);
    j = parse_out(&r);
    assert_string_equal(orchctl_json_str(j, "spec.vmiName"), "vmi-fedora");
    assert_string_equal(orchctl_json_str(j, "status.phase"), "Pending");
    assert_non_null(orchctl_json_str(j, "metadata.uid"));
    json_decref(j);
    run_clear(&r);

    run_orchctl(&ro, &r, "get", "vmim", "migration-job", "-o", "yaml", NULL);
    assert_int_equal(r.rc, 0);
    assert_true(strncmp(r.out, "apiVersion: kubevirt.io/v1\n", 27) == 0);
    assert_non_null(strstr(r.out, "\n  vmiName: vmi-fedora\n"));
    run_clear(&r);

    run_orchctl(&ro, &r, "get", "vmi", "-A", NULL);
    assert_int_equal(r.rc, 0);
    assert_non_null(strstr(r.out, "NAMESPACE   NAME         AGE   PHASE     "
                                  "IP            NODENAME   READY\n"));
    assert_non_null(strstr(r.out, "default     vmi-fedora   "));
    assert_non_null(strstr(r.out, "Running   10.10.10.12   node1      True\n"));
    assert_non_null(strstr(r.out, "lab         vmi-lab      "));
    run_clear(&r);

    /* VMIS counts the VMIs of every namespace on the node: vmi-fedora
     * and vmi-two, not vmi-lab on node2. */
    run_orchctl(&ro, &r, "get", "no", NULL);
    assert_int_equal(r.rc, 0);
    assert_string_equal(r.err, "");
    assert_true(strncmp(r.out,
                        "NAME    STATUS   ROLES    AGE   VERSION   VMIS\n"
                        "node1   Ready    <none>   ",
                        strlen("NAME    STATUS   ROLES    AGE   VERSION   "
                               "VMIS\n"
                               "node1   Ready    <none>   ")) == 0);
    /* An empty VERSION, then the count. */
    assert_string_equal(r.out + strlen(r.out) - 12, "          2\n");
    run_clear(&r);

    /* One node: its VMIs through the server's status.nodeName field
     * selector. */
    run_orchctl(&ro, &r, "get", "no", "node1", "-o", "wide", NULL);
    assert_int_equal(r.rc, 0);
    assert_string_equal(r.err, "");
    assert_true(strncmp(r.out,
                        "NAME    STATUS   ROLES    AGE   VERSION   VMIS   "
                        "INTERNAL-IP   OS-IMAGE    KERNEL-VERSION   LIBVIRT\n"
                        "node1   Ready    <none>   ",
                        strlen("NAME    STATUS   ROLES    AGE   VERSION   VMIS "
                               "  INTERNAL-IP   OS-IMAGE    KERNEL-VERSION   "
                               "LIBVIRT\nnode1   Ready    <none>   ")) == 0);
    assert_non_null(strstr(r.out, "            2      <none>        "
                                  "<unknown>   <unknown>        <unknown>\n"));
    run_clear(&r);

    run_orchctl(&ro, &r, "get", "vmi", "-o", "wide", NULL);
    assert_int_equal(r.rc, 0);
    assert_non_null(strstr(r.out, "NAME         AGE   PHASE     IP            "
                                  "NODENAME   READY   LIVE-MIGRATABLE\n"));
    assert_non_null(strstr(r.out, "Running   10.10.10.12   node1      True    "
                                  "\n"));
    run_clear(&r);

    run_orchctl(&ro, &r, "describe", "vmim", "migration-job", NULL);
    assert_int_equal(r.rc, 0);
    assert_true(strncmp(r.out,
                        "Name:         migration-job\n"
                        "Namespace:    default\n",
                        49) == 0);
    assert_non_null(strstr(r.out, "Spec:\n  Vmi Name:  vmi-fedora\n"));
    run_clear(&r);
}

static void test_migrate_conflict_and_cancel(void **state)
{
    struct run_opts ro = admin();
    struct run r;

    (void)state;
    run_orchctl(&ro, &r, "migrate", "vmi-fedora", NULL);
    assert_int_equal(r.rc, 1);
    assert_string_equal(r.out, "");
    assert_true(strncmp(r.err, "Error from server (Conflict): ", 30) == 0);
    run_clear(&r);

    run_orchctl(&ro, &r, "migrate-cancel", "vmi-fedora", NULL);
    assert_int_equal(r.rc, 0);
    assert_string_equal(r.out, "migration \"migration-job\" of VM "
                               "\"vmi-fedora\" cancelled\n");
    run_clear(&r);
}

static void test_migrate_to_and_wait(void **state)
{
    struct run_opts ro = admin();
    struct run r;
    json_t *j, *item;
    const char *name;

    (void)state;
    run_orchctl(&ro, &r, "migrate", "vmi-two", "--to", "node2", NULL);
    assert_int_equal(r.rc, 0);
    assert_true(strncmp(r.out,
                        "VM vmi-two was scheduled to migrate "
                        "(virtualmachineinstancemigration.kubevirt.io/"
                        "kubevirt-migrate-vm-",
                        101) == 0);
    run_clear(&r);

    run_orchctl(&ro, &r, "get", "vmim", "-l", "kubevirt.io/vmi-name=vmi-two",
                "-o", "json", NULL);
    assert_int_equal(r.rc, 0);
    j = parse_out(&r);
    assert_int_equal(json_array_size(json_object_get(j, "items")), 1);
    item = json_array_get(json_object_get(j, "items"), 0);
    name = orchctl_json_str(item, "metadata.name");
    assert_non_null(name);
    assert_int_equal(strlen(name), strlen("kubevirt-migrate-vm-") + 5);
    assert_string_equal(json_string_value(json_object_get(
                            orchctl_json_get(item, "spec.addedNodeSelector"),
                            "kubernetes.io/hostname")),
                        "node2");
    json_decref(j);
    run_clear(&r);

    /* The limit holds it in Pending: --wait times out, 1. */
    run_orchctl(&ro, &r, "migrate-cancel", "vmi-two", NULL);
    assert_int_equal(r.rc, 0);
    run_clear(&r);
    run_orchctl(&ro, &r, "migrate", "vmi-two", "--wait", "--timeout", "1s",
                NULL);
    assert_int_equal(r.rc, 1);
    assert_non_null(strstr(r.out, ": Pending\n"));
    assert_non_null(strstr(r.err, "error: timed out after 1s waiting for "
                                  "migration \"kubevirt-migrate-vm-"));
    assert_non_null(strstr(r.err, "of VM \"vmi-two\" (phase Pending)\n"));
    run_clear(&r);

    /* --selector: the node labels go into spec.addedNodeSelector. */
    run_orchctl(&ro, &r, "migrate-cancel", "vmi-two", NULL);
    assert_int_equal(r.rc, 0);
    run_clear(&r);
    run_orchctl(&ro, &r, "migrate", "vmi-two", "--selector", "rack=b", NULL);
    assert_int_equal(r.rc, 0);
    run_clear(&r);
    run_orchctl(&ro, &r, "get", "vmim", "-l", "kubevirt.io/vmi-name=vmi-two",
                "-o", "json", NULL);
    assert_int_equal(r.rc, 0);
    j = parse_out(&r);
    assert_int_equal(json_array_size(json_object_get(j, "items")), 1);
    item = json_array_get(json_object_get(j, "items"), 0);
    assert_string_equal(
        json_string_value(json_object_get(
            orchctl_json_get(item, "spec.addedNodeSelector"), "rack")),
        "b");
    json_decref(j);
    run_clear(&r);

    /* A usage error is 2, before anything reaches the server. */
    run_orchctl(&ro, &r, "migrate", "--to", "node2", NULL);
    assert_int_equal(r.rc, 2);
    assert_string_equal(r.out, "");
    assert_true(strlen(r.err) > 0);
    run_clear(&r);
}

/* Shell: wait up to 20 s for CONDITION, polling every 0.1 s, rather than
 * sleeping a fixed time that a busy machine may overrun. */
#define WAIT_FOR(condition)                                                    \
    "i=0; until " condition "; do i=$((i+1)); [ $i -gt 200 ] && break; "       \
    "sleep 0.1; done; "

/* A watch prints the list, then a row for a migration created meanwhile. */
static void test_watch(void **state)
{
    /* A migration in lab, then one in default: once the watch of default
     * shows the second, it would have shown the first before it (a watch
     * is in commit order), so the absence of the first proves the scoping
     * without a fixed sleep to give it a chance to appear. */
    // clang-format off
    static const char scoped[] =
        "f=$(mktemp); \"$ORCHCTL\" get vmim -w >\"$f\" & w=$!; "
        WAIT_FOR("grep -q NAME \"$f\"")
        "\"$ORCHCTL\" migrate vmi-lab -n lab >/dev/null || exit 3; "
        "\"$ORCHCTL\" migrate vmi-fedora >/dev/null || exit 4; "
        WAIT_FOR("grep -q vmi-fedora \"$f\"")
        "kill $w; wait $w 2>/dev/null; cat \"$f\"; rm -f \"$f\"; "
        "\"$ORCHCTL\" migrate-cancel vmi-fedora >/dev/null || exit 5; "
        "exit 0";
    static const char all[] =
        "f=$(mktemp); \"$ORCHCTL\" get vmim -A -w >\"$f\" & w=$!; "
        WAIT_FOR("grep -q vmi-lab \"$f\"")
        "\"$ORCHCTL\" migrate-cancel vmi-lab -n lab >/dev/null || exit 3; "
        WAIT_FOR("[ $(grep -c vmi-lab \"$f\") -ge 2 ]")
        "kill $w; wait $w 2>/dev/null; cat \"$f\"; rm -f \"$f\"; "
        "exit 0";
    // clang-format on
    struct run_opts ro = admin();
    struct run r;

    (void)state;
    ro.program = "/bin/sh";
    run_orchctl(&ro, &r, "-c", scoped, NULL);
    assert_int_equal(r.rc, 0);
    assert_string_equal(r.err, "");
    assert_non_null(strstr(r.out, "vmi-fedora"));
    /* The list of default, then nothing from lab: the watch is scoped. */
    assert_non_null(
        strstr(r.out, "NAME                        PHASE     VMI "));
    assert_non_null(strstr(r.out, "vmi-two"));
    assert_null(strstr(r.out, "vmi-lab"));
    run_clear(&r);

    run_orchctl(&ro, &r, "-c", all, NULL);
    assert_int_equal(r.rc, 0);
    assert_string_equal(r.err, "");
    /* Listed first, then the DELETED event's row once more. */
    {
        const char *first = strstr(r.out, "vmi-lab");

        assert_non_null(first);
        assert_non_null(strstr(first + 1, "vmi-lab"));
    }
    run_clear(&r);
}

static void test_server_errors(void **state)
{
    struct run_opts ro = admin();
    struct run r;

    (void)state;
    run_orchctl(&ro, &r, "get", "vmim", "nosuch", NULL);
    assert_int_equal(r.rc, 1);
    assert_string_equal(r.err, "Error from server (NotFound): "
                               "virtualmachineinstancemigrations.kubevirt.io "
                               "\"nosuch\" not found\n");
    run_clear(&r);

    ro.token = NULL;
    run_orchctl(&ro, &r, "get", "vmim", NULL);
    assert_int_equal(r.rc, 1);
    assert_string_equal(r.err,
                        "Error from server (Unauthorized): Unauthorized\n");
    run_clear(&r);

    ro.token = VIEWER;
    run_orchctl(&ro, &r, "delete", "vmim", "whatever", NULL);
    assert_int_equal(r.rc, 1);
    assert_string_equal(
        r.err, "Error from server (Forbidden): "
               "virtualmachineinstancemigrations.kubevirt.io is forbidden: "
               "User \"dash\" cannot delete resource "
               "\"virtualmachineinstancemigrations\" in API group "
               "\"kubevirt.io\" in the namespace \"default\"\n");
    /* The token is never echoed. */
    assert_null(strstr(r.err, VIEWER));
    run_clear(&r);

    /* A viewer may read. */
    run_orchctl(&ro, &r, "get", "vmi", "vmi-fedora", "-o", "name", NULL);
    assert_int_equal(r.rc, 0);
    assert_string_equal(r.out,
                        "virtualmachineinstance.kubevirt.io/vmi-fedora\n");
    run_clear(&r);
}

/* cordon against this orchestratord: main's takes neither PATCH nor PUT
 * on nodes yet (the hosts branch adds both; test_orchctl.c drives cordon
 * against a fake answering as that one does), so here only what holds on
 * both: a node that does not exist is the server's NotFound, exit 1, and
 * nothing is tried after the read. */
static void test_cordon_missing(void **state)
{
    struct run_opts ro = admin();
    struct run r;

    (void)state;
    run_orchctl(&ro, &r, "cordon", "nosuch", NULL);
    assert_int_equal(r.rc, 1);
    assert_string_equal(r.out, "");
    assert_string_equal(r.err, "Error from server (NotFound): nodes "
                               "\"nosuch\" not found\n");
    run_clear(&r);
}

/* A VM manifest through create / apply / delete -f, and the start / stop /
 * restart verbs with their exit codes (the VM controller runs, with no
 * node to place on: the VM only shows ErrorUnschedulable). */
static void test_vm_lifecycle_verbs(void **state)
{
    struct run_opts ro = admin();
    char path[512];
    struct run r;
    FILE *f;

    (void)state;
    snprintf(path, sizeof(path), "%s/vm.yaml", tmpdir);
    f = fopen(path, "w");
    assert_non_null(f);
    fputs("apiVersion: kubevirt.io/v1\n"
          "kind: VirtualMachine\n"
          "metadata:\n"
          "  name: vm-cli\n"
          "spec:\n"
          "  runStrategy: Halted\n"
          "  template:\n"
          "    spec:\n"
          "      domain:\n"
          "        memory: {guest: 128Mi}\n"
          "        devices: {}\n",
          f);
    fclose(f);

    run_orchctl(&ro, &r, "create", "-f", path, NULL);
    if (r.rc != 0)
        fail_msg("create: %s", r.err);
    assert_string_equal(r.out, "virtualmachine.kubevirt.io/vm-cli created\n");
    run_clear(&r);
    run_orchctl(&ro, &r, "create", "-f", path, NULL);
    assert_int_equal(r.rc, 1);
    assert_non_null(strstr(r.err, "(AlreadyExists)"));
    run_clear(&r);
    run_orchctl(&ro, &r, "apply", "-f", path, NULL);
    assert_int_equal(r.rc, 0);
    assert_string_equal(r.out, "virtualmachine.kubevirt.io/vm-cli unchanged\n");
    run_clear(&r);

    run_orchctl(&ro, &r, "stop", "vm-cli", NULL);
    assert_int_equal(r.rc, 1);
    assert_string_equal(r.err,
                        "Error from server (Conflict): VM is not running\n");
    run_clear(&r);
    run_orchctl(&ro, &r, "restart", "vm-cli", NULL);
    assert_int_equal(r.rc, 1);
    run_clear(&r);
    run_orchctl(&ro, &r, "start", "vm-cli", NULL);
    assert_int_equal(r.rc, 0);
    assert_string_equal(r.out, "VM vm-cli was scheduled to start\n");
    run_clear(&r);
    run_orchctl(&ro, &r, "start", "vm-cli", NULL);
    assert_int_equal(r.rc, 1);
    assert_string_equal(
        r.err, "Error from server (Conflict): VM is already running\n");
    run_clear(&r);
    run_orchctl(&ro, &r, "stop", "vm-cli", NULL);
    assert_int_equal(r.rc, 0);
    assert_string_equal(r.out, "VM vm-cli was scheduled to stop\n");
    run_clear(&r);
    run_orchctl(&ro, &r, "start", "nosuch", NULL);
    assert_int_equal(r.rc, 1);
    assert_non_null(strstr(r.err, "(NotFound)"));
    run_clear(&r);
    run_orchctl(&ro, &r, "start", NULL);
    assert_int_equal(r.rc, 2);
    assert_string_equal(r.err, "error: start needs the name of a VM\n"
                               "See 'orchctl start -h' for help.\n");
    run_clear(&r);
    run_orchctl(&ro, &r, "restart", "a", "b", NULL);
    assert_int_equal(r.rc, 2);
    run_clear(&r);

    run_orchctl(&ro, &r, "delete", "-f", path, NULL);
    assert_int_equal(r.rc, 0);
    assert_string_equal(r.out, "virtualmachine.kubevirt.io \"vm-cli\" "
                               "deleted\n");
    run_clear(&r);
}

/* describe node: the node, its VMIs through the server's status.nodeName
 * field selector (vmi-fedora and vmi-two of default; vmi-lab is on node2),
 * and its Events (the server serves core/v1 events; none about node1). */
static void test_describe_node(void **state)
{
    struct run_opts ro = admin();
    struct run r;

    (void)state;
    run_orchctl(&ro, &r, "describe", "node", "node1", NULL);
    assert_string_equal(r.err, "");
    assert_int_equal(r.rc, 0);
    assert_true(strncmp(r.out,
                        "Name:               node1\n"
                        "Roles:              <none>\n",
                        52) == 0);
    assert_non_null(strstr(r.out, "Conditions:\n  Type                Status  "
                                  "LastHeartbeatTime  LastTransitionTime  "
                                  "Reason  Message\n"));
    assert_non_null(strstr(r.out, "Non-terminated VMIs:  (2 in total)\n"
                                  "  Namespace           Name        Phase "
                                  "   Memory     vCPUs\n"));
    assert_non_null(strstr(r.out, "  default             vmi-fedora  "
                                  "Running  <unknown>  <unknown>\n"));
    assert_non_null(strstr(r.out, "  default             vmi-two     "));
    assert_null(strstr(r.out, "vmi-lab"));
    {
        /* The section is there, empty (its column is the table's). */
        const char *ev = strstr(r.out, "Events:");
        assert_non_null(ev);
        ev += strspn(ev + 7, " ") + 7;
        assert_true(strncmp(ev, "<none>\n", 7) == 0);
    }
    run_clear(&r);

    run_orchctl(&ro, &r, "describe", "no", "nosuch", NULL);
    assert_int_equal(r.rc, 1);
    assert_string_equal(r.out, "");
    assert_string_equal(r.err, "Error from server (NotFound): nodes "
                               "\"nosuch\" not found\n");
    run_clear(&r);
}

/* orchctl version shows the server's /version gitVersion. */
static void test_version(void **state)
{
    struct run_opts ro = admin();
    struct run r;

    (void)state;
    run_orchctl(&ro, &r, "version", NULL);
    assert_int_equal(r.rc, 0);
    assert_string_equal(r.out, "Client Version: " ORCHCTL_VERSION "\n"
                               "Server Version: v0.1.0\n");
    assert_string_equal(r.err, "");
    run_clear(&r);
}

/* A self-signed certificate for 127.0.0.1 (EC P-256) written as PEM. */
static void make_cert(const char *cert_path, const char *key_path)
{
    EVP_PKEY *key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    X509 *x = X509_new();
    X509_NAME *name;
    X509V3_CTX v3;
    X509_EXTENSION *ext;
    FILE *f;

    assert_non_null(key);
    assert_non_null(x);
    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
    X509_gmtime_adj(X509_getm_notBefore(x), -60);
    X509_gmtime_adj(X509_getm_notAfter(x), 3600);
    X509_set_pubkey(x, key);
    name = X509_get_subject_name(x);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                               (const unsigned char *)"127.0.0.1", -1, -1, 0);
    X509_set_issuer_name(x, name);
    X509V3_set_ctx(&v3, x, x, NULL, NULL, 0);
    ext = X509V3_EXT_conf_nid(NULL, &v3, NID_subject_alt_name, "IP:127.0.0.1");
    assert_non_null(ext);
    X509_add_ext(x, ext, -1);
    X509_EXTENSION_free(ext);
    assert_true(X509_sign(x, key, EVP_sha256()) > 0);
    f = fopen(cert_path, "w");
    assert_non_null(f);
    assert_int_equal(PEM_write_X509(f, x), 1);
    fclose(f);
    f = fopen(key_path, "w");
    assert_non_null(f);
    assert_int_equal(PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL),
                     1);
    fclose(f);
    X509_free(x);
    EVP_PKEY_free(key);
}

/* TLS: --cacert verifies the server, --insecure-skip-tls-verify skips it,
 * and an unknown certificate is refused with exit 1. */
static void test_tls(void **state)
{
    char dir[] = "/tmp/orchctl-tls-XXXXXX";
    char cert[300], key[300], conf[300], db[300], logpath[300];
    char url[64], cmd[400];
    struct run_opts ro = {0};
    struct run r;
    pid_t pid;
    FILE *f;
    int port, status = 0;

    (void)state;
    assert_non_null(mkdtemp(dir));
    snprintf(cert, sizeof(cert), "%s/cert.pem", dir);
    snprintf(key, sizeof(key), "%s/key.pem", dir);
    snprintf(conf, sizeof(conf), "%s/o.conf", dir);
    snprintf(db, sizeof(db), "%s/o.db", dir);
    snprintf(logpath, sizeof(logpath), "%s/log", dir);
    make_cert(cert, key);
    f = fopen(conf, "w");
    assert_non_null(f);
    fprintf(f,
            "listen = \"127.0.0.1:0\";\n"
            "tls = { certificate = \"%s\"; key = \"%s\"; };\n",
            cert, key);
    fclose(f);
    {
        const char *argv[] = {"-f", conf, "--db", db, NULL};
        port = test_daemon_start("orchestratord", argv, logpath, &pid);
    }
    snprintf(url, sizeof(url), "https://127.0.0.1:%d", port);
    ro.server = url;

    run_orchctl(&ro, &r, "get", "vmim", NULL);
    assert_int_equal(r.rc, 1);
    assert_true(
        strncmp(r.err, "Unable to connect to the server 127.0.0.1:", 42) == 0);
    assert_non_null(strstr(r.err, "certificate"));
    run_clear(&r);
    run_orchctl(&ro, &r, "--cacert", cert, "get", "vmim", NULL);
    assert_int_equal(r.rc, 0);
    assert_string_equal(r.err, "No resources found in default namespace.\n");
    run_clear(&r);
    run_orchctl(&ro, &r, "get", "vmim", "--insecure-skip-tls-verify", NULL);
    assert_int_equal(r.rc, 0);
    run_clear(&r);

    kill(pid, SIGTERM);
    waitpid(pid, &status, 0);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_empty_then_apply_seed),
        cmocka_unit_test(test_get_outputs),
        cmocka_unit_test(test_migrate_conflict_and_cancel),
        cmocka_unit_test(test_migrate_to_and_wait),
        cmocka_unit_test(test_watch),
        cmocka_unit_test(test_server_errors),
        cmocka_unit_test(test_cordon_missing),
        cmocka_unit_test(test_vm_lifecycle_verbs),
        cmocka_unit_test(test_describe_node),
        cmocka_unit_test(test_version),
        cmocka_unit_test(test_tls),
    };

    return cmocka_run_group_tests_name("orchctl_server", tests, start_daemon,
                                       stop_daemon);
}
