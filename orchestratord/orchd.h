/*
 * orchestratord: the REST API server.
 *
 * orch_handle() is the one HTTP handler: a plain function from a parsed
 * request (http/http.h) to a response, routing to the resource handlers
 * (create / get / list / watch / replace / delete, VM subresources),
 * discovery, health and metrics.  It reads and writes records through the
 * store, validates bodies with the api module, and answers errors as
 * Kubernetes Status objects whose code and reason come from one errno table
 * (orch_status_for_errno).  orch_serve() wires it to an evhttp server,
 * signals and the configuration.
 *
 * Threads: everything runs on the event loop thread.  Handlers log (they
 * are request handlers); helpers return negative errno values.
 */
#ifndef ORCH_ORCHD_H
#define ORCH_ORCHD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "api/api.h"
#include "http/http.h"
#include "store/store.h"

struct event_base;

/* The server's version, as GET /version's gitVersion (Kubernetes' form). */
#define ORCHD_VERSION       "v0.1.0"
#define ORCHD_VERSION_MAJOR "0"
#define ORCHD_VERSION_MINOR "1"

enum orch_role {
    ORCH_ROLE_ADMIN = 0,
    ORCH_ROLE_VIEWER,
    ORCH_ROLE_NODE, /* a migrator; the token's name is its node's name */
};

struct orch_token {
    char *name;  /* shown in logs and 403 messages */
    char *token; /* the secret; never logged */
    enum orch_role role;
};

/* KubeVirt's cluster-wide migration settings (conf's 'migrations' group),
 * the defaults a MigrationPolicy overrides. */
struct orch_migration_settings {
    char *bandwidth_per_migration;      /* quantity text; NULL: "0Mi" */
    int64_t bandwidth_bytes;            /* per second; 0: unlimited */
    int64_t completion_timeout_per_gib; /* seconds */
    int64_t progress_timeout;           /* seconds */
    int64_t parallel_migrations_per_cluster;
    int64_t parallel_outbound_migrations_per_node;
    int64_t max_downtime_ms;
    bool allow_auto_converge;
    bool allow_post_copy;
    bool allow_workload_disruption;
    bool disable_tls;
    bool unsafe_migration_override;
    int64_t outcome_timeout_s; /* not KubeVirt's: see conf.h */
};

/* What the handlers need from the configuration; owned by the server. */
struct orch_settings {
    struct orch_token *tokens; /* none: every request is admin (loopback) */
    size_t n_tokens;
    struct api_limits api_limits; /* body, depth, string, items */
    size_t max_list_limit;        /* page size cap and default */
    size_t max_watchers;
    bool live_migration; /* KubeVirt's LiveMigration feature gate */
    long node_grace_s;   /* node_monitor_grace_period_s */
    struct orch_migration_settings migrations;
    /* Presented to the migrators' agent API as "Bearer"; NULL: none.
     * Read at each call, so SIGHUP changes it.  Never logged. */
    char *agent_token;
    /* PEM CA file for https agent URLs; NULL: the system's CAs.  Read
     * when the agent client starts (a change takes a restart). */
    char *agent_cacert;
};

/* Free the tokens and zero the settings.  NULL-safe. */
void orch_settings_clear(struct orch_settings *s);

/* KubeVirt's defaults: unlimited bandwidth, completionTimeoutPerGiB 150,
 * progressTimeout 150, 5 per cluster, 2 outbound per node, maxDowntimeMs
 * 900, every allow_* false. */
void orch_migration_settings_default(struct orch_migration_settings *m);

/* Counters for /metrics. */
#define ORCH_METRIC_VERBS         8
#define ORCH_METRIC_CODES         16
#define ORCH_METRIC_PHASE_BUCKETS 12
/* Why an agent's message was ignored
 * (orchestrator_agent_messages_rejected_total{reason}). */
enum orch_agent_reject {
    ORCH_REJECT_UNKNOWN_JOB = 0,  /* a job answer for an id not asked for */
    ORCH_REJECT_STALE_REPORT,     /* older than one accepted (same boot), or
                                     from a migrator run since replaced */
    ORCH_REJECT_DUPLICATE_REPORT, /* the sequence of one accepted */
    ORCH_REJECT_DOMAIN_ELSEWHERE, /* a domain running where the records
                                     say another node runs it */
    ORCH_REJECT_COUNT,
};
/* The label value of R: "unknown_job", "stale_report", ... */
const char *orch_agent_reject_name(enum orch_agent_reject r);
struct orch_metrics {
    uint64_t requests[ORCH_METRIC_VERBS][ORCH_METRIC_CODES];
    uint64_t migrations_succeeded;
    uint64_t migrations_failed;
    uint64_t migrations_created;
    uint64_t watch_events;
    uint64_t agent_rejected[ORCH_REJECT_COUNT];
    /* kubevirt_vmi_migration_phase_transition_time_from_creation_seconds:
     * per phase, observations in each bucket of ORCH_METRIC_PHASE_BUCKETS
     * (cumulative at render), their sum and count.  The controller
     * observes each phase it sets. */
    uint64_t phase_time_buckets[API_VMIM_PHASE_COUNT]
                               [ORCH_METRIC_PHASE_BUCKETS];
    double phase_time_sum[API_VMIM_PHASE_COUNT];
    uint64_t phase_time_count[API_VMIM_PHASE_COUNT];
};

/* Record that a migration entered PHASE (an enum api_vmim_phase) SECONDS
 * after it was created. */
void orch_metrics_phase_time(struct orch_metrics *m, int phase, double seconds);

struct orch_watcher;
struct orch_feed_sub;
struct event;

/* The change feed's state (feed.c); inside struct orch_server. */
struct orch_feed {
    int64_t cursor;     /* last resourceVersion handed out; -1 while
                           nobody listens */
    struct event *tick; /* on the server's base while someone listens */
    struct orch_feed_sub *subs;
    bool running; /* dispatching: listeners are swept after */
    bool again;   /* a commit of ours since the last read */
};
struct orch_hosts;
struct orch_controller;
struct orch_vms;

struct orch_server {
    struct store *store;
    struct orch_settings settings;
    struct orch_metrics metrics;
    struct event_base *base;  /* for watch timeouts and the feed's timer;
                                 NULL in tests (then orch_feed_run()) */
    struct http_server *http; /* for /metrics; NULL in tests */
    struct orch_watcher *watchers;
    size_t n_watchers;
    size_t n_event_watchers; /* events.c's watches, within max_watchers */
    struct orch_feed feed;
    struct orch_hosts *hosts;           /* hosts.h: node cache and monitor */
    struct orch_controller *controller; /* controller.h; NULL: none */
    struct orch_vms *vms;               /* vms.h: VM controller; NULL: none */
    bool shutting_down;
    /* A write failed for a full disk (507) and none has succeeded since:
     * /readyz says not ready. */
    bool store_full;
    /* Records one list request may read (store_list_opts.max_scan);
     * 0 = ORCH_LIST_MAX_SCAN.  Tests lower it. */
    size_t list_max_scan;
};

/* How many records a list request reads at most before it ends its page
 * with a continue token, so that selectors no index serves cost the event
 * loop a few milliseconds per request at most (see README, Performance). */
#define ORCH_LIST_MAX_SCAN 1000

/* Initialise SRV around an open store (borrowed) with default settings:
 * no tokens, default api limits, max_list_limit 500, max_watchers 100,
 * live migration on, node grace period 40 s, KubeVirt's migration defaults
 * (orch_migration_settings_default()).  Sets the store's commit hook (for
 * the feed). */
void orch_server_init(struct orch_server *srv, struct store *store);

/* Stop the migration controller, end every watch, drop the feed's
 * subscribers, clear the store's commit hook, stop the node monitor, free the
 * hosts cache and the settings.  The store is left open. */
void orch_server_release(struct orch_server *srv);

/* The HTTP handler (http_handler_fn); ARG is the struct orch_server. */
void orch_handle(const struct http_request *req, struct http_response *resp,
                 void *arg);

/*
 * Status objects (status.c).
 */

/* The HTTP code and Kubernetes Status reason for a negative errno:
 *   -EINVAL 400 BadRequest, -ENOKEY 401 Unauthorized, -EACCES/-EPERM 403
 *   Forbidden, -ENOENT 404 NotFound, -EOPNOTSUPP 405 MethodNotAllowed,
 *   -ENOPROTOOPT 406 NotAcceptable, -EEXIST 409 AlreadyExists, -ESTALE and
 *   -EALREADY 409 Conflict, -EKEYEXPIRED 410 Expired, -EMSGSIZE/-E2BIG 413
 *   RequestEntityTooLarge, -EPROTONOSUPPORT 415 UnsupportedMediaType,
 *   -EDOM 422 Invalid, -EAGAIN 429 TooManyRequests, -EBUSY/-ESHUTDOWN 503
 *   ServiceUnavailable, -ENOSPC 507 InsufficientStorage (the store's disk
 *   is full), anything else 500 InternalError.
 * Returns the code; *ret_reason (may be NULL) gets a static string. */
int orch_status_for_errno(int err, const char **ret_reason);

/* A new Status object {kind, apiVersion, metadata, status: "Failure",
 * message, reason, code[, details]}.  DETAILS (may be NULL) is stolen. */
json_t *orch_status_new(int code, const char *reason, const char *message,
                        json_t *details);

/* Answer RESP with a failure Status for ERR (a negative errno) and the
 * printf-style message. */
void orch_reply_errno(struct http_response *resp, int err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Answer RESP with CODE and a Status built by orch_status_new(). */
void orch_reply_status(struct http_response *resp, int code, const char *reason,
                       const char *message, json_t *details);

/* Answer RESP with CODE and DOC encoded as JSON, or YAML when the request's
 * Accept asks for it.  DOC is borrowed. */
void orch_reply_json(struct http_response *resp, const struct http_request *req,
                     int code, const json_t *doc);

/* Whether REQ's body is within the api limits' max_body_bytes; if not,
 * answers RESP with 413 and a message giving both sizes. */
bool orch_body_fits(const struct orch_server *srv,
                    const struct http_request *req, struct http_response *resp);

/* Which encoding the request's Accept header asks for: API_FORMAT_JSON,
 * API_FORMAT_YAML, or -ENOPROTOOPT (nothing we can produce). */
int orch_accept_format(const char *accept);

/*
 * Auth (auth.c).
 */

/* Authenticate REQ against the settings' tokens.  Returns 0 and the role
 * and token name (borrowed; "anonymous" without tokens), -ENOKEY (no or
 * unknown token).  Compares secrets in constant time. */
int orch_auth_check(const struct orch_settings *s,
                    const struct http_request *req, enum orch_role *ret_role,
                    const char **ret_name);

/* What a request asks, for orch_auth_allowed(). */
enum orch_auth_target {
    ORCH_AUTH_RESOURCE,   /* a resource path (KIND set) */
    ORCH_AUTH_NODEREPORT, /* PUT .../nodereports/NODE (NODE set) */
    ORCH_AUTH_OTHER,      /* /metrics, /version, discovery */
};

/* Whether ROLE (a credential named USER) may do METHOD on the target:
 * admin everything; viewer reads; node only its own node report and reads
 * of nodes, VMIs, /version and discovery.  KIND is the resource's kind for
 * ORCH_AUTH_RESOURCE; NODE the report's node for ORCH_AUTH_NODEREPORT.
 * Returns true, or false with a 403 message in MSG (MSGLEN bytes). */
bool orch_auth_allowed(enum orch_role role, const char *user,
                       enum http_method method, enum orch_auth_target target,
                       enum api_kind kind, const char *node, char *msg,
                       size_t msglen);

/* Whether METHOD only reads. */
bool orch_method_is_read(enum http_method method);

/*
 * Discovery (discovery.c): /api, /api/v1, /apis, /apis/G, /apis/G/V.
 * Returns a new document, or NULL with *ret_err = -ENOENT for an unknown
 * path (SEGV/SEGC are the request's path segments).
 */
json_t *orch_discovery(const char *const *segv, size_t segc, int *ret_err);

/*
 * Watches (watch.c).
 */

struct orch_watch_io {
    /* Send bytes; returns 0 or a negative errno. */
    int (*write)(void *ctx, const char *buf, size_t len);
    /* Bytes queued and not yet sent. */
    size_t (*pending)(void *ctx);
    /* Finish the stream (the watcher is freed by the caller). */
    void (*end)(void *ctx);
    void *ctx;
};

/* A watch's timeoutSeconds: the default, and the ceiling a larger value
 * is clamped to (1800 s, the API server's default --min-request-timeout,
 * which is also the shortest watch it gives a client that asks for none).
 */
#define ORCH_WATCH_TIMEOUT_S     1800
#define ORCH_WATCH_MAX_TIMEOUT_S 1800

struct orch_watch_params {
    const struct api_kind_info *kind;
    const char *ns;   /* NULL: all namespaces */
    const char *name; /* NULL: every object */
    const char *label_selector;
    const char *field_selector;
    const char *resource_version; /* NULL or "" or "0": list first */
    long timeout_s;               /* 0: ORCH_WATCH_TIMEOUT_S; at most
                                     ORCH_WATCH_MAX_TIMEOUT_S */
    /* Who asks: the token's name from orch_auth_check() and the request's
     * Authorization header (either may be NULL), kept (copied) so that
     * orch_watch_end_revoked() can end the watch. */
    const char *user;
    const char *authorization;
    /* Accept asked for a meta.k8s.io Table: each event's object is a
     * Table of one row (kubeapi.h), its rows' objects as INCLUDE_OBJECT
     * ("None", "Metadata" or "Object"; NULL: Metadata). */
    bool table;
    const char *include_object;
};

/* Create a watcher (not yet streaming) for PARAMS.  Returns 0, -EINVAL
 * (bad selector or resourceVersion; *ret_msg gets a static or stored
 * message), -EAGAIN (max_watchers reached), -ENOMEM. */
int orch_watch_new(struct orch_server *srv, const struct orch_watch_params *p,
                   struct orch_watcher **ret_watcher, char **ret_msg);

/* Start streaming to IO: initial ADDED events (or the changes since the
 * given resourceVersion), then live events from the change feed.  A
 * resourceVersion beyond the store's gets an ERROR event (504 Timeout,
 * cause ResourceVersionTooLarge), one older than the feed's history 410
 * Expired; then the stream ends.  The watcher stays registered until
 * orch_watch_closed() or the server ends it (then it calls io->end and
 * frees itself). */
void orch_watch_start(struct orch_watcher *w, const struct orch_watch_io *io);

/* IO can take more: send what is pending (catch-up pages). */
void orch_watch_drained(struct orch_watcher *w);

/* The client went away: unregister and free W. */
void orch_watch_closed(struct orch_watcher *w);

/* Free a watcher that was never started.  NULL-safe. */
void orch_watch_free(struct orch_watcher *w);

/* For the change feed (feed.c) only.  A committed change at RV: TYPE
 * "ADDED", "MODIFIED" or "DELETED"; OBJ borrowed, with metadata
 * .resourceVersion RV.  OBJ_TEXT (may be NULL) is OBJ's compact JSON text of
 * OBJ_LEN bytes, as the store holds it: then OBJ is not encoded again.  The
 * event line is made once for all the live watchers that match and have
 * not seen RV; a watcher whose client has left too much unread is ended
 * with an ERROR event instead. */
void orch_watch_dispatch(struct orch_server *srv, enum api_kind kind,
                         int64_t rv, const char *type, const json_t *obj,
                         const char *obj_text, size_t obj_len);

/* For the feed: every change up to RV has been dispatched; live watchers
 * need nothing older. */
void orch_watch_covered(struct orch_server *srv, int64_t rv);

/* For the feed: the kinds (bit 1 << enum api_kind) some live watcher
 * watches. */
unsigned orch_watch_live_kinds(const struct orch_server *srv);

/* For the feed, which lost track of the history: live watchers catch up
 * from their own resourceVersion again (410 Expired if it is gone too). */
void orch_watch_resync(struct orch_server *srv);

/* End, with an ERROR event (401 Unauthorized), every watch whose
 * credential the current settings no longer accept as the same token.
 * Call after the settings changed (SIGHUP). */
void orch_watch_end_revoked(struct orch_server *srv);

/* End every watch (shutdown). */
void orch_watch_end_all(struct orch_server *srv);

/* The http stream_start callback for a watcher made by orch_watch_new(). */
void orch_watch_http_start(struct http_stream *stream, void *arg);

/*
 * The change feed (feed.c): every committed change in the store, whoever
 * wrote it (this process, another handle or process on the same file), in
 * resourceVersion order, once, to the live watches and to in-process
 * subscribers such as the migration controller.  With an event base it
 * runs by itself: right after this process's commits (the store's commit
 * hook) and on a 200 ms timer for other writers.  Without one (tests),
 * orch_feed_run() does it.  Loop thread only.
 */

/* A subscriber's callback: TYPE "ADDED", "MODIFIED" or "DELETED" and the
 * object as committed (borrowed for the call; json_incref() to keep it),
 * or TYPE "ERROR" and a Status (410 Expired) when the feed fell behind the
 * store's history and changes were missed: list again.  It may read and
 * write the store (its own writes come back through the feed later) and
 * unsubscribe anyone, itself included. */
typedef void (*orch_feed_fn)(const char *type, const json_t *obj, void *arg);

/* Set up SRV's feed and the store's commit hook (orch_server_init()). */
void orch_feed_init(struct orch_server *srv);

/* Drop the subscribers, the timer and the hook (orch_server_release()). */
void orch_feed_release(struct orch_server *srv);

/* Call FN for every change to records of KIND (API_KIND_NONE: every kind)
 * handed out from now on: at least every change committed after this call,
 * maybe a few committed just before (compare resourceVersions with a list
 * made after subscribing).  *RET_SUB (may be NULL) identifies it for
 * orch_feed_unsubscribe().  The feed's timer is made on SRV's base when a
 * listener comes while the base is set, and runs while someone listens:
 * subscribe once the base is set (a part started on the loop) and
 * unsubscribe before it is freed.  Returns 0, -EINVAL, -ENOMEM, or a store
 * error (reading the resourceVersion). */
int orch_feed_subscribe(struct orch_server *srv, enum api_kind kind,
                        orch_feed_fn fn, void *arg,
                        struct orch_feed_sub **ret_sub);

/* Stop calling SUB's callback and free it.  NULL-safe. */
void orch_feed_unsubscribe(struct orch_server *srv, struct orch_feed_sub *sub);

/* Read and hand out everything committed so far (what the loop does by
 * itself); for callers without an event base.  No-op while the feed is
 * already running. */
void orch_feed_run(struct orch_server *srv);

/* For watch.c: a watcher was registered or went away. */
void orch_feed_listeners_changed(struct orch_server *srv);

/*
 * Selectors for lists and watches (select.c).
 */

struct orch_filter {
    struct api_selector *labels;
    /* fieldSelector: "path=value" or "path!=value" terms on
     * metadata.name, metadata.namespace, spec.vmiName, status.phase,
     * status.nodeName. */
    struct {
        const char *path;
        char *value;
        bool negate;
    } fields[8];
    size_t n_fields;
    /* Filled by orch_filter_list_opts(): the terms the store serves from
     * its indexed columns (values borrowed from the above). */
    struct store_term terms[16];
    size_t n_terms;
};

/* Parse labelSelector and fieldSelector (either may be NULL).  Returns 0,
 * -EINVAL with a message in *ret_msg (malloc'd), -ENOMEM. */
int orch_filter_parse(struct orch_filter *f, const char *labels,
                      const char *fields, char **ret_msg);

/* Whether OBJ (one object, e.g. a watch event's) passes every label and
 * field term of FILTER (a struct orch_filter; NULL passes all).  A
 * store_match_fn. */
bool orch_filter_match(const json_t *obj, void *filter);

/* orch_filter_match() on a record's stored JSON text (TEXT, LEN bytes),
 * reading only the members the filter names (orch_jscan_*), and parsing the
 * record only if the text has escapes to decode.  A store_match_text_fn for
 * store_list_opts.match_text. */
bool orch_filter_match_text(const char *text, size_t len, void *filter);

/* Whether the labels text TEXT (a record's metadata.labels as stored, an
 * object) passes FILTER's label selector; its field terms are not looked
 * at.  A store_match_text_fn for store_list_opts.match_labels. */
bool orch_filter_match_labels(const char *text, size_t len, void *filter);

/* Set up O to list records of KIND that pass F: the field terms and label
 * requirements the store keeps indexed columns for (metadata.name and
 * .namespace everywhere; status.phase on VMIs and VMIMs; status.nodeName on
 * VMIs; spec.vmiName and the kubevirt.io/vmi-name label on VMIMs) become
 * O->terms, and whatever is left is checked by O->match_labels (labels
 * only left) or O->match_text (a field left: the whole filter, on the
 * record's text); O->match is cleared.  A list of those fields and label
 * alone reads no record it does not return.  F must outlive the list and not
 * move; its terms are remade on each call.  The other fields of O are left
 * alone. */
void orch_filter_list_opts(struct orch_filter *f, enum api_kind kind,
                           struct store_list_opts *o);

void orch_filter_clear(struct orch_filter *f);

/* The status.phase of a VMIM document as an enum api_vmim_phase, or
 * -EINVAL for an unknown phase. */
int orch_vmim_phase(const json_t *obj);

/* The verbs the REST API serves for KIND (NULL-terminated, static):
 * VMIMs create/delete/get/list/watch, VMs and MigrationPolicies also
 * update, Nodes get/list/watch plus update and patch (the admin's
 * spec.unschedulable; the status is the reports'), VMIs only
 * get/list/watch (hosts report those). */
const char *const *orch_kind_verbs(enum api_kind kind);

/* store kind for an api kind. */
enum store_kind orch_store_kind(enum api_kind kind);

/*
 * JSON text scanning (jscan.c): read a few fields of a stored record's text
 * without parsing it into a json_t.  Nothing is allocated or decoded; spans
 * point into the caller's text.  A malformed text is -EINVAL, never a read
 * past its end.
 */

struct orch_jspan {
    const char *text; /* a JSON value, not NUL-terminated */
    size_t len;
};

/* The value of member NAME of the object OBJ (the first if repeated).
 * Returns 0, -ENOENT (no such member) or -EINVAL (OBJ is not an object or
 * is malformed). */
int orch_jscan_member(const struct orch_jspan *obj, const char *name,
                      struct orch_jspan *ret);

/* orch_jscan_member() down PATH, a NULL-terminated list of member names. */
int orch_jscan_path(const struct orch_jspan *obj, const char *const *path,
                    struct orch_jspan *ret);

/* The next element of the array ARR: start with *POS = 0.  Returns 0,
 * -ENOENT after the last element, or -EINVAL (not an array, malformed). */
int orch_jscan_next(const struct orch_jspan *arr, size_t *pos,
                    struct orch_jspan *ret);

/* Whether V is the JSON string LIT: 1 yes, 0 no (another string or not a
 * string), -EINVAL if V has escapes (it would need decoding to tell) or is
 * malformed. */
int orch_jscan_string_eq(const struct orch_jspan *v, const char *lit);

/*
 * Metrics (metrics.c).
 */

/* Count a finished request. */
void orch_metrics_request(struct orch_metrics *m, enum http_method method,
                          int code);

/* The Prometheus text exposition (malloc'd) or NULL on ENOMEM. */
char *orch_metrics_render(struct orch_server *srv, size_t *ret_len);

/*
 * Serving (serve.c): called by main() after the configuration is loaded.
 */

struct orch_serve_opts {
    const char *listen_host;
    uint16_t listen_port;
    const char *tls_certificate;
    const char *tls_key;
    struct http_server_opts http;
    /* Called on SIGHUP to read tokens and limits afresh into *RET_SETTINGS
     * (zeroed by the caller) and *RET_HTTP (holding the current limits);
     * returns 0 or a negative errno (then the old values stay).  It must
     * check the configuration's rules ("without tokens, loopback only")
     * against the address the server is bound to: a reload does not move
     * the socket.  NULL: SIGHUP reloads nothing. */
    int (*reload)(struct orch_settings *ret_settings,
                  struct http_server_opts *ret_http, void *arg);
    void *reload_arg;
};

/* Serve until SIGTERM/SIGINT (daemon/daemon.h): bind, handle requests, then
 * stop accepting, end the watches, finish the requests in flight and return
 * 0.  SRV must be initialised with its settings.  Logs.  Returns 0 or a
 * negative errno (bind failed...). */
int orch_serve(struct orch_server *srv, const struct orch_serve_opts *o);

#endif
