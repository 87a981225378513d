/*
 * Unit tests for store/: the real SQLite, in memory or in a temporary
 * directory.  Files of older or foreign schemas are built here with raw SQL,
 * independently of the store's own schema code.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "store/checkpoint.h"
#include "store/store.h"
#include "store/text.h"

/*
 * Helpers.
 */

struct tmpdir {
    char path[256];
};

static void tmpdir_make(struct tmpdir *t)
{
    const char *base = getenv("TMPDIR");
    snprintf(t->path, sizeof(t->path), "%s/test_store.XXXXXX",
             base && *base ? base : "/tmp");
    assert_non_null(mkdtemp(t->path));
}

static void tmpdir_file(const struct tmpdir *t, const char *name, char *buf,
                        size_t len)
{
    snprintf(buf, len, "%s/%s", t->path, name);
}

static void tmpdir_remove(struct tmpdir *t)
{
    char cmd[300];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", t->path);
    assert_int_equal(system(cmd), 0);
}

static struct store *open_memory(const struct store_opts *opts)
{
    struct store *st = NULL;
    char err[256];
    int r = store_open(":memory:", opts, &st, err, sizeof(err));
    if (r < 0)
        fail_msg("store_open: %d: %s", r, err);
    return st;
}

/* A VMIM like the seed's migration.yaml, with a status as the controller
 * writes it. */
static json_t *make_migration(const char *ns, const char *name, const char *vmi,
                              const char *phase, const char *source,
                              const char *target)
{
    json_t *obj =
        json_pack("{s:s,s:s,s:{s:s,s:s,s:{s:s}},s:{s:s}}", "apiVersion",
                  "kubevirt.io/v1", "kind", "VirtualMachineInstanceMigration",
                  "metadata", "name", name, "namespace", ns, "labels",
                  "kubevirt.io/vmi-name", vmi, "spec", "vmiName", vmi);
    assert_non_null(obj);
    if (phase) {
        json_t *status =
            json_pack("{s:s,s:{}}", "phase", phase, "migrationState");
        json_t *ms = json_object_get(status, "migrationState");
        if (source)
            json_object_set_new(ms, "sourceNode", json_string(source));
        if (target)
            json_object_set_new(ms, "targetNode", json_string(target));
        json_object_set_new(obj, "status", status);
    }
    return obj;
}

static json_t *make_object(enum store_kind kind, const char *ns,
                           const char *name)
{
    json_t *obj =
        json_pack("{s:s,s:{s:s},s:{s:s}}", "kind", store_kind_name(kind),
                  "metadata", "name", name, "spec", "note", "first");
    assert_non_null(obj);
    if (store_kind_is_namespaced(kind))
        json_object_set_new(json_object_get(obj, "metadata"), "namespace",
                            json_string(ns));
    return obj;
}

static const char *meta_str(const json_t *obj, const char *key)
{
    return json_string_value(
        json_object_get(json_object_get(obj, "metadata"), key));
}

static int64_t meta_rv(const json_t *obj)
{
    int64_t rv = -1;
    assert_int_equal(store_rv_parse(meta_str(obj, "resourceVersion"), &rv), 0);
    return rv;
}

static json_int_t meta_generation(const json_t *obj)
{
    return json_integer_value(
        json_object_get(json_object_get(obj, "metadata"), "generation"));
}

static int64_t current_rv(struct store *st)
{
    int64_t rv = -1;
    assert_int_equal(store_resource_version(st, &rv), 0);
    return rv;
}

/* Run SQL on a raw connection of our own (fixtures, lock holders). */
static void raw_exec(sqlite3 *db, const char *sql)
{
    char *msg = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK)
        fail_msg("sql failed: %s: %s", msg, sql);
}

static int raw_int(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *stmt = NULL;
    int v;
    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &stmt, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(stmt), SQLITE_ROW);
    v = sqlite3_column_int(stmt, 0);
    sqlite3_finalize(stmt);
    return v;
}

static sqlite3 *raw_open(const char *path)
{
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    return db;
}

/* The indexes we made (not SQLite's for UNIQUE), their SQL text. */
static const char index_sql[] =
    "SELECT group_concat(sql, char(10)) FROM (SELECT sql FROM sqlite_master"
    " WHERE type = 'index' AND sql IS NOT NULL ORDER BY name)";

/* Run SQL on DB: its one text value, malloc'd. */
static char *raw_text(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *stmt = NULL;
    const char *text;
    char *copy;
    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &stmt, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(stmt), SQLITE_ROW);
    text = (const char *)sqlite3_column_text(stmt, 0);
    assert_non_null(text);
    copy = strdup(text);
    assert_non_null(copy);
    sqlite3_finalize(stmt);
    return copy;
}

/* The schema of the file DB is open on, as one string (malloc'd): every
 * index's definition and columns, the record tables' definitions (version
 * 4 writes them), and every table's columns.  Not the SQL text of the
 * other tables: the fixtures' differs from schema.c's in white space. */
static char *raw_schema(sqlite3 *db)
{
    return raw_text(db, "SELECT group_concat(line, char(10)) FROM ("
                        " SELECT type || ' ' || name || ' ' || tbl_name"
                        " || ' ' || coalesce(sql, '') AS line"
                        " FROM sqlite_master WHERE type = 'index'"
                        " OR name IN ('nodes', 'vms', 'vmis',"
                        " 'migrations', 'migration_policies')"
                        " UNION ALL SELECT 'column ' || m.name || '.' ||"
                        " c.name || ' ' || c.type || ' ' || c.\"notnull\""
                        " || ' ' || coalesce(c.dflt_value, '-') || ' ' ||"
                        " c.pk FROM sqlite_master m,"
                        " pragma_table_info(m.name) c"
                        " WHERE m.type = 'table'"
                        " UNION ALL SELECT 'index column ' || m.name ||"
                        " ' ' || i.seqno || ' ' || i.name"
                        " FROM sqlite_master m, pragma_index_info(m.name) i"
                        " WHERE m.type = 'index' ORDER BY 1)");
}

/* Whether the file at PATH is in WAL mode: byte 18 of the header, the
 * "read version", is 2 in WAL mode, 1 in rollback-journal mode.  Read raw,
 * since opening it with SQLite could change it. */
static int file_is_wal(const char *path)
{
    unsigned char header[100];
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    assert_int_equal(fread(header, 1, sizeof(header), f), sizeof(header));
    fclose(f);
    return header[18] == 2;
}

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/*
 * Kinds and resourceVersion strings.
 */

static void test_kind_names(void **state)
{
    (void)state;
    assert_string_equal(store_kind_name(STORE_KIND_MIGRATION),
                        "VirtualMachineInstanceMigration");
    assert_string_equal(store_kind_name(STORE_KIND_NODE), "Node");
    assert_null(store_kind_name(STORE_KIND_COUNT));
    assert_int_equal(store_kind_from_name("VirtualMachineInstance"),
                     STORE_KIND_VMI);
    assert_int_equal(store_kind_from_name("MigrationPolicy"),
                     STORE_KIND_MIGRATION_POLICY);
    assert_int_equal(store_kind_from_name("virtualmachine"), -EINVAL);
    assert_int_equal(store_kind_from_name(NULL), -EINVAL);
    assert_true(store_kind_is_namespaced(STORE_KIND_VM));
    assert_false(store_kind_is_namespaced(STORE_KIND_NODE));
    assert_false(store_kind_is_namespaced(STORE_KIND_MIGRATION_POLICY));
    assert_int_equal(store_schema_version(), 5);
}

static void test_rv_parse(void **state)
{
    int64_t rv = 42;
    (void)state;
    assert_int_equal(store_rv_parse("12345", &rv), 0);
    assert_int_equal(rv, 12345);
    assert_int_equal(store_rv_parse("0", &rv), 0);
    assert_int_equal(rv, 0);
    assert_int_equal(store_rv_parse("9223372036854775807", &rv), 0);
    assert_true(rv == INT64_MAX);
    rv = 7;
    assert_int_equal(store_rv_parse("9223372036854775808", &rv), -EINVAL);
    assert_int_equal(store_rv_parse("", &rv), -EINVAL);
    assert_int_equal(store_rv_parse("-1", &rv), -EINVAL);
    assert_int_equal(store_rv_parse("+1", &rv), -EINVAL);
    assert_int_equal(store_rv_parse("012", &rv), -EINVAL);
    assert_int_equal(store_rv_parse("12a", &rv), -EINVAL);
    assert_int_equal(store_rv_parse(" 1", &rv), -EINVAL);
    assert_int_equal(store_rv_parse(NULL, &rv), -EINVAL);
    assert_int_equal(rv, 7);
}

/*
 * The storage encoder (store/text.h): its text must read back, through
 * jansson, to an equal value.
 */

static void test_text_encode(void **state)
{
    struct text_buf buf = {0};
    json_t *v, *back;
    (void)state;

    v = json_pack("{s:s,s:s#,s:[i,I,f,f,f,b,b,n],s:{s:{}},s:[],s:s}", "esc",
                  "q\"b\\s/\n\t\r\b\f\x01\x1f\x7f", "nul", "a\0b", 3, "nums",
                  -7, (json_int_t)INT64_MIN, 1.0, 0.1, -2.5e-300, 1, 0,
                  "nested", "empty", "arr", "utf8",
                  "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80");
    assert_non_null(v);
    json_object_set_new(v, "k\"ey\n", json_true());
    assert_int_equal(store_text_encode(&buf, v), 0);
    back = json_loadb(buf.data, buf.len, JSON_ALLOW_NUL, NULL);
    assert_non_null(back);
    assert_true(json_equal(back, v));
    /* Reals stay reals, integers stay integers. */
    assert_true(json_is_real(json_array_get(json_object_get(back, "nums"), 2)));
    assert_true(
        json_is_integer(json_array_get(json_object_get(back, "nums"), 0)));
    assert_non_null(strstr(buf.data, "\"esc\":\"q\\\"b\\\\s/\\n\\t\\r"
                                     "\\u0008\\u000c\\u0001\\u001f\x7f\""));
    assert_non_null(strstr(buf.data, "\"nul\":\"a\\u0000b\""));
    json_decref(back);
    json_decref(v);

    /* Integers at the edges, written as jansson writes them; for an object
     * without reals the whole text is json_dumps()'s compact text. */
    v = json_pack("{s:[I,I,i,i,i,i],s:s,s:{s:s#}}", "ints",
                  (json_int_t)INT64_MIN, (json_int_t)INT64_MAX, 0, -1, 9, 10,
                  "long", "0123456789abcdefghij\"0123456789", "m", "ctl",
                  "\x01\x02", 2);
    assert_non_null(v);
    assert_int_equal(store_text_encode(&buf, v), 0);
    char *dumped = json_dumps(v, JSON_COMPACT);
    assert_string_equal(buf.data, dumped);
    assert_int_equal(buf.len, strlen(dumped));
    assert_non_null(strstr(buf.data, "[-9223372036854775808,"
                                     "9223372036854775807,0,-1,9,10]"));
    free(dumped);
    json_decref(v);

    /* Each escaped byte at each position of a long string (the encoder
     * scans eight bytes at a time), among bytes that must not be escaped:
     * the text is jansson's. */
    static const char specials[] = {'"', '\\', '\n', '\t', '\x01'};
    for (size_t k = 0; k < sizeof(specials); k++) {
        /* Not at 18 and 19: that is the two bytes of an "é". */
        for (size_t pos = 0; pos < 18; pos++) {
            char str[21];
            memcpy(str, "a\x7f ~!#$%&'()*+,-./\xc3\xa9", 20);
            str[pos] = specials[k];
            str[20] = '\0';
            v = json_stringn_nocheck(str, 20);
            assert_int_equal(store_text_encode(&buf, v), 0);
            dumped = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
            assert_non_null(dumped);
            assert_string_equal(buf.data, dumped);
            free(dumped);
            json_decref(v);
        }
    }

    /* Scalars alone, and the buffer is reused. */
    v = json_string("x");
    assert_int_equal(store_text_encode(&buf, v), 0);
    assert_string_equal(buf.data, "\"x\"");
    json_decref(v);
    assert_int_equal(store_text_encode(&buf, NULL), -EINVAL);

    /* Too deep (or a cycle) is refused, not a stack overflow. */
    v = json_array();
    json_t *inner = v;
    for (int i = 0; i < 600; i++) {
        json_t *next = json_array();
        json_array_append_new(inner, next);
        inner = next;
    }
    assert_int_equal(store_text_encode(&buf, v), -EINVAL);
    json_decref(v);
    store_text_release(&buf);
    store_text_release(&buf);
    store_text_release(NULL);
}

/*
 * Records.
 */

static void test_crud_each_kind(void **state)
{
    struct store *st = open_memory(NULL);
    (void)state;

    for (int k = 0; k < STORE_KIND_COUNT; k++) {
        const char *ns = store_kind_is_namespaced(k) ? "lab" : NULL;
        json_t *obj = make_object(k, "lab", "thing"), *got = NULL;
        json_t *last = NULL;
        int64_t rv_before = current_rv(st), rv;

        assert_int_equal(store_create(st, k, obj), 0);
        rv = meta_rv(obj);
        assert_true(rv == rv_before + 1);
        assert_int_equal(strlen(meta_str(obj, "uid")), 36);
        assert_int_equal(meta_str(obj, "uid")[14], '4');
        assert_int_equal(strlen(meta_str(obj, "creationTimestamp")), 20);
        assert_int_equal(meta_str(obj, "creationTimestamp")[10], 'T');
        assert_int_equal(meta_str(obj, "creationTimestamp")[19], 'Z');
        assert_int_equal(meta_generation(obj), 1);

        assert_int_equal(store_get(st, k, ns, "thing", &got), 0);
        assert_true(json_equal(got, obj));
        json_decref(got);
        assert_int_equal(store_get(st, k, ns, "other", &got), -ENOENT);

        /* A metadata-only change keeps the generation, a spec change
         * bumps it; uid and creationTimestamp stay. */
        json_t *copy = json_deep_copy(obj);
        json_object_set_new(json_object_get(copy, "metadata"), "labels",
                            json_pack("{s:s}", "a", "b"));
        json_object_del(json_object_get(copy, "metadata"), "uid");
        json_object_del(json_object_get(copy, "metadata"), "creationTimestamp");
        assert_int_equal(store_update(st, k, copy, rv), 0);
        assert_true(meta_rv(copy) == rv + 1);
        assert_int_equal(meta_generation(copy), 1);
        assert_string_equal(meta_str(copy, "uid"), meta_str(obj, "uid"));
        assert_string_equal(meta_str(copy, "creationTimestamp"),
                            meta_str(obj, "creationTimestamp"));
        json_object_set_new(json_object_get(copy, "spec"), "note",
                            json_string("second"));
        assert_int_equal(store_update(st, k, copy, 0), 0);
        assert_int_equal(meta_generation(copy), 2);
        assert_int_equal(store_get(st, k, ns, "thing", &got), 0);
        assert_true(json_equal(got, copy));
        json_decref(got);

        assert_int_equal(store_delete(st, k, ns, "thing", 0, &last), 0);
        assert_true(meta_rv(last) == meta_rv(copy) + 1);
        assert_string_equal(meta_str(last, "uid"), meta_str(obj, "uid"));
        assert_int_equal(store_get(st, k, ns, "thing", &got), -ENOENT);
        assert_int_equal(store_delete(st, k, ns, "thing", 0, NULL), -ENOENT);
        assert_int_equal(store_update(st, k, copy, 0), -ENOENT);
        json_decref(last);
        json_decref(copy);
        json_decref(obj);
    }
    store_close(st);
}

/* store_get_text() gives the stored text, and that text carries the
 * metadata of the last write: it parses to what store_get() returns. */
static void check_text_equals(struct store *st, enum store_kind kind,
                              const char *ns, const char *name,
                              const json_t *expect)
{
    char *text = NULL;
    size_t len = 0;
    json_t *parsed, *got = NULL;

    assert_int_equal(store_get_text(st, kind, ns, name, &text, &len), 0);
    assert_non_null(text);
    assert_int_equal(strlen(text), len);
    parsed = json_loads(text, 0, NULL);
    assert_non_null(parsed);
    assert_true(json_equal(parsed, expect));
    assert_int_equal(store_get(st, kind, ns, name, &got), 0);
    assert_true(json_equal(parsed, got));
    /* Compact: no whitespace between tokens. */
    assert_null(strstr(text, "\": "));
    assert_null(strstr(text, ", \""));
    json_decref(got);
    json_decref(parsed);
    free(text);
}

static void test_get_text(void **state)
{
    struct store *st = open_memory(NULL);
    json_t *obj = make_migration("default", "job", "vmi-a", "Running", "host-a",
                                 "host-b");
    json_t *last = NULL;
    char *text = (char *)"untouched";
    size_t len = 12345;
    (void)state;

    assert_int_equal(store_create(st, STORE_KIND_MIGRATION, obj), 0);
    assert_non_null(meta_str(obj, "uid"));
    assert_non_null(meta_str(obj, "creationTimestamp"));
    check_text_equals(st, STORE_KIND_MIGRATION, "default", "job", obj);

    /* The text follows updates: new resourceVersion and generation, the
     * same uid and creationTimestamp. */
    json_t *copy = json_deep_copy(obj);
    json_object_set_new(json_object_get(copy, "spec"), "vmiName",
                        json_string("vmi-b"));
    json_object_del(json_object_get(copy, "metadata"), "creationTimestamp");
    assert_int_equal(store_update(st, STORE_KIND_MIGRATION, copy, 0), 0);
    assert_true(meta_rv(copy) == meta_rv(obj) + 1);
    assert_int_equal(meta_generation(copy), 2);
    assert_string_equal(meta_str(copy, "creationTimestamp"),
                        meta_str(obj, "creationTimestamp"));
    check_text_equals(st, STORE_KIND_MIGRATION, "default", "job", copy);

    /* RET_LEN is optional. */
    assert_int_equal(
        store_get_text(st, STORE_KIND_MIGRATION, "default", "job", &text, NULL),
        0);
    assert_non_null(strstr(text, "\"resourceVersion\":\"2\""));
    free(text);
    text = (char *)"untouched";

    /* Cluster-scoped kinds ignore NS. */
    json_t *node = make_object(STORE_KIND_NODE, NULL, "host-a");
    assert_int_equal(store_create(st, STORE_KIND_NODE, node), 0);
    check_text_equals(st, STORE_KIND_NODE, NULL, "host-a", node);
    check_text_equals(st, STORE_KIND_NODE, "ignored", "host-a", node);

    /* Failures leave the out-parameters alone. */
    assert_int_equal(store_get_text(st, STORE_KIND_MIGRATION, "default", "none",
                                    &text, &len),
                     -ENOENT);
    assert_int_equal(
        store_get_text(st, STORE_KIND_MIGRATION, "other", "job", &text, &len),
        -ENOENT);
    assert_int_equal(
        store_get_text(st, STORE_KIND_MIGRATION, NULL, "job", &text, &len),
        -EINVAL);
    assert_int_equal(
        store_get_text(st, STORE_KIND_MIGRATION, "default", "", &text, &len),
        -EINVAL);
    assert_int_equal(
        store_get_text(st, STORE_KIND_COUNT, "default", "job", &text, &len),
        -EINVAL);
    assert_int_equal(
        store_get_text(st, STORE_KIND_MIGRATION, "default", "job", NULL, &len),
        -EINVAL);
    assert_int_equal(store_get_text(NULL, STORE_KIND_MIGRATION, "default",
                                    "job", &text, &len),
                     -EINVAL);
    assert_string_equal(text, "untouched");
    assert_int_equal(len, 12345);

    assert_int_equal(
        store_delete(st, STORE_KIND_MIGRATION, "default", "job", 0, &last), 0);
    assert_int_equal(
        store_get_text(st, STORE_KIND_MIGRATION, "default", "job", &text, &len),
        -ENOENT);
    json_decref(last);
    json_decref(node);
    json_decref(copy);
    json_decref(obj);
    store_close(st);
}

static void test_create_exists_keeps_object(void **state)
{
    struct store *st = open_memory(NULL);
    json_t *a = make_migration("default", "job", "vmi-a", NULL, NULL, NULL);
    json_t *b = make_migration("default", "job", "vmi-b", NULL, NULL, NULL);
    json_t *b_before = json_deep_copy(b), *got = NULL;
    (void)state;

    assert_int_equal(store_create(st, STORE_KIND_MIGRATION, a), 0);
    int64_t rv = current_rv(st);
    assert_int_equal(store_create(st, STORE_KIND_MIGRATION, b), -EEXIST);
    /* The failed create left the caller's object alone, and the stored
     * record and the resourceVersion as they were. */
    assert_true(json_equal(b, b_before));
    assert_true(current_rv(st) == rv);
    assert_int_equal(
        store_get(st, STORE_KIND_MIGRATION, "default", "job", &got), 0);
    assert_string_equal(json_string_value(json_object_get(
                            json_object_get(got, "spec"), "vmiName")),
                        "vmi-a");
    json_decref(got);

    /* Same name in another namespace is another record. */
    json_object_set_new(json_object_get(b, "metadata"), "namespace",
                        json_string("other"));
    assert_int_equal(store_create(st, STORE_KIND_MIGRATION, b), 0);

    /* A uid the caller sets is stored as given, unchecked (since schema
     * version 4: the API drops clients' uids, the store draws its own). */
    json_t *c = make_migration("default", "job2", "vmi-c", NULL, NULL, NULL);
    json_object_set(json_object_get(c, "metadata"), "uid",
                    json_object_get(json_object_get(a, "metadata"), "uid"));
    assert_int_equal(store_create(st, STORE_KIND_MIGRATION, c), 0);
    assert_int_equal(
        store_get(st, STORE_KIND_MIGRATION, "default", "job2", &got), 0);
    assert_string_equal(meta_str(got, "uid"), meta_str(a, "uid"));
    json_decref(got);

    json_decref(a);
    json_decref(b);
    json_decref(c);
    json_decref(b_before);
    store_close(st);
}

static void test_create_invalid(void **state)
{
    struct store *st = open_memory(NULL);
    json_t *obj;
    (void)state;

    /* A namespaced kind without a namespace. */
    obj = json_pack("{s:{s:s}}", "metadata", "name", "x");
    assert_int_equal(store_create(st, STORE_KIND_VMI, obj), -EINVAL);
    /* A cluster-scoped kind with one. */
    json_object_set_new(json_object_get(obj, "metadata"), "namespace",
                        json_string("default"));
    assert_int_equal(store_create(st, STORE_KIND_NODE, obj), -EINVAL);
    /* The object's kind is not the table's. */
    json_object_set_new(obj, "kind", json_string("VirtualMachine"));
    assert_int_equal(store_create(st, STORE_KIND_VMI, obj), -EINVAL);
    json_decref(obj);
    /* No metadata, no name, bad types. */
    obj = json_pack("{s:s}", "kind", "Node");
    assert_int_equal(store_create(st, STORE_KIND_NODE, obj), -EINVAL);
    json_decref(obj);
    obj = json_pack("{s:{}}", "metadata");
    assert_int_equal(store_create(st, STORE_KIND_NODE, obj), -EINVAL);
    json_decref(obj);
    obj = json_pack("{s:{s:i}}", "metadata", "name", 3);
    assert_int_equal(store_create(st, STORE_KIND_NODE, obj), -EINVAL);
    json_decref(obj);
    obj = json_pack("{s:{s:s,s:[]}}", "metadata", "name", "n", "labels");
    assert_int_equal(store_create(st, STORE_KIND_NODE, obj), -EINVAL);
    json_decref(obj);
    obj = json_pack("[]");
    assert_int_equal(store_create(st, STORE_KIND_NODE, obj), -EINVAL);
    assert_int_equal(store_create(st, STORE_KIND_COUNT, obj), -EINVAL);
    json_decref(obj);
    assert_true(current_rv(st) == 0);
    store_close(st);
}

/* Values at the edges: a 1 MiB record, 253-character names, unicode in
 * labels, NUL characters (which jansson allows in strings) in the body.
 * Each reads back equal through every path; a NUL in a field the store
 * keys or indexes by is refused or kept whole, never cut short. */
static void test_odd_values(void **state)
{
    struct store *st = open_memory(NULL);
    struct store_page page = {0};
    struct store_text_page tpage = {0};
    json_t *obj, *got = NULL, *events = NULL;
    char name[254], *big, *text = NULL;
    int64_t next = 0;
    size_t len = 0;
    (void)state;

    /* 1 MiB of spec, and the longest names Kubernetes allows. */
    memset(name, 'n', 253);
    name[253] = '\0';
    big = malloc(1 << 20);
    assert_non_null(big);
    memset(big, 'b', 1 << 20);
    obj = make_migration(name, name, "vmi", NULL, NULL, NULL);
    json_object_set_new(json_object_get(obj, "spec"), "blob",
                        json_stringn(big, 1 << 20));
    free(big);
    assert_int_equal(store_create(st, STORE_KIND_MIGRATION, obj), 0);
    assert_int_equal(store_get(st, STORE_KIND_MIGRATION, name, name, &got), 0);
    assert_true(json_equal(got, obj));
    json_decref(got);
    assert_int_equal(
        store_get_text(st, STORE_KIND_MIGRATION, name, name, &text, &len), 0);
    assert_true(len > (1 << 20));
    got = json_loadb(text, len, 0, NULL);
    assert_true(json_equal(got, obj));
    json_decref(got);
    free(text);
    assert_int_equal(
        store_delete(st, STORE_KIND_MIGRATION, name, name, 0, NULL), 0);
    json_decref(obj);

    /* Unicode in labels; NUL characters in a label value and the spec. */
    obj = make_migration("default", "odd", "vmi", NULL, NULL, NULL);
    json_t *labels =
        json_object_get(json_object_get(obj, "metadata"), "labels");
    json_object_set_new(labels, "例え/ключ", json_string("値🙂"));
    json_object_set_new(labels, "nul", json_stringn("a\0b", 3));
    json_object_set_new(json_object_get(obj, "spec"), "note",
                        json_stringn("x\0y\0", 4));
    assert_int_equal(store_create(st, STORE_KIND_MIGRATION, obj), 0);
    assert_int_equal(
        store_get(st, STORE_KIND_MIGRATION, "default", "odd", &got), 0);
    assert_true(json_equal(got, obj));
    assert_int_equal(json_string_length(
                         json_object_get(json_object_get(got, "spec"), "note")),
                     4);
    json_decref(got);
    assert_int_equal(store_list(st, STORE_KIND_MIGRATION, NULL, NULL, &page),
                     0);
    assert_true(json_equal(json_array_get(page.items, 0), obj));
    store_page_release(&page);
    assert_int_equal(
        store_list_text(st, STORE_KIND_MIGRATION, NULL, NULL, &tpage), 0);
    got = json_loadb(tpage.items, tpage.items_len, JSON_ALLOW_NUL, NULL);
    assert_true(json_equal(json_array_get(got, 0), obj));
    json_decref(got);
    store_text_page_release(&tpage);
    assert_int_equal(store_changes_since(st, STORE_KIND_MIGRATION, NULL, 2, 0,
                                         &events, &next),
                     1);
    assert_true(
        json_equal(json_object_get(json_array_get(events, 0), "object"), obj));
    json_decref(events);
    json_decref(obj);

    /* A NUL in a key field would store the record under a shorter name
     * than its own: refused. */
    static const char *const keys[] = {"name", "namespace", "uid",
                                       "generateName", "creationTimestamp"};
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        obj = make_migration("default", "nul-key", "vmi", NULL, NULL, NULL);
        json_object_set_new(json_object_get(obj, "metadata"), keys[i],
                            json_stringn("bad\0tail", 8));
        assert_int_equal(store_create(st, STORE_KIND_MIGRATION, obj), -EINVAL);
        json_decref(obj);
    }
    assert_int_equal(
        store_get(st, STORE_KIND_MIGRATION, "default", "bad", &got), -ENOENT);

    /* A NUL in an indexed field is kept whole: "Running\0x" is not
     * "Running". */
    obj = make_migration("default", "nul-phase", "vmi", "Pending", "host-a",
                         NULL);
    json_object_set_new(json_object_get(obj, "status"), "phase",
                        json_stringn("Running\0x", 9));
    assert_int_equal(store_create(st, STORE_KIND_MIGRATION, obj), 0);
    json_decref(obj);
    const char *running[] = {"Running"};
    struct store_list_opts by_phase = {.phases = running, .n_phases = 1};
    assert_int_equal(
        store_list(st, STORE_KIND_MIGRATION, NULL, &by_phase, &page), 0);
    assert_int_equal(json_array_size(page.items), 0);
    store_page_release(&page);
    store_close(st);
}

static void test_generate_name(void **state)
{
    struct store *st = open_memory(NULL);
    json_t *obj = json_pack("{s:{s:s,s:s},s:{s:s}}", "metadata", "generateName",
                            "migration-", "namespace", "default", "spec",
                            "vmiName", "vmi");
    json_t *got = NULL;
    (void)state;

    assert_int_equal(store_create(st, STORE_KIND_MIGRATION, obj), 0);
    const char *name = meta_str(obj, "name");
    assert_non_null(name);
    assert_int_equal(strlen(name), strlen("migration-") + 5);
    assert_memory_equal(name, "migration-", 10);
    for (const char *p = name + 10; *p; p++)
        assert_non_null(strchr("bcdfghjklmnpqrstvwxz2456789", *p));
    assert_int_equal(store_get(st, STORE_KIND_MIGRATION, "default", name, &got),
                     0);
    json_decref(got);
    json_decref(obj);

    /* Kubernetes cuts a long generateName to 58 characters so the name with
     * its suffix stays within 63. */
    char prefix[201];
    memset(prefix, 'a', 200);
    prefix[200] = '\0';
    obj = json_pack("{s:{s:s,s:s},s:{s:s}}", "metadata", "generateName", prefix,
                    "namespace", "default", "spec", "vmiName", "vmi");
    assert_int_equal(store_create(st, STORE_KIND_MIGRATION, obj), 0);
    assert_int_equal(strlen(meta_str(obj, "name")), 63);
    json_decref(obj);
    store_close(st);
}

static void test_optimistic_concurrency(void **state)
{
    struct store *st = open_memory(NULL);
    json_t *obj =
        make_migration("default", "job", "vmi", "Pending", NULL, NULL);
    json_t *mine, *theirs, *got = NULL;
    (void)state;

    assert_int_equal(store_create(st, STORE_KIND_MIGRATION, obj), 0);
    int64_t rv = meta_rv(obj);
    mine = json_deep_copy(obj);
    theirs = json_deep_copy(obj);

    /* Two writers read the same version; the first wins, the second is
     * told its copy is stale and changes nothing. */
    json_object_set_new(json_object_get(theirs, "status"), "phase",
                        json_string("Scheduling"));
    assert_int_equal(store_update(st, STORE_KIND_MIGRATION, theirs, rv), 0);
    json_object_set_new(json_object_get(mine, "status"), "phase",
                        json_string("Failed"));
    json_t *mine_before = json_deep_copy(mine);
    assert_int_equal(store_update(st, STORE_KIND_MIGRATION, mine, rv), -ESTALE);
    assert_true(json_equal(mine, mine_before));
    assert_int_equal(
        store_get(st, STORE_KIND_MIGRATION, "default", "job", &got), 0);
    assert_string_equal(json_string_value(json_object_get(
                            json_object_get(got, "status"), "phase")),
                        "Scheduling");
    json_decref(got);

    /* Delete with a stale version fails too; with the right one it works. */
    assert_int_equal(
        store_delete(st, STORE_KIND_MIGRATION, "default", "job", rv, NULL),
        -ESTALE);
    /* A record deleted and re-created under the same name has a new uid:
     * an update carrying the old uid is stale even without a version. */
    assert_int_equal(store_delete(st, STORE_KIND_MIGRATION, "default", "job",
                                  meta_rv(theirs), NULL),
                     0);
    json_t *again = make_migration("default", "job", "vmi", NULL, NULL, NULL);
    assert_int_equal(store_create(st, STORE_KIND_MIGRATION, again), 0);
    assert_int_equal(store_update(st, STORE_KIND_MIGRATION, mine, 0), -ESTALE);
    json_object_del(json_object_get(mine, "metadata"), "uid");
    assert_int_equal(store_update(st, STORE_KIND_MIGRATION, mine, 0), 0);
    assert_int_equal(store_update(st, STORE_KIND_MIGRATION, mine, -1), -EINVAL);

    json_decref(again);
    json_decref(mine_before);
    json_decref(mine);
    json_decref(theirs);
    json_decref(obj);
    store_close(st);
}

static void test_rv_monotonic_across_kinds(void **state)
{
    struct store *st = open_memory(NULL);
    int64_t last = 0;
    char name[32];
    (void)state;

    assert_true(current_rv(st) == 0);
    for (int i = 0; i < 20; i++) {
        enum store_kind k = (enum store_kind)(i % STORE_KIND_COUNT);
        json_t *obj;
        snprintf(name, sizeof(name), "n%d", i);
        obj = make_object(k, "default", name);
        assert_int_equal(store_create(st, k, obj), 0);
        assert_true(meta_rv(obj) == last + 1);
        last = meta_rv(obj);
        if (i % 3 == 0) {
            assert_int_equal(store_update(st, k, obj, last), 0);
            assert_true(meta_rv(obj) == last + 1);
            last = meta_rv(obj);
        }
        json_decref(obj);
    }
    assert_true(current_rv(st) == last);
    store_close(st);
}

/*
 * Lists.
 */

static bool match_even(const json_t *obj, void *arg)
{
    int *calls = arg;
    const char *name = meta_str(obj, "name");
    (*calls)++;
    return (name[strlen(name) - 1] - '0') % 2 == 0;
}

/* Collect every page of a list into names joined by ',' and count pages. */
static int list_all_pages(struct store *st, enum store_kind kind,
                          const char *ns, struct store_list_opts *opts,
                          char *names, size_t len, int64_t *ret_rv)
{
    int pages = 0;
    char *token = NULL;
    names[0] = '\0';
    for (;;) {
        struct store_page page = {0};
        size_t i;
        json_t *item;
        opts->continue_token = token;
        assert_int_equal(store_list(st, kind, ns, opts, &page), 0);
        if (pages == 0)
            *ret_rv = page.resource_version;
        else
            assert_true(page.resource_version == *ret_rv);
        if (opts->limit)
            assert_true(json_array_size(page.items) <= opts->limit);
        json_array_foreach(page.items, i, item)
        {
            size_t n = strlen(names);
            snprintf(names + n, len - n, "%s%s/%s", n ? "," : "",
                     meta_str(item, "namespace"), meta_str(item, "name"));
        }
        pages++;
        free(token);
        token = page.continue_token ? strdup(page.continue_token) : NULL;
        store_page_release(&page);
        if (!token)
            break;
    }
    opts->continue_token = NULL;
    return pages;
}

static void fill_migrations(struct store *st)
{
    /* Created out of order, so the list's order is the store's doing. */
    static const char *const nss[] = {"zeta", "alpha"};
    char name[32], vmi[32];
    for (int i = 9; i >= 0; i--) {
        for (int n = 0; n < 2; n++) {
            json_t *obj;
            snprintf(name, sizeof(name), "m%d", i);
            snprintf(vmi, sizeof(vmi), "vmi%d", i % 3);
            obj = make_migration(nss[n], name, vmi,
                                 i < 4 ? "Succeeded" : "Running", "host-a",
                                 i % 2 ? "host-b" : "host-c");
            assert_int_equal(store_create(st, STORE_KIND_MIGRATION, obj), 0);
            json_decref(obj);
        }
    }
}

static void test_list_pagination(void **state)
{
    struct store *st = open_memory(NULL);
    struct store_list_opts opts = {0};
    char names[2048], expect[2048] = "";
    int64_t rv = 0;
    int calls = 0;
    (void)state;

    fill_migrations(st);
    for (int n = 0; n < 2; n++)
        for (int i = 0; i < 10; i++) {
            size_t len = strlen(expect);
            snprintf(expect + len, sizeof(expect) - len, "%s%s/m%d",
                     len ? "," : "", n ? "zeta" : "alpha", i);
        }

    /* Everything in one page. */
    assert_int_equal(list_all_pages(st, STORE_KIND_MIGRATION, NULL, &opts,
                                    names, sizeof(names), &rv),
                     1);
    assert_string_equal(names, expect);
    assert_true(rv == 20);

    /* Pages of 7: 7 + 7 + 6, same items in the same order. */
    opts.limit = 7;
    assert_int_equal(list_all_pages(st, STORE_KIND_MIGRATION, NULL, &opts,
                                    names, sizeof(names), &rv),
                     3);
    assert_string_equal(names, expect);

    /* A page that ends exactly at the last item carries no token. */
    opts.limit = 10;
    assert_int_equal(list_all_pages(st, STORE_KIND_MIGRATION, "alpha", &opts,
                                    names, sizeof(names), &rv),
                     1);
    assert_string_equal(names, "alpha/m0,alpha/m1,alpha/m2,alpha/m3,alpha/m4,"
                               "alpha/m5,alpha/m6,alpha/m7,alpha/m8,alpha/m9");

    /* The filter runs before the limit: 3 + 2 even names in zeta. */
    opts.limit = 3;
    opts.match = match_even;
    opts.match_arg = &calls;
    assert_int_equal(list_all_pages(st, STORE_KIND_MIGRATION, "zeta", &opts,
                                    names, sizeof(names), &rv),
                     2);
    assert_string_equal(names, "zeta/m0,zeta/m2,zeta/m4,zeta/m6,zeta/m8");
    assert_true(calls >= 10);

    /* Exactly 3 matches left after the first page: no empty third page. */
    opts.limit = 2;
    opts.node_name = "host-c"; /* even i */
    assert_int_equal(list_all_pages(st, STORE_KIND_MIGRATION, "zeta", &opts,
                                    names, sizeof(names), &rv),
                     3);
    assert_string_equal(names, "zeta/m0,zeta/m2,zeta/m4,zeta/m6,zeta/m8");
    opts.node_name = NULL;
    opts.match = NULL;

    /* Later pages report the first page's resourceVersion, and see records
     * as they are now (best effort, not a snapshot). */
    struct store_page p1 = {0}, p2 = {0};
    opts.limit = 15;
    assert_int_equal(store_list(st, STORE_KIND_MIGRATION, NULL, &opts, &p1), 0);
    assert_non_null(p1.continue_token);
    json_t *late = make_migration("zeta", "m99", "vmi", NULL, NULL, NULL);
    assert_int_equal(store_create(st, STORE_KIND_MIGRATION, late), 0);
    opts.continue_token = p1.continue_token;
    assert_int_equal(store_list(st, STORE_KIND_MIGRATION, NULL, &opts, &p2), 0);
    assert_true(p2.resource_version == p1.resource_version);
    assert_true(current_rv(st) == p1.resource_version + 1);
    assert_int_equal(json_array_size(p2.items), 6);
    assert_string_equal(meta_str(json_array_get(p2.items, 5), "name"), "m99");
    assert_null(p2.continue_token);
    store_page_release(&p1);
    store_page_release(&p2);
    store_page_release(&p2); /* released pages are empty, so this is safe */
    store_page_release(NULL);
    json_decref(late);
    store_close(st);
}

/* store_list_text() gives the same pages as store_list(): the same items
 * in the same order, the same tokens and resourceVersion. */
static void check_list_text_same(struct store *st, enum store_kind kind,
                                 const char *ns, struct store_list_opts *opts,
                                 int expect_pages)
{
    char *token = NULL;
    int pages = 0;

    for (;;) {
        struct store_page page = {0};
        struct store_text_page tp = {0};
        json_t *items;

        opts->continue_token = token;
        assert_int_equal(store_list(st, kind, ns, opts, &page), 0);
        assert_int_equal(store_list_text(st, kind, ns, opts, &tp), 0);
        assert_non_null(tp.items);
        assert_int_equal(strlen(tp.items), tp.items_len);
        assert_int_equal(tp.n_items, json_array_size(page.items));
        items = json_loads(tp.items, 0, NULL);
        assert_non_null(items);
        assert_true(json_equal(items, page.items));
        assert_true(tp.resource_version == page.resource_version);
        if (page.continue_token)
            assert_string_equal(tp.continue_token, page.continue_token);
        else
            assert_null(tp.continue_token);
        json_decref(items);
        pages++;
        free(token);
        token = page.continue_token ? strdup(page.continue_token) : NULL;
        store_page_release(&page);
        store_text_page_release(&tp);
        assert_null(tp.items);
        if (!token)
            break;
    }
    opts->continue_token = NULL;
    assert_int_equal(pages, expect_pages);
}

static void test_list_text(void **state)
{
    struct store *st = open_memory(NULL);
    struct store_list_opts opts = {0};
    struct store_text_page tp = {0};
    int calls = 0;
    (void)state;

    /* An empty list is an empty array. */
    assert_int_equal(store_list_text(st, STORE_KIND_MIGRATION, NULL, NULL, &tp),
                     0);
    assert_string_equal(tp.items, "[]");
    assert_int_equal(tp.items_len, 2);
    assert_int_equal(tp.n_items, 0);
    assert_null(tp.continue_token);
    assert_true(tp.resource_version == 0);
    store_text_page_release(&tp);

    fill_migrations(st);
    check_list_text_same(st, STORE_KIND_MIGRATION, NULL, &opts, 1);
    opts.limit = 7;
    check_list_text_same(st, STORE_KIND_MIGRATION, NULL, &opts, 3);
    opts.limit = 1;
    check_list_text_same(st, STORE_KIND_MIGRATION, "alpha", &opts, 10);
    opts.limit = 3;
    opts.match = match_even;
    opts.match_arg = &calls;
    check_list_text_same(st, STORE_KIND_MIGRATION, "zeta", &opts, 2);
    assert_true(calls >= 20);
    opts.match = NULL;
    opts.limit = 2;
    opts.node_name = "host-c";
    check_list_text_same(st, STORE_KIND_MIGRATION, NULL, &opts, 5);

    /* The first item's text is the record's stored text. */
    opts = (struct store_list_opts){.limit = 1};
    char *text = NULL;
    size_t len = 0;
    assert_int_equal(
        store_list_text(st, STORE_KIND_MIGRATION, "alpha", &opts, &tp), 0);
    assert_int_equal(
        store_get_text(st, STORE_KIND_MIGRATION, "alpha", "m0", &text, &len),
        0);
    assert_int_equal(tp.items_len, len + 2);
    assert_memory_equal(tp.items + 1, text, len);
    assert_non_null(tp.continue_token);
    free(text);
    store_text_page_release(&tp);
    store_text_page_release(&tp);
    store_text_page_release(NULL);

    /* Errors as store_list(), and the page is left alone. */
    tp.n_items = 42;
    opts = (struct store_list_opts){.continue_token = "!!"};
    assert_int_equal(
        store_list_text(st, STORE_KIND_MIGRATION, NULL, &opts, &tp), -EINVAL);
    opts = (struct store_list_opts){.vmi_name = "x"};
    assert_int_equal(store_list_text(st, STORE_KIND_NODE, NULL, &opts, &tp),
                     -EINVAL);
    assert_int_equal(store_list_text(st, STORE_KIND_COUNT, NULL, NULL, &tp),
                     -EINVAL);
    assert_int_equal(
        store_list_text(st, STORE_KIND_MIGRATION, NULL, NULL, NULL), -EINVAL);
    assert_null(tp.items);
    assert_int_equal(tp.n_items, 42);
    store_close(st);
}

static void test_list_bad_tokens(void **state)
{
    struct store *st = open_memory(NULL);
    struct store_list_opts opts = {.limit = 1};
    struct store_page page = {0};
    (void)state;

    fill_migrations(st);
    assert_int_equal(store_list(st, STORE_KIND_MIGRATION, NULL, &opts, &page),
                     0);
    char *good = strdup(page.continue_token);
    store_page_release(&page);

    static const char *const bad[] = {
        "!!!!",                                    /* not base64url */
        "eyJydiI6MX0=",                            /* padding is not ours */
        "a",                                       /* impossible length */
        "bm90IGpzb24",                             /* "not json" */
        "eyJydiI6MX0",                             /* {"rv":1}: no key */
        "eyJydiI6LTEsIm5zIjoiIiwibmFtZSI6IngifQ",  /* rv -1 */
        "eyJydiI6MSwibnMiOiIiLCJuYW1lIjoiIn0",     /* empty name */
        "eyJydiI6IjEiLCJucyI6IiIsIm5hbWUiOiJ4In0", /* rv a string */
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        opts.continue_token = bad[i];
        page.resource_version = 77;
        assert_int_equal(
            store_list(st, STORE_KIND_MIGRATION, NULL, &opts, &page), -EINVAL);
        assert_true(page.resource_version == 77); /* untouched */
        assert_null(page.items);
    }
    /* Too long to be ours (a huge one is not decoded at all). */
    char *huge = malloc(1 << 20);
    assert_non_null(huge);
    memset(huge, 'A', (1 << 20) - 1);
    huge[(1 << 20) - 1] = '\0';
    opts.continue_token = huge;
    assert_int_equal(store_list(st, STORE_KIND_MIGRATION, NULL, &opts, &page),
                     -EINVAL);
    /* Valid base64url of garbage, and random bytes. */
    unsigned seed = 1;
    for (int i = 0; i < 2000; i++) {
        char junk[64];
        size_t n = 1 + (size_t)rand_r(&seed) % (sizeof(junk) - 1);
        for (size_t j = 0; j < n; j++)
            junk[j] = i % 2 ? (char)(1 + rand_r(&seed) % 255)
                            : "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuv"
                              "wxyz0123456789-_"[rand_r(&seed) % 64];
        junk[n] = '\0';
        opts.continue_token = junk;
        assert_int_equal(
            store_list(st, STORE_KIND_MIGRATION, NULL, &opts, &page), -EINVAL);
    }
    free(huge);
    /* A token of another kind or namespace is a position: it resumes
     * there, as store.h says.  Made for ("ns-a", "x"), it skips nothing
     * of a later namespace and everything of an earlier one. */
    opts.continue_token = "eyJydiI6MSwibnMiOiJucy1hIiwibmFtZSI6IngifQ";
    opts.limit = 0;
    assert_int_equal(store_list(st, STORE_KIND_MIGRATION, NULL, &opts, &page),
                     0);
    assert_int_equal(json_array_size(page.items), 10);
    assert_string_equal(meta_str(json_array_get(page.items, 0), "namespace"),
                        "zeta");
    assert_true(page.resource_version == 1);
    store_page_release(&page);
    opts.limit = 1;

    /* A token with a flipped character is garbage too, or a different
     * valid position: never a crash. */
    good[strlen(good) / 2] ^= 1;
    opts.continue_token = good;
    int r = store_list(st, STORE_KIND_MIGRATION, NULL, &opts, &page);
    assert_true(r == 0 || r == -EINVAL);
    store_page_release(&page);
    free(good);
    store_close(st);
}

static void test_list_field_filters(void **state)
{
    struct store *st = open_memory(NULL);
    struct store_list_opts opts = {0};
    static const char *const phases[] = {"Succeeded", "Pending"};
    char names[2048];
    int64_t rv;
    (void)state;

    fill_migrations(st);
    opts.vmi_name = "vmi1";
    list_all_pages(st, STORE_KIND_MIGRATION, "alpha", &opts, names,
                   sizeof(names), &rv);
    assert_string_equal(names, "alpha/m1,alpha/m4,alpha/m7");
    opts.vmi_name = NULL;

    opts.phases = phases;
    opts.n_phases = 2;
    list_all_pages(st, STORE_KIND_MIGRATION, "alpha", &opts, names,
                   sizeof(names), &rv);
    assert_string_equal(names, "alpha/m0,alpha/m1,alpha/m2,alpha/m3");
    opts.n_phases = 0;

    opts.in_flight = true;
    opts.vmi_name = "vmi0";
    list_all_pages(st, STORE_KIND_MIGRATION, NULL, &opts, names, sizeof(names),
                   &rv);
    assert_string_equal(names, "alpha/m6,alpha/m9,zeta/m6,zeta/m9");
    opts.in_flight = false;
    opts.vmi_name = NULL;

    opts.node_name = "host-b";
    opts.limit = 4;
    list_all_pages(st, STORE_KIND_MIGRATION, "zeta", &opts, names,
                   sizeof(names), &rv);
    assert_string_equal(names, "zeta/m1,zeta/m3,zeta/m5,zeta/m7,zeta/m9");
    opts.limit = 0;

    /* VMIs filter by node and phase; a filter the kind lacks is refused. */
    json_t *vmi = json_pack("{s:{s:s,s:s},s:{s:s,s:s}}", "metadata", "name",
                            "v1", "namespace", "default", "status", "phase",
                            "Running", "nodeName", "host-b");
    assert_int_equal(store_create(st, STORE_KIND_VMI, vmi), 0);
    list_all_pages(st, STORE_KIND_VMI, NULL, &opts, names, sizeof(names), &rv);
    assert_string_equal(names, "default/v1");
    opts.node_name = "host-a";
    list_all_pages(st, STORE_KIND_VMI, NULL, &opts, names, sizeof(names), &rv);
    assert_string_equal(names, "");
    json_decref(vmi);

    struct store_page page = {0};
    opts.node_name = NULL;
    opts.vmi_name = "x";
    assert_int_equal(store_list(st, STORE_KIND_VMI, NULL, &opts, &page),
                     -EINVAL);
    opts.vmi_name = NULL;
    opts.in_flight = true;
    assert_int_equal(store_list(st, STORE_KIND_NODE, NULL, &opts, &page),
                     -EINVAL);
    opts.in_flight = false;
    opts.n_phases = 1;
    opts.phases = NULL;
    assert_int_equal(store_list(st, STORE_KIND_MIGRATION, NULL, &opts, &page),
                     -EINVAL);
    store_close(st);
}

/* match_labels for the budget test: vmi-name vmi1, counting its calls. */
static size_t labels_calls;

static bool labels_vmi1(const char *text, size_t len, void *arg)
{
    static const char want[] = "\"kubevirt.io/vmi-name\":\"vmi1\"";
    (void)arg;
    labels_calls++;
    return memmem(text, len, want, strlen(want)) != NULL;
}

/* The budget bounds the records one call reads, those turned down
 * included; a page then ends early (with fewer items than the limit, or
 * none) and its token resumes after the last record read, so the pages
 * together give exactly the matching records. */
static void test_list_scan_budget(void **state)
{
    struct store *st = open_memory(NULL);
    struct store_list_opts opts = {.match_labels = labels_vmi1, .max_scan = 4};
    static const char *const succeeded[] = {"Succeeded"};
    struct store_term not_done = {STORE_FIELD_PHASE, STORE_TERM_NOT_IN,
                                  succeeded, 1};
    struct store_page page = {0};
    char names[2048];
    int64_t rv = 0;
    int pages;
    (void)state;

    fill_migrations(st);
    /* Each call reads 4 of the 20 records: 5 pages. */
    labels_calls = 0;
    pages = list_all_pages(st, STORE_KIND_MIGRATION, NULL, &opts, names,
                           sizeof(names), &rv);
    assert_string_equal(names, "alpha/m1,alpha/m4,alpha/m7,zeta/m1,zeta/m4,"
                               "zeta/m7");
    assert_int_equal(pages, 5);
    assert_int_equal(labels_calls, 20);

    /* A page of nothing, and a token past the record it read. */
    opts.max_scan = 1;
    labels_calls = 0;
    assert_int_equal(store_list(st, STORE_KIND_MIGRATION, NULL, &opts, &page),
                     0);
    assert_int_equal(json_array_size(page.items), 0);
    assert_non_null(page.continue_token);
    assert_int_equal(labels_calls, 1);
    opts.continue_token = page.continue_token;
    opts.max_scan = 2;
    struct store_page next = {0};
    assert_int_equal(store_list(st, STORE_KIND_MIGRATION, NULL, &opts, &next),
                     0);
    assert_int_equal(json_array_size(next.items), 1);
    assert_string_equal(meta_str(json_array_get(next.items, 0), "name"), "m1");
    assert_int_equal(labels_calls, 3); /* m1, m2: not m0 again */
    store_page_release(&next);
    store_page_release(&page);
    opts.continue_token = NULL;

    /* With a limit: the look for one more match is bounded too. */
    opts.limit = 1;
    opts.max_scan = 3;
    pages = list_all_pages(st, STORE_KIND_MIGRATION, "alpha", &opts, names,
                           sizeof(names), &rv);
    assert_string_equal(names, "alpha/m1,alpha/m4,alpha/m7");
    assert_true(pages >= 4);

    /* Records the indexed conditions turn down count as well. */
    opts = (struct store_list_opts){
        .terms = &not_done, .n_terms = 1, .max_scan = 3};
    assert_int_equal(store_list(st, STORE_KIND_MIGRATION, NULL, &opts, &page),
                     0);
    assert_int_equal(json_array_size(page.items), 0); /* m0..m2 Succeeded */
    assert_non_null(page.continue_token);
    store_page_release(&page);
    list_all_pages(st, STORE_KIND_MIGRATION, NULL, &opts, names, sizeof(names),
                   &rv);
    assert_string_equal(names, "alpha/m4,alpha/m5,alpha/m6,alpha/m7,alpha/m8,"
                               "alpha/m9,zeta/m4,zeta/m5,zeta/m6,zeta/m7,"
                               "zeta/m8,zeta/m9");
    store_close(st);
}

/* Terms the kind has no column for, or malformed, are refused. */
static void test_list_terms_invalid(void **state)
{
    struct store *st = open_memory(NULL);
    static const char *const one[] = {"x"};
    static const char *const with_null[] = {"x", NULL};
    const struct store_term bad[] = {
        {STORE_FIELD_VMI_NAME, STORE_TERM_IN, one, 1},  /* on a VMI */
        {STORE_FIELD_NODE_NAME, STORE_TERM_IN, one, 1}, /* fine on a VMI */
        {STORE_FIELD_PHASE, STORE_TERM_IN, NULL, 0},    /* no values */
        {STORE_FIELD_PHASE, STORE_TERM_NOT_IN, with_null, 2},
        {STORE_FIELD_PHASE, (enum store_term_op)9, one, 1},
        {STORE_FIELD_COUNT, STORE_TERM_IN, one, 1},
    };
    struct store_page page = {0};
    (void)state;

    for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
        struct store_list_opts o = {.terms = &bad[i], .n_terms = 1};
        int r = store_list(st, STORE_KIND_VMI, NULL, &o, &page);
        assert_int_equal(r, i == 1 ? 0 : -EINVAL);
        store_page_release(&page);
    }
    /* Migrations keep two nodes, not status.nodeName. */
    struct store_list_opts o = {.terms = &bad[1], .n_terms = 1};
    assert_int_equal(store_list(st, STORE_KIND_MIGRATION, NULL, &o, &page),
                     -EINVAL);
    o.n_terms = STORE_MAX_TERMS + 1;
    assert_int_equal(store_list(st, STORE_KIND_VMI, NULL, &o, &page), -EINVAL);
    store_close(st);
}

static void test_migration_count_phases(void **state)
{
    struct store *st = open_memory(NULL);
    static const char *const phases[] = {"Running", "", "Succeeded", "Pending"};
    int64_t counts[4] = {-1, -1, -1, -1};
    json_t *obj;
    (void)state;

    fill_migrations(st);
    obj = make_migration("alpha", "unset", "vmi9", NULL, NULL, NULL);
    assert_int_equal(store_create(st, STORE_KIND_MIGRATION, obj), 0);
    json_decref(obj);
    assert_int_equal(store_migration_count_phases(st, phases, 4, counts), 0);
    assert_true(counts[0] == 12 && counts[1] == 1 && counts[2] == 8 &&
                counts[3] == 0);
    assert_int_equal(store_migration_count_phases(st, NULL, 1, counts),
                     -EINVAL);
    store_close(st);
}

static void test_migration_in_flight(void **state)
{
    struct store *st = open_memory(NULL);
    json_t *found = NULL;
    (void)state;

    fill_migrations(st);
    /* m4..m9 run in two namespaces, all from host-a. */
    assert_int_equal(store_migration_count_in_flight(st, NULL), 12);
    assert_int_equal(store_migration_count_in_flight(st, "host-a"), 12);
    assert_int_equal(store_migration_count_in_flight(st, "host-b"), 0);

    json_t *pending = make_migration("alpha", "new", "vmi-new", "", NULL, NULL);
    json_object_del(pending, "status"); /* phase not set yet: in flight */
    assert_int_equal(store_create(st, STORE_KIND_MIGRATION, pending), 0);
    assert_int_equal(store_migration_count_in_flight(st, NULL), 13);
    assert_int_equal(
        store_migration_find_in_flight(st, "alpha", "vmi-new", &found), 0);
    assert_string_equal(meta_str(found, "name"), "new");
    json_decref(found);
    assert_int_equal(
        store_migration_find_in_flight(st, "zeta", "vmi-new", NULL), -ENOENT);

    /* Once final, it no longer counts and no longer blocks. */
    json_object_set_new(pending, "status",
                        json_pack("{s:s,s:{s:s}}", "phase", "Failed",
                                  "migrationState", "sourceNode", "host-x"));
    assert_int_equal(store_update(st, STORE_KIND_MIGRATION, pending, 0), 0);
    assert_int_equal(store_migration_count_in_flight(st, NULL), 12);
    assert_int_equal(store_migration_count_in_flight(st, "host-x"), 0);
    assert_int_equal(
        store_migration_find_in_flight(st, "alpha", "vmi-new", NULL), -ENOENT);
    assert_int_equal(store_migration_find_in_flight(st, "alpha", "", NULL),
                     -EINVAL);
    json_decref(pending);
    store_close(st);
}

/*
 * Change feed and event log.
 */

static void test_change_feed(void **state)
{
    struct store_opts o = {.change_history = 8};
    struct store *st = open_memory(&o);
    json_t *events = NULL, *a, *b, *node;
    int64_t next = 0, start;
    (void)state;

    a = make_migration("ns1", "a", "vmi", NULL, NULL, NULL);
    b = make_migration("ns2", "b", "vmi", NULL, NULL, NULL);
    node = make_object(STORE_KIND_NODE, NULL, "host");
    assert_int_equal(store_create(st, STORE_KIND_MIGRATION, a), 0);
    assert_int_equal(store_create(st, STORE_KIND_NODE, node), 0);
    assert_int_equal(store_create(st, STORE_KIND_MIGRATION, b), 0);
    assert_int_equal(store_update(st, STORE_KIND_MIGRATION, a, 0), 0);
    assert_int_equal(
        store_delete(st, STORE_KIND_MIGRATION, "ns1", "a", 0, NULL), 0);

    assert_int_equal(store_changes_since(st, STORE_KIND_MIGRATION, NULL, 0, 0,
                                         &events, &next),
                     4);
    assert_true(next == 5);
    static const char *const types[] = {"ADDED", "ADDED", "MODIFIED",
                                        "DELETED"};
    static const char *const names[] = {"a", "b", "a", "a"};
    static const int rvs[] = {1, 3, 4, 5};
    for (int i = 0; i < 4; i++) {
        json_t *ev = json_array_get(events, i);
        json_t *obj = json_object_get(ev, "object");
        assert_string_equal(json_string_value(json_object_get(ev, "type")),
                            types[i]);
        assert_string_equal(meta_str(obj, "name"), names[i]);
        assert_true(meta_rv(obj) == rvs[i]);
    }
    json_decref(events);

    /* By namespace, with a limit, from a later version. */
    assert_int_equal(store_changes_since(st, STORE_KIND_MIGRATION, "ns1", 0, 2,
                                         &events, &next),
                     2);
    assert_true(next == 4);
    json_decref(events);
    assert_int_equal(store_changes_since(st, STORE_KIND_MIGRATION, "ns1", next,
                                         2, &events, &next),
                     1);
    assert_true(next == 5);
    json_decref(events);
    assert_int_equal(
        store_changes_since(st, STORE_KIND_NODE, NULL, 1, 0, &events, &next),
        1);
    json_decref(events);
    /* Nothing new, or a version from the future: empty, and no going back. */
    assert_int_equal(store_changes_since(st, STORE_KIND_MIGRATION, NULL, 5, 0,
                                         &events, &next),
                     0);
    assert_true(next == 5);
    json_decref(events);
    assert_int_equal(store_changes_since(st, STORE_KIND_MIGRATION, NULL, 50, 0,
                                         &events, &next),
                     0);
    assert_true(next == 50);
    json_decref(events);
    assert_int_equal(store_changes_since(st, STORE_KIND_MIGRATION, NULL, -1, 0,
                                         &events, &next),
                     -EINVAL);

    /* After many writes the oldest changes expire (history 8). */
    for (int i = 0; i < 30; i++)
        assert_int_equal(store_update(st, STORE_KIND_MIGRATION, b, 0), 0);
    start = current_rv(st);
    assert_true(start == 35);
    events = NULL;
    assert_int_equal(store_changes_since(st, STORE_KIND_MIGRATION, NULL, 0, 0,
                                         &events, &next),
                     -EKEYEXPIRED);
    assert_null(events);
    assert_int_equal(store_changes_since(st, STORE_KIND_MIGRATION, NULL,
                                         start - 8, 0, &events, &next),
                     8);
    assert_true(next == start);
    json_decref(events);

    json_decref(a);
    json_decref(b);
    json_decref(node);
    store_close(st);
}

/* Each event carries the object exactly as it was at that version, whether
 * the feed read it from the record (the record still at that version) or
 * kept it when the record moved on; inside a transaction too. */
static void check_feed(struct store *st, int64_t since, json_t *const *expect,
                       const char *const *types, int n)
{
    json_t *events = NULL;
    int64_t next = 0;

    assert_int_equal(store_changes_since(st, STORE_KIND_MIGRATION, NULL, since,
                                         0, &events, &next),
                     n);
    for (int i = 0; i < n; i++) {
        json_t *ev = json_array_get(events, (size_t)i);
        assert_string_equal(json_string_value(json_object_get(ev, "type")),
                            types[i]);
        assert_true(json_equal(json_object_get(ev, "object"), expect[i]));
    }
    assert_true(next == current_rv(st));
    json_decref(events);
}

static void test_change_feed_objects(void **state)
{
    struct store *st = open_memory(NULL);
    json_t *v[8] = {0}, *a, *b;
    static const char *const types[] = {"ADDED",    "MODIFIED", "ADDED",
                                        "MODIFIED", "DELETED",  "ADDED",
                                        "MODIFIED"};
    (void)state;

    a = make_migration("ns", "a", "vmi", "Pending", NULL, NULL);
    assert_int_equal(store_create(st, STORE_KIND_MIGRATION, a), 0);
    v[0] = json_deep_copy(a);
    /* Read while the record is still at its first version. */
    check_feed(st, 0, v, types, 1);

    json_object_set_new(json_object_get(a, "status"), "phase",
                        json_string("Running"));
    assert_int_equal(store_update(st, STORE_KIND_MIGRATION, a, 1), 0);
    v[1] = json_deep_copy(a);
    check_feed(st, 0, v, types, 2);

    b = make_migration("ns", "b", "vmi", NULL, NULL, NULL);
    assert_int_equal(store_create(st, STORE_KIND_MIGRATION, b), 0);
    v[2] = json_deep_copy(b);
    json_object_set_new(json_object_get(b, "spec"), "vmiName",
                        json_string("other"));
    assert_int_equal(store_update(st, STORE_KIND_MIGRATION, b, 3), 0);
    v[3] = json_deep_copy(b);
    assert_int_equal(
        store_delete(st, STORE_KIND_MIGRATION, "ns", "b", 4, &v[4]), 0);
    assert_true(meta_rv(v[4]) == 5);
    check_feed(st, 0, v, types, 5);
    check_feed(st, 2, v + 2, types + 2, 3);

    /* A name used again: the old record's changes keep its objects. */
    json_decref(b);
    b = make_migration("ns", "b", "vmi-again", NULL, NULL, NULL);
    assert_int_equal(store_txn_begin(st), 0);
    assert_int_equal(store_create(st, STORE_KIND_MIGRATION, b), 0);
    v[5] = json_deep_copy(b);
    json_object_set_new(json_object_get(a, "status"), "phase",
                        json_string("Succeeded"));
    assert_int_equal(store_update(st, STORE_KIND_MIGRATION, a, 2), 0);
    v[6] = json_deep_copy(a);
    /* Inside the transaction: its own writes, and its counted version. */
    assert_true(current_rv(st) == 7);
    check_feed(st, 0, v, types, 7);
    assert_int_equal(store_txn_commit(st), 0);
    check_feed(st, 0, v, types, 7);
    check_feed(st, 6, v + 6, types + 6, 1);

    for (int i = 0; i < 8; i++)
        json_decref(v[i]);
    json_decref(a);
    json_decref(b);
    store_close(st);
}

static void test_event_log(void **state)
{
    struct store_opts o = {.event_history = 4};
    struct store *st = open_memory(&o);
    struct store_event ev = {
        .time = 1700000000,
        .kind = STORE_KIND_MIGRATION,
        .ns = "default",
        .name = "job",
        .uid = "u-1",
        .type = "Normal",
        .reason = "Migrating",
        .message = "migration started",
    };
    struct store_event_filter f = {
        .kind = STORE_KIND_MIGRATION, .ns = "default", .name = "job"};
    json_t *list = NULL, *e;
    int64_t id = 0;
    (void)state;

    assert_int_equal(store_event_append(st, &ev, &id), 0);
    assert_true(id == 1);
    ev.name = "other";
    ev.type = "Warning";
    ev.reason = "MigrationFailed";
    ev.message = NULL;
    assert_int_equal(store_event_append(st, &ev, &id), 0);
    assert_true(id == 2);
    assert_true(current_rv(st) == 0); /* events are not records */

    assert_int_equal(store_event_list(st, &f, &list), 1);
    e = json_array_get(list, 0);
    assert_string_equal(json_string_value(json_object_get(e, "kind")), "Event");
    assert_string_equal(json_string_value(json_object_get(e, "reason")),
                        "Migrating");
    assert_string_equal(json_string_value(json_object_get(e, "message")),
                        "migration started");
    assert_string_equal(json_string_value(json_object_get(e, "type")),
                        "Normal");
    assert_string_equal(json_string_value(json_object_get(e, "lastTimestamp")),
                        "2023-11-14T22:13:20Z");
    json_t *inv = json_object_get(e, "involvedObject");
    assert_string_equal(json_string_value(json_object_get(inv, "kind")),
                        "VirtualMachineInstanceMigration");
    assert_string_equal(json_string_value(json_object_get(inv, "uid")), "u-1");
    assert_string_equal(meta_str(e, "name"), "job.1");
    json_decref(list);

    assert_int_equal(store_event_list(st, NULL, &list), 2);
    assert_string_equal(
        json_string_value(json_object_get(json_array_get(list, 1), "message")),
        "");
    json_decref(list);
    struct store_event_filter after = {.kind = -1, .after_id = 1};
    assert_int_equal(store_event_list(st, &after, &list), 1);
    json_decref(list);

    /* Bad events and filters. */
    ev.type = "Info";
    assert_int_equal(store_event_append(st, &ev, NULL), -EINVAL);
    ev.type = "Normal";
    ev.reason = "";
    assert_int_equal(store_event_append(st, &ev, NULL), -EINVAL);
    struct store_event_filter bad = {.kind = -1, .name = "job"};
    assert_int_equal(store_event_list(st, &bad, &list), -EINVAL);

    /* The log is bounded: with 4 kept, 20 appends leave between 4 and 8. */
    ev.reason = "Again";
    for (int i = 0; i < 20; i++)
        assert_int_equal(store_event_append(st, &ev, &id), 0);
    int n = store_event_list(st, NULL, &list);
    assert_true(n >= 4 && n <= 8);
    assert_int_equal(json_integer_value(json_object_get(
                         json_array_get(list, (size_t)n - 1), "id")),
                     22);
    json_decref(list);
    store_close(st);
}

/*
 * Transactions.
 */

static void test_transactions(void **state)
{
    struct store *st = open_memory(NULL);
    json_t *a = make_migration("default", "a", "vmi", NULL, NULL, NULL);
    json_t *b = make_migration("default", "b", "vmi", NULL, NULL, NULL);
    json_t *dup = make_migration("default", "a", "vmi", NULL, NULL, NULL);
    json_t *got = NULL;
    (void)state;

    assert_int_equal(store_txn_commit(st), -EINVAL);
    assert_int_equal(store_txn_rollback(st), 0);

    /* Rolled back: nothing stays, the resourceVersion neither. */
    assert_int_equal(store_txn_begin(st), 0);
    assert_int_equal(store_txn_begin(st), -EINVAL);
    assert_int_equal(store_create(st, STORE_KIND_MIGRATION, a), 0);
    assert_int_equal(store_get(st, STORE_KIND_MIGRATION, "default", "a", &got),
                     0);
    json_decref(got);
    assert_int_equal(store_txn_rollback(st), 0);
    assert_int_equal(store_get(st, STORE_KIND_MIGRATION, "default", "a", &got),
                     -ENOENT);
    assert_true(current_rv(st) == 0);

    /* A failed write inside a transaction undoes only itself. */
    json_object_del(json_object_get(a, "metadata"), "uid");
    json_object_del(json_object_get(a, "metadata"), "resourceVersion");
    assert_int_equal(store_txn_begin(st), 0);
    assert_int_equal(store_create(st, STORE_KIND_MIGRATION, a), 0);
    assert_int_equal(store_create(st, STORE_KIND_MIGRATION, dup), -EEXIST);
    assert_int_equal(store_create(st, STORE_KIND_MIGRATION, b), 0);
    assert_int_equal(store_txn_commit(st), 0);
    assert_int_equal(store_get(st, STORE_KIND_MIGRATION, "default", "b", &got),
                     0);
    json_decref(got);
    assert_true(current_rv(st) == 2);
    assert_int_equal(store_changes_since(st, STORE_KIND_MIGRATION, NULL, 0, 0,
                                         &got, &(int64_t){0}),
                     2);
    json_decref(got);

    json_decref(a);
    json_decref(b);
    json_decref(dup);
    store_close(st);
}

/*
 * Files: durability settings, schema versions, locking.
 */

/* A write that fails after it changed something cannot be undone alone (no
 * savepoints): the whole transaction is rolled back and says so until it
 * ends.  The failure is made by a change already holding the resourceVersion
 * the third create takes, put there behind the store's back. */
static void test_transaction_aborted(void **state)
{
    struct tmpdir t;
    char path[300], err[256];
    struct store *st = NULL;
    json_t *objs[4], *got = NULL;
    static const char *const names[] = {"a", "b", "c", "d"};
    sqlite3 *db;
    (void)state;

    tmpdir_make(&t);
    tmpdir_file(&t, "abort.db", path, sizeof(path));
    assert_int_equal(store_open(path, NULL, &st, err, sizeof(err)), 0);
    db = raw_open(path);
    raw_exec(db, "INSERT INTO changes (rv, kind, namespace, name, type)"
                 " VALUES (3, 'Node', '', 'intruder', 'ADDED')");
    for (int i = 0; i < 4; i++)
        objs[i] = make_migration("default", names[i], "vmi", NULL, NULL, NULL);

    assert_int_equal(store_txn_begin(st), 0);
    assert_int_equal(store_create(st, STORE_KIND_MIGRATION, objs[0]), 0);
    assert_int_equal(store_create(st, STORE_KIND_MIGRATION, objs[1]), 0);
    assert_int_equal(store_create(st, STORE_KIND_MIGRATION, objs[2]), -EIO);
    /* The caller's object is as it was. */
    assert_null(meta_str(objs[2], "resourceVersion"));
    assert_int_equal(store_create(st, STORE_KIND_MIGRATION, objs[3]), -EIO);
    assert_int_equal(store_get(st, STORE_KIND_MIGRATION, "default", "a", &got),
                     -EIO);
    assert_int_equal(store_resource_version(st, &(int64_t){0}), -EIO);
    assert_int_equal(store_txn_commit(st), -EIO);

    /* Nothing of it stayed, and the handle works again. */
    assert_true(current_rv(st) == 0);
    assert_int_equal(raw_int(db, "SELECT count(*) FROM migrations"), 0);
    assert_int_equal(store_get(st, STORE_KIND_MIGRATION, "default", "a", &got),
                     -ENOENT);
    raw_exec(db, "DELETE FROM changes");
    assert_int_equal(store_txn_begin(st), 0);
    assert_int_equal(store_create(st, STORE_KIND_MIGRATION, objs[3]), 0);
    assert_int_equal(store_txn_commit(st), 0);
    assert_true(current_rv(st) == 1);

    /* Outside a transaction the failed write alone is undone. */
    raw_exec(db, "INSERT INTO changes (rv, kind, namespace, name, type)"
                 " VALUES (2, 'Node', '', 'intruder', 'ADDED')");
    json_object_del(json_object_get(objs[0], "metadata"), "uid");
    assert_int_equal(store_create(st, STORE_KIND_MIGRATION, objs[0]), -EIO);
    assert_true(current_rv(st) == 1);
    assert_int_equal(raw_int(db, "SELECT count(*) FROM migrations"), 1);

    sqlite3_close(db);
    for (int i = 0; i < 4; i++)
        json_decref(objs[i]);
    store_close(st);
    tmpdir_remove(&t);
}

static void test_file_wal_and_reopen(void **state)
{
    struct tmpdir t;
    char path[300], wal[310], err[256];
    struct store *st = NULL;
    struct stat sb;
    json_t *obj, *got = NULL;
    (void)state;

    tmpdir_make(&t);
    tmpdir_file(&t, "orch.db", path, sizeof(path));
    assert_int_equal(store_open(path, NULL, &st, err, sizeof(err)), 0);
    obj = make_migration("default", "job", "vmi", "Running", "a", "b");
    assert_int_equal(store_create(st, STORE_KIND_MIGRATION, obj), 0);

    snprintf(wal, sizeof(wal), "%s-wal", path);
    assert_int_equal(stat(wal, &sb), 0);
    sqlite3 *db = raw_open(path);
    sqlite3_stmt *stmt = NULL;
    assert_int_equal(
        sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &stmt, NULL),
        SQLITE_OK);
    assert_int_equal(sqlite3_step(stmt), SQLITE_ROW);
    assert_string_equal((const char *)sqlite3_column_text(stmt, 0), "wal");
    sqlite3_finalize(stmt);
    assert_int_equal(raw_int(db, "PRAGMA user_version"), 5);
    sqlite3_close(db);
    store_close(st);

    /* Reopened (FULL this time): the record and the counter persist. */
    struct store_opts full = {.sync = STORE_SYNC_FULL};
    st = NULL;
    assert_int_equal(store_open(path, &full, &st, err, sizeof(err)), 0);
    assert_true(current_rv(st) == 1);
    assert_int_equal(
        store_get(st, STORE_KIND_MIGRATION, "default", "job", &got), 0);
    assert_true(json_equal(got, obj));
    json_decref(got);
    store_close(st);
    store_close(NULL);

    /* Bad options are refused with a message. */
    struct store_opts bad = {.sync = 9};
    assert_int_equal(store_open(path, &bad, &st, err, sizeof(err)), -EINVAL);
    assert_string_equal(err, "invalid store options");
    json_decref(obj);
    tmpdir_remove(&t);
}

/* The version 1 schema as released, written out independently of
 * store/schema.c so that the test notices if a released step is edited. */
static const char v1_sql[] =
    "PRAGMA application_id = 1330791240;"
    "CREATE TABLE meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);"
    "INSERT INTO meta (key, value) VALUES ('resource_version', 0);"
    "CREATE TABLE nodes (id INTEGER PRIMARY KEY, namespace TEXT NOT NULL,"
    " name TEXT NOT NULL, uid TEXT NOT NULL UNIQUE,"
    " resource_version INTEGER NOT NULL, creation TEXT NOT NULL,"
    " labels TEXT NOT NULL, object TEXT NOT NULL,"
    " ready INTEGER NOT NULL DEFAULT 0,"
    " schedulable INTEGER NOT NULL DEFAULT 1, UNIQUE (namespace, name));"
    "CREATE TABLE vms (id INTEGER PRIMARY KEY, namespace TEXT NOT NULL,"
    " name TEXT NOT NULL, uid TEXT NOT NULL UNIQUE,"
    " resource_version INTEGER NOT NULL, creation TEXT NOT NULL,"
    " labels TEXT NOT NULL, object TEXT NOT NULL,"
    " running INTEGER NOT NULL DEFAULT 0, ready INTEGER NOT NULL DEFAULT 0,"
    " printable_status TEXT NOT NULL DEFAULT '', UNIQUE (namespace, name));"
    "CREATE TABLE vmis (id INTEGER PRIMARY KEY, namespace TEXT NOT NULL,"
    " name TEXT NOT NULL, uid TEXT NOT NULL UNIQUE,"
    " resource_version INTEGER NOT NULL, creation TEXT NOT NULL,"
    " labels TEXT NOT NULL, object TEXT NOT NULL,"
    " phase TEXT NOT NULL DEFAULT '', node_name TEXT NOT NULL DEFAULT '',"
    " UNIQUE (namespace, name));"
    "CREATE TABLE migrations (id INTEGER PRIMARY KEY,"
    " namespace TEXT NOT NULL, name TEXT NOT NULL, uid TEXT NOT NULL UNIQUE,"
    " resource_version INTEGER NOT NULL, creation TEXT NOT NULL,"
    " labels TEXT NOT NULL, object TEXT NOT NULL,"
    " phase TEXT NOT NULL DEFAULT '', vmi_name TEXT NOT NULL DEFAULT '',"
    " source_node TEXT NOT NULL DEFAULT '', UNIQUE (namespace, name));"
    "CREATE TABLE migration_policies (id INTEGER PRIMARY KEY,"
    " namespace TEXT NOT NULL, name TEXT NOT NULL, uid TEXT NOT NULL UNIQUE,"
    " resource_version INTEGER NOT NULL, creation TEXT NOT NULL,"
    " labels TEXT NOT NULL, object TEXT NOT NULL, UNIQUE (namespace, name));"
    "CREATE TABLE events (id INTEGER PRIMARY KEY, time INTEGER NOT NULL,"
    " kind TEXT NOT NULL, namespace TEXT NOT NULL, name TEXT NOT NULL,"
    " uid TEXT NOT NULL DEFAULT '', type TEXT NOT NULL,"
    " reason TEXT NOT NULL, message TEXT NOT NULL DEFAULT '');"
    "PRAGMA user_version = 1;";

/* Two records and an event as a version 1 program wrote them. */
static const char v1_data[] =
    "INSERT INTO migrations (namespace, name, uid, resource_version,"
    " creation, labels, object, phase, vmi_name, source_node) VALUES"
    " ('default', 'old-job', 'uid-old', 6, '2024-01-01T00:00:00Z', '{}',"
    " '{\"apiVersion\":\"kubevirt.io/v1\","
    "\"kind\":\"VirtualMachineInstanceMigration\","
    "\"metadata\":{\"name\":\"old-job\",\"namespace\":\"default\","
    "\"uid\":\"uid-old\",\"resourceVersion\":\"6\",\"generation\":1,"
    "\"creationTimestamp\":\"2024-01-01T00:00:00Z\"},"
    "\"spec\":{\"vmiName\":\"vmi-fedora\"},"
    "\"status\":{\"phase\":\"Running\",\"migrationState\":"
    "{\"sourceNode\":\"host-a\",\"targetNode\":\"host-b\"}}}',"
    " 'Running', 'vmi-fedora', 'host-a');"
    "INSERT INTO nodes (namespace, name, uid, resource_version, creation,"
    " labels, object, ready) VALUES ('', 'host-a', 'uid-node', 7,"
    " '2024-01-01T00:00:00Z', '{}', '{\"metadata\":{\"name\":\"host-a\","
    "\"uid\":\"uid-node\",\"resourceVersion\":\"7\"}}', 1);"
    "UPDATE meta SET value = 7 WHERE key = 'resource_version';"
    "INSERT INTO events (time, kind, namespace, name, type, reason)"
    " VALUES (1700000000, 'VirtualMachineInstanceMigration', 'default',"
    " 'old-job', 'Normal', 'Migrating');";

/* The schema of a new file made by store_open() in T. */
static char *fresh_schema(struct tmpdir *t)
{
    char path[300], err[256];
    struct store *st = NULL;
    sqlite3 *db;
    char *schema;

    tmpdir_file(t, "fresh.db", path, sizeof(path));
    assert_int_equal(store_open(path, NULL, &st, err, sizeof(err)), 0);
    db = raw_open(path);
    schema = raw_schema(db);
    sqlite3_close(db);
    store_close(st);
    return schema;
}

static long file_size(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0 ? (long)sb.st_size : -1;
}

/* New files get 8 KiB pages; the checkpointer thread copies the WAL into
 * the database file when asked, and stops cleanly. */
static void test_page_size_and_checkpointer(void **state)
{
    struct tmpdir t;
    char path[300], err[256];
    struct store *st = NULL;
    struct store_ckpt *ckpt = NULL;
    sqlite3 *db;
    long before;
    (void)state;

    tmpdir_make(&t);
    tmpdir_file(&t, "pages.db", path, sizeof(path));
    assert_int_equal(store_open(path, NULL, &st, err, sizeof(err)), 0);
    db = raw_open(path);
    assert_int_equal(raw_int(db, "PRAGMA page_size"), 8192);
    sqlite3_close(db);
    store_close(st);

    /* A WAL full of pages nobody checkpoints... */
    tmpdir_file(&t, "ckpt.db", path, sizeof(path));
    db = raw_open(path);
    raw_exec(db, "PRAGMA journal_mode = WAL; PRAGMA wal_autocheckpoint = 0;"
                 "CREATE TABLE t (x BLOB);"
                 "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1"
                 " FROM n WHERE i < 200)"
                 " INSERT INTO t SELECT randomblob(4000) FROM n;");
    before = file_size(path);
    assert_true(before >= 0 && before < 100000);
    /* ...goes into the database file once the thread is asked. */
    assert_int_equal(store_ckpt_start(path, &ckpt), 0);
    store_ckpt_request(ckpt);
    for (int i = 0; i < 500 && file_size(path) < 800000; i++)
        usleep(10000);
    assert_true(file_size(path) >= 800000);
    store_ckpt_stop(ckpt);
    store_ckpt_stop(NULL);
    sqlite3_close(db);

    /* A file that is not there: no thread. */
    tmpdir_file(&t, "absent.db", path, sizeof(path));
    ckpt = NULL;
    assert_true(store_ckpt_start(path, &ckpt) < 0);
    assert_null(ckpt);
    tmpdir_remove(&t);
}

/* A process that forks while it has a store open (with its checkpointer
 * thread, and here a transaction under way): the child, which must not use
 * the parent's handle, can still close it, without hanging (the thread does
 * not exist in the child, and its mutex and condition variable are in
 * whatever state the fork caught them) and without touching the database,
 * whose WAL index the parent shares. */
static void test_fork_child_close(void **state)
{
    struct tmpdir t;
    char path[300], wal[310], err[256];
    struct store *st = NULL;
    struct store_page page = {0};
    json_t *obj;
    int status = 0;
    pid_t pid;
    (void)state;

    tmpdir_make(&t);
    tmpdir_file(&t, "fork.db", path, sizeof(path));
    snprintf(wal, sizeof(wal), "%s-wal", path);
    assert_int_equal(store_open(path, NULL, &st, err, sizeof(err)), 0);
    for (int i = 0; i < 50; i++) {
        char name[32];
        snprintf(name, sizeof(name), "m%02d", i);
        obj = make_migration("default", name, "vmi", NULL, NULL, NULL);
        assert_int_equal(store_create(st, STORE_KIND_MIGRATION, obj), 0);
        json_decref(obj);
    }
    assert_int_equal(store_txn_begin(st), 0);
    obj = make_migration("default", "in-txn", "vmi", NULL, NULL, NULL);
    assert_int_equal(store_create(st, STORE_KIND_MIGRATION, obj), 0);
    json_decref(obj);

    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        alarm(5); /* a hang shows as SIGALRM */
        store_close(st);
        _exit(0);
    }
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);

    /* The parent goes on: its transaction, its WAL are as they were. */
    assert_int_equal(access(wal, F_OK), 0);
    obj = make_migration("default", "in-txn-2", "vmi", NULL, NULL, NULL);
    assert_int_equal(store_create(st, STORE_KIND_MIGRATION, obj), 0);
    json_decref(obj);
    assert_int_equal(store_txn_commit(st), 0);
    store_close(st);
    st = NULL;
    assert_int_equal(store_open(path, NULL, &st, err, sizeof(err)), 0);
    assert_int_equal(store_list(st, STORE_KIND_MIGRATION, NULL, NULL, &page),
                     0);
    assert_int_equal(json_array_size(page.items), 52);
    store_page_release(&page);
    assert_true(current_rv(st) == 52);
    store_close(st);
    tmpdir_remove(&t);
}

static void test_schema_upgrade_from_v1(void **state)
{
    struct tmpdir t;
    char path[300], err[256];
    struct store *st = NULL;
    struct store_list_opts opts = {.node_name = "host-b"};
    struct store_page page = {0};
    json_t *got = NULL, *events = NULL;
    int64_t next = 0;
    (void)state;

    tmpdir_make(&t);
    tmpdir_file(&t, "v1.db", path, sizeof(path));
    sqlite3 *db = raw_open(path);
    raw_exec(db, v1_sql);
    raw_exec(db, v1_data);
    sqlite3_close(db);

    assert_int_equal(store_open(path, NULL, &st, err, sizeof(err)), 0);
    db = raw_open(path);
    assert_int_equal(raw_int(db, "PRAGMA user_version"), 5);
    assert_int_equal(raw_int(db, "SELECT count(*) FROM migrations WHERE"
                                 " target_node = 'host-b'"),
                     1);
    /* Every step taken, the file's schema is a new file's. */
    char *upgraded = raw_schema(db), *fresh = fresh_schema(&t);
    assert_string_equal(upgraded, fresh);
    free(upgraded);
    free(fresh);
    sqlite3_close(db);

    /* The old records read as before... */
    assert_int_equal(
        store_get(st, STORE_KIND_MIGRATION, "default", "old-job", &got), 0);
    assert_string_equal(meta_str(got, "uid"), "uid-old");
    json_decref(got);
    assert_int_equal(store_get(st, STORE_KIND_NODE, NULL, "host-a", &got), 0);
    json_decref(got);
    assert_int_equal(store_event_list(st, NULL, &events), 1);
    json_decref(events);
    /* ...the target node, new in v2, was filled in from the objects... */
    assert_int_equal(store_list(st, STORE_KIND_MIGRATION, NULL, &opts, &page),
                     0);
    assert_int_equal(json_array_size(page.items), 1);
    store_page_release(&page);
    assert_int_equal(store_migration_count_in_flight(st, "host-a"), 1);
    assert_int_equal(
        store_migration_find_in_flight(st, "default", "vmi-fedora", NULL), 0);
    /* ...the change feed starts at the upgrade, and the counter goes on. */
    assert_int_equal(store_changes_since(st, STORE_KIND_MIGRATION, NULL, 6, 0,
                                         &events, &next),
                     -EKEYEXPIRED);
    assert_int_equal(store_changes_since(st, STORE_KIND_MIGRATION, NULL, 7, 0,
                                         &events, &next),
                     0);
    json_decref(events);
    json_t *obj = make_migration("default", "new-job", "vmi", NULL, NULL, NULL);
    assert_int_equal(store_create(st, STORE_KIND_MIGRATION, obj), 0);
    assert_true(meta_rv(obj) == 8);
    json_decref(obj);
    store_close(st);

    /* Opening again is a no-op upgrade. */
    st = NULL;
    assert_int_equal(store_open(path, NULL, &st, err, sizeof(err)), 0);
    assert_true(current_rv(st) == 8);
    store_close(st);
    tmpdir_remove(&t);
}

/* Version 2's additions, as a version 2 program made them. */
static const char v2_sql[] =
    "CREATE TABLE changes (rv INTEGER PRIMARY KEY, kind TEXT NOT NULL,"
    " namespace TEXT NOT NULL, name TEXT NOT NULL, type TEXT NOT NULL,"
    " object TEXT NOT NULL);"
    "INSERT INTO meta (key, value) VALUES ('changes_floor', 0);"
    "ALTER TABLE migrations ADD COLUMN target_node TEXT NOT NULL"
    " DEFAULT '';"
    "CREATE INDEX migrations_vmi ON migrations (namespace, vmi_name);"
    "CREATE INDEX migrations_in_flight_source ON migrations (source_node)"
    " WHERE phase NOT IN ('Succeeded', 'Failed');"
    "CREATE INDEX migrations_in_flight_vmi ON migrations"
    " (namespace, vmi_name) WHERE phase NOT IN ('Succeeded', 'Failed');"
    "CREATE INDEX vmis_node ON vmis (node_name);"
    "CREATE INDEX events_object ON events (kind, namespace, name, id);"
    "PRAGMA user_version = 2;";

/* A version 2 feed copied every object: old-job's ADDED change (rv 6) holds
 * it, as does a DELETED one (rv 7) of a record gone since. */
static const char v2_data[] =
    "INSERT INTO changes (rv, kind, namespace, name, type, object)"
    " SELECT 6, 'VirtualMachineInstanceMigration', 'default', 'old-job',"
    " 'ADDED', object FROM migrations WHERE name = 'old-job';"
    "INSERT INTO changes (rv, kind, namespace, name, type, object) VALUES"
    " (7, 'VirtualMachineInstanceMigration', 'default', 'gone', 'DELETED',"
    " '{\"metadata\":{\"name\":\"gone\",\"namespace\":\"default\","
    "\"resourceVersion\":\"7\"}}');"
    "DELETE FROM nodes;";

static void test_schema_upgrade_from_v2(void **state)
{
    struct tmpdir t;
    char path[300], err[256];
    struct store *st = NULL;
    json_t *events = NULL, *got = NULL, *obj;
    int64_t next = 0;
    (void)state;

    tmpdir_make(&t);
    tmpdir_file(&t, "v2.db", path, sizeof(path));
    sqlite3 *db = raw_open(path);
    raw_exec(db, v1_sql);
    raw_exec(db, v1_data);
    raw_exec(db, v2_sql);
    raw_exec(db, v2_data);
    sqlite3_close(db);

    assert_int_equal(store_open(path, NULL, &st, err, sizeof(err)), 0);
    db = raw_open(path);
    assert_int_equal(raw_int(db, "PRAGMA user_version"), 5);
    /* changes.object may now be NULL; the rows and indexes are kept. */
    assert_int_equal(raw_int(db, "SELECT \"notnull\" FROM"
                                 " pragma_table_info('changes')"
                                 " WHERE name = 'object'"),
                     0);
    assert_int_equal(raw_int(db, "SELECT count(*) FROM changes"
                                 " WHERE object IS NOT NULL"),
                     2);
    assert_int_equal(raw_int(db, "SELECT count(*) FROM sqlite_master"
                                 " WHERE name = 'migrations_in_flight_vmi'"),
                     1);

    /* The old changes read as before. */
    assert_int_equal(store_changes_since(st, STORE_KIND_MIGRATION, NULL, 0, 0,
                                         &events, &next),
                     2);
    assert_true(next == 7);
    assert_string_equal(
        meta_str(json_object_get(json_array_get(events, 0), "object"), "uid"),
        "uid-old");
    assert_string_equal(
        meta_str(json_object_get(json_array_get(events, 1), "object"), "name"),
        "gone");
    json_decref(events);

    /* New changes leave the object to the record until it moves on. */
    obj = make_migration("default", "new-job", "vmi", NULL, NULL, NULL);
    assert_int_equal(store_create(st, STORE_KIND_MIGRATION, obj), 0);
    assert_true(meta_rv(obj) == 8);
    assert_int_equal(
        raw_int(db, "SELECT object IS NULL FROM changes WHERE rv = 8"), 1);
    assert_int_equal(
        store_get(st, STORE_KIND_MIGRATION, "default", "old-job", &got), 0);
    assert_int_equal(store_update(st, STORE_KIND_MIGRATION, got, 6), 0);
    assert_int_equal(store_update(st, STORE_KIND_MIGRATION, obj, 8), 0);
    assert_int_equal(
        raw_int(db, "SELECT object IS NULL FROM changes WHERE rv = 8"), 0);
    assert_int_equal(
        raw_int(db, "SELECT object IS NULL FROM changes WHERE rv = 10"), 1);
    assert_int_equal(store_changes_since(st, STORE_KIND_MIGRATION, NULL, 7, 0,
                                         &events, &next),
                     3);
    assert_true(next == 10);
    assert_true(meta_rv(json_object_get(json_array_get(events, 0), "object")) ==
                8);
    assert_true(
        json_equal(json_object_get(json_array_get(events, 2), "object"), obj));
    json_decref(events);
    sqlite3_close(db);
    json_decref(got);
    json_decref(obj);
    store_close(st);
    tmpdir_remove(&t);
}

/* Version 3's change, as a version 3 program made it. */
static const char v3_sql[] =
    "CREATE TABLE changes_v3 (rv INTEGER PRIMARY KEY, kind TEXT NOT NULL,"
    " namespace TEXT NOT NULL, name TEXT NOT NULL, type TEXT NOT NULL,"
    " object TEXT);"
    "INSERT INTO changes_v3 (rv, kind, namespace, name, type, object)"
    " SELECT rv, kind, namespace, name, type, object FROM changes;"
    "DROP TABLE changes;"
    "ALTER TABLE changes_v3 RENAME TO changes;"
    "PRAGMA user_version = 3;";

/* On top of the v2 data: a record of every other kind (a VMI on host-b, in
 * vmis_node), a change as version 3 writes it (object NULL: the record's),
 * and a gap in the migrations' ids, which the upgrade must keep. */
static const char v3_data[] =
    "INSERT INTO nodes (namespace, name, uid, resource_version, creation,"
    " labels, object, ready, schedulable) VALUES ('', 'host-b', 'uid-b', 8,"
    " '2024-01-02T00:00:00Z', '{}', '{\"metadata\":{\"name\":\"host-b\","
    "\"uid\":\"uid-b\",\"resourceVersion\":\"8\"}}', 1, 0);"
    "INSERT INTO vms (namespace, name, uid, resource_version, creation,"
    " labels, object, running, ready, printable_status) VALUES ('default',"
    " 'vm-a', 'uid-vm', 9, '2024-01-02T00:00:00Z', '{}', '{\"metadata\":"
    "{\"name\":\"vm-a\",\"namespace\":\"default\",\"uid\":\"uid-vm\","
    "\"resourceVersion\":\"9\"}}', 1, 1, 'Running');"
    "INSERT INTO vmis (namespace, name, uid, resource_version, creation,"
    " labels, object, phase, node_name) VALUES ('default', 'vm-a',"
    " 'uid-vmi', 10, '2024-01-02T00:00:00Z', '{}', '{\"metadata\":"
    "{\"name\":\"vm-a\",\"namespace\":\"default\",\"uid\":\"uid-vmi\","
    "\"resourceVersion\":\"10\"}}', 'Running', 'host-b');"
    "INSERT INTO migration_policies (namespace, name, uid, resource_version,"
    " creation, labels, object) VALUES ('', 'policy', 'uid-policy', 11,"
    " '2024-01-02T00:00:00Z', '{\"tier\":\"gold\"}', '{\"metadata\":"
    "{\"name\":\"policy\",\"uid\":\"uid-policy\","
    "\"resourceVersion\":\"11\"}}');"
    "INSERT INTO migrations (id, namespace, name, uid, resource_version,"
    " creation, labels, object, phase, vmi_name, source_node, target_node)"
    " VALUES (40, 'default', 'done-job', 'uid-done', 12,"
    " '2024-01-02T00:00:00Z', '{}', '{\"metadata\":{\"name\":\"done-job\","
    "\"namespace\":\"default\",\"uid\":\"uid-done\","
    "\"resourceVersion\":\"12\"},\"spec\":{\"vmiName\":\"vm-a\"},"
    "\"status\":{\"phase\":\"Succeeded\"}}', 'Succeeded', 'vm-a', 'host-b',"
    " 'host-a');"
    "INSERT INTO changes (rv, kind, namespace, name, type, object) VALUES"
    " (12, 'VirtualMachineInstanceMigration', 'default', 'done-job', 'ADDED',"
    " NULL);"
    "UPDATE migrations SET target_node = 'host-b' WHERE name = 'old-job';"
    "UPDATE meta SET value = 12 WHERE key = 'resource_version';";

/* The tables that hold records, and the unique indexes each has. */
static const char count_unique_sql[] =
    "SELECT count(*) FROM pragma_index_list('%s') WHERE \"unique\"";
static const char *const record_tables[] = {"nodes", "vms", "vmis",
                                            "migrations", "migration_policies"};

static int raw_unique_indexes(sqlite3 *db, const char *table)
{
    char sql[128];
    snprintf(sql, sizeof(sql), count_unique_sql, table);
    return raw_int(db, sql);
}

static void make_v3_file(const char *path)
{
    sqlite3 *db = raw_open(path);
    raw_exec(db, v1_sql);
    raw_exec(db, v1_data);
    raw_exec(db, v2_sql);
    raw_exec(db, v2_data);
    raw_exec(db, v3_sql);
    raw_exec(db, v3_data);
    sqlite3_close(db);
}

/* Version 4 drops the UNIQUE on uid by copying each kind's table: the
 * records (with their ids), the indexes, the change feed come through, and
 * the file ends up with a new file's schema. */
static void test_schema_upgrade_from_v3(void **state)
{
    struct tmpdir t;
    char path[300], err[256];
    struct store *st = NULL;
    struct store_list_opts on_b = {.node_name = "host-b"};
    struct store_page page = {0};
    json_t *events = NULL, *got = NULL, *obj;
    int64_t next = 0;
    sqlite3 *db;
    (void)state;

    tmpdir_make(&t);
    tmpdir_file(&t, "v3.db", path, sizeof(path));
    make_v3_file(path);
    db = raw_open(path);
    for (size_t i = 0; i < sizeof(record_tables) / sizeof(*record_tables); i++)
        assert_int_equal(raw_unique_indexes(db, record_tables[i]), 2);
    char *v3_indexes = raw_text(db, index_sql);
    sqlite3_close(db);

    assert_int_equal(store_open(path, NULL, &st, err, sizeof(err)), 0);
    db = raw_open(path);
    assert_int_equal(raw_int(db, "PRAGMA user_version"), 5);
    /* Only (namespace, name) is unique now, in every kind's table. */
    for (size_t i = 0; i < sizeof(record_tables) / sizeof(*record_tables); i++)
        assert_int_equal(raw_unique_indexes(db, record_tables[i]), 1);
    assert_int_equal(raw_int(db, "SELECT count(*) FROM"
                                 " pragma_index_info((SELECT name FROM"
                                 " pragma_index_list('nodes') WHERE"
                                 " \"unique\")) WHERE name IN"
                                 " ('namespace', 'name')"),
                     2);
    /* The rows, ids and all, and the columns' values. */
    assert_int_equal(raw_int(db, "SELECT id FROM migrations"
                                 " WHERE name = 'done-job'"),
                     40);
    assert_int_equal(raw_int(db, "SELECT count(*) FROM migrations WHERE"
                                 " target_node = 'host-b'"
                                 " AND source_node = 'host-a'"
                                 " AND vmi_name = 'vmi-fedora'"
                                 " AND phase = 'Running'"),
                     1);
    assert_int_equal(raw_int(db, "SELECT count(*) FROM nodes WHERE"
                                 " name = 'host-b' AND ready = 1"
                                 " AND schedulable = 0"),
                     1);
    assert_int_equal(raw_int(db, "SELECT count(*) FROM vms WHERE"
                                 " running = 1 AND ready = 1"
                                 " AND printable_status = 'Running'"),
                     1);
    assert_int_equal(raw_int(db, "SELECT count(*) FROM migration_policies"
                                 " WHERE labels = '{\"tier\":\"gold\"}'"),
                     1);
    assert_int_equal(raw_int(db, "SELECT count(*) FROM changes"), 3);
    /* The indexes made again as version 2 made them (but for the two
     * that version 5 replaces)... */
    char *v5_indexes = raw_text(db, index_sql);
    for (char *line = strtok(v3_indexes, "\n"); line;
         line = strtok(NULL, "\n")) {
        if (strstr(line, "INDEX migrations_vmi ON") ||
            strstr(line, "INDEX vmis_node ON"))
            continue;
        assert_non_null(strstr(v5_indexes, line));
    }
    free(v5_indexes);
    free(v3_indexes);
    /* ...and the same tables and indexes, word for word, as a new file's. */
    char *upgraded = raw_schema(db), *fresh = fresh_schema(&t);
    assert_string_equal(upgraded, fresh);
    assert_non_null(strstr(upgraded, "index migrations_in_flight_vmi"));
    assert_non_null(strstr(upgraded, "index vmis_by_node vmis"));
    free(upgraded);
    free(fresh);

    /* The records read as before, and the indexed queries find them. */
    assert_int_equal(store_get(st, STORE_KIND_VM, "default", "vm-a", &got), 0);
    assert_string_equal(meta_str(got, "uid"), "uid-vm");
    json_decref(got);
    assert_int_equal(
        store_get(st, STORE_KIND_MIGRATION_POLICY, NULL, "policy", &got), 0);
    json_decref(got);
    assert_int_equal(store_list(st, STORE_KIND_VMI, NULL, &on_b, &page), 0);
    assert_int_equal(json_array_size(page.items), 1);
    store_page_release(&page);
    assert_int_equal(store_list(st, STORE_KIND_MIGRATION, NULL, NULL, &page),
                     0);
    assert_int_equal(json_array_size(page.items), 2);
    assert_string_equal(meta_str(json_array_get(page.items, 0), "name"),
                        "done-job");
    store_page_release(&page);
    assert_int_equal(store_migration_count_in_flight(st, "host-a"), 1);
    assert_int_equal(
        store_migration_find_in_flight(st, "default", "vmi-fedora", NULL), 0);
    assert_int_equal(
        store_migration_find_in_flight(st, "default", "vm-a", NULL), -ENOENT);

    /* The change feed: v2's copies, v3's NULL object taken from the
     * record, and the counter goes on. */
    assert_int_equal(store_changes_since(st, STORE_KIND_MIGRATION, NULL, 0, 0,
                                         &events, &next),
                     3);
    assert_true(next == 12);
    assert_string_equal(
        meta_str(json_object_get(json_array_get(events, 2), "object"), "uid"),
        "uid-done");
    json_decref(events);
    obj = make_migration("default", "new-job", "vmi", NULL, NULL, NULL);
    assert_int_equal(store_create(st, STORE_KIND_MIGRATION, obj), 0);
    assert_true(meta_rv(obj) == 13);
    assert_int_equal(raw_int(db, "SELECT id FROM migrations"
                                 " WHERE name = 'new-job'"),
                     41);
    assert_int_equal(store_create(st, STORE_KIND_MIGRATION, obj), -EEXIST);
    json_decref(obj);
    sqlite3_close(db);
    store_close(st);

    /* Opening again is a no-op upgrade. */
    st = NULL;
    assert_int_equal(store_open(path, NULL, &st, err, sizeof(err)), 0);
    assert_true(current_rv(st) == 13);
    store_close(st);
    tmpdir_remove(&t);
}

/* Version 4's step as released (schema.c's step_v4, written out). */
#define V4_COLUMNS                                                             \
    "id INTEGER PRIMARY KEY, namespace TEXT NOT NULL, name TEXT NOT NULL,"     \
    " uid TEXT NOT NULL, resource_version INTEGER NOT NULL,"                   \
    " creation TEXT NOT NULL, labels TEXT NOT NULL, object TEXT NOT NULL,"
#define V4_NAMES                                                               \
    "id, namespace, name, uid, resource_version, creation, labels, object"
static const char v4_sql[] =
    "CREATE TABLE nodes_v4 (" V4_COLUMNS " ready INTEGER NOT NULL DEFAULT 0,"
    " schedulable INTEGER NOT NULL DEFAULT 1, UNIQUE (namespace, name));"
    "INSERT INTO nodes_v4 SELECT " V4_NAMES ", ready, schedulable FROM nodes;"
    "DROP TABLE nodes; ALTER TABLE nodes_v4 RENAME TO nodes;"
    "CREATE TABLE vms_v4 (" V4_COLUMNS " running INTEGER NOT NULL DEFAULT 0,"
    " ready INTEGER NOT NULL DEFAULT 0,"
    " printable_status TEXT NOT NULL DEFAULT '', UNIQUE (namespace, name));"
    "INSERT INTO vms_v4 SELECT " V4_NAMES ", running, ready, printable_status"
    " FROM vms; DROP TABLE vms; ALTER TABLE vms_v4 RENAME TO vms;"
    "CREATE TABLE vmis_v4 (" V4_COLUMNS " phase TEXT NOT NULL DEFAULT '',"
    " node_name TEXT NOT NULL DEFAULT '', UNIQUE (namespace, name));"
    "INSERT INTO vmis_v4 SELECT " V4_NAMES ", phase, node_name FROM vmis;"
    "DROP TABLE vmis; ALTER TABLE vmis_v4 RENAME TO vmis;"
    "CREATE TABLE migrations_v4 (" V4_COLUMNS
    " phase TEXT NOT NULL DEFAULT '', vmi_name TEXT NOT NULL DEFAULT '',"
    " source_node TEXT NOT NULL DEFAULT '',"
    " target_node TEXT NOT NULL DEFAULT '', UNIQUE (namespace, name));"
    "INSERT INTO migrations_v4 SELECT " V4_NAMES ", phase, vmi_name,"
    " source_node, target_node FROM migrations;"
    "DROP TABLE migrations; ALTER TABLE migrations_v4 RENAME TO migrations;"
    "CREATE TABLE migration_policies_v4 (" V4_COLUMNS
    " UNIQUE (namespace, name));"
    "INSERT INTO migration_policies_v4 SELECT " V4_NAMES
    " FROM migration_policies; DROP TABLE migration_policies;"
    "ALTER TABLE migration_policies_v4 RENAME TO migration_policies;"
    "CREATE INDEX migrations_vmi ON migrations (namespace, vmi_name);"
    "CREATE INDEX migrations_in_flight_source ON migrations (source_node)"
    " WHERE phase NOT IN ('Succeeded', 'Failed');"
    "CREATE INDEX migrations_in_flight_vmi ON migrations (namespace, vmi_name)"
    " WHERE phase NOT IN ('Succeeded', 'Failed');"
    "CREATE INDEX vmis_node ON vmis (node_name);"
    "PRAGMA user_version = 4;";

/* Migrations whose kubevirt.io/vmi-name label is spec.vmiName, another
 * name, missing, or not a string. */
#define V4_MIGRATION(name, labels, vmi)                                        \
    "INSERT INTO migrations (namespace, name, uid, resource_version,"          \
    " creation, labels, object, phase, vmi_name) VALUES ('default', '" name    \
    "', 'uid-" name "', 12, '2024-01-03T00:00:00Z', '" labels "',"             \
    " '{\"metadata\":{\"name\":\"" name "\",\"namespace\":\"default\","        \
    "\"labels\":" labels "},\"spec\":{\"vmiName\":\"" vmi "\"}}',"             \
    " 'Succeeded', '" vmi "');"
static const char v4_data[] = V4_MIGRATION(
    "lab-a", "{\"kubevirt.io/vmi-name\":\"vm-a\",\"x\":\"y\"}",
    "vm-a") V4_MIGRATION("lab-other", "{\"kubevirt.io/vmi-name\":\"vm-z\"}",
                         "vm-a") V4_MIGRATION("lab-none", "{}", "vm-a")
    V4_MIGRATION(
        "lab-num", "{\"kubevirt.io/vmi-name\":5}",
        "vm-a") "UPDATE meta SET value = 12 WHERE key = 'resource_version';";

/* Version 5 adds the label's column (filled in from each record's labels)
 * and the list indexes, replacing two of version 2's. */
static void test_schema_upgrade_from_v4(void **state)
{
    struct tmpdir t;
    char path[300], err[256], names[1024];
    struct store *st = NULL;
    static const char *const vm_a[] = {"vm-a"};
    struct store_term term = {STORE_FIELD_VMI_NAME_LABEL, STORE_TERM_IN, vm_a,
                              1};
    struct store_list_opts by_label = {.terms = &term, .n_terms = 1};
    int64_t rv = 0;
    sqlite3 *db;
    (void)state;

    tmpdir_make(&t);
    tmpdir_file(&t, "v4.db", path, sizeof(path));
    make_v3_file(path);
    db = raw_open(path);
    raw_exec(db, v4_sql);
    raw_exec(db, v4_data);
    sqlite3_close(db);

    assert_int_equal(store_open(path, NULL, &st, err, sizeof(err)), 0);
    db = raw_open(path);
    assert_int_equal(raw_int(db, "PRAGMA user_version"), 5);
    assert_int_equal(raw_int(db, "SELECT count(*) FROM migrations WHERE"
                                 " name = 'lab-a' AND vmi_label = 'vm-a'"),
                     1);
    assert_int_equal(raw_int(db, "SELECT count(*) FROM migrations WHERE"
                                 " name = 'lab-other' AND vmi_label = 'vm-z'"),
                     1);
    assert_int_equal(raw_int(db, "SELECT count(*) FROM migrations WHERE"
                                 " vmi_label IS NULL"),
                     4); /* lab-none, lab-num, old-job, done-job */
    assert_int_equal(raw_int(db, "SELECT count(*) FROM sqlite_master WHERE"
                                 " name IN ('migrations_vmi', 'vmis_node')"),
                     0);
    char *upgraded = raw_schema(db), *fresh = fresh_schema(&t);
    assert_string_equal(upgraded, fresh);
    assert_non_null(strstr(upgraded, "index migrations_by_vmi_label"
                                     " migrations CREATE INDEX"));
    assert_non_null(strstr(upgraded, "index vmis_by_phase vmis"));
    free(upgraded);
    free(fresh);
    sqlite3_close(db);

    /* The lists select by the column. */
    list_all_pages(st, STORE_KIND_MIGRATION, "default", &by_label, names,
                   sizeof(names), &rv);
    assert_string_equal(names, "default/lab-a");
    term.op = STORE_TERM_EXISTS;
    list_all_pages(st, STORE_KIND_MIGRATION, NULL, &by_label, names,
                   sizeof(names), &rv);
    assert_string_equal(names, "default/lab-a,default/lab-other");
    term.op = STORE_TERM_NOT_IN;
    list_all_pages(st, STORE_KIND_MIGRATION, NULL, &by_label, names,
                   sizeof(names), &rv);
    assert_string_equal(names, "default/done-job,default/lab-none,"
                               "default/lab-num,default/lab-other,"
                               "default/old-job");
    /* A new record's label is written to the column. */
    json_t *obj =
        make_migration("default", "new-job", "vm-a", NULL, NULL, NULL);
    assert_int_equal(store_create(st, STORE_KIND_MIGRATION, obj), 0);
    json_decref(obj);
    term.op = STORE_TERM_IN;
    list_all_pages(st, STORE_KIND_MIGRATION, NULL, &by_label, names,
                   sizeof(names), &rv);
    assert_string_equal(names, "default/lab-a,default/new-job");
    store_close(st);
    tmpdir_remove(&t);
}

/* A step that fails part-way leaves the file as it was, at its old version:
 * here an index a v2 step creates (after it has already made the changes
 * table and a new column) exists already in a v1 file; then the same for
 * the v3 step, whose new table's name is taken in a v2 file. */
static void test_schema_upgrade_fails_cleanly(void **state)
{
    struct tmpdir t;
    char path[300], err[256];
    struct store *st = (struct store *)0x1;
    sqlite3 *db;
    (void)state;

    tmpdir_make(&t);
    tmpdir_file(&t, "v1.db", path, sizeof(path));
    db = raw_open(path);
    raw_exec(db, v1_sql);
    raw_exec(db, v1_data);
    raw_exec(db, "CREATE INDEX vmis_node ON vmis (phase);");
    sqlite3_close(db);
    assert_int_equal(store_open(path, NULL, &st, err, sizeof(err)), -EIO);
    assert_string_equal(err, "cannot upgrade the schema from version 1 to 2: "
                             "index vmis_node already exists");
    assert_ptr_equal(st, (struct store *)0x1);
    db = raw_open(path);
    assert_int_equal(raw_int(db, "PRAGMA user_version"), 1);
    assert_int_equal(raw_int(db, "SELECT count(*) FROM sqlite_master"
                                 " WHERE name = 'changes'"),
                     0);
    assert_int_equal(raw_int(db, "SELECT count(*) FROM"
                                 " pragma_table_info('migrations')"
                                 " WHERE name = 'target_node'"),
                     0);
    assert_int_equal(raw_int(db, "SELECT count(*) FROM meta"), 1);
    assert_int_equal(raw_int(db, "SELECT resource_version FROM migrations"
                                 " WHERE name = 'old-job'"),
                     6);
    /* Once the obstacle is gone, the upgrade goes through. */
    raw_exec(db, "DROP INDEX vmis_node;");
    sqlite3_close(db);
    st = NULL;
    assert_int_equal(store_open(path, NULL, &st, err, sizeof(err)), 0);
    assert_true(current_rv(st) == 7);
    store_close(st);

    tmpdir_file(&t, "v2.db", path, sizeof(path));
    db = raw_open(path);
    raw_exec(db, v1_sql);
    raw_exec(db, v1_data);
    raw_exec(db, v2_sql);
    raw_exec(db, v2_data);
    raw_exec(db, "CREATE VIEW changes_v3 AS SELECT 1;");
    sqlite3_close(db);
    st = (struct store *)0x1;
    assert_int_equal(store_open(path, NULL, &st, err, sizeof(err)), -EIO);
    assert_string_equal(err, "cannot upgrade the schema from version 2 to 3: "
                             "view changes_v3 already exists");
    db = raw_open(path);
    assert_int_equal(raw_int(db, "PRAGMA user_version"), 2);
    assert_int_equal(raw_int(db, "SELECT \"notnull\" FROM"
                                 " pragma_table_info('changes')"
                                 " WHERE name = 'object'"),
                     1);
    assert_int_equal(raw_int(db, "SELECT count(*) FROM changes"), 2);
    sqlite3_close(db);

    /* The v4 step fails at its third table, after copying two. */
    tmpdir_file(&t, "v3.db", path, sizeof(path));
    make_v3_file(path);
    db = raw_open(path);
    raw_exec(db, "CREATE VIEW vmis_v4 AS SELECT 1;");
    sqlite3_close(db);
    st = (struct store *)0x1;
    assert_int_equal(store_open(path, NULL, &st, err, sizeof(err)), -EIO);
    assert_string_equal(err, "cannot upgrade the schema from version 3 to 4: "
                             "view vmis_v4 already exists");
    assert_ptr_equal(st, (struct store *)0x1);
    db = raw_open(path);
    assert_int_equal(raw_int(db, "PRAGMA user_version"), 3);
    for (size_t i = 0; i < sizeof(record_tables) / sizeof(*record_tables); i++)
        assert_int_equal(raw_unique_indexes(db, record_tables[i]), 2);
    assert_int_equal(raw_int(db, "SELECT count(*) FROM sqlite_master"
                                 " WHERE name LIKE '%\\_v4' ESCAPE '\\'"),
                     1);
    assert_int_equal(raw_int(db, "SELECT count(*) FROM nodes"), 1);
    assert_int_equal(raw_int(db, "SELECT count(*) FROM vms"), 1);
    assert_int_equal(raw_int(db, "SELECT count(*) FROM vmis"), 1);
    /* Once the obstacle is gone, the upgrade goes through. */
    raw_exec(db, "DROP VIEW vmis_v4;");
    sqlite3_close(db);
    st = NULL;
    assert_int_equal(store_open(path, NULL, &st, err, sizeof(err)), 0);
    assert_true(current_rv(st) == 12);
    store_close(st);
    tmpdir_remove(&t);
}

/* A damaged file: open fails with a message; damage that open does not
 * read (it checks page 1 only, not every page: that would cost a scan of
 * the whole file at each start) makes the reads and writes that meet it
 * fail with -EIO.  Never a crash. */
static void test_damaged_file(void **state)
{
    struct tmpdir t;
    char path[300], err[256], copy[300], cmd[1200];
    struct store *st = NULL;
    json_t *obj;
    (void)state;

    tmpdir_make(&t);
    tmpdir_file(&t, "good.db", path, sizeof(path));
    assert_int_equal(store_open(path, NULL, &st, err, sizeof(err)), 0);
    assert_int_equal(store_txn_begin(st), 0);
    for (int i = 0; i < 500; i++) {
        char name[32];
        snprintf(name, sizeof(name), "m%03d", i);
        obj = make_migration("default", name, "vmi", "Running", "a", "b");
        assert_int_equal(store_create(st, STORE_KIND_MIGRATION, obj), 0);
        json_decref(obj);
    }
    assert_int_equal(store_txn_commit(st), 0);
    store_close(st); /* the last connection: the WAL is folded in */
    st = NULL;
    struct stat sb;
    assert_int_equal(stat(path, &sb), 0);
    assert_true(sb.st_size > 100000);

    /* Cut short: the header promises pages the file lacks. */
    tmpdir_file(&t, "short.db", copy, sizeof(copy));
    snprintf(cmd, sizeof(cmd), "cp '%s' '%s' && truncate -s 50000 '%s'", path,
             copy, copy);
    assert_int_equal(system(cmd), 0);
    assert_int_equal(store_open(copy, NULL, &st, err, sizeof(err)), -EIO);
    assert_string_equal(err, "cannot read the schema version: database disk "
                             "image is malformed");
    assert_null(st);

    /* Cut inside the header. */
    snprintf(cmd, sizeof(cmd), "truncate -s 50 '%s'", copy);
    assert_int_equal(system(cmd), 0);
    assert_int_equal(store_open(copy, NULL, &st, err, sizeof(err)), -EIO);
    assert_string_equal(err, "cannot read the schema version: database disk "
                             "image is malformed");
    assert_null(st);

    /* Every page but the first overwritten: open sees a sound schema
     * page, the records' pages are garbage. */
    tmpdir_file(&t, "garbled.db", copy, sizeof(copy));
    snprintf(cmd, sizeof(cmd),
             "cp '%s' '%s' && head -c %lld /dev/zero | tr '\\0' '\\377' |"
             " dd of='%s' bs=8192 seek=1 conv=notrunc status=none",
             path, copy, (long long)sb.st_size - 8192, copy);
    assert_int_equal(system(cmd), 0);
    assert_int_equal(store_open(copy, NULL, &st, err, sizeof(err)), 0);
    json_t *got = NULL;
    struct store_page page = {0};
    assert_int_equal(
        store_get(st, STORE_KIND_MIGRATION, "default", "m001", &got), -EIO);
    assert_int_equal(store_list(st, STORE_KIND_MIGRATION, NULL, NULL, &page),
                     -EIO);
    obj = make_migration("default", "new", "vmi", NULL, NULL, NULL);
    assert_int_equal(store_create(st, STORE_KIND_MIGRATION, obj), -EIO);
    json_decref(obj);
    store_close(st);
    tmpdir_remove(&t);
}

/* A full disk, simulated with RLIMIT_FSIZE (writes past the limit fail with
 * EFBIG once SIGXFSZ is ignored): writes fail with -ENOSPC or -EIO, a
 * transaction is lost whole, and every record committed before is intact
 * after a reopen. */
static void test_disk_full(void **state)
{
    struct tmpdir t;
    char path[300], err[256];
    struct store *st = NULL;
    struct rlimit old_limit, limit;
    struct sigaction ign = {.sa_handler = SIG_IGN}, old_sig;
    struct store_page page = {0};
    json_t *obj, *got = NULL;
    char pad[4000];
    int stored = 0, failed = 0, r;
    (void)state;

    memset(pad, 'p', sizeof(pad) - 1);
    pad[sizeof(pad) - 1] = '\0';
    tmpdir_make(&t);
    tmpdir_file(&t, "full.db", path, sizeof(path));
    assert_int_equal(store_open(path, NULL, &st, err, sizeof(err)), 0);
    for (int i = 0; i < 20; i++, stored++) {
        char name[32];
        snprintf(name, sizeof(name), "m%04d", i);
        obj = make_migration("default", name, "vmi", "Running", "a", "b");
        assert_int_equal(store_create(st, STORE_KIND_MIGRATION, obj), 0);
        json_decref(obj);
    }

    assert_int_equal(getrlimit(RLIMIT_FSIZE, &old_limit), 0);
    assert_int_equal(sigaction(SIGXFSZ, &ign, &old_sig), 0);
    /* Room for a few more writes past the larger of the two files. */
    char wal[310];
    struct stat sb_db, sb_wal;
    snprintf(wal, sizeof(wal), "%s-wal", path);
    assert_int_equal(stat(path, &sb_db), 0);
    assert_int_equal(stat(wal, &sb_wal), 0);
    limit = old_limit;
    limit.rlim_cur = (rlim_t)(sb_db.st_size > sb_wal.st_size ? sb_db.st_size
                                                             : sb_wal.st_size) +
                     256 * 1024;
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &limit), 0);
    /* Single writes until the disk is full, then a few more. */
    for (int i = 20; i < 2000 && failed < 5; i++) {
        char name[32];
        snprintf(name, sizeof(name), "m%04d", i);
        obj = make_migration("default", name, "vmi", "Running", "a", "b");
        json_object_set_new(json_object_get(obj, "spec"), "pad",
                            json_string(pad));
        r = store_create(st, STORE_KIND_MIGRATION, obj);
        json_decref(obj);
        if (r == 0 && !failed) {
            stored++;
        } else if (r < 0) {
            assert_true(r == -ENOSPC || r == -EIO);
            failed++;
        }
    }
    assert_true(failed > 0);
    assert_true(stored > 20);
    /* A transaction: its writes are lost together. */
    assert_int_equal(store_txn_begin(st), 0);
    for (int i = 0; i < 200; i++) {
        char name[32];
        snprintf(name, sizeof(name), "t%04d", i);
        obj = make_migration("default", name, "vmi", "Running", "a", "b");
        json_object_set_new(json_object_get(obj, "spec"), "pad",
                            json_string(pad));
        r = store_create(st, STORE_KIND_MIGRATION, obj);
        json_decref(obj);
        if (r < 0)
            break;
    }
    r = store_txn_commit(st);
    assert_true(r == -ENOSPC || r == -EIO);
    /* Reads still work meanwhile. */
    assert_int_equal(
        store_get(st, STORE_KIND_MIGRATION, "default", "m0005", &got), 0);
    json_decref(got);
    store_close(st);
    st = NULL;

    assert_int_equal(setrlimit(RLIMIT_FSIZE, &old_limit), 0);
    assert_int_equal(sigaction(SIGXFSZ, &old_sig, NULL), 0);

    /* Reopened: what was committed is there, intact, and nothing else. */
    assert_int_equal(store_open(path, NULL, &st, err, sizeof(err)), 0);
    assert_int_equal(store_list(st, STORE_KIND_MIGRATION, NULL, NULL, &page),
                     0);
    assert_int_equal(json_array_size(page.items), stored);
    for (int i = 0; i < stored; i++) {
        char name[32];
        snprintf(name, sizeof(name), "m%04d", i);
        assert_string_equal(meta_str(json_array_get(page.items, i), "name"),
                            name);
        assert_true(meta_rv(json_array_get(page.items, i)) == i + 1);
    }
    store_page_release(&page);
    assert_true(current_rv(st) == stored);
    obj = make_migration("default", "after", "vmi", NULL, NULL, NULL);
    assert_int_equal(store_create(st, STORE_KIND_MIGRATION, obj), 0);
    json_decref(obj);
    store_close(st);
    sqlite3 *db = raw_open(path);
    sqlite3_stmt *stmt = NULL;
    assert_int_equal(
        sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &stmt, NULL),
        SQLITE_OK);
    assert_int_equal(sqlite3_step(stmt), SQLITE_ROW);
    assert_string_equal((const char *)sqlite3_column_text(stmt, 0), "ok");
    sqlite3_finalize(stmt);
    sqlite3_close(db);
    tmpdir_remove(&t);
}

static void test_schema_newer_refused(void **state)
{
    struct tmpdir t;
    char path[300], err[256] = "";
    struct store *st = (struct store *)0x1;
    (void)state;

    tmpdir_make(&t);
    tmpdir_file(&t, "future.db", path, sizeof(path));
    sqlite3 *db = raw_open(path);
    raw_exec(db, "PRAGMA application_id = 1330791240;"
                 "CREATE TABLE future_things (x);"
                 "PRAGMA user_version = 7;");
    sqlite3_close(db);

    assert_int_equal(store_open(path, NULL, &st, err, sizeof(err)), -EPROTO);
    assert_string_equal(err, "database schema version 7 is newer than this "
                             "program's 5; upgrade orchestratord");
    assert_ptr_equal(st, (struct store *)0x1);
    /* Refused, not touched: not even switched to WAL mode. */
    assert_false(file_is_wal(path));
    db = raw_open(path);
    assert_int_equal(raw_int(db, "PRAGMA user_version"), 7);
    sqlite3_close(db);
    tmpdir_remove(&t);
}

static void test_foreign_files_refused(void **state)
{
    struct tmpdir t;
    char path[300], err[256];
    struct store *st = NULL;
    FILE *f;
    (void)state;

    tmpdir_make(&t);
    /* Someone else's database. */
    tmpdir_file(&t, "other.db", path, sizeof(path));
    sqlite3 *db = raw_open(path);
    raw_exec(db, "CREATE TABLE customers (name TEXT);");
    sqlite3_close(db);
    assert_int_equal(store_open(path, NULL, &st, err, sizeof(err)), -EINVAL);
    assert_string_equal(err, "the file holds tables but no schema version: "
                             "not an orchestratord database");
    /* Someone else's file is left as it was, in its journal mode. */
    assert_false(file_is_wal(path));

    /* A versioned database of another program. */
    tmpdir_file(&t, "app.db", path, sizeof(path));
    db = raw_open(path);
    raw_exec(db, "CREATE TABLE x (y); PRAGMA user_version = 1;");
    sqlite3_close(db);
    assert_int_equal(store_open(path, NULL, &st, err, sizeof(err)), -EINVAL);
    assert_string_equal(err, "the file has application id 0, not "
                             "orchestratord's: not an orchestratord database");
    assert_false(file_is_wal(path));

    /* Not a database at all. */
    tmpdir_file(&t, "text.db", path, sizeof(path));
    f = fopen(path, "w");
    assert_non_null(f);
    for (int i = 0; i < 200; i++)
        fputs("this is not a database, just some text\n", f);
    fclose(f);
    assert_int_equal(store_open(path, NULL, &st, err, sizeof(err)), -EINVAL);
    assert_string_equal(err, "cannot read the schema version: file is not a "
                             "database");

    /* A directory that does not exist. */
    tmpdir_file(&t, "missing/dir/orch.db", path, sizeof(path));
    assert_int_equal(store_open(path, NULL, &st, err, sizeof(err)), -EACCES);
    assert_string_equal(err,
                        "cannot open the database: unable to open database "
                        "file");
    assert_null(st);
    tmpdir_remove(&t);
}

static void test_locked_database(void **state)
{
    struct tmpdir t;
    char path[300], err[256];
    struct store_opts o = {.busy_timeout_ms = 150};
    struct store *st = NULL, *st2 = NULL;
    json_t *obj, *got = NULL;
    double t0, waited;
    (void)state;

    tmpdir_make(&t);
    tmpdir_file(&t, "locked.db", path, sizeof(path));
    assert_int_equal(store_open(path, &o, &st, err, sizeof(err)), 0);
    obj = make_migration("default", "first", "vmi", NULL, NULL, NULL);
    assert_int_equal(store_create(st, STORE_KIND_MIGRATION, obj), 0);
    json_decref(obj);

    /* Another connection holds the write lock. */
    sqlite3 *db = raw_open(path);
    raw_exec(db, "BEGIN IMMEDIATE; UPDATE meta SET value = value;");
    obj = make_migration("default", "second", "vmi", NULL, NULL, NULL);
    t0 = now_ms();
    assert_int_equal(store_create(st, STORE_KIND_MIGRATION, obj), -EBUSY);
    waited = now_ms() - t0;
    assert_true(waited >= 140.0);
    assert_true(waited < 5000.0);
    assert_null(meta_str(obj, "uid")); /* the object was left alone */
    assert_int_equal(store_txn_begin(st), -EBUSY);
    assert_int_equal(store_event_append(st,
                                        &(struct store_event){
                                            .kind = STORE_KIND_NODE,
                                            .name = "h",
                                            .type = "Normal",
                                            .reason = "R",
                                        },
                                        NULL),
                     -EBUSY);
    /* Readers are not blocked by a writer in WAL mode. */
    assert_int_equal(
        store_get(st, STORE_KIND_MIGRATION, "default", "first", &got), 0);
    json_decref(got);
    raw_exec(db, "COMMIT;");
    assert_int_equal(store_create(st, STORE_KIND_MIGRATION, obj), 0);
    json_decref(obj);

    /* Two store handles: one's transaction locks the other out. */
    assert_int_equal(store_open(path, &o, &st2, err, sizeof(err)), 0);
    assert_int_equal(store_txn_begin(st), 0);
    obj = make_migration("default", "third", "vmi", NULL, NULL, NULL);
    assert_int_equal(store_create(st2, STORE_KIND_MIGRATION, obj), -EBUSY);
    assert_int_equal(store_txn_commit(st), 0);
    assert_int_equal(store_create(st2, STORE_KIND_MIGRATION, obj), 0);
    assert_int_equal(store_migration_count_in_flight(st, NULL), 3);
    json_decref(obj);

    /* A transaction whose first write fails does not lose count of the
     * resourceVersion that the other handle moved on meanwhile. */
    int64_t before = current_rv(st2);
    obj = make_migration("default", "first", "vmi", NULL, NULL, NULL);
    assert_int_equal(store_txn_begin(st), 0);
    assert_int_equal(store_create(st, STORE_KIND_MIGRATION, obj), -EEXIST);
    json_object_set_new(json_object_get(obj, "metadata"), "name",
                        json_string("fifth"));
    assert_int_equal(store_create(st, STORE_KIND_MIGRATION, obj), 0);
    assert_true(meta_rv(obj) == before + 1);
    assert_int_equal(store_txn_commit(st), 0);
    json_decref(obj);

    /* A negative timeout fails at once. */
    struct store_opts now = {.busy_timeout_ms = -1};
    struct store *st3 = NULL;
    assert_int_equal(store_open(path, &now, &st3, err, sizeof(err)), 0);
    raw_exec(db, "BEGIN IMMEDIATE;");
    obj = make_migration("default", "fourth", "vmi", NULL, NULL, NULL);
    t0 = now_ms();
    assert_int_equal(store_create(st3, STORE_KIND_MIGRATION, obj), -EBUSY);
    assert_true(now_ms() - t0 < 100.0);
    raw_exec(db, "ROLLBACK;");
    json_decref(obj);

    sqlite3_close(db);
    store_close(st3);
    store_close(st2);
    store_close(st);
    tmpdir_remove(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kind_names),
        cmocka_unit_test(test_rv_parse),
        cmocka_unit_test(test_text_encode),
        cmocka_unit_test(test_crud_each_kind),
        cmocka_unit_test(test_get_text),
        cmocka_unit_test(test_create_exists_keeps_object),
        cmocka_unit_test(test_create_invalid),
        cmocka_unit_test(test_odd_values),
        cmocka_unit_test(test_generate_name),
        cmocka_unit_test(test_optimistic_concurrency),
        cmocka_unit_test(test_rv_monotonic_across_kinds),
        cmocka_unit_test(test_list_pagination),
        cmocka_unit_test(test_list_text),
        cmocka_unit_test(test_list_bad_tokens),
        cmocka_unit_test(test_list_field_filters),
        cmocka_unit_test(test_list_scan_budget),
        cmocka_unit_test(test_list_terms_invalid),
        cmocka_unit_test(test_migration_count_phases),
        cmocka_unit_test(test_migration_in_flight),
        cmocka_unit_test(test_change_feed),
        cmocka_unit_test(test_change_feed_objects),
        cmocka_unit_test(test_event_log),
        cmocka_unit_test(test_transactions),
        cmocka_unit_test(test_transaction_aborted),
        cmocka_unit_test(test_file_wal_and_reopen),
        cmocka_unit_test(test_page_size_and_checkpointer),
        cmocka_unit_test(test_fork_child_close),
        cmocka_unit_test(test_schema_upgrade_from_v1),
        cmocka_unit_test(test_schema_upgrade_from_v2),
        cmocka_unit_test(test_schema_upgrade_from_v3),
        cmocka_unit_test(test_schema_upgrade_from_v4),
        cmocka_unit_test(test_schema_upgrade_fails_cleanly),
        cmocka_unit_test(test_damaged_file),
        cmocka_unit_test(test_disk_full),
        cmocka_unit_test(test_schema_newer_refused),
        cmocka_unit_test(test_foreign_files_refused),
        cmocka_unit_test(test_locked_database),
    };
    return cmocka_run_group_tests_name("store", tests, NULL, NULL);
}
