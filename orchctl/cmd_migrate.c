/*
 * orchctl migrate, migrate-cancel and drain: create migrations the way
 * virtctl does (generateName kubevirt-migrate-vm-), find and delete the one
 * in flight, and wait for outcomes by polling, with a live progress line on
 * a terminal.  drain cordons the host first (orchctl_node_set_unschedulable).
 */
#include "orchctl/orchctl.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* Transport failures in a row tolerated while waiting, e.g. while the
 * server restarts. */
#define WAIT_MAX_ERRORS 10

struct migration {
    char *ns;
    char *name;
    char *vmi;
    char *phase; /* last seen */
    int outcome; /* 0 in flight, 1 succeeded, -1 failed */
};

static void migration_clear(struct migration *m)
{
    free(m->ns);
    free(m->name);
    free(m->vmi);
    free(m->phase);
    memset(m, 0, sizeof(*m));
}

static const struct orchctl_kind *vmim_kind(void)
{
    return orchctl_kind_find("VirtualMachineInstanceMigration");
}

/* "1.2GiB" for a byte count. */
static void format_bytes(long long n, char *buf, size_t size)
{
    static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    double v = (double)n;
    size_t u = 0;

    while (v >= 1024 && u + 1 < sizeof(units) / sizeof(units[0])) {
        v /= 1024;
        u++;
    }
    if (u == 0)
        snprintf(buf, size, "%lldB", n);
    else
        snprintf(buf, size, "%.1f%s", v, units[u]);
}

/* The progress line of a migration, without a newline:
 * "NAME  Running  [#########-----------]  45%  1.0GiB/2.2GiB  a -> b". */
void orchctl_progress_format(const json_t *vmim, char *buf, size_t size)
{
    const char *name = orchctl_json_str(vmim, "metadata.name");
    const char *phase = orchctl_json_str(vmim, "status.phase");
    const char *src =
        orchctl_json_str(vmim, "status.migrationState.sourceNode");
    const char *dst =
        orchctl_json_str(vmim, "status.migrationState.targetNode");
    json_int_t total = json_integer_value(
        orchctl_json_get(vmim, "status.progress.dataTotalBytes"));
    json_int_t done = json_integer_value(
        orchctl_json_get(vmim, "status.progress.dataProcessedBytes"));
    json_int_t left = json_integer_value(
        orchctl_json_get(vmim, "status.progress.dataRemainingBytes"));
    size_t used;

    used = (size_t)snprintf(buf, size, "%s  %s", name ? name : "",
                            phase && *phase ? phase : "Pending");
    if (used >= size)
        return;
    if (total > 0) {
        char bar[21], a[16], b[16];
        long long pct;
        int fill, i;

        /* Processed can exceed the total when dirty pages are resent;
         * what remains is the better measure then. */
        if (left > 0 || done > total)
            done = total - left < 0 ? 0 : total - left;
        if (phase && !strcmp(phase, "Succeeded"))
            done = total;
        pct = done * 100 / total;
        if (pct > 100)
            pct = 100;
        fill = (int)(pct / 5);
        for (i = 0; i < 20; i++)
            bar[i] = i < fill ? '#' : '-';
        bar[20] = '\0';
        format_bytes(done, a, sizeof(a));
        format_bytes(total, b, sizeof(b));
        used += (size_t)snprintf(buf + used, size - used,
                                 "  [%s] %3lld%%  %s/%s", bar, pct, a, b);
        if (used >= size)
            return;
    }
    if (src || dst)
        snprintf(buf + used, size - used, "  %s -> %s", src ? src : "?",
                 dst && *dst ? dst : "?");
}

static const char *failure_reason(const json_t *vmim)
{
    const char *r =
        orchctl_json_str(vmim, "status.migrationState.failureReason");
    json_t *conds = orchctl_json_get(vmim, "status.conditions");
    size_t i;
    json_t *c;

    if (r && *r)
        return r;
    json_array_foreach(conds, i, c)
    {
        const char *m = json_string_value(json_object_get(c, "message"));

        if (m && *m)
            r = m;
    }
    return r && *r ? r : "no reason given";
}

/* Report a finished migration; returns its outcome. */
static int report_final(struct orchctl_ctx *ctx, struct migration *m,
                        const json_t *vmim)
{
    const char *src =
        orchctl_json_str(vmim, "status.migrationState.sourceNode");
    const char *dst =
        orchctl_json_str(vmim, "status.migrationState.targetNode");

    if (!strcmp(m->phase, "Succeeded")) {
        orchctl_printf_escaped(
            ctx->out,
            "virtualmachineinstancemigration.kubevirt.io/%s Succeeded: "
            "VM %s moved from %s to %s\n",
            m->name, m->vmi, src ? src : "?", dst ? dst : "?");
        return 1;
    }
    orchctl_printf_escaped(ctx->err,
                           "error: migration \"%s\" of VM \"%s\" failed: %s\n",
                           m->name, m->vmi, failure_reason(vmim));
    return -1;
}

/* A poll must not outlast the wait's own deadline (0: none): its request
 * timeout is --request-timeout or the time left, whichever is shorter. */
static void wait_request_timeout(struct orchctl_ctx *ctx, long long deadline)
{
    long long limit = ctx->opts->request_timeout_ms;
    long long left = deadline - orchctl_now_ms();

    if (deadline) {
        if (left < 1)
            left = 1;
        if (!limit || left < limit)
            limit = left;
    }
    orchctl_client_set_timeout(ctx->client, limit);
}

/* Poll every migration until each is final or the timeout passes.  Returns
 * the number that did not succeed. */
static size_t wait_migrations(struct orchctl_ctx *ctx, struct migration *ms,
                              size_t n)
{
    long long deadline =
        ctx->opts->timeout_ms ? orchctl_now_ms() + ctx->opts->timeout_ms : 0;
    bool bar = ctx->tty && n == 1;
    size_t left = 0, failed = 0, i;
    int errors = 0;

    for (i = 0; i < n; i++)
        if (ms[i].outcome == 0)
            left++;
        else if (ms[i].outcome < 0)
            failed++;
    while (left > 0) {
        for (i = 0; i < n; i++) {
            struct migration *m = &ms[i];
            struct orchctl_reply reply = {0};
            char *path;
            json_t *vmim = NULL;
            const char *phase;
            int r;

            if (m->outcome != 0)
                continue;
            path = orchctl_object_path(vmim_kind(), m->ns, m->name);
            if (!path)
                return n;
            wait_request_timeout(ctx, deadline);
            r = orchctl_client_request(ctx->client, "GET", path, NULL, &reply);
            orchctl_client_set_timeout(ctx->client,
                                       ctx->opts->request_timeout_ms);
            free(path);
            if (r < 0) {
                if (++errors > WAIT_MAX_ERRORS) {
                    if (bar)
                        fputc('\n', ctx->out);
                    orchctl_printf_escaped(ctx->err, "%s\n",
                                           orchctl_client_error(ctx->client));
                    return failed + left;
                }
                continue;
            }
            errors = 0;
            if (reply.status == 404) {
                if (bar)
                    fputc('\n', ctx->out);
                orchctl_printf_escaped(
                    ctx->err,
                    "error: migration \"%s\" of VM \"%s\" was deleted "
                    "before it finished\n",
                    m->name, m->vmi);
                m->outcome = -1;
                left--;
                failed++;
                orchctl_reply_clear(&reply);
                continue;
            }
            if (reply.status < 200 || reply.status > 299) {
                if (bar)
                    fputc('\n', ctx->out);
                orchctl_print_server_error(ctx->err, reply.status, reply.body,
                                           reply.len);
                orchctl_reply_clear(&reply);
                return failed + left;
            }
            vmim = json_loadb(reply.body, reply.len, 0, NULL);
            orchctl_reply_clear(&reply);
            phase = orchctl_json_str(vmim, "status.phase");
            if (!phase || !*phase)
                phase = "Pending";
            if (bar) {
                char line[160];

                orchctl_progress_format(vmim, line, sizeof(line));
                /* Only the line is the server's; the cursor moves are
                 * ours. */
                fputs("\r\033[K", ctx->out);
                orchctl_text_print(ctx->out, line);
            } else if (!m->phase || strcmp(m->phase, phase)) {
                orchctl_printf_escaped(ctx->out, "%s: %s\n", m->name, phase);
            }
            fflush(ctx->out);
            if (!m->phase || strcmp(m->phase, phase)) {
                free(m->phase);
                m->phase = strdup(phase);
            }
            if (m->phase && orchctl_phase_final(phase)) {
                if (bar)
                    fputc('\n', ctx->out);
                m->outcome = report_final(ctx, m, vmim);
                left--;
                if (m->outcome < 0)
                    failed++;
            }
            json_decref(vmim);
        }
        if (left == 0)
            break;
        if (deadline && orchctl_now_ms() >= deadline) {
            char dur[32];

            if (bar)
                fputc('\n', ctx->out);
            orchctl_age_format(ctx->opts->timeout_ms / 1000, dur, sizeof(dur));
            for (i = 0; i < n; i++)
                if (ms[i].outcome == 0)
                    orchctl_printf_escaped(
                        ctx->err,
                        "error: timed out after %s waiting for migration "
                        "\"%s\" of VM \"%s\" (phase %s)\n",
                        dur, ms[i].name, ms[i].vmi,
                        ms[i].phase ? ms[i].phase : "unknown");
            return failed + left;
        }
        orchctl_sleep_ms(ctx->poll_ms);
    }
    return failed;
}

/* Parse "k=v[,k2=v2]" into an object of strings. */
static json_t *parse_node_selector(const char *text)
{
    json_t *sel = json_object();
    char *copy = strdup(text), *save = NULL, *pair;

    if (!sel || !copy)
        goto fail;
    for (pair = strtok_r(copy, ",", &save); pair;
         pair = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(pair, '=');

        if (!eq || eq == pair)
            goto fail;
        *eq = '\0';
        if (json_object_set_new(sel, pair, json_string(eq + 1)) < 0)
            goto fail;
    }
    if (json_object_size(sel) == 0)
        goto fail;
    free(copy);
    return sel;
fail:
    free(copy);
    json_decref(sel);
    return NULL;
}

/* Create a migration of vmi in ns; on success fill m.  Returns 0, or the
 * HTTP status (> 0) of a refusal after printing it, or a negative errno. */
static int migration_create(struct orchctl_ctx *ctx, const char *ns,
                            const char *vmi, json_t *node_selector,
                            struct migration *m)
{
    json_t *obj = NULL, *created = NULL;
    char *path = orchctl_kind_path(vmim_kind(), ns);
    const char *name;
    long status = 0;
    int r;

    obj = json_pack("{s:s, s:s, s:{s:s, s:s}, s:{s:s}}", "apiVersion",
                    "kubevirt.io/v1", "kind", "VirtualMachineInstanceMigration",
                    "metadata", "generateName", ORCHCTL_MIGRATION_PREFIX,
                    "namespace", ns, "spec", "vmiName", vmi);
    if (!obj || !path) {
        r = -ENOMEM;
        goto out;
    }
    if (node_selector &&
        json_object_set(json_object_get(obj, "spec"), "addedNodeSelector",
                        node_selector) < 0) {
        r = -ENOMEM;
        goto out;
    }
    r = orchctl_ctx_call(ctx, "POST", path, obj, false, &status, &created);
    if (r == -EPROTO) {
        r = (int)status;
        goto out;
    }
    if (r < 0)
        goto out;
    name = orchctl_json_str(created, "metadata.name");
    if (!name) {
        orchctl_printf_escaped(ctx->err,
                               "error: the server created a migration of VM "
                               "\"%s\" without a name\n",
                               vmi);
        r = -EPROTO;
        goto out;
    }
    m->ns = strdup(ns);
    m->name = strdup(name);
    m->vmi = strdup(vmi);
    if (!m->ns || !m->name || !m->vmi) {
        migration_clear(m);
        r = -ENOMEM;
    }
out:
    if (r == -ENOMEM)
        fprintf(ctx->err, "error: out of memory\n");
    json_decref(obj);
    json_decref(created);
    free(path);
    return r;
}

int orchctl_cmd_migrate(struct orchctl_ctx *ctx)
{
    const struct orchctl_opts *o = ctx->opts;
    const char *vmi = o->args[0];
    json_t *sel = NULL;
    struct migration m = {0};
    int rc = ORCHCTL_EXIT_FAILED;

    if (o->to)
        sel = json_pack("{s:s}", "kubernetes.io/hostname", o->to);
    else if (o->selector) {
        sel = parse_node_selector(o->selector);
        if (!sel) {
            fprintf(ctx->err,
                    "error: invalid --selector \"%s\": want key=value[,"
                    "key=value]\nSee 'orchctl migrate -h' for help.\n",
                    o->selector);
            return ORCHCTL_EXIT_USAGE;
        }
    }
    if (migration_create(ctx, ctx->namespace, vmi, sel, &m) != 0)
        goto out;
    if (o->output == ORCHCTL_OUTPUT_NAME)
        orchctl_printf_escaped(
            ctx->out, "virtualmachineinstancemigration.kubevirt.io/%s\n",
            m.name);
    else
        orchctl_printf_escaped(
            ctx->out,
            "VM %s was scheduled to migrate "
            "(virtualmachineinstancemigration.kubevirt.io/%s)\n",
            vmi, m.name);
    if (!o->wait) {
        rc = ORCHCTL_EXIT_OK;
        goto out;
    }
    fflush(ctx->out);
    rc = wait_migrations(ctx, &m, 1) ? ORCHCTL_EXIT_FAILED : ORCHCTL_EXIT_OK;
out:
    migration_clear(&m);
    json_decref(sel);
    return rc;
}

/* The migrations of vmi in ns that are not final, by the label the server
 * puts on every migration (checked against spec.vmiName as well).  Returns
 * a new array, or NULL after printing why. */
static json_t *inflight_migrations(struct orchctl_ctx *ctx, const char *ns,
                                   const char *vmi)
{
    char *base = orchctl_kind_path(vmim_kind(), ns);
    char *sel = NULL, *esc = NULL, *path = NULL;
    json_t *list = NULL, *found = json_array(), *item;
    size_t i;

    if (!base || !found ||
        asprintf(&sel, "%s=%s", ORCHCTL_VMI_NAME_LABEL, vmi) < 0 ||
        !(esc = orchctl_url_escape(sel)) ||
        asprintf(&path, "%s?labelSelector=%s", base, esc) < 0) {
        fprintf(ctx->err, "error: out of memory\n");
        json_decref(found);
        found = NULL;
        path = NULL;
        goto out;
    }
    if (orchctl_ctx_call(ctx, "GET", path, NULL, false, NULL, &list) < 0) {
        json_decref(found);
        found = NULL;
        goto out;
    }
    json_array_foreach(json_object_get(list, "items"), i, item)
    {
        const char *v = orchctl_json_str(item, "spec.vmiName");

        if (v && !strcmp(v, vmi) &&
            !orchctl_phase_final(orchctl_json_str(item, "status.phase")))
            json_array_append(found, item);
    }
out:
    json_decref(list);
    free(base);
    free(sel);
    free(esc);
    free(path);
    return found;
}

int orchctl_cmd_migrate_cancel(struct orchctl_ctx *ctx)
{
    const char *vmi = ctx->opts->args[0];
    json_t *found = inflight_migrations(ctx, ctx->namespace, vmi), *item;
    int rc = ORCHCTL_EXIT_OK;
    size_t i;

    if (!found)
        return ORCHCTL_EXIT_FAILED;
    if (json_array_size(found) == 0) {
        orchctl_printf_escaped(
            ctx->err, "error: found no migration to cancel for VM \"%s\"\n",
            vmi);
        json_decref(found);
        return ORCHCTL_EXIT_FAILED;
    }
    json_array_foreach(found, i, item)
    {
        const char *name = orchctl_json_str(item, "metadata.name");
        char *path = orchctl_object_path(vmim_kind(), ctx->namespace, name);

        if (!path ||
            orchctl_ctx_call(ctx, "DELETE", path, NULL, false, NULL, NULL) < 0)
            rc = ORCHCTL_EXIT_FAILED;
        else
            orchctl_printf_escaped(ctx->out,
                                   "migration \"%s\" of VM \"%s\" cancelled\n",
                                   name, vmi);
        free(path);
    }
    json_decref(found);
    return rc;
}

int orchctl_cmd_drain(struct orchctl_ctx *ctx)
{
    const char *host = ctx->opts->args[0];
    const struct orchctl_kind *vmi_kind = orchctl_kind_find("vmi");
    /* Without -n, every namespace: a host is drained of all its VMs. */
    const char *ns = ctx->opts->namespace ? ctx->namespace : NULL;
    char *path = orchctl_kind_path(vmi_kind, ns);
    json_t *list = NULL, *item;
    struct migration *ms = NULL;
    size_t n = 0, i, failed = 0, total;
    int rc = ORCHCTL_EXIT_FAILED;

    if (!path) {
        fprintf(ctx->err, "error: out of memory\n");
        return ORCHCTL_EXIT_FAILED;
    }
    /* Cordoned first, as kubectl drain does: no VM is placed or migrated
     * onto the host while it is emptied, and it stays so (uncordon). */
    if (orchctl_node_set_unschedulable(ctx, host, true) < 0)
        goto out;
    if (orchctl_ctx_call(ctx, "GET", path, NULL, false, NULL, &list) < 0)
        goto out;
    ms = calloc(json_array_size(json_object_get(list, "items")) + 1,
                sizeof(*ms));
    if (!ms) {
        fprintf(ctx->err, "error: out of memory\n");
        goto out;
    }
    json_array_foreach(json_object_get(list, "items"), i, item)
    {
        const char *node = orchctl_json_str(item, "status.nodeName");
        const char *phase = orchctl_json_str(item, "status.phase");
        const char *name = orchctl_json_str(item, "metadata.name");
        const char *ins = orchctl_json_str(item, "metadata.namespace");
        json_t *busy;
        int r;

        if (!node || strcmp(node, host) || !name ||
            (phase && strcmp(phase, "Running")))
            continue;
        if (!ins)
            ins = ctx->namespace;
        r = migration_create(ctx, ins, name, NULL, &ms[n]);
        if (r == 0) {
            orchctl_printf_escaped(
                ctx->out,
                "VM %s was scheduled to migrate "
                "(virtualmachineinstancemigration.kubevirt.io/%s)\n",
                name, ms[n].name);
            n++;
            continue;
        }
        /* A migration already in flight: wait for that one instead. */
        busy = r == 409 ? inflight_migrations(ctx, ins, name) : NULL;
        if (json_array_size(busy) > 0) {
            const char *bname =
                orchctl_json_str(json_array_get(busy, 0), "metadata.name");

            ms[n].ns = strdup(ins);
            ms[n].name = strdup(bname ? bname : "");
            ms[n].vmi = strdup(name);
            if (!ms[n].ns || !ms[n].name || !ms[n].vmi) {
                fprintf(ctx->err, "error: out of memory\n");
                migration_clear(&ms[n]);
                failed++;
            } else {
                orchctl_printf_escaped(ctx->out,
                                       "VM %s is already migrating (%s)\n",
                                       name, ms[n].name);
                n++;
            }
        } else {
            failed++;
        }
        json_decref(busy);
    }
    if (n == 0 && failed == 0) {
        orchctl_printf_escaped(ctx->out, "node %s has no running VMs\n", host);
        rc = ORCHCTL_EXIT_OK;
        goto out;
    }
    fflush(ctx->out);
    /* `failed` so far counts the VMs whose migration could not even be
     * created; the wait adds those of the n created that did not end in
     * Succeeded. */
    total = n + failed;
    failed += wait_migrations(ctx, ms, n);
    if (failed) {
        orchctl_printf_escaped(ctx->err,
                               "error: node %s not drained: %zu of %zu VMs did "
                               "not migrate\n",
                               host, failed, total);
        goto out;
    }
    orchctl_printf_escaped(ctx->out, "node %s drained: %zu VMs migrated\n",
                           host, n);
    rc = ORCHCTL_EXIT_OK;
out:
    for (i = 0; ms && i < n; i++)
        migration_clear(&ms[i]);
    free(ms);
    json_decref(list);
    free(path);
    return rc;
}
