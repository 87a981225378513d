/*
 * The store's schema, as an ordered list of upgrade steps.
 *
 * Step N takes a file from schema version N to N + 1; a new file runs every
 * step.  A step is never edited once released: a change to the schema is a
 * new step at the end (and STORE_SCHEMA_VERSION goes up by one), so that
 * every older file follows the same path as a new one.  The version is kept
 * in PRAGMA user_version, our files are marked by PRAGMA application_id.
 *
 * Schema statements are constant text run with sqlite3_exec(); every query
 * carrying data goes through prepared statements in store.c.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "store/schema.h"

/* Columns every kind's table has.  object is the whole record as compact
 * JSON; the other columns are copies of fields of it kept for lookups. */
#define RECORD_COLUMNS                                                         \
    "id INTEGER PRIMARY KEY,"                                                  \
    " namespace TEXT NOT NULL,"                                                \
    " name TEXT NOT NULL,"                                                     \
    " uid TEXT NOT NULL UNIQUE,"                                               \
    " resource_version INTEGER NOT NULL,"                                      \
    " creation TEXT NOT NULL,"                                                 \
    " labels TEXT NOT NULL,"                                                   \
    " object TEXT NOT NULL,"

/* Version 1: one table per kind, the global resourceVersion, the event
 * log. */
static const char step_v1[] =
    "PRAGMA application_id = 1330791240;" /* STORE_APPLICATION_ID */
    "CREATE TABLE meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);"
    "INSERT INTO meta (key, value) VALUES ('resource_version', 0);"
    "CREATE TABLE nodes (" RECORD_COLUMNS " ready INTEGER NOT NULL DEFAULT 0,"
    " schedulable INTEGER NOT NULL DEFAULT 1,"
    " UNIQUE (namespace, name));"
    "CREATE TABLE vms (" RECORD_COLUMNS " running INTEGER NOT NULL DEFAULT 0,"
    " ready INTEGER NOT NULL DEFAULT 0,"
    " printable_status TEXT NOT NULL DEFAULT '',"
    " UNIQUE (namespace, name));"
    "CREATE TABLE vmis (" RECORD_COLUMNS " phase TEXT NOT NULL DEFAULT '',"
    " node_name TEXT NOT NULL DEFAULT '',"
    " UNIQUE (namespace, name));"
    "CREATE TABLE migrations (" RECORD_COLUMNS
    " phase TEXT NOT NULL DEFAULT '',"
    " vmi_name TEXT NOT NULL DEFAULT '',"
    " source_node TEXT NOT NULL DEFAULT '',"
    " UNIQUE (namespace, name));"
    "CREATE TABLE migration_policies (" RECORD_COLUMNS
    " UNIQUE (namespace, name));"
    "CREATE TABLE events ("
    " id INTEGER PRIMARY KEY,"
    " time INTEGER NOT NULL,"
    " kind TEXT NOT NULL,"
    " namespace TEXT NOT NULL,"
    " name TEXT NOT NULL,"
    " uid TEXT NOT NULL DEFAULT '',"
    " type TEXT NOT NULL,"
    " reason TEXT NOT NULL,"
    " message TEXT NOT NULL DEFAULT '');";

/* Version 2: the change feed for watches, the migration's target node as a
 * column (filled in from the stored objects), and indexes for the
 * controller's queries.  Changes made before the upgrade were never
 * recorded, so the feed starts (changes_floor) at the current
 * resourceVersion. */
static const char step_v2[] =
    "CREATE TABLE changes ("
    " rv INTEGER PRIMARY KEY,"
    " kind TEXT NOT NULL,"
    " namespace TEXT NOT NULL,"
    " name TEXT NOT NULL,"
    " type TEXT NOT NULL,"
    " object TEXT NOT NULL);"
    "INSERT INTO meta (key, value)"
    " SELECT 'changes_floor', value FROM meta"
    " WHERE key = 'resource_version';"
    "ALTER TABLE migrations ADD COLUMN target_node TEXT NOT NULL DEFAULT '';"
    "UPDATE migrations SET target_node = coalesce(json_extract(object,"
    " '$.status.migrationState.targetNode'), '');"
    "CREATE INDEX migrations_vmi ON migrations (namespace, vmi_name);"
    /* Partial indexes: the in-flight queries use this exact WHERE term. */
    "CREATE INDEX migrations_in_flight_source ON migrations (source_node)"
    " WHERE phase NOT IN ('Succeeded', 'Failed');"
    "CREATE INDEX migrations_in_flight_vmi ON migrations (namespace, vmi_name)"
    " WHERE phase NOT IN ('Succeeded', 'Failed');"
    "CREATE INDEX vmis_node ON vmis (node_name);"
    "CREATE INDEX events_object ON events (kind, namespace, name, id);";

/* Version 3: the change feed stops copying every object it records.  An
 * ADDED or MODIFIED change leaves object NULL while its record still holds
 * that version (the record's resource_version is the change's rv), and
 * store.c fills it in from the record when the record is next updated or
 * deleted; readers take a NULL object from the record.  So a create writes
 * its object once instead of twice.  SQLite cannot drop a NOT NULL
 * constraint in place: the table is copied.  Existing rows keep their
 * objects. */
static const char step_v3[] =
    "CREATE TABLE changes_v3 ("
    " rv INTEGER PRIMARY KEY,"
    " kind TEXT NOT NULL,"
    " namespace TEXT NOT NULL,"
    " name TEXT NOT NULL,"
    " type TEXT NOT NULL,"
    " object TEXT);"
    "INSERT INTO changes_v3 (rv, kind, namespace, name, type, object)"
    " SELECT rv, kind, namespace, name, type, object FROM changes;"
    "DROP TABLE changes;"
    "ALTER TABLE changes_v3 RENAME TO changes;";

/* Columns every kind's table has from version 4 on: RECORD_COLUMNS without
 * the UNIQUE on uid.  Kept separate because step_v1 must not change. */
#define RECORD_COLUMNS_V4                                                      \
    "id INTEGER PRIMARY KEY,"                                                  \
    " namespace TEXT NOT NULL,"                                                \
    " name TEXT NOT NULL,"                                                     \
    " uid TEXT NOT NULL,"                                                      \
    " resource_version INTEGER NOT NULL,"                                      \
    " creation TEXT NOT NULL,"                                                 \
    " labels TEXT NOT NULL,"                                                   \
    " object TEXT NOT NULL,"

#define RECORD_COLUMN_NAMES                                                    \
    "id, namespace, name, uid, resource_version, creation, labels, object"

/* Version 4: uid is no longer UNIQUE.  That constraint is an index keyed by
 * random v4 UUIDs, so each batch of inserts dirtied most of its pages (30-45
 * % of the WAL frames written), and no query looks a record up by uid.  The
 * store draws a fresh random uid for every record it creates and the API
 * drops any uid a client sends on create, so uids stay unique without it.
 * SQLite cannot drop a column constraint in place: each kind's table is
 * copied (ids kept, so list order is kept) and the copy renamed; dropping
 * the old table drops its indexes, which are made again exactly as step_v2
 * made them.  No table has triggers, views or foreign keys to carry over. */
static const char step_v4[] =
    "CREATE TABLE nodes_v4 (" RECORD_COLUMNS_V4
    " ready INTEGER NOT NULL DEFAULT 0,"
    " schedulable INTEGER NOT NULL DEFAULT 1,"
    " UNIQUE (namespace, name));"
    "INSERT INTO nodes_v4 (" RECORD_COLUMN_NAMES ", ready, schedulable)"
    " SELECT " RECORD_COLUMN_NAMES ", ready, schedulable FROM nodes;"
    "DROP TABLE nodes;"
    "ALTER TABLE nodes_v4 RENAME TO nodes;"
    "CREATE TABLE vms_v4 (" RECORD_COLUMNS_V4
    " running INTEGER NOT NULL DEFAULT 0,"
    " ready INTEGER NOT NULL DEFAULT 0,"
    " printable_status TEXT NOT NULL DEFAULT '',"
    " UNIQUE (namespace, name));"
    "INSERT INTO vms_v4 (" RECORD_COLUMN_NAMES ", running, ready,"
    " printable_status) SELECT " RECORD_COLUMN_NAMES ", running, ready,"
    " printable_status FROM vms;"
    "DROP TABLE vms;"
    "ALTER TABLE vms_v4 RENAME TO vms;"
    "CREATE TABLE vmis_v4 (" RECORD_COLUMNS_V4
    " phase TEXT NOT NULL DEFAULT '',"
    " node_name TEXT NOT NULL DEFAULT '',"
    " UNIQUE (namespace, name));"
    "INSERT INTO vmis_v4 (" RECORD_COLUMN_NAMES ", phase, node_name)"
    " SELECT " RECORD_COLUMN_NAMES ", phase, node_name FROM vmis;"
    "DROP TABLE vmis;"
    "ALTER TABLE vmis_v4 RENAME TO vmis;"
    "CREATE TABLE migrations_v4 (" RECORD_COLUMNS_V4
    " phase TEXT NOT NULL DEFAULT '',"
    " vmi_name TEXT NOT NULL DEFAULT '',"
    " source_node TEXT NOT NULL DEFAULT '',"
    " target_node TEXT NOT NULL DEFAULT '',"
    " UNIQUE (namespace, name));"
    "INSERT INTO migrations_v4 (" RECORD_COLUMN_NAMES ", phase, vmi_name,"
    " source_node, target_node) SELECT " RECORD_COLUMN_NAMES ", phase,"
    " vmi_name, source_node, target_node FROM migrations;"
    "DROP TABLE migrations;"
    "ALTER TABLE migrations_v4 RENAME TO migrations;"
    "CREATE TABLE migration_policies_v4 (" RECORD_COLUMNS_V4
    " UNIQUE (namespace, name));"
    "INSERT INTO migration_policies_v4 (" RECORD_COLUMN_NAMES ")"
    " SELECT " RECORD_COLUMN_NAMES " FROM migration_policies;"
    "DROP TABLE migration_policies;"
    "ALTER TABLE migration_policies_v4 RENAME TO migration_policies;"
    /* step_v2's indexes on these tables, word for word. */
    "CREATE INDEX migrations_vmi ON migrations (namespace, vmi_name);"
    "CREATE INDEX migrations_in_flight_source ON migrations (source_node)"
    " WHERE phase NOT IN ('Succeeded', 'Failed');"
    "CREATE INDEX migrations_in_flight_vmi ON migrations (namespace, vmi_name)"
    " WHERE phase NOT IN ('Succeeded', 'Failed');"
    "CREATE INDEX vmis_node ON vmis (node_name);";

/* Version 5: lists select through indexes.  Each field a list can select
 * on gets an index on (field, namespace, name): one lookup finds a page's
 * records in list order, from any continue position, without sorting.
 * The VMIM's kubevirt.io/vmi-name label gets a column of its own, NULL
 * when the record has no such label (or a value that is not a string), as
 * store.c writes it; it usually equals spec.vmiName but nothing makes it.
 * migrations_vmi and vmis_node are replaced by the wider indexes (no query
 * needs them any more: the in-flight queries use the partial indexes). */
static const char step_v5[] =
    "ALTER TABLE migrations ADD COLUMN vmi_label TEXT;"
    "UPDATE migrations SET vmi_label ="
    " CASE json_type(labels, '$.\"kubevirt.io/vmi-name\"') WHEN 'text'"
    " THEN json_extract(labels, '$.\"kubevirt.io/vmi-name\"') END;"
    "DROP INDEX migrations_vmi;"
    "DROP INDEX vmis_node;"
    "CREATE INDEX migrations_by_phase ON migrations (phase, namespace, name);"
    "CREATE INDEX migrations_by_vmi ON migrations (vmi_name, namespace, name);"
    "CREATE INDEX migrations_by_vmi_label ON migrations"
    " (vmi_label, namespace, name);"
    "CREATE INDEX vmis_by_phase ON vmis (phase, namespace, name);"
    "CREATE INDEX vmis_by_node ON vmis (node_name, namespace, name);";

static const char *const steps[STORE_SCHEMA_VERSION] = {
    step_v1, step_v2, step_v3, step_v4, step_v5};

int store_errno(int rc)
{
    switch (rc & 0xff) {
    case SQLITE_OK:
    case SQLITE_ROW:
    case SQLITE_DONE:
        return 0;
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        return -EBUSY;
    case SQLITE_NOMEM:
        return -ENOMEM;
    case SQLITE_FULL:
        return -ENOSPC;
    case SQLITE_READONLY:
        return -EROFS;
    case SQLITE_PERM:
    case SQLITE_AUTH:
    case SQLITE_CANTOPEN:
        return -EACCES;
    case SQLITE_CONSTRAINT:
        return -EEXIST;
    case SQLITE_NOTADB:
    case SQLITE_TOOBIG:
        return -EINVAL;
    default:
        return -EIO;
    }
}

static int pragma_int(sqlite3 *db, const char *sql, int *ret)
{
    sqlite3_stmt *stmt = NULL;
    int rc = sqlite3_prepare_v2(db, sql, -1, &stmt, NULL);
    if (rc == SQLITE_OK) {
        rc = sqlite3_step(stmt);
        if (rc == SQLITE_ROW) {
            *ret = sqlite3_column_int(stmt, 0);
            rc = SQLITE_OK;
        }
    }
    sqlite3_finalize(stmt);
    return rc;
}

/* Read the file's schema version into *RET_VERSION and refuse a file that
 * is not ours or is from a newer program.  Returns 0 or a negative errno
 * with a message in ERRBUF. */
static int check_file(sqlite3 *db, int *ret_version, char *errbuf,
                      size_t errlen)
{
    int version = 0, app_id = 0, n_objects = 0, rc;

    rc = pragma_int(db, "PRAGMA user_version", &version);
    if (rc == SQLITE_OK)
        rc = pragma_int(db, "PRAGMA application_id", &app_id);
    if (rc == SQLITE_OK)
        rc = pragma_int(db, "SELECT count(*) FROM sqlite_master", &n_objects);
    if (rc != SQLITE_OK) {
        snprintf(errbuf, errlen, "cannot read the schema version: %s",
                 sqlite3_errmsg(db));
        return store_errno(rc) < 0 ? store_errno(rc) : -EIO;
    }
    if (version == 0 && n_objects > 0) {
        snprintf(errbuf, errlen,
                 "the file holds tables but no schema version: "
                 "not an orchestratord database");
        return -EINVAL;
    }
    if (version > 0 && app_id != STORE_APPLICATION_ID) {
        snprintf(errbuf, errlen,
                 "the file has application id %d, not orchestratord's: "
                 "not an orchestratord database",
                 app_id);
        return -EINVAL;
    }
    if (version > STORE_SCHEMA_VERSION) {
        snprintf(errbuf, errlen,
                 "database schema version %d is newer than this program's "
                 "%d; upgrade orchestratord",
                 version, STORE_SCHEMA_VERSION);
        return -EPROTO;
    }
    if (version < 0) {
        snprintf(errbuf, errlen, "database schema version %d is invalid",
                 version);
        return -EINVAL;
    }
    *ret_version = version;
    return 0;
}

int store_schema_check(sqlite3 *db, char *errbuf, size_t errlen)
{
    int version = 0;
    return check_file(db, &version, errbuf, errlen);
}

int store_schema_upgrade(sqlite3 *db, char *errbuf, size_t errlen)
{
    int version = 0, r = 0, rc;
    char *msg = NULL;

    /* IMMEDIATE: two programs opening one new file must not both create
     * the schema; the second waits and then sees the first one's. */
    rc = sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
    if (rc != SQLITE_OK) {
        snprintf(errbuf, errlen, "cannot lock the database: %s",
                 sqlite3_errmsg(db));
        return store_errno(rc);
    }
    /* Again, under the lock: another program may have moved it on. */
    r = check_file(db, &version, errbuf, errlen);
    if (r < 0)
        goto out;
    for (int v = version; v < STORE_SCHEMA_VERSION; v++) {
        rc = sqlite3_exec(db, steps[v], NULL, NULL, &msg);
        if (rc != SQLITE_OK) {
            snprintf(errbuf, errlen,
                     "cannot upgrade the schema from version %d to %d: %s", v,
                     v + 1, msg ? msg : sqlite3_errstr(rc));
            r = store_errno(rc);
            goto out;
        }
    }
    if (version < STORE_SCHEMA_VERSION) {
        char sql[64];
        snprintf(sql, sizeof(sql), "PRAGMA user_version = %d",
                 STORE_SCHEMA_VERSION);
        rc = sqlite3_exec(db, sql, NULL, NULL, NULL);
        if (rc != SQLITE_OK) {
            snprintf(errbuf, errlen, "cannot set the schema version: %s",
                     sqlite3_errmsg(db));
            r = store_errno(rc);
            goto out;
        }
    }
    rc = sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
    if (rc != SQLITE_OK) {
        snprintf(errbuf, errlen, "cannot commit the schema: %s",
                 sqlite3_errmsg(db));
        r = store_errno(rc);
    }
out:
    sqlite3_free(msg);
    if (r < 0 && !sqlite3_get_autocommit(db))
        sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    return r;
}
