/*
 * Benchmark: decode + validate of the seed's migration.yaml, the
 * admission path of every POST.  Prints the median of seven runs.
 *
 * decode_validate_per_s is measured in this thread's CPU time, so that the
 * figure is what one core does and not how busy the shared machine is;
 * decode_validate_wall_per_s is the same loop in wall-clock time.
 *
 * libyaml_parse_per_s, the baseline: libyaml alone reading the same text
 * into events, in rounds interleaved with ours, so that the ratio between
 * the two says how much the codec and validation add whatever the machine
 * is doing.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <yaml.h>

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

/* One pass of libyaml's parser over TEXT, discarding the events. */
static int libyaml_parse(const char *text, size_t len)
{
    yaml_parser_t parser;
    yaml_event_t event;
    int done = 0, ok = 1;

    if (!yaml_parser_initialize(&parser))
        return -1;
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
    while (!done) {
        if (!yaml_parser_parse(&parser, &event)) {
            ok = 0;
            break;
        }
        done = event.type == YAML_STREAM_END_EVENT;
        yaml_event_delete(&event);
    }
    yaml_parser_delete(&parser);
    return ok ? 0 : -1;
}

int main(void)
{
    const char *top = getenv("ORCH_TOP");
    char path[4096], buf[4096];
    double rates[7], wall[7], base[7];
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

        t0 = now_s(CLOCK_THREAD_CPUTIME_ID);
        for (int i = 0; i < n; i++) {
            if (libyaml_parse(buf, len) < 0) {
                fprintf(stderr, "bench_api: libyaml refused migration.yaml\n");
                return 1;
            }
        }
        base[run] = n / (now_s(CLOCK_THREAD_CPUTIME_ID) - t0);
    }
    qsort(rates, 7, sizeof(rates[0]), cmp);
    qsort(wall, 7, sizeof(wall[0]), cmp);
    qsort(base, 7, sizeof(base[0]), cmp);
    printf("bench: decode_validate_per_s %.0f ops/s\n", rates[3]);
    printf("bench: decode_validate_wall_per_s %.0f ops/s\n", wall[3]);
    printf("bench: libyaml_parse_per_s %.0f ops/s\n", base[3]);
    printf("bench: decode_validate_vs_libyaml %.2f ratio\n",
           rates[3] / base[3]);
    return 0;
}
