/*
 * store: orchestratord's records in SQLite.
 *
 * Every record is a Kubernetes-style object held as a jansson json_t (the
 * api module's document model): nodes, VirtualMachines, VMIs, migrations
 * (VMIMs) and MigrationPolicies, one table per kind, plus an event log and a
 * change feed for watches.  SQLite never shows through this header: its
 * result codes are mapped to negative errno values at the module's edge and
 * the store never logs (STYLE.md rules 2 and 7).
 *
 * Errors every function below may return, besides those it lists:
 *   -EBUSY    the database stayed locked by another connection for longer
 *             than the busy timeout
 *   -EIO      an I/O error or a damaged database file
 *   -ENOSPC   the disk is full
 *   -ENOMEM   out of memory
 *   -EROFS    the database file or its directory is read-only
 *
 * Resource versions.  One monotonic int64 counter is shared by all kinds and
 * bumped by every create, update and delete (not by event-log appends).  It
 * appears in objects as the decimal string metadata.resourceVersion, as in
 * Kubernetes; store_rv_parse() reads it back.
 *
 * Threads.  A struct store is used by one thread at a time (orchestratord's
 * event loop), and by the process that opened it only: after fork() the
 * child may only store_close() it.  Several handles, in one process or several,
 * may open the same file: SQLite's locking serialises their writes (WAL mode:
 * readers do not block the writer) and a writer waits up to the busy timeout.
 *
 * Durability.  The file is in WAL mode with synchronous=NORMAL by default: a
 * committed write survives a crash of the process; after a power loss the
 * last few commits may be rolled back, never half-applied.  FULL makes each
 * commit durable at the cost of an fsync.
 */
#ifndef ORCH_STORE_H
#define ORCH_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

struct store;

/* The kinds of record.  Node and MigrationPolicy are cluster-scoped (their
 * namespace is ""), the others are namespaced. */
enum store_kind {
    STORE_KIND_NODE = 0,         /* "Node" */
    STORE_KIND_VM,               /* "VirtualMachine" */
    STORE_KIND_VMI,              /* "VirtualMachineInstance" */
    STORE_KIND_MIGRATION,        /* "VirtualMachineInstanceMigration" */
    STORE_KIND_MIGRATION_POLICY, /* "MigrationPolicy" */
    STORE_KIND_COUNT,
};

/* The Kubernetes kind name of KIND ("VirtualMachineInstanceMigration"), or
 * NULL for a value out of range.  The string is static. */
const char *store_kind_name(enum store_kind kind);

/* Look a kind up by its Kubernetes name (case-sensitive).  Returns the
 * kind (>= 0) or -EINVAL. */
int store_kind_from_name(const char *name);

/* Whether records of KIND live in a namespace. */
bool store_kind_is_namespaced(enum store_kind kind);

enum store_sync {
    STORE_SYNC_NORMAL = 0, /* the default: WAL + synchronous=NORMAL */
    STORE_SYNC_FULL,       /* fsync on every commit */
};

/* Number of changes the change feed keeps by default (see
 * store_changes_since()) and of entries the event log keeps. */
#define STORE_DEFAULT_CHANGE_HISTORY 10000
#define STORE_DEFAULT_EVENT_HISTORY  100000
#define STORE_DEFAULT_BUSY_TIMEOUT   5000

/* Options for store_open().  A zeroed struct (or NULL) gives the defaults. */
struct store_opts {
    int busy_timeout_ms;  /* how long a write waits for a lock;
                             0 = STORE_DEFAULT_BUSY_TIMEOUT, < 0 = fail at
                             once */
    enum store_sync sync; /* STORE_SYNC_NORMAL or STORE_SYNC_FULL */
    long change_history;  /* changes kept for watches; 0 = the default */
    long event_history;   /* events kept in the log; 0 = the default */
};

/* Open (creating it if absent) the database at PATH and bring its schema up
 * to this program's version: an older file is upgraded in one transaction;
 * a file from a newer program is refused.  PATH ":memory:" gives a private
 * in-memory database (for tests).  OPTS may be NULL.
 *
 * On failure ERRBUF (if not NULL) receives a one-line lowercase message for
 * an operator, e.g. "database schema version 7 is newer than this program's
 * 2; upgrade orchestratord" (it does not repeat PATH: the caller says which
 * file), and *RET_STORE is left alone.
 *
 * Returns 0, or -EPROTO (schema from a newer program), -EINVAL (bad options
 * or a file that is not a database of ours), -EACCES (cannot open the file),
 * or one of the common errors.  Free the handle with store_close(). */
int store_open(const char *path, const struct store_opts *opts,
               struct store **ret_store, char *errbuf, size_t errlen);

/* Close the handle, rolling back a transaction left open.  NULL-safe.
 * In a child process forked after store_open() (which must not otherwise
 * use the handle) it only sets the handle aside, touching neither the
 * database nor the parent's threads. */
void store_close(struct store *st);

/* The schema version this program writes. */
int store_schema_version(void);

/* The current global resourceVersion (0 for an empty database). */
int store_resource_version(struct store *st, int64_t *ret_rv);

/* Parse a resourceVersion string ("12345") as found in
 * metadata.resourceVersion or a query string.  Returns 0 or -EINVAL (empty,
 * not a decimal integer >= 0 without sign or leading zeros, or out of
 * range). */
int store_rv_parse(const char *s, int64_t *ret_rv);

/*
 * Transactions.  Each write below is atomic on its own.  To make several
 * writes atomic together (a VMIM and its VMI; a batch of inserts), wrap them
 * in store_txn_begin() ... store_txn_commit().  Transactions do not nest.
 *
 * Inside a transaction a write that fails with -EINVAL, -EEXIST, -ENOENT or
 * -ESTALE leaves the transaction as it was before that write, so the caller
 * may go on or roll back.  Any other failure (an I/O error, a full disk, out
 * of memory, a damaged file) rolls the whole transaction back at once: each
 * later read or write fails with -EIO until
 * store_txn_commit() (which then returns -EIO) or store_txn_rollback() ends
 * it.  (Undoing such a write alone would need a savepoint around every
 * write, which made batched inserts a third slower.)
 *
 * The objects passed to writes inside a transaction are updated in place at
 * once (resourceVersion, uid, ...); if the transaction is rolled back those
 * values never existed: the caller should drop the objects.
 */

/* Begin a write transaction (taking the database's write lock now, waiting
 * up to the busy timeout).  Returns 0, -EINVAL if one is already open, or a
 * common error. */
int store_txn_begin(struct store *st);

/* Commit the open transaction.  On failure it is rolled back.  Returns 0,
 * -EINVAL if none is open, or a common error. */
int store_txn_commit(struct store *st);

/* Roll back the open transaction; a no-op without one.  Returns 0 or a
 * common error (the transaction is gone either way). */
int store_txn_rollback(struct store *st);

/*
 * Records.
 *
 * OBJ is a JSON object with a "metadata" object.  metadata.name identifies
 * the record together with metadata.namespace, which the caller must set
 * for namespaced kinds (the api module defaults it to "default") and must
 * leave absent or "" for cluster-scoped ones.  If OBJ has a "kind" it must
 * match KIND.  The metadata strings the store reads (name, namespace, uid,
 * generateName, creationTimestamp, resourceVersion) must hold no NUL
 * character.  The store does not validate the rest of the object: that is
 * the api module's job before the call.
 */

/* Create a record.  Before storing, the store sets in OBJ (in place, so the
 * caller can answer with it):
 *   metadata.name              if absent and metadata.generateName is set:
 *                              generateName + 5 random [a-z0-9] characters
 *   metadata.uid               a new random UUID, if absent (a uid the
 *                              caller sets is stored as given: the store
 *                              does not check that it is unique)
 *   metadata.creationTimestamp now, RFC 3339 UTC, if absent
 *   metadata.resourceVersion   the new global resourceVersion
 *   metadata.generation        1
 * Returns 0, -EEXIST if a record of KIND with that namespace and name
 * exists, or -EINVAL (OBJ malformed as described above). */
int store_create(struct store *st, enum store_kind kind, json_t *obj);

/* Fetch one record.  NS is ignored (may be NULL) for cluster-scoped kinds.
 * Returns 0 and a new reference in *RET_OBJ (json_decref() it), -ENOENT, or
 * -EINVAL. */
int store_get(struct store *st, enum store_kind kind, const char *ns,
              const char *name, json_t **ret_obj);

/* Fetch one record as its stored JSON text, without parsing it: what
 * store_get() would return, encoded compactly (metadata.resourceVersion,
 * uid, creationTimestamp and generation are those of the record's last
 * write).  NS as for store_get().  Returns 0, a NUL-terminated malloc'd
 * string in *RET_TEXT (free() it) and its length in *RET_LEN if RET_LEN is
 * not NULL; or -ENOENT or -EINVAL. */
int store_get_text(struct store *st, enum store_kind kind, const char *ns,
                   const char *name, char **ret_text, size_t *ret_len);

/* Replace a record with OBJ (found by metadata namespace and name).
 * EXPECTED_RV is the resourceVersion the caller read (0 = unconditional).
 * metadata.uid and metadata.creationTimestamp are kept from the stored
 * record; metadata.generation is bumped when "spec" changed; OBJ is updated
 * in place with these and the new resourceVersion.
 * Returns 0, -ENOENT (no such record), -ESTALE (the stored resourceVersion is
 * not EXPECTED_RV, or OBJ carries a metadata.uid that is not the stored
 * record's: it was deleted and re-created), or -EINVAL. */
int store_update(struct store *st, enum store_kind kind, json_t *obj,
                 int64_t expected_rv);

/* Delete a record.  EXPECTED_RV as for store_update() (0 = unconditional).
 * If RET_LAST is not NULL it receives the deleted object (a new reference)
 * with metadata.resourceVersion set to the deletion's resourceVersion, as a
 * Kubernetes DELETED watch event carries it.
 * Returns 0, -ENOENT, -ESTALE or -EINVAL. */
int store_delete(struct store *st, enum store_kind kind, const char *ns,
                 const char *name, int64_t expected_rv, json_t **ret_last);

/* A filter applied to each candidate object of a list, before it counts
 * toward the limit (the REST server implements label and field selectors
 * with it).  OBJ is borrowed for the call.  Must not call the store. */
typedef bool (*store_match_fn)(const json_t *obj, void *arg);

/* A filter given a record's stored JSON text (LEN bytes, not
 * NUL-terminated, valid while the call lasts) instead of the parsed
 * object, so that it can look at a few members of it for a fraction of
 * what a parse costs.  Must not call the store. */
typedef bool (*store_match_text_fn)(const char *text, size_t len, void *arg);

/* Fields of a record that the store keeps in indexed columns, so that a
 * list can select on them without reading the records. */
enum store_field {
    STORE_FIELD_NAMESPACE = 0,  /* every kind: metadata.namespace ("" for
                                   cluster-scoped kinds) */
    STORE_FIELD_NAME,           /* every kind: metadata.name */
    STORE_FIELD_PHASE,          /* VMI, MIGRATION: status.phase */
    STORE_FIELD_NODE_NAME,      /* VMI: status.nodeName */
    STORE_FIELD_VMI_NAME,       /* MIGRATION: spec.vmiName */
    STORE_FIELD_VMI_NAME_LABEL, /* MIGRATION: metadata.labels
                                   ["kubevirt.io/vmi-name"]
                                   (STORE_VMI_NAME_LABEL) */
    STORE_FIELD_COUNT,
};

/* The label STORE_FIELD_VMI_NAME_LABEL stands for: KubeVirt's mutating
 * webhook sets it on every VMIM to spec.vmiName, and clients select
 * migrations of one VMI by it. */
#define STORE_VMI_NAME_LABEL "kubevirt.io/vmi-name"

/* The most terms one list takes (each is an SQL parameter). */
#define STORE_MAX_TERMS 1000

enum store_term_op {
    STORE_TERM_IN = 0,     /* the field is one of the values */
    STORE_TERM_NOT_IN,     /* the field is none of the values */
    STORE_TERM_EXISTS,     /* the field is present */
    STORE_TERM_NOT_EXISTS, /* the field is absent */
};

/* One condition on an indexed field.  Field selectors' terms and label
 * selectors' requirements translate to these one to one:
 *   - A field other than the label is always present: a missing or
 *     non-string value counts as "" (as a Kubernetes field selector reads
 *     it), so EXISTS always holds and NOT_EXISTS never does.
 *   - The label is absent when the record has no such label, or (which the
 *     api module refuses) a value that is not a string.  An absent label is
 *     in no set: IN fails, NOT_IN holds (Kubernetes' label semantics).
 * A stored value holding a NUL character matches no value of a term
 * (stored strings are compared whole, with their lengths). */
struct store_term {
    enum store_field field;
    enum store_term_op op;
    const char *const *values; /* IN, NOT_IN: n_values (>= 1) strings */
    size_t n_values;
};

/* Options for store_list().  A zeroed struct lists everything. */
struct store_list_opts {
    size_t limit;               /* at most this many items; 0 = no limit */
    const char *continue_token; /* from a previous page; NULL or "" = start */
    store_match_fn match;       /* NULL = every record */
    void *match_arg;

    /* Field filters served by indexed columns; NULL/0 = not filtering.
     * Giving one for a kind that lacks the field is -EINVAL. */
    const char *vmi_name;      /* MIGRATION: spec.vmiName */
    const char *node_name;     /* VMI: status.nodeName; MIGRATION: either
                                  status.migrationState.sourceNode or
                                  .targetNode */
    const char *const *phases; /* VMI, MIGRATION: status.phase is one of */
    size_t n_phases;           /*   these n_phases strings ("" = unset) */
    bool in_flight;            /* MIGRATION: status.phase is neither
                                  Succeeded nor Failed (unset counts) */

    /* More conditions on indexed fields, all of which must hold (and
     * those above).  A list with a condition on one field with a single
     * value (IN with one value: "status.phase=Running") reads only the
     * records with that value, from that field's index; its other
     * conditions are checked on the records it reads, from their columns,
     * without parsing them.  Giving a field the kind lacks is -EINVAL. */
    const struct store_term *terms;
    size_t n_terms; /* at most STORE_MAX_TERMS */

    /* Filters like match (with match_arg) on the stored text, which the
     * store then does not parse: match_labels gets the record's
     * metadata.labels (an object, "{}" when it has none), match_text the
     * whole record.  Checked in that order, before match.  NULL = none. */
    store_match_text_fn match_labels;
    store_match_text_fn match_text;

    /* Read at most this many records for one page (0 = no bound): records
     * the conditions or filters turn down count, as do those returned.
     * When the budget runs out before the page is full, the page ends
     * early with a continue token that resumes after the last record read,
     * so a page may hold fewer than limit items, or none, and still have a
     * token.  The pages together give exactly the matching records.  This
     * bounds the work of one call whatever the selector. */
    size_t max_scan;
};

/* One page of a list.  Free its contents with store_page_release(). */
struct store_page {
    json_t *items;            /* array of objects, ordered by namespace, name */
    char *continue_token;     /* opaque; NULL when this is the last page */
    int64_t resource_version; /* the list's resourceVersion */
};

/* List records of KIND in namespace NS (NULL = all namespaces; ignored for
 * cluster-scoped kinds), ordered by namespace then name.
 *
 * Pagination: with opts->limit, at most that many matching items are
 * returned and, if more match, an opaque continue token that resumes after
 * the last item.  The token also holds the resourceVersion of the first
 * page, which every later page reports as its own.  Consistency across pages
 * is best-effort, not a snapshot: a later page shows records as they are
 * when it is read, so a record created or deleted meanwhile before the
 * token's position is missed, and one after it is seen.  Tokens never
 * expire.  A token made for another namespace or kind resumes from its
 * position without complaint.
 *
 * Returns 0 and fills *RET (on failure *RET is untouched), or -EINVAL
 * (malformed continue token, a field filter the kind lacks, a term with a
 * bad operator or without values, NS missing...). */
int store_list(struct store *st, enum store_kind kind, const char *ns,
               const struct store_list_opts *opts, struct store_page *ret);

/* Free what a page holds and zero it.  NULL-safe. */
void store_page_release(struct store_page *page);

/* One page of a list as JSON text.  Free it with store_text_page_release().
 */
struct store_text_page {
    char *items;              /* the JSON array of the objects, as stored:
                                 "[{...},{...}]", NUL-terminated */
    size_t items_len;         /* strlen(items) */
    size_t n_items;           /* how many objects the array holds */
    char *continue_token;     /* as in struct store_page */
    int64_t resource_version; /* as in struct store_page */
};

/* store_list(), but the items come as one JSON array text, copied from the
 * stored records without a parse (so a REST server can send it as it is).
 * Same arguments, order, pagination and errors as store_list(); with
 * opts->match set, each candidate is still parsed for the filter. */
int store_list_text(struct store *st, enum store_kind kind, const char *ns,
                    const struct store_list_opts *opts,
                    struct store_text_page *ret);

/* Free what a text page holds and zero it.  NULL-safe. */
void store_text_page_release(struct store_text_page *page);

/*
 * Queries for the migration controller.
 */

/* Count migrations in flight (status.phase neither Succeeded nor Failed).
 * SOURCE_NODE NULL counts all of them, else only those whose
 * status.migrationState.sourceNode is SOURCE_NODE.  Returns the count
 * (>= 0) or a negative errno. */
int store_migration_count_in_flight(struct store *st, const char *source_node);

/* Count migrations by status.phase: RET_COUNTS[i] receives the number of
 * migrations whose status.phase is PHASES[i] ("" = unset), from the phase
 * index without reading the records.  Returns 0 or -EINVAL. */
int store_migration_count_phases(struct store *st, const char *const *phases,
                                 size_t n_phases, int64_t *ret_counts);

/* Find the migration in flight for the VMI NS/VMI_NAME (the 409 admission
 * check).  Returns 0 and a new reference in *RET_OBJ if RET_OBJ is not NULL,
 * -ENOENT if there is none, or -EINVAL. */
int store_migration_find_in_flight(struct store *st, const char *ns,
                                   const char *vmi_name, json_t **ret_obj);

/*
 * Change feed, for watches.  Every create, update and delete also records
 * the change (its resourceVersion, kind, namespace, name, type and the
 * object as written) in the same transaction.  (The object of a create or
 * update is stored once: the feed reads it from the record while the record
 * is at that version, and keeps a copy when the record is next updated or
 * deleted.  Readers see no difference.)  The store keeps about the
 * last opts.change_history changes (STORE_DEFAULT_CHANGE_HISTORY); asking
 * for older ones fails with -EKEYEXPIRED, and the REST server answers 410
 * Gone ("too old resource version") so the client lists again.
 */

/* Return, in resourceVersion order, the changes to records of KIND in NS
 * (NULL = all namespaces) made after resourceVersion SINCE_RV, at most LIMIT
 * of them (0 = no limit).  *RET_EVENTS receives a new JSON array of watch
 * events {"type":"ADDED"|"MODIFIED"|"DELETED","object":{...}}; *RET_NEXT_RV
 * the resourceVersion to pass as SINCE_RV next time (it can move past
 * changes of other kinds, so it may be larger than the last event's).
 * SINCE_RV beyond the current resourceVersion gives an empty array.
 * Returns the number of events (>= 0), -EKEYEXPIRED if changes after
 * SINCE_RV have been dropped from the history, or -EINVAL (SINCE_RV < 0). */
int store_changes_since(struct store *st, enum store_kind kind, const char *ns,
                        int64_t since_rv, size_t limit, json_t **ret_events,
                        int64_t *ret_next_rv);

/*
 * Event log: what happened to a record, for `orchctl describe` and the
 * REST events list.  Appends do not bump the resourceVersion.  The log keeps
 * about the last opts.event_history entries.
 */

struct store_event {
    int64_t time;         /* Unix seconds; 0 = now */
    enum store_kind kind; /* the record the event is about */
    const char *ns;       /* NULL or "" for cluster-scoped kinds */
    const char *name;
    const char *uid;     /* may be NULL */
    const char *type;    /* "Normal" or "Warning" */
    const char *reason;  /* CamelCase, e.g. "Migrating" */
    const char *message; /* may be NULL */
};

/* Append an event.  Returns 0 and the event's id (increasing) in *RET_ID if
 * RET_ID is not NULL, or -EINVAL (missing name or reason, bad type). */
int store_event_append(struct store *st, const struct store_event *ev,
                       int64_t *ret_id);

/* Which events store_event_list() returns. */
struct store_event_filter {
    int kind;         /* a store_kind, or -1 for every kind */
    const char *ns;   /* NULL = every namespace */
    const char *name; /* NULL = every record (needs kind) */
    int64_t after_id; /* only events with a larger id; 0 = all */
    size_t limit;     /* at most this many, the oldest first; 0 = all */
};

/* List events, oldest first, as a new JSON array of Kubernetes core/v1
 * Event objects:
 *   {"apiVersion":"v1","kind":"Event",
 *    "metadata":{"name":"<name>.<id>","namespace":ns,"uid":...,
 *                "creationTimestamp":t},
 *    "involvedObject":{"kind":...,"namespace":...,"name":...,"uid":...},
 *    "type":..., "reason":..., "message":...,
 *    "firstTimestamp":t, "lastTimestamp":t, "count":1,
 *    "source":{"component":"orchestratord"}, "id":<int>}
 * FILTER may be NULL (every event).  Returns the number of events (>= 0)
 * and the array in *RET_EVENTS, or -EINVAL. */
int store_event_list(struct store *st, const struct store_event_filter *filter,
                     json_t **ret_events);

#endif
