/*
 * The libvirt seam.  See virt.h.
 */
#include "migrator/virt.h"

#include "migrator/domxml.h"

#include <errno.h>
#include <pthread.h>
#include <stddef.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>
#include <libxml/parser.h>
#include <libxml/tree.h>

/* What libvirt's event thread reads when a lifecycle event comes.  Once
 * registered it belongs to libvirt, which frees it (lifecycle_ctx_free)
 * after the callback is deregistered and no dispatch is in it any more; the
 * connection only sets `closed`, under `lock`, which the callback holds
 * while it calls fn. */
struct lifecycle_ctx {
    pthread_mutex_t lock;
    bool closed;
    migr_virt_lifecycle_fn fn;
    void *arg;
};

struct migr_virt {
    virConnectPtr conn;
    int lifecycle_id;                /* -1: no callback registered */
    struct lifecycle_ctx *lifecycle; /* borrowed from libvirt, see above */
};

/* libvirt's last error (this thread's) as a negative errno, its message
 * into err. */
static int virt_error(const char *what, char *err, size_t errlen)
{
    virErrorPtr e = virGetLastError();
    int code = e ? e->code : VIR_ERR_INTERNAL_ERROR;
    int r;

    switch (code) {
    case VIR_ERR_NO_DOMAIN:
        r = -ENOENT;
        break;
    case VIR_ERR_XML_ERROR:
    case VIR_ERR_XML_DETAIL:
    case VIR_ERR_CONFIG_UNSUPPORTED:
    case VIR_ERR_OPERATION_INVALID:
    case VIR_ERR_INVALID_ARG:
        r = -EINVAL;
        break;
    case VIR_ERR_NO_SUPPORT:
    case VIR_ERR_OPERATION_UNSUPPORTED:
    case VIR_ERR_ARGUMENT_UNSUPPORTED:
        r = -EOPNOTSUPP;
        break;
    case VIR_ERR_AUTH_FAILED:
    case VIR_ERR_AUTH_CANCELLED:
    case VIR_ERR_OPERATION_DENIED:
    case VIR_ERR_ACCESS_DENIED:
        r = -EACCES;
        break;
    case VIR_ERR_OPERATION_TIMEOUT:
    case VIR_ERR_AGENT_UNRESPONSIVE:
        r = -ETIMEDOUT;
        break;
    case VIR_ERR_OPERATION_ABORTED:
        r = -ECANCELED;
        break;
    case VIR_ERR_NO_CONNECT:
        r = -ECONNREFUSED;
        break;
    default:
        r = -EIO;
    }
    if (err && errlen)
        snprintf(err, errlen, "%s: %s", what,
                 e && e->message ? e->message : "unknown libvirt error");
    virResetLastError();
    return r;
}

static void set_err(char *err, size_t errlen, const char *msg)
{
    if (err && errlen)
        snprintf(err, errlen, "%s", msg);
}

/* libvirt prints every error to stderr unless told otherwise; the agent
 * reports them itself. */
static void virt_quiet(void *data, virErrorPtr e)
{
    (void)data;
    (void)e;
}

int migr_virt_open(const char *uri, struct migr_virt **ret, char *err,
                   size_t errlen)
{
    struct migr_virt *v;

    if (!uri || !ret) {
        set_err(err, errlen, "no libvirt URI");
        return -EINVAL;
    }
    virSetErrorFunc(NULL, virt_quiet);
    v = calloc(1, sizeof(*v));
    if (!v) {
        set_err(err, errlen, "out of memory");
        return -ENOMEM;
    }
    v->lifecycle_id = -1;
    v->conn = virConnectOpen(uri);
    if (!v->conn) {
        char what[300];
        int r;

        snprintf(what, sizeof(what), "cannot connect to '%s'", uri);
        r = virt_error(what, err, errlen);
        free(v);
        /* Any failure to open is "no connection" to the caller. */
        return r == -EACCES ? r : -ECONNREFUSED;
    }
    *ret = v;
    return 0;
}

void migr_virt_close(struct migr_virt *v)
{
    if (!v)
        return;
    if (v->lifecycle_id >= 0) {
        /* Waits for a callback in progress, so that fn's argument may go
         * as soon as this returns; and no later event calls fn, even one
         * libvirt dispatches before the deregistration takes effect. */
        pthread_mutex_lock(&v->lifecycle->lock);
        v->lifecycle->closed = true;
        pthread_mutex_unlock(&v->lifecycle->lock);
        /* A registered callback holds a reference on the connection.  The
         * context is libvirt's to free from here on, maybe at once. */
        if (virConnectDomainEventDeregisterAny(v->conn, v->lifecycle_id) < 0)
            virResetLastError();
        v->lifecycle = NULL;
    }
    if (v->conn)
        virConnectClose(v->conn);
    free(v);
}

/* ---------------------------------------------------------------------- */
/* XML                                                                     */

/* libxml2 wants its parser set up once before threads parse. */
static pthread_once_t xml_once = PTHREAD_ONCE_INIT;

static void xml_init(void)
{
    xmlInitParser();
}

/* Parse XML text; NULL when it is not well-formed.  Nothing is printed and
 * nothing is fetched from the network. */
static xmlDocPtr xml_read(const char *text)
{
    pthread_once(&xml_once, xml_init);
    return xmlReadMemory(text, (int)strlen(text), "libvirt.xml", NULL,
                         XML_PARSE_NONET | XML_PARSE_NOERROR |
                             XML_PARSE_NOWARNING);
}

static bool xml_is(const xmlNode *n, const char *name)
{
    return n && n->type == XML_ELEMENT_NODE &&
           strcmp((const char *)n->name, name) == 0;
}

/* The first child element of `n` called `name`, or NULL. */
static xmlNode *xml_child(const xmlNode *n, const char *name)
{
    for (xmlNode *c = n ? n->children : NULL; c; c = c->next)
        if (xml_is(c, name))
            return c;
    return NULL;
}

/* Copy attribute `attr` of `n` (or "" when absent) into buf. */
static void xml_attr(const xmlNode *n, const char *attr, char *buf, size_t len)
{
    xmlChar *v = n ? xmlGetProp(n, (const xmlChar *)attr) : NULL;

    snprintf(buf, len, "%s", v ? (const char *)v : "");
    xmlFree(v);
}

/* Copy the text of child element `name` of `n` (or "") into buf. */
static void xml_text(const xmlNode *n, const char *name, char *buf, size_t len)
{
    xmlNode *c = xml_child(n, name);
    xmlChar *v = c ? xmlNodeGetContent(c) : NULL;

    snprintf(buf, len, "%s", v ? (const char *)v : "");
    xmlFree(v);
}

/* ---------------------------------------------------------------------- */
/* The host                                                                */

/* The host UUID, CPU model and architecture from the capabilities'
 * <host> element; what a driver leaves out stays "". */
static void host_caps(const char *caps, struct migr_host_info *h)
{
    xmlDocPtr doc = xml_read(caps);
    xmlNode *host = doc ? xml_child(xmlDocGetRootElement(doc), "host") : NULL;
    xmlNode *cpu = xml_child(host, "cpu");
    char uuid[64];

    xml_text(host, "uuid", uuid, sizeof(uuid));
    if (strlen(uuid) == 36)
        snprintf(h->host_uuid, sizeof(h->host_uuid), "%s", uuid);
    xml_text(cpu, "model", h->cpu_model, sizeof(h->cpu_model));
    xml_text(cpu, "arch", h->arch, sizeof(h->arch));
    xmlFreeDoc(doc);
}

static void version_text(unsigned long v, char *buf, size_t len)
{
    snprintf(buf, len, "%lu.%lu.%lu", v / 1000000, v / 1000 % 1000, v % 1000);
}

int migr_virt_host(struct migr_virt *v, struct migr_host_info *ret, char *err,
                   size_t errlen)
{
    struct migr_host_info h = {0};
    virNodeInfo node;
    unsigned long ver = 0, hv_ver = 0;
    char *uri = NULL, *caps = NULL;

    if (!v || !ret)
        return -EINVAL;
    if (virNodeGetInfo(v->conn, &node) < 0)
        return virt_error("cannot read the node info", err, errlen);
    if (virConnectGetLibVersion(v->conn, &ver) < 0)
        return virt_error("cannot read the libvirt version", err, errlen);
    /* Not every driver knows its hypervisor's version: "" then. */
    if (virConnectGetVersion(v->conn, &hv_ver) < 0)
        virResetLastError();
    else
        version_text(hv_ver, h.hypervisor_version,
                     sizeof(h.hypervisor_version));
    uri = virConnectGetURI(v->conn);
    if (!uri)
        return virt_error("cannot read the connection URI", err, errlen);
    snprintf(h.uri, sizeof(h.uri), "%s", uri);
    free(uri);
    version_text(ver, h.version, sizeof(h.version));
    h.cpus = node.cpus;
    h.memory_kib = node.memory;
    caps = virConnectGetCapabilities(v->conn);
    if (!caps)
        return virt_error("cannot read the capabilities", err, errlen);
    host_caps(caps, &h);
    free(caps);
    *ret = h;
    return 0;
}

/* libvirt's event loop on a thread of its own. */
static pthread_t events_thread;
static bool events_registered, events_running;
static atomic_bool events_quit;

static void *events_main(void *arg)
{
    (void)arg;
    while (!atomic_load(&events_quit))
        if (virEventRunDefaultImpl() < 0)
            break;
    return NULL;
}

/* A one-shot timer whose only job is to make virEventRunDefaultImpl()
 * return, so the thread sees events_quit. */
static void events_wake(int timer, void *opaque)
{
    (void)opaque;
    virEventRemoveTimeout(timer);
}

int migr_virt_events_start(void)
{
    int r;

    if (events_running)
        return 0;
    virSetErrorFunc(NULL, virt_quiet);
    if (!events_registered) {
        if (virEventRegisterDefaultImpl() < 0) {
            virResetLastError();
            return -EIO;
        }
        events_registered = true;
    }
    atomic_store(&events_quit, false);
    r = pthread_create(&events_thread, NULL, events_main, NULL);
    if (r != 0)
        return -r;
    events_running = true;
    return 0;
}

void migr_virt_events_stop(void)
{
    if (!events_running)
        return;
    atomic_store(&events_quit, true);
    if (virEventAddTimeout(0, events_wake, NULL, NULL) < 0)
        virResetLastError();
    pthread_join(events_thread, NULL);
    events_running = false;
}

static int lifecycle_cb(virConnectPtr conn, virDomainPtr dom, int event,
                        int detail, void *opaque)
{
    struct lifecycle_ctx *ctx = opaque;
    const char *name = virDomainGetName(dom);
    (void)conn;
    (void)event;
    (void)detail;

    pthread_mutex_lock(&ctx->lock);
    if (name && !ctx->closed)
        ctx->fn(name, ctx->arg);
    pthread_mutex_unlock(&ctx->lock);
    return 0;
}

/* libvirt's free callback for the context: called once the callback is
 * deregistered and no dispatch runs it (or when the connection's event
 * state goes). */
static void lifecycle_ctx_free(void *opaque)
{
    struct lifecycle_ctx *ctx = opaque;

    pthread_mutex_destroy(&ctx->lock);
    free(ctx);
}

int migr_virt_on_lifecycle(struct migr_virt *v, migr_virt_lifecycle_fn fn,
                           void *arg, char *err, size_t errlen)
{
    struct lifecycle_ctx *ctx;
    int id;

    if (!v || !fn)
        return -EINVAL;
    if (v->lifecycle_id >= 0) {
        set_err(err, errlen, "a lifecycle callback is registered already");
        return -EBUSY;
    }
    ctx = calloc(1, sizeof(*ctx));
    if (!ctx) {
        set_err(err, errlen, "out of memory");
        return -ENOMEM;
    }
    pthread_mutex_init(&ctx->lock, NULL);
    ctx->fn = fn;
    ctx->arg = arg;
    id = virConnectDomainEventRegisterAny(
        v->conn, NULL, VIR_DOMAIN_EVENT_ID_LIFECYCLE,
        VIR_DOMAIN_EVENT_CALLBACK(lifecycle_cb), ctx, lifecycle_ctx_free);
    if (id < 0) {
        /* A failed registration leaves the context with us. */
        lifecycle_ctx_free(ctx);
        return virt_error("cannot register for domain events", err, errlen);
    }
    v->lifecycle_id = id;
    v->lifecycle = ctx;
    return 0;
}

const char *migr_dom_state_name(enum migr_dom_state s)
{
    static const char *const names[] = {
        [MIGR_DOM_NOSTATE] = "no state",
        [MIGR_DOM_RUNNING] = "running",
        [MIGR_DOM_BLOCKED] = "idle",
        [MIGR_DOM_PAUSED] = "paused",
        [MIGR_DOM_SHUTDOWN] = "in shutdown",
        [MIGR_DOM_SHUTOFF] = "shut off",
        [MIGR_DOM_CRASHED] = "crashed",
        [MIGR_DOM_PMSUSPENDED] = "pmsuspended",
    };
    if ((unsigned)s >= sizeof(names) / sizeof(names[0]))
        return "unknown";
    return names[s];
}

static enum migr_dom_state state_from(int st)
{
    switch (st) {
    case VIR_DOMAIN_RUNNING:
        return MIGR_DOM_RUNNING;
    case VIR_DOMAIN_BLOCKED:
        return MIGR_DOM_BLOCKED;
    case VIR_DOMAIN_PAUSED:
        return MIGR_DOM_PAUSED;
    case VIR_DOMAIN_SHUTDOWN:
        return MIGR_DOM_SHUTDOWN;
    case VIR_DOMAIN_SHUTOFF:
        return MIGR_DOM_SHUTOFF;
    case VIR_DOMAIN_CRASHED:
        return MIGR_DOM_CRASHED;
    case VIR_DOMAIN_PMSUSPENDED:
        return MIGR_DOM_PMSUSPENDED;
    default:
        return MIGR_DOM_NOSTATE;
    }
}

/* virsh's words for a state's reasons (virsh-domain-monitor.c), so that
 * what orchestratord and an operator read is what `virsh domstate
 * --reason` prints. */
static const char *const running_reasons[] = {
    [VIR_DOMAIN_RUNNING_UNKNOWN] = "unknown",
    [VIR_DOMAIN_RUNNING_BOOTED] = "booted",
    [VIR_DOMAIN_RUNNING_MIGRATED] = "migrated",
    [VIR_DOMAIN_RUNNING_RESTORED] = "restored",
    [VIR_DOMAIN_RUNNING_FROM_SNAPSHOT] = "from snapshot",
    [VIR_DOMAIN_RUNNING_UNPAUSED] = "unpaused",
    [VIR_DOMAIN_RUNNING_MIGRATION_CANCELED] = "migration canceled",
    [VIR_DOMAIN_RUNNING_SAVE_CANCELED] = "save canceled",
    [VIR_DOMAIN_RUNNING_WAKEUP] = "event wakeup",
    [VIR_DOMAIN_RUNNING_CRASHED] = "crashed",
    [VIR_DOMAIN_RUNNING_POSTCOPY] = "post-copy",
    [VIR_DOMAIN_RUNNING_POSTCOPY_FAILED] = "post-copy failed",
};

static const char *const paused_reasons[] = {
    [VIR_DOMAIN_PAUSED_UNKNOWN] = "unknown",
    [VIR_DOMAIN_PAUSED_USER] = "user",
    [VIR_DOMAIN_PAUSED_MIGRATION] = "migrating",
    [VIR_DOMAIN_PAUSED_SAVE] = "saving",
    [VIR_DOMAIN_PAUSED_DUMP] = "dumping",
    [VIR_DOMAIN_PAUSED_IOERROR] = "I/O error",
    [VIR_DOMAIN_PAUSED_WATCHDOG] = "watchdog",
    [VIR_DOMAIN_PAUSED_FROM_SNAPSHOT] = "from snapshot",
    [VIR_DOMAIN_PAUSED_SHUTTING_DOWN] = "shutting down",
    [VIR_DOMAIN_PAUSED_SNAPSHOT] = "creating snapshot",
    [VIR_DOMAIN_PAUSED_CRASHED] = "crashed",
    [VIR_DOMAIN_PAUSED_STARTING_UP] = "starting up",
    [VIR_DOMAIN_PAUSED_POSTCOPY] = "post-copy",
    [VIR_DOMAIN_PAUSED_POSTCOPY_FAILED] = "post-copy failed",
};

static const char *const shutdown_reasons[] = {
    [VIR_DOMAIN_SHUTDOWN_UNKNOWN] = "unknown",
    [VIR_DOMAIN_SHUTDOWN_USER] = "user",
};

static const char *const shutoff_reasons[] = {
    [VIR_DOMAIN_SHUTOFF_UNKNOWN] = "unknown",
    [VIR_DOMAIN_SHUTOFF_SHUTDOWN] = "shutdown",
    [VIR_DOMAIN_SHUTOFF_DESTROYED] = "destroyed",
    [VIR_DOMAIN_SHUTOFF_CRASHED] = "crashed",
    [VIR_DOMAIN_SHUTOFF_MIGRATED] = "migrated",
    [VIR_DOMAIN_SHUTOFF_SAVED] = "saved",
    [VIR_DOMAIN_SHUTOFF_FAILED] = "failed",
    [VIR_DOMAIN_SHUTOFF_FROM_SNAPSHOT] = "from snapshot",
    [VIR_DOMAIN_SHUTOFF_DAEMON] = "daemon",
};

static const char *const crashed_reasons[] = {
    [VIR_DOMAIN_CRASHED_UNKNOWN] = "unknown",
    [VIR_DOMAIN_CRASHED_PANICKED] = "panicked",
};

#define REASON(table, r)                                                       \
    ((unsigned)(r) < sizeof(table) / sizeof(*(table)) && (table)[r]            \
         ? (table)[r]                                                          \
         : "unknown")

/* A reason libvirt adds later than this table reads "unknown", as virsh
 * built against an older library says it. */
static const char *reason_name(int state, int reason)
{
    switch (state) {
    case VIR_DOMAIN_RUNNING:
        return REASON(running_reasons, reason);
    case VIR_DOMAIN_PAUSED:
        return REASON(paused_reasons, reason);
    case VIR_DOMAIN_SHUTDOWN:
        return REASON(shutdown_reasons, reason);
    case VIR_DOMAIN_SHUTOFF:
        return REASON(shutoff_reasons, reason);
    case VIR_DOMAIN_CRASHED:
        return REASON(crashed_reasons, reason);
    default:
        return "unknown";
    }
}

/* Whether a migration job runs on the active domain `d` here.  A driver
 * without job statistics (the test driver) has none to report. */
static bool dom_migrating(virDomainPtr d, int state, int reason)
{
    virTypedParameterPtr params = NULL;
    int type = VIR_DOMAIN_JOB_NONE, n = 0, op = 0;
    bool migrating;

    if ((state == VIR_DOMAIN_PAUSED &&
         (reason == VIR_DOMAIN_PAUSED_MIGRATION ||
          reason == VIR_DOMAIN_PAUSED_POSTCOPY)) ||
        (state == VIR_DOMAIN_RUNNING && reason == VIR_DOMAIN_RUNNING_POSTCOPY))
        return true;
    if (virDomainGetJobStats(d, &type, &params, &n, 0) < 0) {
        virResetLastError();
        return false;
    }
    migrating = type != VIR_DOMAIN_JOB_NONE;
    /* Other jobs (save, dump, backup) name their operation. */
    if (migrating &&
        virTypedParamsGetInt(params, n, VIR_DOMAIN_JOB_OPERATION, &op) == 1)
        migrating = op == VIR_DOMAIN_JOB_OPERATION_MIGRATION_IN ||
                    op == VIR_DOMAIN_JOB_OPERATION_MIGRATION_OUT;
    virTypedParamsFree(params, n);
    return migrating;
}

static int dom_fill(virDomainPtr d, struct migr_dom_info *info, char *err,
                    size_t errlen)
{
    const char *name = virDomainGetName(d);
    virDomainInfo di;
    unsigned id;
    int st = 0, reason = 0, p, active;

    memset(info, 0, sizeof(*info));
    if (!name || virDomainGetUUIDString(d, info->uuid) < 0 ||
        virDomainGetState(d, &st, &reason, 0) < 0 ||
        (p = virDomainIsPersistent(d)) < 0 ||
        (active = virDomainIsActive(d)) < 0 || virDomainGetInfo(d, &di) < 0)
        return virt_error("cannot read the domain", err, errlen);
    info->memory_kib = di.maxMem;
    info->vcpus = di.nrVirtCpu;
    snprintf(info->name, sizeof(info->name), "%s", name);
    info->state = state_from(st);
    info->state_reason = reason_name(st, reason);
    info->persistent = p == 1;
    id = active == 1 ? virDomainGetID(d) : (unsigned)-1;
    info->id = id == (unsigned)-1 ? -1 : (int)id;
    info->migrating = active == 1 && dom_migrating(d, st, reason);
    return 0;
}

static int info_cmp(const void *a, const void *b)
{
    const struct migr_dom_info *x = a, *y = b;
    return strcmp(x->name, y->name);
}

int migr_virt_list(struct migr_virt *v, struct migr_dom_info **ret, char *err,
                   size_t errlen)
{
    virDomainPtr *doms = NULL;
    struct migr_dom_info *out = NULL;
    int n, got = 0, r = 0;

    if (!v || !ret)
        return -EINVAL;
    n = virConnectListAllDomains(v->conn, &doms, 0);
    if (n < 0)
        return virt_error("cannot list domains", err, errlen);
    if (n > 0) {
        out = calloc((size_t)n, sizeof(*out));
        if (!out) {
            set_err(err, errlen, "out of memory");
            r = -ENOMEM;
        }
    }
    for (int i = 0; i < n; i++) {
        if (r == 0) {
            r = dom_fill(doms[i], &out[got], err, errlen);
            /* A domain that went away since the listing (migrated off,
             * undefined) is simply not there any more. */
            if (r == -ENOENT)
                r = 0;
            else if (r == 0)
                got++;
        }
        virDomainFree(doms[i]);
    }
    free(doms);
    if (r < 0 || got == 0) {
        free(out);
        out = NULL;
    }
    if (r < 0)
        return r;
    if (got > 1)
        qsort(out, (size_t)got, sizeof(*out), info_cmp);
    *ret = out;
    return got;
}

/* Look a domain up by name. */
static int dom_get(struct migr_virt *v, const char *name, virDomainPtr *ret,
                   char *err, size_t errlen)
{
    char what[300];

    if (!v || !name) {
        set_err(err, errlen, "no domain name");
        return -EINVAL;
    }
    *ret = virDomainLookupByName(v->conn, name);
    if (*ret)
        return 0;
    snprintf(what, sizeof(what), "domain '%.255s'", name);
    return virt_error(what, err, errlen);
}

int migr_virt_info(struct migr_virt *v, const char *name,
                   struct migr_dom_info *ret, char *err, size_t errlen)
{
    virDomainPtr d;
    struct migr_dom_info info;
    int r = dom_get(v, name, &d, err, errlen);

    if (r < 0)
        return r;
    r = dom_fill(d, &info, err, errlen);
    virDomainFree(d);
    if (r == 0 && ret)
        *ret = info;
    return r;
}

int migr_virt_define(struct migr_virt *v, const char *xml, char **ret_name,
                     char *err, size_t errlen)
{
    virDomainPtr d;
    char *name = NULL;

    if (!v || !xml) {
        set_err(err, errlen, "no domain XML");
        return -EINVAL;
    }
    d = virDomainDefineXML(v->conn, xml);
    if (!d)
        return virt_error("cannot define the domain", err, errlen);
    if (ret_name) {
        name = strdup(virDomainGetName(d));
        if (!name) {
            virDomainFree(d);
            set_err(err, errlen, "out of memory");
            return -ENOMEM;
        }
        *ret_name = name;
    }
    virDomainFree(d);
    return 0;
}

/* Run one per-domain libvirt call. */
enum op { OP_START, OP_DESTROY, OP_UNDEFINE, OP_SHUTDOWN };

static int dom_op(struct migr_virt *v, const char *name, enum op op, char *err,
                  size_t errlen)
{
    static const char *const verb[] = {"start", "destroy", "undefine",
                                       "shut down"};
    virDomainPtr d;
    char msg[300];
    int r = dom_get(v, name, &d, err, errlen);

    if (r < 0)
        return r;
    switch (op) {
    case OP_START:
        r = virDomainCreate(d);
        break;
    case OP_DESTROY:
        r = virDomainDestroy(d);
        break;
    case OP_UNDEFINE:
        /* A managed save image and snapshot metadata go with the
         * definition (nvram is the guest's and stays). */
        r = virDomainUndefineFlags(d,
                                   VIR_DOMAIN_UNDEFINE_MANAGED_SAVE |
                                       VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA);
        break;
    case OP_SHUTDOWN:
        r = virDomainShutdownFlags(d, VIR_DOMAIN_SHUTDOWN_ACPI_POWER_BTN);
        break;
    }
    if (r < 0) {
        snprintf(msg, sizeof(msg), "cannot %s '%.255s'", verb[op], name);
        r = virt_error(msg, err, errlen);
    }
    virDomainFree(d);
    return r < 0 ? r : 0;
}

int migr_virt_start(struct migr_virt *v, const char *name, char *err,
                    size_t errlen)
{
    return dom_op(v, name, OP_START, err, errlen);
}

int migr_virt_destroy(struct migr_virt *v, const char *name, char *err,
                      size_t errlen)
{
    return dom_op(v, name, OP_DESTROY, err, errlen);
}

int migr_virt_undefine(struct migr_virt *v, const char *name, char *err,
                       size_t errlen)
{
    return dom_op(v, name, OP_UNDEFINE, err, errlen);
}

int migr_virt_shutdown(struct migr_virt *v, const char *name, char *err,
                       size_t errlen)
{
    return dom_op(v, name, OP_SHUTDOWN, err, errlen);
}

int migr_virt_network_ensure(struct migr_virt *v, const char *xml, char *err,
                             size_t errlen)
{
    xmlDocPtr doc = xml_read(xml);
    xmlNode *root = doc ? xmlDocGetRootElement(doc) : NULL;
    virNetworkPtr net = NULL;
    char name[256] = "";
    int active, r = 0;

    if (xml_is(root, "network"))
        xml_text(root, "name", name, sizeof(name));
    xmlFreeDoc(doc);
    if (!name[0]) {
        set_err(err, errlen, "not a <network> with a <name>");
        return -EINVAL;
    }
    net = virNetworkLookupByName(v->conn, name);
    if (!net) {
        net = virNetworkDefineXML(v->conn, xml);
        if (!net)
            return virt_error("cannot define the network", err, errlen);
        /* Best effort: an active network is what a start needs now. */
        (void)virNetworkSetAutostart(net, 1);
    }
    active = virNetworkIsActive(net);
    /* Two starts racing: the loser's create fails with the network up. */
    if (active == 0 && virNetworkCreate(net) < 0 &&
        virNetworkIsActive(net) != 1)
        r = virt_error("cannot start the network", err, errlen);
    else if (active < 0)
        r = virt_error("cannot read the network's state", err, errlen);
    virNetworkFree(net);
    return r;
}

int migr_virt_network_dhcp_host(struct migr_virt *v, const char *network,
                                const char *mac, const char *ip, bool add,
                                char *err, size_t errlen)
{
    const unsigned flags =
        VIR_NETWORK_UPDATE_AFFECT_LIVE | VIR_NETWORK_UPDATE_AFFECT_CONFIG;
    virNetworkPtr net = virNetworkLookupByName(v->conn, network);
    char host[128], bymac[64];
    int r = 0;

    if (!net) {
        if (err && errlen)
            snprintf(err, errlen, "no network '%s'", network);
        return -ENOENT;
    }
    snprintf(host, sizeof(host), "<host mac='%s' ip='%s'/>", mac, ip ? ip : "");
    snprintf(bymac, sizeof(bymac), "<host mac='%s'/>", mac);
    /* A reservation of this MAC is replaced (a restarted VM, a migration
     * back); one of this address for another MAC makes the add fail. */
    if (add && virNetworkUpdate(net, VIR_NETWORK_UPDATE_COMMAND_ADD_LAST,
                                VIR_NETWORK_SECTION_IP_DHCP_HOST, -1, host,
                                flags) == 0)
        goto out;
    if (virNetworkUpdate(net, VIR_NETWORK_UPDATE_COMMAND_DELETE,
                         VIR_NETWORK_SECTION_IP_DHCP_HOST, -1, bymac,
                         flags) < 0 &&
        !add)
        goto out; /* none to remove */
    if (add &&
        virNetworkUpdate(net, VIR_NETWORK_UPDATE_COMMAND_ADD_LAST,
                         VIR_NETWORK_SECTION_IP_DHCP_HOST, -1, host, flags) < 0)
        r = virt_error("cannot reserve the address", err, errlen);
out:
    virNetworkFree(net);
    return r;
}

int migr_virt_xml(struct migr_virt *v, const char *name, bool migratable,
                  char **ret_xml, char *err, size_t errlen)
{
    virDomainPtr d;
    char *xml;
    int r = dom_get(v, name, &d, err, errlen);

    if (r < 0)
        return r;
    xml = virDomainGetXMLDesc(d, migratable ? VIR_DOMAIN_XML_MIGRATABLE : 0);
    if (!xml)
        r = virt_error("cannot read the domain XML", err, errlen);
    else
        *ret_xml = xml;
    virDomainFree(d);
    return r;
}

/* The running domain and, when it has one, its persistent definition. */
static unsigned live_and_config(virDomainPtr d)
{
    return VIR_DOMAIN_AFFECT_LIVE |
           (virDomainIsPersistent(d) == 1 ? VIR_DOMAIN_AFFECT_CONFIG : 0);
}

int migr_virt_attach(struct migr_virt *v, const char *name,
                     const char *device_xml, char *err, size_t errlen)
{
    virDomainPtr d;
    int r;

    if (!device_xml) {
        set_err(err, errlen, "no device XML");
        return -EINVAL;
    }
    r = dom_get(v, name, &d, err, errlen);
    if (r < 0)
        return r;
    if (virDomainAttachDeviceFlags(d, device_xml, live_and_config(d)) < 0)
        r = virt_error("cannot attach the device", err, errlen);
    virDomainFree(d);
    return r;
}

int migr_virt_detach_alias(struct migr_virt *v, const char *name,
                           const char *alias, char *err, size_t errlen)
{
    virDomainPtr d;
    int r;

    if (!alias) {
        set_err(err, errlen, "no device alias");
        return -EINVAL;
    }
    r = dom_get(v, name, &d, err, errlen);
    if (r < 0)
        return r;
    if (virDomainDetachDeviceAlias(d, alias, live_and_config(d)) < 0)
        r = virt_error("cannot detach the device", err, errlen);
    virDomainFree(d);
    return r;
}

/* ---------------------------------------------------------------------- */
/* Devices                                                                 */

void migr_dom_devices_clear(struct migr_dom_devices *d)
{
    if (!d)
        return;
    free(d->ifaces);
    free(d->disks);
    memset(d, 0, sizeof(*d));
}

/* Count the child elements of `n` called `name`. */
static size_t xml_count(const xmlNode *n, const char *name)
{
    size_t k = 0;

    for (xmlNode *c = n ? n->children : NULL; c; c = c->next)
        k += xml_is(c, name);
    return k;
}

static void iface_parse(const xmlNode *n, struct migr_dom_iface *i)
{
    xmlNode *src = xml_child(n, "source");
    static const char *const attrs[] = {"bridge", "network", "dev", "path"};

    xml_attr(n, "type", i->type, sizeof(i->type));
    xml_attr(xml_child(n, "mac"), "address", i->mac, sizeof(i->mac));
    xml_attr(xml_child(n, "target"), "dev", i->name, sizeof(i->name));
    xml_attr(xml_child(n, "alias"), "name", i->alias, sizeof(i->alias));
    for (size_t k = 0; !i->source[0] && k < sizeof(attrs) / sizeof(*attrs); k++)
        xml_attr(src, attrs[k], i->source, sizeof(i->source));
    if (!i->source[0] && xml_child(src, "address")) {
        /* A hostdev interface's VF: its PCI address as sysfs names it. */
        xmlNode *a = xml_child(src, "address");
        char dom[16], bus[16], slot[16], fn[16];

        xml_attr(a, "domain", dom, sizeof(dom));
        xml_attr(a, "bus", bus, sizeof(bus));
        xml_attr(a, "slot", slot, sizeof(slot));
        xml_attr(a, "function", fn, sizeof(fn));
        snprintf(i->source, sizeof(i->source), "%04lx:%02lx:%02lx.%lx",
                 strtoul(dom, NULL, 16), strtoul(bus, NULL, 16),
                 strtoul(slot, NULL, 16), strtoul(fn, NULL, 16));
    }
}

/* <memory unit=U>N</memory> in KiB, with libvirt's scaled units; 0 when
 * absent or not understood. */
static uint64_t memory_parse(const xmlNode *n)
{
    static const struct {
        const char *unit;
        uint64_t bytes;
    } units[] = {
        {"b", 1},
        {"bytes", 1},
        {"KB", 1000},
        {"k", 1024},
        {"KiB", 1024},
        {"MB", 1000000},
        {"M", 1024 * 1024},
        {"MiB", 1024 * 1024},
        {"GB", 1000000000},
        {"G", UINT64_C(1) << 30},
        {"GiB", UINT64_C(1) << 30},
        {"TB", UINT64_C(1000000000000)},
        {"T", UINT64_C(1) << 40},
        {"TiB", UINT64_C(1) << 40},
    };
    char unit[16], text[32], *end;
    unsigned long long v;
    xmlChar *c;

    if (!n)
        return 0;
    xml_attr(n, "unit", unit, sizeof(unit));
    c = xmlNodeGetContent(n);
    snprintf(text, sizeof(text), "%s", c ? (const char *)c : "");
    xmlFree(c);
    errno = 0;
    v = strtoull(text, &end, 10);
    if (errno || end == text || *end)
        return 0;
    if (!unit[0])
        return v; /* KiB, libvirt's default */
    for (size_t i = 0; i < sizeof(units) / sizeof(*units); i++)
        if (strcmp(unit, units[i].unit) == 0)
            return v > UINT64_MAX / units[i].bytes
                       ? 0
                       : (v * units[i].bytes + 1023) / 1024;
    return 0;
}

static void disk_parse(const xmlNode *n, struct migr_dom_disk *d)
{
    xmlNode *src = xml_child(n, "source");
    char a[2048], b[2048];

    xml_attr(n, "type", d->type, sizeof(d->type));
    xml_attr(n, "device", d->device, sizeof(d->device));
    if (!d->device[0])
        snprintf(d->device, sizeof(d->device), "disk"); /* libvirt's default */
    xml_attr(xml_child(n, "target"), "dev", d->target, sizeof(d->target));
    d->readonly = xml_child(n, "readonly") != NULL;
    if (strcmp(d->type, "network") == 0) {
        xml_attr(src, "protocol", a, sizeof(a));
        xml_attr(src, "name", b, sizeof(b));
        if (a[0] || b[0])
            snprintf(d->source, sizeof(d->source), "%s:%s", a, b);
    } else if (strcmp(d->type, "volume") == 0) {
        xml_attr(src, "pool", a, sizeof(a));
        xml_attr(src, "volume", b, sizeof(b));
        if (a[0] || b[0])
            snprintf(d->source, sizeof(d->source), "%s/%s", a, b);
    } else {
        static const char *const attrs[] = {"file", "dev", "dir", "path"};

        for (size_t k = 0; !d->source[0] && k < sizeof(attrs) / sizeof(*attrs);
             k++)
            xml_attr(src, attrs[k], d->source, sizeof(d->source));
    }
}

/* <metadata><orch:vmi namespace name uid/>: the element is found by its
 * namespace URI, whatever prefix libvirt gave it. */
static void vmi_parse(const xmlNode *md, struct migr_dom_devices *d)
{
    for (xmlNode *c = md ? md->children : NULL; c; c = c->next) {
        if (!xml_is(c, "vmi") || !c->ns || !c->ns->href ||
            strcmp((const char *)c->ns->href, MIGR_VMI_XMLNS) != 0)
            continue;
        xml_attr(c, "namespace", d->vmi_namespace, sizeof(d->vmi_namespace));
        xml_attr(c, "name", d->vmi_name, sizeof(d->vmi_name));
        xml_attr(c, "uid", d->vmi_uid, sizeof(d->vmi_uid));
        if (!d->vmi_name[0] || !d->vmi_uid[0])
            d->vmi_namespace[0] = d->vmi_name[0] = d->vmi_uid[0] = '\0';
        return;
    }
}

int migr_dom_devices_parse(const char *xml, struct migr_dom_devices *ret)
{
    struct migr_dom_devices d = {0};
    xmlDocPtr doc = NULL;
    xmlNode *root, *devs;
    size_t ni, nd;

    if (!xml || !ret)
        return -EINVAL;
    migr_dom_devices_clear(ret);
    doc = xml_read(xml);
    root = doc ? xmlDocGetRootElement(doc) : NULL;
    if (!xml_is(root, "domain")) {
        xmlFreeDoc(doc);
        return -EINVAL;
    }
    d.acpi = xml_child(xml_child(root, "features"), "acpi") != NULL;
    d.memory_kib = memory_parse(xml_child(root, "memory"));
    vmi_parse(xml_child(root, "metadata"), &d);
    devs = xml_child(root, "devices");
    ni = xml_count(devs, "interface");
    nd = xml_count(devs, "disk");
    d.hostdevs = (unsigned)xml_count(devs, "hostdev");
    if ((ni && !(d.ifaces = calloc(ni, sizeof(*d.ifaces)))) ||
        (nd && !(d.disks = calloc(nd, sizeof(*d.disks))))) {
        migr_dom_devices_clear(&d);
        xmlFreeDoc(doc);
        return -ENOMEM;
    }
    for (xmlNode *c = devs ? devs->children : NULL; c; c = c->next) {
        if (xml_is(c, "interface"))
            iface_parse(c, &d.ifaces[d.n_ifaces++]);
        else if (xml_is(c, "disk"))
            disk_parse(c, &d.disks[d.n_disks++]);
    }
    xmlFreeDoc(doc);
    *ret = d;
    return 0;
}

/* Add the addresses libvirt reports from `source` to the interfaces that
 * have none yet, matched by MAC, else by device name.  Returns how many
 * interfaces still have none. */
static size_t ifaces_add_addresses(virDomainPtr dom, unsigned source,
                                   struct migr_dom_devices *d)
{
    virDomainInterfacePtr *got = NULL;
    int n = virDomainInterfaceAddresses(dom, &got, source, 0);
    size_t missing = 0;

    if (n < 0) {
        virResetLastError();
        n = 0;
    }
    for (int g = 0; g < n; g++) {
        const virDomainInterface *vi = got[g];

        for (size_t i = 0; i < d->n_ifaces; i++) {
            struct migr_dom_iface *f = &d->ifaces[i];
            bool same = vi->hwaddr && f->mac[0]
                            ? strcasecmp(vi->hwaddr, f->mac) == 0
                            : vi->name && strcmp(vi->name, f->name) == 0;

            if (!same || f->n_ips)
                continue;
            for (unsigned a = 0;
                 a < vi->naddrs && f->n_ips < MIGR_IFACE_MAX_IPS; a++)
                if (vi->addrs[a].addr)
                    snprintf(f->ips[f->n_ips++], sizeof(f->ips[0]), "%s",
                             vi->addrs[a].addr);
            break;
        }
    }
    for (int g = 0; g < n; g++)
        virDomainInterfaceFree(got[g]);
    free(got);
    for (size_t i = 0; i < d->n_ifaces; i++)
        missing += d->ifaces[i].n_ips == 0;
    return missing;
}

int migr_virt_devices(struct migr_virt *v, const char *name, bool addresses,
                      struct migr_dom_devices *ret, char *err, size_t errlen)
{
    struct migr_dom_devices d = {0};
    virDomainPtr dom;
    char *xml;
    int r = dom_get(v, name, &dom, err, errlen);

    if (r < 0)
        return r;
    if (!ret) {
        virDomainFree(dom);
        return -EINVAL;
    }
    xml = virDomainGetXMLDesc(dom, 0);
    if (!xml) {
        r = virt_error("cannot read the domain XML", err, errlen);
        goto out;
    }
    r = migr_dom_devices_parse(xml, &d);
    free(xml);
    if (r < 0) {
        set_err(err, errlen,
                r == -ENOMEM ? "out of memory" : "libvirt gave invalid XML");
        goto out;
    }
    if (addresses && d.n_ifaces && virDomainIsActive(dom) == 1 &&
        ifaces_add_addresses(dom, VIR_DOMAIN_INTERFACE_ADDRESSES_SRC_LEASE,
                             &d) > 0)
        ifaces_add_addresses(dom, VIR_DOMAIN_INTERFACE_ADDRESSES_SRC_ARP, &d);
    virResetLastError();
    migr_dom_devices_clear(ret);
    *ret = d;
    r = 0;
out:
    virDomainFree(dom);
    return r;
}

/* ---------------------------------------------------------------------- */
/* A migration target's checks                                             */

int migr_virt_cpu_compare(struct migr_virt *v, const char *xml, char *model,
                          size_t model_len, char *err, size_t errlen)
{
    xmlDocPtr doc;
    xmlNode *root, *cpu, *type;
    xmlBufferPtr buf = NULL;
    char mode[32], virt_type[32], arch[32], machine[64];
    int r;

    if (model_len)
        model[0] = '\0';
    if (!xml)
        return -EINVAL;
    doc = xml_read(xml);
    root = doc ? xmlDocGetRootElement(doc) : NULL;
    if (!xml_is(root, "domain")) {
        xmlFreeDoc(doc);
        set_err(err, errlen, "not a domain XML");
        return -EINVAL;
    }
    cpu = xml_child(root, "cpu");
    xml_attr(cpu, "mode", mode, sizeof(mode));
    xml_text(cpu, "model", model, model_len);
    /* Without a model there is nothing to compare: the hypervisor's
     * default CPU, or the host's own (host-passthrough, maximum). */
    if (!cpu || !model[0] || strcmp(mode, "host-passthrough") == 0 ||
        strcmp(mode, "maximum") == 0) {
        xmlFreeDoc(doc);
        return 1;
    }
    xml_attr(root, "type", virt_type, sizeof(virt_type));
    type = xml_child(xml_child(root, "os"), "type");
    xml_attr(type, "arch", arch, sizeof(arch));
    xml_attr(type, "machine", machine, sizeof(machine));
    buf = xmlBufferCreate();
    if (!buf || xmlNodeDump(buf, doc, cpu, 0, 0) < 0) {
        xmlBufferFree(buf);
        xmlFreeDoc(doc);
        set_err(err, errlen, "out of memory");
        return -ENOMEM;
    }
    r = virConnectCompareHypervisorCPU(v->conn, NULL, arch[0] ? arch : NULL,
                                       machine[0] ? machine : NULL,
                                       virt_type[0] ? virt_type : NULL,
                                       (const char *)xmlBufferContent(buf), 0);
    xmlBufferFree(buf);
    xmlFreeDoc(doc);
    switch (r) {
    case VIR_CPU_COMPARE_INCOMPATIBLE:
        return 0;
    case VIR_CPU_COMPARE_IDENTICAL:
    case VIR_CPU_COMPARE_SUPERSET:
        return 1;
    default:
        return virt_error("cannot compare the guest's CPU with this host's",
                          err, errlen);
    }
}

int migr_virt_free_memory(struct migr_virt *v, uint64_t *ret, char *err,
                          size_t errlen)
{
    unsigned long long n = virNodeGetFreeMemory(v->conn);

    /* 0 is libvirt's error return. */
    if (n == 0)
        return virt_error("cannot read the free memory", err, errlen);
    *ret = n;
    return 0;
}

uint64_t migr_bandwidth_mib(int64_t bytes_per_second)
{
    const int64_t mib = 1024 * 1024;
    int64_t v;

    if (bytes_per_second <= 0)
        return 0;
    v = (bytes_per_second + mib / 2) / mib;
    return v < 1 ? 1 : (uint64_t)v;
}

int migr_virt_migrate(struct migr_virt *v, const char *name,
                      const struct migr_migrate_params *p, char *err,
                      size_t errlen)
{
    virTypedParameterPtr params = NULL;
    virDomainPtr d = NULL;
    int nparams = 0, maxparams = 0, st = 0, reason = 0, r;
    unsigned flags = VIR_MIGRATE_LIVE | VIR_MIGRATE_PEER2PEER |
                     VIR_MIGRATE_PERSIST_DEST | VIR_MIGRATE_UNDEFINE_SOURCE;

    if (!p || !p->dest_uri || !*p->dest_uri) {
        set_err(err, errlen, "no migration target");
        return -EINVAL;
    }
    r = dom_get(v, name, &d, err, errlen);
    if (r < 0)
        return r;
    if (p->auto_converge)
        flags |= VIR_MIGRATE_AUTO_CONVERGE;
    if (p->post_copy)
        flags |= VIR_MIGRATE_POSTCOPY;
    if (p->unsafe)
        flags |= VIR_MIGRATE_UNSAFE;
    if (p->tls)
        flags |= VIR_MIGRATE_TLS;
    if (p->block_migration)
        flags |= VIR_MIGRATE_NON_SHARED_INC;
    if (p->parallel_connections > 1)
        flags |= VIR_MIGRATE_PARALLEL;
    if (virDomainGetState(d, &st, &reason, 0) == 0 && st == VIR_DOMAIN_PAUSED)
        flags |= VIR_MIGRATE_PAUSED;

    if ((p->migrate_uri &&
         virTypedParamsAddString(&params, &nparams, &maxparams,
                                 VIR_MIGRATE_PARAM_URI, p->migrate_uri) < 0) ||
        (p->dest_xml && virTypedParamsAddString(&params, &nparams, &maxparams,
                                                VIR_MIGRATE_PARAM_DEST_XML,
                                                p->dest_xml) < 0) ||
        ((p->persist_xml || p->dest_xml) &&
         virTypedParamsAddString(
             &params, &nparams, &maxparams, VIR_MIGRATE_PARAM_PERSIST_XML,
             p->persist_xml ? p->persist_xml : p->dest_xml) < 0) ||
        (p->bandwidth_mib &&
         virTypedParamsAddULLong(&params, &nparams, &maxparams,
                                 VIR_MIGRATE_PARAM_BANDWIDTH,
                                 p->bandwidth_mib) < 0) ||
        (p->parallel_connections > 1 &&
         virTypedParamsAddInt(&params, &nparams, &maxparams,
                              VIR_MIGRATE_PARAM_PARALLEL_CONNECTIONS,
                              p->parallel_connections) < 0) ||
        (p->block_migration && p->disks_port > 0 &&
         virTypedParamsAddInt(&params, &nparams, &maxparams,
                              VIR_MIGRATE_PARAM_DISKS_PORT,
                              p->disks_port) < 0)) {
        r = virt_error("cannot build the migration parameters", err, errlen);
        goto out;
    }
    if (p->max_downtime_ms &&
        virDomainMigrateSetMaxDowntime(d, p->max_downtime_ms, 0) < 0) {
        r = virt_error("cannot set the maximum downtime", err, errlen);
        goto out;
    }
    if (virDomainMigrateToURI3(d, p->dest_uri, params, (unsigned)nparams,
                               flags) < 0) {
        r = virt_error("migration failed", err, errlen);
        goto out;
    }
    r = 0;
out:
    virTypedParamsFree(params, nparams);
    virDomainFree(d);
    return r;
}

int migr_virt_job_stats(struct migr_virt *v, const char *name, bool completed,
                        struct migr_job_stats *ret, char *err, size_t errlen)
{
    static const struct {
        const char *field;
        size_t off;
    } fields[] = {
        {VIR_DOMAIN_JOB_DATA_TOTAL,
         offsetof(struct migr_job_stats, data_total)},
        {VIR_DOMAIN_JOB_DATA_PROCESSED,
         offsetof(struct migr_job_stats, data_processed)},
        {VIR_DOMAIN_JOB_DATA_REMAINING,
         offsetof(struct migr_job_stats, data_remaining)},
        {VIR_DOMAIN_JOB_MEMORY_TOTAL,
         offsetof(struct migr_job_stats, memory_total)},
        {VIR_DOMAIN_JOB_MEMORY_BPS,
         offsetof(struct migr_job_stats, memory_bps)},
        {VIR_DOMAIN_JOB_MEMORY_DIRTY_RATE,
         offsetof(struct migr_job_stats, dirty_rate)},
        {VIR_DOMAIN_JOB_MEMORY_ITERATION,
         offsetof(struct migr_job_stats, iteration)},
        {VIR_DOMAIN_JOB_DOWNTIME, offsetof(struct migr_job_stats, downtime_ms)},
        {VIR_DOMAIN_JOB_TIME_ELAPSED,
         offsetof(struct migr_job_stats, time_elapsed_ms)},
    };
    virTypedParameterPtr params = NULL;
    struct migr_job_stats st = {0};
    virDomainPtr d;
    int type = VIR_DOMAIN_JOB_NONE, n = 0, op = 0;
    int r = dom_get(v, name, &d, err, errlen);

    if (r < 0)
        return r;
    if (!ret) {
        virDomainFree(d);
        return -EINVAL;
    }
    if (virDomainGetJobStats(d, &type, &params, &n,
                             completed ? VIR_DOMAIN_JOB_STATS_COMPLETED : 0) <
        0) {
        r = virt_error("cannot read the job statistics", err, errlen);
        virDomainFree(d);
        return r;
    }
    switch (type) {
    case VIR_DOMAIN_JOB_BOUNDED:
    case VIR_DOMAIN_JOB_UNBOUNDED:
        st.kind = MIGR_JOB_ACTIVE;
        break;
    case VIR_DOMAIN_JOB_COMPLETED:
        st.kind = MIGR_JOB_COMPLETED;
        break;
    case VIR_DOMAIN_JOB_FAILED:
        st.kind = MIGR_JOB_FAILED;
        break;
    case VIR_DOMAIN_JOB_CANCELLED:
        st.kind = MIGR_JOB_CANCELLED;
        break;
    default:
        st.kind = MIGR_JOB_NONE;
    }
    /* Other jobs (save, dump, backup) name their operation. */
    st.migration =
        virTypedParamsGetInt(params, n, VIR_DOMAIN_JOB_OPERATION, &op) != 1 ||
        op == VIR_DOMAIN_JOB_OPERATION_MIGRATION_IN ||
        op == VIR_DOMAIN_JOB_OPERATION_MIGRATION_OUT;
    for (size_t i = 0; i < sizeof(fields) / sizeof(*fields); i++) {
        unsigned long long x = 0;

        if (virTypedParamsGetULLong(params, n, fields[i].field, &x) == 1)
            *(uint64_t *)(void *)((char *)&st + fields[i].off) = x;
    }
    virTypedParamsFree(params, n);
    virDomainFree(d);
    *ret = st;
    return 0;
}

/* Run one call on the migration job of domain `name`. */
enum job_op { JOB_ABORT, JOB_POSTCOPY, JOB_DOWNTIME, JOB_SUSPEND, JOB_RESUME };

static int job_op(struct migr_virt *v, const char *name, enum job_op op,
                  uint64_t arg, char *err, size_t errlen)
{
    static const char *const what[] = {
        "cannot abort the job",
        "cannot switch to post-copy",
        "cannot set the maximum downtime",
        "cannot pause the guest",
        "cannot resume the guest",
    };
    virDomainPtr d;
    int r = dom_get(v, name, &d, err, errlen);

    if (r < 0)
        return r;
    switch (op) {
    case JOB_ABORT:
        r = virDomainAbortJob(d);
        break;
    case JOB_POSTCOPY:
        r = virDomainMigrateStartPostCopy(d, 0);
        break;
    case JOB_DOWNTIME:
        r = virDomainMigrateSetMaxDowntime(d, arg, 0);
        break;
    case JOB_SUSPEND:
        r = virDomainSuspend(d);
        break;
    case JOB_RESUME:
        r = virDomainResume(d);
        break;
    }
    r = r < 0 ? virt_error(what[op], err, errlen) : 0;
    virDomainFree(d);
    return r;
}

int migr_virt_job_abort(struct migr_virt *v, const char *name, char *err,
                        size_t errlen)
{
    return job_op(v, name, JOB_ABORT, 0, err, errlen);
}

int migr_virt_postcopy_start(struct migr_virt *v, const char *name, char *err,
                             size_t errlen)
{
    return job_op(v, name, JOB_POSTCOPY, 0, err, errlen);
}

int migr_virt_suspend(struct migr_virt *v, const char *name, char *err,
                      size_t errlen)
{
    return job_op(v, name, JOB_SUSPEND, 0, err, errlen);
}

int migr_virt_resume(struct migr_virt *v, const char *name, char *err,
                     size_t errlen)
{
    return job_op(v, name, JOB_RESUME, 0, err, errlen);
}

int migr_virt_downtime_set(struct migr_virt *v, const char *name, uint64_t ms,
                           char *err, size_t errlen)
{
    if (ms == 0) {
        set_err(err, errlen, "no downtime");
        return -EINVAL;
    }
    return job_op(v, name, JOB_DOWNTIME, ms, err, errlen);
}
