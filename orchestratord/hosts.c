/*
 * orchestratord/hosts: node reports into Node and VMI records, and the node
 * monitor.  See hosts.h for the contract.
 */
#include "orchestratord/hosts.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <event2/event.h>

#include "log/log.h"
#include "orchestratord/orchd.h"

#define HOSTNAME_LABEL  "kubernetes.io/hostname"
#define VMI_NODE_LABEL  "kubevirt.io/nodeName"
#define AGENT_URL_ANNOT "orchestrator.io/agent-url"
/* Where other hosts' libvirt reach this one's (a migration target's
 * checks read the source's). */
#define PEER_URI_ANNOT  "orchestrator.io/libvirt-peer-uri"
#define AGENT_VER_ANNOT "orchestrator.io/agent-version"
#define BOOT_ID_ANNOT   "orchestrator.io/agent-boot-id"
#define DISCOVERED      "orchestrator.io/discovered"
#define MAX_SKIPPED     256
/* Runs of a node's migrator remembered as replaced, so that a late report
 * of one of them is stale rather than a new run. */
#define ORCH_HOSTS_OLD_BOOTS 4

/* A sorted set of "ns/name" keys. */
struct keys {
    char **v;
    size_t n;
};

/* The hash of the last report's description of one domain, for a VMI
 * this node owns (0: look at it again next time). */
struct domhash {
    char *key;
    uint64_t hash;
};

/* One node as this process knows it. */
struct host {
    char *name;
    struct orch_node_obs obs;
    enum orch_node_ready stored; /* the Ready status in the store */
    bool have_report;            /* a report came since start-up */
    uint64_t node_hash;          /* of the report-derived node part */
    uint64_t domains_hash;       /* of the domains; 0: sync VMIs next time */
    uint64_t raw_hash;           /* of the last report's text; 0: unknown */
    struct domhash *dh;          /* per domain, sorted by key */
    size_t n_dh;
    int64_t node_written_ms; /* when the node record was last written */
    struct keys active;      /* the VMIs it runs */
    struct keys migrating;   /* ... those with a migration job */
    /* When a report last told which domains run here (active is then that
     * report's), for orch_hosts_vmi_runs(); false after one without
     * domains (libvirt unreachable). */
    int64_t heard_ms;
    bool domains_known;
    /* Report order (bootId, sequence): the migrator run last accepted, the
     * highest sequence accepted from it, and runs it replaced. */
    char boot_id[64];
    int64_t seq;
    char old_boots[ORCH_HOSTS_OLD_BOOTS][64];
};

struct orch_hosts {
    struct host *v; /* linear: a few hundred nodes, looked up per report */
    size_t n, alloc;
    struct event *timer;
    /* Rejections logged: when last, and the count then (the handler logs
     * each reason at most every REJECT_LOG_MS, with how many it skipped). */
    int64_t reject_log_ms[ORCH_REJECT_COUNT];
    uint64_t reject_logged[ORCH_REJECT_COUNT];
};

#define REJECT_LOG_MS 30000

/* A record written in the current transaction, told to the watchers after
 * the commit.  (Until watches read the store's change feed this is the one
 * place in this module that notifies.) */
/* One report's writes: they go into one store transaction; watches and
 * subscribers learn of them from the store's change feed after the commit. */
struct txn {
    struct orch_server *srv;
    char now[API_TIME_LEN];
    int64_t now_s;
};

int64_t orch_hosts_clock_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * Pure rules.
 */

enum orch_node_ready orch_node_ready_eval(const struct orch_node_obs *obs,
                                          int64_t now_ms, int64_t grace_ms)
{
    if (now_ms - obs->last_seen_ms > grace_ms)
        return ORCH_NODE_READY_UNKNOWN;
    return obs->reported;
}

const char *orch_node_ready_name(enum orch_node_ready r)
{
    switch (r) {
    case ORCH_NODE_READY_TRUE:
        return "True";
    case ORCH_NODE_READY_FALSE:
        return "False";
    default:
        return "Unknown";
    }
}

static bool streq(const char *a, const char *b)
{
    return a && b && strcmp(a, b) == 0;
}

bool orch_domain_state_active(const char *state)
{
    /* virsh prints "idle" for VIR_DOMAIN_BLOCKED. */
    static const char *const active[] = {
        "running", "paused", "idle", "blocked", "pmsuspended", "in shutdown"};
    for (size_t i = 0; i < sizeof(active) / sizeof(*active); i++)
        if (streq(state, active[i]))
            return true;
    return false;
}

/* KubeVirt's virt-handler calculateVmPhaseForStatusReason. */
const char *orch_domain_phase(const char *state, const char *reason, bool acpi,
                              const char *prev)
{
    bool have_prev = prev && *prev;

    if (orch_domain_state_active(state))
        return "Running";
    if (streq(state, "shut off") || streq(state, "crashed")) {
        if (streq(reason, "crashed") || streq(reason, "panicked"))
            return "Failed";
        /* With ACPI a destroy ended a shutdown that did not finish in its
         * grace period; without it, destroy is how the VM is stopped. */
        if (streq(reason, "destroyed"))
            return acpi ? "Failed" : "Succeeded";
        if (streq(reason, "shutdown") || streq(reason, "saved") ||
            streq(reason, "from snapshot"))
            return "Succeeded";
        if (have_prev)
            return prev;
        return streq(state, "crashed") || streq(reason, "failed") ? "Failed"
                                                                  : "Succeeded";
    }
    return have_prev ? prev : "Pending";
}

int orch_domain_vmi_name(const char *domain, char ns[64], char name[254],
                         const char **ret_reason)
{
    const char *us = strchr(domain, '_');
    size_t nslen = us ? (size_t)(us - domain) : 0;
    const char *n = us ? us + 1 : domain;

    if (us) {
        if (nslen == 0 || nslen > 63) {
            *ret_reason = "the part before '_' is not a valid namespace "
                          "(a DNS-1123 label)";
            return -EINVAL;
        }
        memcpy(ns, domain, nslen);
        ns[nslen] = '\0';
        if (api_check_dns1123_label(ns)) {
            *ret_reason = "the part before '_' is not a valid namespace "
                          "(a DNS-1123 label)";
            return -EINVAL;
        }
    } else {
        strcpy(ns, "default");
    }
    if (strlen(n) > 253 || api_check_dns1123_subdomain(n)) {
        *ret_reason = us ? "the part after '_' is not a valid name (a "
                           "lowercase DNS-1123 subdomain)"
                         : "not a valid name (a lowercase DNS-1123 "
                           "subdomain) and not NAMESPACE_NAME";
        return -EINVAL;
    }
    strcpy(name, n);
    return 0;
}

/*
 * The report's shape.
 */

enum ftype {
    T_STR,
    T_STR_NULL,
    T_INT,
    T_INT_NULL,
    T_BOOL,
    T_BOOL_NULL,
    T_OBJ,
    T_ARR_OBJ,      /* array of objects with SUB's fields */
    T_ARR_OBJ_NULL, /* the same, or null */
    T_ARR_STR,
    T_STRMAP,
};

struct fspec {
    const char *name;
    enum ftype type;
    bool required;
    const struct fspec *sub;
};

static const struct fspec address_f[] = {
    {"type", T_STR, true, NULL},
    {"address", T_STR, true, NULL},
    {0},
};
static const struct fspec libvirt_f[] = {
    {"uri", T_STR, false, NULL},
    {"version", T_STR, false, NULL},
    {"hostUUID", T_STR, false, NULL},
    {"error", T_STR, false, NULL},
    {0},
};
static const struct fspec capacity_f[] = {
    {"cpus", T_INT, false, NULL},
    {"memoryKiB", T_INT, false, NULL},
    {0},
};
static const struct fspec agent_f[] = {
    {"url", T_STR, false, NULL},
    {"version", T_STR, false, NULL},
    {"bootId", T_STR, false, NULL},
    {0},
};
static const struct fspec node_info_f[] = {
    {"libvirtVersion", T_STR, false, NULL},
    {"hypervisorVersion", T_STR, false, NULL},
    {"hostUUID", T_STR, false, NULL},
    {"cpuModel", T_STR, false, NULL},
    {"arch", T_STR, false, NULL},
    {"kernelVersion", T_STR, false, NULL},
    {"osImage", T_STR, false, NULL},
    {0},
};
static const struct fspec iface_f[] = {
    {"name", T_STR, false, NULL},
    {"mac", T_STR_NULL, false, NULL},
    {"type", T_STR, false, NULL},
    {"source", T_STR_NULL, false, NULL},
    {"ipAddresses", T_ARR_STR, false, NULL},
    {0},
};
static const struct fspec disk_f[] = {
    {"target", T_STR, false, NULL},      {"device", T_STR, false, NULL},
    {"source", T_STR_NULL, false, NULL}, {"type", T_STR, false, NULL},
    {"shared", T_BOOL, false, NULL},     {"readonly", T_BOOL, false, NULL},
    {"perVM", T_BOOL, false, NULL},      {0},
};
static const struct fspec domain_f[] = {
    {"name", T_STR, true, NULL},
    {"uuid", T_STR, false, NULL},
    {"state", T_STR, true, NULL},
    {"stateReason", T_STR, false, NULL},
    {"id", T_INT_NULL, false, NULL},
    {"persistent", T_BOOL, false, NULL},
    {"memoryKiB", T_INT, false, NULL},
    {"vcpus", T_INT, false, NULL},
    {"migrating", T_BOOL, false, NULL},
    {"interfaces", T_ARR_OBJ, false, iface_f},
    {"disks", T_ARR_OBJ, false, disk_f},
    {"hostdevs", T_INT, false, NULL},
    {"acpi", T_BOOL, false, NULL},
    {0},
};
static const struct fspec vf_f[] = {
    {"index", T_INT, false, NULL},
    {"pci", T_STR, false, NULL},
    {"netdev", T_STR_NULL, false, NULL},
    {"driver", T_STR_NULL, false, NULL},
    {"mac", T_STR_NULL, false, NULL},
    {"vlan", T_INT_NULL, false, NULL},
    {"trust", T_BOOL_NULL, false, NULL},
    {"spoofchk", T_BOOL_NULL, false, NULL},
    {"linkState", T_STR_NULL, false, NULL},
    {"reserved", T_BOOL, false, NULL},
    {"inUse", T_BOOL, false, NULL},
    {"usedBy", T_STR_NULL, false, NULL},
    {0},
};
static const struct fspec network_f[] = {
    {"name", T_STR, true, NULL},         {"pf", T_STR, false, NULL},
    {"mode", T_STR, false, NULL},        {"vlan", T_INT, false, NULL},
    {"trust", T_BOOL_NULL, false, NULL}, {"spoofchk", T_BOOL_NULL, false, NULL},
    {"totalVFs", T_INT, false, NULL},    {"numVFs", T_INT, false, NULL},
    {"error", T_STR, false, NULL},       {"linkError", T_STR, false, NULL},
    {"vfs", T_ARR_OBJ, false, vf_f},     {0},
};
static const struct fspec report_f[] = {
    {"name", T_STR, false, NULL},
    {"addresses", T_ARR_OBJ, false, address_f},
    {"libvirt", T_OBJ, false, libvirt_f},
    {"capacity", T_OBJ, false, capacity_f},
    {"labels", T_STRMAP, false, NULL},
    {"agent", T_OBJ, false, agent_f},
    {"nodeInfo", T_OBJ, false, node_info_f},
    {"domains", T_ARR_OBJ_NULL, false, domain_f},
    {"networks", T_ARR_OBJ, false, network_f},
    {"sharedStorage", T_ARR_STR, false, NULL},
    /* The report's place in its migrator's order (orch_hosts_report_order):
     * the run's random id and a counter of its pushes. */
    {"bootId", T_STR, false, NULL},
    {"sequence", T_INT, false, NULL},
    {0},
};

static const char *type_noun(enum ftype t)
{
    switch (t) {
    case T_STR:
        return "a string";
    case T_STR_NULL:
        return "a string or null";
    case T_INT:
        return "an integer >= 0";
    case T_INT_NULL:
        return "an integer or null";
    case T_BOOL:
        return "a boolean";
    case T_BOOL_NULL:
        return "a boolean or null";
    case T_OBJ:
    case T_STRMAP:
        return "an object";
    case T_ARR_OBJ_NULL:
        return "an array or null";
    default:
        return "an array";
    }
}

static int check_fields(const json_t *obj, const struct fspec *f,
                        const char *path, struct api_errors *errs);

/* Add an error; only running out of memory is a failure here. */
static int bad(struct api_errors *errs, enum api_error_type type,
               const char *path, const char *what)
{
    return api_errors_add(errs, type, path, "%s", what) == -ENOMEM ? -ENOMEM
                                                                   : 0;
}

static int check_value(const json_t *v, const struct fspec *f, const char *path,
                       struct api_errors *errs)
{
    char sub[512];
    const char *k;
    json_t *e;
    int r;

    switch (f->type) {
    case T_STR:
        if (json_is_string(v))
            return 0;
        break;
    case T_STR_NULL:
        if (json_is_string(v) || json_is_null(v))
            return 0;
        break;
    case T_INT:
        /* Negative counts or sizes would be nonsense downstream. */
        if (json_is_integer(v) && json_integer_value(v) >= 0)
            return 0;
        break;
    case T_INT_NULL:
        if (json_is_integer(v) || json_is_null(v))
            return 0;
        break;
    case T_BOOL:
        if (json_is_boolean(v))
            return 0;
        break;
    case T_BOOL_NULL:
        if (json_is_boolean(v) || json_is_null(v))
            return 0;
        break;
    case T_OBJ:
        if (json_is_object(v))
            return check_fields(v, f->sub, path, errs);
        break;
    case T_STRMAP:
        if (!json_is_object(v))
            break;
        json_object_foreach((json_t *)v, k, e)
        {
            if (json_is_string(e))
                continue;
            snprintf(sub, sizeof(sub), "%.300s.%.128s", path, k);
            if (bad(errs, API_ERR_TYPE, sub, "expected a string") < 0)
                return -ENOMEM;
        }
        return 0;
    case T_ARR_OBJ_NULL:
    case T_ARR_OBJ:
    case T_ARR_STR:
        if (f->type == T_ARR_OBJ_NULL && json_is_null(v))
            return 0;
        if (!json_is_array(v))
            break;
        for (size_t i = 0; i < json_array_size(v) && !errs->truncated; i++) {
            const json_t *el = json_array_get(v, i);
            snprintf(sub, sizeof(sub), "%.300s[%zu]", path, i);
            if (f->type == T_ARR_STR)
                r = json_is_string(el)
                        ? 0
                        : bad(errs, API_ERR_TYPE, sub, "expected a string");
            else if (!json_is_object(el))
                r = bad(errs, API_ERR_TYPE, sub, "expected an object");
            else
                r = check_fields(el, f->sub, sub, errs);
            if (r < 0)
                return r;
        }
        return 0;
    }
    snprintf(sub, sizeof(sub), "expected %s", type_noun(f->type));
    return bad(errs, API_ERR_TYPE, path, sub);
}

/* Unknown members are left alone: a newer migrator may send more. */
static int check_fields(const json_t *obj, const struct fspec *f,
                        const char *path, struct api_errors *errs)
{
    char sub[512];
    int r;

    for (; f->name; f++) {
        const json_t *v = json_object_get(obj, f->name);
        snprintf(sub, sizeof(sub), "%.300s%s%.64s", path, *path ? "." : "",
                 f->name);
        if (!v) {
            if (f->required &&
                bad(errs, API_ERR_REQUIRED, sub, "Required value") < 0)
                return -ENOMEM;
            continue;
        }
        r = check_value(v, f, sub, errs);
        if (r < 0)
            return r;
    }
    return 0;
}

int orch_report_check(const json_t *report, const char *node,
                      struct api_errors *errs)
{
    const char *name;
    int r;

    if (!json_is_object(report)) {
        r = bad(errs, API_ERR_TYPE, "", "the report must be an object");
        return r < 0 ? r : -EINVAL;
    }
    r = check_fields(report, report_f, "", errs);
    if (r < 0)
        return r;
    name = json_string_value(json_object_get(report, "name"));
    if (name && strcmp(name, node) != 0 &&
        api_errors_add(errs, API_ERR_INVALID, "name",
                       "\"%.64s\" is not the node of the URL (\"%s\")", name,
                       node) == -ENOMEM)
        return -ENOMEM;
    return errs->count || errs->truncated ? -EINVAL : 0;
}

/*
 * The cache.
 */

static struct orch_hosts *hosts_get(struct orch_server *srv)
{
    if (!srv->hosts)
        srv->hosts = calloc(1, sizeof(*srv->hosts));
    return srv->hosts;
}

static void keys_clear(struct keys *k)
{
    for (size_t i = 0; i < k->n; i++)
        free(k->v[i]);
    free(k->v);
    k->v = NULL;
    k->n = 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool keys_has(const struct keys *k, const char *key)
{
    return k->n && bsearch(&key, k->v, k->n, sizeof(char *), cmp_str);
}

/* Add KEY to K, which has room for CAP keys (then keys_sort()). */
static int keys_add(struct keys *k, size_t cap, const char *key)
{
    if (!k->v && !(k->v = calloc(cap ? cap : 1, sizeof(char *))))
        return -ENOMEM;
    if (k->n >= cap)
        return -EINVAL;
    k->v[k->n] = strdup(key);
    if (!k->v[k->n])
        return -ENOMEM;
    k->n++;
    return 0;
}

static void keys_sort(struct keys *k)
{
    if (k->n)
        qsort(k->v, k->n, sizeof(char *), cmp_str);
}

static void domhash_free(struct domhash *v, size_t n)
{
    for (size_t i = 0; v && i < n; i++)
        free(v[i].key);
    free(v);
}

static int cmp_domhash(const void *a, const void *b)
{
    return strcmp(((const struct domhash *)a)->key,
                  ((const struct domhash *)b)->key);
}

static uint64_t domhash_get(const struct host *h, const char *key)
{
    struct domhash k = {.key = (char *)key}, *f;
    if (!h->n_dh)
        return 0;
    f = bsearch(&k, h->dh, h->n_dh, sizeof(k), cmp_domhash);
    return f ? f->hash : 0;
}

static void host_clear_keys(struct host *h)
{
    keys_clear(&h->active);
    keys_clear(&h->migrating);
    domhash_free(h->dh, h->n_dh);
    h->dh = NULL;
    h->n_dh = 0;
}

/* Forget what lets the next report of H skip work: it is compared with
 * the store in full. */
static void host_forget(struct host *h)
{
    h->domains_hash = 0;
    h->raw_hash = 0;
}

static struct host *host_find(struct orch_hosts *hs, const char *name)
{
    for (size_t i = 0; hs && i < hs->n; i++)
        if (strcmp(hs->v[i].name, name) == 0)
            return &hs->v[i];
    return NULL;
}

/* A new entry; pointers to others may move. */
static struct host *host_add(struct orch_hosts *hs, const char *name)
{
    struct host *h;

    if (hs->n == hs->alloc) {
        size_t na = hs->alloc ? hs->alloc * 2 : 16;
        struct host *nv = realloc(hs->v, na * sizeof(*nv));
        if (!nv)
            return NULL;
        hs->v = nv;
        hs->alloc = na;
    }
    h = &hs->v[hs->n];
    memset(h, 0, sizeof(*h));
    /* Nothing stored yet: nothing for the monitor to turn Unknown. */
    h->stored = ORCH_NODE_READY_UNKNOWN;
    h->obs.reported = ORCH_NODE_READY_UNKNOWN;
    h->name = strdup(name);
    if (!h->name)
        return NULL;
    hs->n++;
    return h;
}

static bool host_runs(const struct host *h, const char *key)
{
    return keys_has(&h->active, key);
}

/* A Ready node other than EXCEPT whose last report runs the VMI KEY. */
static struct host *host_running(struct orch_hosts *hs, const char *key,
                                 const char *except)
{
    for (size_t i = 0; i < hs->n; i++) {
        struct host *h = &hs->v[i];
        if (strcmp(h->name, except) != 0 && h->have_report &&
            h->stored == ORCH_NODE_READY_TRUE && host_runs(h, key))
            return h;
    }
    return NULL;
}

#define FNV_OFFSET 1469598103934665603ULL

static uint64_t fnv1a(uint64_t h, const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)p[i];
        h *= 1099511628211ULL;
    }
    return h;
}

static uint64_t hash_json(const json_t *v)
{
    char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    uint64_t h;

    if (!s)
        return 0;
    h = fnv1a(FNV_OFFSET, s, strlen(s));
    free(s);
    return h ? h : 1; /* 0 means "unknown" */
}

/* The hash of a report's text minus the values of "generation",
 * "refreshedAt" and "sequence", which change in every report and mean
 * nothing to the records: two texts with the same hash decode to the same
 * report for orchestratord.  0 when the text is not a well-formed JSON
 * object to orch_jscan (YAML, a broken body) or its sequence is not a
 * plain number: then it is decoded and checked in full. */
static uint64_t report_raw_hash(const char *body, size_t len)
{
    enum { N_CUTS = 3 };
    static const char *const volatile_members[N_CUTS] = {
        "generation", "refreshedAt", "sequence"};
    struct orch_jspan doc = {body, len}, cut[N_CUTS] = {{0}}, v;
    const char *pos = body;
    uint64_t h = FNV_OFFSET;
    int r;

    for (size_t i = 0; i < N_CUTS; i++) {
        r = orch_jscan_member(&doc, volatile_members[i], &cut[i]);
        if (r == -ENOENT)
            cut[i].text = NULL;
        else if (r < 0)
            return 0;
    }
    /* Looking for a member no report has walks the whole object. */
    if (orch_jscan_member(&doc, "\x01", &v) != -ENOENT)
        return 0;
    if (cut[2].text) {
        if (cut[2].len == 0 || cut[2].len > 18)
            return 0;
        for (size_t i = 0; i < cut[2].len; i++)
            if (cut[2].text[i] < '0' || cut[2].text[i] > '9')
                return 0;
    }
    /* In text order (insertion sort of three). */
    for (size_t i = 1; i < N_CUTS; i++)
        for (size_t k = i; k > 0; k--) {
            if (!cut[k].text ||
                (cut[k - 1].text && cut[k - 1].text < cut[k].text))
                break;
            v = cut[k - 1];
            cut[k - 1] = cut[k];
            cut[k] = v;
        }
    for (size_t i = 0; i < N_CUTS; i++) {
        if (!cut[i].text)
            continue;
        h = fnv1a(h, pos, (size_t)(cut[i].text - pos));
        h = fnv1a(h, "\0", 1);
        pos = cut[i].text + cut[i].len;
    }
    h = fnv1a(h, pos, (size_t)(body + len - pos));
    return h ? h : 1;
}

/* The bootId and sequence of a report's text as orch_jscan finds them at
 * its top level: BOOT (64 bytes, "" when absent or not a plain string) and
 * *RET_SEQ (-1 when absent or not a plain number). */
static void report_raw_order(const char *body, size_t len, char boot[64],
                             int64_t *ret_seq)
{
    struct orch_jspan doc = {body, len}, v;

    boot[0] = '\0';
    *ret_seq = -1;
    if (orch_jscan_member(&doc, "bootId", &v) == 0 && v.len >= 2 &&
        v.len < 64 && v.text[0] == '"' && v.text[v.len - 1] == '"' &&
        !memchr(v.text + 1, '\\', v.len - 2)) {
        memcpy(boot, v.text + 1, v.len - 2);
        boot[v.len - 2] = '\0';
    }
    if (orch_jscan_member(&doc, "sequence", &v) == 0 && v.len > 0 &&
        v.len <= 18) {
        int64_t n = 0;
        for (size_t i = 0; i < v.len; i++) {
            if (v.text[i] < '0' || v.text[i] > '9')
                return;
            n = n * 10 + (v.text[i] - '0');
        }
        *ret_seq = n;
    }
}

/*
 * Writing.
 */

static void txn_init(struct txn *t, struct orch_server *srv)
{
    memset(t, 0, sizeof(*t));
    t->srv = srv;
    t->now_s = (int64_t)time(NULL);
    if (api_time_format(t->now_s, t->now) < 0)
        api_time_now(t->now);
}

/* Create NEW when OLD is NULL, else update OLD with it if they differ.
 * Returns 1 (written), 0 (unchanged) or a negative errno. */
static int txn_put(struct txn *t, enum store_kind sk, const json_t *old,
                   json_t *new)
{
    int64_t rv = 0;
    int r;

    if (old && json_equal(old, new))
        return 0;
    if (old) {
        const char *rvs = api_doc_get_string(old, "metadata.resourceVersion");
        if (rvs)
            store_rv_parse(rvs, &rv);
        r = store_update(t->srv->store, sk, new, rv);
    } else {
        r = store_create(t->srv->store, sk, new);
    }
    return r < 0 ? r : 1;
}

static json_t *obj_child(json_t *o, const char *key)
{
    json_t *c = json_object_get(o, key);
    if (!json_is_object(c)) {
        c = json_object();
        json_object_set_new(o, key, c);
    }
    return c;
}

static json_t *cond_find(json_t *conds, const char *type, size_t *ret_i)
{
    for (size_t i = 0; i < json_array_size(conds); i++) {
        json_t *c = json_array_get(conds, i);
        if (streq(json_string_value(json_object_get(c, "type")), type)) {
            if (ret_i)
                *ret_i = i;
            return c;
        }
    }
    return NULL;
}

/* Set condition TYPE in STATUS.conditions: lastTransitionTime moves only
 * when the status changes, so an unchanged condition compares equal to the
 * stored one. */
static void cond_set(json_t *status, const char *type, const char *st,
                     const char *reason, const char *message, const char *now)
{
    json_t *conds = json_object_get(status, "conditions");
    json_t *c, *n, *hb;
    const char *ltt = NULL;

    if (!json_is_array(conds)) {
        conds = json_array();
        json_object_set_new(status, "conditions", conds);
    }
    c = cond_find(conds, type, NULL);
    if (c && streq(json_string_value(json_object_get(c, "status")), st))
        ltt = json_string_value(json_object_get(c, "lastTransitionTime"));
    n = json_pack("{s:s, s:s, s:s}", "type", type, "status", st,
                  "lastTransitionTime", ltt ? ltt : now);
    if (!n)
        return;
    if (reason && *reason)
        json_object_set_new(n, "reason", json_string(reason));
    if (message && *message)
        json_object_set_new(n, "message", json_string(message));
    if (!c) {
        json_array_append_new(conds, n);
        return;
    }
    /* Keep the node's lastHeartbeatTime: the caller decides it. */
    hb = json_object_get(c, "lastHeartbeatTime");
    if (hb)
        json_object_set(n, "lastHeartbeatTime", hb);
    json_object_clear(c);
    json_object_update(c, n);
    json_decref(n);
}

static void cond_del(json_t *status, const char *type)
{
    json_t *conds = json_object_get(status, "conditions");
    size_t i;
    if (cond_find(conds, type, &i))
        json_array_remove(conds, i);
}

/* "4Gi", "512Mi" or "1000Ki" for KIB kibibytes. */
static json_t *kib_quantity(json_int_t kib)
{
    if (kib > 0 && kib % (1024 * 1024) == 0)
        return json_sprintf("%" JSON_INTEGER_FORMAT "Gi", kib / 1024 / 1024);
    if (kib > 0 && kib % 1024 == 0)
        return json_sprintf("%" JSON_INTEGER_FORMAT "Mi", kib / 1024);
    return json_sprintf("%" JSON_INTEGER_FORMAT "Ki", kib);
}

/*
 * VMIs.
 */

/* A reported domain mapped to its VMI. */
struct mapped {
    const json_t *dom;
    char ns[64];
    char name[254];
    char key[320]; /* "ns/name" */
    bool active;
};

static bool dom_bool(const json_t *dom, const char *key)
{
    return json_is_true(json_object_get(dom, key));
}

static const char *dom_str(const json_t *dom, const char *key)
{
    return json_string_value(json_object_get(dom, key));
}

/* KubeVirt's LiveMigratable condition from the domain's devices. */
static void vmi_set_live_migratable(json_t *status, const json_t *dom,
                                    const char *now)
{
    const json_t *disks = json_object_get(dom, "disks");
    char msg[512];

    for (size_t i = 0; i < json_array_size(disks); i++) {
        const json_t *d = json_array_get(disks, i);
        const char *src = dom_str(d, "source");
        const char *tgt = dom_str(d, "target");
        /* A read-only cdrom (the NoCloud seed) is made again on the
         * target, it need not be shared. */
        if (streq(dom_str(d, "device"), "cdrom") && dom_bool(d, "readonly"))
            continue;
        /* A VM's own files (seed, containerDisk overlay) are made again on
         * the target and copied by a block migration. */
        if (dom_bool(d, "shared") || dom_bool(d, "perVM"))
            continue;
        snprintf(msg, sizeof(msg),
                 "cannot migrate VMI: disk %.64s (%.256s) is not shared, "
                 "live migration requires that all disks be on shared "
                 "storage (RWX: a shared_storage path of the migrators)",
                 tgt ? tgt : "?", src && *src ? src : "no source");
        cond_set(status, "LiveMigratable", "False", "DisksNotLiveMigratable",
                 msg, now);
        return;
    }
    if (json_integer_value(json_object_get(dom, "hostdevs")) > 0) {
        cond_set(status, "LiveMigratable", "False",
                 "HostDeviceNotLiveMigratable",
                 "cannot migrate VMI: it uses PCI host devices", now);
        return;
    }
    cond_set(status, "LiveMigratable", "True", NULL, NULL, now);
}

/* status.interfaces: KubeVirt names an interface after the spec's; a
 * domain the project did not define has none, so its target device. */
static json_t *vmi_interfaces(const json_t *vmi, const json_t *dom)
{
    const json_t *ifs = json_object_get(dom, "interfaces");
    const json_t *spec_ifs = json_object_get(
        json_object_get(json_object_get(json_object_get(vmi, "spec"), "domain"),
                        "devices"),
        "interfaces");
    json_t *out = json_array();

    for (size_t i = 0; out && i < json_array_size(ifs); i++) {
        const json_t *f = json_array_get(ifs, i);
        const char *mac = dom_str(f, "mac");
        const char *dev = dom_str(f, "name");
        const char *name = dev;
        json_t *ips = json_object_get(f, "ipAddresses");
        json_t *o;

        for (size_t j = 0; mac && j < json_array_size(spec_ifs); j++) {
            const json_t *s = json_array_get(spec_ifs, j);
            const char *smac = dom_str(s, "macAddress");
            if (smac && strcasecmp(smac, mac) == 0 && dom_str(s, "name"))
                name = dom_str(s, "name");
        }
        o = json_object();
        if (!o)
            break;
        if (name && *name)
            json_object_set_new(o, "name", json_string(name));
        if (dev && *dev)
            json_object_set_new(o, "interfaceName", json_string(dev));
        if (mac)
            json_object_set_new(o, "mac", json_string(mac));
        if (json_array_size(ips) > 0) {
            json_object_set(o, "ipAddress", json_array_get(ips, 0));
            json_object_set(o, "ipAddresses", ips);
        }
        json_array_append_new(out, o);
    }
    return out;
}

static const char *paused_reason(const char *why)
{
    if (streq(why, "user"))
        return "PausedByUser";
    if (streq(why, "migration") || streq(why, "post-copy") ||
        streq(why, "incoming migration"))
        return "PausedMigration";
    if (streq(why, "I/O error") || streq(why, "ioerror"))
        return "PausedIOError";
    return "Paused";
}

/* The VMI record for domain M on NODE, from the stored one OLD (NULL:
 * new).  Returns a new document or NULL (ENOMEM). */
static json_t *vmi_compose(const json_t *old, const struct mapped *m,
                           const char *node, bool node_ready, const char *now)
{
    const json_t *dom = m->dom;
    const char *state = dom_str(dom, "state");
    const char *why = dom_str(dom, "stateReason");
    json_int_t kib = json_integer_value(json_object_get(dom, "memoryKiB"));
    json_int_t vcpus = json_integer_value(json_object_get(dom, "vcpus"));
    json_t *doc, *md, *status, *spec;
    const char *phase;
    char msg[320];

    doc =
        old ? json_deep_copy(old)
            : json_pack("{s:s, s:s, s:{s:s, s:s, s:{s:s}}, s:{}}", "apiVersion",
                        "kubevirt.io/v1", "kind", "VirtualMachineInstance",
                        "metadata", "name", m->name, "namespace", m->ns,
                        "annotations", DISCOVERED, "true", "spec");
    if (!doc)
        return NULL;
    if (vcpus <= 0)
        vcpus = 1;
    md = obj_child(doc, "metadata");
    json_object_set_new(obj_child(md, "labels"), VMI_NODE_LABEL,
                        json_string(node));
    /* A domain defined by hand has no spec of its own: describe what it
     * runs with, where KubeVirt's VMI spec says it. */
    spec = obj_child(doc, "spec");
    if (streq(api_doc_get_string(doc, "metadata.annotations." DISCOVERED),
              "true") ||
        !json_object_get(spec, "domain")) {
        json_t *d = obj_child(spec, "domain");
        json_object_set_new(obj_child(d, "cpu"), "cores", json_integer(vcpus));
        json_object_set_new(obj_child(obj_child(d, "resources"), "requests"),
                            "memory", kib_quantity(kib));
        obj_child(d, "devices");
    }
    status = obj_child(doc, "status");
    phase =
        orch_domain_phase(state, why, dom_bool(dom, "acpi"),
                          json_string_value(json_object_get(status, "phase")));
    json_object_set_new(status, "phase", json_string(phase));
    json_object_set_new(status, "nodeName", json_string(node));
    json_object_set_new(status, "interfaces", vmi_interfaces(doc, dom));
    json_object_set_new(status, "currentCPUTopology",
                        json_pack("{s:I, s:i, s:i}", "cores", vcpus, "sockets",
                                  1, "threads", 1));
    json_object_set_new(obj_child(status, "memory"), "guestCurrent",
                        kib_quantity(kib));
    if (!m->active) {
        snprintf(msg, sizeof(msg), "domain is %.32s (%.32s) on node %.200s",
                 state ? state : "?", why ? why : "no reason", node);
        cond_set(status, "Ready", "False", "DomainNotRunning", msg, now);
        cond_del(status, "Paused");
    } else if (streq(state, "paused") || streq(state, "pmsuspended")) {
        cond_set(status, "Paused", "True", paused_reason(why), "VMI was paused",
                 now);
        cond_set(status, "Ready", "False", "Paused", "VMI is paused", now);
    } else {
        cond_del(status, "Paused");
        if (node_ready)
            cond_set(status, "Ready", "True", NULL, NULL, now);
    }
    vmi_set_live_migratable(status, dom, now);
    return doc;
}

/* NODE's report no longer runs the VMI OLD (KEY): it moves to the Ready
 * node that now runs it; else it stays, Failed unless final or it left by
 * migration (MIGRATED: the target takes it when it reports). */
static json_t *vmi_orphan(struct orch_hosts *hs, const json_t *old,
                          const char *key, const char *node, bool migrated,
                          const char *now)
{
    struct host *other = host_running(hs, key, node);
    json_t *doc = json_deep_copy(old), *status;
    const char *phase;
    char msg[320];

    if (!doc)
        return NULL;
    status = obj_child(doc, "status");
    phase = json_string_value(json_object_get(status, "phase"));
    if (other) {
        json_object_set_new(obj_child(obj_child(doc, "metadata"), "labels"),
                            VMI_NODE_LABEL, json_string(other->name));
        json_object_set_new(status, "nodeName", json_string(other->name));
        json_object_set_new(status, "phase", json_string("Running"));
        cond_set(status, "Ready", "True", NULL, NULL, now);
        /* Its next report fills in what this node's described. */
        host_forget(other);
        return doc;
    }
    if (migrated)
        return doc;
    if (!streq(phase, "Succeeded") && !streq(phase, "Failed")) {
        json_object_set_new(status, "phase", json_string("Failed"));
        snprintf(msg, sizeof(msg), "domain is gone from node %.200s", node);
        cond_set(status, "Ready", "False", "DomainNotFound", msg, now);
        cond_del(status, "Paused");
    }
    return doc;
}

/* The VMI a migrator's start job made the domain for (its "vmi" member,
 * from the domain's <metadata>): preferred over the name's reading. */
static int dom_vmi_meta(const json_t *d, char ns[64], char name[254])
{
    const json_t *v = json_object_get(d, "vmi");
    const char *n = dom_str(v, "namespace"), *m = dom_str(v, "name");

    if (!n || !m || strlen(n) > 63 || api_check_dns1123_label(n) ||
        strlen(m) > 253 || api_check_dns1123_subdomain(m))
        return -EINVAL;
    strcpy(ns, n);
    strcpy(name, m);
    return 0;
}

static int map_domains(const json_t *domains, struct mapped **ret_v,
                       size_t *ret_n, json_t *skipped)
{
    size_t n = json_array_size(domains), k = 0;
    struct mapped *v = calloc(n ? n : 1, sizeof(*v));

    if (!v)
        return -ENOMEM;
    for (size_t i = 0; i < n; i++) {
        const json_t *d = json_array_get(domains, i);
        const char *dn = dom_str(d, "name");
        const char *why = NULL;
        struct mapped *m = &v[k];

        if (dom_vmi_meta(d, m->ns, m->name) == 0 ||
            orch_domain_vmi_name(dn, m->ns, m->name, &why) == 0) {
            snprintf(m->key, sizeof(m->key), "%s/%s", m->ns, m->name);
            for (size_t j = 0; j < k && !why; j++)
                if (strcmp(v[j].key, m->key) == 0)
                    why = "maps to the same VMI as another domain on this "
                          "node";
        }
        if (why) {
            size_t len = strlen(dn);
            if (json_array_size(skipped) < MAX_SKIPPED)
                json_array_append_new(skipped,
                                      json_pack("{s:s%, s:s}", "name", dn,
                                                len > 253 ? (size_t)253 : len,
                                                "reason", why));
            continue;
        }
        m->dom = d;
        m->active = orch_domain_state_active(dom_str(d, "state"));
        k++;
    }
    *ret_v = v;
    *ret_n = k;
    return 0;
}

/* Write the VMIs of H's report (H's cache still holds the previous one).
 * RET_ACTIVE and RET_MIGRATING receive the keys of the VMIs the report
 * runs, and of those with a migration job, owned or not. */
static int vmis_sync(struct txn *t, struct orch_hosts *hs, struct host *h,
                     bool node_ready, const struct mapped *m, size_t n,
                     struct keys *ret_active, struct keys *ret_migrating,
                     struct domhash **ret_dh)
{
    const char *node = h->name;
    struct store_list_opts lo = {.node_name = node};
    struct store_page page = {0};
    struct keys active = {0}, migrating = {0};
    struct domhash *dh = calloc(n ? n : 1, sizeof(*dh));
    /* The cache says what the store holds: unchanged domains need no look
     * (the common case of a report after one lifecycle event). */
    bool cached = h->have_report && h->domains_hash &&
                  h->stored == ORCH_NODE_READY_TRUE && node_ready;
    bool need_list = !cached;
    int r = 0, written = 0;

    if (!dh)
        return -ENOMEM;
    for (size_t i = 0; i < n; i++) {
        json_t *old = NULL, *new = NULL;
        const char *owner;

        dh[i].key = strdup(m[i].key);
        if (!dh[i].key) {
            r = -ENOMEM;
            goto out;
        }
        if (m[i].active)
            r = keys_add(&active, n, m[i].key);
        if (r == 0 && m[i].active && dom_bool(m[i].dom, "migrating"))
            r = keys_add(&migrating, n, m[i].key);
        if (r < 0)
            goto out;
        /* Shut off because it migrated away: handed over below. */
        if (!m[i].active &&
            streq(dom_str(m[i].dom, "stateReason"), "migrated")) {
            need_list = true;
            continue;
        }
        dh[i].hash = hash_json(m[i].dom);
        if (cached && dh[i].hash && dh[i].hash == domhash_get(h, m[i].key))
            continue;
        r = store_get(t->srv->store, STORE_KIND_VMI, m[i].ns, m[i].name, &old);
        if (r < 0 && r != -ENOENT)
            goto out;
        owner = api_doc_get_string(old, "status.nodeName");
        if (old && owner && *owner && strcmp(owner, node) != 0) {
            const char *ph = api_doc_get_string(old, "status.phase");
            bool final = streq(ph, "Succeeded") || streq(ph, "Failed");
            struct host *oh = host_find(hs, owner);
            /* Another node owns it: only a domain that runs here takes
             * it, once the owner no longer runs it (an owner not heard
             * from since start-up still does, unless final), and not
             * while it is still arriving. */
            if (!m[i].active ||
                (oh && (oh->have_report ? host_runs(oh, m[i].key) : !final)) ||
                (!oh && !final) ||
                (dom_bool(m[i].dom, "migrating") &&
                 streq(dom_str(m[i].dom, "state"), "paused"))) {
                /* Running here while the owner's reports run it too, with
                 * no migration between them on either side: two hosts
                 * claim one VMI.  The owner keeps it (the records follow
                 * libvirt's reports, not the last writer) until its
                 * reports let go.  Not counted: an owner whose copy is
                 * paused, as a migration's source is at the switch-over
                 * until its report says it is gone. */
                if (m[i].active && oh && oh->have_report &&
                    host_runs(oh, m[i].key) &&
                    !keys_has(&oh->migrating, m[i].key) &&
                    !dom_bool(m[i].dom, "migrating") &&
                    !streq(json_string_value(json_object_get(
                               cond_find(json_object_get(
                                             json_object_get(old, "status"),
                                             "conditions"),
                                         "Paused", NULL),
                               "status")),
                           "True"))
                    t->srv->metrics
                        .agent_rejected[ORCH_REJECT_DOMAIN_ELSEWHERE]++;
                /* Not ours: look again next time. */
                dh[i].hash = 0;
                json_decref(old);
                continue;
            }
        }
        new = vmi_compose(old, &m[i], node, node_ready, t->now);
        r = new ? txn_put(t, STORE_KIND_VMI, old, new) : -ENOMEM;
        json_decref(old);
        json_decref(new);
        if (r < 0)
            goto out;
        written += r;
    }
    keys_sort(&active);
    keys_sort(&migrating);
    qsort(dh, n, sizeof(*dh), cmp_domhash);
    /* A VMI the last report had and this one has not. */
    for (size_t i = 0; i < h->n_dh && !need_list; i++) {
        struct domhash k = {.key = h->dh[i].key};
        need_list = !bsearch(&k, dh, n, sizeof(k), cmp_domhash);
    }

    /* VMIs this node owns that its report no longer runs: gone, or shut
     * off after migrating away. */
    r = need_list ? store_list(t->srv->store, STORE_KIND_VMI, NULL, &lo, &page)
                  : 0;
    if (r < 0)
        goto out;
    for (size_t i = 0; i < json_array_size(page.items); i++) {
        json_t *old = json_array_get(page.items, i), *new;
        const char *ns = api_doc_get_string(old, "metadata.namespace");
        const char *name = api_doc_get_string(old, "metadata.name");
        const struct mapped *seen = NULL;
        char key[320];
        bool migrated;

        /* Scheduled: placed by the VM controller (vms.h), its domain not
         * started yet; the controller follows the start job. */
        if (!ns || !name ||
            streq(api_doc_get_string(old, "status.phase"), "Scheduled"))
            continue;
        snprintf(key, sizeof(key), "%s/%s", ns, name);
        for (size_t j = 0; j < n && !seen; j++)
            if (strcmp(m[j].key, key) == 0)
                seen = &m[j];
        migrated = seen && !seen->active &&
                   streq(dom_str(seen->dom, "stateReason"), "migrated");
        if (seen && !migrated)
            continue;
        /* A domain that vanished while it had a migration job left by
         * migration too: the target takes it when it reports. */
        migrated = migrated || keys_has(&h->migrating, key);
        new = vmi_orphan(hs, old, key, node, migrated, t->now);
        r = new ? txn_put(t, STORE_KIND_VMI, old, new) : -ENOMEM;
        json_decref(new);
        if (r < 0)
            goto out;
        written += r;
    }
    *ret_active = active;
    *ret_migrating = migrating;
    *ret_dh = dh;
    memset(&active, 0, sizeof(active));
    memset(&migrating, 0, sizeof(migrating));
    dh = NULL;
    r = written;
out:
    store_page_release(&page);
    keys_clear(&active);
    keys_clear(&migrating);
    domhash_free(dh, n);
    return r;
}

/*
 * The node.
 */

/* Whether a reported VF is in use: the migrator says so (reserved, or an
 * active domain's interface names it); a migrator from before "inUse"
 * only said "reserved", and a VF bound to vfio-pci was handed to a guest. */
static bool vf_in_use(const json_t *vf)
{
    const json_t *u = json_object_get(vf, "inUse");

    if (json_is_boolean(u))
        return json_is_true(u);
    return dom_bool(vf, "reserved") || streq(dom_str(vf, "driver"), "vfio-pci");
}

/* The PF entry named PF in PFS, or NULL. */
static json_t *pf_entry(json_t *pfs, const char *pf)
{
    size_t i;
    json_t *p;

    json_array_foreach(pfs, i, p)
    {
        if (streq(dom_str(p, "name"), pf))
            return p;
    }
    return NULL;
}

/* status.sriov (see hosts.h) from the report's networks: one entry per PF,
 * the first network naming it giving its VFs (networks sharing a PF list
 * the same ones). */
static json_t *sriov_pfs(const json_t *nets)
{
    json_t *pfs = json_array();
    size_t i;
    json_t *n;

    if (!pfs)
        return NULL;
    json_array_foreach(nets, i, n)
    {
        const char *name = dom_str(n, "pf");
        const json_t *vfs = json_object_get(n, "vfs");
        json_t *p, *ovfs;
        json_int_t used = 0;
        static const char *const copied[] = {"totalVFs", "numVFs", "error",
                                             "linkError"};

        if (!name)
            continue;
        p = pf_entry(pfs, name);
        if (p) {
            json_array_append_new(json_object_get(p, "networks"),
                                  json_string(dom_str(n, "name")));
            continue;
        }
        p = json_pack("{s:s, s:[s]}", "name", name, "networks",
                      dom_str(n, "name") ? dom_str(n, "name") : "");
        ovfs = json_array();
        if (!p || !ovfs || json_array_append_new(pfs, p) < 0) {
            json_decref(ovfs);
            break;
        }
        for (size_t k = 0; k < sizeof(copied) / sizeof(*copied); k++)
            if (json_object_get(n, copied[k]))
                json_object_set(p, copied[k], json_object_get(n, copied[k]));
        /* A PF the host lacks has its "error" and no VFs to count. */
        if (!json_is_array(vfs)) {
            json_decref(ovfs);
            continue;
        }
        for (size_t j = 0; j < json_array_size(vfs); j++) {
            json_t *vf = json_deep_copy(json_array_get(vfs, j));
            bool in_use;

            if (!vf)
                continue;
            in_use = vf_in_use(vf);
            json_object_set_new(vf, "inUse", json_boolean(in_use));
            used += in_use;
            json_array_append_new(ovfs, vf);
        }
        json_object_set_new(p, "vfs", ovfs);
        json_object_set_new(p, "vfsInUse", json_integer(used));
        json_object_set_new(
            p, "vfsFree",
            json_integer((json_int_t)json_array_size(ovfs) - used));
    }
    return pfs;
}

/* status.sriovNetworks: the report's networks without their VFs (those
 * are under status.sriov, by PF), with their PF's free and used counts. */
static json_t *sriov_networks(const json_t *nets, const json_t *pfs)
{
    json_t *out = json_array();

    for (size_t i = 0; out && i < json_array_size(nets); i++) {
        const json_t *n = json_array_get(nets, i);
        json_t *o = json_deep_copy(n);
        json_t *p = pf_entry((json_t *)pfs, dom_str(n, "pf"));

        if (!o)
            break;
        json_object_del(o, "vfs");
        if (p && json_object_get(p, "vfs")) {
            json_object_set(o, "vfsInUse", json_object_get(p, "vfsInUse"));
            json_object_set(o, "vfsFree", json_object_get(p, "vfsFree"));
        }
        json_array_append_new(out, o);
    }
    return out;
}

/* What the report says of the node, without the Ready condition:
 * {labels, annotations, status}.  SKIPPED (may be NULL) is stolen. */
static json_t *node_part(const char *node, const json_t *rep, json_t *skipped)
{
    const json_t *cap = json_object_get(rep, "capacity");
    const json_t *ni = json_object_get(rep, "nodeInfo");
    const json_t *agent = json_object_get(rep, "agent");
    const json_t *lv = json_object_get(rep, "libvirt");
    const json_t *labels = json_object_get(rep, "labels");
    const json_t *addrs = json_object_get(rep, "addresses");
    json_t *p, *status, *lab, *ann, *info, *c;
    static const struct {
        const char *from, *to;
    } info_map[] = {{"arch", "architecture"},
                    {"kernelVersion", "kernelVersion"},
                    {"osImage", "osImage"},
                    {"hostUUID", "machineID"},
                    {"hostUUID", "systemUUID"},
                    {"libvirtVersion", "libvirtVersion"},
                    {"hypervisorVersion", "hypervisorVersion"},
                    {"cpuModel", "cpuModel"}};

    p = json_pack("{s:o, s:{}, s:{}}", "labels",
                  labels ? json_deep_copy(labels) : json_object(),
                  "annotations", "status");
    if (!p) {
        json_decref(skipped);
        return NULL;
    }
    lab = json_object_get(p, "labels");
    ann = json_object_get(p, "annotations");
    status = json_object_get(p, "status");
    json_object_set_new(lab, HOSTNAME_LABEL, json_string(node));
    if (dom_str(agent, "url"))
        json_object_set_new(ann, AGENT_URL_ANNOT,
                            json_string(dom_str(agent, "url")));
    if (dom_str(agent, "libvirtPeerURI"))
        json_object_set_new(ann, PEER_URI_ANNOT,
                            json_string(dom_str(agent, "libvirtPeerURI")));
    if (dom_str(agent, "version"))
        json_object_set_new(ann, AGENT_VER_ANNOT,
                            json_string(dom_str(agent, "version")));
    if (dom_str(agent, "bootId"))
        json_object_set_new(ann, BOOT_ID_ANNOT,
                            json_string(dom_str(agent, "bootId")));
    json_object_set_new(status, "addresses",
                        addrs ? json_deep_copy(addrs) : json_array());
    if (json_is_object(cap) && json_object_get(cap, "cpus")) {
        c = json_pack(
            "{s:o, s:o}", "cpu",
            json_sprintf("%" JSON_INTEGER_FORMAT,
                         json_integer_value(json_object_get(cap, "cpus"))),
            "memory",
            kib_quantity(
                json_integer_value(json_object_get(cap, "memoryKiB"))));
        /* Room for VMs is the scheduler's sum; nothing is held back. */
        json_object_set_new(status, "allocatable", json_deep_copy(c));
        json_object_set_new(status, "capacity", c);
    }
    info =
        json_pack("{s:s, s:s}", "operatingSystem", "linux", "kubeletVersion",
                  dom_str(agent, "version") ? dom_str(agent, "version") : "");
    if (info) {
        for (size_t i = 0; i < sizeof(info_map) / sizeof(*info_map); i++)
            if (dom_str(ni, info_map[i].from))
                json_object_set_new(info, info_map[i].to,
                                    json_string(dom_str(ni, info_map[i].from)));
        /* An older migrator says these in "libvirt". */
        if (!json_object_get(info, "libvirtVersion") && dom_str(lv, "version"))
            json_object_set_new(info, "libvirtVersion",
                                json_string(dom_str(lv, "version")));
        if (!json_object_get(info, "systemUUID") && dom_str(lv, "hostUUID")) {
            json_object_set_new(info, "machineID",
                                json_string(dom_str(lv, "hostUUID")));
            json_object_set_new(info, "systemUUID",
                                json_string(dom_str(lv, "hostUUID")));
        }
        /* Every member of core/v1 NodeSystemInfo is required: typed
         * clients (python3-kubernetes) refuse a node that lacks one. */
        static const char *const required[] = {
            "architecture",  "bootID",           "containerRuntimeVersion",
            "kernelVersion", "kubeProxyVersion", "kubeletVersion",
            "machineID",     "operatingSystem",  "osImage",
            "systemUUID",
        };
        for (size_t i = 0; i < sizeof(required) / sizeof(*required); i++)
            if (!json_object_get(info, required[i]))
                json_object_set_new(info, required[i], json_string(""));
        json_object_set_new(status, "nodeInfo", info);
    }
    {
        const json_t *nets = json_object_get(rep, "networks");
        json_t *pfs = sriov_pfs(nets);

        json_object_set_new(status, "sriovNetworks", sriov_networks(nets, pfs));
        json_object_set_new(status, "sriov", json_pack("{s:o*}", "pfs", pfs));
    }
    /* The migrator's shared_storage, for the RWX rule at admission. */
    if (json_is_array(json_object_get(rep, "sharedStorage")))
        json_object_set_new(
            status, "sharedStorage",
            json_deep_copy(json_object_get(rep, "sharedStorage")));
    /* Without domains (libvirt unreachable) the last list stays. */
    if (skipped)
        json_object_set_new(status, "skippedDomains", skipped);
    return p;
}

static void ready_words(enum orch_node_ready r, const json_t *rep,
                        const char **reason, char *msg, size_t len)
{
    const char *err = rep ? api_doc_get_string(rep, "libvirt.error") : NULL;

    switch (r) {
    case ORCH_NODE_READY_TRUE:
        *reason = "KubeletReady";
        snprintf(msg, len, "migrator is posting ready status");
        break;
    case ORCH_NODE_READY_FALSE:
        *reason = "LibvirtUnreachable";
        snprintf(msg, len, "libvirt unreachable: %.400s", err ? err : "?");
        break;
    default:
        *reason = "NodeStatusUnknown";
        snprintf(msg, len, "migrator stopped posting node status");
    }
}

/* The node record from the stored OLD (NULL: new), PART (node_part(); NULL:
 * keep the stored status) and the Ready status.  HEARTBEAT: set
 * lastHeartbeatTime to now, else keep the stored one. */
static json_t *node_compose(const json_t *old, const char *node,
                            const json_t *part, enum orch_node_ready ready,
                            const json_t *rep, bool heartbeat, const char *now)
{
    json_t *doc, *md, *status, *ann, *c;
    const char *reason;
    char msg[512];

    doc = old ? json_deep_copy(old)
              : json_pack("{s:s, s:s, s:{s:s}, s:{}}", "apiVersion", "v1",
                          "kind", "Node", "metadata", "name", node, "spec");
    if (!doc)
        return NULL;
    md = obj_child(doc, "metadata");
    status = obj_child(doc, "status");
    if (part) {
        json_t *conds = json_incref(json_object_get(status, "conditions"));
        json_t *skipped =
            json_incref(json_object_get(status, "skippedDomains"));
        json_object_set(md, "labels", json_object_get(part, "labels"));
        /* Others' annotations stay; ours follow the report. */
        ann = obj_child(md, "annotations");
        json_object_del(ann, AGENT_URL_ANNOT);
        json_object_del(ann, PEER_URI_ANNOT);
        json_object_del(ann, AGENT_VER_ANNOT);
        json_object_del(ann, BOOT_ID_ANNOT);
        json_object_update(ann, json_object_get(part, "annotations"));
        json_object_clear(status);
        json_object_update(status, json_object_get(part, "status"));
        if (conds)
            json_object_set(status, "conditions", conds);
        if (skipped && !json_object_get(status, "skippedDomains"))
            json_object_set(status, "skippedDomains", skipped);
        json_decref(conds);
        json_decref(skipped);
    }
    ready_words(ready, rep, &reason, msg, sizeof(msg));
    cond_set(status, "Ready", orch_node_ready_name(ready), reason, msg, now);
    c = cond_find(json_object_get(status, "conditions"), "Ready", NULL);
    if (c && (heartbeat || !json_object_get(c, "lastHeartbeatTime")))
        json_object_set_new(c, "lastHeartbeatTime", json_string(now));
    return doc;
}

static json_t *ready_cond(const json_t *node)
{
    return cond_find(
        json_object_get(json_object_get(node, "status"), "conditions"), "Ready",
        NULL);
}

static int64_t heartbeat_age_s(const json_t *node, int64_t now_s)
{
    const char *hb = json_string_value(
        json_object_get(ready_cond(node), "lastHeartbeatTime"));
    int64_t t;

    if (!hb || api_time_parse(hb, &t) < 0)
        return INT64_MAX;
    return now_s - t;
}

enum orch_node_ready orch_node_ready_of(const json_t *node,
                                        const char **ret_reason,
                                        const char **ret_message)
{
    const json_t *c = ready_cond(node);
    const char *s = json_string_value(json_object_get(c, "status"));

    if (ret_reason)
        *ret_reason = json_string_value(json_object_get(c, "reason"));
    if (ret_message)
        *ret_message = json_string_value(json_object_get(c, "message"));
    if (streq(s, "True"))
        return ORCH_NODE_READY_TRUE;
    if (streq(s, "False"))
        return ORCH_NODE_READY_FALSE;
    return ORCH_NODE_READY_UNKNOWN;
}

/* Write NODE's record if it differs from the stored one other than by the
 * heartbeat, or the stored heartbeat is ORCH_HOSTS_HEARTBEAT_WRITE_S old. */
static int node_write(struct txn *t, const char *node, const json_t *part,
                      enum orch_node_ready ready, const json_t *rep)
{
    json_t *old = NULL, *new = NULL;
    int r = store_get(t->srv->store, STORE_KIND_NODE, NULL, node, &old);

    if (r < 0 && r != -ENOENT)
        return r;
    new = node_compose(old, node, part, ready, rep, false, t->now);
    if (!new) {
        r = -ENOMEM;
        goto out;
    }
    if (old && json_equal(old, new) &&
        heartbeat_age_s(old, t->now_s) < ORCH_HOSTS_HEARTBEAT_WRITE_S) {
        r = 0;
        goto out;
    }
    json_decref(new);
    new = node_compose(old, node, part, ready, rep, true, t->now);
    r = new ? txn_put(t, STORE_KIND_NODE, old, new) : -ENOMEM;
out:
    json_decref(old);
    json_decref(new);
    return r;
}

/* Refresh only the lastHeartbeatTime of NODE's Ready condition. */
static int node_heartbeat(struct txn *t, const char *node)
{
    json_t *old = NULL, *new = NULL, *c;
    int r = store_get(t->srv->store, STORE_KIND_NODE, NULL, node, &old);

    if (r < 0)
        return r;
    new = json_deep_copy(old);
    c = ready_cond(new);
    if (c) {
        json_object_set_new(c, "lastHeartbeatTime", json_string(t->now));
        r = txn_put(t, STORE_KIND_NODE, old, new);
    } else {
        r = new ? 0 : -ENOMEM;
    }
    json_decref(old);
    json_decref(new);
    return r;
}

/* A report whose text (RAW_HASH, report_raw_hash()) is the last one
 * applied for NODE changes nothing but the heartbeat: note it without
 * decoding it.  Returns 1 when done so, 0 when the report must be applied
 * in full, or a negative errno from the store. */
static int hosts_report_same(struct orch_server *srv, const char *node,
                             uint64_t raw_hash, int64_t now_ms)
{
    struct host *h = host_find(srv->hosts, node);
    struct txn t;
    int r;

    if (!h || !raw_hash || !h->have_report || raw_hash != h->raw_hash)
        return 0;
    if (now_ms - h->node_written_ms >=
        (int64_t)ORCH_HOSTS_HEARTBEAT_WRITE_S * 1000) {
        txn_init(&t, srv);
        r = store_txn_begin(srv->store);
        if (r < 0)
            return r;
        r = node_heartbeat(&t, node);
        if (r < 0 || (r = store_txn_commit(srv->store)) < 0) {
            store_txn_rollback(srv->store);
            return r;
        }
        h->node_written_ms = now_ms;
    }
    h->obs.last_seen_ms = now_ms;
    if (h->domains_known)
        h->heard_ms = now_ms;
    return 1;
}

int orch_hosts_report(struct orch_server *srv, const char *node,
                      const json_t *report, int64_t now_ms)
{
    struct orch_hosts *hs = hosts_get(srv);
    const json_t *domains = json_object_get(report, "domains");
    bool libvirt_ok = !api_doc_get_string(report, "libvirt.error");
    enum orch_node_ready ready =
        libvirt_ok ? ORCH_NODE_READY_TRUE : ORCH_NODE_READY_FALSE;
    struct keys active = {0}, migrating = {0};
    struct domhash *dhv = NULL;
    struct mapped *m = NULL;
    size_t n = 0;
    json_t *skipped = NULL, *part = NULL;
    uint64_t nh, dh = 0;
    struct host *h;
    struct txn t;
    int r = 0, written = 0;
    bool sync_vmis, write_node;

    txn_init(&t, srv);
    if (!hs)
        return -ENOMEM;
    h = host_find(hs, node);
    if (!h && !(h = host_add(hs, node)))
        return -ENOMEM;
    /* domains null: libvirt could not be asked, which says nothing of the
     * VMIs: leave them as they are. */
    sync_vmis = json_is_array(domains);
    if (sync_vmis) {
        skipped = json_array();
        r = skipped ? map_domains(domains, &m, &n, skipped) : -ENOMEM;
        if (r < 0) {
            json_decref(skipped);
            return r;
        }
    }
    part = node_part(node, report, skipped);
    if (!part) {
        r = -ENOMEM;
        goto out;
    }
    nh = hash_json(part);
    if (sync_vmis)
        dh = hash_json(domains);
    write_node = !h->have_report || nh != h->node_hash || ready != h->stored ||
                 now_ms - h->node_written_ms >=
                     (int64_t)ORCH_HOSTS_HEARTBEAT_WRITE_S * 1000;
    sync_vmis = sync_vmis && (!h->have_report || dh != h->domains_hash ||
                              h->stored != ORCH_NODE_READY_TRUE);
    if (!write_node && !sync_vmis) {
        /* Unchanged (a report in another encoding, or the first after a
         * restart that matches the store) with a recent heartbeat. */
        h->obs.last_seen_ms = now_ms;
        h->obs.reported = ready;
        h->domains_known = json_is_array(domains);
        if (h->domains_known)
            h->heard_ms = now_ms;
        r = 0;
        goto out;
    }
    r = store_txn_begin(srv->store);
    if (r < 0)
        goto out;
    if (write_node) {
        r = node_write(&t, node, part, ready, report);
        if (r < 0)
            goto fail;
        written += r;
    }
    if (sync_vmis) {
        r = vmis_sync(&t, hs, h, ready == ORCH_NODE_READY_TRUE, m, n, &active,
                      &migrating, &dhv);
        if (r < 0)
            goto fail;
        written += r;
    }
    r = store_txn_commit(srv->store);
    if (r < 0)
        goto out;
    /* Committed: the cache follows the store. */
    h->obs.last_seen_ms = now_ms;
    h->obs.reported = ready;
    h->have_report = true;
    h->stored = ready;
    h->node_hash = nh;
    if (write_node)
        h->node_written_ms = now_ms;
    if (sync_vmis) {
        host_clear_keys(h);
        h->active = active;
        h->migrating = migrating;
        h->dh = dhv;
        h->n_dh = n;
        memset(&active, 0, sizeof(active));
        memset(&migrating, 0, sizeof(migrating));
        dhv = NULL;
        h->domains_hash = dh;
    }
    /* The domains of this report are what active says (unchanged ones
     * were not synced because they equal the last). */
    h->domains_known = json_is_array(domains);
    if (h->domains_known)
        h->heard_ms = now_ms;
    r = written;
    goto out;
fail:
    store_txn_rollback(srv->store);
out:
    keys_clear(&active);
    keys_clear(&migrating);
    domhash_free(dhv, n);
    free(m);
    json_decref(part);
    return r;
}

int orch_hosts_report_order(struct orch_server *srv, const char *node,
                            const char *boot_id, int64_t seq)
{
    struct orch_hosts *hs = hosts_get(srv);
    struct host *h;
    enum orch_agent_reject why;

    if (!hs)
        return -ENOMEM;
    if (!boot_id || !*boot_id || strlen(boot_id) >= sizeof(h->boot_id))
        return 0; /* a migrator that does not say: nothing to check */
    h = host_find(hs, node);
    if (!h && !(h = host_add(hs, node)))
        return -ENOMEM;
    if (strcmp(h->boot_id, boot_id) != 0) {
        for (size_t i = 0; i < ORCH_HOSTS_OLD_BOOTS; i++)
            if (strcmp(h->old_boots[i], boot_id) == 0) {
                why = ORCH_REJECT_STALE_REPORT;
                goto reject;
            }
        /* A new run of the migrator: the one before is over. */
        if (h->boot_id[0]) {
            memmove(h->old_boots[1], h->old_boots[0],
                    sizeof(h->old_boots[0]) * (ORCH_HOSTS_OLD_BOOTS - 1));
            memcpy(h->old_boots[0], h->boot_id, sizeof(h->boot_id));
        }
        snprintf(h->boot_id, sizeof(h->boot_id), "%s", boot_id);
        h->seq = seq;
        return 0;
    }
    if (seq < 0)
        return 0;
    if (seq == h->seq) {
        why = ORCH_REJECT_DUPLICATE_REPORT;
        goto reject;
    }
    if (seq < h->seq) {
        why = ORCH_REJECT_STALE_REPORT;
        goto reject;
    }
    h->seq = seq;
    return 0;
reject:
    srv->metrics.agent_rejected[why]++;
    return why == ORCH_REJECT_DUPLICATE_REPORT ? -EALREADY : -ESTALE;
}

int orch_hosts_vmi_runs(struct orch_server *srv, const char *node,
                        const char *ns, const char *name, int64_t since_ms)
{
    struct host *h = host_find(srv->hosts, node);
    char key[320];

    if (!h || !h->have_report || !h->domains_known || h->heard_ms < since_ms)
        return -EAGAIN;
    snprintf(key, sizeof(key), "%s/%s", ns, name);
    return host_runs(h, key) ? 1 : 0;
}

/*
 * The monitor.
 */

int orch_hosts_load(struct orch_server *srv, int64_t now_ms)
{
    struct orch_hosts *hs = hosts_get(srv);
    struct store_page page = {0};
    int r;

    if (!hs)
        return -ENOMEM;
    r = store_list(srv->store, STORE_KIND_NODE, NULL, NULL, &page);
    if (r < 0)
        return r;
    for (size_t i = 0; i < json_array_size(page.items); i++) {
        const json_t *n = json_array_get(page.items, i);
        const char *name = api_doc_get_string(n, "metadata.name");
        struct host *h;
        if (!name)
            continue;
        h = host_find(hs, name);
        if (!h && !(h = host_add(hs, name))) {
            r = -ENOMEM;
            break;
        }
        if (h->have_report)
            continue;
        /* A fresh grace period from now, whatever the stored heartbeat
         * says: the migrators kept reporting while we were away. */
        h->stored = orch_node_ready_of(n, NULL, NULL);
        h->obs.last_seen_ms = now_ms;
        h->obs.reported = h->stored;
    }
    store_page_release(&page);
    return r < 0 ? r : 0;
}

/* Mark NODE Unknown and its VMIs Ready=Unknown, in one transaction. */
static int node_mark_unknown(struct orch_server *srv, const char *node)
{
    struct store_list_opts lo = {.node_name = node};
    struct store_page page = {0};
    struct txn t;
    json_t *old = NULL, *new = NULL;
    char msg[320];
    int r;

    txn_init(&t, srv);
    r = store_txn_begin(srv->store);
    if (r < 0)
        return r;
    r = store_get(srv->store, STORE_KIND_NODE, NULL, node, &old);
    if (r < 0)
        goto fail;
    new = node_compose(old, node, NULL, ORCH_NODE_READY_UNKNOWN, NULL, false,
                       t.now);
    r = new ? txn_put(&t, STORE_KIND_NODE, old, new) : -ENOMEM;
    if (r < 0)
        goto fail;
    r = store_list(srv->store, STORE_KIND_VMI, NULL, &lo, &page);
    if (r < 0)
        goto fail;
    snprintf(msg, sizeof(msg),
             "node %.200s stopped posting status; the VMI may still run there",
             node);
    for (size_t i = 0; i < json_array_size(page.items); i++) {
        json_t *o = json_array_get(page.items, i);
        const char *ph = api_doc_get_string(o, "status.phase");
        json_t *v;
        /* A final VMI says nothing about the node any more. */
        if (streq(ph, "Succeeded") || streq(ph, "Failed"))
            continue;
        v = json_deep_copy(o);
        if (!v) {
            r = -ENOMEM;
            goto fail;
        }
        cond_set(obj_child(v, "status"), "Ready", "Unknown", "NodeUnreachable",
                 msg, t.now);
        r = txn_put(&t, STORE_KIND_VMI, o, v);
        json_decref(v);
        if (r < 0)
            goto fail;
    }
    r = store_txn_commit(srv->store);
    goto out;
fail:
    store_txn_rollback(srv->store);
out:
    store_page_release(&page);
    json_decref(old);
    json_decref(new);
    return r;
}

int orch_hosts_tick(struct orch_server *srv, int64_t now_ms)
{
    struct orch_hosts *hs = hosts_get(srv);
    int64_t grace_ms = (int64_t)srv->settings.node_grace_s * 1000;
    int r, n = 0;

    if (!hs)
        return -ENOMEM;
    for (size_t i = 0; i < hs->n; i++) {
        struct host *h = &hs->v[i];
        if (orch_node_ready_eval(&h->obs, now_ms, grace_ms) !=
                ORCH_NODE_READY_UNKNOWN ||
            h->stored == ORCH_NODE_READY_UNKNOWN)
            continue;
        r = node_mark_unknown(srv, h->name);
        if (r < 0 && r != -ENOENT) /* ENOENT: deleted meanwhile */
            return r;
        h->stored = ORCH_NODE_READY_UNKNOWN;
        h->obs.reported = ORCH_NODE_READY_UNKNOWN;
        /* Its next report must rewrite its VMIs' Ready. */
        host_forget(h);
        n++;
    }
    return n;
}

static void tick_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    /* A store error now is tried again on the next tick. */
    (void)orch_hosts_tick(arg, orch_hosts_clock_ms());
}

int orch_hosts_start(struct orch_server *srv)
{
    struct orch_hosts *hs = hosts_get(srv);
    struct timeval one = {1, 0};
    int r;

    if (!hs)
        return -ENOMEM;
    if (!srv->base)
        return -EINVAL;
    r = orch_hosts_load(srv, orch_hosts_clock_ms());
    if (r < 0)
        return r;
    hs->timer = event_new(srv->base, -1, EV_PERSIST, tick_cb, srv);
    if (!hs->timer || event_add(hs->timer, &one) < 0)
        return -ENOMEM;
    return 0;
}

void orch_hosts_stop(struct orch_server *srv)
{
    if (!srv || !srv->hosts || !srv->hosts->timer)
        return;
    event_free(srv->hosts->timer);
    srv->hosts->timer = NULL;
}

void orch_hosts_release(struct orch_server *srv)
{
    struct orch_hosts *hs = srv ? srv->hosts : NULL;

    if (!hs)
        return;
    orch_hosts_stop(srv);
    for (size_t i = 0; i < hs->n; i++) {
        free(hs->v[i].name);
        host_clear_keys(&hs->v[i]);
    }
    free(hs->v);
    free(hs);
    srv->hosts = NULL;
}

/*
 * The request handler.
 */

/* Log what the counter of WHY counted since the last such line, at most
 * every REJECT_LOG_MS: a migrator that repeats a mistake every second
 * must not fill the log. */
static void reject_log(struct orch_server *srv, enum orch_agent_reject why,
                       const char *node, const char *what, int64_t now)
{
    struct orch_hosts *hs = srv->hosts;
    uint64_t n = srv->metrics.agent_rejected[why];

    if (!hs || n == hs->reject_logged[why] ||
        (hs->reject_log_ms[why] &&
         now - hs->reject_log_ms[why] < REJECT_LOG_MS))
        return;
    if (n - hs->reject_logged[why] > 1)
        log_warn("node report '%s': %s (%s; %llu such since the last line)",
                 node, what, orch_agent_reject_name(why),
                 (unsigned long long)(n - hs->reject_logged[why]));
    else
        log_warn("node report '%s': %s (%s)", node, what,
                 orch_agent_reject_name(why));
    hs->reject_log_ms[why] = now;
    hs->reject_logged[why] = n;
}

/* The order check of a report (orch_hosts_report_order()), logged.
 * Returns 1 (ignore it), 0 or -ENOMEM. */
static int report_order_check(struct orch_server *srv, const char *node,
                              const char *boot, int64_t seq, int64_t now)
{
    char what[200];
    int r = orch_hosts_report_order(srv, node, boot, seq);

    if (r == -ENOMEM)
        return r;
    if (r == 0)
        return 0;
    snprintf(what, sizeof(what),
             "ignored report %lld of migrator run %.40s: %s", (long long)seq,
             boot,
             r == -EALREADY ? "already received"
                            : "older than one already received");
    reject_log(srv,
               r == -EALREADY ? ORCH_REJECT_DUPLICATE_REPORT
                              : ORCH_REJECT_STALE_REPORT,
               node, what, now);
    return 1;
}

void orch_handle_nodereport(struct orch_server *srv,
                            const struct http_request *req,
                            struct http_response *resp, const char *node)
{
    struct api_errors errs = API_ERRORS_INIT;
    int64_t now = orch_hosts_clock_ms();
    json_t *doc = NULL, *ans;
    uint64_t raw_hash, elsewhere;
    char *msg = NULL;
    struct host *h;
    bool ignored = false;
    int r;

    if (srv->shutting_down) {
        orch_reply_errno(resp, -ESHUTDOWN, "shutting down");
        return;
    }
    if (strlen(node) > 253 || api_check_dns1123_subdomain(node)) {
        orch_reply_errno(resp, -EINVAL, "invalid node name '%.64s'", node);
        return;
    }
    if (!orch_body_fits(srv, req, resp))
        return;
    /* Most reports repeat the last one: no decode, no store. */
    raw_hash = report_raw_hash(req->body, req->body_len);
    if (raw_hash) {
        char boot[64];
        int64_t seq;
        report_raw_order(req->body, req->body_len, boot, &seq);
        r = report_order_check(srv, node, boot, seq, now);
        if (r < 0) {
            orch_reply_errno(resp, r, "out of memory");
            goto out;
        }
        if (r > 0) {
            ignored = true;
            goto answer;
        }
    }
    r = hosts_report_same(srv, node, raw_hash, now);
    if (r < 0) {
        log_error("node report '%s': cannot store the heartbeat: %s", node,
                  strerror(-r));
        orch_reply_errno(resp, r, "node report '%s': cannot store: %s", node,
                         strerror(-r));
        goto out;
    }
    if (r > 0)
        goto answer;
    r = api_doc_decode(req->body, req->body_len, &srv->settings.api_limits,
                       &doc, &errs);
    if (r == 0)
        r = orch_report_check(doc, node, &errs);
    if (r < 0) {
        msg = api_errors_join(&errs);
        if (r == -EMSGSIZE || r == -E2BIG)
            orch_reply_errno(resp, -EMSGSIZE,
                             "the request body is too large: %s",
                             msg ? msg : strerror(-r));
        else if (r == -ENOMEM)
            orch_reply_errno(resp, r, "out of memory");
        else
            orch_reply_errno(resp, -EINVAL, "node report '%s' is invalid: %s",
                             node, msg ? msg : "cannot decode");
        goto out;
    }
    if (!raw_hash) {
        /* Not scanned above (YAML, escapes): the decoded members. */
        const json_t *s = json_object_get(doc, "sequence");
        r = report_order_check(
            srv, node, json_string_value(json_object_get(doc, "bootId")),
            json_is_integer(s) ? (int64_t)json_integer_value(s) : -1, now);
        if (r < 0) {
            orch_reply_errno(resp, r, "out of memory");
            goto out;
        }
        if (r > 0) {
            ignored = true;
            goto answer;
        }
    }
    elsewhere = srv->metrics.agent_rejected[ORCH_REJECT_DOMAIN_ELSEWHERE];
    r = orch_hosts_report(srv, node, doc, now);
    if (r >= 0 &&
        srv->metrics.agent_rejected[ORCH_REJECT_DOMAIN_ELSEWHERE] != elsewhere)
        reject_log(srv, ORCH_REJECT_DOMAIN_ELSEWHERE, node,
                   "runs a domain whose VMI another node's reports still run; "
                   "left with that node until its reports say otherwise",
                   now);
    if (r < 0) {
        log_error("node report '%s': cannot store: %s", node, strerror(-r));
        orch_reply_errno(resp, r, "node report '%s': cannot store: %s", node,
                         strerror(-r));
        goto out;
    }
    if (r > 0)
        log_debug("node report '%s': %d records written", node, r);
    h = host_find(srv->hosts, node);
    if (h)
        h->raw_hash = raw_hash;
answer:
    ans = json_pack("{s:s, s:s, s:i}", "kind", "NodeReportResult", "apiVersion",
                    "agent.orchestrator.io/v1", "heartbeatIntervalSeconds",
                    ORCH_HOSTS_REPORT_INTERVAL_S);
    /* Answered 200 all the same: the migrator has nothing to retry, its
     * newer reports are what counts. */
    if (ans && ignored)
        json_object_set_new(ans, "ignored", json_true());
    if (!ans) {
        orch_reply_errno(resp, -ENOMEM, "out of memory");
        goto out;
    }
    orch_reply_json(resp, req, 200, ans);
    json_decref(ans);
out:
    free(msg);
    api_errors_clear(&errs);
    json_decref(doc);
}
