/*
 * Store durability (issue 10.5): a POST answered 201 survives a SIGKILL of
 * orchestratord the instant after.  The real build/bin/orchestratord runs
 * on a temporary database; two load threads POST MigrationPolicies as fast
 * as it answers while the test SIGKILLs it at random instants and starts
 * it again on the same database, round after round.  Then every object
 * that was answered 201 must be there, and every one there must have been
 * posted (nothing half-written).  A POST cut by the kill may or may not
 * have been stored (the client never learned): both are fine.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "tests/unit/support/daemon.h"

#define POLICIES "/apis/migrations.kubevirt.io/v1alpha1/migrationpolicies"
#define ROUNDS   20
#define LOADERS  2
#define MAX_ACKS 100000

static atomic_int cur_port;
static atomic_bool stop_load;

/* The names answered 201, by all loaders. */
static pthread_mutex_t acks_lock = PTHREAD_MUTEX_INITIALIZER;
static char *acks[MAX_ACKS];
static size_t n_acks;
static atomic_long n_cut; /* POSTs that got no whole answer */

/* One request on a new connection to 127.0.0.1:PORT; the status of a
 * whole answer, or -1 (refused, reset, cut, 5 s without it).  No cmocka
 * here: it runs on the load threads. */
static int exchange(int port, const char *req, size_t len)
{
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t)port)};
    char buf[8192];
    size_t got = 0;
    int fd, status = -1;

    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    if (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0 ||
        send(fd, req, len, MSG_NOSIGNAL) != (ssize_t)len)
        goto out;
    for (;;) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        const char *head_end, *cl;
        ssize_t n;

        if (poll(&p, 1, 5000) <= 0)
            goto out;
        n = recv(fd, buf + got, sizeof(buf) - 1 - got, 0);
        if (n <= 0)
            goto out; /* closed before a whole answer: cut */
        got += (size_t)n;
        buf[got] = '\0';
        head_end = strstr(buf, "\r\n\r\n");
        if (!head_end)
            continue;
        cl = strcasestr(buf, "\r\nContent-Length:");
        if (!cl || cl > head_end)
            goto out;
        if (got >= (size_t)(head_end + 4 - buf) + (size_t)atol(cl + 17)) {
            status = atoi(buf + 9);
            goto out;
        }
    }
out:
    close(fd);
    return status;
}

static void *load_main(void *arg)
{
    long id = (long)arg;
    char req[1024], body[512], name[64];

    for (long i = 0; !atomic_load(&stop_load); i++) {
        int st, blen;

        snprintf(name, sizeof(name), "p%ld-%ld", id, i);
        blen = snprintf(body, sizeof(body),
                        "{\"apiVersion\":\"migrations.kubevirt.io/v1alpha1\","
                        "\"kind\":\"MigrationPolicy\",\"metadata\":{\"name\":"
                        "\"%s\",\"labels\":{\"load\":\"%ld\"}},\"spec\":{"
                        "\"selectors\":{}}}",
                        name, id);
        snprintf(req, sizeof(req),
                 "POST " POLICIES " HTTP/1.1\r\nHost: t\r\n"
                 "Content-Type: application/json\r\nContent-Length: %d\r\n"
                 "Connection: close\r\n\r\n%s",
                 blen, body);
        st = exchange(atomic_load(&cur_port), req, strlen(req));
        if (st == 201) {
            pthread_mutex_lock(&acks_lock);
            if (n_acks < MAX_ACKS)
                acks[n_acks++] = strdup(name);
            pthread_mutex_unlock(&acks_lock);
        } else if (st < 0) {
            atomic_fetch_add(&n_cut, 1);
            usleep(2000); /* between a kill and the restart */
        }
    }
    return NULL;
}

struct daemon {
    char dir[64], conf[128], log[128], db[128];
    pid_t pid;
};

/* The daemon running now, for the teardown after a failed assertion. */
static pid_t live_pid;
static pthread_t loaders[LOADERS];
static int n_loaders;

static int teardown(void **state)
{
    (void)state;
    atomic_store(&stop_load, true);
    for (int i = 0; i < n_loaders; i++)
        pthread_join(loaders[i], NULL);
    n_loaders = 0;
    if (live_pid > 0) {
        kill(live_pid, SIGKILL);
        waitpid(live_pid, NULL, 0);
        live_pid = 0;
    }
    return 0;
}

static void daemon_start(struct daemon *d)
{
    const char *argv[] = {"-f", d->conf, NULL};
    /* The old log says the old port: gone before the new one starts. */
    unlink(d->log);
    atomic_store(&cur_port,
                 test_daemon_start("orchestratord", argv, d->log, &d->pid));
    live_pid = d->pid;
}

static void daemon_kill(struct daemon *d)
{
    int ws;
    assert_true(d->pid > 0);
    if (kill(d->pid, SIGKILL) < 0)
        fail_msg("kill %d: %s", (int)d->pid, strerror(errno));
    assert_int_equal(waitpid(d->pid, &ws, 0), d->pid);
    live_pid = 0;
    assert_true(WIFSIGNALED(ws));
}

/* GET one page of policies from CONT (NULL: the first) over HTTP/1.0 (a
 * Content-Length body, the connection closed after it) and return it. */
static json_t *list_page(const char *cont)
{
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port =
                                htons((uint16_t)atomic_load(&cur_port))};
    char req[1024];
    size_t cap = 1 << 20, got = 0;
    char *buf = malloc(cap), *body;
    json_t *doc;
    int fd;

    assert_non_null(buf);
    snprintf(req, sizeof(req),
             "GET " POLICIES "?limit=500%s%s HTTP/1.0\r\nHost: t\r\n\r\n",
             cont ? "&continue=" : "", cont ? cont : "");
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(fd >= 0);
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(send(fd, req, strlen(req), MSG_NOSIGNAL),
                     (ssize_t)strlen(req));
    for (;;) {
        struct pollfd pf = {.fd = fd, .events = POLLIN};
        ssize_t n;

        assert_true(poll(&pf, 1, 10000) > 0);
        if (got + 1 >= cap) {
            cap *= 2;
            buf = realloc(buf, cap);
            assert_non_null(buf);
        }
        n = recv(fd, buf + got, cap - 1 - got, 0);
        assert_true(n >= 0);
        if (n == 0)
            break;
        got += (size_t)n;
    }
    close(fd);
    buf[got] = '\0';
    assert_int_equal(strncmp(buf + 9, "200", 3), 0);
    body = strstr(buf, "\r\n\r\n");
    assert_non_null(body);
    doc = json_loads(body + 4, 0, NULL);
    free(buf);
    assert_non_null(doc);
    return doc;
}

/* Every policy, page after page. */
static json_t *list_all(void)
{
    json_t *all = json_array(), *page = list_page(NULL);

    for (;;) {
        const char *cont = json_string_value(
            json_object_get(json_object_get(page, "metadata"), "continue"));
        json_t *next;

        json_array_extend(all, json_object_get(page, "items"));
        if (!cont || !*cont)
            break;
        next = list_page(cont);
        json_decref(page);
        page = next;
    }
    json_decref(page);
    return json_pack("{s:o}", "items", all);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void test_posts_survive_sigkill(void **state)
{
    struct daemon d;
    json_t *list, *items;
    size_t n_items, missing = 0;
    char **stored;
    unsigned seed = (unsigned)time(NULL);

    (void)state;
    memset(&d, 0, sizeof(d));
    snprintf(d.dir, sizeof(d.dir), "/tmp/orch-dur-XXXXXX");
    assert_non_null(mkdtemp(d.dir));
    snprintf(d.conf, sizeof(d.conf), "%s/orchestratord.conf", d.dir);
    snprintf(d.log, sizeof(d.log), "%s/log", d.dir);
    snprintf(d.db, sizeof(d.db), "%s/orch.db", d.dir);
    {
        FILE *f = fopen(d.conf, "w");
        assert_non_null(f);
        fprintf(f,
                "listen = \"127.0.0.1:0\";\ndatabase = \"%s\";\n"
                "",
                d.db);
        assert_int_equal(fclose(f), 0);
    }
    print_message("# seed %u\n", seed);
    daemon_start(&d);
    for (long i = 0; i < LOADERS; i++) {
        assert_int_equal(
            pthread_create(&loaders[i], NULL, load_main, (void *)i), 0);
        n_loaders++;
    }
    for (int round = 0; round < ROUNDS; round++) {
        /* A random instant: 30 to 400 ms of load. */
        usleep((useconds_t)(30000 + rand_r(&seed) % 370000));
        daemon_kill(&d);
        daemon_start(&d);
    }
    usleep(200 * 1000);
    atomic_store(&stop_load, true);
    for (int i = 0; i < n_loaders; i++)
        pthread_join(loaders[i], NULL);
    n_loaders = 0;
    /* Once more from the disk as the last kill left it. */
    daemon_kill(&d);
    daemon_start(&d);

    list = list_all();
    items = json_object_get(list, "items");
    n_items = json_array_size(items);
    stored = calloc(n_items ? n_items : 1, sizeof(*stored));
    assert_non_null(stored);
    for (size_t i = 0; i < n_items; i++) {
        const char *name = json_string_value(json_object_get(
            json_object_get(json_array_get(items, i), "metadata"), "name"));
        assert_non_null(name);
        assert_int_equal(strncmp(name, "p", 1), 0);
        stored[i] = (char *)name;
    }
    qsort(stored, n_items, sizeof(*stored), cmp_str);
    for (size_t i = 0; i < n_acks; i++)
        if (!bsearch(&acks[i], stored, n_items, sizeof(*stored), cmp_str)) {
            print_error("answered 201 but lost: %s\n", acks[i]);
            missing++;
        }
    print_message("# %d kills, %zu POSTs answered 201, %ld cut, %zu "
                  "stored, %zu lost\n",
                  ROUNDS + 1, n_acks, atomic_load(&n_cut), n_items, missing);
    /* The load must have been real, and the kills must have cut some. */
    assert_true(n_acks >= 100);
    assert_true(atomic_load(&n_cut) >= 1);
    assert_int_equal(missing, 0);
    /* Nothing stored that no one posted; at most the cut ones beyond. */
    assert_true(n_items >= n_acks);
    assert_true(n_items <= n_acks + (size_t)atomic_load(&n_cut));

    free(stored);
    json_decref(list);
    for (size_t i = 0; i < n_acks; i++)
        free(acks[i]);
    kill(d.pid, SIGTERM);
    waitpid(d.pid, NULL, 0);
    live_pid = 0;
    {
        char cmd[128];
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", d.dir);
        assert_int_equal(system(cmd), 0);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_posts_survive_sigkill, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
