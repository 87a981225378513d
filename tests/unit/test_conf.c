/*
 * Unit tests for conf/: both daemons' configuration read from strings and
 * files, the key tables (defaults, types, ranges, unknown keys: driven by
 * the tables so a new key is tested automatically), the record parsers,
 * the command lines, the example files, and the daemons' -n mode run as
 * real processes.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "conf/conf.h"

#define ERRLEN 2048
#define TPATH  256 /* temporary directory and file paths */

/* libconfig 1.5 leaks a string token when a syntax error falls right on it
 * (its scanner's strbuf, e.g. 'listen "x";'); that is not ours to free.
 * LeakSanitizer reads this hook in sanitizer builds; others ignore it. */
const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void)
{
    return "leak:strbuf_append\n";
}

/* ---------------------------------------------------------------------- */
/* Helpers                                                                 */

static const char *top_dir(void)
{
    const char *top = getenv("ORCH_TOP");
    return top ? top : ".";
}

static const char *build_dir(void)
{
    const char *b = getenv("ORCH_BUILD");
    return b ? b : "build";
}

/* Read a whole file into a malloc'd string. */
static char *slurp(const char *path)
{
    FILE *f = fopen(path, "r");
    char *buf;
    long n;

    assert_non_null(f);
    assert_int_equal(fseek(f, 0, SEEK_END), 0);
    n = ftell(f);
    assert_true(n >= 0);
    rewind(f);
    buf = malloc((size_t)n + 1);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

/* A private temporary directory per test, removed by its teardown. */
struct tmp {
    char dir[TPATH];
    char files[8][TPATH];
    int n_files;
};

static int tmp_setup(void **state)
{
    const char *base = getenv("TMPDIR");
    struct tmp *t = calloc(1, sizeof(*t));

    if (!t)
        return -1;
    snprintf(t->dir, sizeof(t->dir), "%s/test_conf.XXXXXX",
             base ? base : "/tmp");
    if (!mkdtemp(t->dir)) {
        free(t);
        return -1;
    }
    *state = t;
    return 0;
}

static int tmp_teardown(void **state)
{
    struct tmp *t = *state;

    for (int i = 0; i < t->n_files; i++)
        unlink(t->files[i]);
    rmdir(t->dir);
    free(t);
    return 0;
}

/* Write text to DIR/name and return the path (owned by t). */
static const char *tmp_write(struct tmp *t, const char *name, const char *text)
{
    char *path;
    char buf[TPATH];
    FILE *f;

    assert_true(t->n_files < 8);
    path = t->files[t->n_files++];
    assert_true(strlen(t->dir) + strlen(name) + 2 <= TPATH);
    snprintf(buf, sizeof(buf), "%.200s/%.50s", t->dir, name);
    memcpy(path, buf, sizeof(buf));
    f = fopen(path, "w");
    assert_non_null(f);
    assert_int_equal(fputs(text, f) >= 0, 1);
    fclose(f);
    return path;
}

/* Run a program, capture its stdout and stderr, return its exit status. */
static int run(char *const argv[], char *out, size_t outlen, char *err,
               size_t errlen)
{
    int po[2], pe[2];
    pid_t pid;
    int status;
    size_t no = 0, ne = 0;
    ssize_t n;

    assert_int_equal(pipe(po), 0);
    assert_int_equal(pipe(pe), 0);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        dup2(po[1], STDOUT_FILENO);
        dup2(pe[1], STDERR_FILENO);
        close(po[0]);
        close(pe[0]);
        execv(argv[0], argv);
        _exit(127);
    }
    close(po[1]);
    close(pe[1]);
    /* The outputs are a few lines: read stdout, then stderr. */
    while ((n = read(po[0], out + no, outlen - 1 - no)) > 0)
        no += (size_t)n;
    while ((n = read(pe[0], err + ne, errlen - 1 - ne)) > 0)
        ne += (size_t)n;
    out[no] = '\0';
    err[ne] = '\0';
    close(po[0]);
    close(pe[0]);
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    return WEXITSTATUS(status);
}

/* Load text as orchestratord's configuration into a fresh struct. */
static int orch_load(struct conf_orchestratord *c, const char *text, char *err)
{
    err[0] = '\0';
    assert_int_equal(conf_orchestratord_init(c), 0);
    return conf_orchestratord_load_string(c, text, "t.conf", err, ERRLEN);
}

static int migr_load(struct conf_migrator *c, const char *text, char *err)
{
    err[0] = '\0';
    assert_int_equal(conf_migrator_init(c), 0);
    return conf_migrator_load_string(c, text, "t.conf", err, ERRLEN);
}

/* Expect orchestratord's text to fail with exactly msg. */
static void orch_bad(const char *text, const char *msg)
{
    struct conf_orchestratord c;
    char err[ERRLEN];

    assert_int_equal(orch_load(&c, text, err), -EINVAL);
    assert_string_equal(err, msg);
    conf_orchestratord_clear(&c);
}

static void migr_bad(const char *text, const char *msg)
{
    struct conf_migrator c;
    char err[ERRLEN];

    assert_int_equal(migr_load(&c, text, err), -EINVAL);
    assert_string_equal(err, msg);
    conf_migrator_clear(&c);
}

/* ---------------------------------------------------------------------- */
/* Table-driven tests, run over both daemons' tables                        */

/* One daemon as the generic tests see it. */
struct daemon {
    const char *name;
    const struct conf_key *(*keys)(size_t *ret_n);
    size_t size;
    int (*init)(void *c);
    void (*clear)(void *c);
    int (*load)(void *c, const char *text, const char *name, char *err,
                size_t errlen);
    const char *example; /* file under conf/ */
    /* Settings a key needs beside it to be valid at its bounds. */
    const char *(*companion)(const char *path);
};

static int orch_init_v(void *c)
{
    return conf_orchestratord_init(c);
}
static void orch_clear_v(void *c)
{
    conf_orchestratord_clear(c);
}
static int orch_load_v(void *c, const char *text, const char *name, char *err,
                       size_t errlen)
{
    return conf_orchestratord_load_string(c, text, name, err, errlen);
}
static const char *orch_companion(const char *path)
{
    (void)path;
    return "";
}
static int migr_init_v(void *c)
{
    return conf_migrator_init(c);
}
static void migr_clear_v(void *c)
{
    conf_migrator_clear(c);
}
static int migr_load_v(void *c, const char *text, const char *name, char *err,
                       size_t errlen)
{
    return conf_migrator_load_string(c, text, name, err, errlen);
}
/* The port range must stay ordered while one end moves to its bound. */
static const char *migr_companion(const char *path)
{
    if (strcmp(path, "migration_port_min") == 0)
        return "migration_port_max = 65535;\n";
    if (strcmp(path, "migration_port_max") == 0)
        return "migration_port_min = 1024;\n";
    return "";
}

static const struct daemon daemons[] = {
    {"orchestratord", conf_orchestratord_keys,
     sizeof(struct conf_orchestratord), orch_init_v, orch_clear_v, orch_load_v,
     "orchestratord.conf", orch_companion},
    {"migrator", conf_migrator_keys, sizeof(struct conf_migrator), migr_init_v,
     migr_clear_v, migr_load_v, "migrator.conf", migr_companion},
};

/* A file setting path (at most one group deep) to value, with the setting
 * always on line 3, followed by extra. */
static void gen(char *buf, size_t len, const char *path, const char *value,
                const char *extra)
{
    const char *dot = strchr(path, '.');

    if (!dot) {
        snprintf(buf, len, "# generated\n\n%s = %s;\n%s", path, value, extra);
        return;
    }
    assert_null(strchr(dot + 1, '.'));
    snprintf(buf, len, "# generated\n%.*s = {\n    %s = %s;\n};\n%s",
             (int)(dot - path), path, dot + 1, value, extra);
}

static void *field(void *conf, const struct conf_key *k)
{
    return (char *)conf + k->offset;
}

/* An integer literal libconfig reads exactly (L beyond 32 bits). */
static void int_literal(char *buf, size_t len, long long v)
{
    if (v < INT_MIN || v > INT_MAX)
        snprintf(buf, len, "%lldL", v);
    else
        snprintf(buf, len, "%lld", v);
}

/* min and max accepted, min - 1 and max + 1 rejected with the message,
 * for every integer and quantity key. */
static void test_table_ranges(void **state)
{
    (void)state;
    for (size_t d = 0; d < sizeof(daemons) / sizeof(*daemons); d++) {
        const struct daemon *dm = &daemons[d];
        size_t n;
        const struct conf_key *keys = dm->keys(&n);
        int tested = 0;

        for (size_t i = 0; i < n; i++) {
            const struct conf_key *k = &keys[i];
            const long long vals[4] = {k->min, k->max, k->min - 1, k->max + 1};

            if (k->type != CONF_T_INT && k->type != CONF_T_QUANTITY)
                continue;
            assert_true(k->min <= k->max);
            tested++;
            for (int v = 0; v < 4; v++) {
                char lit[64], text[512], err[ERRLEN], want[ERRLEN];
                void *c = calloc(1, dm->size);
                int r;

                assert_non_null(c);
                if (k->type == CONF_T_INT)
                    int_literal(lit, sizeof(lit), vals[v]);
                else
                    snprintf(lit, sizeof(lit), "\"%lld\"", vals[v]);
                gen(text, sizeof(text), k->path, lit, dm->companion(k->path));
                assert_int_equal(dm->init(c), 0);
                err[0] = '\0';
                r = dm->load(c, text, "t.conf", err, sizeof(err));
                if (v < 2) {
                    if (r != 0)
                        fail_msg("%s '%s' = %s rejected: %s", dm->name, k->path,
                                 lit, err);
                    if (k->type == CONF_T_INT)
                        assert_int_equal(*(int *)field(c, k), vals[v]);
                    else
                        assert_int_equal(
                            ((struct conf_quantity *)field(c, k))->bytes,
                            (uint64_t)vals[v]);
                } else {
                    snprintf(want, sizeof(want),
                             "t.conf:3: '%s': value %lld out of range "
                             "[%lld, %lld]",
                             k->path, vals[v], k->min, k->max);
                    assert_int_equal(r, -EINVAL);
                    assert_string_equal(err, want);
                }
                dm->clear(c);
                free(c);
            }
        }
        assert_true(tested > 0);
    }
}

/* Every key refuses a value of the wrong type, naming key and types. */
static void test_table_wrong_types(void **state)
{
    (void)state;
    for (size_t d = 0; d < sizeof(daemons) / sizeof(*daemons); d++) {
        const struct daemon *dm = &daemons[d];
        size_t n;
        const struct conf_key *keys = dm->keys(&n);

        for (size_t i = 0; i < n; i++) {
            const struct conf_key *k = &keys[i];
            const char *value = "5";
            const char *got = "an integer";
            const char *expected = NULL;
            char text[512], err[ERRLEN], want[ERRLEN];
            void *c = calloc(1, dm->size);

            assert_non_null(c);
            switch (k->type) {
            case CONF_T_INT:
                value = "\"5\"";
                got = "a string";
                expected = "an integer";
                break;
            case CONF_T_BOOL:
                expected = "true or false";
                break;
            case CONF_T_STRING:
            case CONF_T_LOG_LEVEL:
                expected = "a string";
                break;
            case CONF_T_QUANTITY:
                expected = "a quantity string such as \"64Mi\"";
                break;
            case CONF_T_GROUP:
                expected = "a group";
                break;
            case CONF_T_RECORDS:
                break; /* their own wording, checked below */
            }
            gen(text, sizeof(text), k->path, value, "");
            assert_int_equal(dm->init(c), 0);
            assert_int_equal(dm->load(c, text, "t.conf", err, sizeof(err)),
                             -EINVAL);
            if (expected) {
                snprintf(want, sizeof(want),
                         "t.conf:3: '%s': expected %s, got %s", k->path,
                         expected, got);
                assert_string_equal(err, want);
            } else {
                snprintf(want, sizeof(want), "t.conf:3: '%s': expected ",
                         k->path);
                assert_memory_equal(err, want, strlen(want));
                assert_non_null(strstr(err, ", got an integer"));
            }
            dm->clear(c);
            free(c);
        }
    }
}

/* Every group rejects a key it does not know, and so does the top level. */
static void test_table_unknown_keys(void **state)
{
    (void)state;
    for (size_t d = 0; d < sizeof(daemons) / sizeof(*daemons); d++) {
        const struct daemon *dm = &daemons[d];
        size_t n;
        const struct conf_key *keys = dm->keys(&n);
        char text[512], err[ERRLEN], want[ERRLEN];
        void *c = calloc(1, dm->size);

        assert_non_null(c);
        assert_int_equal(dm->init(c), 0);
        assert_int_equal(
            dm->load(c, "# x\n\nlisten_typo = 1;\n", "x.conf", err, ERRLEN),
            -EINVAL);
        assert_string_equal(err, "x.conf:3: unknown key 'listen_typo'");
        for (size_t i = 0; i < n; i++) {
            const struct conf_key *k = &keys[i];
            char path[128];

            if (k->type != CONF_T_GROUP)
                continue;
            snprintf(path, sizeof(path), "%s.bogus", k->path);
            gen(text, sizeof(text), path, "1", "");
            assert_int_equal(dm->load(c, text, "t.conf", err, ERRLEN), -EINVAL);
            if (k->unknown_noun)
                snprintf(want, sizeof(want), "t.conf:3: unknown %s 'bogus'",
                         k->unknown_noun);
            else
                snprintf(want, sizeof(want), "t.conf:3: unknown key '%s'",
                         path);
            assert_string_equal(err, want);
        }
        dm->clear(c);
        free(c);
    }
}

/* Every validated string key rejects the empty string with its name. */
static void test_table_string_checks(void **state)
{
    (void)state;
    for (size_t d = 0; d < sizeof(daemons) / sizeof(*daemons); d++) {
        const struct daemon *dm = &daemons[d];
        size_t n;
        const struct conf_key *keys = dm->keys(&n);

        for (size_t i = 0; i < n; i++) {
            const struct conf_key *k = &keys[i];
            char text[512], err[ERRLEN], want[ERRLEN];
            void *c;

            if (k->type != CONF_T_STRING)
                continue;
            /* Free-form strings would need a reason. */
            assert_non_null(k->check);
            c = calloc(1, dm->size);
            assert_non_null(c);
            gen(text, sizeof(text), k->path, "\"\"", "");
            assert_int_equal(dm->init(c), 0);
            assert_int_equal(dm->load(c, text, "t.conf", err, ERRLEN), -EINVAL);
            snprintf(want, sizeof(want), "t.conf:3: '%s': ", k->path);
            assert_memory_equal(err, want, strlen(want));
            dm->clear(c);
            free(c);
        }
    }
}

/* Compare one key's field in two structs. */
static void assert_field_equal(const char *daemon, const struct conf_key *k,
                               void *a, void *b)
{
    switch (k->type) {
    case CONF_T_INT:
        if (*(int *)field(a, k) != *(int *)field(b, k))
            fail_msg("%s '%s': %d != %d", daemon, k->path, *(int *)field(a, k),
                     *(int *)field(b, k));
        break;
    case CONF_T_BOOL:
        if (*(bool *)field(a, k) != *(bool *)field(b, k))
            fail_msg("%s '%s' differs", daemon, k->path);
        break;
    case CONF_T_LOG_LEVEL:
        if (*(enum log_level *)field(a, k) != *(enum log_level *)field(b, k))
            fail_msg("%s '%s' differs", daemon, k->path);
        break;
    case CONF_T_STRING: {
        const char *sa = *(char **)field(a, k), *sb = *(char **)field(b, k);

        if ((sa == NULL) != (sb == NULL) || (sa && strcmp(sa, sb) != 0))
            fail_msg("%s '%s': \"%s\" != \"%s\"", daemon, k->path,
                     sa ? sa : "(unset)", sb ? sb : "(unset)");
        break;
    }
    case CONF_T_QUANTITY: {
        struct conf_quantity *qa = field(a, k), *qb = field(b, k);

        if (qa->bytes != qb->bytes || strcmp(qa->text, qb->text) != 0)
            fail_msg("%s '%s': \"%s\" != \"%s\"", daemon, k->path, qa->text,
                     qb->text);
        break;
    }
    case CONF_T_GROUP:
    case CONF_T_RECORDS:
        break;
    }
}

/* The example files load, document every key, and state the defaults:
 * loading one gives exactly what no file gives. */
static void test_examples(void **state)
{
    (void)state;
    for (size_t d = 0; d < sizeof(daemons) / sizeof(*daemons); d++) {
        const struct daemon *dm = &daemons[d];
        size_t n;
        const struct conf_key *keys = dm->keys(&n);
        char path[PATH_MAX], err[ERRLEN];
        void *defaults = calloc(1, dm->size);
        void *loaded = calloc(1, dm->size);
        char *text;
        int r;

        assert_non_null(defaults);
        assert_non_null(loaded);
        snprintf(path, sizeof(path), "%s/conf/%s", top_dir(), dm->example);
        text = slurp(path);
        assert_int_equal(dm->init(defaults), 0);
        assert_int_equal(dm->init(loaded), 0);
        r = dm->load(loaded, text, dm->example, err, ERRLEN);
        if (r != 0)
            fail_msg("%s: %s", path, err);
        for (size_t i = 0; i < n; i++) {
            const struct conf_key *k = &keys[i];
            const char *leaf = strrchr(k->path, '.');
            char needle[128];

            leaf = leaf ? leaf + 1 : k->path;
            /* Set, or shown in a comment, as "leaf = ...". */
            snprintf(needle, sizeof(needle), "%s = ", leaf);
            if (!strstr(text, needle))
                fail_msg("%s does not document '%s'", dm->example, k->path);
            assert_field_equal(dm->name, k, defaults, loaded);
        }
        free(text);
        dm->clear(defaults);
        dm->clear(loaded);
        free(defaults);
        free(loaded);
    }
}

/* ---------------------------------------------------------------------- */
/* orchestratord                                                           */

static void test_orch_defaults(void **state)
{
    struct conf_orchestratord c;
    char err[ERRLEN];

    (void)state;
    assert_int_equal(orch_load(&c, "", err), 0);
    assert_string_equal(c.listen, "127.0.0.1:8080");
    assert_string_equal(c.database, "/var/lib/orchestrator/orchestrator.db");
    assert_int_equal(c.log_level, LOG_LEVEL_INFO);
    assert_null(c.tls.certificate);
    assert_null(c.tls.key);
    assert_int_equal(c.n_tokens, 0);
    assert_null(c.tokens);
    assert_int_equal(c.limits.max_body_bytes, 1048576);
    assert_int_equal(c.limits.max_depth, 32);
    assert_int_equal(c.limits.max_string_bytes, 65536);
    assert_int_equal(c.limits.max_items, 10000);
    assert_int_equal(c.limits.max_connections, 1024);
    assert_int_equal(c.limits.request_timeout_s, 30);
    assert_int_equal(c.limits.header_timeout_s, 10);
    assert_int_equal(c.limits.max_watchers, 256);
    assert_int_equal(c.limits.max_list_limit, 500);
    assert_true(c.feature_gates.live_migration);
    assert_string_equal(c.migrations.bandwidth_per_migration.text, "0");
    assert_int_equal(c.migrations.bandwidth_per_migration.bytes, 0);
    assert_int_equal(c.migrations.completion_timeout_per_gib, 150);
    assert_int_equal(c.migrations.progress_timeout, 150);
    assert_int_equal(c.migrations.parallel_migrations_per_cluster, 5);
    assert_int_equal(c.migrations.parallel_outbound_migrations_per_node, 2);
    assert_int_equal(c.migrations.max_downtime_ms, 0); /* libvirt's */
    assert_false(c.migrations.allow_auto_converge);
    assert_false(c.migrations.allow_post_copy);
    assert_false(c.migrations.allow_workload_disruption);
    assert_false(c.migrations.disable_tls);
    assert_false(c.migrations.unsafe_migration_override);
    assert_int_equal(c.migrations.outcome_timeout_s, 600);
    conf_orchestratord_clear(&c);
    /* Clearing twice, and clearing NULL, are harmless. */
    conf_orchestratord_clear(&c);
    conf_orchestratord_clear(NULL);
}

static const char orch_full[] =
    "listen = \"[::1]:9443\";\n"
    "database = \"/srv/orch/db.sqlite\";\n"
    "log_level = \"debug\";\n"
    "tls = { certificate = \"/etc/o/c.pem\"; key = \"/etc/o/k.pem\"; };\n"
    "tokens = (\n"
    "  { name = \"ops\"; token = \"0123456789abcdef\"; role = \"admin\"; },\n"
    "  { name = \"dash\"; token = \"abc-._~+/=ABC123\"; role = \"viewer\"; }\n"
    ");\n"
    "limits = {\n"
    "  max_body_bytes = 2048; max_depth = 8; max_string_bytes = 1000;\n"
    "  max_items = 77; max_connections = 9; request_timeout_s = 5;\n"
    "  header_timeout_s = 3; max_watchers = 4; max_list_limit = 50;\n"
    "};\n"
    "feature_gates = { LiveMigration = false; };\n"
    "migrations = {\n"
    "  bandwidth_per_migration = \"64Mi\";\n"
    "  completion_timeout_per_gib = 800;\n"
    "  progress_timeout = 60;\n"
    "  parallel_migrations_per_cluster = 10;\n"
    "  parallel_outbound_migrations_per_node = 3;\n"
    "  max_downtime_ms = 300;\n"
    "  allow_auto_converge = true;\n"
    "  allow_post_copy = true;\n"
    "  allow_workload_disruption = false;\n"
    "  disable_tls = true;\n"
    "  unsafe_migration_override = true;\n"
    "  outcome_timeout_s = 90;\n"
    "};\n";

static void test_orch_every_key(void **state)
{
    struct conf_orchestratord c;
    char err[ERRLEN];

    (void)state;
    assert_int_equal(orch_load(&c, orch_full, err), 0);
    assert_string_equal(c.listen, "[::1]:9443");
    assert_string_equal(c.database, "/srv/orch/db.sqlite");
    assert_int_equal(c.log_level, LOG_LEVEL_DEBUG);
    assert_string_equal(c.tls.certificate, "/etc/o/c.pem");
    assert_string_equal(c.tls.key, "/etc/o/k.pem");
    assert_int_equal(c.n_tokens, 2);
    assert_string_equal(c.tokens[0].name, "ops");
    assert_string_equal(c.tokens[0].token, "0123456789abcdef");
    assert_int_equal(c.tokens[0].role, CONF_ROLE_ADMIN);
    assert_string_equal(c.tokens[1].name, "dash");
    assert_string_equal(c.tokens[1].token, "abc-._~+/=ABC123");
    assert_int_equal(c.tokens[1].role, CONF_ROLE_VIEWER);
    assert_int_equal(c.limits.max_body_bytes, 2048);
    assert_int_equal(c.limits.max_depth, 8);
    assert_int_equal(c.limits.max_string_bytes, 1000);
    assert_int_equal(c.limits.max_items, 77);
    assert_int_equal(c.limits.max_connections, 9);
    assert_int_equal(c.limits.request_timeout_s, 5);
    assert_int_equal(c.limits.header_timeout_s, 3);
    assert_int_equal(c.limits.max_watchers, 4);
    assert_int_equal(c.limits.max_list_limit, 50);
    assert_false(c.feature_gates.live_migration);
    assert_string_equal(c.migrations.bandwidth_per_migration.text, "64Mi");
    assert_int_equal(c.migrations.bandwidth_per_migration.bytes, 67108864);
    assert_int_equal(c.migrations.completion_timeout_per_gib, 800);
    assert_int_equal(c.migrations.progress_timeout, 60);
    assert_int_equal(c.migrations.parallel_migrations_per_cluster, 10);
    assert_int_equal(c.migrations.parallel_outbound_migrations_per_node, 3);
    assert_int_equal(c.migrations.max_downtime_ms, 300);
    assert_true(c.migrations.allow_auto_converge);
    assert_true(c.migrations.allow_post_copy);
    /* Set explicitly: it does not follow allow_post_copy. */
    assert_false(c.migrations.allow_workload_disruption);
    assert_true(c.migrations.disable_tls);
    assert_true(c.migrations.unsafe_migration_override);
    assert_int_equal(c.migrations.outcome_timeout_s, 90);
    conf_orchestratord_clear(&c);
}

/* Unset, allow_workload_disruption follows allow_post_copy (KubeVirt). */
static void test_orch_workload_disruption_follows(void **state)
{
    struct conf_orchestratord c;
    char err[ERRLEN];

    (void)state;
    assert_int_equal(
        orch_load(&c, "migrations = { allow_post_copy = true; };", err), 0);
    assert_true(c.migrations.allow_workload_disruption);
    conf_orchestratord_clear(&c);
    assert_int_equal(orch_load(&c,
                               "migrations = { allow_post_copy = false; "
                               "allow_workload_disruption = true; };",
                               err),
                     0);
    assert_true(c.migrations.allow_workload_disruption);
    conf_orchestratord_clear(&c);
}

static void test_orch_syntax_error(void **state)
{
    (void)state;
    orch_bad("listen = \"127.0.0.1:1\";\n\nlimits = { max_depth = ; };\n",
             "t.conf:3: syntax error");
    orch_bad("log_level = \"info\";\nlisten \"127.0.0.1:1\";\n",
             "t.conf:2: syntax error");
    orch_bad("listen = \"127.0.0.1:1\";\nlisten = \"127.0.0.1:2\";\n",
             "t.conf:2: duplicate setting name");
    orch_bad("@include \"/etc/passwd\"\n",
             "t.conf:1: '@include' is not supported");
}

static void test_orch_unknown_keys(void **state)
{
    (void)state;
    orch_bad("\n\nlisen = \"127.0.0.1:8080\";\n",
             "t.conf:3: unknown key 'lisen'");
    orch_bad("limits = {\n  max_body_bytes = 4096;\n  max_bodyy = 5;\n};\n",
             "t.conf:3: unknown key 'limits.max_bodyy'");
    orch_bad("feature_gates = {\n  LiveMigration = true;\n"
             "  SRIOVLiveMigration = true;\n};\n",
             "t.conf:3: unknown feature gate 'SRIOVLiveMigration'");
    orch_bad("migrations = { bandwidthPerMigration = \"64Mi\"; };\n",
             "t.conf:1: unknown key 'migrations.bandwidthPerMigration'");
    orch_bad("tokens = ( { name = \"a\"; token = \"0123456789abcdef\";\n"
             "  role = \"admin\"; rolee = \"viewer\"; } );\n",
             "t.conf:2: unknown key 'tokens[0].rolee'");
    orch_bad("tls = { certificate = \"/c\"; key = \"/k\"; ca = \"/x\"; };",
             "t.conf:1: unknown key 'tls.ca'");
}

static void test_orch_listen(void **state)
{
    static const char *const bad[] = {
        "foo",         "1.2.3.4",      "1.2.3.4:",     "1.2.3.4:65536",
        "1.2.3.4:-1",  "1.2.3.4:+80",  "localhost:80", "::1:80",
        "[::1]80",     "[zz]:80",      "[]:80",        ":80",
        "1.2.3:80",    "1.2.3.4:8x",   "[::1]:",       "1.2.3.4:123456",
        "1.2.3.4 :80", "256.1.1.1:80",
    };
    static const char *const good[] = {
        "0.0.0.0:0",  "127.0.0.1:8080", "[::1]:8080",
        "[::]:65535", "198.18.0.1:1",
    };
    struct conf_orchestratord c;
    char text[256], want[ERRLEN], err[ERRLEN];

    (void)state;
    orch_bad("# orchestratord.conf\n\n\n\n\n\nlisten = \"foo\";\n",
             "t.conf:7: 'listen': invalid address \"foo\" (expected "
             "ADDR:PORT)");
    for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
        snprintf(text, sizeof(text), "listen = \"%s\";", bad[i]);
        snprintf(want, sizeof(want),
                 "t.conf:1: 'listen': invalid address \"%s\" (expected "
                 "ADDR:PORT)",
                 bad[i]);
        orch_bad(text, want);
    }
    for (size_t i = 0; i < sizeof(good) / sizeof(*good); i++) {
        snprintf(text, sizeof(text), "listen = \"%s\";", good[i]);
        assert_int_equal(orch_load(&c, text, err), 0);
        assert_string_equal(c.listen, good[i]);
        conf_orchestratord_clear(&c);
    }
    /* Control characters in a value are not echoed raw. */
    orch_bad("listen = \"a\\nb\";",
             "t.conf:1: 'listen': invalid address \"a?b\" (expected "
             "ADDR:PORT)");
}

static void test_addr_parse(void **state)
{
    struct conf_addr a;

    (void)state;
    assert_int_equal(conf_addr_parse("127.0.0.1:8080", &a), 0);
    assert_string_equal(a.host, "127.0.0.1");
    assert_int_equal(a.port, 8080);
    assert_true(conf_addr_is_loopback(&a));
    assert_int_equal(conf_addr_parse("[::1]:443", &a), 0);
    assert_string_equal(a.host, "::1");
    assert_int_equal(a.port, 443);
    assert_true(conf_addr_is_loopback(&a));
    assert_int_equal(conf_addr_parse("127.9.9.9:1", &a), 0);
    assert_true(conf_addr_is_loopback(&a));
    assert_int_equal(conf_addr_parse("[::ffff:127.0.0.1]:1", &a), 0);
    assert_true(conf_addr_is_loopback(&a));
    assert_int_equal(conf_addr_parse("0.0.0.0:80", &a), 0);
    assert_false(conf_addr_is_loopback(&a));
    assert_int_equal(conf_addr_parse("[::]:80", &a), 0);
    assert_false(conf_addr_is_loopback(&a));
    assert_int_equal(conf_addr_parse("128.0.0.1:80", &a), 0);
    assert_false(conf_addr_is_loopback(&a));
    assert_int_equal(conf_addr_parse("[fe80::1%eth0]:80", &a), -EINVAL);
    assert_int_equal(conf_addr_parse("", &a), -EINVAL);
}

static void test_orch_tokens(void **state)
{
    (void)state;
    orch_bad("tokens = (\n  { name = \"ops\"; token = \"0123456789abcdef\";\n"
             "    role = \"root\"; }\n);\n",
             "t.conf:3: 'tokens[0].role': invalid role \"root\" (expected "
             "admin, viewer or node)");
    orch_bad("tokens = (\n"
             "  { name = \"ops\"; token = \"0123456789abcdef\"; role = "
             "\"admin\"; },\n"
             "  { name = \"ops\"; token = \"fedcba9876543210\"; role = "
             "\"viewer\"; }\n);\n",
             "t.conf:3: 'tokens[1].name': duplicate name \"ops\"");
    /* A duplicate token is reported without printing the token. */
    orch_bad("tokens = (\n"
             "  { name = \"ops\"; token = \"0123456789abcdef\"; role = "
             "\"admin\"; },\n"
             "  { name = \"dash\"; token = \"0123456789abcdef\"; role = "
             "\"viewer\"; }\n);\n",
             "t.conf:3: 'tokens[1].token': same token as 'tokens[0]' "
             "(\"ops\")");
    orch_bad("tokens = ( { name = \"ops\"; token = \"short-secret\"; "
             "role = \"admin\"; } );",
             "t.conf:1: 'tokens[0].token': too short (at least 16 "
             "characters)");
    orch_bad("tokens = ( { name = \"ops\"; token = \"0123456789 abcdef\"; "
             "role = \"admin\"; } );",
             "t.conf:1: 'tokens[0].token': invalid character (expected "
             "letters, digits and -._~+/=)");
    orch_bad("tokens = (\n  { name = \"ops\"; token = \"0123456789abcdef\"; "
             "}\n);",
             "t.conf:2: 'tokens[0]': missing 'role'");
    orch_bad("tokens = ( { name = \"o p\"; token = \"0123456789abcdef\"; "
             "role = \"admin\"; } );",
             "t.conf:1: 'tokens[0].name': invalid name \"o p\" (expected 1 "
             "to 63 letters, digits, '-', '_' or '.')");
    orch_bad("tokens = ( { name = \"ops\"; token = 12; role = \"admin\"; } );",
             "t.conf:1: 'tokens[0].token': expected a string, got an "
             "integer");
    orch_bad("tokens = ( \"ops\" );",
             "t.conf:1: 'tokens[0]': expected a group, got a string");
    orch_bad("tokens = { name = \"ops\"; };",
             "t.conf:1: 'tokens': expected a list of groups, got a group");
}

/* A node token's name is the node it reports for, so it must be a node
 * name; the agent secret must differ from every API token. */
static void test_orch_node_tokens(void **state)
{
    struct conf_orchestratord c;
    char err[ERRLEN];
    (void)state;

    assert_int_equal(
        orch_load(&c,
                  "tokens = ( { name = \"host-a.lab\"; token = "
                  "\"0123456789abcdef\"; role = \"node\"; } );\n"
                  "node_monitor_grace_period_s = 5;\n"
                  "agent_token = \"fedcba9876543210\";\n"
                  "agent_cacert = \"/etc/orchestrator/agents-ca.pem\";\n",
                  err),
        0);
    assert_int_equal(c.n_tokens, 1);
    assert_int_equal(c.tokens[0].role, CONF_ROLE_NODE);
    assert_string_equal(c.tokens[0].name, "host-a.lab");
    assert_int_equal(c.node_monitor_grace_period_s, 5);
    assert_string_equal(c.agent_token, "fedcba9876543210");
    assert_string_equal(c.agent_cacert, "/etc/orchestrator/agents-ca.pem");
    conf_orchestratord_clear(&c);

    assert_int_equal(orch_load(&c, "", err), 0);
    assert_int_equal(c.node_monitor_grace_period_s, 40);
    assert_null(c.agent_token);
    assert_null(c.agent_cacert);
    conf_orchestratord_clear(&c);

    orch_bad("tokens = ( { name = \"Host_A\"; token = \"0123456789abcdef\"; "
             "role = \"node\"; } );",
             "t.conf:1: 'tokens[0].name': invalid node name \"Host_A\" (a "
             "node token's name is its host's node name: lowercase letters, "
             "digits, '-' and '.', starting and ending with a letter or "
             "digit)");
    orch_bad("tokens = ( { name = \"a-\"; token = \"0123456789abcdef\"; "
             "role = \"node\"; } );",
             "t.conf:1: 'tokens[0].name': invalid node name \"a-\" (a "
             "node token's name is its host's node name: lowercase letters, "
             "digits, '-' and '.', starting and ending with a letter or "
             "digit)");
    orch_bad("tokens = ( { name = \"ops\"; token = \"0123456789abcdef\"; "
             "role = \"admin\"; } );\nagent_token = \"0123456789abcdef\";",
             "t.conf:2: 'agent_token': same secret as 'tokens[0]' (\"ops\"); "
             "use a separate one");
    orch_bad("agent_token = \"short\";",
             "t.conf:1: 'agent_token': too short (at least 16 characters)");
    orch_bad("agent_cacert = \"ca.pem\";",
             "t.conf:1: 'agent_cacert': \"ca.pem\" is not an absolute path");
    orch_bad("node_monitor_grace_period_s = 0;",
             "t.conf:1: 'node_monitor_grace_period_s': value 0 out of range "
             "[1, 86400]");
}

static void test_orch_tls(void **state)
{
    struct conf_orchestratord c;
    char err[ERRLEN];

    (void)state;
    orch_bad("\ntls = { certificate = \"/etc/o/c.pem\"; };\n",
             "t.conf:2: 'tls': 'certificate' and 'key' must be set "
             "together");
    orch_bad("tls = {\n  key = \"/etc/o/k.pem\";\n};\n",
             "t.conf:1: 'tls': 'certificate' and 'key' must be set "
             "together");
    orch_bad("tls = { certificate = \"c.pem\"; key = \"/k.pem\"; };",
             "t.conf:1: 'tls.certificate': \"c.pem\" is not an absolute "
             "path");
    assert_int_equal(orch_load(&c, "tls = {};", err), 0);
    assert_null(c.tls.certificate);
    conf_orchestratord_clear(&c);
}

static void test_orch_values(void **state)
{
    struct conf_orchestratord c;
    char err[ERRLEN];

    (void)state;
    orch_bad("log_level = \"verbose\";",
             "t.conf:1: 'log_level': invalid level \"verbose\" (expected "
             "error, warn, info or debug)");
    orch_bad("database = \"orch.db\";",
             "t.conf:1: 'database': \"orch.db\" is not an absolute path or "
             "\":memory:\"");
    orch_bad("migrations = { bandwidth_per_migration = \"64MB\"; };",
             "t.conf:1: 'migrations.bandwidth_per_migration': invalid "
             "quantity \"64MB\" (expected e.g. 0, 100M, 64Mi, 1Gi)");
    orch_bad("migrations = { bandwidth_per_migration = \"2Ti\"; };",
             "t.conf:1: 'migrations.bandwidth_per_migration': value 2Ti out "
             "of range [0, 1099511627776]");
    orch_bad("migrations = { bandwidth_per_migration = "
             "\"99999999999999999999\"; };",
             "t.conf:1: 'migrations.bandwidth_per_migration': value "
             "99999999999999999999 out of range [0, 1099511627776]");
    orch_bad("migrations = {\n  progress_timeout = 0;\n};",
             "t.conf:2: 'migrations.progress_timeout': value 0 out of range "
             "[1, 86400]");
    orch_bad("migrations = { outcome_timeout_s = 86401; };",
             "t.conf:1: 'migrations.outcome_timeout_s': value 86401 out of "
             "range [1, 86400]");
    orch_bad("limits = { max_depth = 1.5; };",
             "t.conf:1: 'limits.max_depth': expected an integer, got a "
             "float");
    assert_int_equal(orch_load(&c, "database = \":memory:\";", err), 0);
    assert_string_equal(c.database, ":memory:");
    conf_orchestratord_clear(&c);
    assert_int_equal(orch_load(&c, "log_level = \"warn\";", err), 0);
    assert_int_equal(c.log_level, LOG_LEVEL_WARN);
    conf_orchestratord_clear(&c);
}

/* libconfig 1.5 wraps 32-bit overflow silently; conf must not let
 * 4294968320 (1 << 32 plus 1024) pass as 1024. */
static void test_integer_overflow(void **state)
{
    struct conf_orchestratord c;
    char err[ERRLEN];

    (void)state;
    orch_bad("limits = {\n  max_body_bytes = 4294968320;\n};",
             "t.conf:2: integer 4294968320 does not fit in 32 bits (write "
             "it with the suffix L for a 64-bit integer)");
    orch_bad("limits = { max_body_bytes = -2147483649; };",
             "t.conf:1: integer -2147483649 does not fit in 32 bits (write "
             "it with the suffix L for a 64-bit integer)");
    orch_bad("limits = { max_body_bytes = 0x100000400; };",
             "t.conf:1: integer 0x100000400 does not fit in 32 bits (write "
             "it with the suffix L for a 64-bit integer)");
    orch_bad("limits = { max_body_bytes = 99999999999999999999L; };",
             "t.conf:1: integer 99999999999999999999L does not fit in 64 "
             "bits");
    orch_bad("limits = { max_body_bytes = 4294968320L; };",
             "t.conf:1: 'limits.max_body_bytes': value 4294968320 out of "
             "range [1024, 1073741824]");
    /* Digits in names, strings and comments are not numbers; 64-bit and
     * hex literals in range are fine. */
    assert_int_equal(orch_load(&c,
                               "# 99999999999 in a comment\n"
                               "// 99999999999\n"
                               "/* 99999999999\n 99999999999 */\n"
                               "database = \"/srv/99999999999/\\\"x.db\";\n"
                               "limits = { max_body_bytes = 2048L; "
                               "max_items = 0x10; };\n"
                               "tokens = ( { name = \"n1\"; token = "
                               "\"99999999999999999999\"; role = \"admin\"; "
                               "} );\n",
                               err),
                     0);
    assert_string_equal(c.database, "/srv/99999999999/\"x.db");
    assert_int_equal(c.limits.max_body_bytes, 2048);
    assert_int_equal(c.limits.max_items, 16);
    conf_orchestratord_clear(&c);
}

/* A failed load leaves the previous configuration in place (reload). */
static void test_orch_failed_load_keeps_old(void **state)
{
    struct conf_orchestratord c;
    char err[ERRLEN];

    (void)state;
    assert_int_equal(orch_load(&c, orch_full, err), 0);
    assert_int_equal(
        conf_orchestratord_load_string(&c, "limits = { max_depth = 0; };",
                                       "bad.conf", err, ERRLEN),
        -EINVAL);
    assert_string_equal(err, "bad.conf:1: 'limits.max_depth': value 0 out of "
                             "range [2, 1000]");
    assert_int_equal(c.limits.max_depth, 8);
    assert_int_equal(c.n_tokens, 2);
    assert_string_equal(c.listen, "[::1]:9443");
    /* A good reload replaces everything, back to defaults where unset. */
    assert_int_equal(
        conf_orchestratord_load_string(&c, "limits = { max_depth = 9; };",
                                       "good.conf", err, ERRLEN),
        0);
    assert_int_equal(c.limits.max_depth, 9);
    assert_int_equal(c.n_tokens, 0);
    assert_string_equal(c.listen, "127.0.0.1:8080");
    conf_orchestratord_clear(&c);
}

static void test_orch_check(void **state)
{
    struct conf_orchestratord c;
    char err[ERRLEN];

    (void)state;
    assert_int_equal(orch_load(&c, "listen = \"0.0.0.0:8080\";", err), 0);
    assert_int_equal(conf_orchestratord_check(&c, err, ERRLEN), -EINVAL);
    assert_string_equal(err, "'listen': 0.0.0.0:8080 is not a loopback "
                             "address and no 'tokens' are configured");
    conf_orchestratord_clear(&c);
    assert_int_equal(orch_load(&c,
                               "listen = \"0.0.0.0:8080\";\n"
                               "tokens = ( { name = \"a\"; token = "
                               "\"0123456789abcdef\"; role = \"admin\"; } );",
                               err),
                     0);
    assert_int_equal(conf_orchestratord_check(&c, err, ERRLEN), 0);
    conf_orchestratord_clear(&c);
    assert_int_equal(orch_load(&c, "listen = \"[::1]:1\";", err), 0);
    assert_int_equal(conf_orchestratord_check(&c, err, ERRLEN), 0);
    conf_orchestratord_clear(&c);
}

static void test_quantities(void **state)
{
    static const struct {
        const char *text;
        uint64_t bytes;
    } good[] = {
        {"0", 0},
        {"0Mi", 0},
        {"64Mi", 67108864},
        {"1Gi", 1073741824},
        {"100M", 100000000},
        {"1k", 1000},
        {"512Ki", 524288},
        {"1Ti", 1099511627776ULL},
        {"+5", 5},
        /* The whole Kubernetes grammar, as a MigrationPolicy's
         * bandwidthPerMigration takes it. */
        {"1.5Gi", 1610612736},
        {"1e3", 1000},
        {"0.5k", 500},
    };
    static const char *const bad[] = {"",      "Mi",   "64MB", "1K",
                                      "64 Mi", "0x10", "64mi", "1e"};
    struct conf_orchestratord c;
    char text[256], want[ERRLEN], err[ERRLEN];

    (void)state;
    for (size_t i = 0; i < sizeof(good) / sizeof(*good); i++) {
        snprintf(text, sizeof(text),
                 "migrations = { bandwidth_per_migration = \"%s\"; };",
                 good[i].text);
        assert_int_equal(orch_load(&c, text, err), 0);
        assert_int_equal(c.migrations.bandwidth_per_migration.bytes,
                         good[i].bytes);
        assert_string_equal(c.migrations.bandwidth_per_migration.text,
                            good[i].text);
        conf_orchestratord_clear(&c);
    }
    for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
        snprintf(text, sizeof(text),
                 "migrations = { bandwidth_per_migration = \"%s\"; };", bad[i]);
        snprintf(want, sizeof(want),
                 "t.conf:1: 'migrations.bandwidth_per_migration': invalid "
                 "quantity \"%s\" (expected e.g. 0, 100M, 64Mi, 1Gi)",
                 bad[i]);
        orch_bad(text, want);
    }
}

/* ---------------------------------------------------------------------- */
/* migrator                                                                */

static void test_migr_defaults(void **state)
{
    struct conf_migrator c;
    char err[ERRLEN], host[256];

    (void)state;
    assert_int_equal(gethostname(host, sizeof(host)), 0);
    for (char *p = host; *p; p++)
        *p = (char)((*p >= 'A' && *p <= 'Z') ? *p - 'A' + 'a' : *p);
    assert_int_equal(migr_load(&c, "", err), 0);
    assert_string_equal(c.name, host);
    assert_string_equal(c.listen, "127.0.0.1:8081");
    assert_string_equal(c.libvirt_uri, "qemu:///system");
    assert_string_equal(c.orchestrator, "http://127.0.0.1:8080");
    assert_null(c.orchestrator_token);
    assert_null(c.orchestrator_cacert);
    assert_null(c.agent_token);
    assert_null(c.tls_certificate);
    assert_null(c.tls_key);
    assert_null(c.advertise_url);
    assert_int_equal(c.n_shared_storage, 0);
    assert_null(c.shared_storage);
    assert_string_equal(c.image_dir, "/var/lib/orchestrator/images");
    assert_null(c.pod_bridge);
    assert_string_equal(c.domain_type, "kvm");
    assert_string_equal(c.state_dir, "/var/lib/migrator");
    assert_string_equal(c.sysfs_root, "/sys");
    assert_true(c.sriov_program_vfs);
    assert_null(c.migration_address);
    assert_int_equal(c.migration_port_min, 49152);
    assert_int_equal(c.migration_port_max, 49215);
    assert_int_equal(c.n_labels, 0);
    assert_int_equal(c.n_networks, 0);
    assert_int_equal(c.log_level, LOG_LEVEL_INFO);
    assert_int_equal(c.report_interval_s, 10);
    conf_migrator_clear(&c);
    conf_migrator_clear(&c);
    conf_migrator_clear(NULL);
}

static const char migr_full[] =
    "name = \"host-a.lab\";\n"
    "listen = \"198.18.0.2:8081\";\n"
    "libvirt_uri = \"qemu+tcp://198.18.0.2/system\";\n"
    "orchestrator = \"https://orch.lab:8443/\";\n"
    "orchestrator_token = \"0123456789abcdefXYZ\";\n"
    "orchestrator_cacert = \"/etc/orch/ca.pem\";\n"
    "agent_token = \"agent-0123456789abcdef\";\n"
    "tls_certificate = \"/etc/orch/agent.crt\";\n"
    "tls_key = \"/etc/orch/agent.key\";\n"
    "advertise_url = \"https://host-a.lab:8081\";\n"
    "shared_storage = [ \"/mnt/nfs\", \"/var/lib/libvirt/shared/\" ];\n"
    "state_dir = \"/run/migrator\";\n"
    "sysfs_root = \"/tmp/fake-sys\";\n"
    "sriov_program_vfs = false;\n"
    "migration_address = \"fd00::2\";\n"
    "migration_port_min = 50000;\n"
    "migration_port_max = 50010;\n"
    "labels = [ \"topology.kubernetes.io/zone=rack1\", \"ssd=\", "
    "\"Tier=Gold_1\" ];\n"
    "networks = (\n"
    "  { name = \"sriov-net1\"; pf = \"ens1f0\"; vlan = 100; mode = "
    "\"hostdev\"; trust = true; spoofchk = false; },\n"
    "  { name = \"default/sriov-net2\"; pf = \"ens1f1\"; mode = "
    "\"macvtap\"; },\n"
    "  { name = \"sriov-net3\"; pf = \"ens1f2\"; mode = \"macvtap\"; "
    "migration = \"unplug\"; },\n"
    "  { name = \"lab-net\"; bridge = \"br0\"; }\n"
    ");\n"
    "image_dir = \"/srv/images\";\n"
    "pod_bridge = \"virbr1\";\n"
    "domain_type = \"qemu\";\n"
    "log_level = \"error\";\n"
    "report_interval_s = 30;\n";

static void test_migr_every_key(void **state)
{
    struct conf_migrator c;
    char err[ERRLEN];

    (void)state;
    assert_int_equal(migr_load(&c, migr_full, err), 0);
    assert_string_equal(c.name, "host-a.lab");
    assert_string_equal(c.listen, "198.18.0.2:8081");
    assert_string_equal(c.libvirt_uri, "qemu+tcp://198.18.0.2/system");
    assert_string_equal(c.orchestrator, "https://orch.lab:8443/");
    assert_string_equal(c.orchestrator_token, "0123456789abcdefXYZ");
    assert_string_equal(c.orchestrator_cacert, "/etc/orch/ca.pem");
    assert_string_equal(c.agent_token, "agent-0123456789abcdef");
    assert_string_equal(c.tls_certificate, "/etc/orch/agent.crt");
    assert_string_equal(c.tls_key, "/etc/orch/agent.key");
    assert_string_equal(c.advertise_url, "https://host-a.lab:8081");
    assert_int_equal(c.n_shared_storage, 2);
    assert_string_equal(c.shared_storage[0], "/mnt/nfs");
    assert_string_equal(c.shared_storage[1], "/var/lib/libvirt/shared/");
    assert_string_equal(c.state_dir, "/run/migrator");
    assert_string_equal(c.sysfs_root, "/tmp/fake-sys");
    assert_false(c.sriov_program_vfs);
    assert_string_equal(c.migration_address, "fd00::2");
    assert_int_equal(c.migration_port_min, 50000);
    assert_int_equal(c.migration_port_max, 50010);
    assert_int_equal(c.n_labels, 3);
    assert_string_equal(c.labels[0].key, "topology.kubernetes.io/zone");
    assert_string_equal(c.labels[0].value, "rack1");
    assert_string_equal(c.labels[1].key, "ssd");
    assert_string_equal(c.labels[1].value, "");
    assert_string_equal(c.labels[2].key, "Tier");
    assert_string_equal(c.labels[2].value, "Gold_1");
    assert_int_equal(c.n_networks, 4);
    assert_string_equal(c.networks[0].name, "sriov-net1");
    assert_string_equal(c.networks[0].pf, "ens1f0");
    assert_null(c.networks[0].bridge);
    assert_int_equal(c.networks[0].vlan, 100);
    assert_int_equal(c.networks[0].mode, CONF_NET_MODE_HOSTDEV);
    assert_int_equal(c.networks[0].trust, 1);
    assert_int_equal(c.networks[0].spoofchk, 0);
    assert_true(c.networks[0].unplug); /* hostdev: always */
    assert_string_equal(c.networks[1].name, "default/sriov-net2");
    assert_string_equal(c.networks[1].pf, "ens1f1");
    assert_int_equal(c.networks[1].vlan, 0);
    assert_int_equal(c.networks[1].mode, CONF_NET_MODE_MACVTAP);
    /* Unset: left as the driver has them. */
    assert_int_equal(c.networks[1].trust, -1);
    assert_int_equal(c.networks[1].spoofchk, -1);
    assert_false(c.networks[1].unplug); /* macvtap: in place by default */
    assert_int_equal(c.networks[2].mode, CONF_NET_MODE_MACVTAP);
    assert_true(c.networks[2].unplug);
    assert_string_equal(c.networks[3].name, "lab-net");
    assert_null(c.networks[3].pf);
    assert_string_equal(c.networks[3].bridge, "br0");
    assert_int_equal(c.networks[3].mode, CONF_NET_MODE_BRIDGE);
    assert_string_equal(c.image_dir, "/srv/images");
    assert_string_equal(c.pod_bridge, "virbr1");
    assert_string_equal(c.domain_type, "qemu");
    assert_int_equal(c.log_level, LOG_LEVEL_ERROR);
    assert_int_equal(c.report_interval_s, 30);
    conf_migrator_clear(&c);
}

static void test_migr_labels(void **state)
{
    static const char *const bad[] = {
        "novalue",
        "=v",
        "-a=b",
        "a-=b",
        "a=b c",
        "a=-b",
        "a/b/c=d",
        "Example.com/a=b",
        "/a=b",
        "a/=b",
        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa=b",
        "a=bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb",
    };
    char text[256], want[ERRLEN];

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
        snprintf(text, sizeof(text), "labels = [\n  \"ok=1\",\n  \"%s\" ];",
                 bad[i]);
        snprintf(want, sizeof(want),
                 "t.conf:3: 'labels[1]': invalid label \"%s\" (expected "
                 "key=value in Kubernetes label syntax)",
                 bad[i]);
        /* conf_quote() shortens long values in messages. */
        if (strlen(bad[i]) > 64)
            snprintf(want, sizeof(want),
                     "t.conf:3: 'labels[1]': invalid label \"%.64s...\" "
                     "(expected key=value in Kubernetes label syntax)",
                     bad[i]);
        migr_bad(text, want);
    }
    migr_bad("labels = [ \"a=1\", \"b=2\", \"a=3\" ];",
             "t.conf:1: 'labels[2]': duplicate label key 'a'");
    migr_bad("labels = [ 1, 2 ];",
             "t.conf:1: 'labels[0]': expected a string, got an integer");
    migr_bad("labels = \"a=b\";",
             "t.conf:1: 'labels': expected an array of \"key=value\" "
             "strings, got a string");
}

static void test_migr_networks(void **state)
{
    (void)state;
    migr_bad("networks = (\n  { name = \"n\"; pf = \"ens1f0\";\n"
             "    mode = \"passthrough\"; }\n);",
             "t.conf:3: 'networks[0].mode': invalid mode \"passthrough\" "
             "(expected hostdev or macvtap)");
    migr_bad("networks = ( { name = \"n\"; pf = \"ens1f0\"; vlan = 4095; } );",
             "t.conf:1: 'networks[0].vlan': value 4095 out of range [0, "
             "4094]");
    migr_bad("networks = ( { name = \"n\"; pf = \"ens1f0\"; vlan = -1; } );",
             "t.conf:1: 'networks[0].vlan': value -1 out of range [0, "
             "4094]");
    migr_bad("networks = (\n  { name = \"n\"; pf = \"ens1f0\"; },\n"
             "  { name = \"n\"; pf = \"ens1f1\"; }\n);",
             "t.conf:3: 'networks[1].name': duplicate network name \"n\"");
    migr_bad("networks = (\n  { name = \"n\"; }\n);",
             "t.conf:2: 'networks[0]': missing 'pf'");
    migr_bad("networks = ( { name = \"n\"; pf = \"ens1f0\"; trust = 1; } );",
             "t.conf:1: 'networks[0].trust': expected a boolean, got an "
             "integer");
    migr_bad("networks = ( { name = \"n\"; pf = \"ens1f0\";\n"
             "  spoofchk = \"on\"; } );",
             "t.conf:2: 'networks[0].spoofchk': expected a boolean, got a "
             "string");
    migr_bad("networks = ( { name = \"n\"; pf = \"ens1f0\";\n"
             "  migration = \"live\"; } );",
             "t.conf:2: 'networks[0].migration': invalid migration \"live\" "
             "(expected unplug or in-place)");
    migr_bad("networks = ( { name = \"n\"; pf = \"ens1f0\";\n"
             "  migration = \"in-place\"; } );",
             "t.conf:1: 'networks[0].migration': a hostdev VF cannot migrate "
             "in place (use \"unplug\" or mode \"macvtap\")");
    migr_bad("networks = ( { name = \"n\"; bridge = \"br0\";\n"
             "  migration = \"unplug\"; } );",
             "t.conf:1: 'networks[0]': a 'bridge' network takes no "
             "'migration'");
    migr_bad("networks = ( { name = \"n\"; pf = \"ens1f0\"; vf = 1; } );",
             "t.conf:1: unknown key 'networks[0].vf'");
    migr_bad("networks = ( { name = \"n\"; pf = \"a-very-long-ifname\"; } );",
             "t.conf:1: 'networks[0].pf': invalid interface name "
             "\"a-very-long-ifname\"");
    migr_bad("networks = ( { name = \"n n\"; pf = \"ens1f0\"; } );",
             "t.conf:1: 'networks[0].name': invalid network name \"n n\"");
    migr_bad("networks = ( { name = \"n\"; pf = \"ens1f0\"; bridge = \"br0\"; "
             "} );",
             "t.conf:1: 'networks[0]': 'pf' and 'bridge' exclude each other");
    migr_bad("networks = ( { name = \"n\"; bridge = \"br0\"; vlan = 5; } );",
             "t.conf:1: 'networks[0]': a 'bridge' network takes no 'vlan'");
    migr_bad("networks = ( { name = \"n\"; bridge = \"br0\"; mode = "
             "\"macvtap\"; } );",
             "t.conf:1: 'networks[0]': a 'bridge' network takes no 'mode'");
    migr_bad("networks = ( { name = \"n\"; bridge = \"br 0\"; } );",
             "t.conf:1: 'networks[0].bridge': invalid interface name "
             "\"br 0\"");
    migr_bad("image_dir = \"images\";",
             "t.conf:1: 'image_dir': \"images\" is not an absolute path");
    migr_bad("domain_type = \"xen\";",
             "t.conf:1: 'domain_type': invalid domain type \"xen\" (expected "
             "kvm or qemu)");
    migr_bad("pod_bridge = \"a/b\";",
             "t.conf:1: 'pod_bridge': invalid interface name \"a/b\"");
    migr_bad("networks = ( { name = \"n\"; pf = \"ens1f0\"; vlan = \"1\"; } );",
             "t.conf:1: 'networks[0].vlan': expected an integer, got a "
             "string");
}

static void test_migr_values(void **state)
{
    (void)state;
    migr_bad("\nmigration_port_min = 50000;\nmigration_port_max = 49999;\n",
             "t.conf:2: 'migration_port_min' 50000 is above "
             "'migration_port_max' 49999");
    migr_bad("migration_port_min = 50000;",
             "t.conf:1: 'migration_port_min' 50000 is above "
             "'migration_port_max' 49215");
    migr_bad("name = \"Host_A\";",
             "t.conf:1: 'name': invalid host name \"Host_A\" (expected "
             "lowercase letters, digits, '-' and '.')");
    migr_bad("name = \"a..b\";",
             "t.conf:1: 'name': invalid host name \"a..b\" (expected "
             "lowercase letters, digits, '-' and '.')");
    migr_bad("orchestrator = \"ftp://x\";",
             "t.conf:1: 'orchestrator': invalid URL \"ftp://x\" (expected "
             "http[s]://HOST[:PORT][/PATH])");
    migr_bad("orchestrator = \"http://\";",
             "t.conf:1: 'orchestrator': invalid URL \"http://\" (expected "
             "http[s]://HOST[:PORT][/PATH])");
    migr_bad("libvirt_uri = \"qemu\";",
             "t.conf:1: 'libvirt_uri': invalid libvirt URI \"qemu\" "
             "(expected e.g. qemu:///system)");
    migr_bad("migration_address = \"1.2.3\";",
             "t.conf:1: 'migration_address': invalid IP address \"1.2.3\"");
    migr_bad("orchestrator_token = \"abc\";",
             "t.conf:1: 'orchestrator_token': too short (at least 16 "
             "characters)");
    migr_bad("agent_token = \"abc def 0123456789\";",
             "t.conf:1: 'agent_token': invalid character (expected "
             "letters, digits and -._~+/=)");
    migr_bad("advertise_url = \"198.18.0.2:8081\";",
             "t.conf:1: 'advertise_url': invalid URL \"198.18.0.2:8081\" "
             "(expected http[s]://HOST[:PORT][/PATH])");
    migr_bad("\ntls_certificate = \"/etc/a.crt\";\n",
             "t.conf:2: 'tls_certificate' and 'tls_key' must be set "
             "together");
    migr_bad("tls_key = \"/etc/a.key\";",
             "t.conf:1: 'tls_certificate' and 'tls_key' must be set "
             "together");
    migr_bad("tls_key = \"a.key\";",
             "t.conf:1: 'tls_key': \"a.key\" is not an absolute path");
    migr_bad("shared_storage = [ \"/mnt/nfs\",\n \"nfs\" ];",
             "t.conf:2: 'shared_storage[1]': \"nfs\" is not an absolute "
             "path");
    migr_bad("shared_storage = \"/mnt/nfs\";",
             "t.conf:1: 'shared_storage': expected an array of absolute "
             "paths, got a string");
    migr_bad("shared_storage = ( \"/mnt\", 1 );",
             "t.conf:1: 'shared_storage[1]': expected a string, got an "
             "integer");
    migr_bad("sysfs_root = \"sys\";",
             "t.conf:1: 'sysfs_root': \"sys\" is not an absolute path");
}

/* The one 'token' of old is refused with a message naming both keys that
 * replace it, whatever its value. */
static void test_migr_token_removed(void **state)
{
    const char *want = "t.conf:2: 'token': no longer read: set "
                       "'orchestrator_token' (presented to orchestratord) "
                       "and 'agent_token' (required from orchestratord on "
                       "the agent API) instead";

    (void)state;
    migr_bad("# old file\ntoken = \"0123456789abcdefXYZ\";\n", want);
    migr_bad("# old file\ntoken = 5;\n", want);
}

/* ---------------------------------------------------------------------- */
/* Files                                                                   */

static void test_load_file(void **state)
{
    struct tmp *t = *state;
    struct conf_orchestratord c;
    char err[ERRLEN], want[ERRLEN], path[TPATH + 16];
    const char *good, *bad;

    assert_int_equal(conf_orchestratord_init(&c), 0);
    good = tmp_write(t, "good.conf", "listen = \"127.0.0.1:9999\";\n");
    assert_int_equal(conf_orchestratord_load_file(&c, good, err, ERRLEN), 0);
    assert_string_equal(c.listen, "127.0.0.1:9999");

    bad = tmp_write(t, "bad.conf", "# comment\nlimits = { max_depth = 0; };");
    assert_int_equal(conf_orchestratord_load_file(&c, bad, err, ERRLEN),
                     -EINVAL);
    snprintf(want, sizeof(want),
             "%s:2: 'limits.max_depth': value 0 out of range [2, 1000]", bad);
    assert_string_equal(err, want);
    assert_string_equal(c.listen, "127.0.0.1:9999");

    bad = tmp_write(t, "syntax.conf", "a = 1;\nb = = 2;\n");
    assert_int_equal(conf_orchestratord_load_file(&c, bad, err, ERRLEN),
                     -EINVAL);
    snprintf(want, sizeof(want), "%s:2: syntax error", bad);
    assert_string_equal(err, want);

    snprintf(path, sizeof(path), "%s/missing.conf", t->dir);
    assert_int_equal(conf_orchestratord_load_file(&c, path, err, ERRLEN),
                     -ENOENT);
    snprintf(want, sizeof(want), "%s: cannot open: No such file or directory",
             path);
    assert_string_equal(err, want);

    assert_int_equal(conf_orchestratord_load_file(&c, t->dir, err, ERRLEN),
                     -EISDIR);
    snprintf(want, sizeof(want), "%s: is a directory", t->dir);
    assert_string_equal(err, want);
    conf_orchestratord_clear(&c);
}

/* An unreadable file gives -EACCES.  Root reads anything, so as root the
 * check runs in a child that has dropped to the nobody user. */
static int eacces_check(const char *path)
{
    struct conf_migrator c;
    char err[ERRLEN], want[ERRLEN];
    int ok;

    if (conf_migrator_init(&c) < 0)
        return 0;
    ok = conf_migrator_load_file(&c, path, err, ERRLEN) == -EACCES;
    snprintf(want, sizeof(want), "%s: cannot open: Permission denied", path);
    ok = ok && strcmp(err, want) == 0;
    if (!ok)
        fprintf(stderr, "eacces_check: got '%s'\n", err);
    conf_migrator_clear(&c);
    return ok;
}

static void test_load_file_eacces(void **state)
{
    struct tmp *t = *state;
    const char *path = tmp_write(t, "secret.conf", "log_level = \"info\";");
    pid_t pid;
    int status;

    assert_int_equal(chmod(path, 0), 0);
    if (geteuid() != 0) {
        assert_true(eacces_check(path));
        return;
    }
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        if (setgid(65534) < 0 || setuid(65534) < 0)
            _exit(2);
        _exit(eacces_check(path) ? 0 : 1);
    }
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
}

static void test_load_file_nul(void **state)
{
    struct tmp *t = *state;
    struct conf_migrator c;
    char err[ERRLEN], want[ERRLEN], path[TPATH + 16];
    static const char text[] = "log_level = \"info\";\nname = \"a\0b\";\n";
    FILE *f;

    snprintf(path, sizeof(path), "%s/nul.conf", t->dir);
    f = fopen(path, "w");
    assert_non_null(f);
    assert_int_equal(fwrite(text, 1, sizeof(text) - 1, f), sizeof(text) - 1);
    fclose(f);
    assert_int_equal(conf_migrator_init(&c), 0);
    assert_int_equal(conf_migrator_load_file(&c, path, err, ERRLEN), -EINVAL);
    snprintf(want, sizeof(want), "%s:2: NUL byte in the file", path);
    assert_string_equal(err, want);
    conf_migrator_clear(&c);
    unlink(path);
}

/* ---------------------------------------------------------------------- */
/* Command lines                                                           */

static void test_orch_args(void **state)
{
    struct conf_orchestratord_args a;
    struct conf_orchestratord c;
    char err[ERRLEN];
    char *good[] = {"orchestratord", "-f",         "/x.conf",
                    "--listen",      "[::1]:1234", "--db",
                    "/tmp/o.db",     "-n",         NULL};
    char *help[] = {"orchestratord", "--help", NULL};
    char *eq[] = {"orchestratord", "--listen=127.0.0.1:1", "--config=/c", NULL};

    (void)state;
    assert_int_equal(conf_orchestratord_args_parse(&a, 8, good, err, ERRLEN),
                     0);
    assert_string_equal(a.config_path, "/x.conf");
    assert_string_equal(a.listen, "[::1]:1234");
    assert_string_equal(a.database, "/tmp/o.db");
    assert_true(a.check_only);
    assert_false(a.help);

    /* Flags override the file. */
    assert_int_equal(orch_load(&c,
                               "listen = \"127.0.0.1:5\";\n"
                               "database = \"/file.db\";\n"
                               "log_level = \"warn\";\n",
                               err),
                     0);
    assert_int_equal(conf_orchestratord_args_apply(&c, &a), 0);
    assert_string_equal(c.listen, "[::1]:1234");
    assert_string_equal(c.database, "/tmp/o.db");
    assert_int_equal(c.log_level, LOG_LEVEL_WARN);
    conf_orchestratord_clear(&c);

    assert_int_equal(conf_orchestratord_args_parse(&a, 2, help, err, ERRLEN),
                     0);
    assert_true(a.help);
    assert_null(a.config_path);
    assert_int_equal(conf_orchestratord_args_parse(&a, 3, eq, err, ERRLEN), 0);
    assert_string_equal(a.listen, "127.0.0.1:1");
    assert_string_equal(a.config_path, "/c");
    /* Without flags, applying changes nothing. */
    assert_int_equal(orch_load(&c, "", err), 0);
    a = (struct conf_orchestratord_args){0};
    assert_int_equal(conf_orchestratord_args_apply(&c, &a), 0);
    assert_string_equal(c.listen, "127.0.0.1:8080");
    conf_orchestratord_clear(&c);
}

/* Each usage error and its message. */
static void test_args_errors(void **state)
{
    static const struct {
        bool migrator;
        const char *argv[5];
        const char *msg;
    } cases[] = {
        {false,
         {"orchestratord", "--listen", "foo"},
         "'--listen': invalid address \"foo\" (expected ADDR:PORT)"},
        {false,
         {"orchestratord", "--db", "rel.db"},
         "'--db': \"rel.db\" is not an absolute path or \":memory:\""},
        {false, {"orchestratord", "-x"}, "unknown option '-x'"},
        {false, {"orchestratord", "--bogus"}, "unknown option '--bogus'"},
        {false, {"orchestratord", "-f"}, "option '-f' needs an argument"},
        {false, {"orchestratord", "-nf"}, "option '-f' needs an argument"},
        {false,
         {"orchestratord", "--listen"},
         "option '--listen' needs an argument"},
        {false,
         {"orchestratord", "-n", "extra"},
         "unexpected argument 'extra'"},
        {false, {"orchestratord", "-f", ""}, "'-f': empty file name"},
        {false,
         {"orchestratord", "--check=yes"},
         "option '--check' takes no argument"},
        {true,
         {"migrator", "--libvirt", "nonsense"},
         "'--libvirt': invalid libvirt URI \"nonsense\" (expected e.g. "
         "qemu:///system)"},
        {true,
         {"migrator", "--name", "UPPER"},
         "'--name': invalid host name \"UPPER\" (expected lowercase "
         "letters, digits, '-' and '.')"},
        {true,
         {"migrator", "--orchestrator", "127.0.0.1:8080"},
         "'--orchestrator': invalid URL \"127.0.0.1:8080\" (expected "
         "http[s]://HOST[:PORT][/PATH])"},
        {true,
         {"migrator", "--listen", "1.2.3.4"},
         "'--listen': invalid address \"1.2.3.4\" (expected ADDR:PORT)"},
        {true, {"migrator", "--db", "/x"}, "unknown option '--db'"},
        {true, {"migrator", "-q"}, "unknown option '-q'"},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
        char *argv[6] = {0};
        int argc = 0;
        char err[ERRLEN] = "";

        for (; cases[i].argv[argc]; argc++)
            argv[argc] = (char *)cases[i].argv[argc];
        if (cases[i].migrator) {
            struct conf_migrator_args a;
            assert_int_equal(
                conf_migrator_args_parse(&a, argc, argv, err, ERRLEN), -EINVAL);
        } else {
            struct conf_orchestratord_args a;
            assert_int_equal(
                conf_orchestratord_args_parse(&a, argc, argv, err, ERRLEN),
                -EINVAL);
        }
        assert_string_equal(err, cases[i].msg);
    }
}

static void test_migr_args(void **state)
{
    struct conf_migrator_args a;
    struct conf_migrator c;
    char err[ERRLEN];
    char *argv[] = {"migrator",
                    "-f",
                    "/m.conf",
                    "--listen",
                    "0.0.0.0:9000",
                    "--libvirt",
                    "test:///default",
                    "--name",
                    "host-b",
                    "--orchestrator",
                    "http://198.18.0.1:8080",
                    "-n",
                    NULL};

    (void)state;
    assert_int_equal(conf_migrator_args_parse(&a, 12, argv, err, ERRLEN), 0);
    assert_string_equal(a.config_path, "/m.conf");
    assert_true(a.check_only);
    assert_int_equal(migr_load(&c,
                               "name = \"from-file\";\n"
                               "libvirt_uri = \"qemu:///session\";\n"
                               "report_interval_s = 7;\n",
                               err),
                     0);
    assert_int_equal(conf_migrator_args_apply(&c, &a), 0);
    assert_string_equal(c.listen, "0.0.0.0:9000");
    assert_string_equal(c.libvirt_uri, "test:///default");
    assert_string_equal(c.name, "host-b");
    assert_string_equal(c.orchestrator, "http://198.18.0.1:8080");
    assert_int_equal(c.report_interval_s, 7);
    conf_migrator_clear(&c);
}

/* ---------------------------------------------------------------------- */
/* The daemons run as processes                                            */

static void test_exec_orchestratord(void **state)
{
    struct tmp *t = *state;
    char bin[TPATH], example[TPATH], out[4096], err[4096], want[ERRLEN];
    const char *bad, *open;

    snprintf(bin, sizeof(bin), "%s/bin/orchestratord", build_dir());
    snprintf(example, sizeof(example), "%s/conf/orchestratord.conf", top_dir());
    {
        char *argv[] = {bin, "-n", "-f", example, NULL};
        assert_int_equal(run(argv, out, sizeof(out), err, sizeof(err)), 0);
        assert_string_equal(out, "orchestratord: configuration ok\n");
        assert_string_equal(err, "");
    }
    bad = tmp_write(t, "bad.conf",
                    "# bad\nlisten = \"127.0.0.1:8080\";\nlisen = 1;\n");
    {
        char *argv[] = {bin, "-n", "-f", (char *)bad, NULL};
        assert_int_equal(run(argv, out, sizeof(out), err, sizeof(err)), 1);
        snprintf(want, sizeof(want),
                 "orchestratord: error: %s:3: unknown key 'lisen'\n", bad);
        assert_string_equal(err, want);
        assert_string_equal(out, "");
    }
    /* The file listens on all addresses without tokens: refused, unless
     * --listen overrides it with loopback. */
    open = tmp_write(t, "open.conf", "listen = \"0.0.0.0:8080\";\n");
    {
        char *argv[] = {bin, "-n", "-f", (char *)open, NULL};
        assert_int_equal(run(argv, out, sizeof(out), err, sizeof(err)), 1);
        assert_string_equal(err, "orchestratord: error: 'listen': "
                                 "0.0.0.0:8080 is not a loopback address "
                                 "and no 'tokens' are configured\n");
    }
    {
        char *argv[] = {bin,        "-n",       "-f", (char *)open,
                        "--listen", "[::1]:80", NULL};
        assert_int_equal(run(argv, out, sizeof(out), err, sizeof(err)), 0);
        assert_string_equal(out, "orchestratord: configuration ok\n");
    }
    {
        char *argv[] = {bin, "-n", "--bogus", NULL};
        assert_int_equal(run(argv, out, sizeof(out), err, sizeof(err)), 2);
        assert_string_equal(err, "orchestratord: error: unknown option "
                                 "'--bogus'\ntry 'orchestratord -h'\n");
    }
    {
        char missing[TPATH + 16];
        snprintf(missing, sizeof(missing), "%s/none.conf", t->dir);
        char *argv[] = {bin, "-n", "-f", missing, NULL};
        assert_int_equal(run(argv, out, sizeof(out), err, sizeof(err)), 1);
        snprintf(want, sizeof(want),
                 "orchestratord: error: %s: cannot open: No such file or "
                 "directory\n",
                 missing);
        assert_string_equal(err, want);
    }
    {
        char *argv[] = {bin, "-h", NULL};
        assert_int_equal(run(argv, out, sizeof(out), err, sizeof(err)), 0);
        assert_string_equal(out, conf_orchestratord_usage);
    }
    /* Not -n: past the configuration it opens the database, and says
     * which one when it cannot. */
    {
        char db[TPATH + 32];
        snprintf(db, sizeof(db), "%s/no/such/dir/orch.db", t->dir);
        char *argv[] = {bin, "-f", example, "--db", db, NULL};
        assert_int_equal(run(argv, out, sizeof(out), err, sizeof(err)), 1);
        snprintf(want, sizeof(want),
                 "orchestratord: error: database '%s': ", db);
        assert_true(strncmp(err, want, strlen(want)) == 0);
    }
}

static void test_exec_migrator(void **state)
{
    struct tmp *t = *state;
    char bin[TPATH], example[TPATH], out[4096], err[4096], want[ERRLEN];
    const char *bad;

    snprintf(bin, sizeof(bin), "%s/bin/migrator", build_dir());
    snprintf(example, sizeof(example), "%s/conf/migrator.conf", top_dir());
    {
        char *argv[] = {bin,      "-n",     "-f",        example,
                        "--name", "host-c", "--libvirt", "test:///default",
                        NULL};
        assert_int_equal(run(argv, out, sizeof(out), err, sizeof(err)), 0);
        assert_string_equal(out, "migrator: configuration ok\n");
        assert_string_equal(err, "");
    }
    bad = tmp_write(t, "bad.conf",
                    "networks = (\n  { name = \"n\"; pf = \"ens1f0\"; "
                    "mode = \"sriov\"; }\n);\n");
    {
        char *argv[] = {bin, "-n", "-f", (char *)bad, NULL};
        assert_int_equal(run(argv, out, sizeof(out), err, sizeof(err)), 1);
        snprintf(want, sizeof(want),
                 "migrator: error: %s:2: 'networks[0].mode': invalid mode "
                 "\"sriov\" (expected hostdev or macvtap)\n",
                 bad);
        assert_string_equal(err, want);
    }
    {
        char *argv[] = {bin, "-n", "--orchestrator", "x", NULL};
        assert_int_equal(run(argv, out, sizeof(out), err, sizeof(err)), 2);
        assert_string_equal(err, "migrator: error: '--orchestrator': invalid "
                                 "URL \"x\" (expected "
                                 "http[s]://HOST[:PORT][/PATH])\ntry "
                                 "'migrator -h'\n");
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table_ranges),
        cmocka_unit_test(test_table_wrong_types),
        cmocka_unit_test(test_table_unknown_keys),
        cmocka_unit_test(test_table_string_checks),
        cmocka_unit_test(test_examples),
        cmocka_unit_test(test_orch_defaults),
        cmocka_unit_test(test_orch_every_key),
        cmocka_unit_test(test_orch_workload_disruption_follows),
        cmocka_unit_test(test_orch_syntax_error),
        cmocka_unit_test(test_orch_unknown_keys),
        cmocka_unit_test(test_orch_listen),
        cmocka_unit_test(test_addr_parse),
        cmocka_unit_test(test_orch_tokens),
        cmocka_unit_test(test_orch_node_tokens),
        cmocka_unit_test(test_orch_tls),
        cmocka_unit_test(test_orch_values),
        cmocka_unit_test(test_integer_overflow),
        cmocka_unit_test(test_orch_failed_load_keeps_old),
        cmocka_unit_test(test_orch_check),
        cmocka_unit_test(test_quantities),
        cmocka_unit_test(test_migr_defaults),
        cmocka_unit_test(test_migr_every_key),
        cmocka_unit_test(test_migr_labels),
        cmocka_unit_test(test_migr_networks),
        cmocka_unit_test(test_migr_values),
        cmocka_unit_test(test_migr_token_removed),
        cmocka_unit_test_setup_teardown(test_load_file, tmp_setup,
                                        tmp_teardown),
        cmocka_unit_test_setup_teardown(test_load_file_eacces, tmp_setup,
                                        tmp_teardown),
        cmocka_unit_test_setup_teardown(test_load_file_nul, tmp_setup,
                                        tmp_teardown),
        cmocka_unit_test(test_orch_args),
        cmocka_unit_test(test_args_errors),
        cmocka_unit_test(test_migr_args),
        cmocka_unit_test_setup_teardown(test_exec_orchestratord, tmp_setup,
                                        tmp_teardown),
        cmocka_unit_test_setup_teardown(test_exec_migrator, tmp_setup,
                                        tmp_teardown),
    };
    return cmocka_run_group_tests_name("conf", tests, NULL, NULL);
}
