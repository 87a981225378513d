/*
 * Unit tests for migrator/virt, the libvirt seam: lifecycle, listing,
 * XML and device calls run against libvirt's test driver
 * (test:///default); the migration call itself is caught with
 * -Wl,--wrap=virDomainMigrateToURI3 (and the max-downtime call beside it,
 * and device hot-plug, which the test driver lacks), which records what the
 * seam built (URI, flags, typed parameters) and either succeeds or passes
 * through to the real libvirt, whose test driver cannot migrate and so supplies
 * a real error to translate.
 */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include "migrator/virt.h"

#define TEST_URI "test:///default"
#define GUEST    "lab_guest1"

static const char *top_dir(void)
{
    const char *top = getenv("ORCH_TOP");
    return top ? top : ".";
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    char *buf;
    long n;

    if (!f)
        fail_msg("cannot open '%s'", path);
    assert_int_equal(fseek(f, 0, SEEK_END), 0);
    n = ftell(f);
    rewind(f);
    buf = malloc((size_t)n + 1);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

/* The reviewed lab guest XML from the domxml tests. */
static char *guest_xml(void)
{
    char path[PATH_MAX];

    snprintf(path, sizeof(path), "%s/tests/data/domxml/lab-guest.xml",
             top_dir());
    return slurp(path);
}

/* ---------------------------------------------------------------------- */
/* The wrapped migration calls                                             */

int __wrap_virDomainMigrateToURI3(virDomainPtr domain, const char *dconnuri,
                                  virTypedParameterPtr params,
                                  unsigned int nparams, unsigned int flags);
int __real_virDomainMigrateToURI3(virDomainPtr domain, const char *dconnuri,
                                  virTypedParameterPtr params,
                                  unsigned int nparams, unsigned int flags);
int __wrap_virDomainMigrateSetMaxDowntime(virDomainPtr domain,
                                          unsigned long long downtime,
                                          unsigned int flags);

int __wrap_virDomainAttachDeviceFlags(virDomainPtr domain, const char *xml,
                                      unsigned int flags);
int __real_virDomainAttachDeviceFlags(virDomainPtr domain, const char *xml,
                                      unsigned int flags);
int __wrap_virDomainDetachDeviceAlias(virDomainPtr domain, const char *alias,
                                      unsigned int flags);
int __real_virDomainDetachDeviceAlias(virDomainPtr domain, const char *alias,
                                      unsigned int flags);

/* Job statistics: the test driver has none, so a job is made up here when
 * job_fake is set: job_type, with job_op as its operation (none when 0). */
int __wrap_virDomainGetJobStats(virDomainPtr domain, int *type,
                                virTypedParameterPtr *params, int *nparams,
                                unsigned int flags);
int __real_virDomainGetJobStats(virDomainPtr domain, int *type,
                                virTypedParameterPtr *params, int *nparams,
                                unsigned int flags);
static bool job_fake;
static int job_type, job_op;

int __wrap_virDomainGetJobStats(virDomainPtr domain, int *type,
                                virTypedParameterPtr *params, int *nparams,
                                unsigned int flags)
{
    int max = 0;

    if (!job_fake)
        return __real_virDomainGetJobStats(domain, type, params, nparams,
                                           flags);
    *type = job_type;
    *params = NULL;
    *nparams = 0;
    if (job_op)
        assert_int_equal(virTypedParamsAddInt(params, nparams, &max,
                                              VIR_DOMAIN_JOB_OPERATION, job_op),
                         0);
    return 0;
}

static struct {
    bool pass_through; /* call the real libvirt */
    int attach_calls;
    int detach_calls;
    char device[128]; /* attached XML or detached alias */
    unsigned dev_flags;
    int calls;
    char domain[256];
    char dconnuri[256];
    unsigned flags;
    int nparams;
    char migrate_uri[256];
    char dest_xml[64];
    char persist_xml[64];
    unsigned long long bandwidth;
    int parallel;
    int downtime_calls;
    unsigned long long downtime;
} rec;

int __wrap_virDomainMigrateToURI3(virDomainPtr domain, const char *dconnuri,
                                  virTypedParameterPtr params,
                                  unsigned int nparams, unsigned int flags)
{
    const char *s = NULL;

    rec.calls++;
    snprintf(rec.domain, sizeof(rec.domain), "%s", virDomainGetName(domain));
    snprintf(rec.dconnuri, sizeof(rec.dconnuri), "%s", dconnuri);
    rec.flags = flags;
    rec.nparams = (int)nparams;
    rec.migrate_uri[0] = rec.dest_xml[0] = rec.persist_xml[0] = '\0';
    rec.bandwidth = 0;
    rec.parallel = 0;
    if (virTypedParamsGetString(params, (int)nparams, VIR_MIGRATE_PARAM_URI,
                                &s) == 1)
        snprintf(rec.migrate_uri, sizeof(rec.migrate_uri), "%s", s);
    if (virTypedParamsGetString(params, (int)nparams,
                                VIR_MIGRATE_PARAM_DEST_XML, &s) == 1)
        snprintf(rec.dest_xml, sizeof(rec.dest_xml), "%s", s);
    if (virTypedParamsGetString(params, (int)nparams,
                                VIR_MIGRATE_PARAM_PERSIST_XML, &s) == 1)
        snprintf(rec.persist_xml, sizeof(rec.persist_xml), "%s", s);
    virTypedParamsGetULLong(params, (int)nparams, VIR_MIGRATE_PARAM_BANDWIDTH,
                            &rec.bandwidth);
    virTypedParamsGetInt(params, (int)nparams,
                         VIR_MIGRATE_PARAM_PARALLEL_CONNECTIONS, &rec.parallel);
    if (rec.pass_through)
        return __real_virDomainMigrateToURI3(domain, dconnuri, params, nparams,
                                             flags);
    return 0;
}

/* The test driver has no migration parameters to set. */
int __wrap_virDomainMigrateSetMaxDowntime(virDomainPtr domain,
                                          unsigned long long downtime,
                                          unsigned int flags)
{
    (void)domain;
    (void)flags;
    rec.downtime_calls++;
    rec.downtime = downtime;
    return 0;
}

int __wrap_virDomainAttachDeviceFlags(virDomainPtr domain, const char *xml,
                                      unsigned int flags)
{
    rec.attach_calls++;
    snprintf(rec.device, sizeof(rec.device), "%s", xml);
    rec.dev_flags = flags;
    if (rec.pass_through)
        return __real_virDomainAttachDeviceFlags(domain, xml, flags);
    return 0;
}

int __wrap_virDomainDetachDeviceAlias(virDomainPtr domain, const char *alias,
                                      unsigned int flags)
{
    rec.detach_calls++;
    snprintf(rec.device, sizeof(rec.device), "%s", alias);
    rec.dev_flags = flags;
    if (rec.pass_through)
        return __real_virDomainDetachDeviceAlias(domain, alias, flags);
    return 0;
}

static int reset(void **state)
{
    (void)state;
    memset(&rec, 0, sizeof(rec));
    return 0;
}

/* ---------------------------------------------------------------------- */

static const struct migr_dom_info *find(const struct migr_dom_info *list, int n,
                                        const char *name)
{
    for (int i = 0; i < n; i++)
        if (strcmp(list[i].name, name) == 0)
            return &list[i];
    return NULL;
}

static void test_lifecycle(void **state)
{
    struct migr_virt *v = NULL;
    struct migr_dom_info *list = NULL, info;
    const struct migr_dom_info *g;
    char err[512], *name = NULL, *xml = guest_xml(), *back = NULL;
    int n;

    (void)state;
    assert_int_equal(migr_virt_open(TEST_URI, &v, err, sizeof(err)), 0);
    assert_int_equal(migr_virt_define(v, xml, &name, err, sizeof(err)), 0);
    assert_string_equal(name, GUEST);
    free(name);

    n = migr_virt_list(v, &list, err, sizeof(err));
    assert_true(n >= 2);
    for (int i = 1; i < n; i++)
        assert_true(strcmp(list[i - 1].name, list[i].name) < 0);
    g = find(list, n, GUEST);
    assert_non_null(g);
    assert_int_equal(g->state, MIGR_DOM_SHUTOFF);
    assert_true(g->persistent);
    assert_string_equal(g->uuid, "6a1f0c52-3b7e-4d4a-9c1e-2f6d8b0a7c11");
    /* The test driver's own domain runs from the start. */
    g = find(list, n, "test");
    assert_non_null(g);
    assert_int_equal(g->state, MIGR_DOM_RUNNING);
    /* virsh -c test:///default dominfo test: 8388608 KiB max, 2 CPUs. */
    assert_int_equal(g->memory_kib, 8388608);
    assert_int_equal(g->vcpus, 2);
    free(list);

    assert_int_equal(migr_virt_start(v, GUEST, err, sizeof(err)), 0);
    assert_int_equal(migr_virt_info(v, GUEST, &info, err, sizeof(err)), 0);
    assert_int_equal(info.state, MIGR_DOM_RUNNING);
    assert_string_equal(migr_dom_state_name(info.state), "running");
    /* (The test driver reports this one as an internal error; qemu's as
     * an invalid operation.) */
    assert_true(migr_virt_start(v, GUEST, err, sizeof(err)) < 0);
    assert_non_null(strstr(err, "cannot start 'lab_guest1': "));
    assert_non_null(strstr(err, "already running"));

    assert_int_equal(migr_virt_xml(v, GUEST, true, &back, err, sizeof(err)), 0);
    assert_non_null(strstr(back, "<name>lab_guest1</name>"));
    assert_non_null(strstr(back, "<alias name='ua-default'/>"));
    free(back);

    assert_int_equal(migr_virt_destroy(v, GUEST, err, sizeof(err)), 0);
    assert_int_equal(migr_virt_info(v, GUEST, &info, err, sizeof(err)), 0);
    assert_int_equal(info.state, MIGR_DOM_SHUTOFF);
    assert_string_equal(migr_dom_state_name(info.state), "shut off");
    assert_int_equal(migr_virt_destroy(v, GUEST, err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "cannot destroy 'lab_guest1': "));
    assert_non_null(strstr(err, "domain is not running"));
    assert_int_equal(migr_virt_undefine(v, GUEST, err, sizeof(err)), 0);
    assert_int_equal(migr_virt_info(v, GUEST, &info, err, sizeof(err)),
                     -ENOENT);
    assert_non_null(strstr(err, "domain 'lab_guest1': "));
    assert_int_equal(migr_virt_start(v, GUEST, err, sizeof(err)), -ENOENT);
    assert_int_equal(migr_virt_define(v, "<domain>", NULL, err, sizeof(err)),
                     -EINVAL);
    assert_non_null(strstr(err, "cannot define the domain: "));
    migr_virt_close(v);
    migr_virt_close(NULL);
    free(xml);

    assert_int_equal(migr_virt_open("nosuchdriver:///x", &v, err, sizeof(err)),
                     -ECONNREFUSED);
    assert_non_null(strstr(err, "cannot connect to 'nosuchdriver:///x': "));
}

/* What an unplug keeps to plug the NIC in again: the element with that
 * alias, without the host-side device name. */
static void test_iface_xml(void **state)
{
    static const char xml[] =
        "<domain type='qemu'><name>g</name><devices>"
        "<interface type='bridge'><mac address='52:54:00:00:00:01'/>"
        "<source bridge='br0'/><target dev='vnet0'/><alias name='ua-lab'/>"
        "</interface>"
        "<interface type='direct'><mac address='02:00:00:00:00:01'/>"
        "<source dev='ens1f0v1' mode='passthrough'/>"
        "<target dev='macvtap3'/><model type='virtio'/>"
        "<alias name='ua-sriov-net1'/><address type='pci' domain='0x0000' "
        "bus='0x00' slot='0x05' function='0x0'/></interface>"
        "</devices></domain>";
    struct migr_dom_devices d = {0};
    char *out = NULL;

    (void)state;
    assert_int_equal(migr_dom_iface_xml(xml, "ua-sriov-net1", &out), 0);
    assert_non_null(strstr(out, "<interface type=\"direct\">"));
    assert_non_null(strstr(out, "<source dev=\"ens1f0v1\" "));
    assert_non_null(strstr(out, "<alias name=\"ua-sriov-net1\"/>"));
    assert_non_null(strstr(out, "slot=\"0x05\""));
    assert_null(strstr(out, "target"));
    assert_null(strstr(out, "br0"));
    free(out);
    assert_int_equal(migr_dom_iface_xml(xml, "ua-sriov-net2", &out), -ENOENT);
    assert_int_equal(migr_dom_iface_xml("<network/>", "ua-lab", &out), -EINVAL);
    assert_int_equal(migr_dom_devices_parse(xml, &d), 0);
    assert_string_equal(d.ifaces[0].alias, "ua-lab");
    assert_string_equal(d.ifaces[1].alias, "ua-sriov-net1");
    migr_dom_devices_clear(&d);
}

/* Hot-plug as the SR-IOV unplug and replug do it.  The test driver has no
 * device hot-plug, so these two calls are wrapped too: recorded, then
 * passed through when the test wants libvirt's real error. */
static void test_attach_detach(void **state)
{
    struct migr_virt *v = NULL;
    char err[512], *xml = guest_xml();
    const char *nic = "<interface type='direct'>...</interface>";
    const unsigned both = VIR_DOMAIN_AFFECT_LIVE | VIR_DOMAIN_AFFECT_CONFIG;

    (void)state;
    assert_int_equal(migr_virt_open(TEST_URI, &v, err, sizeof(err)), 0);
    assert_int_equal(migr_virt_define(v, xml, NULL, err, sizeof(err)), 0);
    assert_int_equal(migr_virt_start(v, GUEST, err, sizeof(err)), 0);

    /* A persistent domain: the running one and its definition. */
    assert_int_equal(migr_virt_attach(v, GUEST, nic, MIGR_VIRT_LIVE_CONFIG, err,
                                      sizeof(err)),
                     0);
    assert_int_equal(rec.attach_calls, 1);
    assert_string_equal(rec.device, nic);
    assert_int_equal(rec.dev_flags, both);
    assert_int_equal(
        migr_virt_detach_alias(v, GUEST, "ua-sriov-net1", err, sizeof(err)), 0);
    assert_int_equal(rec.detach_calls, 1);
    assert_string_equal(rec.device, "ua-sriov-net1");
    assert_int_equal(rec.dev_flags, both);
    /* Back into the definition only (a NIC the guest never let go). */
    assert_int_equal(
        migr_virt_attach(v, GUEST, nic, MIGR_VIRT_CONFIG, err, sizeof(err)), 0);
    assert_int_equal(rec.dev_flags, VIR_DOMAIN_AFFECT_CONFIG);

    /* libvirt's refusal, translated. */
    rec.pass_through = true;
    assert_int_equal(migr_virt_attach(v, GUEST, nic, MIGR_VIRT_LIVE_CONFIG, err,
                                      sizeof(err)),
                     -EOPNOTSUPP);
    assert_non_null(strstr(err, "cannot attach the device: "));
    assert_int_equal(
        migr_virt_detach_alias(v, GUEST, "ua-sriov-net1", err, sizeof(err)),
        -EOPNOTSUPP);
    assert_non_null(strstr(err, "cannot detach the device: "));
    rec.pass_through = false;

    assert_int_equal(migr_virt_attach(v, GUEST, NULL, MIGR_VIRT_LIVE_CONFIG,
                                      err, sizeof(err)),
                     -EINVAL);
    assert_int_equal(
        migr_virt_detach_alias(v, "nope", "ua-x", err, sizeof(err)), -ENOENT);

    /* A transient domain has no definition to change. */
    assert_int_equal(migr_virt_undefine(v, GUEST, err, sizeof(err)), 0);
    assert_int_equal(migr_virt_attach(v, GUEST, nic, MIGR_VIRT_LIVE_CONFIG, err,
                                      sizeof(err)),
                     0);
    assert_int_equal(rec.dev_flags, VIR_DOMAIN_AFFECT_LIVE);
    assert_int_equal(migr_virt_destroy(v, GUEST, err, sizeof(err)), 0);
    migr_virt_close(v);
    free(xml);
}

static void test_migrate_params(void **state)
{
    struct migr_virt *v = NULL;
    char err[512], *xml = guest_xml();
    const unsigned base = VIR_MIGRATE_LIVE | VIR_MIGRATE_PEER2PEER |
                          VIR_MIGRATE_PERSIST_DEST |
                          VIR_MIGRATE_UNDEFINE_SOURCE;
    struct migr_migrate_params p = {
        .dest_uri = "qemu+tcp://198.18.0.2/system",
        .migrate_uri = "tcp://198.18.0.2:49152",
        .dest_xml = "<domain>target</domain>",
        .bandwidth_mib = 64,
        .max_downtime_ms = 300,
        .parallel_connections = 8,
        .auto_converge = true,
        .post_copy = true,
        .unsafe = true,
        .block_migration = true,
    };

    (void)state;
    assert_int_equal(migr_virt_open(TEST_URI, &v, err, sizeof(err)), 0);
    assert_int_equal(migr_virt_define(v, xml, NULL, err, sizeof(err)), 0);
    assert_int_equal(migr_virt_start(v, GUEST, err, sizeof(err)), 0);

    /* Everything the policy can ask for. */
    assert_int_equal(migr_virt_migrate(v, GUEST, &p, err, sizeof(err)), 0);
    assert_int_equal(rec.calls, 1);
    assert_string_equal(rec.domain, GUEST);
    assert_string_equal(rec.dconnuri, "qemu+tcp://198.18.0.2/system");
    assert_int_equal(rec.flags, base | VIR_MIGRATE_AUTO_CONVERGE |
                                    VIR_MIGRATE_POSTCOPY | VIR_MIGRATE_UNSAFE |
                                    VIR_MIGRATE_NON_SHARED_INC |
                                    VIR_MIGRATE_PARALLEL);
    assert_int_equal(rec.nparams, 5);
    assert_string_equal(rec.migrate_uri, "tcp://198.18.0.2:49152");
    assert_string_equal(rec.dest_xml, "<domain>target</domain>");
    /* The target's persistent definition is the retargeted XML too. */
    assert_string_equal(rec.persist_xml, "<domain>target</domain>");
    assert_int_equal(rec.bandwidth, 64);
    assert_int_equal(rec.parallel, 8);
    assert_int_equal(rec.downtime_calls, 1);
    assert_int_equal(rec.downtime, 300);

    /* KubeVirt's defaults: nothing but the four base flags. */
    memset(&rec, 0, sizeof(rec));
    p = (struct migr_migrate_params){.dest_uri = "qemu+tcp://h2/system"};
    assert_int_equal(migr_virt_migrate(v, GUEST, &p, err, sizeof(err)), 0);
    assert_int_equal(rec.flags, base);
    assert_int_equal(rec.nparams, 0);
    assert_int_equal(rec.downtime_calls, 0);

    /* A paused domain stays paused on the target. */
    virConnectPtr c = virConnectOpen(TEST_URI);
    virDomainPtr d = virDomainLookupByName(c, GUEST);
    assert_int_equal(virDomainSuspend(d), 0);
    p.persist_xml = "<domain>persist</domain>";
    p.parallel_connections = 1; /* one connection is not multifd */
    assert_int_equal(migr_virt_migrate(v, GUEST, &p, err, sizeof(err)), 0);
    assert_int_equal(rec.flags, base | VIR_MIGRATE_PAUSED);
    assert_int_equal(rec.nparams, 1);
    assert_string_equal(rec.persist_xml, "<domain>persist</domain>");
    assert_string_equal(rec.dest_xml, "");
    assert_int_equal(virDomainResume(d), 0);
    virDomainFree(d);
    virConnectClose(c);

    /* libvirt's error, translated: the test driver cannot migrate. */
    rec.pass_through = true;
    p = (struct migr_migrate_params){.dest_uri = "qemu+tcp://h2/system"};
    assert_int_equal(migr_virt_migrate(v, GUEST, &p, err, sizeof(err)),
                     -EOPNOTSUPP);
    assert_non_null(strstr(err, "migration failed: "));
    assert_non_null(strstr(err, "not supported"));
    rec.pass_through = false;

    p.dest_uri = NULL;
    assert_int_equal(migr_virt_migrate(v, GUEST, &p, err, sizeof(err)),
                     -EINVAL);
    assert_string_equal(err, "no migration target");
    p.dest_uri = "qemu+tcp://h2/system";
    assert_int_equal(migr_virt_migrate(v, "nope", &p, err, sizeof(err)),
                     -ENOENT);

    assert_int_equal(migr_virt_destroy(v, GUEST, err, sizeof(err)), 0);
    assert_int_equal(migr_virt_undefine(v, GUEST, err, sizeof(err)), 0);
    migr_virt_close(v);
    free(xml);
}

/* The migration job calls the monitor in jobs.c makes: statistics (faked,
 * the test driver keeping none), and the test driver's own refusals of
 * abort and post-copy, translated; an unknown domain is -ENOENT for
 * each. */
static void test_job_calls(void **state)
{
    struct migr_virt *v = NULL;
    struct migr_job_stats st;
    struct migr_migrate_params p = {.dest_uri = "qemu+tcp://h2/system",
                                    .tls = true};
    char err[512];
    int r;

    (void)state;
    assert_int_equal(migr_virt_open(TEST_URI, &v, err, sizeof(err)), 0);

    /* TLS unless disableTLS. */
    assert_int_equal(migr_virt_migrate(v, "test", &p, err, sizeof(err)), 0);
    assert_true(rec.flags & VIR_MIGRATE_TLS);

    /* The test driver's own answer, without a fake: it keeps none. */
    r = migr_virt_job_stats(v, "test", false, &st, err, sizeof(err));
    assert_int_equal(r, -EOPNOTSUPP);
    assert_non_null(strstr(err, "cannot read the job statistics: "));

    job_fake = true;
    job_type = VIR_DOMAIN_JOB_UNBOUNDED;
    job_op = VIR_DOMAIN_JOB_OPERATION_MIGRATION_OUT;
    assert_int_equal(migr_virt_job_stats(v, "test", false, &st, NULL, 0), 0);
    assert_int_equal(st.kind, MIGR_JOB_ACTIVE);
    assert_true(st.migration);
    job_op = VIR_DOMAIN_JOB_OPERATION_SAVE;
    assert_int_equal(migr_virt_job_stats(v, "test", false, &st, NULL, 0), 0);
    assert_false(st.migration);
    job_type = VIR_DOMAIN_JOB_COMPLETED;
    job_op = 0;
    assert_int_equal(migr_virt_job_stats(v, "test", true, &st, NULL, 0), 0);
    assert_int_equal(st.kind, MIGR_JOB_COMPLETED);
    assert_true(st.migration); /* an operation not named is not excluded */
    job_fake = false;

    /* The test driver can neither abort a job nor switch one. */
    r = migr_virt_job_abort(v, "test", err, sizeof(err));
    assert_int_equal(r, -EOPNOTSUPP);
    assert_non_null(strstr(err, "cannot abort the job: "));
    r = migr_virt_postcopy_start(v, "test", err, sizeof(err));
    assert_int_equal(r, -EOPNOTSUPP);
    assert_non_null(strstr(err, "cannot switch to post-copy: "));

    assert_int_equal(migr_virt_downtime_set(v, "test", 0, err, sizeof(err)),
                     -EINVAL);
    rec.downtime_calls = 0;
    assert_int_equal(migr_virt_downtime_set(v, "test", 500, err, sizeof(err)),
                     0);
    assert_int_equal(rec.downtime_calls, 1);
    assert_int_equal(rec.downtime, 500);

    assert_int_equal(migr_virt_job_stats(v, "nope", false, &st, NULL, 0),
                     -ENOENT);
    assert_int_equal(migr_virt_job_abort(v, "nope", NULL, 0), -ENOENT);
    assert_int_equal(migr_virt_postcopy_start(v, "nope", NULL, 0), -ENOENT);
    assert_int_equal(migr_virt_downtime_set(v, "nope", 1, NULL, 0), -ENOENT);
    migr_virt_close(v);
}

/* State reasons in virsh's words, the running id and "migrating", through
 * the lifecycle the test driver can play: started ("booted"), paused by
 * the user, resumed ("unpaused"), destroyed; the driver's own domain runs
 * with an unknown reason. */
static void test_state_reasons(void **state)
{
    struct migr_virt *v = NULL;
    struct migr_dom_info info;
    char err[512], *xml = guest_xml();
    virConnectPtr c;
    virDomainPtr d;

    (void)state;
    assert_int_equal(migr_virt_open(TEST_URI, &v, err, sizeof(err)), 0);
    assert_int_equal(migr_virt_info(v, "test", &info, err, sizeof(err)), 0);
    assert_string_equal(info.state_reason, "unknown");
    assert_int_equal(info.id, 1);
    assert_false(info.migrating);

    assert_int_equal(migr_virt_define(v, xml, NULL, err, sizeof(err)), 0);
    assert_int_equal(migr_virt_info(v, GUEST, &info, err, sizeof(err)), 0);
    assert_int_equal(info.state, MIGR_DOM_SHUTOFF);
    assert_int_equal(info.id, -1);
    assert_int_equal(migr_virt_start(v, GUEST, err, sizeof(err)), 0);
    assert_int_equal(migr_virt_info(v, GUEST, &info, err, sizeof(err)), 0);
    assert_string_equal(info.state_reason, "booted");
    assert_true(info.id > 1);
    assert_false(info.migrating);

    /* Pause and resume are not the seam's to do; plain libvirt does. */
    c = virConnectOpen(TEST_URI);
    assert_non_null(c);
    d = virDomainLookupByName(c, GUEST);
    assert_non_null(d);
    assert_int_equal(virDomainSuspend(d), 0);
    assert_int_equal(migr_virt_info(v, GUEST, &info, err, sizeof(err)), 0);
    assert_int_equal(info.state, MIGR_DOM_PAUSED);
    assert_string_equal(info.state_reason, "user");
    assert_false(info.migrating);
    assert_int_equal(virDomainResume(d), 0);
    assert_int_equal(migr_virt_info(v, GUEST, &info, err, sizeof(err)), 0);
    assert_string_equal(info.state_reason, "unpaused");
    /* A job runs: a migration out or in is "migrating", a save is not, a
     * job that does not say what it is counts as one. */
    job_fake = true;
    job_type = VIR_DOMAIN_JOB_UNBOUNDED;
    job_op = VIR_DOMAIN_JOB_OPERATION_MIGRATION_OUT;
    assert_int_equal(migr_virt_info(v, GUEST, &info, err, sizeof(err)), 0);
    assert_true(info.migrating);
    job_op = VIR_DOMAIN_JOB_OPERATION_MIGRATION_IN;
    assert_int_equal(migr_virt_info(v, GUEST, &info, err, sizeof(err)), 0);
    assert_true(info.migrating);
    job_op = VIR_DOMAIN_JOB_OPERATION_SAVE;
    assert_int_equal(migr_virt_info(v, GUEST, &info, err, sizeof(err)), 0);
    assert_false(info.migrating);
    job_op = 0;
    assert_int_equal(migr_virt_info(v, GUEST, &info, err, sizeof(err)), 0);
    assert_true(info.migrating);
    job_type = VIR_DOMAIN_JOB_NONE;
    assert_int_equal(migr_virt_info(v, GUEST, &info, err, sizeof(err)), 0);
    assert_false(info.migrating);
    job_fake = false;
    virDomainFree(d);
    virConnectClose(c);

    assert_int_equal(migr_virt_destroy(v, GUEST, err, sizeof(err)), 0);
    assert_int_equal(migr_virt_info(v, GUEST, &info, err, sizeof(err)), 0);
    assert_string_equal(info.state_reason, "destroyed");
    assert_int_equal(info.id, -1);
    assert_int_equal(migr_virt_undefine(v, GUEST, err, sizeof(err)), 0);
    migr_virt_close(v);
    free(xml);
}

/* The devices of the test driver's running domain "test", its address
 * from libvirt (the test driver makes one up per interface), and what
 * a lookup of a missing domain says. */
static void test_devices(void **state)
{
    struct migr_virt *v = NULL;
    struct migr_dom_devices d = {0};
    char err[512];

    (void)state;
    assert_int_equal(migr_virt_open(TEST_URI, &v, err, sizeof(err)), 0);
    assert_int_equal(migr_virt_devices(v, "test", true, &d, err, sizeof(err)),
                     0);
    assert_int_equal(d.n_ifaces, 1);
    assert_string_equal(d.ifaces[0].name, "testnet0");
    assert_string_equal(d.ifaces[0].mac, "aa:bb:cc:dd:ee:ff");
    assert_string_equal(d.ifaces[0].type, "network");
    assert_string_equal(d.ifaces[0].source, "default");
    assert_int_equal(d.ifaces[0].n_ips, 1);
    assert_string_equal(d.ifaces[0].ips[0], "192.168.122.3");
    assert_int_equal(d.n_disks, 1);
    assert_string_equal(d.disks[0].target, "vda");
    assert_string_equal(d.disks[0].device, "disk");
    assert_string_equal(d.disks[0].type, "file");
    assert_string_equal(d.disks[0].source, "/guest/diskimage1");
    assert_false(d.disks[0].readonly);
    assert_int_equal(d.hostdevs, 0);
    assert_false(d.acpi);

    /* Without addresses asked for, none are looked up. */
    assert_int_equal(migr_virt_devices(v, "test", false, &d, err, sizeof(err)),
                     0);
    assert_int_equal(d.ifaces[0].n_ips, 0);
    migr_dom_devices_clear(&d);
    migr_dom_devices_clear(&d);
    migr_dom_devices_clear(NULL);

    assert_int_equal(
        migr_virt_devices(v, "no-such-domain", true, &d, err, sizeof(err)),
        -ENOENT);
    assert_non_null(strstr(err, "domain 'no-such-domain': "));
    migr_virt_close(v);
}

/* The parser on the project's own domain XML and on what a hand-written
 * domain may hold: every disk and interface type, a hostdev, no ACPI. */
static void test_devices_parse(void **state)
{
    struct migr_dom_devices d = {0};
    char path[PATH_MAX], *xml;
    const char *hand =
        "<domain type='kvm'><name>hand</name><features><pae/></features>"
        "<devices>"
        "<disk type='block' device='lun'><source dev='/dev/sdb'/>"
        "<target dev='sda' bus='scsi'/></disk>"
        "<disk type='network' device='disk'>"
        "<source protocol='rbd' name='pool/img&amp;1'><host name='m'/>"
        "</source><target dev='vdb'/></disk>"
        "<disk type='volume'><source pool='p' volume='v'/>"
        "<target dev='vdc'/></disk>"
        "<disk type='file' device='cdrom'><target dev='hdc'/><readonly/>"
        "</disk>"
        "<interface type='bridge'><mac address='52:54:00:00:00:01'/>"
        "<source bridge='br0'/></interface>"
        "<interface type='direct'><source dev='ens1f0v1' mode='passthrough'/>"
        "<target dev='macvtap3'/><alias name='ua-sriov-net1'/></interface>"
        "<interface type='user'/>"
        "<hostdev mode='subsystem' type='pci'/><hostdev mode='subsystem' "
        "type='usb'/>"
        "</devices></domain>";

    (void)state;
    snprintf(path, sizeof(path), "%s/tests/data/domxml/vm-sriov-hostdev.xml",
             top_dir());
    xml = slurp(path);
    assert_int_equal(migr_dom_devices_parse(xml, &d), 0);
    free(xml);
    assert_true(d.acpi);
    assert_int_equal(d.hostdevs, 0);
    assert_int_equal(d.n_disks, 2);
    assert_string_equal(d.disks[0].source,
                        "/var/lib/orch/images/fedora-cloud.qcow2");
    assert_false(d.disks[0].readonly);
    assert_string_equal(d.disks[1].target, "vdb");
    assert_true(d.disks[1].readonly);
    assert_int_equal(d.n_ifaces, 1);
    assert_string_equal(d.ifaces[0].type, "hostdev");
    assert_string_equal(d.ifaces[0].mac, "02:00:00:00:00:01");
    assert_string_equal(d.ifaces[0].source, "0000:3b:02.1");
    assert_string_equal(d.ifaces[0].name, "");
    assert_string_equal(d.ifaces[0].alias, "ua-sriov-sriov-net1");

    assert_int_equal(migr_dom_devices_parse(hand, &d), 0);
    assert_int_equal(d.memory_kib, 0); /* none given */
    assert_false(d.acpi);
    assert_int_equal(d.hostdevs, 2);
    assert_int_equal(d.n_disks, 4);
    assert_string_equal(d.disks[0].type, "block");
    assert_string_equal(d.disks[0].device, "lun");
    assert_string_equal(d.disks[0].source, "/dev/sdb");
    assert_string_equal(d.disks[1].type, "network");
    assert_string_equal(d.disks[1].source, "rbd:pool/img&1");
    assert_string_equal(d.disks[2].source, "p/v");
    assert_string_equal(d.disks[2].device, "disk");
    assert_string_equal(d.disks[3].device, "cdrom");
    assert_string_equal(d.disks[3].source, "");
    assert_true(d.disks[3].readonly);
    assert_int_equal(d.n_ifaces, 3);
    assert_string_equal(d.ifaces[0].source, "br0");
    assert_string_equal(d.ifaces[0].name, "");
    assert_string_equal(d.ifaces[1].type, "direct");
    assert_string_equal(d.ifaces[1].source, "ens1f0v1");
    assert_string_equal(d.ifaces[1].name, "macvtap3");
    assert_string_equal(d.ifaces[1].mac, "");
    assert_string_equal(d.ifaces[1].alias, "ua-sriov-net1");
    assert_string_equal(d.ifaces[0].alias, "");
    assert_string_equal(d.ifaces[2].type, "user");
    assert_string_equal(d.ifaces[2].source, "");
    migr_dom_devices_clear(&d);

    /* <memory> in libvirt's units, to KiB. */
    {
        static const struct {
            const char *mem;
            uint64_t kib;
        } m[] = {
            {"<memory>2048</memory>", 2048},
            {"<memory unit='KiB'>2048</memory>", 2048},
            {"<memory unit='MiB'>192</memory>", 192 * 1024},
            {"<memory unit='G'>8</memory>", UINT64_C(8) << 20},
            {"<memory unit='GB'>1</memory>", 976563},
            {"<memory unit='b'>1</memory>", 1},
            {"<memory unit='parsec'>1</memory>", 0},
            {"<memory unit='MiB'>12x</memory>", 0},
        };
        for (size_t i = 0; i < sizeof(m) / sizeof(*m); i++) {
            char x[128];

            snprintf(x, sizeof(x), "<domain>%s</domain>", m[i].mem);
            assert_int_equal(migr_dom_devices_parse(x, &d), 0);
            if (d.memory_kib != m[i].kib)
                fail_msg("%s: %llu KiB", m[i].mem,
                         (unsigned long long)d.memory_kib);
        }
        migr_dom_devices_clear(&d);
    }
    assert_int_equal(migr_dom_devices_parse("<domain>", &d), -EINVAL);
    assert_int_equal(migr_dom_devices_parse("<network/>", &d), -EINVAL);
    assert_int_equal(migr_dom_devices_parse(NULL, &d), -EINVAL);
    assert_null(d.disks);
}

/* The host facts: the test driver's fixed node (virsh nodeinfo: 16 CPUs,
 * 3145728 KiB) and no host UUID in its capabilities. */
static void test_host_info(void **state)
{
    struct migr_virt *v = NULL;
    struct migr_host_info h;
    char err[512], want[32];
    unsigned long ver = 0;

    (void)state;
    assert_int_equal(migr_virt_open(TEST_URI, &v, err, sizeof(err)), 0);
    assert_int_equal(migr_virt_host(v, &h, err, sizeof(err)), 0);
    assert_string_equal(h.uri, "test:///default");
    assert_int_equal(h.cpus, 16);
    assert_int_equal(h.memory_kib, 3145728);
    assert_string_equal(h.host_uuid, "");
    assert_int_equal(virGetVersion(&ver, NULL, NULL), 0);
    snprintf(want, sizeof(want), "%lu.%lu.%lu", ver / 1000000,
             ver / 1000 % 1000, ver % 1000);
    assert_string_equal(h.version, want);
    /* virsh version: "Running hypervisor: TEST 0.0.2"; virsh capabilities:
     * an i686 host CPU without a model. */
    assert_string_equal(h.hypervisor_version, "0.0.2");
    assert_string_equal(h.arch, "i686");
    assert_string_equal(h.cpu_model, "");
    assert_int_equal(migr_virt_host(NULL, &h, err, sizeof(err)), -EINVAL);
    migr_virt_close(v);
}

/* ---------------------------------------------------------------------- */
/* Lifecycle events                                                        */

#define EV_GUEST "virt-event-guest"

/* What the lifecycle callback saw, shared with the test's threads. */
struct probe {
    pthread_mutex_t lock;
    pthread_cond_t cond; /* on the monotonic clock */
    int calls;
    char last[64];
    bool block;            /* the next call waits for migr_virt_close */
    bool in_call;          /* a call is running */
    bool close_returned;   /* migr_virt_close returned */
    bool saw_close_return; /* ...while a call was still running */
};

static void probe_init(struct probe *p)
{
    pthread_condattr_t ca;

    memset(p, 0, sizeof(*p));
    pthread_mutex_init(&p->lock, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&p->cond, &ca);
    pthread_condattr_destroy(&ca);
}

/* Wait on p->cond (p->lock held) until `ms` after `start`; false when that
 * time has passed. */
static bool probe_wait(struct probe *p, const struct timespec *start, long ms)
{
    struct timespec until = *start;

    until.tv_sec += ms / 1000;
    until.tv_nsec += (ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    return pthread_cond_timedwait(&p->cond, &p->lock, &until) == 0;
}

static void on_event(const char *name, void *arg)
{
    struct probe *p = arg;
    struct timespec start;

    pthread_mutex_lock(&p->lock);
    p->calls++;
    snprintf(p->last, sizeof(p->last), "%s", name);
    p->in_call = true;
    pthread_cond_broadcast(&p->cond);
    if (p->block) {
        /* Give a close that does not wait for this call every chance to
         * return meanwhile; one that waits returns only after it. */
        clock_gettime(CLOCK_MONOTONIC, &start);
        while (!p->close_returned && probe_wait(p, &start, 1000))
            ;
        p->saw_close_return = p->close_returned;
    }
    p->in_call = false;
    pthread_cond_broadcast(&p->cond);
    pthread_mutex_unlock(&p->lock);
}

struct closer {
    struct migr_virt *v;
    struct probe *p;
};

static void *closer_main(void *arg)
{
    struct closer *c = arg;

    migr_virt_close(c->v);
    pthread_mutex_lock(&c->p->lock);
    c->p->close_returned = true;
    pthread_cond_broadcast(&c->p->cond);
    pthread_mutex_unlock(&c->p->lock);
    return NULL;
}

/* Wait up to 10 s for a call of the callback with EV_GUEST running (or
 * done, when running is false); fails the test otherwise. */
static void probe_expect(struct probe *p, int calls, bool running)
{
    struct timespec start;

    clock_gettime(CLOCK_MONOTONIC, &start);
    pthread_mutex_lock(&p->lock);
    while (p->calls < calls || (running && !p->in_call))
        if (!probe_wait(p, &start, 10000))
            fail_msg("no lifecycle event for '%s' within 10 s", EV_GUEST);
    assert_string_equal(p->last, EV_GUEST);
    pthread_mutex_unlock(&p->lock);
}

/* Events reach the callback; and migr_virt_close() waits for a call in
 * progress on libvirt's event thread, so the callback's argument may be
 * freed once it returns (the agent frees itself after closing), while
 * what libvirt's thread reads is freed by libvirt (the sanitizer build
 * would report a use after free or a leak). */
static void test_lifecycle_events(void **state)
{
    const char *xml = "<domain type='test'><name>" EV_GUEST "</name>"
                      "<memory>65536</memory><vcpu>1</vcpu>"
                      "<os><type>hvm</type></os></domain>";
    struct migr_virt *v = NULL, *w = NULL;
    struct probe p;
    struct closer c;
    pthread_t thread;
    char err[512];

    (void)state;
    probe_init(&p);
    assert_int_equal(migr_virt_events_start(), 0);
    assert_int_equal(migr_virt_open(TEST_URI, &v, err, sizeof(err)), 0);
    assert_int_equal(migr_virt_on_lifecycle(v, on_event, &p, err, sizeof(err)),
                     0);
    assert_int_equal(migr_virt_on_lifecycle(v, on_event, &p, err, sizeof(err)),
                     -EBUSY);
    /* Another connection to the same test driver makes the events. */
    assert_int_equal(migr_virt_open(TEST_URI, &w, err, sizeof(err)), 0);
    assert_int_equal(migr_virt_define(w, xml, NULL, err, sizeof(err)), 0);
    probe_expect(&p, 1, false);

    pthread_mutex_lock(&p.lock);
    p.block = true;
    pthread_mutex_unlock(&p.lock);
    assert_int_equal(migr_virt_start(w, EV_GUEST, err, sizeof(err)), 0);
    probe_expect(&p, 2, true);
    c = (struct closer){.v = v, .p = &p};
    assert_int_equal(pthread_create(&thread, NULL, closer_main, &c), 0);
    assert_int_equal(pthread_join(thread, NULL), 0);
    assert_false(p.saw_close_return);
    assert_false(p.in_call);

    assert_int_equal(migr_virt_destroy(w, EV_GUEST, err, sizeof(err)), 0);
    assert_int_equal(migr_virt_undefine(w, EV_GUEST, err, sizeof(err)), 0);
    migr_virt_close(w);
    migr_virt_events_stop();
    pthread_cond_destroy(&p.cond);
    pthread_mutex_destroy(&p.lock);
}

static void test_bandwidth_rule(void **state)
{
    const int64_t mib = 1024 * 1024;

    (void)state;
    assert_int_equal(migr_bandwidth_mib(0), 0);
    assert_int_equal(migr_bandwidth_mib(-5), 0);
    assert_int_equal(migr_bandwidth_mib(1), 1);
    assert_int_equal(migr_bandwidth_mib(64 * mib), 64);
    assert_int_equal(migr_bandwidth_mib(mib + mib / 2), 2);
    assert_int_equal(migr_bandwidth_mib(mib + mib / 2 - 1), 1);
    assert_int_equal(migr_bandwidth_mib(1000 * 1000 * 1000), 954);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_lifecycle, reset),
        cmocka_unit_test_setup(test_attach_detach, reset),
        cmocka_unit_test(test_iface_xml),
        cmocka_unit_test_setup(test_migrate_params, reset),
        cmocka_unit_test_setup(test_job_calls, reset),
        cmocka_unit_test_setup(test_state_reasons, reset),
        cmocka_unit_test(test_devices),
        cmocka_unit_test(test_devices_parse),
        cmocka_unit_test(test_host_info),
        cmocka_unit_test(test_lifecycle_events),
        cmocka_unit_test(test_bandwidth_rule),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
