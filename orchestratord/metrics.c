/*
 * orchestratord: /metrics in the Prometheus text format.  Migration gauges
 * carry KubeVirt's metric names (virt-controller's
 * kubevirt_vmi_migrations_in_*_phase and kubevirt_vmi_migration_*).
 */
#include "orchestratord/orchd.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const int metric_codes[ORCH_METRIC_CODES] = {
    200, 201, 202, 400, 401, 403, 404, 405,
    406, 409, 410, 413, 415, 422, 429, 500,
};

const char *orch_agent_reject_name(enum orch_agent_reject r)
{
    static const char *const names[ORCH_REJECT_COUNT] = {
        "unknown_job", "stale_report", "duplicate_report", "domain_elsewhere"};
    return (size_t)r < ORCH_REJECT_COUNT ? names[r] : "other";
}

void orch_metrics_request(struct orch_metrics *m, enum http_method method,
                          int code)
{
    size_t v = (size_t)method < ORCH_METRIC_VERBS ? (size_t)method
                                                  : ORCH_METRIC_VERBS - 1;
    size_t c = ORCH_METRIC_CODES - 1; /* other codes count as 500 */
    for (size_t i = 0; i < ORCH_METRIC_CODES; i++)
        if (metric_codes[i] == code)
            c = i;
    m->requests[v][c]++;
}

/* Bucket bounds (seconds) of the phase transition histogram: from the
 * sub-second hops of the control plane to the hours of a big guest. */
static const double phase_bounds[ORCH_METRIC_PHASE_BUCKETS] = {
    0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300, 600, 1800,
};

void orch_metrics_phase_time(struct orch_metrics *m, int phase, double seconds)
{
    if (phase < 0 || phase >= API_VMIM_PHASE_COUNT)
        return;
    for (size_t i = 0; i < ORCH_METRIC_PHASE_BUCKETS; i++)
        if (seconds <= phase_bounds[i]) {
            m->phase_time_buckets[phase][i]++;
            break;
        }
    m->phase_time_sum[phase] += seconds;
    m->phase_time_count[phase]++;
}

/* Count migrations in flight by phase, from the store's phase index: a
 * scrape reads no record, however many the store holds (finished ones are
 * most of them). */
static void count_phases(struct orch_server *srv, long counts[])
{
    const char *names[API_VMIM_PHASE_COUNT];
    int64_t n[API_VMIM_PHASE_COUNT] = {0};
    size_t k = 0;
    int idx[API_VMIM_PHASE_COUNT];

    for (int p = 0; p < API_VMIM_PHASE_COUNT; p++) {
        if (api_vmim_phase_is_final((enum api_vmim_phase)p))
            continue;
        names[k] = api_vmim_phase_name((enum api_vmim_phase)p);
        idx[k++] = p;
    }
    if (store_migration_count_phases(srv->store, names, k, n) < 0)
        return;
    for (size_t i = 0; i < k; i++)
        counts[idx[i]] = n[i] > LONG_MAX ? LONG_MAX : (long)n[i];
}

static void render_phase_times(FILE *f, const struct orch_metrics *m)
{
    static const char name[] =
        "kubevirt_vmi_migration_phase_transition_time_from_creation_seconds";

    fprintf(f,
            "# HELP %s Seconds from a migration's creation to each phase it "
            "entered.\n"
            "# TYPE %s histogram\n",
            name, name);
    for (int p = 0; p < API_VMIM_PHASE_COUNT; p++) {
        uint64_t cum = 0;
        const char *ph = api_vmim_phase_name((enum api_vmim_phase)p);

        if (!m->phase_time_count[p])
            continue;
        for (size_t i = 0; i < ORCH_METRIC_PHASE_BUCKETS; i++) {
            cum += m->phase_time_buckets[p][i];
            fprintf(f, "%s_bucket{phase=\"%s\",le=\"%g\"} %llu\n", name, ph,
                    phase_bounds[i], (unsigned long long)cum);
        }
        fprintf(f,
                "%s_bucket{phase=\"%s\",le=\"+Inf\"} %llu\n"
                "%s_sum{phase=\"%s\"} %g\n"
                "%s_count{phase=\"%s\"} %llu\n",
                name, ph, (unsigned long long)m->phase_time_count[p], name, ph,
                m->phase_time_sum[p], name, ph,
                (unsigned long long)m->phase_time_count[p]);
    }
}

/* Live progress of the Running migrations (status.progress, which the
 * controller keeps at most a second old), under virt-handler's metric
 * names with its labels: the VMI's namespace and name, the source node.
 * The phase index lists only those. */
static void render_progress(FILE *f, struct orch_server *srv)
{
    static const struct {
        const char *metric, *field, *type, *help;
    } g[] = {
        {"kubevirt_vmi_migration_data_total_bytes", "dataTotalBytes", "counter",
         "Bytes the migration has to move in all."},
        {"kubevirt_vmi_migration_data_processed_bytes", "dataProcessedBytes",
         "gauge", "Bytes the migration has moved."},
        {"kubevirt_vmi_migration_data_remaining_bytes", "dataRemainingBytes",
         "gauge", "Bytes the migration has still to move."},
        {"kubevirt_vmi_migration_dirty_memory_rate_bytes",
         "dirtyMemoryRateBytes", "gauge",
         "Bytes per second the guest dirties its memory."},
        {"kubevirt_vmi_migration_memory_transfer_rate_bytes",
         "memoryTransferRateBytes", "gauge",
         "Bytes per second of memory the migration moves."},
    };
    static const char *const running[] = {"Running"};
    struct store_list_opts o = {.phases = running, .n_phases = 1};
    struct store_page page = {0};

    if (store_list(srv->store, STORE_KIND_MIGRATION, NULL, &o, &page) < 0)
        return;
    for (size_t k = 0; k < sizeof(g) / sizeof(*g); k++) {
        fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", g[k].metric, g[k].help,
                g[k].metric, g[k].type);
        for (size_t i = 0; i < json_array_size(page.items); i++) {
            const json_t *m = json_array_get(page.items, i);
            const json_t *v = json_object_get(
                json_object_get(json_object_get(m, "status"), "progress"),
                g[k].field);
            const char *ns = api_doc_get_string(m, "metadata.namespace");
            const char *vmi = api_doc_get_string(m, "spec.vmiName");
            const char *node =
                api_doc_get_string(m, "status.migrationState.sourceNode");

            /* Label values are API names: no quote or backslash. */
            if (json_is_integer(v))
                fprintf(f,
                        "%s{namespace=\"%s\",name=\"%s\",node=\"%s\"} "
                        "%lld\n",
                        g[k].metric, ns ? ns : "", vmi ? vmi : "",
                        node ? node : "", (long long)json_integer_value(v));
        }
    }
    store_page_release(&page);
}

char *orch_metrics_render(struct orch_server *srv, size_t *ret_len)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    long phases[API_VMIM_PHASE_COUNT] = {0};

    if (!f)
        return NULL;
    fputs("# HELP orchestratord_http_requests_total HTTP requests served, by "
          "verb and code.\n"
          "# TYPE orchestratord_http_requests_total counter\n",
          f);
    for (size_t v = 0; v < ORCH_METRIC_VERBS; v++)
        for (size_t c = 0; c < ORCH_METRIC_CODES; c++)
            if (srv->metrics.requests[v][c])
                fprintf(f,
                        "orchestratord_http_requests_total{verb=\"%s\","
                        "code=\"%d\"} %llu\n",
                        http_method_name((enum http_method)v), metric_codes[c],
                        (unsigned long long)srv->metrics.requests[v][c]);
    fprintf(f,
            "# HELP orchestratord_http_requests_in_flight Requests whose "
            "reply is not sent yet, watches included.\n"
            "# TYPE orchestratord_http_requests_in_flight gauge\n"
            "orchestratord_http_requests_in_flight %zu\n"
            "# HELP orchestratord_http_connections Open client "
            "connections.\n"
            "# TYPE orchestratord_http_connections gauge\n"
            "orchestratord_http_connections %zu\n"
            "# HELP orchestratord_watchers Active watch streams.\n"
            "# TYPE orchestratord_watchers gauge\n"
            "orchestratord_watchers %zu\n"
            "# HELP orchestratord_watch_events_total Watch events sent.\n"
            "# TYPE orchestratord_watch_events_total counter\n"
            "orchestratord_watch_events_total %llu\n",
            srv->http ? http_server_requests_in_flight(srv->http) : 0,
            srv->http ? http_server_connections(srv->http) : 0, srv->n_watchers,
            (unsigned long long)srv->metrics.watch_events);

    count_phases(srv, phases);
    static const struct {
        enum api_vmim_phase phase;
        const char *name;
    } gauges[] = {
        {API_VMIM_PHASE_UNSET, "unset"},
        {API_VMIM_PHASE_PENDING, "pending"},
        {API_VMIM_PHASE_SCHEDULING, "scheduling"},
        {API_VMIM_PHASE_RUNNING, "running"},
    };
    for (size_t i = 0; i < sizeof(gauges) / sizeof(*gauges); i++) {
        long n = phases[gauges[i].phase];
        /* KubeVirt counts Scheduled..TargetReady as scheduling. */
        if (gauges[i].phase == API_VMIM_PHASE_SCHEDULING)
            n += phases[API_VMIM_PHASE_SCHEDULED] +
                 phases[API_VMIM_PHASE_PREPARING_TARGET] +
                 phases[API_VMIM_PHASE_TARGET_READY];
        fprintf(f,
                "# HELP kubevirt_vmi_migrations_in_%s_phase Number of "
                "current %s migrations.\n"
                "# TYPE kubevirt_vmi_migrations_in_%s_phase gauge\n"
                "kubevirt_vmi_migrations_in_%s_phase %ld\n",
                gauges[i].name, gauges[i].name, gauges[i].name, gauges[i].name,
                n);
    }
    fprintf(f,
            "# HELP kubevirt_vmi_migration_succeeded Migrations that "
            "succeeded since start.\n"
            "# TYPE kubevirt_vmi_migration_succeeded counter\n"
            "kubevirt_vmi_migration_succeeded %llu\n"
            "# HELP kubevirt_vmi_migration_failed Migrations that failed "
            "since start.\n"
            "# TYPE kubevirt_vmi_migration_failed counter\n"
            "kubevirt_vmi_migration_failed %llu\n"
            "# HELP orchestratord_migrations_created_total Migrations "
            "admitted since start.\n"
            "# TYPE orchestratord_migrations_created_total counter\n"
            "orchestratord_migrations_created_total %llu\n",
            (unsigned long long)srv->metrics.migrations_succeeded,
            (unsigned long long)srv->metrics.migrations_failed,
            (unsigned long long)srv->metrics.migrations_created);
    fputs("# HELP orchestrator_agent_messages_rejected_total Messages from "
          "migrators ignored, by reason.\n"
          "# TYPE orchestrator_agent_messages_rejected_total counter\n",
          f);
    for (int r = 0; r < ORCH_REJECT_COUNT; r++)
        fprintf(f,
                "orchestrator_agent_messages_rejected_total{reason=\"%s\"} "
                "%llu\n",
                orch_agent_reject_name((enum orch_agent_reject)r),
                (unsigned long long)srv->metrics.agent_rejected[r]);
    render_phase_times(f, &srv->metrics);
    render_progress(f, srv);
    if (fclose(f) != 0) {
        free(buf);
        return NULL;
    }
    *ret_len = len;
    return buf;
}
