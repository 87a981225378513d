/*
 * orchestratord: the VirtualMachine controller (see vms.h).
 *
 * What a pass knows of each VMI's two jobs lives in a struct vment keyed by
 * the VMI's uid.  A job this process did not submit is asked for by GET
 * first (a restarted orchestratord finds the jobs the previous one started);
 * the VMI this process just created has no job anywhere, so its start job is
 * submitted at once.
 */
#include "orchestratord/vms.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>

#include "api/api.h"
#include "orchestratord/agent_job.h"
#include "orchestratord/events.h"
#include "orchestratord/orchd.h"

#define AGENT_URL_ANNOT "orchestrator.io/agent-url"
#define NODE_LABEL      "kubevirt.io/nodeName"
#define POLL_FIRST_MS   50
#define POLL_MAX_MS     1000
#define GRACE_DEFAULT_S 30

enum job_kind { JOB_START = 0, JOB_STOP, JOB_COUNT };
static const char *const job_suffix[JOB_COUNT] = {"start", "stop"};

struct vment;

struct vment {
    struct vment *next;
    struct orch_vms *ctl;
    char uid[API_UID_LEN + 16];
    bool seen;
    bool dead;
    bool fresh;          /* an agent answered since a pass looked at it */
    char key[320];       /* "NS/NAME" of its VM, for a pass over a few VMs */
    int64_t start_ok_ms; /* when the start job was seen Succeeded */
    int64_t final_ms;    /* when the VMI was first seen final */
    struct orch_agent_job jobs[JOB_COUNT];
};

/* A VMI whose VM is gone: stopped, then removed. */
struct orphan {
    struct orphan *next;
    char ns[64];
    char name[254];
    char owner_uid[API_UID_LEN + 16];
};

struct orch_vms {
    struct orch_server *srv;
    struct orch_agent agent;
    int64_t (*clock_ms)(void);
    struct orch_feed_sub *sub;
    struct event *timer;
    struct event *kick;
    struct vment *ents;
    struct vment *dead;
    struct orphan *orphans;
    /* What changed since the last pass ("NS/NAME" -> true): a pass steps
     * those VMs and the ones with work in flight; every
     * ORCH_VMS_RESYNC_S, after a node changed and at start, it steps
     * them all. */
    json_t *dirty;
    bool full;
    int64_t last_full_ms;
    bool running;
    bool again;
};

struct pass {
    struct orch_vms *c;
    int64_t now_ms;
    char now[API_TIME_LEN];
    json_t *nodes; /* listed once per pass, when needed */
    int written;
};

static int64_t real_clock_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static bool streq(const char *a, const char *b)
{
    return a && b && strcmp(a, b) == 0;
}

static const char *str_at(const json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

/* The object member K of O, made if absent. */
static json_t *obj_child(json_t *o, const char *k)
{
    json_t *v = json_object_get(o, k);
    if (!json_is_object(v)) {
        v = json_object();
        json_object_set_new(o, k, v);
    }
    return v;
}

static void kick(struct orch_vms *c)
{
    c->again = true;
    if (c->kick)
        event_active(c->kick, EV_TIMEOUT, 0);
}

static int64_t doc_rv(const json_t *doc)
{
    int64_t rv = 0;
    const char *s = api_doc_get_string(doc, "metadata.resourceVersion");
    if (!s || store_rv_parse(s, &rv) < 0)
        return 0;
    return rv;
}

/*
 * Pure rules.
 */

const char *orch_vm_run_strategy(const json_t *vm)
{
    static const char *const known[] = {"Always", "Halted", "Manual",
                                        "RerunOnFailure", "Once"};
    const json_t *spec = json_object_get(vm, "spec");
    const json_t *running = json_object_get(spec, "running");
    const char *rs = str_at(spec, "runStrategy");

    if (json_is_boolean(running))
        return json_is_true(running) ? "Always" : "Halted";
    for (size_t i = 0; rs && i < sizeof(known) / sizeof(*known); i++)
        if (strcmp(rs, known[i]) == 0)
            return known[i];
    return "Halted";
}

static bool phase_final(const char *ph)
{
    return streq(ph, "Succeeded") || streq(ph, "Failed");
}

/* The last start or stop asked through the subresources: 1 start, 0 stop,
 * -1 none. */
static int last_request(const json_t *vm)
{
    const json_t *reqs =
        json_object_get(json_object_get(vm, "status"), "stateChangeRequests");
    int last = -1;
    size_t i;
    const json_t *r;

    json_array_foreach(reqs, i, r)
    {
        const char *a = str_at(r, "action");
        if (streq(a, "Start"))
            last = 1;
        else if (streq(a, "Stop"))
            last = 0;
    }
    return last;
}

bool orch_vm_wants_run(const json_t *vm, const json_t *vmi)
{
    const char *rs = orch_vm_run_strategy(vm);
    const char *ph = api_doc_get_string(vmi, "status.phase");
    int req;

    if (streq(rs, "Always"))
        return true;
    if (streq(rs, "Halted"))
        return false;
    if (streq(rs, "RerunOnFailure"))
        return !streq(ph, "Succeeded");
    /* Manual, Once: what was asked last; else a VMI that runs keeps
     * running. */
    req = last_request(vm);
    if (req >= 0)
        return req == 1;
    return vmi && !phase_final(ph);
}

/* Whether status.stateChangeRequests asks to stop the VMI with uid UID
 * (a Stop without a uid stops whatever runs). */
static bool stop_requested(const json_t *vm, const char *uid)
{
    const json_t *reqs =
        json_object_get(json_object_get(vm, "status"), "stateChangeRequests");
    size_t i;
    const json_t *r;

    json_array_foreach(reqs, i, r)
    {
        const char *u = str_at(r, "uid");
        if (streq(str_at(r, "action"), "Stop") && (!u || streq(u, uid)))
            return true;
    }
    return false;
}

static int64_t vmi_vcpus(const json_t *vmi)
{
    const json_t *cpu = json_object_get(
        json_object_get(json_object_get(vmi, "spec"), "domain"), "cpu");
    int64_t n = 1;
    static const char *const k[] = {"sockets", "cores", "threads"};

    for (size_t i = 0; i < 3; i++) {
        json_int_t v = json_integer_value(json_object_get(cpu, k[i]));
        if (v > 0)
            n *= v;
    }
    return n;
}

static bool node_ready(const json_t *node)
{
    const json_t *conds =
        json_object_get(json_object_get(node, "status"), "conditions");
    size_t i;
    const json_t *c;

    json_array_foreach(conds, i, c)
    {
        if (streq(str_at(c, "type"), "Ready"))
            return streq(str_at(c, "status"), "True");
    }
    return false;
}

static const char *node_agent_url(const json_t *node)
{
    /* The key has dots: no api_doc_get_string() path. */
    return str_at(
        json_object_get(json_object_get(node, "metadata"), "annotations"),
        AGENT_URL_ANNOT);
}

static bool node_has_network(const json_t *node, const char *want)
{
    const json_t *nets =
        json_object_get(json_object_get(node, "status"), "sriovNetworks");
    const char *slash = strchr(want, '/');
    size_t i;
    const json_t *n;

    json_array_foreach(nets, i, n)
    {
        const char *name = str_at(n, "name");
        if (streq(name, want) || (slash && streq(name, slash + 1)))
            return true;
    }
    return false;
}

/* The multus network of VMI that NODE lacks, or NULL. */
static const char *missing_network(const json_t *node, const json_t *vmi)
{
    const json_t *nets =
        json_object_get(json_object_get(vmi, "spec"), "networks");
    size_t i;
    const json_t *n;

    json_array_foreach(nets, i, n)
    {
        const char *want = str_at(json_object_get(n, "multus"), "networkName");
        if (want && !node_has_network(node, want))
            return want;
    }
    return NULL;
}

static void fmt_bytes(int64_t b, char *buf, size_t len)
{
    if (b >= (int64_t)1 << 30 && b % ((int64_t)1 << 30) == 0)
        snprintf(buf, len, "%" PRId64 "Gi", b >> 30);
    else
        snprintf(buf, len, "%" PRId64 "Mi", (b + (1 << 20) - 1) >> 20);
}

/* REASON without its "NODE: " head (sriov.h's reasons name the node; this
 * message names it already). */
static const char *without_head(const char *reason, const char *node)
{
    size_t n = node ? strlen(node) : 0;

    if (n && strncmp(reason, node, n) == 0 && strncmp(reason + n, ": ", 2) == 0)
        return reason + n + 2;
    return reason;
}

int orch_vm_pick_node(const json_t *nodes, const json_t *vmi, int64_t need,
                      orch_node_used_fn used, orch_node_incoming_fn incoming,
                      void *used_arg, const json_t **ret_node, char *msg,
                      size_t len)
{
    const json_t *sel =
        json_object_get(json_object_get(vmi, "spec"), "nodeSelector");
    const json_t *best = NULL, *n;
    int64_t best_free = 0, vcpus = vmi_vcpus(vmi);
    size_t i, o = 0, total = json_array_size(nodes);
    bool first = true;

    o = (size_t)snprintf(msg, len, "0/%zu nodes are available", total);
    if (total == 0 && o < len)
        snprintf(msg + o, len - o, ": no node has registered");
    json_array_foreach(nodes, i, n)
    {
        const char *name = api_doc_get_string(n, "metadata.name");
        const json_t *st = json_object_get(n, "status");
        const json_t *cap = json_object_get(st, "capacity");
        const char *memq = str_at(cap, "memory");
        const char *cpuq = str_at(cap, "cpu");
        const char *net;
        int64_t mem = 0, cpu = 0, free_b;
        char why[320] = "", a[32], b[32], vf[512];

        if (!node_ready(n))
            snprintf(why, sizeof(why), "not Ready");
        else if (json_is_true(json_object_get(json_object_get(n, "spec"),
                                              "unschedulable")))
            snprintf(why, sizeof(why), "unschedulable");
        else if (!node_agent_url(n))
            snprintf(why, sizeof(why), "no agent URL");
        else if (!api_labels_match_map(
                     sel,
                     json_object_get(json_object_get(n, "metadata"), "labels")))
            snprintf(why, sizeof(why), "does not match nodeSelector");
        else if ((net = missing_network(n, vmi)))
            snprintf(why, sizeof(why), "lacks network '%.200s'", net);
        else if (!orch_sriov_target_ok(vmi, NULL, n, incoming, used_arg, vf,
                                       sizeof(vf)))
            snprintf(why, sizeof(why), "%.300s", without_head(vf, name));
        else if (cpuq && api_quantity_parse(cpuq, &cpu) == 0 && cpu < vcpus)
            snprintf(why, sizeof(why),
                     "%" PRId64 " CPUs, the VM needs %" PRId64, cpu, vcpus);
        if (!why[0]) {
            if (!memq || api_quantity_parse(memq, &mem) < 0)
                mem = 0;
            free_b = mem - (used ? used(name, used_arg) : 0);
            if (free_b < need) {
                fmt_bytes(free_b > 0 ? free_b : 0, a, sizeof(a));
                fmt_bytes(need, b, sizeof(b));
                snprintf(why, sizeof(why),
                         "insufficient memory: %s free, the VM needs %s", a, b);
            } else if (!best || free_b > best_free ||
                       (free_b == best_free &&
                        strcmp(name, api_doc_get_string(
                                         best, "metadata.name")) < 0)) {
                best = n;
                best_free = free_b;
            }
        }
        if (why[0] && o < len) {
            o += (size_t)snprintf(msg + o, len - o, "%s%s: %s",
                                  first ? ": " : "; ", name ? name : "?", why);
            first = false;
        }
    }
    if (!best)
        return -ENOENT;
    *ret_node = best;
    if (len)
        msg[0] = '\0';
    return 0;
}

int orch_vm_admit(struct store *st, const json_t *doc, char *field,
                  size_t field_len, char *msg, size_t len)
{
    const json_t *tmpl =
        json_object_get(json_object_get(doc, "spec"), "template");
    struct store_page page = {0};
    struct store_list_opts o = {0};
    int64_t need = orch_migration_vmi_memory(tmpl), most = 0, mem;
    const json_t *n;
    size_t i, sized = 0;
    int r;

    field[0] = msg[0] = '\0';
    if (need <= 0)
        return 0;
    r = store_list(st, STORE_KIND_NODE, NULL, &o, &page);
    if (r < 0)
        return r;
    /* Only nodes that said how much memory they have count: one that
     * never reported tells nothing. */
    json_array_foreach(page.items, i, n)
    {
        const char *q = api_doc_get_string(n, "status.capacity.memory");
        if (q && api_quantity_parse(q, &mem) == 0) {
            sized++;
            if (mem > most)
                most = mem;
        }
    }
    r = 0;
    if (sized > 0 && need > most) {
        const json_t *d =
            json_object_get(json_object_get(tmpl, "spec"), "domain");
        char a[32], b[32];
        snprintf(
            field, field_len, "spec.template.spec.domain.%s",
            json_object_get(json_object_get(d, "memory"), "guest")
                ? "memory.guest"
            : json_object_get(
                  json_object_get(json_object_get(d, "resources"), "requests"),
                  "memory")
                ? "resources.requests.memory"
                : "resources.limits.memory");
        fmt_bytes(need, a, sizeof(a));
        fmt_bytes(most, b, sizeof(b));
        snprintf(msg, len,
                 "Invalid value: \"%s\": more memory than any node has "
                 "(the largest has %s)",
                 a, b);
        r = -EDOM;
    }
    store_page_release(&page);
    return r;
}

/*
 * Entries and jobs.
 */

static struct vment *ent_get(struct orch_vms *c, const char *uid)
{
    struct vment *e;

    for (e = c->ents; e; e = e->next)
        if (strcmp(e->uid, uid) == 0)
            return e;
    e = calloc(1, sizeof(*e));
    if (!e)
        return NULL;
    e->ctl = c;
    snprintf(e->uid, sizeof(e->uid), "%s", uid);
    for (int i = 0; i < JOB_COUNT; i++)
        e->jobs[i] = (struct orch_agent_job){
            .owner = e,
            .kind = i,
            .poll_first_ms = POLL_FIRST_MS,
            .poll_max_ms = POLL_MAX_MS,
            .refused_reason = "InvalidSpec",
        };
    e->next = c->ents;
    c->ents = e;
    return e;
}

static void ent_mark(struct vment *e, const char *ns, const char *name)
{
    e->seen = true;
    e->fresh = false;
    snprintf(e->key, sizeof(e->key), "%s/%s", ns ? ns : "", name ? name : "");
}

static bool ent_busy(const struct vment *e)
{
    return e->jobs[0].busy || e->jobs[1].busy;
}

static void ent_free(struct vment *e)
{
    for (int i = 0; i < JOB_COUNT; i++)
        orch_agent_job_clear(&e->jobs[i]);
    free(e);
}

static void ent_unlink(struct vment **list, struct vment *e)
{
    for (struct vment **pp = list; *pp; pp = &(*pp)->next)
        if (*pp == e) {
            *pp = e->next;
            break;
        }
    e->next = NULL;
}

static void ent_drop(struct orch_vms *c, struct vment *e)
{
    ent_unlink(&c->ents, e);
    e->dead = true;
    if (!ent_busy(e)) {
        ent_free(e);
        return;
    }
    e->next = c->dead;
    c->dead = e;
}

static void job_id(const struct vment *e, int kind, char *buf, size_t len)
{
    snprintf(buf, len, "%s-%s", e->uid, job_suffix[kind]);
}

static void job_done(int err, int status, const json_t *body, void *arg)
{
    struct orch_agent_job *j = arg;
    struct vment *e = j->owner;
    struct orch_vms *c = e->ctl;
    char id[API_UID_LEN + 32];

    if (e->dead) {
        j->busy = j->posted = false;
        if (!ent_busy(e)) {
            ent_unlink(&c->dead, e);
            ent_free(e);
        }
        return;
    }
    e->fresh = true;
    job_id(e, j->kind, id, sizeof(id));
    (void)orch_agent_job_answer(j, id, NULL, err, status, body, c->clock_ms());
    kick(c);
}

/* Ask for J on URL, or submit REQ when the agent does not have it.  REQ is
 * borrowed.  Nothing while a call is in flight, before next_ms, or once the
 * job is final. */
static void job_drive(struct pass *p, struct orch_agent_job *j, const char *url,
                      const json_t *req)
{
    char id[API_UID_LEN + 32];

    if (!orch_agent_job_due(j, p->now_ms))
        return;
    if (!url) {
        orch_agent_job_failed_call(j, p->now_ms, "the node has no agent URL");
        return;
    }
    if (j->absent && !req)
        return; /* nothing to submit: only asked for */
    job_id(j->owner, j->kind, id, sizeof(id));
    (void)orch_agent_job_call(j, &p->c->agent, url, id, req, job_done, j,
                              p->now_ms);
}

static const char *job_err(const struct orch_agent_job *j, const char *k)
{
    return str_at(json_object_get(j->obj, "error"), k);
}

/*
 * Reading the store.
 */

static const json_t *pass_nodes(struct pass *p)
{
    struct store_list_opts o = {0};
    struct store_page page = {0};

    if (p->nodes)
        return p->nodes;
    if (store_list(p->c->srv->store, STORE_KIND_NODE, NULL, &o, &page) == 0) {
        p->nodes = page.items;
        page.items = NULL;
    }
    store_page_release(&page);
    if (!p->nodes)
        p->nodes = json_array();
    return p->nodes;
}

static const json_t *node_named(struct pass *p, const char *name)
{
    const json_t *nodes = pass_nodes(p), *n;
    size_t i;

    json_array_foreach(nodes, i, n)
    {
        if (streq(api_doc_get_string(n, "metadata.name"), name))
            return n;
    }
    return NULL;
}

static char *agent_url(struct pass *p, const char *node)
{
    const char *u = node_agent_url(node_named(p, node));
    return u ? strdup(u) : NULL;
}

/* Memory in use on NODE (migration.h): its VMIs that have not ended and
 * those migrating to it. */
static int64_t node_used(const char *node, void *arg)
{
    struct pass *p = arg;

    return orch_migration_node_used(p->c->srv->store, node);
}

/* The VMIs on their way to NODE, for the SR-IOV rule (sriov.h's
 * orch_node_incoming_fn). */
static json_t *node_incoming(const char *node, void *arg)
{
    struct pass *p = arg;
    json_t *in = NULL;

    return orch_migration_incoming(p->c->srv->store, node, &in) == 0 ? in
                                                                     : NULL;
}

/* The uid of the VirtualMachine that owns VMI, or NULL (no such owner). */
static const char *vmi_owner(const json_t *vmi)
{
    const json_t *refs =
        json_object_get(json_object_get(vmi, "metadata"), "ownerReferences");
    size_t i;
    const json_t *r;

    json_array_foreach(refs, i, r)
    {
        if (streq(str_at(r, "kind"), "VirtualMachine"))
            return str_at(r, "uid");
    }
    return NULL;
}

/*
 * Conditions.
 */

static json_t *cond_find(json_t *conds, const char *type)
{
    size_t i;
    json_t *c;

    json_array_foreach(conds, i, c)
    {
        if (streq(str_at(c, "type"), type))
            return c;
    }
    return NULL;
}

/* Set a condition in STATUS.conditions; lastTransitionTime changes only
 * when the status does. */
static void cond_set(json_t *status, const char *type, const char *st,
                     const char *reason, const char *message, const char *now)
{
    json_t *conds = json_object_get(status, "conditions");
    json_t *c, *n;
    const char *ltt;

    if (!json_is_array(conds)) {
        conds = json_array();
        json_object_set_new(status, "conditions", conds);
    }
    c = cond_find(conds, type);
    ltt = c && streq(str_at(c, "status"), st) ? str_at(c, "lastTransitionTime")
                                              : now;
    n = json_pack("{s:s, s:s, s:s?, s:n}", "type", type, "status", st,
                  "lastTransitionTime", ltt, "lastProbeTime");
    if (!n)
        return;
    /* Absent, not null, as the API server leaves an unset string. */
    if (reason)
        json_object_set_new(n, "reason", json_string(reason));
    if (message)
        json_object_set_new(n, "message", json_string(message));
    if (c) {
        size_t i;
        json_t *x;
        json_array_foreach(conds, i, x)
        {
            if (x == c) {
                json_array_set_new(conds, i, n);
                return;
            }
        }
    }
    json_array_append_new(conds, n);
}

static void cond_del(json_t *status, const char *type)
{
    json_t *conds = json_object_get(status, "conditions");
    size_t i;
    json_t *c;

    json_array_foreach(conds, i, c)
    {
        if (streq(str_at(c, "type"), type)) {
            json_array_remove(conds, i);
            return;
        }
    }
}

static void phase_set(json_t *vmi, const char *phase, const char *now)
{
    json_t *st = obj_child(vmi, "status");
    json_t *ts = json_object_get(st, "phaseTransitionTimestamps");

    if (streq(str_at(st, "phase"), phase))
        return;
    json_object_set_new(st, "phase", json_string(phase));
    if (!json_is_array(ts)) {
        ts = json_array();
        json_object_set_new(st, "phaseTransitionTimestamps", ts);
    }
    json_array_append_new(ts, json_pack("{s:s, s:s}", "phase", phase,
                                        "phaseTransitionTimestamp", now));
}

/*
 * Writes.
 */

static int put(struct pass *p, enum store_kind k, json_t *doc)
{
    int r = store_update(p->c->srv->store, k, doc, doc_rv(doc));
    if (r == -ESTALE || r == -ENOENT) {
        p->c->again = true;
        return 0;
    }
    if (r < 0)
        return r;
    p->written++;
    return 1;
}

static char *domain_of(const json_t *vmi)
{
    char dom[320];
    if (orch_migration_domain_name(vmi, dom, sizeof(dom)) < 0)
        return NULL;
    return strdup(dom);
}

/* The VMI object a start job carries: what the host needs, nothing that
 * changes as reports come (so that the same id carries the same body). */
static json_t *start_request(const struct vment *e, const json_t *vmi)
{
    const json_t *md = json_object_get(vmi, "metadata");
    char id[API_UID_LEN + 32], *dom = domain_of(vmi);
    json_t *obj, *req = NULL, *omd;
    static const char *const keep[] = {
        "name", "namespace", "uid", "labels", "annotations", "ownerReferences"};

    snprintf(id, sizeof(id), "%s-start", e->uid);
    obj = json_pack("{s:s, s:s, s:{}, s:O?}", "apiVersion", "kubevirt.io/v1",
                    "kind", "VirtualMachineInstance", "metadata", "spec",
                    json_object_get(vmi, "spec"));
    if (!obj || !dom)
        goto out;
    omd = json_object_get(obj, "metadata");
    for (size_t i = 0; i < sizeof(keep) / sizeof(*keep); i++)
        if (json_object_get(md, keep[i]))
            json_object_set_new(omd, keep[i],
                                json_deep_copy(json_object_get(md, keep[i])));
    /* The node label is the reports' to write; the host needs none. */
    json_object_del(obj_child(omd, "labels"), NODE_LABEL);
    req = json_pack("{s:s, s:s, s:s, s:{s:O}}", "id", id, "type", "start",
                    "domain", dom, "start", "vmi", obj);
out:
    json_decref(obj);
    free(dom);
    return req;
}

static json_t *stop_request(const struct vment *e, const json_t *vmi,
                            const json_t *vm)
{
    char id[API_UID_LEN + 32], *dom = domain_of(vmi);
    json_t *g = json_object_get(json_object_get(vmi, "spec"),
                                "terminationGracePeriodSeconds");
    json_int_t grace =
        json_is_integer(g) ? json_integer_value(g) : GRACE_DEFAULT_S;
    json_t *req;
    (void)vm;

    if (!dom)
        return NULL;
    snprintf(id, sizeof(id), "%s-stop", e->uid);
    req = json_pack("{s:s, s:s, s:s, s:{s:I}}", "id", id, "type", "stop",
                    "domain", dom, "stop", "gracePeriodS", grace);
    free(dom);
    return req;
}

/* A start job the report overtook (the domain showed up running before
 * the job's end was seen) is still followed to its end, never submitted
 * again: a stop waits for it, and it may not be left Pending in memory. */
static void start_follow(struct pass *p, struct vment *e, const char *node)
{
    struct orch_agent_job *start = &e->jobs[JOB_START];
    char *url;

    if (orch_agent_job_final(start) || (!start->exists && !start->absent))
        return;
    if (start->absent) {
        /* The host does not know it (a migrator that lost it, a VMI
         * that moved): nothing to wait for. */
        start->absent = false;
        start->state = ORCH_JOB_SUCCEEDED;
        return;
    }
    url = agent_url(p, node);
    job_drive(p, start, url, NULL);
    free(url);
}

/* Stop VMI's domain (if it may have one) and remove the record once it is
 * gone.  Returns 1 when the record is gone, 0 while in progress, or a
 * negative errno. */
static int teardown(struct pass *p, struct vment *e, const json_t *vmi)
{
    const char *node = api_doc_get_string(vmi, "status.nodeName");
    const char *ns = api_doc_get_string(vmi, "metadata.namespace");
    const char *name = api_doc_get_string(vmi, "metadata.name");
    struct orch_agent_job *start = &e->jobs[JOB_START],
                          *stop = &e->jobs[JOB_STOP];
    json_t *vmi_conds =
        json_object_get(json_object_get(vmi, "status"), "conditions");
    const json_t *sync = cond_find(vmi_conds, "Synchronized");
    bool host_clean =
        !node || !*node || (sync && streq(str_at(sync, "status"), "False"));
    int r;

    if (!host_clean) {
        char *url;
        json_t *req;
        /* A start in flight finishes first: a stop that overtook it would
         * leave the domain it then starts. */
        start_follow(p, e, node);
        if (start->busy || (start->exists && !orch_agent_job_final(start)))
            return 0;
        if (stop->state != ORCH_JOB_SUCCEEDED) {
            if (stop->state == ORCH_JOB_FAILED) {
                /* Try again later with a fresh job: the id stays, so the
                 * agent answers with the failed one; a later pass asks
                 * again after the backoff. */
                return 0;
            }
            url = agent_url(p, node);
            req = stop_request(e, vmi, NULL);
            if (!stop->exists && !stop->absent && !stop->busy)
                stop->absent = true; /* stop is idempotent: submit */
            job_drive(p, stop, url, req);
            json_decref(req);
            free(url);
            return 0;
        }
    }
    r = store_delete(p->c->srv->store, STORE_KIND_VMI, ns, name, doc_rv(vmi),
                     NULL);
    if (r == -ESTALE) {
        p->c->again = true;
        return 0;
    }
    if (r < 0 && r != -ENOENT)
        return r;
    p->written++;
    ent_drop(p->c, e);
    return 1;
}

/* A new VMI for VM, placed if a node fits.  Returns 1 (created), 0 (try
 * again later) or a negative errno. */
static int vmi_create(struct pass *p, const json_t *vm)
{
    const json_t *md = json_object_get(vm, "metadata");
    const json_t *tmpl =
        json_object_get(json_object_get(vm, "spec"), "template");
    const json_t *tmd = json_object_get(tmpl, "metadata");
    const char *name = str_at(md, "name");
    const char *ns = str_at(md, "namespace");
    const json_t *node = NULL;
    char uid[API_UID_LEN], msg[1024];
    json_t *vmi, *vmd, *labels, *st;
    struct vment *e;
    int r;

    if (api_uid_new(uid) < 0)
        return -EIO;
    labels = json_is_object(json_object_get(tmd, "labels"))
                 ? json_deep_copy(json_object_get(tmd, "labels"))
                 : json_object();
    vmi = json_pack(
        "{s:s, s:s, s:{s:s, s:s, s:s, s:o, s:[{s:s, s:s, s:s, s:s, s:b, "
        "s:b}]}, s:O, s:{}}",
        "apiVersion", "kubevirt.io/v1", "kind", "VirtualMachineInstance",
        "metadata", "name", name, "namespace", ns, "uid", uid, "labels", labels,
        "ownerReferences", "apiVersion", "kubevirt.io/v1", "kind",
        "VirtualMachine", "name", name, "uid", str_at(md, "uid"), "controller",
        1, "blockOwnerDeletion", 1, "spec", json_object_get(tmpl, "spec"),
        "status");
    if (!vmi)
        return -ENOMEM;
    vmd = json_object_get(vmi, "metadata");
    json_object_set_new(json_object_get(vmd, "labels"), ORCH_VM_NAME_LABEL,
                        json_string(name));
    if (json_is_object(json_object_get(tmd, "annotations")))
        json_object_set(vmd, "annotations",
                        json_object_get(tmd, "annotations"));
    st = json_object_get(vmi, "status");
    phase_set(vmi, "Scheduling", p->now);
    r = orch_vm_pick_node(pass_nodes(p), vmi, orch_migration_vmi_memory(vmi),
                          node_used, node_incoming, p, &node, msg, sizeof(msg));
    if (r == 0) {
        const char *nn = api_doc_get_string(node, "metadata.name");
        json_object_set_new(json_object_get(vmd, "labels"), NODE_LABEL,
                            json_string(nn));
        json_object_set_new(st, "nodeName", json_string(nn));
        cond_set(st, "PodScheduled", "True", NULL, NULL, p->now);
        phase_set(vmi, "Scheduled", p->now);
    } else {
        cond_set(st, "PodScheduled", "False", "Unschedulable", msg, p->now);
    }
    r = store_create(p->c->srv->store, STORE_KIND_VMI, vmi);
    json_decref(vmi);
    if (r == -EEXIST) {
        p->c->again = true;
        return 0;
    }
    if (r < 0)
        return r;
    p->written++;
    /* Nobody can have its jobs: submit without asking. */
    e = ent_get(p->c, uid);
    if (e) {
        e->jobs[JOB_START].absent = true;
        e->jobs[JOB_STOP].absent = true;
    }
    return 1;
}

/* Move the placed-or-not VMI on: placement, the start job, its outcome, a
 * dead node.  VMI is a copy the caller frees. */
static int vmi_progress(struct pass *p, struct vment *e, json_t *vmi)
{
    json_t *st = obj_child(vmi, "status");
    const char *phase = str_at(st, "phase");
    const char *node = str_at(st, "nodeName");
    struct orch_agent_job *start = &e->jobs[JOB_START];
    const json_t *n;
    char msg[1024];

    if (streq(phase, "Scheduling") && (!node || !*node)) {
        const json_t *pick = NULL;
        int r = orch_vm_pick_node(pass_nodes(p), vmi,
                                  orch_migration_vmi_memory(vmi), node_used,
                                  node_incoming, p, &pick, msg, sizeof(msg));
        if (r < 0) {
            json_t *c =
                cond_find(json_object_get(st, "conditions"), "PodScheduled");
            if (c && streq(str_at(c, "message"), msg))
                return 0;
            cond_set(st, "PodScheduled", "False", "Unschedulable", msg, p->now);
            return put(p, STORE_KIND_VMI, vmi);
        }
        node = api_doc_get_string(pick, "metadata.name");
        json_object_set_new(obj_child(obj_child(vmi, "metadata"), "labels"),
                            NODE_LABEL, json_string(node));
        json_object_set_new(st, "nodeName", json_string(node));
        cond_set(st, "PodScheduled", "True", NULL, NULL, p->now);
        phase_set(vmi, "Scheduled", p->now);
        start->absent = true;
        return put(p, STORE_KIND_VMI, vmi);
    }
    if (!node || !*node || phase_final(phase))
        return 0;
    n = node_named(p, node);
    if (streq(phase, "Scheduled") && start->state != ORCH_JOB_SUCCEEDED) {
        char *url;
        json_t *req;
        if (start->state == ORCH_JOB_FAILED) {
            const char *reason = job_err(start, "reason");
            const char *m = job_err(start, "message");
            phase_set(vmi, "Failed", p->now);
            cond_set(st, "Synchronized", "False",
                     reason ? reason : "StartFailed", m ? m : "start failed",
                     p->now);
            cond_set(st, "Ready", "False", reason ? reason : "StartFailed",
                     m ? m : "start failed", p->now);
            return put(p, STORE_KIND_VMI, vmi);
        }
        url = agent_url(p, node);
        req = start_request(e, vmi);
        job_drive(p, start, url, req);
        json_decref(req);
        free(url);
        if (start->state == ORCH_JOB_SUCCEEDED)
            e->start_ok_ms = p->now_ms;
        return 0;
    }
    start_follow(p, e, node);
    if (start->state == ORCH_JOB_SUCCEEDED && !e->start_ok_ms)
        e->start_ok_ms = p->now_ms;
    if (streq(phase, "Scheduled") && e->start_ok_ms && n && node_ready(n) &&
        p->now_ms - e->start_ok_ms > ORCH_VMS_START_REPORT_S * 1000) {
        snprintf(msg, sizeof(msg),
                 "the domain was started but node %.200s has not reported it "
                 "running for %d s",
                 node, ORCH_VMS_START_REPORT_S);
        phase_set(vmi, "Failed", p->now);
        cond_set(st, "Ready", "False", "DomainNotFound", msg, p->now);
        return put(p, STORE_KIND_VMI, vmi);
    }
    /* A node that is not Ready: what runs there is not known. */
    if (!streq(phase, "Unknown") && (!n || !node_ready(n))) {
        snprintf(msg, sizeof(msg), "node %.200s is %s", node,
                 n ? "not Ready" : "gone");
        phase_set(vmi, "Unknown", p->now);
        cond_set(st, "Ready", "Unknown", "NodeUnreachable", msg, p->now);
        return put(p, STORE_KIND_VMI, vmi);
    }
    return 0;
}

/* Remove the requests the VMI's state has answered: a Start once a VMI
 * exists (it was made for it), a Stop for a VMI that is gone. */
static void requests_prune(json_t *status, const json_t *vmi)
{
    json_t *reqs = json_object_get(status, "stateChangeRequests");
    const char *uid = api_doc_get_string(vmi, "metadata.uid");
    size_t i = 0;

    while (i < json_array_size(reqs)) {
        const json_t *r = json_array_get(reqs, i);
        const char *a = str_at(r, "action");
        const char *u = str_at(r, "uid");
        bool done = false;
        if (streq(a, "Start"))
            done = vmi &&
                   (i == 0 ||
                    !streq(str_at(json_array_get(reqs, 0), "action"), "Stop"));
        else if (streq(a, "Stop"))
            done = !vmi || (u && !streq(u, uid));
        if (done)
            json_array_remove(reqs, i);
        else
            i++;
    }
    if (reqs && json_array_size(reqs) == 0)
        json_object_del(status, "stateChangeRequests");
}

static const char *printable(const json_t *vm, const json_t *vmi, bool want,
                             bool stopping)
{
    const json_t *st = json_object_get(vmi, "status");
    const char *ph = str_at(st, "phase");
    const json_t *conds = json_object_get(st, "conditions");
    const json_t *ps = cond_find((json_t *)conds, "PodScheduled");
    const json_t *paused = cond_find((json_t *)conds, "Paused");
    const json_t *ms = json_object_get(st, "migrationState");
    (void)vm;

    if (!vmi)
        return want ? "Starting" : "Stopped";
    /* Stopped once the record is gone (the domain with it). */
    if (stopping || !want)
        return "Stopping";
    if (ps && streq(str_at(ps, "status"), "False"))
        return "ErrorUnschedulable";
    if (streq(ph, "Running")) {
        if (paused && streq(str_at(paused, "status"), "True"))
            return "Paused";
        if (ms && !json_is_true(json_object_get(ms, "completed")) &&
            str_at(ms, "targetNode"))
            return "Migrating";
        return "Running";
    }
    if (streq(ph, "Unknown"))
        return "Unknown";
    if (phase_final(ph))
        return "Stopped";
    return "Starting";
}

/* An event on the VM when its printable status changed (kubectl describe
 * vm tells the VM's story, as KubeVirt's controller does): the new status
 * as the reason, Warning for the error states.  An event that cannot be
 * stored is not worth failing the pass. */
static void vm_event(struct pass *p, const json_t *vm, const json_t *st)
{
    const char *was = api_doc_get_string(vm, "status.printableStatus");
    const char *now = str_at(st, "printableStatus");
    char msg[256];

    if (!now || streq(was, now))
        return;
    snprintf(msg, sizeof(msg), "VirtualMachine status is now %s%s%s.", now,
             was ? ", was " : "", was ? was : "");
    (void)orch_event_record(
        p->c->srv, vm, strncmp(now, "Error", 5) == 0 ? "Warning" : "Normal",
        now, msg);
}

/* The VM's status from what is known; stored when it changed. */
static int vm_status_write(struct pass *p, const json_t *vm, const json_t *vmi,
                           bool want, bool stopping, const struct vment *e)
{
    const struct orch_agent_job *stop = e ? &e->jobs[JOB_STOP] : NULL;
    json_t *doc = json_deep_copy(vm), *st, *vst, *vconds, *c;
    const char *ph;
    bool ready;
    int r = 0;

    if (!doc)
        return -ENOMEM;
    st = obj_child(doc, "status");
    vst = json_object_get(vmi, "status");
    vconds = json_object_get(vst, "conditions");
    ph = str_at(vst, "phase");
    c = cond_find(vconds, "Ready");
    ready = streq(ph, "Running") && c && streq(str_at(c, "status"), "True");
    requests_prune(st, vmi);
    json_object_set_new(st, "printableStatus",
                        json_string(printable(vm, vmi, want, stopping)));
    json_object_set_new(st, "created", json_boolean(vmi != NULL));
    json_object_set_new(st, "ready", json_boolean(ready));
    json_object_set_new(st, "runStrategy",
                        json_string(orch_vm_run_strategy(vm)));
    if (!vmi)
        cond_set(st, "Ready", "False", "VMINotExists", "VMI does not exist",
                 p->now);
    else if (ready)
        cond_set(st, "Ready", "True", NULL, NULL, p->now);
    else
        cond_set(st, "Ready", c ? str_at(c, "status") : "False",
                 c && str_at(c, "reason") ? str_at(c, "reason") : "NotRunning",
                 c && str_at(c, "message") ? str_at(c, "message")
                                           : "VMI is not running",
                 p->now);
    c = cond_find(vconds, "Synchronized");
    if (c && streq(str_at(c, "status"), "False"))
        cond_set(st, "Failure", "True", str_at(c, "reason"),
                 str_at(c, "message"), p->now);
    else if (vmi && stop && stop->state == ORCH_JOB_FAILED)
        /* The domain may still run: the host said why it could not stop
         * it, and the same job id cannot be tried again. */
        cond_set(
            st, "Failure", "True",
            job_err(stop, "reason") ? job_err(stop, "reason") : "StopFailed",
            job_err(stop, "message") ? job_err(stop, "message") : "stop failed",
            p->now);
    else
        cond_del(st, "Failure");
    c = cond_find(vconds, "PodScheduled");
    if (c && streq(str_at(c, "status"), "False"))
        cond_set(st, "PodScheduled", "False", str_at(c, "reason"),
                 str_at(c, "message"), p->now);
    else
        cond_del(st, "PodScheduled");
    if (!json_equal(st, json_object_get(vm, "status")))
        r = put(p, STORE_KIND_VM, doc);
    if (r >= 0)
        vm_event(p, vm, st);
    json_decref(doc);
    return r < 0 ? r : 0;
}

static int step_vm(struct pass *p, const json_t *vm)
{
    const char *ns = api_doc_get_string(vm, "metadata.namespace");
    const char *name = api_doc_get_string(vm, "metadata.name");
    const char *uid = api_doc_get_string(vm, "metadata.uid");
    json_t *vmi = NULL;
    struct vment *e = NULL;
    bool want, stopping = false;
    int r;

    r = store_get(p->c->srv->store, STORE_KIND_VMI, ns, name, &vmi);
    if (r < 0 && r != -ENOENT)
        return r;
    if (vmi) {
        const char *owner = vmi_owner(vmi);
        const char *vuid = api_doc_get_string(vmi, "metadata.uid");
        if (!owner) {
            /* A domain somebody defined by hand has this name: not ours
             * to stop, and ours cannot run beside it. */
            json_decref(vmi);
            return 0;
        }
        if (!vuid || !(e = ent_get(p->c, vuid))) {
            json_decref(vmi);
            return -ENOMEM;
        }
        ent_mark(e, ns, name);
        if (!streq(owner, uid)) {
            /* Left by an earlier VM of the same name. */
            r = teardown(p, e, vmi);
            json_decref(vmi);
            return r < 0 ? r : 0;
        }
    }
    want = orch_vm_wants_run(vm, vmi);
    if (vmi) {
        const char *ph = api_doc_get_string(vmi, "status.phase");
        const char *vuid = api_doc_get_string(vmi, "metadata.uid");
        const char *rs = orch_vm_run_strategy(vm);
        const json_t *sync = cond_find(
            json_object_get(json_object_get(vmi, "status"), "conditions"),
            "Synchronized");
        bool start_failed = sync && streq(str_at(sync, "status"), "False");

        stopping = !want || stop_requested(vm, vuid);
        /* A start that failed is not retried by itself (the host said
         * why); a changed template is another try. */
        if (!stopping && want && phase_final(ph) && start_failed &&
            !json_equal(
                json_object_get(vmi, "spec"),
                json_object_get(
                    json_object_get(json_object_get(vm, "spec"), "template"),
                    "spec")))
            stopping = true;
        if (!stopping && phase_final(ph) && !start_failed &&
            (streq(rs, "Always") ||
             (streq(rs, "RerunOnFailure") && streq(ph, "Failed")))) {
            /* Ended by itself: run it again, after a breath. */
            if (!e->final_ms)
                e->final_ms = p->now_ms;
            if (p->now_ms - e->final_ms >= ORCH_VMS_RESTART_DELAY_S * 1000)
                stopping = true;
        }
        if (stopping) {
            r = teardown(p, e, vmi);
            if (r < 0)
                goto out;
            if (r == 1) {
                json_decref(vmi);
                vmi = NULL;
                p->c->again = true; /* a restart creates the next one */
            }
        } else {
            r = vmi_progress(p, e, vmi);
            if (r < 0)
                goto out;
        }
    } else if (want) {
        r = vmi_create(p, vm);
        if (r < 0)
            goto out;
        if (r == 1 &&
            store_get(p->c->srv->store, STORE_KIND_VMI, ns, name, &vmi) == 0) {
            const char *vuid = api_doc_get_string(vmi, "metadata.uid");
            if (!vuid || !(e = ent_get(p->c, vuid))) {
                r = -ENOMEM;
                goto out;
            }
            ent_mark(e, ns, name);
            r = vmi_progress(p, e, vmi);
            if (r < 0)
                goto out;
            json_decref(vmi);
            vmi = NULL;
            store_get(p->c->srv->store, STORE_KIND_VMI, ns, name, &vmi);
        }
    }
    r = vm_status_write(p, vm, vmi, want, stopping && vmi, vmi ? e : NULL);
out:
    json_decref(vmi);
    return r;
}

/* VMIs whose VM is gone. */
static int step_orphans(struct pass *p)
{
    struct orch_vms *c = p->c;
    int err = 0;

    for (struct orphan **pp = &c->orphans, *o; (o = *pp);) {
        json_t *vmi = NULL, *vm = NULL;
        struct vment *e;
        int r = store_get(c->srv->store, STORE_KIND_VMI, o->ns, o->name, &vmi);
        bool done = r == -ENOENT;

        if (r == 0 && !streq(vmi_owner(vmi), o->owner_uid))
            done = true; /* another VM's now */
        if (r == 0 && !done &&
            store_get(c->srv->store, STORE_KIND_VM, o->ns, o->name, &vm) == 0 &&
            streq(api_doc_get_string(vm, "metadata.uid"), o->owner_uid))
            done = true; /* the VM is back (a replayed event) */
        if (r == 0 && !done) {
            const char *vuid = api_doc_get_string(vmi, "metadata.uid");
            e = vuid ? ent_get(c, vuid) : NULL;
            if (!e) {
                r = -ENOMEM;
            } else {
                ent_mark(e, o->ns, o->name);
                r = teardown(p, e, vmi);
                done = r == 1;
            }
        }
        json_decref(vm);
        json_decref(vmi);
        if (r < 0 && r != -ENOENT && !err)
            err = r;
        if (done) {
            *pp = o->next;
            free(o);
        } else {
            pp = &o->next;
        }
    }
    return err;
}

static void orphan_add(struct orch_vms *c, const char *ns, const char *name,
                       const char *owner)
{
    struct orphan *o;

    if (!ns || !name || !owner)
        return;
    for (o = c->orphans; o; o = o->next)
        if (streq(o->ns, ns) && streq(o->name, name) &&
            streq(o->owner_uid, owner))
            return;
    o = calloc(1, sizeof(*o));
    if (!o)
        return; /* the start-up scan of the next run finds it */
    snprintf(o->ns, sizeof(o->ns), "%s", ns);
    snprintf(o->name, sizeof(o->name), "%s", name);
    snprintf(o->owner_uid, sizeof(o->owner_uid), "%s", owner);
    o->next = c->orphans;
    c->orphans = o;
}

/* Start-up: VMIs owned by a VM that is no longer there. */
static int scan_orphans(struct orch_vms *c)
{
    struct store_list_opts o = {0};
    struct store_page page = {0};
    const json_t *v;
    size_t i;
    int r = store_list(c->srv->store, STORE_KIND_VMI, NULL, &o, &page);

    if (r < 0)
        return r;
    json_array_foreach(page.items, i, v)
    {
        const char *owner = vmi_owner(v);
        const char *ns = api_doc_get_string(v, "metadata.namespace");
        const char *name = api_doc_get_string(v, "metadata.name");
        json_t *vm = NULL;
        if (!owner)
            continue;
        if (store_get(c->srv->store, STORE_KIND_VM, ns, name, &vm) < 0 ||
            !streq(api_doc_get_string(vm, "metadata.uid"), owner))
            orphan_add(c, ns, name, owner);
        json_decref(vm);
    }
    store_page_release(&page);
    return 0;
}

static void timer_arm(struct orch_vms *c, int64_t now)
{
    int64_t next = now + 1000, d;
    struct timeval tv;

    if (!c->timer)
        return;
    for (struct vment *e = c->ents; e; e = e->next)
        for (int i = 0; i < JOB_COUNT; i++) {
            const struct orch_agent_job *j = &e->jobs[i];
            if ((j->exists || j->absent) && !j->busy &&
                !orch_agent_job_final(j) && j->next_ms < next)
                next = j->next_ms;
        }
    d = next - now;
    if (d < 0)
        d = 0;
    tv.tv_sec = (time_t)(d / 1000);
    tv.tv_usec = (suseconds_t)(d % 1000) * 1000;
    evtimer_add(c->timer, &tv);
}

/* Whether E has work that a pass must look at without a change of its
 * records: a job in flight, a restart waiting for its delay, a started
 * domain waiting for its first report. */
static bool ent_needs_pass(const struct vment *e, int64_t now)
{
    if (e->fresh)
        return true;
    for (int i = 0; i < JOB_COUNT; i++) {
        const struct orch_agent_job *j = &e->jobs[i];
        if (j->busy || ((j->exists || j->absent) && !orch_agent_job_final(j)))
            return true;
    }
    return e->final_ms ||
           (e->start_ok_ms &&
            now - e->start_ok_ms <= (ORCH_VMS_START_REPORT_S + 2) * 1000);
}

/* Step the VM KEY ("NS/NAME") if it exists. */
static int step_key(struct pass *p, const char *key)
{
    char ns[64];
    const char *slash = strchr(key, '/');
    json_t *vm = NULL;
    int r;

    if (!slash || (size_t)(slash - key) >= sizeof(ns))
        return 0;
    memcpy(ns, key, (size_t)(slash - key));
    ns[slash - key] = '\0';
    r = store_get(p->c->srv->store, STORE_KIND_VM, ns, slash + 1, &vm);
    if (r == -ENOENT)
        return 0;
    if (r < 0)
        return r;
    r = step_vm(p, vm);
    json_decref(vm);
    return r;
}

int orch_vms_run(struct orch_vms *c)
{
    struct pass p = {.c = c};
    struct store_list_opts o = {0};
    struct store_page page = {0};
    json_t *dirty = NULL;
    const json_t *vm;
    const char *key;
    json_t *v;
    size_t i;
    bool full;
    int r, err = 0;

    if (c->running) {
        c->again = true;
        return 0;
    }
    c->running = true;
    c->again = false;
    p.now_ms = c->clock_ms();
    api_time_now(p.now);
    full = c->full || p.now_ms - c->last_full_ms >= ORCH_VMS_RESYNC_S * 1000;
    /* Changes that come during this pass are for the next one. */
    dirty = c->dirty;
    c->dirty = json_object();
    c->full = false;
    if (full) {
        for (struct vment *e = c->ents; e; e = e->next)
            e->seen = false;
        r = store_list(c->srv->store, STORE_KIND_VM, NULL, &o, &page);
        if (r < 0) {
            err = r;
            c->full = true;
            goto out;
        }
        c->last_full_ms = p.now_ms;
        json_array_foreach(page.items, i, vm)
        {
            r = step_vm(&p, vm);
            /* One VM's trouble does not hold the others. */
            if (r < 0 && !err)
                err = r;
        }
    } else {
        /* The entries to revisit are collected first: a step may drop
         * entries. */
        for (struct vment *e = c->ents; e; e = e->next)
            if (e->key[0] && ent_needs_pass(e, p.now_ms))
                json_object_set_new(dirty, e->key, json_true());
        json_object_foreach(dirty, key, v)
        {
            r = step_key(&p, key);
            if (r < 0 && !err)
                err = r;
        }
    }
    r = step_orphans(&p);
    if (r < 0 && !err)
        err = r;
    if (full)
        for (struct vment *e = c->ents, *next; e; e = next) {
            next = e->next;
            if (!e->seen)
                ent_drop(c, e);
        }
out:
    json_decref(dirty);
    store_page_release(&page);
    json_decref(p.nodes);
    c->running = false;
    timer_arm(c, p.now_ms);
    if (c->again && c->kick)
        event_active(c->kick, EV_TIMEOUT, 0);
    return err < 0 ? err : p.written;
}

static void pass_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    orch_vms_run(arg);
}

static void on_change(const char *type, const json_t *obj, void *arg)
{
    struct orch_vms *c = arg;
    const char *kind = str_at(obj, "kind");

    if (streq(type, "DELETED") && streq(kind, "VirtualMachine"))
        orphan_add(c, api_doc_get_string(obj, "metadata.namespace"),
                   api_doc_get_string(obj, "metadata.name"),
                   api_doc_get_string(obj, "metadata.uid"));
    if (streq(type, "ERROR"))
        scan_orphans(c);
    if (streq(type, "ERROR") || streq(kind, "Node")) {
        /* Placement and dead hosts concern every VM. */
        c->full = true;
    } else if (streq(kind, "VirtualMachine") ||
               streq(kind, "VirtualMachineInstance")) {
        /* A VM's VMI has its name. */
        const char *ns = api_doc_get_string(obj, "metadata.namespace");
        const char *name = api_doc_get_string(obj, "metadata.name");
        char key[320];
        if (!ns || !name)
            return;
        snprintf(key, sizeof(key), "%s/%s", ns, name);
        if (json_object_set_new(c->dirty, key, json_true()) < 0)
            c->full = true;
    } else {
        return;
    }
    kick(c);
}

int orch_vms_start(struct orch_server *srv, const struct orch_vms_opts *o)
{
    struct orch_agent agent = o->agent;
    struct orch_vms *c;
    int r;

    if (srv->vms) {
        orch_agent_release(&agent);
        return -EBUSY;
    }
    c = calloc(1, sizeof(*c));
    if (!c) {
        orch_agent_release(&agent);
        return -ENOMEM;
    }
    c->srv = srv;
    c->agent = agent;
    c->clock_ms = o->clock_ms ? o->clock_ms : real_clock_ms;
    c->full = true;
    srv->vms = c;
    c->dirty = json_object();
    if (!c->dirty) {
        r = -ENOMEM;
        goto fail;
    }
    if (srv->base) {
        c->kick = event_new(srv->base, -1, 0, pass_cb, c);
        c->timer = evtimer_new(srv->base, pass_cb, c);
        if (!c->kick || !c->timer) {
            r = -ENOMEM;
            goto fail;
        }
    }
    r = orch_feed_subscribe(srv, API_KIND_NONE, on_change, c, &c->sub);
    if (r < 0)
        goto fail;
    r = scan_orphans(c);
    if (r < 0)
        goto fail;
    kick(c);
    return 0;
fail:
    orch_vms_stop(c);
    return r;
}

void orch_vms_stop(struct orch_vms *c)
{
    if (!c)
        return;
    orch_feed_unsubscribe(c->srv, c->sub);
    if (c->kick)
        event_free(c->kick);
    if (c->timer)
        event_free(c->timer);
    orch_agent_release(&c->agent);
    for (struct vment *e = c->ents, *next; e; e = next) {
        next = e->next;
        ent_free(e);
    }
    for (struct vment *e = c->dead, *next; e; e = next) {
        next = e->next;
        ent_free(e);
    }
    for (struct orphan *o = c->orphans, *next; o; o = next) {
        next = o->next;
        free(o);
    }
    json_decref(c->dirty);
    if (c->srv->vms == c)
        c->srv->vms = NULL;
    free(c);
}
