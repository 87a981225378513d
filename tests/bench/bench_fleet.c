/*
 * Benchmark load program: a simulated fleet of migrators reporting to one
 * orchestratord (issue 8).  tests/bench/bench_fleet.sh starts the server
 * and runs this; run alone it does nothing (`make bench` runs every
 * build/bench/bench_* without arguments).
 *
 *   bench_fleet HOST PORT PID NHOSTS NDOMAINS WARMUP_S STEADY_S
 *
 * One process, one libevent loop, one keep-alive connection per simulated
 * host (as each migrator has its own).  Host i reports every 10 s at its
 * own offset (i * 10 s / NHOSTS, so the reports are spread evenly); each
 * report is the whole inventory, NDOMAINS domains with an interface and
 * two disks, and a PF with 8 VFs, with "generation" and "refreshedAt"
 * changing every time as the real migrator's do.  During the warm-up each
 * host's first report creates its node and VMIs.  During the steady state
 * a few lifecycle changes happen (one domain paused or resumed every
 * second, reported at once, as the migrator does after a libvirt event).
 *
 * Prints, for the steady state only:
 *   bench: fleet_orchd_cpu_pct V %    orchestratord's CPU (user + system
 *                                     from /proc/PID/stat) over the window,
 *                                     in % of one core
 *   bench: fleet_report_p99_ms V ms   99th percentile of a report's round
 *                                     trip
 *   bench: fleet_orchd_rss_mib V MiB  orchestratord's VmRSS at the end
 * and a summary line (reports, failures, writes per second).
 */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <jansson.h>

#define INTERVAL_MS 10000

struct sim_host {
    struct fleet *fleet;
    int index;
    char name[32];
    char auth[96];
    char path[96];
    json_t *report; /* without generation and refreshedAt */
    char *rest;     /* its JSON text without the outer braces */
    struct evhttp_connection *conn;
    struct event *timer;
    int64_t sent_us; /* 0: nothing in flight */
    int64_t generation;
    bool reported;
    bool resent; /* the one in flight is a second try */
};

struct fleet {
    struct event_base *base;
    const char *host;
    int port;
    int pid;
    int nhosts, ndomains;
    int64_t start_us, steady_us, end_us;
    struct sim_host *hosts;
    double *lat; /* steady-state round trips, ms */
    size_t n_lat, alloc_lat;
    long reports, failures, skipped, changes, first_reports, resent;
    struct event *change_timer, *stop_timer;
    unsigned long long ticks0, wait0;
    bool steady;
};

static int64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static unsigned long long proc_ticks(int pid)
{
    char path[64], buf[4096];
    unsigned long long ut = 0, st = 0;
    FILE *f;
    char *p;
    size_t n;

    snprintf(path, sizeof(path), "/proc/%d/stat", pid);
    f = fopen(path, "r");
    if (!f)
        return 0;
    n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    /* After the command name in parentheses: fields 3.. ; utime is 14. */
    p = strrchr(buf, ')');
    if (!p ||
        sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu",
               &ut, &st) != 2)
        return 0;
    return ut + st;
}

/* Nanoseconds PID's threads spent runnable but waiting for a CPU
 * (/proc/PID/schedstat, second field): on a shared machine, how much of a
 * round trip was the scheduler's. */
static unsigned long long proc_run_delay_ns(int pid)
{
    char path[64];
    unsigned long long run = 0, wait = 0;
    FILE *f;

    snprintf(path, sizeof(path), "/proc/%d/schedstat", pid);
    f = fopen(path, "r");
    if (!f)
        return 0;
    if (fscanf(f, "%llu %llu", &run, &wait) != 2)
        wait = 0;
    fclose(f);
    return wait;
}

static double proc_rss_mib(int pid)
{
    char path[64], line[256];
    double kib = 0;
    FILE *f;

    snprintf(path, sizeof(path), "/proc/%d/status", pid);
    f = fopen(path, "r");
    if (!f)
        return 0;
    while (fgets(line, sizeof(line), f))
        if (sscanf(line, "VmRSS: %lf", &kib) == 1)
            break;
    fclose(f);
    return kib / 1024;
}

static json_t *sim_domain(const char *host, int i, const char *state,
                          const char *reason)
{
    char name[64], mac[32], ip[32], disk[96];
    snprintf(name, sizeof(name), "fleet_%s-vm%02d", host, i);
    snprintf(mac, sizeof(mac), "52:54:00:%02x:%02x:%02x", (i >> 8) & 0xff,
             i & 0xff, (int)(strlen(host) * 7 + i) & 0xff);
    snprintf(ip, sizeof(ip), "10.%d.%d.%d", (i >> 8) & 0xff, i & 0xff, 10);
    snprintf(disk, sizeof(disk), "/srv/shared/%s-vm%02d.qcow2", host, i);
    return json_pack(
        "{s:s, s:s, s:s, s:s, s:i, s:b, s:i, s:i, s:b, s:b, s:i,"
        " s:[{s:s, s:s, s:s, s:s, s:[s]}],"
        " s:[{s:s, s:s, s:s, s:s, s:b, s:b}, {s:s, s:s, s:s, s:s, s:b, s:b}]}",
        "name", name, "uuid", "6f1c8a7e-3b1d-4f5a-9c2e-0d4b8e7f6a51", "state",
        state, "stateReason", reason, "id", i + 1, "persistent", 1, "memoryKiB",
        4194304, "vcpus", 2, "migrating", 0, "acpi", 1, "hostdevs", 0,
        "interfaces", "name", "vnet0", "mac", mac, "type", "bridge", "source",
        "br0", "ipAddresses", ip, "disks", "target", "vda", "device", "disk",
        "source", disk, "type", "file", "shared", 1, "readonly", 0, "target",
        "sda", "device", "cdrom", "source", "/var/lib/orchestrator/seed.iso",
        "type", "file", "shared", 0, "readonly", 1);
}

static json_t *sim_report(struct sim_host *h, int ndomains)
{
    json_t *doms = json_array(), *vfs = json_array(), *r;

    for (int i = 0; i < ndomains; i++)
        json_array_append_new(doms,
                              sim_domain(h->name, i, "running", "booted"));
    for (int i = 0; i < 8; i++) {
        char pci[32], dev[32], mac[32];
        snprintf(pci, sizeof(pci), "0000:3b:02.%d", i);
        snprintf(dev, sizeof(dev), "ens1f0v%d", i);
        snprintf(mac, sizeof(mac), "52:54:00:ff:00:%02x", i);
        json_array_append_new(vfs,
                              json_pack("{s:i, s:s, s:s, s:s, s:s, s:n, s:b}",
                                        "index", i, "pci", pci, "netdev", dev,
                                        "driver", i < 2 ? "vfio-pci" : "iavf",
                                        "mac", mac, "vlan", "reserved", 0));
    }
    r = json_pack(
        "{s:s, s:[{s:s, s:s}, {s:s, s:s}], s:{s:s, s:s, s:s}, s:{s:i, s:i},"
        " s:{s:s}, s:{s:s, s:s, s:s}, s:{s:s, s:s, s:s, s:s, s:s, s:s},"
        " s:o, s:[{s:s, s:s, s:s, s:i, s:i, s:i, s:o}]}",
        "name", h->name, "addresses", "type", "Hostname", "address", h->name,
        "type", "InternalIP", "address", "198.18.0.10", "libvirt", "uri",
        "qemu:///system", "version", "9.0.0", "hostUUID",
        "4c4c4544-0042-3010-8052-b4c04f4e4432", "capacity", "cpus", 64,
        "memoryKiB", 268435456, "labels", "rack", "r1", "agent", "url",
        "http://198.18.0.10:8081", "version", "v0.1.0", "bootId",
        "0123456789abcdef", "nodeInfo", "libvirtVersion", "9.0.0",
        "hypervisorVersion", "7.2.0", "cpuModel", "Skylake-Server-IBRS", "arch",
        "x86_64", "kernelVersion", "6.1.0-13-amd64", "osImage",
        "Debian GNU/Linux 12 (bookworm)", "domains", doms, "networks", "name",
        "sriov-net1", "pf", "ens1f0", "mode", "hostdev", "vlan", 0, "totalVFs",
        8, "numVFs", 8, "vfs", vfs);
    return r;
}

/* The report's text without its braces, for send_report() to wrap. */
static void sim_render(struct sim_host *h)
{
    char *s = json_dumps(h->report, JSON_COMPACT);
    size_t n = s ? strlen(s) : 0;
    free(h->rest);
    h->rest = NULL;
    if (n < 2) {
        free(s);
        return;
    }
    memmove(s, s + 1, n - 2);
    s[n - 2] = '\0';
    h->rest = s;
}

static void lat_add(struct fleet *f, double ms)
{
    if (f->n_lat == f->alloc_lat) {
        size_t na = f->alloc_lat ? f->alloc_lat * 2 : 4096;
        double *nl = realloc(f->lat, na * sizeof(*nl));
        if (!nl)
            return;
        f->lat = nl;
        f->alloc_lat = na;
    }
    f->lat[f->n_lat++] = ms;
}

static int send_request(struct sim_host *h);

static void report_done(struct evhttp_request *req, void *arg)
{
    struct sim_host *h = arg;
    struct fleet *f = h->fleet;
    int64_t t = now_us();
    int code = req ? evhttp_request_get_response_code(req) : 0;

    /* No answer at all: orchestratord closed the kept-alive connection
     * (it cuts one that sent nothing for header_timeout_s, 10 s, the
     * report interval).  Send once more on a new connection, as libcurl
     * does when it finds a reused connection dead; the round trip counts
     * from the first try. */
    if (code == 0 && !h->resent) {
        /* (evhttp connects the connection again for it.) */
        h->resent = true;
        f->resent++;
        if (send_request(h) == 0)
            return;
    }
    h->resent = false;
    if (code != 200) {
        f->failures++;
        if (f->failures <= 5) {
            char buf[256] = "";
            if (req) {
                struct evbuffer *b = evhttp_request_get_input_buffer(req);
                size_t n = evbuffer_copyout(b, buf, sizeof(buf) - 1);
                buf[n > 0 ? n : 0] = '\0';
            }
            fprintf(stderr, "bench_fleet: %s: HTTP %d %s\n", h->name, code,
                    buf);
        }
    } else {
        f->reports++;
        if (!h->reported)
            f->first_reports++;
        h->reported = true;
        if (f->steady && h->sent_us >= f->steady_us)
            lat_add(f, (double)(t - h->sent_us) / 1000.0);
    }
    h->sent_us = 0;
}

/* Send the host's report (its generation already set). */
static int send_request(struct sim_host *h)
{
    struct fleet *f = h->fleet;
    struct evhttp_request *req;
    struct evkeyvalq *hdr;
    char head[160], when[32];
    time_t now = time(NULL);
    evutil_socket_t fd;
    struct tm tm;
    int one = 1;

    req = evhttp_request_new(report_done, h);
    if (!req)
        return -1;
    hdr = evhttp_request_get_output_headers(req);
    evhttp_add_header(hdr, "Host", f->host);
    evhttp_add_header(hdr, "Authorization", h->auth);
    evhttp_add_header(hdr, "Content-Type", "application/json");
    gmtime_r(&now, &tm);
    strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
    snprintf(head, sizeof(head),
             "{\"generation\":%" PRId64 ",\"refreshedAt\":\"%s\",",
             h->generation, when);
    evbuffer_add(evhttp_request_get_output_buffer(req), head, strlen(head));
    evbuffer_add(evhttp_request_get_output_buffer(req), h->rest,
                 strlen(h->rest));
    evbuffer_add(evhttp_request_get_output_buffer(req), "}", 1);
    if (evhttp_make_request(h->conn, req, EVHTTP_REQ_PUT, h->path) < 0)
        return -1;
    /* The migrators push with libcurl, which sets TCP_NODELAY; evhttp's
     * client does not, and Nagle's algorithm with the server's delayed
     * ACK then adds 40 ms to a round trip.  The socket exists once the
     * request is made (connected, or connecting with nothing sent). */
    fd = bufferevent_getfd(evhttp_connection_get_bufferevent(h->conn));
    if (fd >= 0)
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    return 0;
}

static void send_report(struct sim_host *h)
{
    struct fleet *f = h->fleet;

    if (h->sent_us) {
        /* The last one has not come back: a real migrator would wait too. */
        f->skipped++;
        return;
    }
    if (!h->rest)
        return;
    h->generation++;
    h->sent_us = now_us();
    if (send_request(h) < 0) {
        f->failures++;
        h->sent_us = 0;
    }
}

static void host_timer_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    send_report(arg);
}

/* The host's first report, at its offset; then every interval. */
static void host_first_cb(evutil_socket_t fd, short what, void *arg)
{
    struct sim_host *h = arg;
    struct timeval every = {INTERVAL_MS / 1000, 0};
    (void)fd;
    (void)what;
    send_report(h);
    event_add(h->timer, &every);
}

/* A lifecycle change: one domain of one host paused or resumed, reported
 * at once. */
static void change_cb(evutil_socket_t fd, short what, void *arg)
{
    struct fleet *f = arg;
    struct sim_host *h = &f->hosts[rand() % f->nhosts];
    json_t *doms = json_object_get(h->report, "domains");
    json_t *d = json_array_get(doms, (size_t)(rand() % f->ndomains));
    const char *st = json_string_value(json_object_get(d, "state"));
    bool paused = st && strcmp(st, "paused") == 0;
    (void)fd;
    (void)what;

    if (!d || !f->steady)
        return;
    json_object_set_new(d, "state", json_string(paused ? "running" : "paused"));
    json_object_set_new(d, "stateReason",
                        json_string(paused ? "unpaused" : "user"));
    sim_render(h);
    f->changes++;
    send_report(h);
}

static void stop_cb(evutil_socket_t fd, short what, void *arg)
{
    struct fleet *f = arg;
    (void)fd;
    (void)what;
    event_base_loopexit(f->base, NULL);
}

static void steady_cb(evutil_socket_t fd, short what, void *arg)
{
    struct fleet *f = arg;
    (void)fd;
    (void)what;
    f->steady = true;
    f->steady_us = now_us();
    f->ticks0 = proc_ticks(f->pid);
    f->wait0 = proc_run_delay_ns(f->pid);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    struct fleet f = {0};
    struct event *steady_ev;
    struct timeval tv, one = {1, 0};
    int warmup_s, steady_s;
    unsigned long long ticks1, wait1;
    double hz = (double)sysconf(_SC_CLK_TCK), wall_s, p99 = 0, p50 = 0;
    double p90 = 0, max = 0;

    if (argc == 1)
        return 0;
    if (argc != 8) {
        fprintf(stderr, "usage: bench_fleet HOST PORT PID NHOSTS NDOMAINS "
                        "WARMUP_S STEADY_S\n");
        return 2;
    }
    f.host = argv[1];
    f.port = atoi(argv[2]);
    f.pid = atoi(argv[3]);
    f.nhosts = atoi(argv[4]);
    f.ndomains = atoi(argv[5]);
    warmup_s = atoi(argv[6]);
    steady_s = atoi(argv[7]);
    if (f.nhosts < 1 || f.ndomains < 1 || warmup_s < 1 || steady_s < 1) {
        fprintf(stderr, "bench_fleet: bad arguments\n");
        return 2;
    }
    /* A write to a connection the server has just closed must fail, not
     * kill the process. */
    signal(SIGPIPE, SIG_IGN);
    srand(42);
    f.base = event_base_new();
    f.hosts = calloc((size_t)f.nhosts, sizeof(*f.hosts));
    if (!f.base || !f.hosts)
        return 1;
    for (int i = 0; i < f.nhosts; i++) {
        struct sim_host *h = &f.hosts[i];
        struct timeval off;
        int64_t off_ms = (int64_t)i * INTERVAL_MS / f.nhosts;
        h->fleet = &f;
        h->index = i;
        snprintf(h->name, sizeof(h->name), "host-%03d", i);
        snprintf(h->auth, sizeof(h->auth), "Bearer fleet-token-%s-0123456789",
                 h->name);
        snprintf(h->path, sizeof(h->path),
                 "/apis/agent.orchestrator.io/v1/nodereports/%s", h->name);
        h->report = sim_report(h, f.ndomains);
        sim_render(h);
        h->conn = evhttp_connection_base_new(f.base, NULL, f.host,
                                             (unsigned short)f.port);
        if (!h->report || !h->rest || !h->conn)
            return 1;
        h->timer = event_new(f.base, -1, EV_PERSIST, host_timer_cb, h);
        off.tv_sec = off_ms / 1000;
        off.tv_usec = (off_ms % 1000) * 1000;
        event_base_once(f.base, -1, EV_TIMEOUT, host_first_cb, h, &off);
    }
    f.start_us = now_us();
    tv.tv_sec = warmup_s;
    tv.tv_usec = 0;
    steady_ev = evtimer_new(f.base, steady_cb, &f);
    evtimer_add(steady_ev, &tv);
    f.change_timer = event_new(f.base, -1, EV_PERSIST, change_cb, &f);
    event_add(f.change_timer, &one);
    f.stop_timer = evtimer_new(f.base, stop_cb, &f);
    tv.tv_sec = warmup_s + steady_s;
    evtimer_add(f.stop_timer, &tv);
    event_base_dispatch(f.base);

    f.end_us = now_us();
    ticks1 = proc_ticks(f.pid);
    wait1 = proc_run_delay_ns(f.pid);
    wall_s = (double)(f.end_us - f.steady_us) / 1e6;
    if (f.n_lat) {
        size_t k = (size_t)((double)f.n_lat * 0.99);
        qsort(f.lat, f.n_lat, sizeof(double), cmp_double);
        p99 = f.lat[k < f.n_lat ? k : f.n_lat - 1];
        p50 = f.lat[f.n_lat / 2];
        p90 = f.lat[(size_t)((double)f.n_lat * 0.9)];
        max = f.lat[f.n_lat - 1];
    }
    if (f.first_reports < f.nhosts)
        fprintf(stderr, "bench_fleet: only %ld of %d hosts reported\n",
                f.first_reports, f.nhosts);
    printf("bench: fleet_orchd_cpu_pct %.1f %%\n",
           wall_s > 0 ? (double)(ticks1 - f.ticks0) / hz / wall_s * 100 : 0);
    printf("bench: fleet_report_p99_ms %.2f ms\n", p99);
    printf("bench: fleet_orchd_rss_mib %.1f MiB\n", proc_rss_mib(f.pid));
    printf("bench_fleet: %d hosts x %d domains, %d s warm-up, %.0f s steady: "
           "%ld reports (%zu timed), %ld lifecycle changes, %ld failed, "
           "%ld skipped (previous still in flight), %ld sent again on a "
           "new connection; round trip p50 %.2f p90 %.2f max %.1f ms; "
           "orchestratord waited %.0f ms for a CPU (run queue)\n",
           f.nhosts, f.ndomains, warmup_s, wall_s, f.reports, f.n_lat,
           f.changes, f.failures, f.skipped, f.resent, p50, p90, max,
           (double)(wait1 - f.wait0) / 1e6);
    for (int i = 0; i < f.nhosts; i++) {
        evhttp_connection_free(f.hosts[i].conn);
        event_free(f.hosts[i].timer);
        json_decref(f.hosts[i].report);
        free(f.hosts[i].rest);
    }
    event_free(steady_ev);
    event_free(f.change_timer);
    event_free(f.stop_timer);
    event_base_free(f.base);
    free(f.hosts);
    free(f.lat);
    return f.failures || f.first_reports < f.nhosts ? 1 : 0;
}
