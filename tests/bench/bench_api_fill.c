/*
 * bench_api_fill: a helper of tests/bench/bench_api.sh, not a benchmark of
 * its own.  It fills a database through the store API:
 *     bench_api_fill DB N_MIGRATIONS N_VMIS
 * makes N_VMIS running VMIs "vmi-0"... and N_MIGRATIONS finished (Succeeded)
 * migrations "mig-0"... of them, so new migrations of any VMI are admitted.
 * Run without arguments (as `make bench` runs every bench_*), it does
 * nothing.
 */
#include <stdio.h>
#include <stdlib.h>

#include "store/store.h"

static int fill(struct store *st, long n, int vmi)
{
    for (long i = 0; i < n; i++) {
        char name[32], vname[32];
        json_t *o;
        int r;
        if (i % 5000 == 0 && (r = store_txn_begin(st)) < 0)
            return r;
        snprintf(vname, sizeof(vname), "vmi-%ld", vmi ? i : i % 100000);
        snprintf(name, sizeof(name), "mig-%ld", i);
        if (vmi)
            o = json_pack("{s:s, s:s, s:{s:s, s:s}, s:{}, s:{s:s, s:s}}",
                          "apiVersion", "kubevirt.io/v1", "kind",
                          "VirtualMachineInstance", "metadata", "name", vname,
                          "namespace", "default", "spec", "status", "phase",
                          "Running", "nodeName", "node1");
        else
            o = json_pack(
                "{s:s, s:s, s:{s:s, s:s, s:{s:s}}, s:{s:s}, "
                "s:{s:s, s:[{s:s, s:s}, {s:s, s:s}], s:{s:s, s:s, s:b, "
                "s:s, s:s}}}",
                "apiVersion", "kubevirt.io/v1", "kind",
                "VirtualMachineInstanceMigration", "metadata", "name", name,
                "namespace", "default", "labels", "kubevirt.io/vmi-name", vname,
                "spec", "vmiName", vname, "status", "phase", "Succeeded",
                "phaseTransitionTimestamps", "phase", "Pending",
                "phaseTransitionTimestamp", "2026-11-25T21:00:00Z", "phase",
                "Succeeded", "phaseTransitionTimestamp", "2026-11-25T21:00:09Z",
                "migrationState", "sourceNode", "node1", "targetNode", "node2",
                "completed", 1, "startTimestamp", "2026-11-25T21:00:01Z",
                "endTimestamp", "2026-11-25T21:00:09Z");
        r = store_create(st, vmi ? STORE_KIND_VMI : STORE_KIND_MIGRATION, o);
        json_decref(o);
        if (r < 0)
            return r;
        if (i % 5000 == 4999 || i == n - 1)
            if ((r = store_txn_commit(st)) < 0)
                return r;
    }
    return 0;
}

int main(int argc, char **argv)
{
    struct store *st = NULL;
    char err[256];
    int r;

    if (argc == 1)
        return 0;
    if (argc != 4) {
        fprintf(stderr, "usage: bench_api_fill DB N_MIGRATIONS N_VMIS\n");
        return 2;
    }
    if (store_open(argv[1], NULL, &st, err, sizeof(err)) < 0) {
        fprintf(stderr, "bench_api_fill: database '%s': %s\n", argv[1], err);
        return 1;
    }
    r = fill(st, atol(argv[3]), 1);
    if (r == 0)
        r = fill(st, atol(argv[2]), 0);
    store_close(st);
    if (r < 0) {
        fprintf(stderr, "bench_api_fill: cannot fill: %d\n", r);
        return 1;
    }
    return 0;
}
