/*
 * The store: Kubernetes-style records in SQLite (see store.h for the
 * contract, schema.c for the tables).
 *
 * Every statement is prepared once per handle, on first use, and reset after
 * each use so that no statement keeps a read transaction open.  A write
 * outside a caller's transaction runs in its own BEGIN IMMEDIATE ... COMMIT
 * (IMMEDIATE so that the write lock is taken, or waited for, up front: a
 * deferred transaction that later needs to write can fail with SQLITE_BUSY at
 * once in WAL mode, without waiting).
 *
 * Inside a caller's transaction a write is not wrapped in a SAVEPOINT: with
 * one, SQLite copies every page the write touches into a statement journal,
 * which was a third of the cost of a batched insert.  Instead each write
 * does its checks (reads) first, and its first modifying statement is the
 * one that can fail for a reason the caller may want to go on after (a
 * UNIQUE constraint: -EEXIST), which SQLite undoes by itself.  A statement
 * that fails after the write has changed something (an I/O error, a full
 * disk, no memory) rolls the caller's whole transaction back (store.h).
 *
 * The global resourceVersion is counted in memory during a write or a
 * caller's transaction and stored in the meta table once, just before the
 * COMMIT.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "api/api.h"
#include "store/checkpoint.h"
#include "store/schema.h"
#include "store/store.h"
#include "store/text.h"

#define MAX_EXTRA 5

/* Values of the columns a kind copies out of its objects. */
struct extra_vals {
    int n;
    struct {
        bool is_int;
        bool is_null;
        const char *s;
        size_t len;
        int64_t i;
    } v[MAX_EXTRA];
};

/* How a kind keeps one of the fields lists select on (enum store_field). */
struct field_info {
    const char *column; /* NULL: the kind lacks the field */
    const char *index;  /* on (column, namespace, name); NULL: none */
    bool nullable;      /* NULL is "absent" (the label) */
};

struct kind_info {
    const char *name;
    const char *table;
    bool namespaced;
    const char *extra_cols[MAX_EXTRA]; /* NULL-terminated if shorter */
    struct field_info fields[STORE_FIELD_COUNT];
    void (*extract)(const json_t *obj, struct extra_vals *vals);
};

static const json_t *jget(const json_t *obj, const char *a, const char *b,
                          const char *c)
{
    const char *keys[3] = {a, b, c};
    for (int i = 0; i < 3 && keys[i] && obj; i++)
        obj = json_object_get(obj, keys[i]);
    return obj;
}

static const char *jstr(const json_t *obj, const char *a, const char *b,
                        const char *c)
{
    const char *s = json_string_value(jget(obj, a, b, c));
    return s ? s : "";
}

/* The string at A.B.C ("" if there is none), with its length: a NUL
 * inside it is kept, so that "Running\0x" is not indexed as "Running". */
static void put_str(struct extra_vals *vals, const json_t *obj, const char *a,
                    const char *b, const char *c)
{
    const json_t *v = jget(obj, a, b, c);
    vals->v[vals->n].is_int = false;
    vals->v[vals->n].s = json_is_string(v) ? json_string_value(v) : "";
    vals->v[vals->n].len = json_is_string(v) ? json_string_length(v) : 0;
    vals->n++;
}

static void put_int(struct extra_vals *vals, int64_t i)
{
    vals->v[vals->n].is_int = true;
    vals->v[vals->n].i = i;
    vals->n++;
}

/* The label KEY's value, or NULL (SQL NULL) when the record has no such
 * label or one that is not a string (see struct store_term). */
static void put_label(struct extra_vals *vals, const json_t *obj,
                      const char *key)
{
    const json_t *v =
        json_object_get(jget(obj, "metadata", "labels", NULL), key);
    vals->v[vals->n].is_int = false;
    vals->v[vals->n].is_null = !json_is_string(v);
    vals->v[vals->n].s = json_is_string(v) ? json_string_value(v) : NULL;
    vals->v[vals->n].len = json_is_string(v) ? json_string_length(v) : 0;
    vals->n++;
}

static void extract_node(const json_t *obj, struct extra_vals *vals)
{
    const json_t *conds = jget(obj, "status", "conditions", NULL);
    bool ready = false;
    size_t i;
    json_t *c;

    json_array_foreach(conds, i, c)
    {
        if (strcmp(jstr(c, "type", NULL, NULL), "Ready") == 0)
            ready = strcmp(jstr(c, "status", NULL, NULL), "True") == 0;
    }
    put_int(vals, ready);
    put_int(vals, !json_is_true(jget(obj, "spec", "unschedulable", NULL)));
}

static void extract_vm(const json_t *obj, struct extra_vals *vals)
{
    const char *strategy = jstr(obj, "spec", "runStrategy", NULL);
    bool running = json_is_true(jget(obj, "spec", "running", NULL)) ||
                   strcmp(strategy, "Always") == 0 ||
                   strcmp(strategy, "RerunOnFailure") == 0;
    put_int(vals, running);
    put_int(vals, json_is_true(jget(obj, "status", "ready", NULL)));
    put_str(vals, obj, "status", "printableStatus", NULL);
}

static void extract_vmi(const json_t *obj, struct extra_vals *vals)
{
    put_str(vals, obj, "status", "phase", NULL);
    put_str(vals, obj, "status", "nodeName", NULL);
}

static void extract_migration(const json_t *obj, struct extra_vals *vals)
{
    put_str(vals, obj, "status", "phase", NULL);
    put_str(vals, obj, "spec", "vmiName", NULL);
    put_str(vals, obj, "status", "migrationState", "sourceNode");
    put_str(vals, obj, "status", "migrationState", "targetNode");
    put_label(vals, obj, STORE_VMI_NAME_LABEL);
}

static void extract_none(const json_t *obj, struct extra_vals *vals)
{
    (void)obj;
    (void)vals;
}

/* Every kind has its key: (namespace, name) is UNIQUE. */
#define KEY_FIELDS                                                             \
    [STORE_FIELD_NAMESPACE] = {"namespace", NULL, false}, [STORE_FIELD_NAME] = \
                                                              {"name", NULL,   \
                                                               false}

/* The index names are schema.c's (version 5). */
static const struct kind_info kinds[STORE_KIND_COUNT] = {
    [STORE_KIND_NODE] = {"Node",
                         "nodes",
                         false,
                         {"ready", "schedulable"},
                         {KEY_FIELDS},
                         extract_node},
    [STORE_KIND_VM] = {"VirtualMachine",
                       "vms",
                       true,
                       {"running", "ready", "printable_status"},
                       {KEY_FIELDS},
                       extract_vm},
    [STORE_KIND_VMI] =
        {"VirtualMachineInstance",
         "vmis",
         true,
         {"phase", "node_name"},
         {KEY_FIELDS, [STORE_FIELD_PHASE] = {"phase", "vmis_by_phase", false},
          [STORE_FIELD_NODE_NAME] = {"node_name", "vmis_by_node", false}},
         extract_vmi},
    [STORE_KIND_MIGRATION] =
        {"VirtualMachineInstanceMigration",
         "migrations",
         true,
         {"phase", "vmi_name", "source_node", "target_node", "vmi_label"},
         {KEY_FIELDS,
          [STORE_FIELD_PHASE] = {"phase", "migrations_by_phase", false},
          [STORE_FIELD_VMI_NAME] = {"vmi_name", "migrations_by_vmi", false},
          [STORE_FIELD_VMI_NAME_LABEL] = {"vmi_label",
                                          "migrations_by_vmi_label", true}},
         extract_migration},
    [STORE_KIND_MIGRATION_POLICY] = {"MigrationPolicy",
                                     "migration_policies",
                                     false,
                                     {NULL},
                                     {KEY_FIELDS},
                                     extract_none},
};

/* Statements per kind. */
enum {
    KS_INSERT,
    KS_UPDATE,
    KS_SELECT,
    KS_DELETE,
    KS_CHANGES_ALL,
    KS_CHANGES_NS,
    KS_COUNT,
};

/* Statements shared by all kinds. */
enum {
    GS_BEGIN_WRITE,
    GS_BEGIN_READ,
    GS_COMMIT,
    GS_ROLLBACK,
    GS_RV_SET,
    GS_RV_GET,
    GS_FEED_STATE,
    GS_CHANGE_INSERT,
    GS_CHANGE_TRIM,
    GS_FLOOR_SET,
    GS_CHANGE_FILL,
    GS_MIG_COUNT,
    GS_MIG_COUNT_NODE,
    GS_MIG_COUNT_PHASE,
    GS_MIG_FIND,
    GS_EVENT_INSERT,
    GS_EVENT_TRIM,
    GS_EVENT_LIST,
    GS_EVENT_LIST_OBJ,
    GS_COUNT,
};

static const char *const global_sql[GS_COUNT] = {
    [GS_BEGIN_WRITE] = "BEGIN IMMEDIATE",
    [GS_BEGIN_READ] = "BEGIN",
    [GS_COMMIT] = "COMMIT",
    [GS_ROLLBACK] = "ROLLBACK",
    [GS_RV_SET] = "UPDATE meta SET value = ?1 WHERE key = 'resource_version'",
    [GS_RV_GET] = "SELECT value FROM meta WHERE key = 'resource_version'",
    [GS_FEED_STATE] =
        "SELECT (SELECT value FROM meta WHERE key = 'resource_version'),"
        " (SELECT value FROM meta WHERE key = 'changes_floor')",
    [GS_CHANGE_INSERT] = "INSERT INTO changes"
                         " (rv, kind, namespace, name, type, object)"
                         " VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    [GS_CHANGE_TRIM] = "DELETE FROM changes WHERE rv <= ?1",
    [GS_FLOOR_SET] = "UPDATE meta SET value = max(value, ?1)"
                     " WHERE key = 'changes_floor'",
    /* Keeps the object of a change whose record is about to be
     * overwritten (schema.c, version 3). */
    [GS_CHANGE_FILL] = "UPDATE changes SET object = ?2"
                       " WHERE rv = ?1 AND object IS NULL",
    /* The WHERE terms match the partial indexes' (schema.c) word for word,
     * which is what lets SQLite use them. */
    [GS_MIG_COUNT] = "SELECT count(*) FROM migrations"
                     " WHERE phase NOT IN ('Succeeded', 'Failed')",
    [GS_MIG_COUNT_NODE] = "SELECT count(*) FROM migrations"
                          " WHERE phase NOT IN ('Succeeded', 'Failed')"
                          " AND source_node = ?1",
    [GS_MIG_COUNT_PHASE] = "SELECT count(*) FROM migrations"
                           " INDEXED BY migrations_by_phase WHERE phase = ?1",
    [GS_MIG_FIND] = "SELECT object FROM migrations"
                    " WHERE phase NOT IN ('Succeeded', 'Failed')"
                    " AND namespace = ?1 AND vmi_name = ?2"
                    " ORDER BY id LIMIT 1",
    [GS_EVENT_INSERT] = "INSERT INTO events"
                        " (time, kind, namespace, name, uid, type, reason,"
                        " message) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    [GS_EVENT_TRIM] = "DELETE FROM events WHERE id <= ?1",
    [GS_EVENT_LIST] =
        "SELECT id, time, kind, namespace, name, uid, type, reason, message"
        " FROM events WHERE id > ?1 AND (?2 IS NULL OR kind = ?2)"
        " AND (?3 IS NULL OR namespace = ?3) ORDER BY id LIMIT ?5",
    [GS_EVENT_LIST_OBJ] =
        "SELECT id, time, kind, namespace, name, uid, type, reason, message"
        " FROM events WHERE kind = ?2 AND namespace = ?3 AND name = ?4"
        " AND id > ?1 ORDER BY id LIMIT ?5",
};

/* How many list statements a handle keeps prepared. */
#define LIST_CACHE 16

struct store {
    sqlite3 *db;
    sqlite3_stmt *gstmt[GS_COUNT];
    sqlite3_stmt *kstmt[STORE_KIND_COUNT][KS_COUNT];
    long change_history;
    long event_history;
    bool in_txn;      /* the caller's transaction is open */
    bool txn_aborted; /* ... but it was rolled back after an error */
    bool op_dirty;    /* the current write has changed the database */
    /* While we hold the write lock (a write, the caller's transaction) the
     * resourceVersion is read once and then counted here; rv_dirty: it
     * still has to be stored in the meta table. */
    bool rv_cached;
    bool rv_dirty;
    int64_t rv;
    int64_t rv_at_op; /* to undo a failed write's bump */
    bool rv_cached_at_op;
    bool rv_dirty_at_op;
    /* List statements, made for each shape of query (list_sql()) and
     * kept: a selector used again finds its statement prepared. */
    struct {
        char *sql;
        sqlite3_stmt *stmt;
    } lists[LIST_CACHE];
    unsigned lists_next;  /* the slot to reuse next */
    struct text_buf text; /* a record's JSON text, reused */
    struct text_buf labels;
    struct store_ckpt *ckpt; /* NULL: checkpoint in wal_hook() */
    int ckpt_frames;         /* checkpoint past this many WAL frames */
    pid_t pid;               /* the process that opened it */
    struct store *next_orphan;
};

/* Handles closed in a forked child (store_close()), kept so that they stay
 * reachable rather than leak. */
static struct store *orphans;

/*
 * Small helpers: base64url.
 */

static const char b64url[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* Encode without padding.  Returns a malloc'd string or NULL. */
static char *base64url_encode(const unsigned char *in, size_t len)
{
    char *out = malloc((len + 2) / 3 * 4 + 1), *p = out;
    size_t i;
    if (!out)
        return NULL;
    for (i = 0; i + 2 < len; i += 3) {
        uint32_t v =
            (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
        *p++ = b64url[v >> 18 & 63];
        *p++ = b64url[v >> 12 & 63];
        *p++ = b64url[v >> 6 & 63];
        *p++ = b64url[v & 63];
    }
    if (len - i == 1) {
        uint32_t v = (uint32_t)in[i] << 16;
        *p++ = b64url[v >> 18 & 63];
        *p++ = b64url[v >> 12 & 63];
    } else if (len - i == 2) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8;
        *p++ = b64url[v >> 18 & 63];
        *p++ = b64url[v >> 12 & 63];
        *p++ = b64url[v >> 6 & 63];
    }
    *p = '\0';
    return out;
}

/* Decode unpadded base64url strictly (no padding, no whitespace, no stray
 * bits).  Returns the length, or -EINVAL / -ENOMEM; *RET_OUT is malloc'd. */
static int base64url_decode(const char *in, unsigned char **ret_out)
{
    size_t len = strlen(in), n = 0;
    uint32_t acc = 0;
    int bits = 0;
    unsigned char *out;

    if (len % 4 == 1)
        return -EINVAL;
    out = malloc(len * 3 / 4 + 1);
    if (!out)
        return -ENOMEM;
    for (size_t i = 0; i < len; i++) {
        const char *pos = in[i] ? strchr(b64url, in[i]) : NULL;
        if (!pos) {
            free(out);
            return -EINVAL;
        }
        acc = acc << 6 | (uint32_t)(pos - b64url);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[n++] = (unsigned char)(acc >> bits);
            acc &= (1u << bits) - 1;
        }
    }
    if (acc != 0) { /* non-canonical: leftover bits must be zero */
        free(out);
        return -EINVAL;
    }
    *ret_out = out;
    return (int)n;
}

/*
 * Statements.
 */

static int stmt_prepare(struct store *st, const char *sql,
                        sqlite3_stmt **ret_stmt)
{
    int rc = sqlite3_prepare_v3(st->db, sql, -1, SQLITE_PREPARE_PERSISTENT,
                                ret_stmt, NULL);
    return store_errno(rc);
}

static int gstmt(struct store *st, int id, sqlite3_stmt **ret_stmt)
{
    if (!st->gstmt[id]) {
        int r = stmt_prepare(st, global_sql[id], &st->gstmt[id]);
        if (r < 0)
            return r;
    }
    *ret_stmt = st->gstmt[id];
    return 0;
}

static int kstmt(struct store *st, enum store_kind kind, int id,
                 sqlite3_stmt **ret_stmt)
{
    const struct kind_info *k = &kinds[kind];
    char cols[256] = "", params[64] = "", sets[256] = "", sql[1024];
    int r;

    if (st->kstmt[kind][id]) {
        *ret_stmt = st->kstmt[kind][id];
        return 0;
    }
    for (int i = 0; i < MAX_EXTRA && k->extra_cols[i]; i++) {
        size_t n = strlen(cols), m = strlen(params), s = strlen(sets);
        snprintf(cols + n, sizeof(cols) - n, ", %s", k->extra_cols[i]);
        snprintf(params + m, sizeof(params) - m, ", ?%d", 8 + i);
        snprintf(sets + s, sizeof(sets) - s, ", %s = ?%d", k->extra_cols[i],
                 8 + i);
    }
    /* Parameters: ?1 namespace, ?2 name, ?3 uid, ?4 resourceVersion,
     * ?5 creation, ?6 labels, ?7 object, ?8... the extra columns. */
    switch (id) {
    case KS_INSERT:
        snprintf(sql, sizeof(sql),
                 "INSERT INTO %s (namespace, name, uid, resource_version,"
                 " creation, labels, object%s)"
                 " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7%s)",
                 k->table, cols, params);
        break;
    case KS_UPDATE:
        snprintf(sql, sizeof(sql),
                 "UPDATE %s SET uid = ?3, resource_version = ?4,"
                 " creation = ?5, labels = ?6, object = ?7%s"
                 " WHERE namespace = ?1 AND name = ?2",
                 k->table, sets);
        break;
    case KS_SELECT:
        snprintf(sql, sizeof(sql),
                 "SELECT object, resource_version, uid, creation FROM %s"
                 " WHERE namespace = ?1 AND name = ?2",
                 k->table);
        break;
    case KS_DELETE:
        snprintf(sql, sizeof(sql),
                 "DELETE FROM %s WHERE namespace = ?1 AND name = ?2", k->table);
        break;
    case KS_CHANGES_ALL:
    case KS_CHANGES_NS:
        /* A NULL object is the record's current text (schema.c, version
         * 3); the join finds it only while the record has that version.
         * ?1 since rv, ?2 kind name, ?3 namespace, ?4 limit. */
        snprintf(sql, sizeof(sql),
                 "SELECT c.rv, c.type, coalesce(c.object, r.object)"
                 " FROM changes AS c LEFT JOIN %s AS r"
                 " ON c.object IS NULL AND r.namespace = c.namespace"
                 " AND r.name = c.name AND r.resource_version = c.rv"
                 " WHERE c.rv > ?1 AND c.kind = ?2%s ORDER BY c.rv LIMIT ?4",
                 k->table, id == KS_CHANGES_NS ? " AND c.namespace = ?3" : "");
        break;
    default:
        return -EINVAL;
    }
    r = stmt_prepare(st, sql, &st->kstmt[kind][id]);
    if (r < 0)
        return r;
    *ret_stmt = st->kstmt[kind][id];
    return 0;
}

/* Reset a statement after use: ends its read and drops its bindings. */
static void stmt_done(sqlite3_stmt *stmt)
{
    if (stmt) {
        sqlite3_reset(stmt);
        sqlite3_clear_bindings(stmt);
    }
}

/* Run a statement that returns no rows. */
static int gexec(struct store *st, int id)
{
    sqlite3_stmt *stmt = NULL;
    int r = gstmt(st, id, &stmt);
    if (r < 0)
        return r;
    r = store_errno(sqlite3_step(stmt));
    stmt_done(stmt);
    return r;
}

static int bind_text(sqlite3_stmt *stmt, int idx, const char *s)
{
    return store_errno(sqlite3_bind_text(stmt, idx, s, -1, SQLITE_STATIC));
}

/* Bind S, or NULL when S is NULL. */
static int bind_text_or_null(sqlite3_stmt *stmt, int idx, const char *s)
{
    if (!s)
        return store_errno(sqlite3_bind_null(stmt, idx));
    return bind_text(stmt, idx, s);
}

/*
 * Opening and closing.
 */

int store_schema_version(void)
{
    return STORE_SCHEMA_VERSION;
}

static int set_journal_mode(sqlite3 *db, bool in_memory, char *errbuf,
                            size_t errlen)
{
    sqlite3_stmt *stmt = NULL;
    int rc, r = 0;

    rc = sqlite3_prepare_v2(db, "PRAGMA journal_mode = WAL", -1, &stmt, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_step(stmt);
    if (rc != SQLITE_ROW) {
        snprintf(errbuf, errlen, "cannot switch to WAL mode: %s",
                 sqlite3_errmsg(db));
        r = rc == SQLITE_NOTADB ? -EINVAL : store_errno(rc);
        if (r == 0)
            r = -EIO;
        goto out;
    }
    /* An in-memory database has no WAL and says "memory". */
    const char *mode = (const char *)sqlite3_column_text(stmt, 0);
    if (!in_memory && (!mode || strcmp(mode, "wal") != 0)) {
        snprintf(errbuf, errlen,
                 "cannot switch to WAL mode: the journal mode stays '%s'",
                 mode ? mode : "");
        r = -EIO;
    }
out:
    sqlite3_finalize(stmt);
    return r;
}

/* Called by SQLite after each commit with the number of frames in the WAL
 * (which starts again from 0 after a complete checkpoint).  Past
 * ckpt_frames the checkpointer thread is asked to checkpoint; should it
 * fall far behind (or be missing), this connection checkpoints itself, as
 * SQLite's own wal_autocheckpoint does, so that the WAL stays bounded. */
static int wal_hook(void *arg, sqlite3 *db, const char *name, int frames)
{
    struct store *st = arg;

    if (frames < st->ckpt_frames)
        return SQLITE_OK;
    if (st->ckpt && frames < 4 * st->ckpt_frames)
        store_ckpt_request(st->ckpt);
    else
        sqlite3_wal_checkpoint_v2(db, name, SQLITE_CHECKPOINT_PASSIVE, NULL,
                                  NULL);
    return SQLITE_OK;
}

/* Checkpoint every 40 MB of WAL (SQLite's default is 1000 pages, 4 MB):
 * a page written many times between checkpoints is copied once. */
static void wal_setup(struct store *st, const char *file)
{
    sqlite3_stmt *stmt = NULL;
    int page_size = 4096;

    if (sqlite3_prepare_v2(st->db, "PRAGMA page_size", -1, &stmt, NULL) ==
            SQLITE_OK &&
        sqlite3_step(stmt) == SQLITE_ROW && sqlite3_column_int(stmt, 0) > 0)
        page_size = sqlite3_column_int(stmt, 0);
    sqlite3_finalize(stmt);
    st->ckpt_frames = 40 * 1024 * 1024 / page_size;
    /* Without a thread, wal_hook() checkpoints in this one. */
    if (store_ckpt_start(file, &st->ckpt) < 0)
        st->ckpt = NULL;
    sqlite3_wal_hook(st->db, wal_hook, st);
}

int store_open(const char *path, const struct store_opts *opts,
               struct store **ret_store, char *errbuf, size_t errlen)
{
    static const struct store_opts defaults = {0};
    char dummy[1];
    struct store *st = NULL;
    bool in_memory;
    int rc, r;

    if (!errbuf || errlen == 0) {
        errbuf = dummy;
        errlen = sizeof(dummy);
    }
    errbuf[0] = '\0';
    if (!opts)
        opts = &defaults;
    if (!path || !*path || !ret_store) {
        snprintf(errbuf, errlen, "no database path given");
        return -EINVAL;
    }
    if (opts->change_history < 0 || opts->event_history < 0 ||
        (opts->sync != STORE_SYNC_NORMAL && opts->sync != STORE_SYNC_FULL)) {
        snprintf(errbuf, errlen, "invalid store options");
        return -EINVAL;
    }

    st = calloc(1, sizeof(*st));
    if (!st) {
        snprintf(errbuf, errlen, "out of memory");
        return -ENOMEM;
    }
    st->pid = getpid();
    st->change_history = opts->change_history ? opts->change_history
                                              : STORE_DEFAULT_CHANGE_HISTORY;
    st->event_history =
        opts->event_history ? opts->event_history : STORE_DEFAULT_EVENT_HISTORY;

    /* NOMUTEX: a handle is used by one thread at a time (store.h), so
     * SQLite's per-connection mutex is only overhead. */
    rc = sqlite3_open_v2(
        path, &st->db,
        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK) {
        snprintf(errbuf, errlen, "cannot open the database: %s",
                 st->db ? sqlite3_errmsg(st->db) : sqlite3_errstr(rc));
        r = store_errno(rc);
        goto fail;
    }
    sqlite3_extended_result_codes(st->db, 1);
    sqlite3_busy_timeout(st->db, opts->busy_timeout_ms < 0 ? 0
                                 : opts->busy_timeout_ms
                                     ? opts->busy_timeout_ms
                                     : STORE_DEFAULT_BUSY_TIMEOUT);

    /* A temporary or in-memory database has no file name. */
    const char *file = sqlite3_db_filename(st->db, "main");
    in_memory = !file || !*file;
    /* Nothing is written to a file we would refuse. */
    r = store_schema_check(st->db, errbuf, errlen);
    if (r < 0)
        goto fail;
    /* A record (about 2 KB of JSON and its columns) does not fit twice in
     * a 4 KiB page, so each insert wrote a page half empty; 8 KiB pages
     * hold three.  With plain SQLite inserts of such records that was 1.5
     * times as fast and wrote a third less.  (16 KiB pages were faster
     * still for batches, but a single-write commit writes every page it
     * touched, and took 3 times as long as with 4 KiB; with 8 KiB, about
     * 5 % longer.)  Only a new file takes it: an existing one keeps its
     * page size. */
    rc = sqlite3_exec(st->db, "PRAGMA page_size = 8192", NULL, NULL, NULL);
    if (rc != SQLITE_OK) {
        snprintf(errbuf, errlen, "cannot set the page size: %s",
                 sqlite3_errmsg(st->db));
        r = rc == SQLITE_NOTADB ? -EINVAL : store_errno(rc);
        goto fail;
    }
    r = set_journal_mode(st->db, in_memory, errbuf, errlen);
    if (r < 0)
        goto fail;
    /* temp_store: statement journals stay in memory.
     * cache_size: 16 MiB of pages (the default is 2 MB).
     * journal_size_limit: the WAL file is cut back to 64 MiB after a
     * checkpoint.  Checkpoints: see wal_hook(). */
    char pragmas[256];
    snprintf(pragmas, sizeof(pragmas),
             "PRAGMA synchronous = %s; PRAGMA temp_store = MEMORY;"
             " PRAGMA cache_size = -16384;"
             " PRAGMA journal_size_limit = 67108864;",
             opts->sync == STORE_SYNC_FULL ? "FULL" : "NORMAL");
    rc = sqlite3_exec(st->db, pragmas, NULL, NULL, NULL);
    if (rc != SQLITE_OK) {
        snprintf(errbuf, errlen, "cannot set the database options: %s",
                 sqlite3_errmsg(st->db));
        r = store_errno(rc);
        goto fail;
    }
    r = store_schema_upgrade(st->db, errbuf, errlen);
    if (r < 0)
        goto fail;
    if (!in_memory)
        wal_setup(st, file);

    *ret_store = st;
    return 0;
fail:
    if (r == 0)
        r = -EIO;
    store_close(st);
    return r;
}

void store_close(struct store *st)
{
    if (!st)
        return;
    /* A child of a fork must not use its copy of the parent's connection,
     * not even to roll back or close it (SQLite's "How To Corrupt", 2.6):
     * its rollback would undo the parent's pages in the WAL index they
     * share.  Nor does the checkpointer thread exist here.  The handle is
     * set aside untouched. */
    if (st->pid != getpid()) {
        st->next_orphan = orphans;
        orphans = st;
        return;
    }
    /* First: closing the last connection checkpoints and removes the WAL,
     * which the checkpointer's connection would prevent. */
    store_ckpt_stop(st->ckpt);
    if (st->db && !sqlite3_get_autocommit(st->db))
        sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
    for (int i = 0; i < GS_COUNT; i++)
        sqlite3_finalize(st->gstmt[i]);
    for (int k = 0; k < STORE_KIND_COUNT; k++)
        for (int i = 0; i < KS_COUNT; i++)
            sqlite3_finalize(st->kstmt[k][i]);
    for (int i = 0; i < LIST_CACHE; i++) {
        sqlite3_finalize(st->lists[i].stmt);
        free(st->lists[i].sql);
    }
    sqlite3_close(st->db);
    store_text_release(&st->text);
    store_text_release(&st->labels);
    free(st);
}

/*
 * Kinds and resource versions.
 */

const char *store_kind_name(enum store_kind kind)
{
    if ((unsigned)kind >= STORE_KIND_COUNT)
        return NULL;
    return kinds[kind].name;
}

int store_kind_from_name(const char *name)
{
    for (int k = 0; name && k < STORE_KIND_COUNT; k++)
        if (strcmp(kinds[k].name, name) == 0)
            return k;
    return -EINVAL;
}

bool store_kind_is_namespaced(enum store_kind kind)
{
    return (unsigned)kind < STORE_KIND_COUNT && kinds[kind].namespaced;
}

int store_rv_parse(const char *s, int64_t *ret_rv)
{
    int64_t v = 0;

    if (!s || !*s || (s[0] == '0' && s[1]))
        return -EINVAL;
    for (const char *p = s; *p; p++) {
        if (*p < '0' || *p > '9')
            return -EINVAL;
        if (v > (INT64_MAX - (*p - '0')) / 10)
            return -EINVAL;
        v = v * 10 + (*p - '0');
    }
    *ret_rv = v;
    return 0;
}

static int read_rv(struct store *st, int64_t *ret_rv)
{
    sqlite3_stmt *stmt = NULL;
    int r, rc;

    /* Counted, not yet stored: ours is the newest. */
    if (st->rv_cached) {
        *ret_rv = st->rv;
        return 0;
    }
    r = gstmt(st, GS_RV_GET, &stmt);
    if (r < 0)
        return r;
    rc = sqlite3_step(stmt);
    if (rc == SQLITE_ROW)
        *ret_rv = sqlite3_column_int64(stmt, 0);
    else
        r = rc == SQLITE_DONE ? -EIO : store_errno(rc);
    stmt_done(stmt);
    return r;
}

int store_resource_version(struct store *st, int64_t *ret_rv)
{
    if (!st || !ret_rv)
        return -EINVAL;
    if (st->txn_aborted)
        return -EIO;
    return read_rv(st, ret_rv);
}

/* Run a statement that changes the database.  A failure other than a
 * constraint (which SQLite undoes by itself) may leave part of the current
 * write done, so op_end() must not keep the transaction. */
static int step_write(struct store *st, sqlite3_stmt *stmt)
{
    int rc = sqlite3_step(stmt);
    if (rc == SQLITE_DONE || (rc & 0xff) != SQLITE_CONSTRAINT)
        st->op_dirty = true;
    return store_errno(rc);
}

/* Store the counted resourceVersion, if it moved. */
static int flush_rv(struct store *st)
{
    sqlite3_stmt *stmt = NULL;
    int r;

    if (!st->rv_dirty)
        return 0;
    r = gstmt(st, GS_RV_SET, &stmt);
    if (r < 0)
        return r;
    sqlite3_bind_int64(stmt, 1, st->rv);
    r = store_errno(sqlite3_step(stmt));
    stmt_done(stmt);
    if (r == 0)
        st->rv_dirty = false;
    return r;
}

static void forget_rv(struct store *st)
{
    st->rv_cached = false;
    st->rv_dirty = false;
}

/*
 * Transactions.
 */

int store_txn_begin(struct store *st)
{
    int r;
    if (!st || st->in_txn)
        return -EINVAL;
    r = gexec(st, GS_BEGIN_WRITE);
    if (r < 0)
        return r;
    st->in_txn = true;
    st->txn_aborted = false;
    forget_rv(st);
    return 0;
}

int store_txn_commit(struct store *st)
{
    int r;
    if (!st || !st->in_txn)
        return -EINVAL;
    st->in_txn = false;
    if (st->txn_aborted) {
        st->txn_aborted = false;
        forget_rv(st);
        if (!sqlite3_get_autocommit(st->db))
            gexec(st, GS_ROLLBACK);
        return -EIO;
    }
    r = flush_rv(st);
    if (r == 0)
        r = gexec(st, GS_COMMIT);
    forget_rv(st);
    if (r < 0 && !sqlite3_get_autocommit(st->db))
        gexec(st, GS_ROLLBACK);
    return r;
}

int store_txn_rollback(struct store *st)
{
    int r = 0;
    if (!st || !st->in_txn)
        return 0;
    st->in_txn = false;
    st->txn_aborted = false;
    forget_rv(st);
    if (!sqlite3_get_autocommit(st->db))
        r = gexec(st, GS_ROLLBACK);
    return r;
}

/* Start one write: its own transaction, or a part of the caller's. */
static int op_begin(struct store *st)
{
    st->op_dirty = false;
    st->rv_at_op = st->rv;
    st->rv_cached_at_op = st->rv_cached;
    st->rv_dirty_at_op = st->rv_dirty;
    if (st->in_txn)
        return st->txn_aborted ? -EIO : 0;
    return gexec(st, GS_BEGIN_WRITE);
}

/* Finish the write op_begin() started: keep it if R >= 0, else undo it.
 * Returns R, or the error that kept it from being committed. */
static int op_end(struct store *st, int r)
{
    if (r >= 0 && st->in_txn)
        return r;
    if (r >= 0) {
        int c = flush_rv(st);
        if (c == 0)
            c = gexec(st, GS_COMMIT);
        if (c == 0) {
            forget_rv(st);
            return r;
        }
        r = c;
    }
    if (!st->in_txn) {
        forget_rv(st);
        if (!sqlite3_get_autocommit(st->db))
            gexec(st, GS_ROLLBACK);
        return r;
    }
    st->rv = st->rv_at_op;
    st->rv_cached = st->rv_cached_at_op;
    st->rv_dirty = st->rv_dirty_at_op;
    /* Some errors (I/O, full disk) make SQLite roll the whole transaction
     * back by itself; and a write that failed half-way cannot be undone
     * alone without a savepoint (see the top of this file).  Either way
     * the caller learns at commit. */
    if (sqlite3_get_autocommit(st->db) || st->op_dirty) {
        if (!sqlite3_get_autocommit(st->db))
            gexec(st, GS_ROLLBACK);
        st->txn_aborted = true;
        forget_rv(st);
    }
    return r;
}

/* Read transactions make a list's rows and its resourceVersion one
 * snapshot.  Inside the caller's write transaction there is nothing to do. */
static int read_begin(struct store *st)
{
    if (st->in_txn)
        return st->txn_aborted ? -EIO : 0;
    return gexec(st, GS_BEGIN_READ);
}

static void read_end(struct store *st)
{
    if (!st->in_txn && !sqlite3_get_autocommit(st->db))
        gexec(st, GS_COMMIT);
}

/* Take the next resourceVersion (stored by op_end() or at commit). */
static int bump_rv(struct store *st, int64_t *ret_rv)
{
    int64_t rv = 0;
    int r = read_rv(st, &rv);

    if (r < 0)
        return r;
    st->rv = rv + 1;
    st->rv_cached = true;
    st->rv_dirty = true;
    *ret_rv = st->rv;
    return 0;
}

/* Record a change for the watch feed and keep the feed bounded.  TEXT is
 * the object for a DELETED change, NULL for the others (schema.c, version
 * 3).  Trimming runs every `every` changes rather than on each one, so the
 * feed holds between change_history and change_history + every changes. */
static int record_change(struct store *st, enum store_kind kind, const char *ns,
                         const char *name, const char *type, int64_t rv,
                         const struct text_buf *text)
{
    sqlite3_stmt *stmt = NULL;
    long every = st->change_history < 128 ? st->change_history : 128;
    int r = gstmt(st, GS_CHANGE_INSERT, &stmt);
    if (r < 0)
        return r;
    sqlite3_bind_int64(stmt, 1, rv);
    sqlite3_bind_text(stmt, 2, kinds[kind].name, -1, SQLITE_STATIC);
    sqlite3_bind_text(stmt, 3, ns, -1, SQLITE_STATIC);
    sqlite3_bind_text(stmt, 4, name, -1, SQLITE_STATIC);
    sqlite3_bind_text(stmt, 5, type, -1, SQLITE_STATIC);
    if (text)
        r = store_errno(sqlite3_bind_text64(stmt, 6, text->data, text->len,
                                            SQLITE_STATIC, SQLITE_UTF8));
    if (r == 0)
        r = step_write(st, stmt);
    stmt_done(stmt);
    /* A change already at that resourceVersion: the feed is damaged. */
    if (r == -EEXIST)
        r = -EIO;
    if (r < 0 || rv % every != 0 || rv <= st->change_history)
        return r;

    int64_t floor = rv - st->change_history;
    r = gstmt(st, GS_CHANGE_TRIM, &stmt);
    if (r < 0)
        return r;
    sqlite3_bind_int64(stmt, 1, floor);
    r = step_write(st, stmt);
    stmt_done(stmt);
    if (r < 0)
        return r;
    r = gstmt(st, GS_FLOOR_SET, &stmt);
    if (r < 0)
        return r;
    sqlite3_bind_int64(stmt, 1, floor);
    r = step_write(st, stmt);
    stmt_done(stmt);
    return r;
}

/* A record at resourceVersion OLD_RV, whose stored text is TEXT, is about
 * to be overwritten or deleted: keep that text in its change, if the feed
 * still holds it. */
static int change_fill(struct store *st, int64_t old_rv, const char *text,
                       size_t len)
{
    sqlite3_stmt *stmt = NULL;
    int r = gstmt(st, GS_CHANGE_FILL, &stmt);
    if (r < 0)
        return r;
    sqlite3_bind_int64(stmt, 1, old_rv);
    r = store_errno(
        sqlite3_bind_text64(stmt, 2, text, len, SQLITE_STATIC, SQLITE_UTF8));
    if (r == 0)
        r = step_write(st, stmt);
    stmt_done(stmt);
    return r;
}

/*
 * Records.
 */

/* Whether V is a string without NUL characters (jansson allows them; the
 * key columns are C strings and would stop at the first). */
static bool is_plain_string(const json_t *v)
{
    const char *s = json_string_value(v);
    return s && strlen(s) == json_string_length(v);
}

/* Check OBJ's shape and find its namespace ("" for cluster-scoped kinds) and
 * name (NULL when absent: generateName may provide one). */
static int record_key(enum store_kind kind, const json_t *obj,
                      const char **ret_ns, const char **ret_name)
{
    const json_t *meta, *v;
    const char *ns = "", *name = NULL;

    if ((unsigned)kind >= STORE_KIND_COUNT || !json_is_object(obj))
        return -EINVAL;
    v = json_object_get(obj, "kind");
    if (v && (!is_plain_string(v) ||
              strcmp(json_string_value(v), kinds[kind].name) != 0))
        return -EINVAL;
    meta = json_object_get(obj, "metadata");
    if (!json_is_object(meta))
        return -EINVAL;
    static const char *const strings[] = {"name",         "namespace",
                                          "uid",          "creationTimestamp",
                                          "generateName", "resourceVersion"};
    for (size_t i = 0; i < sizeof(strings) / sizeof(strings[0]); i++) {
        v = json_object_get(meta, strings[i]);
        if (v && !is_plain_string(v))
            return -EINVAL;
    }
    v = json_object_get(meta, "name");
    if (v) {
        name = json_string_value(v);
        if (!*name)
            return -EINVAL;
    }
    v = json_object_get(meta, "namespace");
    if (v)
        ns = json_string_value(v);
    if (kinds[kind].namespaced != (*ns != '\0'))
        return -EINVAL;
    v = json_object_get(meta, "labels");
    if (v && !json_is_object(v))
        return -EINVAL;
    *ret_ns = ns;
    *ret_name = name;
    return 0;
}

static int set_string(json_t *obj, const char *key, const char *value)
{
    return json_object_set_new(obj, key, json_string(value)) ? -ENOMEM : 0;
}

static int set_rv(json_t *meta, int64_t rv)
{
    char buf[24];
    snprintf(buf, sizeof(buf), "%lld", (long long)rv);
    return set_string(meta, "resourceVersion", buf);
}

/* Bind a record's columns and run KS_INSERT or KS_UPDATE.  The record's text
 * is left in st->text. */
static int write_row(struct store *st, enum store_kind kind, int id,
                     const char *ns, const char *name, const json_t *obj,
                     int64_t rv)
{
    const json_t *meta = json_object_get(obj, "metadata");
    const json_t *labels = json_object_get(meta, "labels");
    struct extra_vals vals = {0};
    sqlite3_stmt *stmt = NULL;
    int r;

    r = store_text_encode(&st->text, obj);
    if (r == 0 && labels)
        r = store_text_encode(&st->labels, labels);
    if (r < 0)
        return r;
    r = kstmt(st, kind, id, &stmt);
    if (r < 0)
        return r;
    kinds[kind].extract(obj, &vals);
    sqlite3_bind_text(stmt, 1, ns, -1, SQLITE_STATIC);
    sqlite3_bind_text(stmt, 2, name, -1, SQLITE_STATIC);
    sqlite3_bind_text(stmt, 3, jstr(meta, "uid", NULL, NULL), -1,
                      SQLITE_STATIC);
    sqlite3_bind_int64(stmt, 4, rv);
    sqlite3_bind_text(stmt, 5, jstr(meta, "creationTimestamp", NULL, NULL), -1,
                      SQLITE_STATIC);
    if (labels)
        sqlite3_bind_text(stmt, 6, st->labels.data, (int)st->labels.len,
                          SQLITE_STATIC);
    else
        sqlite3_bind_text(stmt, 6, "{}", 2, SQLITE_STATIC);
    r = store_errno(sqlite3_bind_text64(stmt, 7, st->text.data, st->text.len,
                                        SQLITE_STATIC, SQLITE_UTF8));
    for (int i = 0; r == 0 && i < vals.n; i++) {
        if (vals.v[i].is_int)
            sqlite3_bind_int64(stmt, 8 + i, vals.v[i].i);
        else if (vals.v[i].is_null)
            r = store_errno(sqlite3_bind_null(stmt, 8 + i));
        else
            r = store_errno(sqlite3_bind_text64(stmt, 8 + i, vals.v[i].s,
                                                vals.v[i].len, SQLITE_STATIC,
                                                SQLITE_UTF8));
    }
    if (r == 0)
        r = step_write(st, stmt);
    if (r == 0 && id == KS_UPDATE && sqlite3_changes(st->db) != 1)
        r = -ENOENT;
    stmt_done(stmt);
    return r;
}

/* The metadata fields a write may set, saved beforehand so that a failed
 * write leaves the caller's object as it was. */
static const char *const written_keys[] = {
    "name", "uid", "creationTimestamp", "resourceVersion", "generation",
};
#define N_WRITTEN (sizeof(written_keys) / sizeof(written_keys[0]))

struct saved_meta {
    json_t *old[N_WRITTEN];
};

static void meta_save(const json_t *meta, struct saved_meta *saved)
{
    for (size_t i = 0; i < N_WRITTEN; i++)
        saved->old[i] = json_incref(json_object_get(meta, written_keys[i]));
}

/* Put the saved fields back if RESTORE, then drop the saved references. */
static void meta_restore(json_t *meta, struct saved_meta *saved, bool restore)
{
    for (size_t i = 0; i < N_WRITTEN; i++) {
        if (restore && saved->old[i])
            json_object_set(meta, written_keys[i], saved->old[i]);
        else if (restore)
            json_object_del(meta, written_keys[i]);
        json_decref(saved->old[i]);
        saved->old[i] = NULL;
    }
}

int store_create(struct store *st, enum store_kind kind, json_t *obj)
{
    const char *ns = NULL, *name = NULL;
    struct saved_meta saved = {{0}};
    json_t *meta;
    char buf[40];
    int64_t rv = 0;
    bool generated;
    int r;

    if (!st)
        return -EINVAL;
    r = record_key(kind, obj, &ns, &name);
    if (r < 0)
        return r;
    meta = json_object_get(obj, "metadata");
    generated = !name;
    if (generated && !*jstr(meta, "generateName", NULL, NULL))
        return -EINVAL;
    meta_save(meta, &saved);

    r = op_begin(st);
    if (r < 0)
        goto out;
    r = bump_rv(st, &rv);
    if (r < 0)
        goto end;
    if (!json_object_get(meta, "uid")) {
        r = api_uid_new(buf);
        if (r < 0 || (r = set_string(meta, "uid", buf)) < 0)
            goto end;
    }
    if (!json_object_get(meta, "creationTimestamp")) {
        api_time_now(buf);
        r = set_string(meta, "creationTimestamp", buf);
        if (r < 0)
            goto end;
    }
    r = set_rv(meta, rv);
    if (r == 0 && json_object_set_new(meta, "generation", json_integer(1)))
        r = -ENOMEM;
    if (r < 0)
        goto end;
    /* A generated name may collide: draw again, as Kubernetes' clients
     * would have to. */
    for (int attempt = 0; attempt < 8; attempt++) {
        if (generated) {
            char *full = NULL;
            r = api_name_generate(jstr(meta, "generateName", NULL, NULL),
                                  &full);
            if (r < 0)
                goto end;
            r = set_string(meta, "name", full);
            free(full);
            if (r < 0)
                goto end;
            name = jstr(meta, "name", NULL, NULL);
        }
        r = write_row(st, kind, KS_INSERT, ns, name, obj, rv);
        if (r != -EEXIST || !generated)
            break;
    }
    if (r == 0)
        r = record_change(st, kind, ns, name, "ADDED", rv, NULL);
end:
    r = op_end(st, r);
out:
    meta_restore(meta, &saved, r < 0);
    return r;
}

/* Parse a stored object.  A row that does not parse means a damaged file. */
static int load_object(sqlite3_stmt *stmt, int col, json_t **ret_obj)
{
    const void *text = sqlite3_column_blob(stmt, col);
    int len = sqlite3_column_bytes(stmt, col);
    json_t *obj;

    if (!text)
        return sqlite3_errcode(sqlite3_db_handle(stmt)) == SQLITE_NOMEM
                   ? -ENOMEM
                   : -EIO;
    obj = json_loadb(text, (size_t)len, JSON_ALLOW_NUL, NULL);
    if (!json_is_object(obj)) {
        json_decref(obj);
        return -EIO;
    }
    *ret_obj = obj;
    return 0;
}

/* The stored text of column COL, as it is. */
static int column_text(sqlite3_stmt *stmt, int col, const char **ret_text,
                       size_t *ret_len)
{
    const char *text = (const char *)sqlite3_column_blob(stmt, col);
    int len = sqlite3_column_bytes(stmt, col);

    if (!text || len <= 0)
        return text || sqlite3_errcode(sqlite3_db_handle(stmt)) != SQLITE_NOMEM
                   ? -EIO
                   : -ENOMEM;
    *ret_text = text;
    *ret_len = (size_t)len;
    return 0;
}

/* A malloc'd, NUL-terminated copy of the stored text of column COL. */
static int copy_text(sqlite3_stmt *stmt, int col, char **ret_text,
                     size_t *ret_len)
{
    const char *text = NULL;
    size_t len = 0;
    char *copy;
    int r = column_text(stmt, col, &text, &len);

    if (r < 0)
        return r;
    copy = malloc(len + 1);
    if (!copy)
        return -ENOMEM;
    memcpy(copy, text, len);
    copy[len] = '\0';
    *ret_text = copy;
    *ret_len = len;
    return 0;
}

/* The namespace a caller's NS stands for, or NULL if it is missing. */
static const char *key_ns(enum store_kind kind, const char *ns)
{
    if (!kinds[kind].namespaced)
        return "";
    return ns && *ns ? ns : NULL;
}

struct old_row {
    json_t *obj;
    int64_t rv;
    char *uid;
    char *text; /* the stored text obj was parsed from */
    size_t len;
};

static void old_row_release(struct old_row *row)
{
    json_decref(row->obj);
    free(row->uid);
    free(row->text);
}

/* Find the row of NS/NAME (KS_SELECT).  Returns 0 with *RET_STMT on the
 * row, for the caller to read and then stmt_done(); or -ENOENT or an error,
 * the statement already reset. */
static int select_row(struct store *st, enum store_kind kind, const char *ns,
                      const char *name, sqlite3_stmt **ret_stmt)
{
    sqlite3_stmt *stmt = NULL;
    int r = kstmt(st, kind, KS_SELECT, &stmt), rc;

    if (r < 0)
        return r;
    sqlite3_bind_text(stmt, 1, ns, -1, SQLITE_STATIC);
    sqlite3_bind_text(stmt, 2, name, -1, SQLITE_STATIC);
    rc = sqlite3_step(stmt);
    if (rc != SQLITE_ROW) {
        stmt_done(stmt);
        return rc == SQLITE_DONE ? -ENOENT : store_errno(rc);
    }
    *ret_stmt = stmt;
    return 0;
}

/* Read the stored row of NS/NAME.  Returns 0, -ENOENT or an error. */
static int read_row(struct store *st, enum store_kind kind, const char *ns,
                    const char *name, struct old_row *ret)
{
    sqlite3_stmt *stmt = NULL;
    struct old_row row = {0};
    int r = select_row(st, kind, ns, name, &stmt);

    if (r < 0)
        return r;
    r = load_object(stmt, 0, &row.obj);
    if (r == 0)
        r = copy_text(stmt, 0, &row.text, &row.len);
    row.rv = sqlite3_column_int64(stmt, 1);
    if (r == 0) {
        const char *uid = (const char *)sqlite3_column_text(stmt, 2);
        row.uid = strdup(uid ? uid : "");
        if (!row.uid)
            r = -ENOMEM;
    }
    stmt_done(stmt);
    if (r < 0) {
        old_row_release(&row);
        return r;
    }
    *ret = row;
    return 0;
}

int store_get(struct store *st, enum store_kind kind, const char *ns,
              const char *name, json_t **ret_obj)
{
    sqlite3_stmt *stmt = NULL;
    json_t *obj = NULL;
    int r;

    if (!st || (unsigned)kind >= STORE_KIND_COUNT || !name || !*name ||
        !ret_obj || !(ns = key_ns(kind, ns)))
        return -EINVAL;
    if (st->txn_aborted)
        return -EIO;
    r = select_row(st, kind, ns, name, &stmt);
    if (r < 0)
        return r;
    r = load_object(stmt, 0, &obj);
    stmt_done(stmt);
    if (r == 0)
        *ret_obj = obj;
    return r;
}

int store_get_text(struct store *st, enum store_kind kind, const char *ns,
                   const char *name, char **ret_text, size_t *ret_len)
{
    sqlite3_stmt *stmt = NULL;
    char *text = NULL;
    size_t len = 0;
    int r;

    if (!st || (unsigned)kind >= STORE_KIND_COUNT || !name || !*name ||
        !ret_text || !(ns = key_ns(kind, ns)))
        return -EINVAL;
    if (st->txn_aborted)
        return -EIO;
    r = select_row(st, kind, ns, name, &stmt);
    if (r < 0)
        return r;
    r = copy_text(stmt, 0, &text, &len);
    stmt_done(stmt);
    if (r < 0)
        return r;
    *ret_text = text;
    if (ret_len)
        *ret_len = len;
    return 0;
}

int store_update(struct store *st, enum store_kind kind, json_t *obj,
                 int64_t expected_rv)
{
    const char *ns = NULL, *name = NULL, *uid;
    struct old_row old = {0};
    struct saved_meta saved = {{0}};
    json_t *meta, *v;
    json_int_t generation;
    int64_t rv = 0;
    int r;

    if (!st || expected_rv < 0)
        return -EINVAL;
    r = record_key(kind, obj, &ns, &name);
    if (r < 0)
        return r;
    if (!name)
        return -EINVAL;
    meta = json_object_get(obj, "metadata");
    meta_save(meta, &saved);

    r = op_begin(st);
    if (r < 0)
        goto out;
    r = read_row(st, kind, ns, name, &old);
    if (r < 0)
        goto end;
    uid = json_string_value(json_object_get(meta, "uid"));
    if ((expected_rv && old.rv != expected_rv) ||
        (uid && strcmp(uid, old.uid) != 0)) {
        r = -ESTALE;
        goto end;
    }
    r = bump_rv(st, &rv);
    if (r < 0)
        goto end;
    /* uid and creationTimestamp are the record's for life; generation
     * counts changes of the desired state (spec), as in Kubernetes. */
    const json_t *old_meta = json_object_get(old.obj, "metadata");
    generation = json_integer_value(json_object_get(old_meta, "generation"));
    if (generation <= 0)
        generation = 1;
    if (!json_equal(json_object_get(old.obj, "spec"),
                    json_object_get(obj, "spec")))
        generation++;
    r = set_string(meta, "uid", old.uid);
    v = json_object_get(old_meta, "creationTimestamp");
    if (r == 0 && v && json_object_set(meta, "creationTimestamp", v))
        r = -ENOMEM;
    if (r == 0 &&
        json_object_set_new(meta, "generation", json_integer(generation)))
        r = -ENOMEM;
    if (r == 0)
        r = set_rv(meta, rv);
    if (r == 0)
        r = write_row(st, kind, KS_UPDATE, ns, name, obj, rv);
    if (r == 0)
        r = change_fill(st, old.rv, old.text, old.len);
    if (r == 0)
        r = record_change(st, kind, ns, name, "MODIFIED", rv, NULL);
end:
    r = op_end(st, r);
out:
    meta_restore(meta, &saved, r < 0);
    old_row_release(&old);
    return r;
}

int store_delete(struct store *st, enum store_kind kind, const char *ns,
                 const char *name, int64_t expected_rv, json_t **ret_last)
{
    struct old_row old = {0};
    sqlite3_stmt *stmt = NULL;
    int64_t rv = 0;
    int r;

    if (!st || (unsigned)kind >= STORE_KIND_COUNT || !name || !*name ||
        expected_rv < 0 || !(ns = key_ns(kind, ns)))
        return -EINVAL;
    r = op_begin(st);
    if (r < 0)
        return r;
    r = read_row(st, kind, ns, name, &old);
    if (r < 0)
        goto end;
    if (expected_rv && old.rv != expected_rv) {
        r = -ESTALE;
        goto end;
    }
    r = bump_rv(st, &rv);
    if (r < 0)
        goto end;
    r = set_rv(json_object_get(old.obj, "metadata"), rv);
    if (r < 0)
        goto end;
    r = store_text_encode(&st->text, old.obj);
    if (r < 0)
        goto end;
    r = kstmt(st, kind, KS_DELETE, &stmt);
    if (r < 0)
        goto end;
    sqlite3_bind_text(stmt, 1, ns, -1, SQLITE_STATIC);
    sqlite3_bind_text(stmt, 2, name, -1, SQLITE_STATIC);
    r = step_write(st, stmt);
    stmt_done(stmt);
    if (r == 0)
        r = change_fill(st, old.rv, old.text, old.len);
    if (r == 0)
        r = record_change(st, kind, ns, name, "DELETED", rv, &st->text);
end:
    r = op_end(st, r);
    if (r == 0 && ret_last) {
        *ret_last = old.obj;
        old.obj = NULL;
    }
    old_row_release(&old);
    return r;
}

/*
 * Lists.
 */

/* The continue token: base64url of {"rv":N,"ns":"...","name":"..."}, the
 * list's resourceVersion and the key of the last item returned. */
static char *token_encode(int64_t rv, const char *ns, const char *name)
{
    json_t *j = json_pack("{s:I,s:s,s:s}", "rv", (json_int_t)rv, "ns", ns,
                          "name", name);
    char *text = j ? json_dumps(j, JSON_COMPACT) : NULL, *token = NULL;
    if (text)
        token = base64url_encode((const unsigned char *)text, strlen(text));
    free(text);
    json_decref(j);
    return token;
}

struct token {
    int64_t rv;
    char *ns;
    char *name;
};

static int token_decode(const char *s, struct token *ret)
{
    unsigned char *raw = NULL;
    json_t *j = NULL, *rv, *ns, *name;
    int n, r = -EINVAL;

    if (strlen(s) > 4096)
        return -EINVAL;
    n = base64url_decode(s, &raw);
    if (n < 0)
        return n;
    j = json_loadb((const char *)raw, (size_t)n, JSON_REJECT_DUPLICATES, NULL);
    rv = json_object_get(j, "rv");
    ns = json_object_get(j, "ns");
    name = json_object_get(j, "name");
    if (json_object_size(j) != 3 || !json_is_integer(rv) ||
        json_integer_value(rv) < 0 || !json_is_string(ns) ||
        !json_is_string(name) || !*json_string_value(name))
        goto out;
    ret->rv = json_integer_value(rv);
    ret->ns = strdup(json_string_value(ns));
    ret->name = strdup(json_string_value(name));
    if (!ret->ns || !ret->name) {
        free(ret->ns);
        free(ret->name);
        r = -ENOMEM;
        goto out;
    }
    r = 0;
out:
    json_decref(j);
    free(raw);
    return r;
}

/* One condition of a list: a caller's store_term, or one of the older
 * fields of struct store_list_opts in the same form. */
struct cond {
    enum store_field field;
    enum store_term_op op;
    const char *const *values;
    size_t n_values;
    bool either_node; /* MIGRATION node_name: source_node or target_node */
};

/* How list_run() selects: the conditions, the one an index serves (the
 * driver) and the namespace the list is confined to. */
struct list_plan {
    struct cond *conds;
    size_t n_conds;
    int driver;     /* index into conds, or -1: list in key order */
    const char *ns; /* NULL: every namespace */
    bool empty;     /* nothing can match: no query at all */
};

static const char *const final_phases[] = {"Succeeded", "Failed"};

/* Whether condition C holds for a record whose field is VALUE (never
 * absent: used for the namespace, which every record has). */
static bool cond_holds(const struct cond *c, const char *value)
{
    bool in = false;

    for (size_t i = 0; i < c->n_values; i++)
        if (strcmp(c->values[i], value) == 0)
            in = true;
    switch (c->op) {
    case STORE_TERM_IN:
        return in;
    case STORE_TERM_NOT_IN:
        return !in;
    case STORE_TERM_EXISTS:
        return true;
    default:
        return false;
    }
}

static int cond_add(struct list_plan *plan, enum store_kind kind,
                    const struct cond *c)
{
    if ((unsigned)c->field >= STORE_FIELD_COUNT ||
        !kinds[kind].fields[c->field].column ||
        (unsigned)c->op > STORE_TERM_NOT_EXISTS)
        return -EINVAL;
    if (c->op == STORE_TERM_IN || c->op == STORE_TERM_NOT_IN) {
        if (c->n_values == 0 || !c->values)
            return -EINVAL;
        for (size_t i = 0; i < c->n_values; i++)
            if (!c->values[i])
                return -EINVAL;
    }
    plan->conds[plan->n_conds++] = *c;
    return 0;
}

/* Lower is used first as the driver: the fields with the fewest records
 * per value. */
static int driver_rank(const struct kind_info *k, const struct list_plan *p,
                       const struct cond *c)
{
    if (c->op != STORE_TERM_IN || c->n_values != 1 || c->either_node)
        return -1;
    switch (c->field) {
    case STORE_FIELD_NAME:
        return p->ns ? 0 : -1; /* a lookup in the UNIQUE key */
    case STORE_FIELD_VMI_NAME_LABEL:
        return k->fields[c->field].index ? 1 : -1;
    case STORE_FIELD_VMI_NAME:
        return k->fields[c->field].index ? 2 : -1;
    case STORE_FIELD_NODE_NAME:
        return k->fields[c->field].index ? 3 : -1;
    case STORE_FIELD_PHASE:
        return k->fields[c->field].index ? 4 : -1;
    default:
        return -1;
    }
}

/* Check the list's conditions and plan it.  NS is the caller's (NULL for
 * every namespace or a cluster-scoped kind).  Free plan->conds. */
static int list_plan_make(enum store_kind kind, const char *ns,
                          const struct store_list_opts *o,
                          struct list_plan *plan)
{
    const struct kind_info *k = &kinds[kind];
    size_t n = 0;
    int r = 0, best = -1;

    memset(plan, 0, sizeof(*plan));
    plan->driver = -1;
    plan->ns = ns;
    /* Each condition is a parameter, and SQLite allows 32766. */
    if ((o->n_terms && !o->terms) || o->n_terms > STORE_MAX_TERMS)
        return -EINVAL;
    plan->conds = calloc(o->n_terms + 4, sizeof(*plan->conds));
    if (!plan->conds)
        return -ENOMEM;
    /* The older fields, as conditions. */
    if (o->vmi_name)
        r = cond_add(plan, kind,
                     &(struct cond){STORE_FIELD_VMI_NAME, STORE_TERM_IN,
                                    &o->vmi_name, 1, false});
    if (r == 0 && o->node_name && kind == STORE_KIND_MIGRATION)
        plan->conds[plan->n_conds++] = (struct cond){
            STORE_FIELD_NODE_NAME, STORE_TERM_IN, &o->node_name, 1, true};
    else if (r == 0 && o->node_name)
        r = cond_add(plan, kind,
                     &(struct cond){STORE_FIELD_NODE_NAME, STORE_TERM_IN,
                                    &o->node_name, 1, false});
    if (r == 0 && o->n_phases)
        r = cond_add(plan, kind,
                     &(struct cond){STORE_FIELD_PHASE, STORE_TERM_IN, o->phases,
                                    o->n_phases, false});
    if (r == 0 && o->in_flight)
        r = kind == STORE_KIND_MIGRATION
                ? cond_add(plan, kind,
                           &(struct cond){STORE_FIELD_PHASE, STORE_TERM_NOT_IN,
                                          final_phases, 2, false})
                : -EINVAL;
    for (size_t i = 0; r == 0 && i < o->n_terms; i++)
        r = cond_add(plan, kind,
                     &(struct cond){o->terms[i].field, o->terms[i].op,
                                    o->terms[i].values, o->terms[i].n_values,
                                    false});
    if (r < 0)
        goto fail;

    /* The namespace is known for a cluster-scoped kind (all its records
     * have "", so that metadata.name= is a lookup in the key) or from NS;
     * else a namespace= term can confine the list to one.  Conditions on a
     * known namespace are decided here, not for each record. */
    if (!k->namespaced)
        plan->ns = "";
    for (size_t i = 0; !plan->ns && k->namespaced && i < plan->n_conds; i++) {
        const struct cond *c = &plan->conds[i];
        if (c->field == STORE_FIELD_NAMESPACE && c->op == STORE_TERM_IN &&
            c->n_values == 1) {
            plan->ns = c->values[0];
            if (!*plan->ns)
                plan->empty = true; /* every record has a namespace */
        }
    }
    for (size_t i = 0; i < plan->n_conds; i++) {
        const struct cond *c = &plan->conds[i];
        if (c->field == STORE_FIELD_NAMESPACE && plan->ns) {
            if (!cond_holds(c, plan->ns))
                plan->empty = true;
            continue;
        }
        plan->conds[n++] = *c;
    }
    plan->n_conds = n;
    for (size_t i = 0; i < plan->n_conds; i++) {
        int rank = driver_rank(k, plan, &plan->conds[i]);
        if (rank >= 0 &&
            (best < 0 || rank < driver_rank(k, plan, &plan->conds[best])))
            best = (int)i;
    }
    plan->driver = best;
    return 0;
fail:
    free(plan->conds);
    plan->conds = NULL;
    return r;
}

/* The SQL of PLAN for KIND, malloc'd.  Columns: 0 object, 1 namespace,
 * 2 name, 3 labels, 4 whether the conditions other than the driver hold.
 * Parameters: ?1, ?2 list after this key (?2 alone with a namespace),
 * ?3 the namespace, ?4 the driver's value, ?5... condition i's values as
 * ?(5 + i): the value, or a JSON array of them.
 *
 * Only the key range and the driver are in the WHERE clause, so that
 * SQLite reads exactly the rows of one index range, in list order, and
 * hands each of them to list_run(), which counts them against the budget;
 * the other conditions are a result column.  The driver's index is named
 * (INDEXED BY) so that no plan can sort or scan instead. */
static char *list_sql(enum store_kind kind, const struct list_plan *plan)
{
    const struct kind_info *k = &kinds[kind];
    struct text_buf b = {0};
    bool any = false;
    int r = 0;
    char num[24];

#define PUT(s) (r = r < 0 ? r : store_text_append(&b, (s), strlen(s)))
    PUT("SELECT object, namespace, name, labels, ");
    for (size_t i = 0; i < plan->n_conds; i++) {
        const struct cond *c = &plan->conds[i];
        const struct field_info *f = &k->fields[c->field];
        const char *col = f->column;

        if ((int)i == plan->driver)
            continue;
        PUT(any ? " AND " : "coalesce(");
        any = true;
        snprintf(num, sizeof(num), "?%zu", 5 + i);
        if (c->either_node) {
            PUT("(source_node = ");
            PUT(num);
            PUT(" OR target_node = ");
            PUT(num);
            PUT(")");
            continue;
        }
        switch (c->op) {
        case STORE_TERM_IN:
        case STORE_TERM_NOT_IN:
            if (c->op == STORE_TERM_NOT_IN && f->nullable) {
                PUT("(");
                PUT(col);
                PUT(" IS NULL OR ");
            }
            PUT(col);
            if (c->n_values == 1)
                PUT(c->op == STORE_TERM_IN ? " = " : " <> ");
            else
                PUT(c->op == STORE_TERM_IN ? " IN (SELECT value FROM json_each("
                                           : " NOT IN (SELECT value FROM"
                                             " json_each(");
            PUT(num);
            if (c->n_values != 1)
                PUT("))");
            if (c->op == STORE_TERM_NOT_IN && f->nullable)
                PUT(")");
            break;
        case STORE_TERM_EXISTS:
            PUT(f->nullable ? col : "1");
            PUT(f->nullable ? " IS NOT NULL" : "");
            break;
        default:
            PUT(f->nullable ? col : "0");
            PUT(f->nullable ? " IS NULL" : "");
            break;
        }
    }
    PUT(any ? ", 0)" : "1");
    PUT(" FROM ");
    PUT(k->table);
    if (plan->driver >= 0 && k->fields[plan->conds[plan->driver].field].index) {
        PUT(" INDEXED BY ");
        PUT(k->fields[plan->conds[plan->driver].field].index);
    }
    PUT(plan->ns ? " WHERE namespace = ?3 AND name > ?2"
                 : " WHERE (namespace, name) > (?1, ?2)");
    if (plan->driver >= 0) {
        PUT(" AND ");
        PUT(k->fields[plan->conds[plan->driver].field].column);
        PUT(" = ?4");
    }
    PUT(" ORDER BY namespace, name");
#undef PUT
    if (r < 0) {
        store_text_release(&b);
        return NULL;
    }
    return b.data;
}

/* The prepared statement for SQL, from the handle's list cache or made
 * now (replacing the oldest).  Takes SQL over. */
static int list_stmt(struct store *st, char *sql, sqlite3_stmt **ret_stmt)
{
    unsigned slot;
    int r;

    for (unsigned i = 0; i < LIST_CACHE; i++) {
        if (st->lists[i].sql && strcmp(st->lists[i].sql, sql) == 0) {
            free(sql);
            *ret_stmt = st->lists[i].stmt;
            return 0;
        }
    }
    slot = st->lists_next;
    sqlite3_finalize(st->lists[slot].stmt);
    free(st->lists[slot].sql);
    st->lists[slot].stmt = NULL;
    st->lists[slot].sql = NULL;
    r = stmt_prepare(st, sql, &st->lists[slot].stmt);
    if (r < 0) {
        free(sql);
        return r;
    }
    st->lists[slot].sql = sql;
    st->lists_next = (slot + 1) % LIST_CACHE;
    *ret_stmt = st->lists[slot].stmt;
    return 0;
}

/* Bind the values of PLAN's conditions (list_sql()'s ?4 and ?5...).  The
 * JSON arrays made for sets of values go to *TEXTS (one slot per
 * condition), which the caller frees after the statement is reset. */
static int list_bind(sqlite3_stmt *stmt, const struct list_plan *plan,
                     char **texts)
{
    int r = 0;

    for (size_t i = 0; r == 0 && i < plan->n_conds; i++) {
        const struct cond *c = &plan->conds[i];
        json_t *arr;

        if ((int)i == plan->driver) {
            r = bind_text(stmt, 4, c->values[0]);
            continue;
        }
        if (c->op != STORE_TERM_IN && c->op != STORE_TERM_NOT_IN)
            continue;
        if (c->n_values == 1) {
            r = bind_text(stmt, (int)(5 + i), c->values[0]);
            continue;
        }
        arr = json_array();
        for (size_t j = 0; arr && j < c->n_values; j++) {
            if (json_array_append_new(arr, json_string(c->values[j]))) {
                json_decref(arr);
                arr = NULL;
            }
        }
        texts[i] = arr ? json_dumps(arr, JSON_COMPACT) : NULL;
        json_decref(arr);
        r = texts[i] ? bind_text(stmt, (int)(5 + i), texts[i]) : -ENOMEM;
    }
    return r;
}

/* Whether the row STMT holds passes the caller's filters (the conditions
 * were checked by SQLite).  *OBJ receives the parsed object if match
 * parsed it.  Returns 1, 0 or a negative errno. */
static int row_matches(sqlite3_stmt *stmt, const struct store_list_opts *o,
                       json_t **obj)
{
    const char *text = NULL;
    size_t len = 0;
    int r;

    if (!sqlite3_column_int(stmt, 4))
        return 0;
    if (o->match_labels) {
        r = column_text(stmt, 3, &text, &len);
        if (r < 0)
            return r;
        if (!o->match_labels(text, len, o->match_arg))
            return 0;
    }
    if (o->match_text) {
        r = column_text(stmt, 0, &text, &len);
        if (r < 0)
            return r;
        if (!o->match_text(text, len, o->match_arg))
            return 0;
    }
    if (o->match) {
        r = load_object(stmt, 0, obj);
        if (r < 0)
            return r;
        if (!o->match(*obj, o->match_arg)) {
            json_decref(*obj);
            *obj = NULL;
            return 0;
        }
    }
    return 1;
}

/* Remember the key of the row STMT holds, for the continue token. */
static int row_key(sqlite3_stmt *stmt, char **ns, char **name)
{
    free(*ns);
    free(*name);
    *ns = strdup((const char *)sqlite3_column_text(stmt, 1));
    *name = strdup((const char *)sqlite3_column_text(stmt, 2));
    return *ns && *name ? 0 : -ENOMEM;
}

/* Where a list puts the items it selects: a json_t array or a text. */
struct list_sink {
    json_t *items;         /* store_list() */
    struct text_buf *text; /* store_list_text() */
};

/* Add the row STMT holds to SINK.  OBJ is the row already parsed (for the
 * match function), or NULL; the sink takes it over. */
static int sink_add(struct list_sink *sink, sqlite3_stmt *stmt, json_t *obj,
                    size_t count)
{
    if (sink->items) {
        int r = obj ? 0 : load_object(stmt, 0, &obj);
        if (r < 0)
            return r;
        return json_array_append_new(sink->items, obj) ? -ENOMEM : 0;
    }
    const char *text = NULL;
    size_t len = 0;
    int r;

    json_decref(obj);
    r = column_text(stmt, 0, &text, &len);
    if (r == 0 && count > 0)
        r = store_text_append(sink->text, ",", 1);
    if (r == 0)
        r = store_text_append(sink->text, text, len);
    return r;
}

/* The body of store_list() and store_list_text(): select the page's rows
 * into SINK.  Returns the number of items, with the continue token (or
 * NULL) in *RET_NEXT and the list's resourceVersion in *RET_RV. */
static int list_run(struct store *st, enum store_kind kind, const char *ns,
                    const struct store_list_opts *opts, struct list_sink *sink,
                    char **ret_next, int64_t *ret_rv)
{
    static const struct store_list_opts no_opts = {0};
    struct token tok = {0};
    struct list_plan plan = {0};
    sqlite3_stmt *stmt = NULL;
    char **texts = NULL, *sql = NULL;
    char *last_ns = NULL, *last_name = NULL, *next = NULL;
    const char *after = "";
    size_t count = 0, scanned = 0;
    bool more = false, reading = false, keys;
    int64_t rv = 0;
    int r, rc = SQLITE_DONE;

    if (!opts)
        opts = &no_opts;
    if (!kinds[kind].namespaced || (ns && !*ns))
        ns = NULL;
    keys = opts->limit || opts->max_scan;
    r = list_plan_make(kind, ns, opts, &plan);
    if (r < 0)
        return r;
    if (opts->continue_token && *opts->continue_token) {
        r = token_decode(opts->continue_token, &tok);
        if (r < 0)
            goto out;
    }
    /* Confined to one namespace, the list resumes after the token's name
     * in it, from its start if the token is in an earlier namespace, and
     * has nothing left if in a later one. */
    if (tok.name && plan.ns) {
        int cmp = strcmp(tok.ns, plan.ns);
        if (cmp == 0)
            after = tok.name;
        else if (cmp > 0)
            plan.empty = true;
    }
    texts = calloc(plan.n_conds + 1, sizeof(*texts));
    if (!texts) {
        r = -ENOMEM;
        goto out;
    }

    r = read_begin(st);
    if (r < 0)
        goto out;
    reading = true;
    /* A continued list reports the resourceVersion of its first page. */
    if (tok.name)
        rv = tok.rv;
    else if ((r = read_rv(st, &rv)) < 0)
        goto out;
    if (plan.empty)
        goto done;
    sql = list_sql(kind, &plan);
    if (!sql) {
        r = -ENOMEM;
        goto out;
    }
    r = list_stmt(st, sql, &stmt);
    if (r < 0)
        goto out;
    if (plan.ns) {
        r = bind_text(stmt, 2, after);
        if (r == 0)
            r = bind_text(stmt, 3, plan.ns);
    } else {
        r = bind_text(stmt, 1, tok.name ? tok.ns : "");
        if (r == 0)
            r = bind_text(stmt, 2, tok.name ? tok.name : "");
    }
    if (r == 0)
        r = list_bind(stmt, &plan, texts);
    if (r < 0)
        goto out;

    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        json_t *obj = NULL;
        bool full = opts->limit && count == opts->limit;

        /* A row past the budget: the next page starts here. */
        if (opts->max_scan && scanned == opts->max_scan) {
            more = true;
            break;
        }
        scanned++;
        r = row_matches(stmt, opts, &obj);
        if (r < 0)
            goto out;
        if (r == 0) {
            /* The last row the budget allows: the token must resume
             * after it, not re-read the rows turned down. */
            if (opts->max_scan && scanned == opts->max_scan &&
                (r = row_key(stmt, &last_ns, &last_name)) < 0)
                goto out;
            continue;
        }
        /* Past the limit we only look for one more match, to know whether
         * to hand out a continue token: no token on the last page. */
        if (full) {
            json_decref(obj);
            more = true;
            break;
        }
        r = sink_add(sink, stmt, obj, count);
        if (r < 0)
            goto out;
        count++;
        if (keys && (r = row_key(stmt, &last_ns, &last_name)) < 0)
            goto out;
    }
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
        r = store_errno(rc);
        goto out;
    }
    if (more) {
        next = token_encode(rv, last_ns, last_name);
        if (!next) {
            r = -ENOMEM;
            goto out;
        }
    }
done:
    *ret_next = next;
    *ret_rv = rv;
    r = count > INT_MAX ? INT_MAX : (int)count;
out:
    stmt_done(stmt);
    if (reading)
        read_end(st);
    for (size_t i = 0; texts && i < plan.n_conds; i++)
        free(texts[i]);
    free(texts);
    free(plan.conds);
    free(last_ns);
    free(last_name);
    free(tok.ns);
    free(tok.name);
    return r;
}

int store_list(struct store *st, enum store_kind kind, const char *ns,
               const struct store_list_opts *opts, struct store_page *ret)
{
    struct list_sink sink = {0};
    char *next = NULL;
    int64_t rv = 0;
    int r;

    if (!st || (unsigned)kind >= STORE_KIND_COUNT || !ret)
        return -EINVAL;
    sink.items = json_array();
    if (!sink.items)
        return -ENOMEM;
    r = list_run(st, kind, ns, opts, &sink, &next, &rv);
    if (r < 0) {
        json_decref(sink.items);
        return r;
    }
    ret->items = sink.items;
    ret->continue_token = next;
    ret->resource_version = rv;
    return 0;
}

void store_page_release(struct store_page *page)
{
    if (!page)
        return;
    json_decref(page->items);
    free(page->continue_token);
    memset(page, 0, sizeof(*page));
}

int store_list_text(struct store *st, enum store_kind kind, const char *ns,
                    const struct store_list_opts *opts,
                    struct store_text_page *ret)
{
    struct text_buf text = {0};
    struct list_sink sink = {.text = &text};
    char *next = NULL;
    int64_t rv = 0;
    int r;

    if (!st || (unsigned)kind >= STORE_KIND_COUNT || !ret)
        return -EINVAL;
    r = store_text_append(&text, "[", 1);
    if (r == 0)
        r = list_run(st, kind, ns, opts, &sink, &next, &rv);
    if (r >= 0 && store_text_append(&text, "]", 1) < 0) {
        free(next);
        r = -ENOMEM;
    }
    if (r < 0) {
        store_text_release(&text);
        return r;
    }
    ret->items = text.data;
    ret->items_len = text.len;
    ret->n_items = (size_t)r;
    ret->continue_token = next;
    ret->resource_version = rv;
    return 0;
}

void store_text_page_release(struct store_text_page *page)
{
    if (!page)
        return;
    free(page->items);
    free(page->continue_token);
    memset(page, 0, sizeof(*page));
}

/*
 * Queries for the migration controller.
 */

int store_migration_count_in_flight(struct store *st, const char *source_node)
{
    sqlite3_stmt *stmt = NULL;
    int r, rc;

    if (!st)
        return -EINVAL;
    if (st->txn_aborted)
        return -EIO;
    r = gstmt(st, source_node ? GS_MIG_COUNT_NODE : GS_MIG_COUNT, &stmt);
    if (r < 0)
        return r;
    if (source_node)
        bind_text(stmt, 1, source_node);
    rc = sqlite3_step(stmt);
    if (rc == SQLITE_ROW) {
        int64_t n = sqlite3_column_int64(stmt, 0);
        r = n > INT_MAX ? INT_MAX : (int)n;
    } else {
        r = rc == SQLITE_DONE ? -EIO : store_errno(rc);
    }
    stmt_done(stmt);
    return r;
}

int store_migration_count_phases(struct store *st, const char *const *phases,
                                 size_t n_phases, int64_t *ret_counts)
{
    sqlite3_stmt *stmt = NULL;
    int64_t *counts = NULL;
    bool reading = false;
    int r = 0, rc;

    if (!st || (n_phases && (!phases || !ret_counts)))
        return -EINVAL;
    for (size_t i = 0; i < n_phases; i++)
        if (!phases[i])
            return -EINVAL;
    counts = calloc(n_phases + 1, sizeof(*counts));
    if (!counts)
        return -ENOMEM;
    r = gstmt(st, GS_MIG_COUNT_PHASE, &stmt);
    if (r == 0)
        r = read_begin(st);
    reading = r == 0;
    /* One read transaction: the counts are of one state of the file. */
    for (size_t i = 0; r == 0 && i < n_phases; i++) {
        bind_text(stmt, 1, phases[i]);
        rc = sqlite3_step(stmt);
        if (rc == SQLITE_ROW)
            counts[i] = sqlite3_column_int64(stmt, 0);
        else
            r = rc == SQLITE_DONE ? -EIO : store_errno(rc);
        stmt_done(stmt);
    }
    if (reading)
        read_end(st);
    if (r == 0)
        memcpy(ret_counts, counts, n_phases * sizeof(*counts));
    free(counts);
    return r;
}

int store_migration_find_in_flight(struct store *st, const char *ns,
                                   const char *vmi_name, json_t **ret_obj)
{
    sqlite3_stmt *stmt = NULL;
    json_t *obj = NULL;
    int r, rc;

    if (!st || !ns || !*ns || !vmi_name || !*vmi_name)
        return -EINVAL;
    if (st->txn_aborted)
        return -EIO;
    r = gstmt(st, GS_MIG_FIND, &stmt);
    if (r < 0)
        return r;
    bind_text(stmt, 1, ns);
    bind_text(stmt, 2, vmi_name);
    rc = sqlite3_step(stmt);
    if (rc == SQLITE_ROW)
        r = ret_obj ? load_object(stmt, 0, &obj) : 0;
    else
        r = rc == SQLITE_DONE ? -ENOENT : store_errno(rc);
    stmt_done(stmt);
    if (r == 0 && ret_obj)
        *ret_obj = obj;
    return r;
}

/*
 * The change feed.
 */

int store_changes_since(struct store *st, enum store_kind kind, const char *ns,
                        int64_t since_rv, size_t limit, json_t **ret_events,
                        int64_t *ret_next_rv)
{
    sqlite3_stmt *stmt = NULL;
    json_t *events = NULL;
    int64_t current = 0, floor = 0, last = since_rv;
    size_t n = 0;
    int r, rc;

    if (!st || (unsigned)kind >= STORE_KIND_COUNT || since_rv < 0 ||
        !ret_events || !ret_next_rv)
        return -EINVAL;
    if (!kinds[kind].namespaced || (ns && !*ns))
        ns = NULL;
    events = json_array();
    if (!events)
        return -ENOMEM;
    r = read_begin(st);
    if (r < 0)
        goto out_free;

    r = gstmt(st, GS_FEED_STATE, &stmt);
    if (r < 0)
        goto out;
    rc = sqlite3_step(stmt);
    if (rc == SQLITE_ROW) {
        current = sqlite3_column_int64(stmt, 0);
        floor = sqlite3_column_int64(stmt, 1);
    } else {
        r = rc == SQLITE_DONE ? -EIO : store_errno(rc);
    }
    stmt_done(stmt);
    if (r < 0)
        goto out;
    if (since_rv < floor) {
        r = -EKEYEXPIRED;
        goto out;
    }

    /* Counted in the caller's transaction, not stored yet. */
    if (st->rv_cached)
        current = st->rv;
    r = kstmt(st, kind, ns ? KS_CHANGES_NS : KS_CHANGES_ALL, &stmt);
    if (r < 0)
        goto out;
    sqlite3_bind_int64(stmt, 1, since_rv);
    sqlite3_bind_text(stmt, 2, kinds[kind].name, -1, SQLITE_STATIC);
    if (ns)
        bind_text(stmt, 3, ns);
    sqlite3_bind_int64(stmt, 4,
                       limit && limit < INT64_MAX ? (int64_t)limit : -1);
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        json_t *obj = NULL, *ev;
        r = load_object(stmt, 2, &obj);
        if (r < 0)
            goto out;
        ev = json_pack("{s:s,s:o}", "type",
                       (const char *)sqlite3_column_text(stmt, 1), "object",
                       obj);
        if (!ev || json_array_append_new(events, ev)) {
            r = -ENOMEM;
            goto out;
        }
        last = sqlite3_column_int64(stmt, 0);
        n++;
    }
    if (rc != SQLITE_DONE) {
        r = store_errno(rc);
        goto out;
    }
    /* Unless the limit cut the answer short, everything up to the current
     * resourceVersion has been seen. */
    if (!(limit && n == limit) && current > last)
        last = current;
    r = 0;
out:
    stmt_done(stmt);
    read_end(st);
out_free:
    if (r < 0) {
        json_decref(events);
        return r;
    }
    *ret_events = events;
    *ret_next_rv = last;
    return n > INT_MAX ? INT_MAX : (int)n;
}

/*
 * The event log.
 */

int store_event_append(struct store *st, const struct store_event *ev,
                       int64_t *ret_id)
{
    sqlite3_stmt *stmt = NULL;
    long every;
    int64_t id = 0;
    int r;

    if (!st || !ev || (unsigned)ev->kind >= STORE_KIND_COUNT || !ev->name ||
        !*ev->name || !ev->reason || !*ev->reason || !ev->type ||
        (strcmp(ev->type, "Normal") != 0 && strcmp(ev->type, "Warning") != 0))
        return -EINVAL;
    r = op_begin(st);
    if (r < 0)
        return r;
    r = gstmt(st, GS_EVENT_INSERT, &stmt);
    if (r < 0)
        goto end;
    sqlite3_bind_int64(stmt, 1, ev->time ? ev->time : (int64_t)time(NULL));
    bind_text(stmt, 2, kinds[ev->kind].name);
    bind_text(stmt, 3, kinds[ev->kind].namespaced && ev->ns ? ev->ns : "");
    bind_text(stmt, 4, ev->name);
    bind_text(stmt, 5, ev->uid ? ev->uid : "");
    bind_text(stmt, 6, ev->type);
    bind_text(stmt, 7, ev->reason);
    bind_text(stmt, 8, ev->message ? ev->message : "");
    r = step_write(st, stmt);
    stmt_done(stmt);
    if (r < 0)
        goto end;
    id = sqlite3_last_insert_rowid(st->db);
    /* Keep the log bounded, trimming in steps (see record_change()). */
    every = st->event_history < 128 ? st->event_history : 128;
    if (id % every == 0 && id > st->event_history) {
        r = gstmt(st, GS_EVENT_TRIM, &stmt);
        if (r < 0)
            goto end;
        sqlite3_bind_int64(stmt, 1, id - st->event_history);
        r = step_write(st, stmt);
        stmt_done(stmt);
    }
end:
    r = op_end(st, r);
    if (r == 0 && ret_id)
        *ret_id = id;
    return r;
}

static json_t *event_to_json(sqlite3_stmt *stmt)
{
    char when[32], evname[512];
    const char *col[9];
    int64_t id = sqlite3_column_int64(stmt, 0);

    for (int i = 2; i < 9; i++) {
        col[i] = (const char *)sqlite3_column_text(stmt, i);
        if (!col[i])
            col[i] = "";
    }
    api_time_format(sqlite3_column_int64(stmt, 1), when);
    snprintf(evname, sizeof(evname), "%s.%llx", col[4], (long long)id);
    return json_pack("{s:s,s:s,s:{s:s,s:s,s:s},s:{s:s,s:s,s:s,s:s},"
                     "s:s,s:s,s:s,s:s,s:s,s:i,s:{s:s},s:I}",
                     "apiVersion", "v1", "kind", "Event", "metadata", "name",
                     evname, "namespace", col[3], "creationTimestamp", when,
                     "involvedObject", "kind", col[2], "namespace", col[3],
                     "name", col[4], "uid", col[5], "type", col[6], "reason",
                     col[7], "message", col[8], "firstTimestamp", when,
                     "lastTimestamp", when, "count", 1, "source", "component",
                     "orchestratord", "id", (json_int_t)id);
}

int store_event_list(struct store *st, const struct store_event_filter *filter,
                     json_t **ret_events)
{
    static const struct store_event_filter all = {.kind = -1};
    sqlite3_stmt *stmt = NULL;
    json_t *events = NULL;
    const char *ns;
    bool by_object;
    size_t n = 0;
    int r, rc;

    if (!st || !ret_events)
        return -EINVAL;
    if (!filter)
        filter = &all;
    if (filter->kind < -1 || filter->kind >= STORE_KIND_COUNT ||
        filter->after_id < 0 || (filter->name && filter->kind < 0))
        return -EINVAL;
    if (st->txn_aborted)
        return -EIO;
    ns = filter->ns;
    if (filter->kind >= 0 && !kinds[filter->kind].namespaced)
        ns = "";
    by_object = filter->name && ns;
    if (filter->name && !ns)
        return -EINVAL;
    events = json_array();
    if (!events)
        return -ENOMEM;
    r = gstmt(st, by_object ? GS_EVENT_LIST_OBJ : GS_EVENT_LIST, &stmt);
    if (r < 0)
        goto out;
    sqlite3_bind_int64(stmt, 1, filter->after_id);
    bind_text_or_null(stmt, 2,
                      filter->kind >= 0 ? kinds[filter->kind].name : NULL);
    bind_text_or_null(stmt, 3, ns);
    if (by_object)
        bind_text(stmt, 4, filter->name);
    sqlite3_bind_int64(stmt, 5,
                       filter->limit && filter->limit < INT64_MAX
                           ? (int64_t)filter->limit
                           : -1);
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        json_t *ev = event_to_json(stmt);
        if (!ev || json_array_append_new(events, ev)) {
            r = -ENOMEM;
            goto out;
        }
        n++;
    }
    if (rc != SQLITE_DONE)
        r = store_errno(rc);
out:
    stmt_done(stmt);
    if (r < 0) {
        json_decref(events);
        return r;
    }
    *ret_events = events;
    return n > INT_MAX ? INT_MAX : (int)n;
}
