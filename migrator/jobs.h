/*
 * migrator/jobs: the agent's jobs - what takes long on a host (prepare a
 * migration target, migrate a domain, abort a migration) runs as a job
 * with an id chosen by orchestratord, accepted at once and run by a small
 * pool of worker threads, so that no HTTP request waits for libvirt.
 *
 * Endpoints (under the agent's /v1, its bearer token checked by the agent):
 *   POST /v1/jobs             a job request -> 202 and the job object; the
 *                             same id with the same request again -> 200
 *                             and the existing job; with another request
 *                             -> 409; a bad body -> 400 Status whose
 *                             details.causes name the field ("migrate.
 *                             progressTimeoutS")
 *   GET  /v1/jobs             {"items":[JOB...]} (in flight + the last 100
 *                             finished, oldest first)
 *   GET  /v1/jobs/ID          the job object, 404 unknown
 *   GET  /v1/jobs/ID?watch=true
 *                             chunked, one line per change
 *                             {"type":"MODIFIED","object":JOB}, the first
 *                             the current state; ends after the line with
 *                             a final state (Succeeded, Failed)
 * Request: {"id", "type": "prepare"|"migrate"|"abort"|"release"|"start"|
 * "stop", "migration":{...} (echoed), "domain" (required but for abort),
 * "prepare":{"sourceLibvirtURI"?, "vmi"?},
 * "migrate":{"destLibvirtURI","migrationURI" (required), "bandwidthMiBps",
 * "maxDowntimeMs", "allowAutoConverge", "allowPostCopy",
 * "allowWorkloadDisruption", "parallelConnections", "disableTLS" (default
 * true), "unsafe", "progressTimeoutS" (150), "completionTimeoutPerGiBS"
 * (150)}, "abort":{"jobId"}, "release":{"prepareJobId"},
 * "start":{"vmi": VMI} (required for start),
 * "stop":{"gracePeriodS" (30)}}, and "prepare":{"vmi": VMI} for a VM made
 * from a manifest (its seed and overlays are written before Succeeded);
 * other members are ignored.  start and stop are migrator/vmhost's work
 * (see vmhost.h): start's result {"domain","uuid"}, failure reasons
 * InvalidSpec (the message starts with the field path), DefineFailed,
 * StartFailed; stop's StopFailed, and it succeeds when there is no such
 * domain.  release (target) undoes a prepare whose migration never
 * ran or failed: a prepare still Pending fails ("Released"), one Running
 * is waited for, and state_dir/vms/DOMAIN/ is removed unless libvirt
 * knows the domain here; result {"domainHere","filesRemoved"}, failure
 * ReleaseFailed; nothing to undo is Succeeded.  The job object
 * is described above job_render() in jobs.c; results: prepare
 * {"migrationAddress","port","migrationURI","destLibvirtURI"}, migrate
 * {"downtimeMs","timeElapsedMs","dataTotal","mode"}, abort
 * {"abortStatus":"Succeeded"}.  Failure reasons: prepare NoMigrationAddress,
 * NoFreePort, and with sourceLibvirtURI (the target reads the domain's
 * migratable XML there and checks it) SourceUnreachable, DomainNotFound,
 * CPUIncompatible (libvirt compares the guest's CPU model with this host's
 * as INCOMPATIBLE), InsufficientMemory (the guest's memory above this
 * host's free memory), DiskNotShared (a file or block disk neither under
 * shared_storage nor under state_dir/vms/DOMAIN/), PrepareFailed; migrate
 * MigrationFailed, ProgressTimeout, CompletionTimeout, Aborted, DomainNotFound,
 * JournalFailed; abort TooLate (succeeded, or in post-copy), NotRunning.
 *
 * Migrate (source): migr_virt_migrate on a thread of its own while the
 * job's worker monitors it every monitor interval (500 ms): progress from
 * the job statistics, the max downtime set once the libvirt job runs
 * (maxDowntimeMs 0: libvirt's own), and KubeVirt's legacy convergence
 * rules.  progressTimeoutS without dataRemaining shrinking below its best
 * always aborts (ProgressTimeout).  At the completion deadline
 * (completionTimeoutPerGiBS times the guest's memory in decimal GB, rounded
 * up, as KubeVirt sizes it): with allowWorkloadDisruption, post-copy when
 * allowPostCopy, else the guest is paused (mode "Paused") and the deadline
 * doubled, then an abort at the doubled one; without it, an abort
 * (CompletionTimeout).  Post-copy is never aborted.  A guest paused here
 * whose migration fails is resumed.  A timeout of 0 is none.  An abort job
 * asks the migrate job's monitor to abort and waits for the migration's
 * end.  A migrate job's "progress.mode" and "result.mode" are "PreCopy",
 * "PostCopy" or "Paused".
 *
 * Journal: state_dir/jobs/ID.json ({"job":JOB,"request":REQUEST}) is
 * written (temporary file, fsync, rename) when a job starts, before any
 * libvirt call, and when it ends.  After a restart migr_jobs_recover reads
 * it back: finished jobs are served as they ended; a migrate job that was
 * in flight is re-attached ("reattached": true, state Running): libvirt
 * carries a peer-to-peer migration on without its client, so the monitor
 * follows libvirt's job (progress, and the timeouts counted from the
 * re-attachment) and, once it is over, takes the outcome from where the
 * domain runs - gone or shut off here and running at destLibvirtURI:
 * Succeeded; running here: Failed MigrationFailed (Aborted when an abort
 * was asked, the timeout's reason when the monitor aborted it).  While
 * neither libvirt can be asked the job stays Running and asks again; it
 * is never guessed.  Prepare and abort jobs in flight run again (they are
 * idempotent).
 *
 * Threads: migr_jobs_handle, _attach and _detach run on the loop thread
 * and never block (the job table is behind a mutex held only to copy);
 * workers hand changes to the loop by making an event active (libevent
 * must use pthreads: evthread_use_pthreads() before the base is made).
 * The rest from the main thread.  Nothing here logs.
 */
#ifndef ORCH_MIGRATOR_JOBS_H
#define ORCH_MIGRATOR_JOBS_H

#include <stdint.h>

#include "conf/conf.h"
#include "http/http.h"

struct event_base;
struct migr_jobs;

struct migr_jobs_opts {
    /* libvirt_uri, state_dir, migration ports, libvirt_peer_uri and
     * migration_workers; borrowed for the jobs' life. */
    const struct conf_migrator *cfg;
    /* This host's migration address (IP literal); NULL or "": prepare jobs
     * fail with NoMigrationAddress. */
    const char *migration_address;
    int monitor_interval_ms; /* 0: 500 */
    int second_ms;           /* how long the timeouts' second is; 0: 1000
                                (tests shrink it) */
    /* The agent's VF reservation table (migrator/sriov.h), for the jobs
     * that take, move and give back SR-IOV VFs (start, stop, prepare,
     * release, unplug, plug); borrowed; NULL: none. */
    struct migr_sriov *sriov;
};

/* A job table for `o` (copied; cfg borrowed).  Returns 0 and *ret (free
 * with migr_jobs_free), -EINVAL, -ENOMEM. */
int migr_jobs_new(const struct migr_jobs_opts *o, struct migr_jobs **ret);

/* What migr_jobs_recover found under state_dir/jobs. */
struct migr_jobs_recovery {
    size_t loaded;     /* finished jobs, served as they ended */
    size_t reattached; /* migrate jobs in flight, re-attached */
    size_t rerun;      /* prepare and abort jobs in flight, to run again */
    size_t removed;    /* finished more than 24 h ago: journal removed */
    /* Files that could not be loaded, each "NAME.json: why"; one whose
     * content is bad (not JSON, truncated, an unknown type, a request that
     * does not validate) is renamed NAME.json.corrupt.  For the caller to
     * log. */
    char **bad;
    size_t n_bad;
    /* SR-IOV VFs only the journal knows (a finished prepare's for a
     * migration still to come, a migrate job's unplugged NICs), taken back
     * into the agent's table (migr_jobs_opts.sriov) for their domain; and
     * each one that could not be, "job 'ID' (domain 'D') interface ...:
     * why", for the caller to log. */
    size_t vfs_adopted;
    char **vf_lost;
    size_t n_vf_lost;
};

/* Load every journal under state_dir/jobs into the table, before
 * migr_jobs_start (main thread), after the agent took back the VFs its
 * domains name; then take back the SR-IOV VFs only the journal knows (see
 * struct migr_jobs_recovery).  A bad file is reported in *ret, not an
 * error.  Returns 0 and *ret (clear with migr_jobs_recovery_clear),
 * -EBUSY (the workers run already), -ENOMEM, or -errno of opendir (no
 * directory is no journal: 0). */
int migr_jobs_recover(struct migr_jobs *j, struct migr_jobs_recovery *ret);

/* Free what *rec holds and zero it.  NULL-safe. */
void migr_jobs_recovery_clear(struct migr_jobs_recovery *rec);

/* Start the worker threads.  Returns 0 or -errno of pthread_create. */
int migr_jobs_start(struct migr_jobs *j);

/* Let watch streams run on `base`'s loop: workers wake it on every change.
 * Loop thread (or before the loop runs).  Returns 0 or -ENOMEM. */
int migr_jobs_attach(struct migr_jobs *j, struct event_base *base);

/* End every watch stream (as after a final state) and stop waking the
 * loop; the base may go after this.  Loop thread.  NULL-safe. */
void migr_jobs_detach(struct migr_jobs *j);

/* Stop the workers: no new job starts; jobs running finish first (each
 * bounded by its own timeouts; libvirt would carry a peer-to-peer
 * migration on without us anyway).  NULL-safe; a no-op when not
 * started. */
void migr_jobs_stop(struct migr_jobs *j);

/* migr_jobs_detach's streams must be gone; stops the workers and frees.
 * NULL-safe. */
void migr_jobs_free(struct migr_jobs *j);

/* Answer a request whose path is /v1/jobs[/ID] (req->segv[0] "v1",
 * segv[1] "jobs"); auth is the caller's.  Loop thread. */
void migr_jobs_handle(struct migr_jobs *j, const struct http_request *req,
                      struct http_response *resp);

/* The libvirt URI other hosts' libvirtd reach this one's at, as prepare
 * results and node reports give it: libvirt_peer_uri, else
 * "qemu+tcp://<migration address>/system"; "" when there is no migration
 * address either.  Any thread. */
void migr_jobs_peer_uri(const struct migr_jobs *j, char *buf, size_t len);

/* Wait up to timeout_ms for job `id` to reach a final state.  Returns 0,
 * -ENOENT (no such job), -ETIMEDOUT.  Any thread but the loop's (tests,
 * tools). */
int migr_jobs_wait(struct migr_jobs *j, const char *id, int timeout_ms);

#endif
