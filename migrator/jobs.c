/*
 * The agent's jobs.  See jobs.h.
 */
#include "migrator/jobs.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <jansson.h>

#include "migrator/agent.h"
#include "migrator/domxml.h"
#include "migrator/virt.h"
#include "migrator/vmhost.h"

#define KEEP_FINISHED       100
#define MONITOR_INTERVAL_MS 500
#define ID_MAX              128
/* A watch whose reader lets this much pile up is ended, not buffered. */
#define WATCH_MAX_PENDING (1024 * 1024)

enum job_type {
    JOB_PREPARE,
    JOB_MIGRATE,
    JOB_ABORT,
    JOB_RELEASE,
    JOB_START,
    JOB_STOP,
    JOB_PLUG
};
enum job_state { ST_PENDING, ST_RUNNING, ST_SUCCEEDED, ST_FAILED };

static const char *const type_names[] = {
    "prepare", "migrate", "abort", "release", "start", "stop", "plug"};
static const char *const state_names[] = {"Pending", "Running", "Succeeded",
                                          "Failed"};

/* A migrate request's knobs, as posted. */
struct migrate_req {
    const char *dest_uri;      /* destLibvirtURI */
    const char *migration_uri; /* migrationURI */
    uint64_t bandwidth_mibps;
    uint64_t max_downtime_ms;
    bool auto_converge, post_copy, workload_disruption;
    int parallel;
    bool disable_tls, unsafe;
    bool copy_storage;   /* copyStorage "incremental": NON_SHARED_INC */
    uint64_t disks_port; /* disksPort: the target's NBD port (0: none) */
    json_t *sriov;       /* sriov: [{"iface","netdev","unplug"}] the target's
                            VFs (in the request), NULL: none */
    uint64_t progress_timeout_s;
    uint64_t completion_per_gib_s;
};

struct progress {
    uint64_t data_total, data_processed, data_remaining;
    uint64_t memory_bps, dirty_rate, iteration, time_elapsed_ms;
};

struct job {
    struct job *next;
    char *id;
    json_t *request; /* as posted (owned); the strings below point in it */
    enum job_type type;
    const char *domain;       /* NULL for an abort without one */
    struct migrate_req mig;   /* JOB_MIGRATE */
    const char *abort_target; /* JOB_ABORT: the migrate job's id */
    const char *source_uri;   /* JOB_PREPARE: prepare.sourceLibvirtURI */
    const char *release_of;   /* JOB_RELEASE: release.prepareJobId */
    json_t *vmi;              /* start, prepare, plug: the VMI (in request) */
    uint64_t grace_s;         /* stop: gracePeriodS */

    /* Under the table's lock from here on. */
    enum job_state state;
    time_t created, started, finished;
    json_t *result;  /* when Succeeded */
    char reason[32]; /* when Failed */
    char *message;   /* when Failed */
    struct progress progress;
    bool postcopy; /* mode PostCopy */
    bool paused;   /* mode Paused: the guest paused so that it converges */
    bool abort_requested;
    /* migrate: the SR-IOV NICs taken out of the guest for the migration,
     * [{"iface","xml"}] (the live <interface> each was), to plug back if it
     * fails; in the job object and the journal. */
    json_t *unplugged;
    uint64_t version; /* bumped on every change, for watches */
    int pins;         /* an abort job waits on it: not pruned */
    /* Recovery (migr_jobs_recover): a migrate job found in flight after a
     * restart, re-attached to libvirt's job; resume until a worker has
     * taken it up. */
    bool reattached, resume;
};

struct watch {
    struct watch *next;
    struct migr_jobs *j;
    struct http_stream *stream;
    char id[ID_MAX + 1];
    uint64_t sent; /* version last written; 0: none */
};

struct migr_jobs {
    struct migr_jobs_opts o;
    char *address;
    pthread_mutex_t lock;
    pthread_cond_t cond; /* any job changed, or stop */
    struct job *jobs;    /* creation order */
    size_t n_finished;
    int running_migrations;
    int next_port; /* where the next port search starts */
    bool stop;
    pthread_t *workers;
    int n_workers;
    bool recovered;       /* migr_jobs_recover ran */
    struct event *notify; /* NULL: no loop attached */
    /* Loop side. */
    struct watch *watches;
};

/* ---------------------------------------------------------------------- */
/* Time                                                                    */

static int64_t mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void deadline_in(struct timespec *ts, int64_t ms)
{
    clock_gettime(CLOCK_MONOTONIC, ts);
    ts->tv_sec += ms / 1000;
    ts->tv_nsec += (ms % 1000) * 1000000;
    if (ts->tv_nsec >= 1000000000) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000;
    }
}

static json_t *rfc3339(time_t t)
{
    struct tm tm;
    char buf[32];

    if (!t)
        return json_null();
    gmtime_r(&t, &tm);
    strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
    return json_string(buf);
}

/* ---------------------------------------------------------------------- */
/* The table (callers hold j->lock)                                        */

static bool final(enum job_state s)
{
    return s == ST_SUCCEEDED || s == ST_FAILED;
}

static struct job *job_find(struct migr_jobs *j, const char *id)
{
    for (struct job *b = j->jobs; b; b = b->next)
        if (strcmp(b->id, id) == 0)
            return b;
    return NULL;
}

static void job_free(struct job *b)
{
    if (!b)
        return;
    free(b->id);
    json_decref(b->request);
    json_decref(b->result);
    json_decref(b->unplugged);
    free(b->message);
    free(b);
}

/* Something about `b` changed: wake watches and waiters. */
static void job_changed(struct migr_jobs *j, struct job *b)
{
    b->version++;
    pthread_cond_broadcast(&j->cond);
    if (j->notify)
        event_active(j->notify, EV_TIMEOUT, 0);
}

/* Keep the last KEEP_FINISHED finished jobs; the oldest go first. */
static void prune(struct migr_jobs *j)
{
    struct job **pp = &j->jobs;

    while (j->n_finished > KEEP_FINISHED && *pp) {
        struct job *b = *pp;

        if (final(b->state) && b->pins == 0) {
            *pp = b->next;
            job_free(b);
            j->n_finished--;
        } else {
            pp = &b->next;
        }
    }
}

/* ---------------------------------------------------------------------- */
/* Rendering                                                               */

/* A migrate job's mode as KubeVirt's migrationState.mode says it. */
static const char *job_mode(const struct job *b)
{
    return b->postcopy ? "PostCopy" : b->paused ? "Paused" : "PreCopy";
}

/*
 * The job object:
 *   {"id","type","state","createdAt","startedAt","finishedAt" (RFC 3339 or
 *    null), "migration" (as posted, {} when not), "domain" (string or
 *    null), "result" (when Succeeded), "error":{"reason","message"} (when
 *    Failed), and for migrate jobs "progress":{"dataTotal","dataProcessed",
 *    "dataRemaining","memoryTransferRate","dirtyRate","iteration","mode",
 *    "timeElapsedMs"} and "abortRequested"}
 * Caller holds the lock.
 */
static json_t *job_render(const struct job *b)
{
    json_t *mig = json_object_get(b->request, "migration");
    json_t *o =
        json_pack("{s:s, s:s, s:s, s:o, s:o, s:o, s:o, s:o}", "id", b->id,
                  "type", type_names[b->type], "state", state_names[b->state],
                  "createdAt", rfc3339(b->created), "startedAt",
                  rfc3339(b->started), "finishedAt", rfc3339(b->finished),
                  "migration", mig ? json_incref(mig) : json_object(), "domain",
                  b->domain ? json_string(b->domain) : json_null());

    if (!o)
        return NULL;
    if (b->state == ST_SUCCEEDED && b->result)
        json_object_set(o, "result", b->result);
    if (b->state == ST_FAILED)
        json_object_set_new(o, "error",
                            json_pack("{s:s, s:s}", "reason", b->reason,
                                      "message", b->message ? b->message : ""));
    if (b->type == JOB_MIGRATE) {
        const struct progress *p = &b->progress;

        json_object_set_new(
            o, "progress",
            json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:s, s:I}", "dataTotal",
                      (json_int_t)p->data_total, "dataProcessed",
                      (json_int_t)p->data_processed, "dataRemaining",
                      (json_int_t)p->data_remaining, "memoryTransferRate",
                      (json_int_t)p->memory_bps, "dirtyRate",
                      (json_int_t)p->dirty_rate, "iteration",
                      (json_int_t)p->iteration, "mode", job_mode(b),
                      "timeElapsedMs", (json_int_t)p->time_elapsed_ms));
        json_object_set_new(o, "abortRequested",
                            json_boolean(b->abort_requested));
        if (b->reattached)
            json_object_set_new(o, "reattached", json_true());
        if (json_array_size(b->unplugged))
            json_object_set(o, "unplugged", b->unplugged);
    }
    return o;
}

/* ---------------------------------------------------------------------- */
/* Requests                                                                */

struct perr {
    char field[64];
    char message[192];
};

static int bad(struct perr *e, const char *field, const char *msg)
{
    snprintf(e->field, sizeof(e->field), "%s", field);
    snprintf(e->message, sizeof(e->message), "%s: %s", field, msg);
    return -EINVAL;
}

/* A job id names a journal file: letters, digits, '-', '_', '.', not
 * starting with '.'. */
static bool id_ok(const char *id)
{
    size_t n = strlen(id);

    if (n == 0 || n > ID_MAX || id[0] == '.')
        return false;
    for (const char *p = id; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
              (*p >= '0' && *p <= '9') || *p == '-' || *p == '_' || *p == '.'))
            return false;
    return true;
}

static int get_str(json_t *o, const char *key, const char *path, bool req,
                   const char **ret, struct perr *e)
{
    json_t *v = json_object_get(o, key);

    *ret = NULL;
    if (!v || json_is_null(v))
        return req ? bad(e, path, "Required value") : 0;
    if (!json_is_string(v) || json_string_length(v) == 0 ||
        json_string_length(v) > 4096 ||
        strlen(json_string_value(v)) != json_string_length(v))
        return bad(e, path, "must be a non-empty string");
    *ret = json_string_value(v);
    return 0;
}

static int get_u64(json_t *o, const char *key, const char *path, uint64_t max,
                   uint64_t *ret, struct perr *e)
{
    json_t *v = json_object_get(o, key);

    if (!v || json_is_null(v))
        return 0;
    if (!json_is_integer(v) || json_integer_value(v) < 0 ||
        (uint64_t)json_integer_value(v) > max) {
        char msg[96];

        snprintf(msg, sizeof(msg), "must be an integer in [0, %llu]",
                 (unsigned long long)max);
        return bad(e, path, msg);
    }
    *ret = (uint64_t)json_integer_value(v);
    return 0;
}

static int get_bool(json_t *o, const char *key, const char *path, bool *ret,
                    struct perr *e)
{
    json_t *v = json_object_get(o, key);

    if (!v || json_is_null(v))
        return 0;
    if (!json_is_boolean(v))
        return bad(e, path, "must be a boolean");
    *ret = json_is_true(v);
    return 0;
}

/* A section ("prepare", "migrate", "abort") that must be an object when
 * present; NULL when absent. */
static int get_obj(json_t *o, const char *key, bool req, json_t **ret,
                   struct perr *e)
{
    json_t *v = json_object_get(o, key);

    *ret = NULL;
    if (!v || json_is_null(v))
        return req ? bad(e, key, "Required value") : 0;
    if (!json_is_object(v))
        return bad(e, key, "must be an object");
    *ret = v;
    return 0;
}

static int migrate_parse(json_t *m, struct migrate_req *q, struct perr *e)
{
    uint64_t parallel = 0;
    const char *copy = NULL;
    int r;

    /* KubeVirt's defaults for what orchestratord leaves out. */
    q->progress_timeout_s = 150;
    q->completion_per_gib_s = 150;
    q->disable_tls = true;
    if ((r = get_str(m, "destLibvirtURI", "migrate.destLibvirtURI", true,
                     &q->dest_uri, e)) < 0 ||
        (r = get_str(m, "migrationURI", "migrate.migrationURI", true,
                     &q->migration_uri, e)) < 0 ||
        (r = get_u64(m, "bandwidthMiBps", "migrate.bandwidthMiBps", UINT32_MAX,
                     &q->bandwidth_mibps, e)) < 0 ||
        (r = get_u64(m, "maxDowntimeMs", "migrate.maxDowntimeMs", 2000000,
                     &q->max_downtime_ms, e)) < 0 ||
        (r = get_bool(m, "allowAutoConverge", "migrate.allowAutoConverge",
                      &q->auto_converge, e)) < 0 ||
        (r = get_bool(m, "allowPostCopy", "migrate.allowPostCopy",
                      &q->post_copy, e)) < 0 ||
        (r = get_bool(m, "allowWorkloadDisruption",
                      "migrate.allowWorkloadDisruption",
                      &q->workload_disruption, e)) < 0 ||
        (r = get_u64(m, "parallelConnections", "migrate.parallelConnections",
                     255, &parallel, e)) < 0 ||
        (r = get_bool(m, "disableTLS", "migrate.disableTLS", &q->disable_tls,
                      e)) < 0 ||
        (r = get_bool(m, "unsafe", "migrate.unsafe", &q->unsafe, e)) < 0 ||
        (r = get_u64(m, "progressTimeoutS", "migrate.progressTimeoutS",
                     86400 * 365, &q->progress_timeout_s, e)) < 0 ||
        (r = get_u64(m, "completionTimeoutPerGiBS",
                     "migrate.completionTimeoutPerGiBS", 86400,
                     &q->completion_per_gib_s, e)) < 0 ||
        (r = get_str(m, "copyStorage", "migrate.copyStorage", false, &copy,
                     e)) < 0 ||
        (r = get_u64(m, "disksPort", "migrate.disksPort", 65535, &q->disks_port,
                     e)) < 0)
        return r;
    /* The target's VFs as its prepare gave them: each SR-IOV interface
     * with a netdev (macvtap) is pointed at it in the destination XML. */
    q->sriov = json_object_get(m, "sriov");
    if (q->sriov && !json_is_array(q->sriov) && !json_is_null(q->sriov))
        return bad(e, "migrate.sriov", "must be a list");
    if (json_is_null(q->sriov))
        q->sriov = NULL;
    for (size_t i = 0; i < json_array_size(q->sriov); i++) {
        json_t *it = json_array_get(q->sriov, i), *nd;

        if (!json_is_object(it) ||
            !json_is_string(json_object_get(it, "iface")) ||
            ((nd = json_object_get(it, "netdev")) && !json_is_null(nd) &&
             !json_is_string(nd)) ||
            ((nd = json_object_get(it, "unplug")) && !json_is_boolean(nd)))
            return bad(e, "migrate.sriov",
                       "each item must be {\"iface\": string, \"netdev\": "
                       "string, \"unplug\": boolean}");
    }
    q->parallel = (int)parallel;
    /* "incremental": the guest has a disk only this host has (a
     * containerDisk's overlay); libvirt copies it into the file of the same
     * name the target's prepare made over the same backing image. */
    if (copy && strcmp(copy, "incremental") == 0)
        q->copy_storage = true;
    else if (copy && strcmp(copy, "none") != 0)
        return bad(e, "migrate.copyStorage",
                   "must be \"none\" or \"incremental\"");
    if (strncmp(q->dest_uri, "qemu", 4) != 0 || !strstr(q->dest_uri, "://"))
        return bad(e, "migrate.destLibvirtURI", "must be a qemu libvirt URI");
    return 0;
}

/* Check a posted request and make a Pending job of it (taking a reference
 * on `req`).  Returns 0 and *ret, -EINVAL with *e, -ENOMEM. */
static int job_parse(json_t *req, struct job **ret, struct perr *e)
{
    struct job *b;
    const char *id, *type;
    json_t *sec;
    int r;

    if (!json_is_object(req))
        return bad(e, "", "the body must be a JSON object");
    if ((r = get_str(req, "id", "id", true, &id, e)) < 0)
        return r;
    if (!id_ok(id))
        return bad(e, "id",
                   "must be at most 128 letters, digits, '-', '_' or '.', "
                   "not starting with '.'");
    if ((r = get_str(req, "type", "type", true, &type, e)) < 0)
        return r;
    b = calloc(1, sizeof(*b));
    if (!b)
        return -ENOMEM;
    if (strcmp(type, "prepare") == 0)
        b->type = JOB_PREPARE;
    else if (strcmp(type, "migrate") == 0)
        b->type = JOB_MIGRATE;
    else if (strcmp(type, "abort") == 0)
        b->type = JOB_ABORT;
    else if (strcmp(type, "release") == 0)
        b->type = JOB_RELEASE;
    else if (strcmp(type, "start") == 0)
        b->type = JOB_START;
    else if (strcmp(type, "stop") == 0)
        b->type = JOB_STOP;
    else if (strcmp(type, "plug") == 0)
        b->type = JOB_PLUG;
    else {
        free(b);
        return bad(e, "type",
                   "Unsupported value: must be \"prepare\", \"migrate\", "
                   "\"abort\", \"release\", \"start\", \"stop\" or "
                   "\"plug\"");
    }
    if ((r = get_obj(req, "migration", false, &sec, e)) < 0 ||
        (r = get_str(req, "domain", "domain", b->type != JOB_ABORT, &b->domain,
                     e)) < 0)
        goto fail;
    switch (b->type) {
    case JOB_PREPARE:
        r = get_obj(req, "prepare", false, &sec, e);
        if (r == 0 && sec)
            r = get_str(sec, "sourceLibvirtURI", "prepare.sourceLibvirtURI",
                        false, &b->source_uri, e);
        if (r == 0 && b->source_uri && !strstr(b->source_uri, "://"))
            r = bad(e, "prepare.sourceLibvirtURI", "must be a libvirt URI");
        if (r == 0 && sec)
            r = get_obj(sec, "vmi", false, &b->vmi, e);
        if (r == -EINVAL && strcmp(e->field, "vmi") == 0)
            r = bad(e, "prepare.vmi", "must be an object");
        break;
    case JOB_START:
    case JOB_PLUG:
        r = get_obj(req, type_names[b->type], true, &sec, e);
        if (r == 0 && (r = get_obj(sec, "vmi", true, &b->vmi, e)) < 0)
            r = bad(e, b->type == JOB_START ? "start.vmi" : "plug.vmi",
                    json_object_get(sec, "vmi") ? "must be an object"
                                                : "Required value");
        break;
    case JOB_STOP:
        b->grace_s = 30;
        r = get_obj(req, "stop", false, &sec, e);
        if (r == 0 && sec)
            r = get_u64(sec, "gracePeriodS", "stop.gracePeriodS", 86400,
                        &b->grace_s, e);
        break;
    case JOB_MIGRATE:
        r = get_obj(req, "migrate", true, &sec, e);
        if (r == 0)
            r = migrate_parse(sec, &b->mig, e);
        break;
    case JOB_ABORT:
        r = get_obj(req, "abort", true, &sec, e);
        if (r == 0)
            r = get_str(sec, "jobId", "abort.jobId", true, &b->abort_target, e);
        break;
    case JOB_RELEASE:
        r = get_obj(req, "release", true, &sec, e);
        if (r == 0)
            r = get_str(sec, "prepareJobId", "release.prepareJobId", true,
                        &b->release_of, e);
        break;
    }
    if (r < 0)
        goto fail;
    b->id = strdup(id);
    if (!b->id) {
        r = -ENOMEM;
        goto fail;
    }
    b->request = json_incref(req);
    b->created = time(NULL);
    *ret = b;
    return 0;
fail:
    free(b);
    return r;
}

/* ---------------------------------------------------------------------- */
/* Journal                                                                 */

/* The journal's text for `b`: {"job":JOB,"request":REQUEST}.  Lock
 * held.  NULL when out of memory. */
static char *journal_text(const struct job *b)
{
    json_t *doc =
        json_pack("{s:o, s:O}", "job", job_render(b), "request", b->request);
    char *text = doc ? json_dumps(doc, JSON_COMPACT) : NULL;

    json_decref(doc);
    return text;
}

/* Write `text` (taken) to state_dir/jobs/ID.json atomically.  The caller
 * holds the lock and has the job pinned (a worker running it); the lock is
 * dropped for the file write, so that the loop's reads never wait for a
 * disk.  Returns 0 or -errno. */
static int journal_store(struct migr_jobs *j, const char *id, char *text)
{
    char dir[4096], path[4096 + ID_MAX + 16], tmp[sizeof(path) + 8];
    size_t len = text ? strlen(text) : 0, off = 0;
    int fd = -1, r = 0;

    if (!text)
        return -ENOMEM;
    pthread_mutex_unlock(&j->lock);
    snprintf(dir, sizeof(dir), "%s/jobs", j->o.cfg->state_dir);
    if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
        r = -errno;
        goto out;
    }
    snprintf(path, sizeof(path), "%s/%s.json", dir, id);
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) {
        r = -errno;
        goto out;
    }
    while (off < len) {
        ssize_t n = write(fd, text + off, len - off);

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            r = -errno;
            goto out;
        }
        off += (size_t)n;
    }
    /* The rename must not land before the data: a crash would leave an
     * empty journal where there was a good one. */
    if (fsync(fd) < 0 || rename(tmp, path) < 0)
        r = -errno;
out:
    if (fd >= 0)
        close(fd);
    if (r < 0 && fd >= 0)
        unlink(tmp);
    free(text);
    pthread_mutex_lock(&j->lock);
    return r;
}

/* Journal `b` as it is now (see journal_store for the lock). */
static int journal_write(struct migr_jobs *j, struct job *b)
{
    return journal_store(j, b->id, journal_text(b));
}

/* ---------------------------------------------------------------------- */
/* Running jobs (worker threads)                                           */

/* End `b` (lock held): state, result or error, journal, wake. */
static void job_finish(struct migr_jobs *j, struct job *b, json_t *result,
                       const char *reason, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

static void job_finish(struct migr_jobs *j, struct job *b, json_t *result,
                       const char *reason, const char *fmt, ...)
{
    struct job end = *b;

    /* The end is journalled before anyone sees it: a reader that saw the
     * final state finds it on disk too. */
    end.finished = time(NULL);
    if (reason) {
        va_list ap;
        char msg[1024];

        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        end.state = ST_FAILED;
        snprintf(end.reason, sizeof(end.reason), "%s", reason);
        end.message = strdup(msg);
        json_decref(result);
        end.result = NULL;
    } else {
        end.state = ST_SUCCEEDED;
        end.result = result;
        end.message = NULL;
    }
    /* A job whose end could not be written still ended; the journal is
     * for a later restart to look at, and says Running then. */
    (void)journal_store(j, b->id, journal_text(&end));
    free(b->message);
    b->finished = end.finished;
    b->state = end.state;
    memcpy(b->reason, end.reason, sizeof(b->reason));
    b->message = end.message;
    b->result = end.result;
    j->n_finished++;
    job_changed(j, b);
    prune(j);
}

/* Whether `port` is free to listen on at `addr`: a bind as QEMU makes it
 * for an incoming migration (SO_REUSEADDR, so a connection lingering in
 * TIME_WAIT does not count, a listener does). */
static bool port_free(const char *addr, int port)
{
    struct sockaddr_storage ss = {0};
    socklen_t len;
    int fd, r, one = 1;

    if (strchr(addr, ':')) {
        struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)(void *)&ss;

        s6->sin6_family = AF_INET6;
        s6->sin6_port = htons((uint16_t)port);
        if (inet_pton(AF_INET6, addr, &s6->sin6_addr) != 1)
            return false;
        len = sizeof(*s6);
    } else {
        struct sockaddr_in *s4 = (struct sockaddr_in *)(void *)&ss;

        s4->sin_family = AF_INET;
        s4->sin_port = htons((uint16_t)port);
        if (inet_pton(AF_INET, addr, &s4->sin_addr) != 1)
            return false;
        len = sizeof(*s4);
    }
    fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return false;
    r = setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (r == 0)
        r = bind(fd, (struct sockaddr *)&ss, len);
    close(fd);
    return r == 0;
}

/* Whether `path` is a per-VM file this host makes for domain `domain`
 * (its seed and overlay under state_dir/vms/DOMAIN/, issue 11), which the
 * migration copies rather than finds. */
static bool path_per_vm(const struct conf_migrator *c, const char *domain,
                        const char *path)
{
    char dir[4096];
    int n = snprintf(dir, sizeof(dir), "%s/vms/%s/", c->state_dir, domain);

    return n > 0 && (size_t)n < sizeof(dir) &&
           strncmp(path, dir, (size_t)n) == 0 && !strstr(path, "/../");
}

/* The target's checks of a migration of `b->domain` from the libvirt at
 * b->source_uri, on its migratable XML: the CPU, the memory, the disks.
 * Runs without the lock (libvirt calls).  Returns 0, or -1 with the
 * failure's reason and message. */
static int prepare_check(struct migr_jobs *j, const struct job *b, char *reason,
                         size_t rlen, char *msg, size_t mlen)
{
    const struct conf_migrator *c = j->o.cfg;
    struct migr_virt *src = NULL, *here = NULL;
    struct migr_dom_devices dv = {0};
    char err[512] = "", model[128];
    char *xml = NULL;
    uint64_t free_b = 0;
    int r, ret = -1;

    r = migr_virt_open(b->source_uri, &src, err, sizeof(err));
    if (r == 0)
        r = migr_virt_xml(src, b->domain, true, &xml, err, sizeof(err));
    if (r < 0) {
        snprintf(reason, rlen, "%s",
                 r == -ENOENT ? "DomainNotFound" : "SourceUnreachable");
        snprintf(msg, mlen, "cannot read domain '%s' from '%s': %s", b->domain,
                 b->source_uri, err);
        goto out;
    }
    r = migr_dom_devices_parse(xml, &dv);
    if (r == 0)
        r = migr_virt_open(c->libvirt_uri, &here, err, sizeof(err));
    if (r < 0) {
        snprintf(reason, rlen, "%s", "PrepareFailed");
        snprintf(msg, mlen, "%s",
                 r == -EINVAL ? "the source's domain XML is not understood"
                              : err);
        goto out;
    }
    r = migr_virt_cpu_compare(here, xml, model, sizeof(model), err,
                              sizeof(err));
    /* Only libvirt's INCOMPATIBLE refuses: a comparison it cannot make
     * (a driver without it) is no reason to stop a migration that QEMU
     * itself checks again. */
    if (r == 0) {
        snprintf(reason, rlen, "%s", "CPUIncompatible");
        snprintf(msg, mlen,
                 "the guest's CPU model '%s' is incompatible with this "
                 "host's CPU",
                 model);
        goto out;
    }
    if (dv.memory_kib &&
        migr_virt_free_memory(here, &free_b, err, sizeof(err)) == 0 &&
        dv.memory_kib * 1024 > free_b) {
        snprintf(reason, rlen, "%s", "InsufficientMemory");
        snprintf(msg, mlen,
                 "the guest's memory (%llu MiB) is more than this host's "
                 "free memory (%llu MiB)",
                 (unsigned long long)(dv.memory_kib / 1024),
                 (unsigned long long)(free_b / (1024 * 1024)));
        goto out;
    }
    for (size_t i = 0; i < dv.n_disks; i++) {
        const struct migr_dom_disk *d = &dv.disks[i];

        /* Network disks are shared by nature; an empty drive has none. */
        if ((strcmp(d->type, "file") != 0 && strcmp(d->type, "block") != 0) ||
            !d->source[0] || migr_agent_path_shared(c, d->source) ||
            path_per_vm(c, b->domain, d->source))
            continue;
        snprintf(reason, rlen, "%s", "DiskNotShared");
        snprintf(msg, mlen,
                 "disk %s ('%.512s') is neither under a shared_storage path of "
                 "this host nor a per-VM file it creates",
                 d->target, d->source);
        goto out;
    }
    ret = 0;
out:
    migr_dom_devices_clear(&dv);
    free(xml);
    migr_virt_close(here);
    migr_virt_close(src);
    return ret;
}

void migr_jobs_peer_uri(const struct migr_jobs *j, char *buf, size_t len)
{
    const char *a = j->address;

    if (j->o.cfg->libvirt_peer_uri)
        snprintf(buf, len, "%s", j->o.cfg->libvirt_peer_uri);
    else if (a && a[0])
        snprintf(buf, len,
                 strchr(a, ':') ? "qemu+tcp://[%s]/system"
                                : "qemu+tcp://%s/system",
                 a);
    else if (len)
        buf[0] = '\0';
}

static void run_prepare(struct migr_jobs *j, struct job *b)
{
    const struct conf_migrator *c = j->o.cfg;
    int span = c->migration_port_max - c->migration_port_min + 1;
    int start, port = -1, disks_port = -1, last;
    char host[80], dest[512], uri[160];
    json_t *vfs = NULL;
    bool v6;

    if (!j->address || !j->address[0]) {
        job_finish(j, b, NULL, "NoMigrationAddress",
                   "no 'migration_address' is set and 'listen' is a "
                   "wildcard");
        return;
    }
    if (b->source_uri) {
        char reason[32], msg[1024];
        int r;

        pthread_mutex_unlock(&j->lock);
        r = prepare_check(j, b, reason, sizeof(reason), msg, sizeof(msg));
        pthread_mutex_lock(&j->lock);
        if (r < 0) {
            job_finish(j, b, NULL, reason, "%s", msg);
            return;
        }
    }
    v6 = strchr(j->address, ':') != NULL;
    snprintf(host, sizeof(host), "%s%s%s", v6 ? "[" : "", j->address,
             v6 ? "]" : "");
    /* Start after the port given last, so that two prepares close together
     * do not get the same port before QEMU listens on it. */
    start = j->next_port;
    pthread_mutex_unlock(&j->lock);
    /* A VM made from a manifest may have a local disk to copy (copyStorage
     * "incremental"): libvirt's NBD server for it needs a port of its own,
     * else libvirt takes one from its range - the port given here, which
     * QEMU then cannot listen on ("Address already in use"). */
    for (int k = 0; k < span && (port < 0 || (b->vmi && disks_port < 0)); k++) {
        int p = c->migration_port_min + (start + k) % span;

        if (!port_free(j->address, p))
            continue;
        if (port < 0)
            port = p;
        else
            disks_port = p;
    }
    pthread_mutex_lock(&j->lock);
    if (port < 0 || (b->vmi && disks_port < 0)) {
        job_finish(j, b, NULL, "NoFreePort", "no free port in [%d, %d] on %s",
                   c->migration_port_min, c->migration_port_max, j->address);
        return;
    }
    last = disks_port > 0 ? disks_port : port;
    j->next_port = (last - c->migration_port_min + 1) % span;
    migr_jobs_peer_uri(j, dest, sizeof(dest));
    snprintf(uri, sizeof(uri), "tcp://%s:%d", host, port);
    if (b->vmi) {
        /* A VM made from a manifest: its seed and overlays wait for it
         * here before the target says it is ready (contract A.1). */
        struct migr_vmhost_error e = {"", ""};
        int r;

        pthread_mutex_unlock(&j->lock);
        r = migr_vmhost_prepare(c, j->o.sriov, b->domain, b->vmi, &vfs, &e);
        pthread_mutex_lock(&j->lock);
        if (r < 0) {
            job_finish(j, b, NULL, e.reason, "%s", e.message);
            return;
        }
    }
    /* "sriov": the VFs reserved here, for the migrate job's destination
     * XML (absent without SR-IOV interfaces). */
    if (json_array_size(vfs) == 0) {
        json_decref(vfs);
        vfs = NULL;
    }
    job_finish(j, b,
               json_pack("{s:s, s:i, s:s, s:s, s:o*, s:o*}", "migrationAddress",
                         j->address, "port", port, "migrationURI", uri,
                         "destLibvirtURI", dest, "disksPort",
                         disks_port > 0 ? json_integer(disks_port) : NULL,
                         "sriov", vfs),
               NULL, NULL);
}

/* start, stop and plug: migrator/vmhost's work, the lock dropped around
 * it. */
static void run_vm(struct migr_jobs *j, struct job *b)
{
    struct migr_vmhost_error e = {"", ""};
    json_t *res = NULL;
    int r;

    pthread_mutex_unlock(&j->lock);
    if (b->type == JOB_START)
        r = migr_vmhost_start(j->o.cfg, j->o.sriov, b->domain, b->vmi, &res,
                              &e);
    else if (b->type == JOB_PLUG)
        r = migr_vmhost_plug(j->o.cfg, j->o.sriov, b->domain, b->vmi, &res, &e);
    else
        r = migr_vmhost_stop(j->o.cfg, j->o.sriov, b->domain, (int)b->grace_s,
                             0, &e);
    pthread_mutex_lock(&j->lock);
    if (r < 0)
        job_finish(j, b, NULL, e.reason[0] ? e.reason : "Failed", "%s",
                   e.message);
    else
        job_finish(j, b, b->type != JOB_STOP ? res : json_object(), NULL, NULL);
}

/* The blocking migration call on a thread of its own, so that the job's
 * worker can monitor it. */
struct mig_call {
    struct migr_jobs *j;
    struct migr_virt *virt;
    const char *domain;
    struct migr_migrate_params p;
    bool done; /* under j->lock */
    int r;
    char err[512];
};

static void *mig_call_main(void *arg)
{
    struct mig_call *m = arg;
    int r =
        migr_virt_migrate(m->virt, m->domain, &m->p, m->err, sizeof(m->err));

    pthread_mutex_lock(&m->j->lock);
    m->r = r;
    m->done = true;
    pthread_cond_broadcast(&m->j->cond);
    pthread_mutex_unlock(&m->j->lock);
    return NULL;
}

/*
 * KubeVirt's legacy convergence (handleLegacyConvergence), in its order,
 * for a migration not in post-copy (post-copy is never aborted):
 *  1. past the completion deadline with allowWorkloadDisruption, once:
 *     post-copy when allowPostCopy, else pause the guest and double the
 *     deadline;
 *  2. no progress for progressTimeoutS: abort (ProgressTimeout);
 *  3. past the completion deadline: abort (CompletionTimeout).
 * Where KubeVirt would retry a post-copy switch or a pause that libvirt
 * refused on every sample, and so never reach its abort, this aborts at
 * once with libvirt's reason: a migration must end.  ELAPSED and STALLED
 * are ms since the start and since the last progress; *COMPLETION_MS is
 * the deadline (doubled here).  Returns the reason to abort with (WHY
 * filled) or NULL.  Called without the lock; takes it to set the mode.
 */
static const char *converge(struct migr_jobs *j, struct job *b,
                            struct migr_virt *virt, int64_t elapsed,
                            int64_t stalled, uint64_t best,
                            int64_t *completion_ms, uint64_t gb, char *why,
                            size_t len)
{
    const struct migrate_req *q = &b->mig;
    const int64_t second = j->o.second_ms;
    bool late = q->completion_per_gib_s && elapsed > *completion_ms;
    char err[300] = "";

    if (late && q->workload_disruption && !b->paused) {
        if (q->post_copy) {
            if (migr_virt_postcopy_start(virt, b->domain, err, sizeof(err)) ==
                0) {
                pthread_mutex_lock(&j->lock);
                b->postcopy = true;
                job_changed(j, b);
                pthread_mutex_unlock(&j->lock);
                return NULL;
            }
            snprintf(why, len,
                     "not completed after %lld s and post-copy could not "
                     "start (%s)",
                     (long long)(*completion_ms / second), err);
            return "CompletionTimeout";
        }
        if (migr_virt_suspend(virt, b->domain, err, sizeof(err)) < 0) {
            snprintf(why, len,
                     "not completed after %lld s and the guest could not "
                     "be paused (%s)",
                     (long long)(*completion_ms / second), err);
            return "CompletionTimeout";
        }
        pthread_mutex_lock(&j->lock);
        b->paused = true;
        job_changed(j, b);
        pthread_mutex_unlock(&j->lock);
        *completion_ms *= 2;
        late = false;
    }
    if (q->progress_timeout_s &&
        stalled > (int64_t)q->progress_timeout_s * second) {
        snprintf(why, len, "no progress for %llu s (dataRemaining %llu bytes)",
                 (unsigned long long)q->progress_timeout_s,
                 (unsigned long long)(best == UINT64_MAX ? 0 : best));
        return "ProgressTimeout";
    }
    if (late) {
        snprintf(
            why, len, "not completed after %lld s (%llu s per GB, %llu GB%s)",
            (long long)(*completion_ms / second),
            (unsigned long long)q->completion_per_gib_s, (unsigned long long)gb,
            b->paused ? ", doubled when the guest was paused" : "");
        return "CompletionTimeout";
    }
    return NULL;
}

/* ---------------------------------------------------------------------- */
/* SR-IOV unplug and replug around a migration (KubeVirt's order:          */
/* reference/kubevirt-migration.md §5)                                     */

/* A journal's "unplugged": [{"iface": string, "xml": string}]. */
static bool unplugged_ok(const json_t *v)
{
    const json_t *it;
    size_t i;

    if (!json_is_array(v))
        return false;
    json_array_foreach(
        v, i, it) if (!json_is_string(json_object_get(it, "iface")) ||
                      !json_is_string(json_object_get(it, "xml"))) return false;
    return true;
}

/* Whether the live domain still has a device with alias "ua-sriov-IFACE"
 * for any item of `items`; -errno when it cannot be read. */
static int sriov_any_present(struct migr_virt *virt, const char *domain,
                             const json_t *items)
{
    struct migr_dom_devices dv = {0};
    const json_t *it;
    size_t i;
    int r = migr_virt_devices(virt, domain, false, &dv, NULL, 0), found = 0;

    if (r < 0)
        return r;
    json_array_foreach(items, i, it)
    {
        char alias[160];

        snprintf(alias, sizeof(alias), MIGR_ALIAS_SRIOV "%s",
                 json_string_value(json_object_get(it, "iface")));
        for (size_t k = 0; k < dv.n_ifaces; k++)
            found |= strcmp(dv.ifaces[k].alias, alias) == 0;
    }
    migr_dom_devices_clear(&dv);
    return found;
}

/* Plug back the NICs b->unplugged names on this host's domain (a
 * migration that failed, or an unplug that did not finish): one the guest
 * still has (it never let it go) goes back into the persistent definition
 * only, the others into both.  What could not be plugged is said in `msg`
 * ("" when all were).  Lock held; dropped around libvirt. */
static void sriov_replug(struct migr_jobs *j, struct job *b,
                         struct migr_virt *virt, char *msg, size_t len)
{
    json_t *items = json_incref(b->unplugged);
    const json_t *it;
    size_t i, n = 0;

    msg[0] = '\0';
    pthread_mutex_unlock(&j->lock);
    json_array_foreach(items, i, it)
    {
        json_t *one = json_pack("[O]", it);
        char err[256] = "";
        int here = one ? sriov_any_present(virt, b->domain, one) : -ENOMEM;
        int r = here < 0 ? here
                         : migr_virt_attach(
                               virt, b->domain,
                               json_string_value(json_object_get(it, "xml")),
                               here ? MIGR_VIRT_CONFIG : MIGR_VIRT_LIVE_CONFIG,
                               err, sizeof(err));

        json_decref(one);
        if (r < 0 && n < len)
            n += (size_t)snprintf(
                msg + n, len - n, "%scannot plug \"%s\" back: %s",
                n ? "; " : "", json_string_value(json_object_get(it, "iface")),
                err[0] ? err : strerror(-r));
    }
    json_decref(items);
    pthread_mutex_lock(&j->lock);
}

/* Before the migration: hot-unplug each SR-IOV NIC the target's prepare
 * marked "unplug" (its network's migration = "unplug"; hostdev always),
 * as KubeVirt does.  Each one's live <interface> is kept in b->unplugged,
 * and journaled before the detach, so that a failed migration - or a
 * migrator restarted meanwhile - plugs the same NIC back.  The guest has
 * UNPLUG_TIMEOUT_S (seconds of the job table's) to let them go.  Returns
 * 0, or -1 with the job finished (UnplugFailed, UnplugTimeout, the NICs
 * plugged back).  Lock held; dropped around libvirt. */
#define UNPLUG_TIMEOUT_S 30
#define UNPLUG_POLL_MS   100
static int sriov_unplug(struct migr_jobs *j, struct job *b,
                        struct migr_virt *virt)
{
    const json_t *it;
    json_t *kept = json_array();
    char err[512] = "", back[512] = "", *xml = NULL;
    const char *reason = NULL;
    size_t i;
    int64_t until;
    int r;

    pthread_mutex_unlock(&j->lock);
    r = kept ? migr_virt_xml(virt, b->domain, false, &xml, err, sizeof(err))
             : -ENOMEM;
    json_array_foreach(b->mig.sriov, i, it)
    {
        const char *name = json_string_value(json_object_get(it, "iface"));
        char alias[160], *one = NULL;
        int k;

        if (r < 0 || !json_is_true(json_object_get(it, "unplug")))
            continue;
        snprintf(alias, sizeof(alias), MIGR_ALIAS_SRIOV "%s", name);
        k = migr_dom_iface_xml(xml, alias, &one);
        if (k == -ENOENT)
            continue; /* not in the guest: nothing to take out */
        if (k < 0 ||
            json_array_append_new(
                kept, json_pack("{s:s, s:s}", "iface", name, "xml", one)) < 0) {
            snprintf(err, sizeof(err), "cannot keep interface \"%s\": %s", name,
                     strerror(k < 0 ? -k : ENOMEM));
            r = k < 0 ? k : -ENOMEM;
        }
        free(one);
    }
    free(xml);
    pthread_mutex_lock(&j->lock);
    if (r < 0) {
        json_decref(kept);
        job_finish(j, b, NULL, "UnplugFailed", "%s", err);
        return -1;
    }
    if (json_array_size(kept) == 0) {
        json_decref(kept);
        return 0;
    }
    json_decref(b->unplugged);
    b->unplugged = kept;
    job_changed(j, b);
    if (journal_write(j, b) < 0) {
        job_finish(j, b, NULL, "JournalFailed",
                   "cannot write the journal under '%s'", j->o.cfg->state_dir);
        return -1;
    }
    pthread_mutex_unlock(&j->lock);
    json_array_foreach(kept, i, it)
    {
        char alias[160];

        snprintf(alias, sizeof(alias), MIGR_ALIAS_SRIOV "%s",
                 json_string_value(json_object_get(it, "iface")));
        r = migr_virt_detach_alias(virt, b->domain, alias, err, sizeof(err));
        if (r < 0) {
            reason = "UnplugFailed";
            break;
        }
    }
    if (reason) {
        /* Only those before it were taken out: the rest, and the one that
         * failed, are still in the guest and its definition, and plugging
         * them back would define them twice. */
        pthread_mutex_lock(&j->lock);
        while (json_array_size(kept) > i)
            json_array_remove(kept, json_array_size(kept) - 1);
        job_changed(j, b);
        (void)journal_write(j, b);
        pthread_mutex_unlock(&j->lock);
    }
    /* libvirt returns once the request is made; the guest's PCI hot-unplug
     * takes its time (about 0.3 s on the lab's guest). */
    until = mono_ms() + (int64_t)UNPLUG_TIMEOUT_S * j->o.second_ms;
    while (!reason && (r = sriov_any_present(virt, b->domain, kept)) > 0) {
        if (mono_ms() >= until) {
            reason = "UnplugTimeout";
            snprintf(err, sizeof(err),
                     "the guest did not release its SR-IOV interfaces within "
                     "%d s",
                     UNPLUG_TIMEOUT_S);
            break;
        }
        usleep(UNPLUG_POLL_MS * 1000);
    }
    if (!reason && r < 0) {
        reason = "UnplugFailed";
        snprintf(err, sizeof(err), "cannot read the domain's devices: %s",
                 strerror(-r));
    }
    pthread_mutex_lock(&j->lock);
    if (!reason)
        return 0;
    sriov_replug(j, b, virt, back, sizeof(back));
    job_finish(j, b, NULL, reason, "%s%s%s", err, back[0] ? "; " : "", back);
    return -1;
}

/* A successful migrate job's result names the NICs it unplugged
 * ("unplugged": ["sriov-net1"]): orchestratord's plug job on the target
 * brings them back. */
static void unplugged_result(const struct job *b, json_t *res)
{
    json_t *names = json_array();
    const json_t *it;
    size_t i;

    json_array_foreach(b->unplugged, i, it)
        json_array_append(names, json_object_get(it, "iface"));
    if (res && json_array_size(names))
        json_object_set(res, "unplugged", names);
    json_decref(names);
}

/* The destination XML of a macvtap migration: the domain's migratable XML
 * with each SR-IOV direct interface in `vfs` ([{"iface","netdev"}], the
 * target prepare's) pointed at the target's VF netdev.  Items without a
 * netdev (hostdev mode) or to unplug are left out.  No lock held. */
static int dest_xml_make(struct migr_virt *virt, const char *domain,
                         const json_t *vfs, char **ret, char *err,
                         size_t errlen)
{
    struct migr_domxml_retarget *map;
    size_t n = 0;
    char *xml = NULL;
    int r;

    *ret = NULL;
    map = calloc(json_array_size(vfs) + 1, sizeof(*map));
    if (!map) {
        snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    for (size_t i = 0; i < json_array_size(vfs); i++) {
        const json_t *it = json_array_get(vfs, i);
        const char *nd = json_string_value(json_object_get(it, "netdev"));

        /* An unplugged NIC is not in the XML at all. */
        if (nd && *nd && !json_is_true(json_object_get(it, "unplug")))
            map[n++] = (struct migr_domxml_retarget){
                json_string_value(json_object_get(it, "iface")), nd};
    }
    r = n ? migr_virt_xml(virt, domain, true, &xml, err, errlen) : 0;
    if (r == 0 && n)
        r = migr_domxml_retarget_macvtap(xml, map, n, ret, err, errlen);
    free(xml);
    free(map);
    return r;
}

static void run_migrate(struct migr_jobs *j, struct job *b)
{
    const struct migrate_req *q = &b->mig;
    const int64_t second = j->o.second_ms;
    struct mig_call m = {.j = j, .domain = b->domain};
    struct migr_dom_info info;
    struct migr_job_stats st;
    struct migr_virt *virt = NULL;
    const char *reason = NULL; /* why we abort, once we do */
    char err[512] = "", why[256] = "";
    uint64_t gb, best = UINT64_MAX;
    int64_t t0, last_progress, completion_ms;
    bool downtime_set = false, aborted = false;
    char *dest_xml = NULL;
    pthread_t th;
    int r;

    pthread_mutex_unlock(&j->lock);
    r = migr_virt_open(j->o.cfg->libvirt_uri, &virt, err, sizeof(err));
    if (r == 0)
        r = migr_virt_info(virt, b->domain, &info, err, sizeof(err));
    pthread_mutex_lock(&j->lock);
    if (r < 0) {
        job_finish(j, b, NULL,
                   r == -ENOENT ? "DomainNotFound" : "MigrationFailed", "%s",
                   err);
        goto out;
    }
    if (b->abort_requested) {
        job_finish(j, b, NULL, "Aborted", "aborted before it started");
        goto out;
    }
    if (journal_write(j, b) < 0) {
        job_finish(j, b, NULL, "JournalFailed",
                   "cannot write the journal under '%s'", j->o.cfg->state_dir);
        goto out;
    }
    if (q->sriov && sriov_unplug(j, b, virt) < 0)
        goto out;
    if (q->sriov) {
        pthread_mutex_unlock(&j->lock);
        r = dest_xml_make(virt, b->domain, q->sriov, &dest_xml, err,
                          sizeof(err));
        pthread_mutex_lock(&j->lock);
        if (r < 0) {
            char back[512];

            sriov_replug(j, b, virt, back, sizeof(back));
            job_finish(j, b, NULL, "MigrationFailed",
                       "the destination XML naming the target's VFs: %s%s%s",
                       err, back[0] ? "; " : "", back);
            goto out;
        }
    }
    m.virt = virt;
    m.p = (struct migr_migrate_params){
        .dest_xml = dest_xml,
        .dest_uri = q->dest_uri,
        .migrate_uri = q->migration_uri,
        .bandwidth_mib = q->bandwidth_mibps,
        .parallel_connections = q->parallel,
        .auto_converge = q->auto_converge,
        .post_copy = q->post_copy,
        .unsafe = q->unsafe,
        .tls = !q->disable_tls,
        .block_migration = q->copy_storage,
        .disks_port = (int)q->disks_port,
    };
    r = pthread_create(&th, NULL, mig_call_main, &m);
    if (r != 0) {
        char back[512];

        sriov_replug(j, b, virt, back, sizeof(back));
        job_finish(j, b, NULL, "MigrationFailed",
                   "cannot start a thread: %s%s%s", strerror(r),
                   back[0] ? "; " : "", back);
        goto out;
    }
    /* KubeVirt's completion time (getVMIMigrationDataSize): the guest's
     * memory scaled to decimal GB, rounded up - 8 GiB counts as 9. */
    gb = (info.memory_kib * 1024 + 999999999) / 1000000000;
    if (gb == 0)
        gb = 1;
    completion_ms = (int64_t)(q->completion_per_gib_s * gb) * second;
    t0 = last_progress = mono_ms();
    while (!m.done) {
        struct timespec until;
        int64_t now;

        deadline_in(&until, j->o.monitor_interval_ms);
        while (!m.done && !(b->abort_requested && !reason) &&
               pthread_cond_timedwait(&j->cond, &j->lock, &until) == 0)
            ;
        if (m.done)
            break;
        if (b->abort_requested && !reason)
            reason = "Aborted";
        pthread_mutex_unlock(&j->lock);

        r = migr_virt_job_stats(virt, b->domain, false, &st, NULL, 0);
        now = mono_ms();
        if (r == 0 && st.kind == MIGR_JOB_ACTIVE && st.migration) {
            /* A sample without memory statistics (libvirt leaves them out
             * while QEMU's migration is still in setup) reads as 0 bytes
             * remaining: taken as the best, it would leave nothing to count
             * as progress afterwards. */
            if (st.data_remaining > 0 && st.data_remaining < best) {
                best = st.data_remaining;
                last_progress = now;
            }
            /* The API is meant for a running migration (peers-migration.md
             * §4.1): the first time one is seen. */
            if (!downtime_set && q->max_downtime_ms) {
                downtime_set = true;
                (void)migr_virt_downtime_set(virt, b->domain,
                                             q->max_downtime_ms, NULL, 0);
            }
        }
        if (!reason && !b->postcopy)
            reason = converge(j, b, virt, now - t0, now - last_progress, best,
                              &completion_ms, gb, why, sizeof(why));
        /* Until libvirt takes the abort (the job may not have started),
         * every round tries again. */
        if (reason && !aborted && !b->postcopy)
            aborted = migr_virt_job_abort(virt, b->domain, NULL, 0) == 0;

        pthread_mutex_lock(&j->lock);
        if (r == 0 && st.kind == MIGR_JOB_ACTIVE && st.migration) {
            b->progress = (struct progress){
                .data_total = st.data_total,
                .data_processed = st.data_processed,
                .data_remaining = st.data_remaining,
                .memory_bps = st.memory_bps,
                .dirty_rate = st.dirty_rate,
                .iteration = st.iteration,
                .time_elapsed_ms = st.time_elapsed_ms,
            };
            job_changed(j, b);
        }
    }
    pthread_mutex_unlock(&j->lock);
    pthread_join(th, NULL);

    if (m.r == 0) {
        struct migr_job_stats done;
        struct progress p;
        json_t *res;

        /* The completed job's statistics (real downtime), when libvirt
         * still has the domain; else the last sample. */
        r = migr_virt_job_stats(virt, b->domain, true, &done, NULL, 0);
        /* A VM made from a manifest left its seed and overlays here; they
         * are the target's now (kept while the domain is still defined). */
        (void)migr_vmhost_release(j->o.cfg, j->o.sriov, b->domain, NULL);
        pthread_mutex_lock(&j->lock);
        p = b->progress;
        /* The progress's last word: nothing remains.  The completed job's
         * figures when libvirt still has them (the source undefines the
         * domain, so mostly not), else the last sample with what remained
         * counted as sent - after a switch to post-copy the target pulled
         * the rest after it, and the record must not stay at pre-copy's
         * numbers. */
        if (r == 0 && done.data_processed) {
            p.data_processed = done.data_processed;
        } else {
            p.data_processed += p.data_remaining;
        }
        if (r == 0 && done.data_total)
            p.data_total = done.data_total;
        if (p.data_processed > p.data_total)
            p.data_total = p.data_processed;
        p.data_remaining = 0;
        p.time_elapsed_ms = r == 0 && done.time_elapsed_ms
                                ? done.time_elapsed_ms
                                : (uint64_t)(mono_ms() - t0);
        b->progress = p;
        res = json_pack("{s:I, s:I, s:I, s:s}", "downtimeMs",
                        (json_int_t)(r == 0 ? done.downtime_ms : 0),
                        "timeElapsedMs", (json_int_t)p.time_elapsed_ms,
                        "dataTotal", (json_int_t)p.data_total, "mode",
                        job_mode(b));
        unplugged_result(b, res);
        job_finish(j, b, res, NULL, NULL);
    } else {
        /* Paused for this migration, the guest stays here: it runs on. */
        char back[512];

        if (b->paused)
            (void)migr_virt_resume(virt, b->domain, NULL, 0);
        pthread_mutex_lock(&j->lock);
        /* The guest runs on here: its NICs come back. */
        sriov_replug(j, b, virt, back, sizeof(back));
        if (reason && strcmp(reason, "Aborted") == 0)
            job_finish(j, b, NULL, "Aborted", "aborted by request: %s%s%s",
                       m.err, back[0] ? "; " : "", back);
        else if (reason)
            job_finish(j, b, NULL, reason, "%s: %s%s%s", why, m.err,
                       back[0] ? "; " : "", back);
        else
            job_finish(j, b, NULL,
                       m.r == -ENOENT ? "DomainNotFound" : "MigrationFailed",
                       "%s%s%s", m.err, back[0] ? "; " : "", back);
    }
out:
    pthread_mutex_unlock(&j->lock);
    free(dest_xml);
    migr_virt_close(virt);
    pthread_mutex_lock(&j->lock);
}

static void run_abort(struct migr_jobs *j, struct job *b)
{
    struct job *m = job_find(j, b->abort_target);

    if (!m || m->type != JOB_MIGRATE || final(m->state)) {
        if (m && m->type == JOB_MIGRATE && m->state == ST_SUCCEEDED)
            job_finish(j, b, NULL, "TooLate",
                       "migrate job '%s' has already succeeded",
                       b->abort_target);
        else
            job_finish(j, b, NULL, "NotRunning",
                       "no migrate job '%s' is running", b->abort_target);
        return;
    }
    if (m->state == ST_PENDING) {
        /* Not started: it never will be.  Waiting for a worker to take it
         * could wait behind other migrations, or for ever at a stop. */
        m->abort_requested = true;
        m->pins++;
        job_finish(j, m, NULL, "Aborted", "aborted before it started");
        m->pins--;
        job_finish(j, b, json_pack("{s:s}", "abortStatus", "Succeeded"), NULL,
                   NULL);
        return;
    }
    if (m->postcopy) {
        job_finish(j, b, NULL, "TooLate",
                   "migrate job '%s' is in post-copy and cannot be aborted",
                   b->abort_target);
        return;
    }
    /* The migrate job's own worker calls libvirt (one place aborts); this
     * one waits for the outcome. */
    m->abort_requested = true;
    m->pins++;
    job_changed(j, m);
    while (!final(m->state))
        pthread_cond_wait(&j->cond, &j->lock);
    m->pins--;
    if (m->state == ST_SUCCEEDED)
        job_finish(j, b, NULL, "TooLate",
                   "migrate job '%s' succeeded before the abort took",
                   b->abort_target);
    else
        job_finish(j, b, json_pack("{s:s}", "abortStatus", "Succeeded"), NULL,
                   NULL);
}

/* Undo a prepare whose migration never ran or failed (lock held, dropped
 * for libvirt and the disk).  A prepare still Pending never starts; one
 * Running is waited for.  The port a prepare gives is not held (QEMU
 * binds it when the migration comes), so what is left to undo is the
 * per-VM directory state_dir/vms/DOMAIN/ - removed only when libvirt does
 * not know the domain here at all: a domain defined here, running or not,
 * keeps its files.  Succeeds also when there was nothing. */
static void run_release(struct migr_jobs *j, struct job *b)
{
    struct job *p = job_find(j, b->release_of);
    struct migr_vmhost_error e = {"", ""};
    char dir[4096 + 320];
    bool here = false, removed = false, have;
    struct stat st;
    int r;

    if (p && p->type == JOB_PREPARE && p->state == ST_PENDING) {
        p->pins++;
        job_finish(j, p, NULL, "Released", "released before it started");
        p->pins--;
    } else if (p && p->type == JOB_PREPARE) {
        p->pins++;
        while (!final(p->state))
            pthread_cond_wait(&j->cond, &j->lock);
        p->pins--;
    }
    pthread_mutex_unlock(&j->lock);
    /* migrator/vmhost owns the per-VM directory: it removes it unless
     * libvirt knows the domain here.  A domain name that is not one path
     * component (-EINVAL) names no directory of ours: nothing to undo. */
    have = migr_vmhost_dir(j->o.cfg, b->domain, dir, sizeof(dir)) == 0 &&
           lstat(dir, &st) == 0;
    r = migr_vmhost_release(j->o.cfg, j->o.sriov, b->domain, &e);
    if (r == -EBUSY)
        here = true;
    else if (r == 0)
        removed = have;
    if (r == -EBUSY || r == -EINVAL)
        r = 0;
    pthread_mutex_lock(&j->lock);
    if (r < 0)
        job_finish(j, b, NULL, "ReleaseFailed", "%s", e.message);
    else
        job_finish(j, b,
                   json_pack("{s:b, s:b}", "domainHere", here, "filesRemoved",
                             removed),
                   NULL, NULL);
}

/* ---------------------------------------------------------------------- */
/* Recovery after a restart: the journal read back, migrations re-attached */
/* (issue 10).  migr_jobs_recover runs on the main thread before the       */
/* workers start; run_reattach on a worker.                                */

/* A finished job's journal is kept this long, then removed at a start. */
#define JOURNAL_KEEP_S (24 * 3600)

/* Where a re-attached migration's domain is, as libvirt says it. */
enum reattach_where {
    RW_UNKNOWN,   /* a libvirt could not be asked: ask again */
    RW_MIGRATING, /* the libvirt job runs here: monitor it */
    RW_HERE,      /* it runs here, no migration job: the migration failed */
    RW_THERE,     /* gone or shut off here, running at the destination */
    RW_NOWHERE,   /* gone or shut off here and at the destination */
};

/* The destination's view of `domain`: 1 running there (*done: the
 * incoming job's completed statistics, as far as libvirt kept them), 0 not
 * there (no such domain, or shut off), -1 unknown (no connection, or a
 * state in between such as paused while the memory comes in). */
static int reattach_dest(const char *uri, const char *domain,
                         struct migr_job_stats *done, char *err, size_t errlen)
{
    struct migr_virt *dest = NULL;
    struct migr_dom_info info;
    int r = migr_virt_open(uri, &dest, err, errlen), ret;

    if (r == 0)
        r = migr_virt_info(dest, domain, &info, err, errlen);
    if (r == -ENOENT)
        ret = 0;
    else if (r < 0)
        ret = -1;
    else if (info.state == MIGR_DOM_RUNNING && !info.migrating)
        ret = 1;
    else
        ret = info.id < 0 ? 0 : -1;
    if (ret == 1 && migr_virt_job_stats(dest, domain, true, done, NULL, 0) < 0)
        memset(done, 0, sizeof(*done));
    migr_virt_close(dest);
    return ret;
}

/* Look at domain `b->domain` here (reconnecting *here when needed) and, if
 * the libvirt job is over, at the destination.  No lock held.  *info is
 * filled for RW_MIGRATING. */
static enum reattach_where
reattach_look(struct migr_jobs *j, const struct job *b, struct migr_virt **here,
              struct migr_dom_info *info, struct migr_job_stats *done,
              char *err, size_t errlen)
{
    bool gone;
    int r, d;

    if (!*here && migr_virt_open(j->o.cfg->libvirt_uri, here, err, errlen) < 0)
        return RW_UNKNOWN;
    r = migr_virt_info(*here, b->domain, info, err, errlen);
    if (r < 0 && r != -ENOENT) {
        /* The connection may be what failed (libvirtd restarted). */
        migr_virt_close(*here);
        *here = NULL;
        return RW_UNKNOWN;
    }
    if (r == 0 && info->migrating)
        return RW_MIGRATING;
    if (r == 0 && info->state == MIGR_DOM_RUNNING)
        return RW_HERE;
    /* Gone (UNDEFINE_SOURCE), shut off (migrated, not undefined yet), or
     * active in another state (paused): the destination decides. */
    gone = r == -ENOENT || info->id < 0;
    d = reattach_dest(b->mig.dest_uri, b->domain, done, err, errlen);
    if (d < 0)
        return RW_UNKNOWN;
    if (gone)
        return d ? RW_THERE : RW_NOWHERE;
    /* Paused here: running there too would be a switch-over in between. */
    return d ? RW_UNKNOWN : RW_HERE;
}

/*
 * Follow a migration that libvirt carried on while this migrator was gone
 * (libvirtd runs a peer-to-peer migration without its client).  Progress
 * and the timeouts as run_migrate has them, from fresh baselines (how long
 * it ran before is not known to the monitor); the outcome from where the
 * domain runs once libvirt's job is over, never guessed: while neither
 * libvirt can say, the job stays Running and asks again.  A stop leaves it
 * Running, for the next start to re-attach.  Lock held on entry and exit.
 */
static void run_reattach(struct migr_jobs *j, struct job *b)
{
    const struct migrate_req *q = &b->mig;
    const int64_t second = j->o.second_ms;
    struct migr_virt *here = NULL;
    const char *reason = NULL; /* why we abort, once we do */
    char err[512] = "", why[256] = "";
    uint64_t gib = 1, best = UINT64_MAX;
    int64_t t0 = 0, last_progress = 0, completion_ms = 0;
    bool seen = false, aborted = false, postcopy_tried = false;
    bool downtime_set = false;

    while (!j->stop) {
        struct migr_dom_info info;
        struct migr_job_stats st, done = {0};
        enum reattach_where w;
        bool sampled = false, postcopy;
        int64_t now;

        if (b->abort_requested && !reason)
            reason = "Aborted";
        postcopy = b->postcopy;
        pthread_mutex_unlock(&j->lock);
        w = reattach_look(j, b, &here, &info, &done, err, sizeof(err));
        /* Gone to the destination: the source's cleanup, as a migration
         * that ended without a restart does (files, the VFs it held). */
        if (w == RW_THERE)
            (void)migr_vmhost_release(j->o.cfg, j->o.sriov, b->domain, NULL);
        now = mono_ms();
        if (w == RW_MIGRATING) {
            if (!seen) {
                seen = true;
                t0 = last_progress = now;
                gib = (info.memory_kib + 1024 * 1024 - 1) / (1024 * 1024);
                completion_ms =
                    (int64_t)(q->completion_per_gib_s * (gib ? gib : 1)) *
                    second;
            }
            if (info.state_reason &&
                strcmp(info.state_reason, "post-copy") == 0)
                postcopy = true;
            sampled = migr_virt_job_stats(here, b->domain, false, &st, NULL,
                                          0) == 0 &&
                      st.kind == MIGR_JOB_ACTIVE && st.migration;
            if (sampled && st.data_remaining > 0 && st.data_remaining < best) {
                best = st.data_remaining;
                last_progress = now;
            }
            /* The process before may have died before it set it. */
            if (sampled && !downtime_set && q->max_downtime_ms) {
                downtime_set = true;
                (void)migr_virt_downtime_set(here, b->domain,
                                             q->max_downtime_ms, NULL, 0);
            }
            if (!reason && !postcopy) {
                if (q->progress_timeout_s &&
                    now - last_progress >
                        (int64_t)q->progress_timeout_s * second) {
                    reason = "ProgressTimeout";
                    snprintf(
                        why, sizeof(why),
                        "no progress for %llu s since the migrator "
                        "re-attached (dataRemaining %llu bytes)",
                        (unsigned long long)q->progress_timeout_s,
                        (unsigned long long)(best == UINT64_MAX ? 0 : best));
                } else if (q->completion_per_gib_s &&
                           now - t0 > completion_ms) {
                    reason = "CompletionTimeout";
                    snprintf(why, sizeof(why),
                             "not completed %lld s after the migrator "
                             "re-attached (%llu s per GiB, %llu GiB)",
                             (long long)(completion_ms / second),
                             (unsigned long long)q->completion_per_gib_s,
                             (unsigned long long)gib);
                }
                if (reason && q->post_copy && !postcopy_tried) {
                    postcopy_tried = true;
                    if (migr_virt_postcopy_start(here, b->domain, NULL, 0) ==
                        0) {
                        postcopy = true;
                        reason = NULL; /* post-copy is never aborted */
                    }
                }
            }
            if (reason && !aborted && !postcopy)
                aborted = migr_virt_job_abort(here, b->domain, NULL, 0) == 0;
        }
        pthread_mutex_lock(&j->lock);
        if (postcopy != b->postcopy) {
            b->postcopy = postcopy;
            job_changed(j, b);
        }
        if (sampled) {
            b->progress = (struct progress){
                .data_total = st.data_total,
                .data_processed = st.data_processed,
                .data_remaining = st.data_remaining,
                .memory_bps = st.memory_bps,
                .dirty_rate = st.dirty_rate,
                .iteration = st.iteration,
                .time_elapsed_ms = st.time_elapsed_ms,
            };
            job_changed(j, b);
        }
        if (w == RW_THERE) {
            const struct progress *p = &b->progress;

            /* The destination's completed statistics when it kept them
             * (the source's went with the domain), else the last sample. */
            json_t *res = json_pack(
                "{s:I, s:I, s:I, s:s}", "downtimeMs",
                (json_int_t)done.downtime_ms, "timeElapsedMs",
                (json_int_t)(done.time_elapsed_ms ? done.time_elapsed_ms
                                                  : p->time_elapsed_ms),
                "dataTotal",
                (json_int_t)(done.data_total ? done.data_total : p->data_total),
                "mode", b->postcopy ? "PostCopy" : "PreCopy");

            unplugged_result(b, res);
            job_finish(j, b, res, NULL, NULL);
            break;
        }
        if (w == RW_HERE || w == RW_NOWHERE) {
            const char *where =
                w == RW_HERE ? "the domain still runs on this host"
                             : "the domain runs neither on this host nor at "
                               "the destination";
            char back[512] = "";

            /* It runs on here: the NICs the process before took out come
             * back. */
            if (w == RW_HERE && json_array_size(b->unplugged))
                sriov_replug(j, b, here, back, sizeof(back));

            if (b->abort_requested || (reason && !strcmp(reason, "Aborted")))
                job_finish(j, b, NULL, "Aborted",
                           "aborted by request; after a migrator restart "
                           "%s%s%s",
                           where, back[0] ? "; " : "", back);
            else if (reason)
                job_finish(j, b, NULL, reason, "%s; %s%s%s", why, where,
                           back[0] ? "; " : "", back);
            else
                job_finish(j, b, NULL, "MigrationFailed",
                           "the migration ended while the migrator was "
                           "restarting; %s%s%s",
                           where, back[0] ? "; " : "", back);
            break;
        }
        /* Until the next look, unless an abort is asked. */
        {
            struct timespec until;

            deadline_in(&until, j->o.monitor_interval_ms);
            while (!j->stop && !(b->abort_requested && !reason) &&
                   pthread_cond_timedwait(&j->cond, &j->lock, &until) == 0)
                ;
        }
    }
    pthread_mutex_unlock(&j->lock);
    migr_virt_close(here);
    pthread_mutex_lock(&j->lock);
}

/* "2026-12-02T15:54:16Z" (as rfc3339() writes it) or null -> *ret (0 for
 * null).  Returns false when it is neither. */
static bool journal_time(json_t *v, time_t *ret)
{
    struct tm tm = {0};
    char z = 0;

    *ret = 0;
    if (!v || json_is_null(v))
        return true;
    if (!json_is_string(v) ||
        sscanf(json_string_value(v), "%4d-%2d-%2dT%2d:%2d:%2d%c", &tm.tm_year,
               &tm.tm_mon, &tm.tm_mday, &tm.tm_hour, &tm.tm_min, &tm.tm_sec,
               &z) != 7 ||
        z != 'Z')
        return false;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    *ret = timegm(&tm);
    return *ret != (time_t)-1;
}

static uint64_t journal_u64(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);

    return json_is_integer(v) && json_integer_value(v) > 0
               ? (uint64_t)json_integer_value(v)
               : 0;
}

static int journal_bad(char *why, size_t whylen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int journal_bad(char *why, size_t whylen, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(why, whylen, fmt, ap);
    va_end(ap);
    return -EINVAL;
}

/* A job from journal text `doc` of file ID.json (`id` without ".json"):
 * the request checked as a POST is, the job's state as it was written.
 * Returns 0 and *ret, -EINVAL with `why`, -ENOMEM. */
static int journal_job(json_t *doc, const char *id, struct job **ret, char *why,
                       size_t whylen)
{
    json_t *jo = json_object_get(doc, "job"), *req, *v, *p;
    struct perr e = {.field = ""};
    struct job *b = NULL;
    const char *state;
    int r, s;

    if (!json_is_object(doc) || !json_is_object(jo))
        return journal_bad(why, whylen, "not a journal: no \"job\" object");
    req = json_object_get(doc, "request");
    if (!json_is_object(req))
        return journal_bad(why, whylen, "not a journal: no \"request\"");
    r = job_parse(req, &b, &e);
    if (r == -EINVAL)
        return journal_bad(why, whylen, "request: %s", e.message);
    if (r < 0)
        return r;
    r = -EINVAL;
    if (strcmp(b->id, id) != 0) {
        journal_bad(why, whylen, "request.id: \"%s\" is not the file's name",
                    b->id);
        goto fail;
    }
    v = json_object_get(jo, "type");
    if (!json_is_string(v) ||
        strcmp(json_string_value(v), type_names[b->type]) != 0) {
        journal_bad(why, whylen, "job.type: not the request's \"%s\"",
                    type_names[b->type]);
        goto fail;
    }
    state = json_string_value(json_object_get(jo, "state"));
    for (s = 0; state && s < (int)(sizeof(state_names) / sizeof(*state_names));
         s++)
        if (strcmp(state, state_names[s]) == 0)
            break;
    if (!state || s == (int)(sizeof(state_names) / sizeof(*state_names))) {
        journal_bad(why, whylen,
                    "job.state: must be Pending, Running, Succeeded or "
                    "Failed");
        goto fail;
    }
    b->state = (enum job_state)s;
    if (!journal_time(json_object_get(jo, "createdAt"), &b->created) ||
        !journal_time(json_object_get(jo, "startedAt"), &b->started) ||
        !journal_time(json_object_get(jo, "finishedAt"), &b->finished)) {
        journal_bad(why, whylen, "job: a time is not RFC 3339 UTC");
        goto fail;
    }
    if (b->state == ST_FAILED) {
        const char *reason, *message;

        v = json_object_get(jo, "error");
        reason = json_string_value(json_object_get(v, "reason"));
        message = json_string_value(json_object_get(v, "message"));
        if (!reason || !message) {
            journal_bad(why, whylen,
                        "job.error: a Failed job needs reason and message");
            goto fail;
        }
        snprintf(b->reason, sizeof(b->reason), "%s", reason);
        if (!(b->message = strdup(message))) {
            r = -ENOMEM;
            goto fail;
        }
    }
    if (b->state == ST_SUCCEEDED) {
        v = json_object_get(jo, "result");
        if (v && !json_is_object(v)) {
            journal_bad(why, whylen, "job.result: must be an object");
            goto fail;
        }
        b->result = json_incref(v);
    }
    if (!b->created || (final(b->state) && !b->finished)) {
        journal_bad(why, whylen, "job: createdAt%s missing",
                    final(b->state) ? " or finishedAt" : "");
        goto fail;
    }
    p = json_object_get(jo, "progress");
    b->progress = (struct progress){
        .data_total = journal_u64(p, "dataTotal"),
        .data_processed = journal_u64(p, "dataProcessed"),
        .data_remaining = journal_u64(p, "dataRemaining"),
        .memory_bps = journal_u64(p, "memoryTransferRate"),
        .dirty_rate = journal_u64(p, "dirtyRate"),
        .iteration = journal_u64(p, "iteration"),
        .time_elapsed_ms = journal_u64(p, "timeElapsedMs"),
    };
    v = json_object_get(p, "mode");
    b->postcopy =
        json_is_string(v) && !strcmp(json_string_value(v), "PostCopy");
    b->abort_requested = json_is_true(json_object_get(jo, "abortRequested"));
    b->reattached = json_is_true(json_object_get(jo, "reattached"));
    v = json_object_get(jo, "unplugged");
    if (v && !unplugged_ok(v)) {
        journal_bad(why, whylen,
                    "job.unplugged: must be a list of {\"iface\", \"xml\"}");
        goto fail;
    }
    b->unplugged = json_incref(v);
    *ret = b;
    return 0;
fail:
    job_free(b);
    return r;
}

/* Read state_dir/jobs/NAME (NAME ends in ".json").  Returns 0 and *ret,
 * -EINVAL with `why` (the content is bad), another -errno (cannot read). */
static int journal_read(const char *dir, const char *name, struct job **ret,
                        char *why, size_t whylen)
{
    char path[4096 + 256], id[256];
    json_error_t jerr;
    json_t *doc;
    int r;

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    snprintf(id, sizeof(id), "%.*s", (int)(strlen(name) - 5), name);
    if (!id_ok(id))
        return journal_bad(why, whylen, "the name is not a job id");
    doc = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
    if (!doc) {
        if (access(path, R_OK) < 0) {
            r = -errno;
            snprintf(why, whylen, "%s", strerror(-r));
            return r;
        }
        return journal_bad(why, whylen, "not JSON (truncated?): %s at %d:%d",
                           jerr.text, jerr.line, jerr.column);
    }
    r = journal_job(doc, id, ret, why, whylen);
    json_decref(doc);
    return r;
}

static int recovery_note(struct migr_jobs_recovery *rec, const char *name,
                         const char *why, bool moved)
{
    char **bad = realloc(rec->bad, (rec->n_bad + 1) * sizeof(*bad));

    if (!bad)
        return -ENOMEM;
    rec->bad = bad;
    if (asprintf(&bad[rec->n_bad], "%s: %s%s", name, why,
                 moved ? " (moved aside to *.corrupt)" : "") < 0)
        return -ENOMEM;
    rec->n_bad++;
    return 0;
}

/* Insert `b` in creation order (then id order: the journal's files come in
 * no order). */
static void recovery_insert(struct migr_jobs *j, struct job *b)
{
    struct job **pp = &j->jobs;

    while (*pp &&
           ((*pp)->created < b->created ||
            ((*pp)->created == b->created && strcmp((*pp)->id, b->id) < 0)))
        pp = &(*pp)->next;
    b->next = *pp;
    *pp = b;
}

/* Say in rec->vf_lost that `b`'s interface `iface` (of `type`, on
 * `source`, with `mac`) did not get its VF back: `r` says why. */
static int recover_vf_lost(struct migr_jobs_recovery *rec, const struct job *b,
                           const char *iface, const char *type,
                           const char *source, const char *mac, int r)
{
    char **lost = realloc(rec->vf_lost, (rec->n_vf_lost + 1) * sizeof(*lost));

    if (!lost)
        return -ENOMEM;
    rec->vf_lost = lost;
    if (asprintf(&lost[rec->n_vf_lost],
                 "job '%s' (domain '%s') interface "
                 "'%s' (%s '%s', MAC %s): %s",
                 b->id, b->domain, iface ? iface : "?", type,
                 source ? source : "", mac ? mac : "none",
                 migr_sriov_adopt_why(r)) < 0)
        return -ENOMEM;
    rec->n_vf_lost++;
    return 0;
}

/* Take back, for `b`'s domain, the VF that an interface of `type`
 * ("direct": `source` is the VF netdev, "hostdev": its PCI address) with
 * `mac` holds; a VF not taken back is a line in rec->vf_lost. */
static int recover_vf(struct migr_jobs *j, struct migr_jobs_recovery *rec,
                      const struct job *b, const char *iface, const char *type,
                      const char *source, const char *mac)
{
    int r = migr_sriov_adopt_iface(j->o.sriov, j->o.cfg, b->domain, type,
                                   source ? source : "", mac ? mac : "", NULL,
                                   NULL);

    if (r == 0) {
        rec->vfs_adopted++;
        return 0;
    }
    if (r == -ENOMEM)
        return r;
    return recover_vf_lost(rec, b, iface, type, source, mac, r);
}

/* Whether a job for `b`'s domain came after `b` (the list is in creation
 * order): its migration came and went, or it was released or stopped. */
static bool domain_moved_on(const struct job *b)
{
    for (const struct job *o = b->next; o; o = o->next)
        if (o->domain && strcmp(o->domain, b->domain) == 0)
            return true;
    return false;
}

/* The agent takes back the VFs its domains name (migr_agent_sriov_adopt)
 * before the journal is read.  Two kinds only the journal knows: the VFs a
 * finished prepare reserved for a migration that has not come yet (no job
 * for that domain after it), and those a migrate job in flight unplugged
 * from the guest (the domain no longer names them).  Taken back, no other
 * reservation gets them meanwhile, and the release, the plug back or the
 * end of the migration clears them as without the restart. */
static int recover_vfs(struct migr_jobs *j, struct migr_jobs_recovery *rec)
{
    int r = 0;

    if (!j->o.sriov)
        return 0;
    for (struct job *b = j->jobs; b && r >= 0; b = b->next) {
        size_t i;
        json_t *it;

        if (b->type == JOB_PREPARE && b->state == ST_SUCCEEDED && b->domain &&
            !domain_moved_on(b)) {
            json_array_foreach(json_object_get(b->result, "sriov"), i, it)
            {
                const char *mode =
                    json_string_value(json_object_get(it, "mode"));
                bool direct = mode && strcmp(mode, "macvtap") == 0;

                r = recover_vf(j, rec, b,
                               json_string_value(json_object_get(it, "iface")),
                               direct ? "direct" : "hostdev",
                               json_string_value(json_object_get(
                                   it, direct ? "netdev" : "pci")),
                               json_string_value(json_object_get(it, "mac")));
                if (r < 0)
                    break;
            }
        } else if (b->type == JOB_MIGRATE && !final(b->state)) {
            json_array_foreach(b->unplugged, i, it)
            {
                const char *xml = json_string_value(json_object_get(it, "xml"));
                struct migr_dom_devices dv = {0};
                char *doc = NULL;

                /* The kept <interface> alone, read as a domain's. */
                if (asprintf(&doc, "<domain><devices>%s</devices></domain>",
                             xml) < 0)
                    return -ENOMEM;
                r = migr_dom_devices_parse(doc, &dv);
                free(doc);
                if (r == 0 && dv.n_ifaces == 1)
                    r = recover_vf(j, rec, b, dv.ifaces[0].alias,
                                   dv.ifaces[0].type, dv.ifaces[0].source,
                                   dv.ifaces[0].mac);
                else if (r != -ENOMEM) /* unreadable: not a VF source */
                    r = recover_vf_lost(
                        rec, b, json_string_value(json_object_get(it, "iface")),
                        "interface", "", NULL, -EINVAL);
                migr_dom_devices_clear(&dv);
                if (r < 0)
                    break;
            }
        }
    }
    return r;
}

int migr_jobs_recover(struct migr_jobs *j, struct migr_jobs_recovery *ret)
{
    struct migr_jobs_recovery rec = {0};
    char dir[4096];
    struct dirent *de;
    time_t now = time(NULL);
    DIR *d;
    int r = 0;

    if (!j || !ret)
        return -EINVAL;
    if (j->workers)
        return -EBUSY;
    *ret = rec;
    /* Once: a second start must not load the table's own jobs again. */
    if (j->recovered)
        return 0;
    j->recovered = true;
    snprintf(dir, sizeof(dir), "%s/jobs", j->o.cfg->state_dir);
    d = opendir(dir);
    if (!d)
        return errno == ENOENT ? 0 : -errno;
    while ((de = readdir(d))) {
        const char *name = de->d_name;
        size_t n = strlen(name);
        char why[512] = "", path[sizeof(dir) + 256], aside[sizeof(path) + 8];
        struct job *b = NULL;
        int lr;

        if (name[0] == '.')
            continue;
        snprintf(path, sizeof(path), "%s/%s", dir, name);
        /* A write cut short by the crash; the .json beside it (if any)
         * holds the state before. */
        if (n > 9 && strcmp(name + n - 9, ".json.tmp") == 0) {
            (void)unlink(path);
            continue;
        }
        if (n <= 5 || strcmp(name + n - 5, ".json") != 0)
            continue;
        lr = journal_read(dir, name, &b, why, sizeof(why));
        if (lr == -ENOMEM) {
            r = lr;
            break;
        }
        pthread_mutex_lock(&j->lock);
        if (lr == 0 && job_find(j, b->id)) {
            pthread_mutex_unlock(&j->lock);
            job_free(b);
            lr = -EEXIST;
            snprintf(why, sizeof(why), "job '%.128s' is in the table already",
                     name);
        } else {
            pthread_mutex_unlock(&j->lock);
        }
        if (lr == -EINVAL) {
            /* Kept for a person to look at, out of the next start's way. */
            snprintf(aside, sizeof(aside), "%s.corrupt", path);
            r = recovery_note(&rec, name, why, rename(path, aside) == 0);
        } else if (lr < 0) {
            r = recovery_note(&rec, name, why, false);
        } else if (final(b->state) && now - b->finished > JOURNAL_KEEP_S) {
            job_free(b);
            if (unlink(path) == 0)
                rec.removed++;
        } else {
            if (final(b->state)) {
                j->n_finished++;
                rec.loaded++;
            } else if (b->type == JOB_MIGRATE) {
                /* libvirt may still run it, or has ended it: never start it
                 * again, find out. */
                b->state = ST_RUNNING;
                b->reattached = b->resume = true;
                rec.reattached++;
            } else {
                /* prepare, abort, release, start, stop and plug are
                 * idempotent: run them again. */
                b->state = ST_PENDING;
                b->started = 0;
                rec.rerun++;
            }
            pthread_mutex_lock(&j->lock);
            recovery_insert(j, b);
            pthread_mutex_unlock(&j->lock);
        }
        if (r < 0)
            break;
    }
    closedir(d);
    pthread_mutex_lock(&j->lock);
    prune(j);
    if (r == 0)
        r = recover_vfs(j, &rec);
    pthread_mutex_unlock(&j->lock);
    if (r < 0) {
        migr_jobs_recovery_clear(&rec);
        return r;
    }
    *ret = rec;
    return 0;
}

void migr_jobs_recovery_clear(struct migr_jobs_recovery *rec)
{
    if (!rec)
        return;
    for (size_t i = 0; i < rec->n_bad; i++)
        free(rec->bad[i]);
    free(rec->bad);
    for (size_t i = 0; i < rec->n_vf_lost; i++)
        free(rec->vf_lost[i]);
    free(rec->vf_lost);
    memset(rec, 0, sizeof(*rec));
}

/* ---------------------------------------------------------------------- */
/* Workers                                                                 */

/* The oldest Pending job this worker may take (lock held).  Migrations
 * take at most all workers but one, so prepare and abort jobs are always
 * answered. */
static struct job *job_next(struct migr_jobs *j)
{
    for (struct job *b = j->jobs; b; b = b->next) {
        if (b->state != ST_PENDING && !b->resume)
            continue;
        if (b->type == JOB_MIGRATE && j->running_migrations >= j->n_workers - 1)
            continue;
        return b;
    }
    return NULL;
}

static void *worker_main(void *arg)
{
    struct migr_jobs *j = arg;

    pthread_mutex_lock(&j->lock);
    for (;;) {
        struct job *b = NULL;
        bool reattach;

        while (!j->stop && !(b = job_next(j)))
            pthread_cond_wait(&j->cond, &j->lock);
        if (j->stop)
            break;
        reattach = b->resume;
        b->resume = false;
        b->state = ST_RUNNING;
        if (!reattach)
            b->started = time(NULL);
        b->pins++;
        job_changed(j, b);
        switch (b->type) {
        case JOB_PREPARE:
            (void)journal_write(j, b);
            run_prepare(j, b);
            break;
        case JOB_MIGRATE:
            j->running_migrations++;
            if (reattach)
                run_reattach(j, b);
            else
                run_migrate(j, b);
            j->running_migrations--;
            break;
        case JOB_ABORT:
            (void)journal_write(j, b);
            run_abort(j, b);
            break;
        case JOB_RELEASE:
            (void)journal_write(j, b);
            run_release(j, b);
            break;
        case JOB_START:
        case JOB_STOP:
        case JOB_PLUG:
            (void)journal_write(j, b);
            run_vm(j, b);
            break;
        }
        b->pins--;
        prune(j);
        /* A migration slot may have freed up for a waiting one. */
        pthread_cond_broadcast(&j->cond);
    }
    pthread_mutex_unlock(&j->lock);
    return NULL;
}

/* ---------------------------------------------------------------------- */
/* Lifecycle                                                               */

int migr_jobs_new(const struct migr_jobs_opts *o, struct migr_jobs **ret)
{
    struct migr_jobs *j;
    pthread_condattr_t ca;

    if (!o || !o->cfg || !o->cfg->state_dir || !o->cfg->libvirt_uri || !ret)
        return -EINVAL;
    j = calloc(1, sizeof(*j));
    if (!j)
        return -ENOMEM;
    j->o = *o;
    if (j->o.monitor_interval_ms <= 0)
        j->o.monitor_interval_ms = MONITOR_INTERVAL_MS;
    if (j->o.second_ms <= 0)
        j->o.second_ms = 1000;
    j->n_workers =
        o->cfg->migration_workers > 1 ? o->cfg->migration_workers : 2;
    j->address = o->migration_address ? strdup(o->migration_address) : NULL;
    if (o->migration_address && !j->address) {
        free(j);
        return -ENOMEM;
    }
    pthread_mutex_init(&j->lock, NULL);
    /* Timed waits on the monotonic clock, as the monitor measures. */
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&j->cond, &ca);
    pthread_condattr_destroy(&ca);
    *ret = j;
    return 0;
}

int migr_jobs_start(struct migr_jobs *j)
{
    if (!j)
        return -EINVAL;
    if (j->workers)
        return 0;
    j->workers = calloc((size_t)j->n_workers, sizeof(*j->workers));
    if (!j->workers)
        return -ENOMEM;
    j->stop = false;
    for (int i = 0; i < j->n_workers; i++) {
        int r = pthread_create(&j->workers[i], NULL, worker_main, j);

        if (r != 0) {
            pthread_mutex_lock(&j->lock);
            j->stop = true;
            pthread_cond_broadcast(&j->cond);
            pthread_mutex_unlock(&j->lock);
            while (i-- > 0)
                pthread_join(j->workers[i], NULL);
            free(j->workers);
            j->workers = NULL;
            return -r;
        }
    }
    return 0;
}

void migr_jobs_stop(struct migr_jobs *j)
{
    if (!j || !j->workers)
        return;
    pthread_mutex_lock(&j->lock);
    j->stop = true;
    pthread_cond_broadcast(&j->cond);
    pthread_mutex_unlock(&j->lock);
    for (int i = 0; i < j->n_workers; i++)
        pthread_join(j->workers[i], NULL);
    free(j->workers);
    j->workers = NULL;
}

void migr_jobs_free(struct migr_jobs *j)
{
    if (!j)
        return;
    migr_jobs_stop(j);
    migr_jobs_detach(j);
    while (j->jobs) {
        struct job *b = j->jobs;

        j->jobs = b->next;
        job_free(b);
    }
    free(j->address);
    pthread_cond_destroy(&j->cond);
    pthread_mutex_destroy(&j->lock);
    free(j);
}

int migr_jobs_wait(struct migr_jobs *j, const char *id, int timeout_ms)
{
    struct timespec until;
    struct job *b;
    int r = 0;

    deadline_in(&until, timeout_ms);
    pthread_mutex_lock(&j->lock);
    while ((b = job_find(j, id)) && !final(b->state) && r == 0)
        r = pthread_cond_timedwait(&j->cond, &j->lock, &until);
    pthread_mutex_unlock(&j->lock);
    if (!b)
        return -ENOENT;
    return final(b->state) ? 0 : -ETIMEDOUT;
}

/* ---------------------------------------------------------------------- */
/* Watches (loop thread)                                                   */

static void watch_remove(struct migr_jobs *j, struct watch *w)
{
    for (struct watch **pp = &j->watches; *pp; pp = &(*pp)->next)
        if (*pp == w) {
            *pp = w->next;
            break;
        }
    free(w);
}

static void watch_on_close(void *arg)
{
    struct watch *w = arg;

    watch_remove(w->j, w);
}

/* Write what changed since the last line; end the stream after a final
 * state or when the job is gone.  Returns false when the watch ended (and
 * was freed). */
static bool watch_flush(struct watch *w)
{
    struct migr_jobs *j = w->j;
    struct job *b;
    json_t *line = NULL;
    bool end = true;
    char *text = NULL;

    pthread_mutex_lock(&j->lock);
    b = job_find(j, w->id);
    if (b && b->version == w->sent) {
        pthread_mutex_unlock(&j->lock);
        return true;
    }
    if (b) {
        line = json_pack("{s:s, s:o}", "type", "MODIFIED", "object",
                         job_render(b));
        w->sent = b->version;
        end = final(b->state);
    }
    pthread_mutex_unlock(&j->lock);
    text = line ? json_dumps(line, JSON_COMPACT) : NULL;
    json_decref(line);
    if (b && text) {
        size_t n = strlen(text);

        text[n] = '\n';
        /* json_dumps' NUL becomes the newline: the chunk is the line. */
        if (http_stream_write(w->stream, text, n + 1) < 0 ||
            http_stream_pending(w->stream) > WATCH_MAX_PENDING)
            end = true;
    } else if (b) {
        end = true; /* out of memory: the reader sees the stream end */
    }
    free(text);
    if (end) {
        http_stream_end(w->stream);
        watch_remove(j, w);
        return false;
    }
    return true;
}

static void notify_cb(evutil_socket_t fd, short what, void *arg)
{
    struct migr_jobs *j = arg;
    struct watch *w = j->watches, *next;
    (void)fd;
    (void)what;

    for (; w; w = next) {
        next = w->next;
        watch_flush(w);
    }
}

static void watch_start(struct http_stream *stream, void *arg)
{
    struct watch *w = arg;
    struct http_stream_callbacks cbs = {.on_close = watch_on_close, .arg = w};

    w->stream = stream;
    w->next = w->j->watches;
    w->j->watches = w;
    http_stream_set_callbacks(stream, &cbs);
    watch_flush(w);
}

int migr_jobs_attach(struct migr_jobs *j, struct event_base *base)
{
    struct event *ev;

    if (!j || !base)
        return -EINVAL;
    ev = event_new(base, -1, 0, notify_cb, j);
    if (!ev)
        return -ENOMEM;
    pthread_mutex_lock(&j->lock);
    j->notify = ev;
    pthread_mutex_unlock(&j->lock);
    return 0;
}

void migr_jobs_detach(struct migr_jobs *j)
{
    struct event *ev;

    if (!j)
        return;
    while (j->watches) {
        struct watch *w = j->watches;

        j->watches = w->next;
        http_stream_end(w->stream);
        free(w);
    }
    pthread_mutex_lock(&j->lock);
    ev = j->notify;
    j->notify = NULL;
    pthread_mutex_unlock(&j->lock);
    if (ev)
        event_free(ev);
}

/* ---------------------------------------------------------------------- */
/* HTTP (loop thread)                                                      */

static void reply_json(struct http_response *resp, int status, json_t *o)
{
    char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;

    json_decref(o);
    if (!text) {
        resp->status = 500;
        return;
    }
    resp->status = status;
    resp->content_type = "application/json";
    resp->body = text;
    resp->body_len = strlen(text);
}

static void reply_status(struct http_response *resp, int code,
                         const char *reason, const char *message,
                         json_t *details)
{
    json_t *s =
        json_pack("{s:s, s:s, s:{}, s:s, s:s, s:s, s:i}", "kind", "Status",
                  "apiVersion", "v1", "metadata", "status", "Failure",
                  "message", message, "reason", reason, "code", code);

    if (s && details)
        json_object_set_new(s, "details", details);
    else
        json_decref(details);
    reply_json(resp, code, s);
}

static void handle_post(struct migr_jobs *j, const struct http_request *req,
                        struct http_response *resp)
{
    struct perr e = {.field = ""};
    struct job *b = NULL, *old;
    json_error_t jerr;
    json_t *doc;
    int r;

    doc = json_loadb(req->body, req->body_len, JSON_REJECT_DUPLICATES, &jerr);
    if (!doc) {
        char msg[256];

        snprintf(msg, sizeof(msg), "the body is not JSON: %s", jerr.text);
        reply_status(resp, 400, "BadRequest", msg, NULL);
        return;
    }
    r = job_parse(doc, &b, &e);
    json_decref(doc);
    if (r == -EINVAL) {
        reply_status(resp, 400, "BadRequest", e.message,
                     json_pack("{s:[{s:s, s:s, s:s}]}", "causes", "reason",
                               "FieldValueInvalid", "message", e.message,
                               "field", e.field));
        return;
    }
    if (r < 0) {
        reply_status(resp, 500, "InternalError", "out of memory", NULL);
        return;
    }
    pthread_mutex_lock(&j->lock);
    old = job_find(j, b->id);
    if (old) {
        bool same = json_equal(old->request, b->request);
        json_t *o = same ? job_render(old) : NULL;

        pthread_mutex_unlock(&j->lock);
        if (same) {
            reply_json(resp, 200, o);
        } else {
            char msg[256];

            snprintf(msg, sizeof(msg), "job '%s' exists with another request",
                     b->id);
            reply_status(resp, 409, "AlreadyExists", msg, NULL);
        }
        job_free(b);
        return;
    }
    /* Appended: the list is in creation order, the queue's order. */
    {
        struct job **pp = &j->jobs;

        while (*pp)
            pp = &(*pp)->next;
        *pp = b;
    }
    job_changed(j, b);
    doc = job_render(b);
    pthread_mutex_unlock(&j->lock);
    reply_json(resp, 202, doc);
}

void migr_jobs_handle(struct migr_jobs *j, const struct http_request *req,
                      struct http_response *resp)
{
    bool read =
        req->method == HTTP_METHOD_GET || req->method == HTTP_METHOD_HEAD;
    const char *watch = http_request_param(req, "watch");
    struct job *b;
    json_t *o;

    if (req->segc == 2) {
        if (req->method == HTTP_METHOD_POST) {
            handle_post(j, req, resp);
            return;
        }
        if (!read) {
            reply_status(resp, 405, "MethodNotAllowed",
                         "only GET and POST are allowed here", NULL);
            return;
        }
        o = json_array();
        pthread_mutex_lock(&j->lock);
        for (b = j->jobs; o && b; b = b->next)
            json_array_append_new(o, job_render(b));
        pthread_mutex_unlock(&j->lock);
        reply_json(resp, 200, o ? json_pack("{s:o}", "items", o) : NULL);
        return;
    }
    if (req->segc != 3) {
        reply_status(resp, 404, "NotFound", "the path is not served here",
                     NULL);
        return;
    }
    if (!read) {
        reply_status(resp, 405, "MethodNotAllowed", "only GET is allowed here",
                     NULL);
        return;
    }
    pthread_mutex_lock(&j->lock);
    b = job_find(j, req->segv[2]);
    o = b && !(watch && (strcmp(watch, "true") == 0 || strcmp(watch, "1") == 0))
            ? job_render(b)
            : NULL;
    pthread_mutex_unlock(&j->lock);
    if (!b) {
        char msg[256];

        snprintf(msg, sizeof(msg), "job '%.128s' not found", req->segv[2]);
        reply_status(resp, 404, "NotFound", msg, NULL);
        return;
    }
    if (!o) {
        struct watch *w;

        if (!j->notify || strlen(req->segv[2]) > ID_MAX ||
            !(w = calloc(1, sizeof(*w)))) {
            reply_status(resp, 503, "ServiceUnavailable",
                         "watches are not served now", NULL);
            return;
        }
        w->j = j;
        snprintf(w->id, sizeof(w->id), "%s", req->segv[2]);
        resp->status = 200;
        resp->content_type = "application/json";
        resp->stream_start = watch_start;
        resp->stream_arg = w;
        return;
    }
    reply_json(resp, 200, o);
}
