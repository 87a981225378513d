/*
 * Unit tests for scripts/guest/netcfg.awk, the lab guest's reading of
 * cloud-init network-config, run with busybox's awk as the guest runs it:
 * the seed's own networkData (version 2, tests/data/vm-sriov.yaml), version
 * 2 under "network:" with flow lists and a default route, version 1 with a
 * netmask and nameserver entries, and a version it does not know.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include <cmocka.h>

static const char *top_dir(void)
{
    const char *top = getenv("ORCH_TOP");
    return top ? top : ".";
}

/* busybox awk -f netcfg.awk FILE: its stdout into out, its exit status. */
static int run(const char *file, char *out, size_t len)
{
    char cmd[2048];
    FILE *p;
    size_t n;
    int st;

    if (system("command -v busybox >/dev/null 2>&1") != 0)
        fail_msg("busybox is missing; run scripts/install-deps.sh");
    snprintf(
        cmd, sizeof(cmd),
        "busybox awk -f %s/scripts/guest/netcfg.awk %s/tests/data/netcfg/%s "
        "2>/dev/null",
        top_dir(), top_dir(), file);
    p = popen(cmd, "r");
    assert_non_null(p);
    n = fread(out, 1, len - 1, p);
    out[n] = '\0';
    st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void test_seed_v2(void **state)
{
    char out[1024];

    (void)state;
    assert_int_equal(run("seed-v2.yaml", out, sizeof(out)), 0);
    /* MAC|MATCHNAME|SETNAME|ADDRS|GATEWAY|NAMESERVERS */
    assert_string_equal(out, "02:00:00:00:00:01||sriov-link-enabled|"
                             "10.10.10.12/24|10.10.10.1|10.96.0.10\n");
}

static void test_v2_wrapped(void **state)
{
    char out[1024];

    (void)state;
    assert_int_equal(run("v2-wrapped.yaml", out, sizeof(out)), 0);
    /* eth0 is matched by its name; the flow map of "lab" is outside the
     * subset and gives nothing but its name. */
    assert_string_equal(out, "|eth0||198.18.0.70/15,fd00::70/64|198.18.0.1|\n"
                             "|lab||||\n");
}

static void test_v1(void **state)
{
    char out[1024];

    (void)state;
    assert_int_equal(run("v1.yaml", out, sizeof(out)), 0);
    assert_string_equal(out, "02:00:00:00:00:02||eth0|192.168.1.10/24|"
                             "192.168.1.1|192.168.1.53,8.8.8.8,8.8.4.4\n"
                             "|eth1||10.0.0.5/8||8.8.8.8,8.8.4.4\n");
}

static void test_unknown_version(void **state)
{
    char out[1024];

    (void)state;
    assert_int_equal(run("v3.yaml", out, sizeof(out)), 1);
    assert_string_equal(out, "");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_seed_v2),
        cmocka_unit_test(test_v2_wrapped),
        cmocka_unit_test(test_v1),
        cmocka_unit_test(test_unknown_version),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
