/*
 * Store benchmark: inserts batched in transactions, inserts one transaction
 * each, and random gets from a file holding 100000 migration records.  The
 * database is a real file in a temporary directory, in the store's default
 * durability (WAL, synchronous=NORMAL).  Prints "bench: NAME VALUE UNIT".
 *
 * Goals (issue 3): store_insert_batched_per_s >= 20000,
 * store_insert_single_per_s >= 2000, store_get_p99_us <= 200.
 *
 * The machine is shared, so the same run also measures a baseline that
 * involves none of our code: plain SQLite inserting the same JSON texts
 * into a one-table schema (sqlite_raw_insert_batched_per_s).  The ratio of
 * a store figure to it says more than the figure alone.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sqlite3.h>

#include "store/store.h"

#define N_RECORDS   100000
#define BATCH       1000
#define SEGMENTS    5 /* the fill is timed in this many parts */
#define SINGLE_RUNS 3
#define SINGLE_N    1000
#define N_GETS      100000

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what, int r)
{
    fprintf(stderr, "bench_store: %s: %s\n", what, strerror(-r));
    exit(1);
}

static double cpu_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof(*v), cmp_double);
    return v[n / 2];
}

/* A finished migration as the controller leaves it: the seed's
 * migration.yaml plus KubeVirt's status (about 1.5 KB of JSON). */
static json_t *make_vmim_template(void)
{
    json_t *obj = json_loads(
        "{\"apiVersion\":\"kubevirt.io/v1\","
        "\"kind\":\"VirtualMachineInstanceMigration\","
        "\"metadata\":{\"name\":\"x\",\"namespace\":\"default\","
        "\"labels\":{\"kubevirt.io/vmi-name\":\"vmi-fedora\"},"
        "\"annotations\":{\"orchctl/requested-by\":\"cron-drain\"},"
        "\"finalizers\":[\"kubevirt.io/migrationJobFinalize\"]},"
        "\"spec\":{\"vmiName\":\"vmi-fedora\","
        "\"addedNodeSelector\":{\"rack\":\"r2\"}},"
        "\"status\":{\"phase\":\"Succeeded\","
        "\"phaseTransitionTimestamps\":["
        "{\"phase\":\"Pending\",\"phaseTransitionTimestamp\":"
        "\"2024-05-01T10:00:00Z\"},"
        "{\"phase\":\"Scheduling\",\"phaseTransitionTimestamp\":"
        "\"2024-05-01T10:00:01Z\"},"
        "{\"phase\":\"Scheduled\",\"phaseTransitionTimestamp\":"
        "\"2024-05-01T10:00:02Z\"},"
        "{\"phase\":\"PreparingTarget\",\"phaseTransitionTimestamp\":"
        "\"2024-05-01T10:00:02Z\"},"
        "{\"phase\":\"TargetReady\",\"phaseTransitionTimestamp\":"
        "\"2024-05-01T10:00:05Z\"},"
        "{\"phase\":\"Running\",\"phaseTransitionTimestamp\":"
        "\"2024-05-01T10:00:05Z\"},"
        "{\"phase\":\"Succeeded\",\"phaseTransitionTimestamp\":"
        "\"2024-05-01T10:00:31Z\"}],"
        "\"migrationState\":{\"sourceNode\":\"host-a\","
        "\"targetNode\":\"host-b\",\"targetNodeAddress\":\"192.168.122.12\","
        "\"targetDirectMigrationNodePorts\":{\"49152\":0,\"49153\":49152},"
        "\"startTimestamp\":\"2024-05-01T10:00:05Z\","
        "\"endTimestamp\":\"2024-05-01T10:00:31Z\","
        "\"targetNodeDomainDetected\":true,"
        "\"targetNodeDomainReadyTimestamp\":\"2024-05-01T10:00:31Z\","
        "\"completed\":true,\"failed\":false,\"abortRequested\":false,"
        "\"migrationUid\":\"5c1b9f3e-8c0e-4d7e-9a51-0d7f0f3c2a11\","
        "\"mode\":\"PreCopy\",\"migrationPolicyName\":\"default-policy\","
        "\"migrationConfiguration\":{\"allowAutoConverge\":false,"
        "\"allowPostCopy\":false,\"allowWorkloadDisruption\":false,"
        "\"bandwidthPerMigration\":\"0Mi\",\"completionTimeoutPerGiB\":150,"
        "\"parallelMigrationsPerCluster\":5,"
        "\"parallelOutboundMigrationsPerNode\":2,\"progressTimeout\":150,"
        "\"unsafeMigrationOverride\":false,\"disableTLS\":false}},"
        "\"conditions\":[{\"type\":\"Ready\",\"status\":\"True\","
        "\"lastProbeTime\":null,"
        "\"lastTransitionTime\":\"2024-05-01T10:00:31Z\"}]}}",
        0, NULL);
    if (!obj)
        die("template", -EINVAL);
    return obj;
}

static json_t *make_vmim(const json_t *tmpl, const char *prefix, int i)
{
    json_t *obj = json_deep_copy(tmpl);
    char name[64], vmi[64];
    snprintf(name, sizeof(name), "%s-%06d", prefix, i);
    snprintf(vmi, sizeof(vmi), "vmi-%05d", i % 20000);
    json_object_set_new(json_object_get(obj, "metadata"), "name",
                        json_string(name));
    json_object_set_new(json_object_get(obj, "spec"), "vmiName",
                        json_string(vmi));
    return obj;
}

static struct store *open_file(const char *dir, const char *file)
{
    char path[512], err[256];
    struct store *st = NULL;
    int r;
    snprintf(path, sizeof(path), "%s/%s", dir, file);
    r = store_open(path, NULL, &st, err, sizeof(err));
    if (r < 0) {
        fprintf(stderr, "bench_store: cannot open '%s': %s\n", path, err);
        exit(1);
    }
    return st;
}

static void insert_one(struct store *st, const json_t *tmpl, const char *prefix,
                       int i)
{
    json_t *obj = make_vmim(tmpl, prefix, i);
    int r = store_create(st, STORE_KIND_MIGRATION, obj);
    if (r < 0)
        die("store_create", r);
    json_decref(obj);
}

/* Batched inserts into ST: N records named PREFIX-i, BATCH per
 * transaction, timed in SEGMENTS parts; returns the median part's rate.
 * The objects are the caller's (decoded from requests): each batch is built
 * before the clock starts. */
static double insert_batched(struct store *st, const json_t *tmpl,
                             const char *prefix, int n)
{
    double rates[SEGMENTS];
    json_t **batch = calloc(BATCH, sizeof(*batch));
    int per = n / SEGMENTS, r;

    if (!batch)
        die("calloc", -ENOMEM);
    for (int s = 0; s < SEGMENTS; s++) {
        double spent = 0, cpu = 0;
        for (int b = 0; b < per; b += BATCH) {
            double t0, c0;
            for (int i = 0; i < BATCH; i++)
                batch[i] = make_vmim(tmpl, prefix, s * per + b + i);
            t0 = now_s();
            c0 = cpu_s();
            if ((r = store_txn_begin(st)) < 0)
                die("store_txn_begin", r);
            for (int i = 0; i < BATCH; i++)
                if ((r = store_create(st, STORE_KIND_MIGRATION, batch[i])) < 0)
                    die("store_create", r);
            if ((r = store_txn_commit(st)) < 0)
                die("store_txn_commit", r);
            spent += now_s() - t0;
            cpu += cpu_s() - c0;
            for (int i = 0; i < BATCH; i++)
                json_decref(batch[i]);
        }
        rates[s] = per / spent;
        if (getenv("BENCH_VERBOSE"))
            fprintf(stderr, "%s segment %d: %.0f/s, %.1f us cpu each\n", prefix,
                    s, rates[s], cpu / per * 1e6);
    }
    free(batch);
    return median(rates, SEGMENTS);
}

static void raw_exec(sqlite3 *db, const char *sql)
{
    char *msg = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        fprintf(stderr, "bench_store: raw sqlite: %s: %s\n", sql, msg);
        exit(1);
    }
}

/* The baseline: the same batches of JSON texts (each object as the store
 * would write it: uid, timestamps and resourceVersion set) inserted by plain
 * SQLite into one table with a unique name, with SQLite's defaults but for
 * WAL and synchronous=NORMAL as the store.  No JSON work in the clock. */
static void raw_insert_batched(const char *dir, const json_t *tmpl,
                               double rates[SEGMENTS])
{
    char path[512], cmd[1600];
    char **texts = calloc(BATCH, sizeof(*texts));
    sqlite3 *db = NULL;
    sqlite3_stmt *ins = NULL;
    int per = N_RECORDS / SEGMENTS;

    snprintf(path, sizeof(path), "%s/raw.db", dir);
    snprintf(cmd, sizeof(cmd), "rm -f '%s' '%s-wal' '%s-shm'", path, path,
             path);
    if (system(cmd) != 0)
        die("rm", -EIO);
    if (!texts || sqlite3_open(path, &db) != SQLITE_OK)
        die("raw sqlite open", -EIO);
    raw_exec(db, "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;"
                 "CREATE TABLE records (id INTEGER PRIMARY KEY,"
                 " name TEXT NOT NULL UNIQUE, object TEXT NOT NULL)");
    if (sqlite3_prepare_v2(db,
                           "INSERT INTO records (name, object)"
                           " VALUES (?1, ?2)",
                           -1, &ins, NULL) != SQLITE_OK)
        die("raw sqlite prepare", -EIO);
    for (int s = 0; s < SEGMENTS; s++) {
        double spent = 0;
        for (int b = 0; b < per; b += BATCH) {
            double t0;
            for (int i = 0; i < BATCH; i++) {
                json_t *obj = make_vmim(tmpl, "raw", s * per + b + i);
                json_t *meta = json_object_get(obj, "metadata");
                json_object_set_new(
                    meta, "uid",
                    json_string("5c1b9f3e-8c0e-4d7e-9a51-0d7f0f3c2a11"));
                json_object_set_new(meta, "creationTimestamp",
                                    json_string("2024-05-01T10:00:00Z"));
                json_object_set_new(meta, "resourceVersion",
                                    json_string("123456"));
                json_object_set_new(meta, "generation", json_integer(1));
                texts[i] = json_dumps(obj, JSON_COMPACT);
                json_decref(obj);
                if (!texts[i])
                    die("json_dumps", -ENOMEM);
            }
            t0 = now_s();
            raw_exec(db, "BEGIN IMMEDIATE");
            for (int i = 0; i < BATCH; i++) {
                char name[32];
                snprintf(name, sizeof(name), "raw-%06d", s * per + b + i);
                sqlite3_bind_text(ins, 1, name, -1, SQLITE_STATIC);
                sqlite3_bind_text(ins, 2, texts[i], -1, SQLITE_STATIC);
                if (sqlite3_step(ins) != SQLITE_DONE)
                    die("raw sqlite insert", -EIO);
                sqlite3_reset(ins);
            }
            raw_exec(db, "COMMIT");
            spent += now_s() - t0;
            for (int i = 0; i < BATCH; i++)
                free(texts[i]);
        }
        rates[s] = per / spent;
    }
    sqlite3_finalize(ins);
    sqlite3_close(db);
    free(texts);
}

int main(void)
{
    const char *base = getenv("TMPDIR");
    char dir[256], cmd[300];
    double single[SINGLE_RUNS], *lat, raw[2 * SEGMENTS], batched;
    json_t *tmpl = make_vmim_template();
    struct store *st;
    int r;

    snprintf(dir, sizeof(dir), "%s/bench_store.XXXXXX",
             base && *base ? base : "/tmp");
    if (!mkdtemp(dir))
        die("mkdtemp", -errno);

    /* The baseline runs first and last (the median of both runs' parts
     * is printed), so that it sees the load the store figures saw. */
    raw_insert_batched(dir, tmpl, raw);

    /* Batched: the 100000-record fill, 1000 inserts per transaction, timed
     * in five parts (so the rate covers a growing table); the median. */
    st = open_file(dir, "records.db");
    batched = insert_batched(st, tmpl, "migration", N_RECORDS);
    printf("bench: store_insert_batched_per_s %.0f ops/s\n", batched);
    fflush(stdout);

    /* Random gets from the 100000 records. */
    lat = malloc(sizeof(*lat) * N_GETS);
    if (!lat)
        die("malloc", -ENOMEM);
    srand(42);
    for (int i = 0; i < N_GETS; i++) {
        char name[64];
        json_t *obj = NULL;
        double t0;
        snprintf(name, sizeof(name), "migration-%06d", rand() % N_RECORDS);
        t0 = now_s();
        r = store_get(st, STORE_KIND_MIGRATION, "default", name, &obj);
        lat[i] = (now_s() - t0) * 1e6;
        if (r < 0)
            die("store_get", r);
        json_decref(obj);
    }
    qsort(lat, N_GETS, sizeof(*lat), cmp_double);
    printf("bench: store_get_p50_us %.1f us\n", lat[N_GETS / 2]);
    printf("bench: store_get_p99_us %.1f us\n", lat[N_GETS * 99 / 100]);
    fflush(stdout);
    free(lat);
    store_close(st);

    /* Single: one transaction (one commit) per insert, into a fresh file;
     * the median of three runs. */
    for (int run = 0; run < SINGLE_RUNS; run++) {
        char file[32], prefix[32];
        double t0;
        snprintf(file, sizeof(file), "single%d.db", run);
        snprintf(prefix, sizeof(prefix), "single%d", run);
        st = open_file(dir, file);
        t0 = now_s();
        for (int i = 0; i < SINGLE_N; i++)
            insert_one(st, tmpl, prefix, i);
        single[run] = SINGLE_N / (now_s() - t0);
        store_close(st);
    }
    printf("bench: store_insert_single_per_s %.0f ops/s\n",
           median(single, SINGLE_RUNS));
    fflush(stdout);

    raw_insert_batched(dir, tmpl, raw + SEGMENTS);
    if (getenv("BENCH_VERBOSE"))
        fprintf(stderr, "raw baseline: first %.0f/s, last %.0f/s\n",
                median(raw, SEGMENTS), median(raw + SEGMENTS, SEGMENTS));
    double raw_rate = median(raw, 2 * SEGMENTS);
    printf("bench: sqlite_raw_insert_batched_per_s %.0f ops/s\n", raw_rate);
    printf("bench: store_insert_batched_vs_raw %.2f ratio\n",
           batched / raw_rate);

    json_decref(tmpl);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "bench_store: cannot remove '%s'\n", dir);
    return 0;
}
