/*
 * Benchmark: decode + validate of the seed's migration.yaml, the
 * admission path of every POST.  Prints the median of seven runs.
 *
 * decode_validate_per_s is measured in this thread's CPU time, so that the
 * figure is what one core does and not how busy the shared machine is;
 * decode_validate_wall_per_s is the same loop in wall-clock time.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api/api.h"

static double now_s(clockid_t clock)
{
    struct timespec ts;

    clock_gettime(clock, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return x < y ? -1 : x > y;
}

int main(void)
{
    const char *top = getenv("ORCH_TOP");
    char path[4096], buf[4096];
    double rates[7], wall[7];
    size_t len;
    FILE *f;

    snprintf(path, sizeof(path), "%s/tests/data/migration.yaml",
             top ? top : ".");
    f = fopen(path, "rb");
    if (!f) {
        perror(path);
        return 1;
    }
    len = fread(buf, 1, sizeof(buf), f);
    fclose(f);

    for (int run = 0; run < 7; run++) {
        const int n = 20000;
        double t0 = now_s(CLOCK_THREAD_CPUTIME_ID);
        double w0 = now_s(CLOCK_MONOTONIC);
        for (int i = 0; i < n; i++) {
            struct api_errors errs = API_ERRORS_INIT;
            json_t *doc = NULL;
            if (api_object_parse(buf, len, NULL, API_KIND_VMIM, &doc, NULL,
                                 &errs) < 0) {
                fprintf(stderr, "bench_api: migration.yaml is invalid\n");
                return 1;
            }
            json_decref(doc);
            api_errors_clear(&errs);
        }
        rates[run] = n / (now_s(CLOCK_THREAD_CPUTIME_ID) - t0);
        wall[run] = n / (now_s(CLOCK_MONOTONIC) - w0);
    }
    qsort(rates, 7, sizeof(rates[0]), cmp);
    qsort(wall, 7, sizeof(wall[0]), cmp);
    printf("bench: decode_validate_per_s %.0f ops/s\n", rates[3]);
    printf("bench: decode_validate_wall_per_s %.0f ops/s\n", wall[3]);
    return 0;
}
