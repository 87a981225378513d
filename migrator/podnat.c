/*
 * migrator/podnat: masquerade ports forwarded with iptables (podnat.h).
 */
#include "migrator/podnat.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static bool domain_ok(const char *d)
{
    size_t n = d ? strlen(d) : 0;

    if (n == 0 || n > 200)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = d[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-'))
            return false;
    }
    return true;
}

int migr_podnat_addr(const char *uid, char *buf, size_t len)
{
    uint32_t h = 2166136261u; /* FNV-1a: stable across hosts and builds */
    int n;

    if (!uid || !*uid)
        return -EINVAL;
    for (const unsigned char *p = (const unsigned char *)uid; *p; p++)
        h = (h ^ *p) * 16777619u;
    n = snprintf(buf, len, "10.0.2.%u", 2 + h % 253);
    return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

/* A rule text is written to a memory stream (open_memstream on BUF); this
 * ends one, handing its text to the caller, or -ENOMEM when a write
 * failed.  BUF is read after the close, which is when the stream sets it. */
static int text_finish(FILE *f, char **buf, char **ret)
{
    bool bad = ferror(f);

    if (fclose(f) != 0 || bad) {
        free(*buf);
        return -ENOMEM;
    }
    *ret = *buf;
    return 0;
}

int migr_podnat_rules(const char *domain, const char *guest,
                      const struct migr_podnat_port *ports, size_t n,
                      char **ret)
{
    char *buf = NULL;
    size_t len = 0;
    struct in_addr a;
    FILE *b;

    if (!domain_ok(domain) || !guest || inet_pton(AF_INET, guest, &a) != 1 ||
        (n && !ports))
        return -EINVAL;
    for (size_t i = 0; i < n; i++)
        if (ports[i].port < 1 || ports[i].port > 65535)
            return -EINVAL;
    b = open_memstream(&buf, &len);
    if (!b)
        return -ENOMEM;
    /* Loopback is left alone: a DNAT from 127.0.0.1 would need
     * route_localnet, and nothing on the host expects it. */
    fprintf(b, "*nat\n");
    for (size_t i = 0; i < n; i++) {
        const char *p = ports[i].udp ? "udp" : "tcp";
        static const char *const chains[] = {"PREROUTING", "OUTPUT"};
        for (size_t c = 0; c < 2; c++)
            fprintf(
                b,
                "-A %s -m addrtype --dst-type LOCAL ! -d 127.0.0.0/8 "
                "-p %s -m %s --dport %d -m comment --comment " MIGR_PODNAT_TAG
                "%s -j DNAT --to-destination %s:%d\n",
                chains[c], p, p, ports[i].port, domain, guest, ports[i].port);
    }
    fprintf(b, "COMMIT\n*filter\n");
    for (size_t i = 0; i < n; i++) {
        const char *p = ports[i].udp ? "udp" : "tcp";
        fprintf(b,
                "-I FORWARD -d %s/32 -o " MIGR_PODNAT_BRIDGE
                " -p %s -m %s --dport %d -m comment --comment " MIGR_PODNAT_TAG
                "%s -j ACCEPT\n",
                guest, p, p, ports[i].port, domain);
    }
    fprintf(b, "COMMIT\n");
    return text_finish(b, &buf, ret);
}

/* Whether LINE (up to its end, len bytes) carries DOMAIN's comment, quoted
 * by iptables-save or not. */
static bool line_tagged(const char *line, size_t len, const char *domain)
{
    static const char key[] = "--comment ";
    char want[256];
    size_t wl;
    const char *p = line, *end = line + len;

    wl = (size_t)snprintf(want, sizeof(want), MIGR_PODNAT_TAG "%s", domain);
    while ((p = memmem(p, (size_t)(end - p), key, sizeof(key) - 1))) {
        p += sizeof(key) - 1;
        if (p < end && *p == '"')
            p++;
        if ((size_t)(end - p) >= wl && memcmp(p, want, wl) == 0 &&
            (p + wl == end || p[wl] == ' ' || p[wl] == '"'))
            return true;
    }
    return false;
}

int migr_podnat_unrules(const char *domain, const char *save, char **ret)
{
    char *buf = NULL, table[32] = "";
    size_t buflen = 0;
    bool open = false;
    FILE *b;

    if (!domain_ok(domain) || !save)
        return -EINVAL;
    b = open_memstream(&buf, &buflen);
    if (!b)
        return -ENOMEM;
    for (const char *l = save; *l;) {
        const char *nl = strchr(l, '\n');
        size_t len = nl ? (size_t)(nl - l) : strlen(l);

        if (l[0] == '*' && len < sizeof(table)) {
            if (open)
                fprintf(b, "COMMIT\n");
            open = false;
            memcpy(table, l + 1, len - 1);
            table[len - 1] = '\0';
        } else if (len > 3 && strncmp(l, "-A ", 3) == 0 && table[0] &&
                   line_tagged(l, len, domain)) {
            if (!open)
                fprintf(b, "*%s\n", table);
            open = true;
            fprintf(b, "-D %.*s\n", (int)(len - 3), l + 3);
        }
        l += len + (nl ? 1 : 0);
    }
    if (open)
        fprintf(b, "COMMIT\n");
    return text_finish(b, &buf, ret);
}

/* Run argv[0] (looked up in PATH) with `in` on its standard input; its
 * standard output (when `out`) and error are read into the caller's
 * strings.  Returns its exit status (0..255), -ENOENT (not found), or a
 * negative errno. */
static int run(char *const argv[], const char *in, char **out, char *err,
               size_t errlen)
{
    posix_spawn_file_actions_t fa;
    int ip[2] = {-1, -1}, op[2] = {-1, -1}, r, status = 0;
    char *obuf = NULL;
    size_t got = 0, olen = 0;
    FILE *o = NULL;
    pid_t pid;

    if (errlen)
        err[0] = '\0';
    if (out && !(o = open_memstream(&obuf, &olen)))
        return -ENOMEM;
    if (pipe2(ip, O_CLOEXEC) < 0 || pipe2(op, O_CLOEXEC) < 0) {
        r = -errno;
        goto out;
    }
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, ip[0], 0);
    posix_spawn_file_actions_adddup2(&fa, op[1], out ? 1 : 2);
    if (out)
        posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
    else
        posix_spawn_file_actions_adddup2(&fa, op[1], 1);
    r = posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(ip[0]);
    close(op[1]);
    ip[0] = op[1] = -1;
    if (r != 0) {
        snprintf(err, errlen, "cannot run %s: %s", argv[0], strerror(r));
        r = -r;
        goto out;
    }
    /* The input is a few rules: it fits the pipe, so writing it all before
     * reading cannot block on the child's output.  A child that exits
     * early must not kill the migrator with SIGPIPE: the write fails. */
    if (in) {
        size_t left = strlen(in);
        sigset_t pipe_set, old;
        sigemptyset(&pipe_set);
        sigaddset(&pipe_set, SIGPIPE);
        pthread_sigmask(SIG_BLOCK, &pipe_set, &old);
        while (left > 0) {
            ssize_t w = write(ip[1], in, left);
            if (w < 0 && errno == EINTR)
                continue;
            if (w <= 0)
                break;
            in += w;
            left -= (size_t)w;
        }
        {
            struct timespec zero = {0, 0};
            while (sigtimedwait(&pipe_set, NULL, &zero) > 0)
                ;
        }
        pthread_sigmask(SIG_SETMASK, &old, NULL);
    }
    close(ip[1]);
    ip[1] = -1;
    for (;;) {
        char chunk[1024];
        ssize_t n = read(op[0], chunk, sizeof(chunk));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        if (out) {
            fwrite(chunk, 1, (size_t)n, o);
        } else if (got + 1 < errlen) {
            size_t k =
                (size_t)n < errlen - 1 - got ? (size_t)n : errlen - 1 - got;
            memcpy(err + got, chunk, k);
            got += k;
            err[got] = '\0';
        }
    }
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR) {
            r = -errno;
            goto out;
        }
    /* posix_spawnp reports a missing program as exit 127 of the child. */
    r = WIFEXITED(status) ? WEXITSTATUS(status) : 255;
    if (r == 127) {
        snprintf(err, errlen, "cannot run %s: not found", argv[0]);
        r = -ENOENT;
        goto out;
    }
    while (got > 0 && (err[got - 1] == '\n' || err[got - 1] == ' '))
        err[--got] = '\0';
    if (out) {
        int f = text_finish(o, &obuf, out);
        o = NULL;
        if (f < 0)
            r = f;
    }
out:
    if (o) {
        fclose(o);
        free(obuf);
    }
    for (int i = 0; i < 2; i++) {
        if (ip[i] >= 0)
            close(ip[i]);
        if (op[i] >= 0)
            close(op[i]);
    }
    return r;
}

static int restore(const char *text, char *err, size_t errlen)
{
    char *argv[] = {"iptables-restore", "--noflush", "--wait", NULL};
    int r;

    if (!*text)
        return 0;
    r = run(argv, text, NULL, err, errlen);
    if (r > 0) {
        if (errlen && !err[0])
            snprintf(err, errlen, "iptables-restore exited %d", r);
        return -EIO;
    }
    return r;
}

int migr_podnat_unforward(const char *domain, char *err, size_t errlen)
{
    static const char *const tables[] = {"nat", "filter"};
    char *save = NULL, *text = NULL, *allbuf = NULL;
    size_t alllen = 0;
    int r = 0, f;
    FILE *all;

    if (!domain_ok(domain))
        return -EINVAL;
    all = open_memstream(&allbuf, &alllen);
    if (!all)
        return -ENOMEM;
    for (size_t i = 0; i < 2 && r >= 0; i++) {
        char *argv[] = {"iptables-save", "-t", (char *)tables[i], NULL};
        r = run(argv, NULL, &save, err, errlen);
        if (r > 0) {
            snprintf(err, errlen, "iptables-save -t %s exited %d", tables[i],
                     r);
            r = -EIO;
        }
        if (r == 0)
            fputs(save, all);
        free(save);
        save = NULL;
    }
    /* Both tables' rules, one text (save is NULL here). */
    f = text_finish(all, &allbuf, &save);
    if (r == 0)
        r = f;
    if (r == 0)
        r = migr_podnat_unrules(domain, save, &text);
    if (r == 0)
        r = restore(text, err, errlen);
    free(save);
    free(text);
    return r;
}

int migr_podnat_forward(const char *domain, const char *guest,
                        const struct migr_podnat_port *ports, size_t n,
                        char *err, size_t errlen)
{
    char *text = NULL;
    int r = migr_podnat_rules(domain, guest, ports, n, &text);

    if (r == 0)
        r = migr_podnat_unforward(domain, err, errlen);
    if (r == 0 && n > 0)
        r = restore(text, err, errlen);
    free(text);
    return r;
}
