/*
 * orchestratord: routing and the resource handlers.
 *
 * Paths follow Kubernetes conventions:
 *   /api/v1/nodes[/NAME]
 *   /apis/GROUP/VERSION/PLURAL[/NAME]                  cluster-scoped, or a
 *                                                      list across namespaces
 *   /apis/GROUP/VERSION/namespaces/NS/PLURAL[/NAME]
 *   /apis/subresources.kubevirt.io/v1/namespaces/NS/virtualmachines/NAME/
 *       {start,stop,restart,migrate}
 * plus discovery, /version, /healthz, /livez, /readyz and /metrics.
 */
#include "orchestratord/orchd.h"
#include "orchestratord/kubeapi.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "log/log.h"
#include "orchestratord/migration.h"
#include "orchestratord/controller.h"
#include "orchestratord/events.h"
#include "orchestratord/hosts.h"
#include "orchestratord/sriov.h"
#include "orchestratord/vms.h"

struct route {
    const struct api_kind_info *kind;
    const char *ns;      /* NULL: cluster-scoped or every namespace */
    const char *name;    /* NULL: the collection */
    const char *sub;     /* VM subresource: start, stop, restart, migrate */
    struct orch_query q; /* the query's options (kubeapi.h) */
};

void orch_settings_clear(struct orch_settings *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->n_tokens; i++) {
        free(s->tokens[i].name);
        if (s->tokens[i].token) {
            /* Do not leave secrets in freed memory. */
            explicit_bzero(s->tokens[i].token, strlen(s->tokens[i].token));
            free(s->tokens[i].token);
        }
    }
    free(s->tokens);
    free(s->migrations.bandwidth_per_migration);
    if (s->agent_token) {
        explicit_bzero(s->agent_token, strlen(s->agent_token));
        free(s->agent_token);
    }
    free(s->agent_cacert);
    memset(s, 0, sizeof(*s));
}

void orch_migration_settings_default(struct orch_migration_settings *m)
{
    memset(m, 0, sizeof(*m));
    m->completion_timeout_per_gib = 150;
    m->progress_timeout = 150;
    m->parallel_migrations_per_cluster = 5;
    m->parallel_outbound_migrations_per_node = 2;
    m->max_downtime_ms = 0; /* libvirt's own */
    m->outcome_timeout_s = 600;
}

void orch_server_init(struct orch_server *srv, struct store *store)
{
    memset(srv, 0, sizeof(*srv));
    srv->store = store;
    api_limits_default(&srv->settings.api_limits);
    srv->settings.max_list_limit = 500;
    srv->settings.max_watchers = 100;
    srv->settings.live_migration = true;
    orch_feed_init(srv);
    srv->settings.node_grace_s = 40;
    orch_migration_settings_default(&srv->settings.migrations);
}

void orch_server_release(struct orch_server *srv)
{
    if (!srv)
        return;
    orch_controller_stop(srv->controller);
    srv->controller = NULL;
    orch_vms_stop(srv->vms);
    srv->vms = NULL;
    orch_watch_end_all(srv);
    orch_feed_release(srv);
    orch_hosts_release(srv);
    orch_settings_clear(&srv->settings);
}

/* "virtualmachineinstancemigrations.kubevirt.io", or "nodes" for core. */
static void resource_name(const struct api_kind_info *k, char *buf, size_t len)
{
    if (k->group[0])
        snprintf(buf, len, "%s.%s", k->plural, k->group);
    else
        snprintf(buf, len, "%s", k->plural);
}

static json_t *details_for(const struct api_kind_info *k, const char *name)
{
    json_t *d = json_object();
    if (name)
        json_object_set_new(d, "name", json_string(name));
    if (k->group[0])
        json_object_set_new(d, "group", json_string(k->group));
    json_object_set_new(d, "kind", json_string(k->plural));
    return d;
}

static void reply_not_found(struct http_response *resp,
                            const struct api_kind_info *k, const char *name)
{
    char res[160], msg[512];
    resource_name(k, res, sizeof(res));
    snprintf(msg, sizeof(msg), "%s \"%s\" not found", res, name);
    orch_reply_status(resp, 404, "NotFound", msg, details_for(k, name));
}

static void reply_conflict(struct http_response *resp,
                           const struct api_kind_info *k, const char *name)
{
    char res[160], msg[512];
    resource_name(k, res, sizeof(res));
    snprintf(msg, sizeof(msg),
             "Operation cannot be fulfilled on %s \"%s\": the object has "
             "been modified; please apply your changes to the latest "
             "version and try again",
             res, name);
    orch_reply_status(resp, 409, "Conflict", msg, details_for(k, name));
}

/* A store or api failure that has no better wording. */
static void reply_store_error(struct http_response *resp, int r,
                              const char *what)
{
    const char *reason;
    int code = orch_status_for_errno(r, &reason);
    if (code >= 500)
        log_error("%s: %s", what, strerror(-r));
    orch_reply_errno(resp, r, "%s: %s", what, strerror(-r));
}

static void set_rv_string(char *buf, size_t len, int64_t rv)
{
    snprintf(buf, len, "%" PRId64, rv);
}

/*
 * Reading.
 */

/* Answer CODE with TEXT (malloc'd JSON, taken over). */
static void reply_stored_text(struct http_response *resp, int code, char *text,
                              size_t len)
{
    http_response_reset_body(resp);
    resp->status = code;
    resp->content_type = "application/json";
    resp->body = text;
    resp->body_len = len;
}

static void handle_get(struct orch_server *srv, const struct http_request *req,
                       struct http_response *resp, const struct route *rt)
{
    enum store_kind sk = orch_store_kind(rt->kind->kind);
    json_t *obj = NULL;
    char *text = NULL;
    size_t len = 0;
    int r;

    /* JSON: the stored text is the answer, without a parse and an encode
     * (most of a GET's CPU time otherwise).  YAML and Tables need the
     * tree. */
    if (orch_accept_format(req->accept) == API_FORMAT_JSON &&
        !orch_accept_table(req->accept)) {
        r = store_get_text(srv->store, sk, rt->ns, rt->name, &text, &len);
        if (r == 0) {
            reply_stored_text(resp, 200, text, len);
            return;
        }
    } else {
        r = store_get(srv->store, sk, rt->ns, rt->name, &obj);
    }
    if (r == -ENOENT) {
        reply_not_found(resp, rt->kind, rt->name);
        return;
    }
    if (r < 0) {
        reply_store_error(resp, r, "cannot read the record");
        return;
    }
    if (orch_accept_table(req->accept)) {
        json_t *one = json_pack("[O]", obj);
        json_t *t =
            one ? orch_table_new(rt->kind->kind, one, NULL,
                                 http_request_param(req, "includeObject"),
                                 (long long)time(NULL))
                : NULL;
        json_decref(one);
        json_decref(obj);
        obj = t;
        if (!obj) {
            orch_reply_errno(resp, -ENOMEM, "out of memory");
            return;
        }
    }
    orch_reply_json(resp, req, 200, obj);
    json_decref(obj);
}

/* A query parameter that is a count, read as the API server reads an
 * int64 (strconv.ParseInt): an optional sign and decimal digits, nothing
 * else (strtoll() alone would also take leading blanks, and a '+' in a
 * query decodes to a blank).  What is below 1 reads as 0: no limit, the
 * default timeout. */
static int parse_size(const char *s, size_t *ret)
{
    char *end;
    long long v;
    const char *d = s && (*s == '+' || *s == '-') ? s + 1 : s;
    if (!d || !isdigit((unsigned char)*d))
        return -EINVAL;
    errno = 0;
    v = strtoll(s, &end, 10);
    if (errno || *end)
        return -EINVAL;
    *ret = v > 0 ? (size_t)v : 0;
    return 0;
}

/* A JSON list answer around the stored texts of the page's items, the same
 * document handle_list() builds as a tree for YAML: no parse of the items,
 * no encode. */
static void list_reply_text(struct orch_server *srv, struct http_response *resp,
                            const struct route *rt,
                            const struct store_list_opts *o)
{
    struct store_text_page page = {0};
    char *cont = NULL, *buf = NULL;
    size_t len = 0;
    FILE *f;
    int r = store_list_text(srv->store, orch_store_kind(rt->kind->kind), rt->ns,
                            o, &page);

    if (r == -EINVAL) {
        orch_reply_errno(resp, r, "invalid continue token");
        return;
    }
    if (r < 0) {
        reply_store_error(resp, r, "cannot list the records");
        return;
    }
    if (page.continue_token) {
        /* Opaque to us: let jansson quote it. */
        json_t *s = json_string(page.continue_token);
        cont = s ? json_dumps(s, JSON_ENCODE_ANY) : NULL;
        json_decref(s);
        if (!cont)
            goto oom;
    }
    f = open_memstream(&buf, &len);
    if (!f)
        goto oom;
    fprintf(f,
            "{\"apiVersion\":\"%s\",\"kind\":\"%s\",\"metadata\":"
            "{\"resourceVersion\":\"%" PRId64 "\"%s%s},\"items\":",
            rt->kind->api_version, rt->kind->list_kind, page.resource_version,
            cont ? ",\"continue\":" : "", cont ? cont : "");
    fwrite(page.items, 1, page.items_len, f);
    fputc('}', f);
    if (fclose(f) != 0) {
        free(buf);
        goto oom;
    }
    reply_stored_text(resp, 200, buf, len);
    free(cont);
    store_text_page_release(&page);
    return;
oom:
    free(cont);
    store_text_page_release(&page);
    orch_reply_errno(resp, -ENOMEM, "out of memory");
}

static void handle_list(struct orch_server *srv, const struct http_request *req,
                        struct http_response *resp, const struct route *rt)
{
    struct orch_filter filter;
    struct store_list_opts o = {0};
    struct store_page page = {0};
    const char *limit = http_request_param(req, "limit");
    char *msg = NULL;
    char rv[32];
    json_t *list = NULL, *md, *items;
    size_t n = 0;
    int r;

    if (limit && parse_size(limit, &n) < 0) {
        orch_reply_errno(resp, -EINVAL, "invalid limit: '%s'", limit);
        return;
    }
    /* A list is paged even when no limit was asked for, so one request
     * never holds every record in memory; clients follow `continue`. */
    if (n == 0 || n > srv->settings.max_list_limit)
        n = srv->settings.max_list_limit;
    r = orch_filter_parse(&filter, http_request_param(req, "labelSelector"),
                          http_request_param(req, "fieldSelector"), &msg);
    if (r < 0) {
        orch_reply_errno(resp, r, "%s", msg ? msg : "invalid selector");
        free(msg);
        return;
    }
    o.limit = n;
    o.continue_token = http_request_param(req, "continue");
    /* Selectors go through the store's indexes where they can; whatever
     * else they ask is checked on at most max_scan records, so that no
     * list holds the event loop for long: the page then ends early with a
     * continue token, which clients follow. */
    orch_filter_list_opts(&filter, rt->kind->kind, &o);
    o.max_scan = srv->list_max_scan ? srv->list_max_scan : ORCH_LIST_MAX_SCAN;
    if (rt->q.rv_match && !strcmp(rt->q.rv_match, "Exact")) {
        /* Only the present is kept: an Exact list of another
         * resourceVersion is one the store no longer has. */
        const char *want = http_request_param(req, "resourceVersion");
        int64_t cur = 0;
        char now[32];
        store_resource_version(srv->store, &cur);
        set_rv_string(now, sizeof(now), cur);
        if (strcmp(want, now) != 0) {
            orch_filter_clear(&filter);
            orch_reply_status(resp, 410, "Expired",
                              "too old resource version: only the current "
                              "one is kept",
                              NULL);
            return;
        }
    }
    if (orch_accept_format(req->accept) == API_FORMAT_JSON &&
        !orch_accept_table(req->accept)) {
        list_reply_text(srv, resp, rt, &o);
        orch_filter_clear(&filter);
        return;
    }
    r = store_list(srv->store, orch_store_kind(rt->kind->kind), rt->ns, &o,
                   &page);
    orch_filter_clear(&filter);
    if (r == -EINVAL) {
        orch_reply_errno(resp, r, "invalid continue token");
        return;
    }
    if (r < 0) {
        reply_store_error(resp, r, "cannot list the records");
        return;
    }
    set_rv_string(rv, sizeof(rv), page.resource_version);
    md = json_pack("{s:s}", "resourceVersion", rv);
    if (md && page.continue_token)
        json_object_set_new(md, "continue", json_string(page.continue_token));
    items = page.items ? json_incref(page.items) : json_array();
    if (orch_accept_table(req->accept))
        list = orch_table_new(rt->kind->kind, items, md,
                              http_request_param(req, "includeObject"),
                              (long long)time(NULL));
    else
        list = json_pack("{s:s, s:s, s:O, s:O}", "apiVersion",
                         rt->kind->api_version, "kind", rt->kind->list_kind,
                         "metadata", md, "items", items);
    json_decref(items);
    json_decref(md);
    store_page_release(&page);
    orch_reply_json(resp, req, 200, list);
    json_decref(list);
}

/* A watch: USER is the token's name orch_auth_check() gave. */
static void handle_watch(struct orch_server *srv,
                         const struct http_request *req,
                         struct http_response *resp, const struct route *rt,
                         const char *user)
{
    struct orch_watch_params p = {
        .kind = rt->kind,
        .ns = rt->ns,
        .name = rt->name,
        .label_selector = http_request_param(req, "labelSelector"),
        .field_selector = http_request_param(req, "fieldSelector"),
        .resource_version = http_request_param(req, "resourceVersion"),
        .user = user,
        .authorization = req->authorization,
        .table = orch_accept_table(req->accept),
        .include_object = http_request_param(req, "includeObject"),
    };
    const char *t = http_request_param(req, "timeoutSeconds");
    struct orch_watcher *w = NULL;
    char *msg = NULL;
    size_t timeout = 0;
    int r;

    if (t && parse_size(t, &timeout) < 0) {
        orch_reply_errno(resp, -EINVAL, "invalid timeoutSeconds: '%s'", t);
        return;
    }
    /* Larger values are clamped, not refused: the client gets the longest
     * watch the server allows and, like any watch that ends, starts the
     * next one from the last resourceVersion it saw. */
    if (timeout > ORCH_WATCH_MAX_TIMEOUT_S)
        timeout = ORCH_WATCH_MAX_TIMEOUT_S;
    p.timeout_s = (long)timeout;
    r = orch_watch_new(srv, &p, &w, &msg);
    if (r < 0) {
        if (r == -EAGAIN)
            orch_reply_errno(resp, r, "too many watches (limit %zu)",
                             srv->settings.max_watchers);
        else
            orch_reply_errno(resp, r, "%s", msg ? msg : strerror(-r));
        free(msg);
        return;
    }
    resp->status = 200;
    resp->content_type = "application/json";
    resp->stream_start = orch_watch_http_start;
    resp->stream_arg = w;
}

/*
 * Writing.
 */

static bool content_type_ok(const char *ct)
{
    static const char *const ok[] = {
        "application/json", "application/yaml", "application/x-yaml",
        "text/yaml",        "text/x-yaml",
    };
    size_t n;
    if (!ct || !*ct)
        return true; /* sniffed by the decoder */
    n = strcspn(ct, ";");
    while (n > 0 && ct[n - 1] == ' ')
        n--;
    for (size_t i = 0; i < sizeof(ok) / sizeof(*ok); i++)
        if (strlen(ok[i]) == n && strncasecmp(ct, ok[i], n) == 0)
            return true;
    return false;
}

/* Answer a decode failure: 413 for a size limit, else 400. */
static void reply_decode_error(struct http_response *resp, int r,
                               const struct api_errors *errs)
{
    char *msg = api_errors_join(errs);
    if (r == -EMSGSIZE || r == -E2BIG)
        orch_reply_errno(resp, -EMSGSIZE, "the request body is too large: %s",
                         msg ? msg : strerror(-r));
    else if (r == -ENOMEM)
        orch_reply_errno(resp, r, "out of memory");
    else
        orch_reply_errno(resp, -EINVAL, "the request body is invalid: %s",
                         msg ? msg : "cannot decode");
    free(msg);
}

/* 422 Invalid with the field causes, as the API server words it. */
static void reply_invalid(struct http_response *resp,
                          const struct api_kind_info *k, const char *name,
                          const struct api_errors *errs)
{
    char *msg = api_errors_status_message(errs, k, name);
    json_t *causes = json_array();
    json_t *d = json_object();

    for (size_t i = 0; i < errs->count; i++) {
        json_t *c = json_pack(
            "{s:s, s:s}", "reason", api_error_reason(errs->items[i].type),
            "message", errs->items[i].detail ? errs->items[i].detail : "");
        if (errs->items[i].field && errs->items[i].field[0])
            json_object_set_new(c, "field", json_string(errs->items[i].field));
        json_array_append_new(causes, c);
    }
    json_object_set_new(d, "name", json_string(name ? name : ""));
    if (k->group[0])
        json_object_set_new(d, "group", json_string(k->group));
    json_object_set_new(d, "kind", json_string(k->kind_name));
    json_object_set_new(d, "causes", causes);
    orch_reply_status(resp, 422, "Invalid", msg ? msg : "invalid object", d);
    free(msg);
}

/* Decode the body and check it is an object of the route's kind in the
 * route's namespace.  Returns the document, or NULL after answering. */
static json_t *decode_body(struct orch_server *srv,
                           const struct http_request *req,
                           struct http_response *resp, const struct route *rt)
{
    struct api_errors errs = API_ERRORS_INIT;
    const struct api_kind_info *k = rt->kind;
    json_t *doc = NULL, *md;
    const char *av, *kind, *ns;
    int r;

    if (!content_type_ok(req->content_type)) {
        orch_reply_errno(resp, -EPROTONOSUPPORT,
                         "the body of the request was in an unknown format "
                         "- accepted media types include: application/json, "
                         "application/yaml");
        return NULL;
    }
    if (!orch_body_fits(srv, req, resp))
        return NULL;
    r = api_doc_decode(req->body, req->body_len, &srv->settings.api_limits,
                       &doc, &errs);
    if (r < 0) {
        reply_decode_error(resp, r, &errs);
        api_errors_clear(&errs);
        return NULL;
    }
    api_errors_clear(&errs);
    if (!json_is_object(doc)) {
        orch_reply_errno(resp, -EINVAL, "the request body must be an object");
        goto fail;
    }
    av = json_string_value(json_object_get(doc, "apiVersion"));
    kind = json_string_value(json_object_get(doc, "kind"));
    if (!kind || !*kind) {
        orch_reply_errno(resp, -EINVAL,
                         "Object 'Kind' is missing in the "
                         "request body");
        goto fail;
    }
    if (!av || !*av) {
        orch_reply_errno(resp, -EINVAL,
                         "Object 'apiVersion' is missing in "
                         "the request body");
        goto fail;
    }
    if (strcmp(av, k->api_version) != 0) {
        orch_reply_errno(resp, -EINVAL,
                         "the API version in the data (%s) does not match "
                         "the expected API version (%s)",
                         av, k->api_version);
        goto fail;
    }
    if (strcmp(kind, k->kind_name) != 0) {
        orch_reply_errno(resp, -EINVAL,
                         "the kind in the data (%s) does not match the "
                         "expected kind (%s)",
                         kind, k->kind_name);
        goto fail;
    }
    md = json_object_get(doc, "metadata");
    if (md && !json_is_object(md)) {
        /* Let validation word it. */
    } else if (k->namespaced) {
        if (!md) {
            md = json_object();
            json_object_set_new(doc, "metadata", md);
        }
        ns = json_string_value(json_object_get(md, "namespace"));
        if (ns && *ns && strcmp(ns, rt->ns) != 0) {
            orch_reply_errno(resp, -EINVAL,
                             "the namespace of the provided object does not "
                             "match the namespace sent on the request");
            goto fail;
        }
        json_object_set_new(md, "namespace", json_string(rt->ns));
    }
    return doc;
fail:
    json_decref(doc);
    return NULL;
}

/* How many Warning headers a reply carries at most, one per unknown field
 * (a last one counts the rest): the reply's other headers need room too. */
#define MAX_FIELD_WARNINGS 8

/* A Warning header as the API server sends one (RFC 7234: code 299, agent
 * "-", a quoted text), kubectl printing it as "Warning: TEXT".  The field
 * path comes from the request: quotes and backslashes are escaped, bytes
 * that have no place in a header line become '?', and it is cut short. */
static void add_warning(struct http_response *resp, const char *field)
{
    char v[320], *o = v;
    const char *pre = "299 - \"unknown field \\\"";

    o += snprintf(v, sizeof(v), "%s", pre);
    for (const unsigned char *c = (const unsigned char *)field;
         *c && o < v + sizeof(v) - 16; c++) {
        if (*c == '"' || *c == '\\') {
            *o++ = '\\';
            *o++ = '\\';
            *o++ = '\\';
            *o++ = (char)*c;
        } else {
            *o++ = *c < 0x20 || *c >= 0x7f ? '?' : (char)*c;
        }
    }
    snprintf(o, (size_t)(v + sizeof(v) - o), "\\\"\"");
    http_response_add_header_copy(resp, "Warning", v);
}

/* fieldValidation=Warn: a Warning header for each field dropped. */
static void warn_dropped(struct http_response *resp, const json_t *dropped)
{
    size_t n = json_array_size(dropped);
    char v[96];

    for (size_t i = 0; i < n && i < MAX_FIELD_WARNINGS; i++)
        add_warning(resp, json_string_value(json_array_get(dropped, i)));
    if (n > MAX_FIELD_WARNINGS) {
        snprintf(v, sizeof(v), "299 - \"%zu more unknown fields\"",
                 n - MAX_FIELD_WARNINGS);
        http_response_add_header_copy(resp, "Warning", v);
    }
}

/* Validate DOC; answers 422 and returns false when invalid.  With
 * fieldValidation=Ignore or Warn, unknown fields are dropped first, as the
 * API server does (the default here stays Strict: a typo is an error); Warn
 * names each in a Warning header. */
static bool validate(struct http_response *resp, const struct route *rt,
                     json_t *doc)
{
    struct api_errors errs = API_ERRORS_INIT;
    const char *fv = rt->q.field_validation;
    int r;

    if (fv && (!strcmp(fv, "Ignore") || !strcmp(fv, "Warn"))) {
        bool warn = !strcmp(fv, "Warn");
        json_t *dropped = warn ? json_array() : NULL;

        if ((warn && !dropped) ||
            orch_openapi_prune(rt->kind->kind, doc, dropped) < 0) {
            json_decref(dropped);
            orch_reply_errno(resp, -ENOMEM, "out of memory");
            return false;
        }
        warn_dropped(resp, dropped);
        json_decref(dropped);
    }
    r = api_object_validate(doc, rt->kind->kind, NULL, &errs);
    if (r == -ENOMEM) {
        orch_reply_errno(resp, r, "out of memory");
    } else if (r < 0) {
        const char *name = api_doc_get_string(doc, "metadata.name");
        if (!name)
            name = api_doc_get_string(doc, "metadata.generateName");
        reply_invalid(resp, rt->kind, name, &errs);
    }
    api_errors_clear(&errs);
    if (r < 0)
        return false;
    if (api_object_set_defaults(doc, rt->kind) < 0) {
        orch_reply_errno(resp, -ENOMEM, "out of memory");
        return false;
    }
    return true;
}

/* Drop what only the server sets. */
static void strip_server_fields(json_t *doc, bool keep_status)
{
    json_t *md = json_object_get(doc, "metadata");
    static const char *const owned[] = {
        "uid",
        "resourceVersion",
        "creationTimestamp",
        "deletionTimestamp",
        "generation",
        "selfLink",
        "managedFields",
    };
    if (json_is_object(md))
        for (size_t i = 0; i < sizeof(owned) / sizeof(*owned); i++)
            json_object_del(md, owned[i]);
    if (!keep_status)
        json_object_del(doc, "status");
}

/* The seed's limitations that the VMI's spec shows (api.h,
 * api_vmi_live_migratable()), judged against the shared_storage its node
 * publishes (status.sharedStorage of the node record), answered as
 * KubeVirt's migration-create admitter answers a LiveMigratable refusal.
 * Returns 0, or -1 after answering. */
static int admit_migratable(struct orch_server *srv, struct http_response *resp,
                            const char *ns, const json_t *doc)
{
    json_t *vmi = NULL, *node = NULL;
    const char *reason = NULL, *nn;
    char msg[768];
    int r = store_get(srv->store, STORE_KIND_VMI, ns,
                      api_doc_get_string(doc, "spec.vmiName"), &vmi);

    if (r < 0)
        return 0; /* orch_migration_admit() has answered for a missing VMI */
    nn = api_doc_get_string(vmi, "status.nodeName");
    if (nn)
        store_get(srv->store, STORE_KIND_NODE, NULL, nn, &node);
    r = api_vmi_live_migratable(
        vmi, json_object_get(json_object_get(node, "status"), "sharedStorage"),
        &reason, msg, sizeof(msg));
    json_decref(node);
    json_decref(vmi);
    if (r == -EDOM) {
        orch_reply_errno(resp, r,
                         "admission webhook \"migration-create-validator."
                         "kubevirt.io\" denied the request: Cannot migrate "
                         "VMI, Reason: %s, Message: %s",
                         reason, msg);
        return -1;
    }
    return 0;
}

/* A VM's template must fit on some node (vms.h, orch_vm_admit()).
 * Returns 0, or -1 after answering 422. */
static int admit_vm(struct orch_server *srv, struct http_response *resp,
                    const struct route *rt, const json_t *doc)
{
    struct api_errors errs = API_ERRORS_INIT;
    char field[128], msg[512];
    /* SR-IOV needs a static MAC and address (issue 12, sriov.h). */
    int r = orch_sriov_vm_check(doc, field, sizeof(field), msg, sizeof(msg));

    if (r == 0)
        r = orch_vm_admit(srv->store, doc, field, sizeof(field), msg,
                          sizeof(msg));

    if (r == -EDOM) {
        if (api_errors_add(&errs, API_ERR_INVALID, field, "%s", msg) < 0)
            orch_reply_errno(resp, -ENOMEM, "out of memory");
        else
            reply_invalid(resp, rt->kind,
                          api_doc_get_string(doc, "metadata.name"), &errs);
        api_errors_clear(&errs);
        return -1;
    }
    if (r < 0) {
        reply_store_error(resp, r, "cannot read the nodes");
        return -1;
    }
    return 0;
}

/* KubeVirt's migration-create admission (migration.h), answered as its
 * webhook's refusal.  Returns 0, or -1 after answering. */
static int admit_migration(struct orch_server *srv, struct http_response *resp,
                           const char *ns, json_t *doc)
{
    char msg[768];
    int r = orch_migration_admit(srv->store, srv->settings.live_migration, ns,
                                 doc, msg, sizeof(msg));

    if (r == -EDOM || r == -EALREADY) {
        orch_reply_errno(resp, r,
                         "admission webhook \"migration-create-validator."
                         "kubevirt.io\" denied the request: %s",
                         msg);
        return -1;
    }
    if (r < 0) {
        reply_store_error(resp, r, "cannot admit the migration");
        return -1;
    }
    return admit_migratable(srv, resp, ns, doc);
}

/* Store a new object that passed validation and admission (in the
 * transaction admit_and_create() opened), commit (the change feed tells the
 * watchers), answer CODE with it.  Returns 0, or -1 after rolling back and
 * answering. */
static int create_and_reply(struct orch_server *srv,
                            const struct http_request *req,
                            struct http_response *resp, const struct route *rt,
                            json_t *doc, int code)
{
    enum store_kind sk = orch_store_kind(rt->kind->kind);
    char *text = NULL;
    size_t len = 0;
    int r = store_create(srv->store, sk, doc);

    if (r == -EEXIST) {
        char res[160], msg[512];
        const char *name = api_doc_get_string(doc, "metadata.name");
        store_txn_rollback(srv->store);
        resource_name(rt->kind, res, sizeof(res));
        snprintf(msg, sizeof(msg), "%s \"%s\" already exists", res,
                 name ? name : "");
        orch_reply_status(resp, 409, "AlreadyExists", msg,
                          details_for(rt->kind, name));
        return -1;
    }
    if (r < 0) {
        store_txn_rollback(srv->store);
        reply_store_error(resp, r, "cannot store the record");
        return -1;
    }
    if (rt->q.dry_run) {
        /* dryRun=All: admitted, validated, given its server fields by the
         * store as a real create would, and then not kept. */
        store_txn_rollback(srv->store);
        orch_reply_json(resp, req, code, doc);
        return 0;
    }
    /* The JSON answer is the stored text, read back in the same
     * transaction: a B-tree lookup costs less than encoding DOC. */
    if (orch_accept_format(req->accept) == API_FORMAT_JSON &&
        store_get_text(
            srv->store, sk, api_doc_get_string(doc, "metadata.namespace"),
            api_doc_get_string(doc, "metadata.name"), &text, &len) < 0)
        text = NULL; /* encode DOC instead */
    r = store_txn_commit(srv->store);
    if (r < 0) {
        free(text);
        reply_store_error(resp, r, "cannot store the record");
        return -1;
    }
    if (rt->kind->kind == API_KIND_VMIM) {
        srv->metrics.migrations_created++;
        orch_events_vmim_phase(doc, "Pending", NULL, srv);
        log_info("migration '%s/%s' of VMI '%s' created",
                 api_doc_get_string(doc, "metadata.namespace"),
                 api_doc_get_string(doc, "metadata.name"),
                 api_doc_get_string(doc, "spec.vmiName"));
    }
    if (text) {
        reply_stored_text(resp, code, text, len);
    } else {
        orch_reply_json(resp, req, code, doc);
    }
    return 0;
}

/* Admit (VMIMs) and create DOC in one store transaction, so the admission
 * reads and the insert see one state and a POST commits once. */
static void admit_and_create(struct orch_server *srv,
                             const struct http_request *req,
                             struct http_response *resp, const struct route *rt,
                             json_t *doc, int code)
{
    int r = store_txn_begin(srv->store);

    if (r < 0) {
        reply_store_error(resp, r, "cannot begin a transaction");
        return;
    }
    if ((rt->kind->kind == API_KIND_VMIM &&
         admit_migration(srv, resp, rt->ns, doc) < 0) ||
        (rt->kind->kind == API_KIND_VM && admit_vm(srv, resp, rt, doc) < 0)) {
        store_txn_rollback(srv->store);
        return;
    }
    create_and_reply(srv, req, resp, rt, doc, code);
}

static void handle_create(struct orch_server *srv,
                          const struct http_request *req,
                          struct http_response *resp, const struct route *rt)
{
    json_t *doc = decode_body(srv, req, resp, rt);
    if (!doc)
        return;
    strip_server_fields(doc, rt->kind->kind != API_KIND_VMIM &&
                                 rt->kind->kind != API_KIND_VM);
    if (validate(resp, rt, doc))
        admit_and_create(srv, req, resp, rt, doc, 201);
    json_decref(doc);
}

/* Store DOC (a whole object that passed validation) over the record it
 * names, expecting resourceVersion RV, and answer 200 with what was stored,
 * or 409 (changed meanwhile), 404 (deleted meanwhile) or the store's error.
 * The one ending of PUT and PATCH. */
static void update_and_reply(struct orch_server *srv,
                             const struct http_request *req,
                             struct http_response *resp, const struct route *rt,
                             json_t *doc, int64_t rv)
{
    int r;

    if (rt->q.dry_run) {
        /* dryRun=All: the update runs and is rolled back. */
        r = store_txn_begin(srv->store);
        if (r == 0) {
            r = store_update(srv->store, orch_store_kind(rt->kind->kind), doc,
                             rv);
            store_txn_rollback(srv->store);
        }
    } else {
        r = store_update(srv->store, orch_store_kind(rt->kind->kind), doc, rv);
    }

    if (r == -ESTALE)
        reply_conflict(resp, rt->kind, rt->name);
    else if (r == -ENOENT)
        reply_not_found(resp, rt->kind, rt->name);
    else if (r < 0)
        reply_store_error(resp, r, "cannot update the record");
    else
        orch_reply_json(resp, req, 200, doc);
}

/* KubeVirt's migration-update admitter: a VMIM's spec never changes, and
 * its kubevirt.io/vmi-name label stays while it is in flight.  Returns true,
 * or false after answering 422. */
static bool vmim_update_allowed(struct http_response *resp, const json_t *old,
                                const json_t *doc)
{
    const char *label = "kubevirt.io/vmi-name";
    const char *ol, *nl;
    const char *msg = NULL;
    json_t *olab = json_object_get(json_object_get(old, "metadata"), "labels");
    json_t *nlab = json_object_get(json_object_get(doc, "metadata"), "labels");

    /* The label's key has dots: read it from the labels object. */
    ol = json_string_value(json_object_get(olab, label));
    nl = json_string_value(json_object_get(nlab, label));
    if (!json_equal(json_object_get(old, "spec"), json_object_get(doc, "spec")))
        msg = "update of Migration object's spec is restricted";
    else if (ol && (!nl || strcmp(ol, nl)) &&
             !api_vmim_phase_is_final(
                 api_vmim_phase_parse(api_doc_get_string(old, "status.phase"))))
        msg = "selector label kubevirt.io/vmi-name can't be modified on an "
              "in-flight migration";
    if (!msg)
        return true;
    {
        char full[512];
        snprintf(full, sizeof(full),
                 "admission webhook \"migration-update-validator.kubevirt.io\" "
                 "denied the request: %s",
                 msg);
        orch_reply_status(resp, 422, "Invalid", full, NULL);
    }
    return false;
}

static void handle_replace(struct orch_server *srv,
                           const struct http_request *req,
                           struct http_response *resp, const struct route *rt)
{
    json_t *doc = decode_body(srv, req, resp, rt);
    json_t *old = NULL, *md;
    const char *name, *rvs;
    int64_t rv = 0;
    int r;

    if (!doc)
        return;
    name = api_doc_get_string(doc, "metadata.name");
    if (!name || strcmp(name, rt->name) != 0) {
        orch_reply_errno(resp, -EINVAL,
                         "the name of the object (%s) does not match the "
                         "name on the URL (%s)",
                         name ? name : "", rt->name);
        goto out;
    }
    rvs = api_doc_get_string(doc, "metadata.resourceVersion");
    if (rvs && *rvs && store_rv_parse(rvs, &rv) < 0) {
        orch_reply_errno(resp, -EINVAL, "invalid resourceVersion: '%s'", rvs);
        goto out;
    }
    r = store_get(srv->store, orch_store_kind(rt->kind->kind), rt->ns, rt->name,
                  &old);
    if (r == -ENOENT) {
        reply_not_found(resp, rt->kind, rt->name);
        goto out;
    }
    if (r < 0) {
        reply_store_error(resp, r, "cannot read the record");
        goto out;
    }
    /* The status belongs to the server: keep the stored one. */
    json_object_del(doc, "status");
    if (json_object_get(old, "status"))
        json_object_set(doc, "status", json_object_get(old, "status"));
    md = json_object_get(doc, "metadata");
    json_object_del(md, "resourceVersion");
    if (rt->kind->kind == API_KIND_VMIM && !vmim_update_allowed(resp, old, doc))
        goto out;
    if (!validate(resp, rt, doc))
        goto out;
    if (rt->kind->kind == API_KIND_VM && admit_vm(srv, resp, rt, doc) < 0)
        goto out;
    update_and_reply(srv, req, resp, rt, doc, rv);
out:
    json_decref(old);
    json_decref(doc);
}

/* PATCH: a JSON patch, a merge patch, or (core kinds) a strategic merge
 * patch (patch.c) on the stored object.  The status and the server's
 * metadata stay.  Server-side apply is refused with 415: a client falls
 * back to client-side apply. */
static void handle_patch(struct orch_server *srv,
                         const struct http_request *req,
                         struct http_response *resp, const struct route *rt)
{
    enum store_kind sk = orch_store_kind(rt->kind->kind);
    struct api_errors errs = API_ERRORS_INIT;
    json_t *patch = NULL, *old = NULL, *doc = NULL, *md, *omd;
    const char *const *types = orch_patch_types(rt->kind->kind);
    const char *rvs;
    char msg[768];
    int64_t rv = 0;
    int type = orch_patch_type_parse(req->content_type);
    int r;

    if (type == ORCH_PATCH_APPLY) {
        orch_reply_errno(resp, -EPROTONOSUPPORT,
                         "server-side apply (application/apply-patch+yaml) "
                         "is not supported by orchestratord: use "
                         "client-side apply (kubectl apply without "
                         "--server-side)");
        return;
    }
    if (type == ORCH_PATCH_STRATEGIC && rt->kind->group[0])
        type = -EPROTONOSUPPORT; /* a custom resource's answer */
    if (type < 0) {
        size_t o = 0;
        msg[0] = '\0';
        for (const char *const *t = types; *t; t++)
            o += (size_t)snprintf(msg + o, sizeof(msg) - o, "%s%s",
                                  o ? ", " : "", *t);
        orch_reply_errno(resp, -EPROTONOSUPPORT,
                         "the body of the request was in an unknown format "
                         "- accepted media types include: %s",
                         msg);
        return;
    }
    if (!orch_body_fits(srv, req, resp))
        return;
    r = api_doc_decode(req->body, req->body_len, &srv->settings.api_limits,
                       &patch, &errs);
    if (r < 0) {
        reply_decode_error(resp, r, &errs);
        goto out;
    }
    if (type != ORCH_PATCH_JSON && !json_is_object(patch)) {
        orch_reply_errno(resp, -EINVAL, "the patch must be an object");
        goto out;
    }
    rvs = type != ORCH_PATCH_JSON
              ? api_doc_get_string(patch, "metadata.resourceVersion")
              : NULL;
    if (rvs && *rvs && store_rv_parse(rvs, &rv) < 0) {
        orch_reply_errno(resp, -EINVAL, "invalid resourceVersion: '%s'", rvs);
        goto out;
    }
    r = store_get(srv->store, sk, rt->ns, rt->name, &old);
    if (r == -ENOENT) {
        reply_not_found(resp, rt->kind, rt->name);
        goto out;
    }
    if (r < 0) {
        reply_store_error(resp, r, "cannot read the record");
        goto out;
    }
    if (!rv && (rvs = api_doc_get_string(old, "metadata.resourceVersion")))
        store_rv_parse(rvs, &rv);
    doc = json_deep_copy(old);
    if (!doc) {
        orch_reply_errno(resp, -ENOMEM, "out of memory");
        goto out;
    }
    r = orch_patch_apply(rt->kind->kind, (enum orch_patch_type)type, doc, patch,
                         msg, sizeof(msg));
    if (r == -EDOM) {
        orch_reply_status(resp, 422, "Invalid", msg, NULL);
        goto out;
    }
    if (r < 0) {
        orch_reply_errno(resp, r, "%s", msg);
        goto out;
    }
    if (!json_is_object(doc)) {
        orch_reply_errno(resp, -EINVAL, "the patched object is not an object");
        goto out;
    }
    /* A JSON patch may name the resourceVersion it expects. */
    if (type == ORCH_PATCH_JSON &&
        (rvs = api_doc_get_string(doc, "metadata.resourceVersion")) &&
        strcmp(rvs, api_doc_get_string(old, "metadata.resourceVersion")
                        ? api_doc_get_string(old, "metadata.resourceVersion")
                        : "") != 0) {
        reply_conflict(resp, rt->kind, rt->name);
        goto out;
    }
    json_object_del(doc, "status");
    if (json_object_get(old, "status"))
        json_object_set(doc, "status", json_object_get(old, "status"));
    md = json_object_get(doc, "metadata");
    omd = json_object_get(old, "metadata");
    if (!json_is_object(md)) {
        md = json_object();
        json_object_set_new(doc, "metadata", md);
    }
    json_object_set(md, "name", json_object_get(omd, "name"));
    if (json_object_get(omd, "namespace"))
        json_object_set(md, "namespace", json_object_get(omd, "namespace"));
    json_object_del(md, "resourceVersion");
    json_object_set_new(doc, "apiVersion", json_string(rt->kind->api_version));
    json_object_set_new(doc, "kind", json_string(rt->kind->kind_name));
    if (rt->kind->kind == API_KIND_VMIM && !vmim_update_allowed(resp, old, doc))
        goto out;
    if (!validate(resp, rt, doc))
        goto out;
    if (rt->kind->kind == API_KIND_VM && admit_vm(srv, resp, rt, doc) < 0)
        goto out;
    update_and_reply(srv, req, resp, rt, doc, rv);
out:
    api_errors_clear(&errs);
    json_decref(patch);
    json_decref(old);
    json_decref(doc);
}

static void delete_record(struct orch_server *srv,
                          const struct http_request *req,
                          struct http_response *resp, const struct route *rt)
{
    enum store_kind sk = orch_store_kind(rt->kind->kind);
    json_t *obj = NULL, *last = NULL;
    int r;

    if (rt->kind->kind == API_KIND_VMIM) {
        r = store_get(srv->store, sk, rt->ns, rt->name, &obj);
        if (r == -ENOENT) {
            reply_not_found(resp, rt->kind, rt->name);
            return;
        }
        if (r < 0) {
            reply_store_error(resp, r, "cannot read the record");
            return;
        }
        if (orch_migration_cancel_action(obj) == ORCH_MIGRATION_CANCEL_ABORT) {
            const char *rvs =
                api_doc_get_string(obj, "metadata.resourceVersion");
            int64_t rv = 0;
            if (rvs)
                store_rv_parse(rvs, &rv);
            if (orch_migration_request_abort(obj) < 0) {
                orch_reply_errno(resp, -ENOMEM, "out of memory");
                json_decref(obj);
                return;
            }
            if (rt->q.dry_run) {
                orch_reply_json(resp, req, 202, obj);
                json_decref(obj);
                return;
            }
            r = store_update(srv->store, sk, obj, rv);
            if (r == -ESTALE) {
                reply_conflict(resp, rt->kind, rt->name);
            } else if (r < 0) {
                reply_store_error(resp, r, "cannot update the record");
            } else {
                log_info("migration '%s/%s': abort requested", rt->ns,
                         rt->name);
                orch_reply_json(resp, req, 202, obj);
            }
            json_decref(obj);
            return;
        }
        json_decref(obj);
    }
    if (rt->q.dry_run) {
        /* dryRun=All: what would be deleted, and nothing is. */
        r = store_get(srv->store, sk, rt->ns, rt->name, &last);
    } else {
        r = store_delete(srv->store, sk, rt->ns, rt->name, 0, &last);
    }
    if (r == -ENOENT) {
        reply_not_found(resp, rt->kind, rt->name);
        return;
    }
    if (r < 0) {
        reply_store_error(resp, r, "cannot delete the record");
        return;
    }
    orch_reply_json(resp, req, 200, last);
    json_decref(last);
}

/* DELETE: the options come in the query and, from kubectl and the client
 * libraries, in a DeleteOptions body (dryRun, propagationPolicy,
 * preconditions). */
static void handle_delete(struct orch_server *srv,
                          const struct http_request *req,
                          struct http_response *resp, const struct route *rt)
{
    struct api_errors errs = API_ERRORS_INIT;
    struct route r2 = *rt;
    json_t *body = NULL, *obj = NULL;
    char msg[512];
    int r;

    if (req->body_len > 0) {
        if (!orch_body_fits(srv, req, resp))
            return;
        r = api_doc_decode(req->body, req->body_len, &srv->settings.api_limits,
                           &body, &errs);
        if (r < 0) {
            reply_decode_error(resp, r, &errs);
            goto out;
        }
        r = orch_delete_options_parse(body, &r2.q, msg, sizeof(msg));
        if (r < 0) {
            orch_reply_errno(resp, r, "%s", msg);
            goto out;
        }
    }
    if (r2.q.pre_uid || r2.q.pre_rv) {
        const char *have;
        r = store_get(srv->store, orch_store_kind(rt->kind->kind), rt->ns,
                      rt->name, &obj);
        if (r == -ENOENT) {
            reply_not_found(resp, rt->kind, rt->name);
            goto out;
        }
        if (r < 0) {
            reply_store_error(resp, r, "cannot read the record");
            goto out;
        }
        have = api_doc_get_string(obj, "metadata.uid");
        if (r2.q.pre_uid && strcmp(r2.q.pre_uid, have ? have : "")) {
            snprintf(msg, sizeof(msg),
                     "Precondition failed: UID in precondition: %s, UID in "
                     "object meta: %s",
                     r2.q.pre_uid, have ? have : "");
            orch_reply_status(resp, 409, "Conflict", msg,
                              details_for(rt->kind, rt->name));
            goto out;
        }
        have = api_doc_get_string(obj, "metadata.resourceVersion");
        if (r2.q.pre_rv && strcmp(r2.q.pre_rv, have ? have : "")) {
            snprintf(msg, sizeof(msg),
                     "Precondition failed: ResourceVersion in precondition: "
                     "%s, ResourceVersion in object meta: %s",
                     r2.q.pre_rv, have ? have : "");
            orch_reply_status(resp, 409, "Conflict", msg,
                              details_for(rt->kind, rt->name));
            goto out;
        }
    }
    delete_record(srv, req, resp, &r2);
out:
    api_errors_clear(&errs);
    json_decref(body);
    json_decref(obj);
}

/*
 * VM subresources, as KubeVirt's virt-api serves them: start and stop
 * change spec.running / spec.runStrategy (Always <-> Halted), or, for a
 * Manual (or Once, RerunOnFailure) VM, append to status.stateChangeRequests
 * what the VM controller (vms.h) then does; restart asks it to stop the
 * current VMI and start a new one.
 */

static void vm_set_running(json_t *vm, bool run)
{
    json_t *spec = json_object_get(vm, "spec");
    if (!json_is_object(spec)) {
        spec = json_object();
        json_object_set_new(vm, "spec", spec);
    }
    if (json_object_get(spec, "running"))
        json_object_set_new(spec, "running", json_boolean(run));
    else
        json_object_set_new(spec, "runStrategy",
                            json_string(run ? "Always" : "Halted"));
}

/* Append {action: ACTION[, uid: UID]} to VM's status.stateChangeRequests. */
static int vm_request(json_t *vm, const char *action, const char *uid)
{
    json_t *st = json_object_get(vm, "status"), *reqs;

    if (!json_is_object(st)) {
        st = json_object();
        json_object_set_new(vm, "status", st);
    }
    reqs = json_object_get(st, "stateChangeRequests");
    if (!json_is_array(reqs)) {
        reqs = json_array();
        json_object_set_new(st, "stateChangeRequests", reqs);
    }
    return json_array_append_new(
        reqs, uid ? json_pack("{s:s, s:{s:s}, s:s}", "action", action, "data",
                              "uid", uid, "uid", uid)
                  : json_pack("{s:s}", "action", action));
}

/* What start, stop or restart does to VM (VMI: its VMI or NULL).  Returns
 * 0 with VM changed, or -EALREADY with the refusal's message in *RET_MSG. */
static int vm_sub_apply(json_t *vm, const json_t *vmi, const char *sub,
                        const char **ret_msg)
{
    const char *rs = orch_vm_run_strategy(vm);
    const char *uid = api_doc_get_string(vmi, "metadata.uid");
    const char *ph = api_doc_get_string(vmi, "status.phase");
    bool runs =
        vmi && ph && strcmp(ph, "Succeeded") != 0 && strcmp(ph, "Failed") != 0;
    bool wants = orch_vm_wants_run(vm, vmi);
    bool manual = strcmp(rs, "Always") != 0 && strcmp(rs, "Halted") != 0;

    if (strcmp(sub, "start") == 0) {
        if (wants && (runs || !vmi)) {
            *ret_msg = "VM is already running";
            return -EALREADY;
        }
        /* A VMI that ended (a start that failed) goes first, then a new
         * one starts. */
        if (vmi && !runs && vm_request(vm, "Stop", uid) < 0)
            return -ENOMEM;
        if (!manual) {
            vm_set_running(vm, true);
            return 0;
        }
        return vm_request(vm, "Start", NULL) < 0 ? -ENOMEM : 0;
    }
    if (strcmp(sub, "stop") == 0) {
        if (!wants && !runs) {
            *ret_msg = "VM is not running";
            return -EALREADY;
        }
        if (!manual || strcmp(rs, "RerunOnFailure") == 0) {
            /* KubeVirt halts a RerunOnFailure VM that is stopped. */
            if (json_object_get(json_object_get(vm, "spec"), "runStrategy"))
                json_object_set_new(json_object_get(vm, "spec"), "runStrategy",
                                    json_string("Halted"));
            else
                vm_set_running(vm, false);
            return 0;
        }
        return vm_request(vm, "Stop", uid) < 0 ? -ENOMEM : 0;
    }
    /* restart */
    if (!vmi) {
        *ret_msg = "VM is not running";
        return -EALREADY;
    }
    if (!wants && strcmp(rs, "Manual") != 0) {
        *ret_msg = "VM is not running";
        return -EALREADY;
    }
    if (vm_request(vm, "Stop", uid) < 0 || vm_request(vm, "Start", NULL) < 0)
        return -ENOMEM;
    return 0;
}

static void handle_vm_sub(struct orch_server *srv,
                          const struct http_request *req,
                          struct http_response *resp, const struct route *rt)
{
    json_t *vm = NULL, *vmi = NULL, *mig = NULL, *opts = NULL;
    const char *rvs;
    int64_t rv = 0;
    int r;

    r = store_get(srv->store, STORE_KIND_VM, rt->ns, rt->name, &vm);
    if (r == -ENOENT) {
        reply_not_found(resp, rt->kind, rt->name);
        return;
    }
    if (r < 0) {
        reply_store_error(resp, r, "cannot read the VM");
        return;
    }
    if (strcmp(rt->sub, "start") == 0 || strcmp(rt->sub, "stop") == 0 ||
        strcmp(rt->sub, "restart") == 0) {
        const char *why = NULL;
        r = store_get(srv->store, STORE_KIND_VMI, rt->ns, rt->name, &vmi);
        if (r < 0 && r != -ENOENT) {
            reply_store_error(resp, r, "cannot read the VMI");
            goto out;
        }
        r = vm_sub_apply(vm, vmi, rt->sub, &why);
        if (r == -EALREADY) {
            orch_reply_status(resp, 409, "Conflict", why, NULL);
            goto out;
        }
        if (r < 0) {
            orch_reply_errno(resp, r, "out of memory");
            goto out;
        }
        rvs = api_doc_get_string(vm, "metadata.resourceVersion");
        if (rvs)
            store_rv_parse(rvs, &rv);
        r = store_update(srv->store, STORE_KIND_VM, vm, rv);
        if (r == -ESTALE) {
            reply_conflict(resp, rt->kind, rt->name);
            goto out;
        }
        if (r < 0) {
            reply_store_error(resp, r, "cannot update the VM");
            goto out;
        }
        log_info("VM '%s/%s': %s requested", rt->ns, rt->name, rt->sub);
        {
            char m[32];
            snprintf(m, sizeof(m), "%s requested", rt->sub);
            orch_reply_status(resp, 202, NULL, m, NULL);
        }
        goto out;
    }

    /* migrate: a VMIM for the VM's VMI, as virtctl migrate makes it. */
    r = store_get(srv->store, STORE_KIND_VMI, rt->ns, rt->name, &vmi);
    if (r == -ENOENT) {
        orch_reply_status(resp, 409, "Conflict", "VM is not running", NULL);
        goto out;
    }
    if (r < 0) {
        reply_store_error(resp, r, "cannot read the VMI");
        goto out;
    }
    if (req->body_len > 0) {
        struct api_errors errs = API_ERRORS_INIT;
        r = api_doc_decode(req->body, req->body_len, &srv->settings.api_limits,
                           &opts, &errs);
        if (r < 0) {
            reply_decode_error(resp, r, &errs);
            api_errors_clear(&errs);
            goto out;
        }
        api_errors_clear(&errs);
    }
    mig = json_pack("{s:s, s:s, s:{s:s, s:s}, s:{s:s}}", "apiVersion",
                    "kubevirt.io/v1", "kind", "VirtualMachineInstanceMigration",
                    "metadata", "generateName", "kubevirt-migrate-vm-",
                    "namespace", rt->ns, "spec", "vmiName", rt->name);
    if (json_is_object(json_object_get(opts, "addedNodeSelector")))
        json_object_set(json_object_get(mig, "spec"), "addedNodeSelector",
                        json_object_get(opts, "addedNodeSelector"));
    {
        struct route mr = {
            .kind = api_kind_info(API_KIND_VMIM), .ns = rt->ns, .name = NULL};
        if (!validate(resp, &mr, mig))
            goto out;
        admit_and_create(srv, req, resp, &mr, mig, 202);
    }
out:
    json_decref(opts);
    json_decref(mig);
    json_decref(vmi);
    json_decref(vm);
}

/*
 * Routing.
 */

static bool kind_has_verb(const struct api_kind_info *k, const char *verb)
{
    for (const char *const *v = orch_kind_verbs(k->kind); *v; v++)
        if (strcmp(*v, verb) == 0)
            return true;
    return false;
}

/* Resolve the resource path after "/api" or "/apis/G" (REST = version
 * onward).  Returns 0 or -ENOENT. */
static int route_parse(const char *group, const char *const *rest, size_t n,
                       struct route *rt)
{
    const char *version, *plural;
    bool sub_group = strcmp(group, "subresources.kubevirt.io") == 0;

    memset(rt, 0, sizeof(*rt));
    if (n < 2)
        return -ENOENT;
    version = rest[0];
    rest++;
    n--;
    if (strcmp(rest[0], "namespaces") == 0) {
        if (n < 3 || n > 5)
            return -ENOENT;
        rt->ns = rest[1];
        plural = rest[2];
        rt->name = n > 3 ? rest[3] : NULL;
        rt->sub = n > 4 ? rest[4] : NULL;
    } else {
        if (n > 3)
            return -ENOENT;
        plural = rest[0];
        rt->name = n > 1 ? rest[1] : NULL;
        rt->sub = n > 2 ? rest[2] : NULL;
    }
    if (sub_group) {
        if (strcmp(version, "v1") != 0 ||
            strcmp(plural, "virtualmachines") != 0 || !rt->ns || !rt->name ||
            !rt->sub ||
            (strcmp(rt->sub, "start") != 0 && strcmp(rt->sub, "stop") != 0 &&
             strcmp(rt->sub, "restart") != 0 &&
             strcmp(rt->sub, "migrate") != 0))
            return -ENOENT;
        rt->kind = api_kind_info(API_KIND_VM);
        return rt->kind ? 0 : -ENOENT;
    }
    if (rt->sub)
        return -ENOENT;
    rt->kind = api_kind_by_resource(group, version, plural);
    if (!rt->kind)
        return -ENOENT;
    if (rt->kind->namespaced) {
        if (rt->name && !rt->ns)
            return -ENOENT;
    } else if (rt->ns) {
        return -ENOENT;
    }
    return 0;
}

static void reply_text(struct http_response *resp, int code, const char *text)
{
    http_response_reset_body(resp);
    resp->status = code;
    resp->content_type = "text/plain; charset=utf-8";
    resp->body = strdup(text);
    resp->body_len = resp->body ? strlen(text) : 0;
}

static void reply_method_not_allowed(struct http_response *resp)
{
    orch_reply_errno(resp, -EOPNOTSUPP,
                     "the server does not allow this method on the "
                     "requested resource");
}

#if defined(__x86_64__)
#define PLATFORM_ARCH "amd64"
#elif defined(__aarch64__)
#define PLATFORM_ARCH "arm64"
#else
#define PLATFORM_ARCH "unknown"
#endif

/* Kubernetes' version.Info, the fields that have a meaning here. */
static void reply_version(struct http_response *resp,
                          const struct http_request *req)
{
    json_t *doc;

    if (!orch_method_is_read(req->method)) {
        reply_method_not_allowed(resp);
        return;
    }
    doc = json_pack("{s:s, s:s, s:s, s:s, s:s}", "major", ORCHD_VERSION_MAJOR,
                    "minor", ORCHD_VERSION_MINOR, "gitVersion", ORCHD_VERSION,
                    "compiler", "gcc", "platform", "linux/" PLATFORM_ARCH);
    if (!doc) {
        orch_reply_errno(resp, -ENOMEM, "out of memory");
        return;
    }
    orch_reply_json(resp, req, 200, doc);
    json_decref(doc);
}

/* /openapi/v2, /openapi/v3 and /openapi/v3/api[s]/[G/]V (openapi.c). */
static void handle_openapi(const struct http_request *req,
                           struct http_response *resp)
{
    const char *const *segv = req->segv;
    size_t segc = req->segc;
    json_t *doc = NULL;
    int r = -ENOENT;

    if (!orch_method_is_read(req->method)) {
        reply_method_not_allowed(resp);
        return;
    }
    if (segc == 2 && strcmp(segv[1], "v2") == 0)
        doc = orch_openapi_v2();
    else if (segc == 2 && strcmp(segv[1], "v3") == 0)
        doc = orch_openapi_v3_root();
    else if (segc == 4 && strcmp(segv[1], "v3") == 0 &&
             strcmp(segv[2], "api") == 0)
        doc = orch_openapi_v3_gv("", segv[3], &r);
    else if (segc == 5 && strcmp(segv[1], "v3") == 0 &&
             strcmp(segv[2], "apis") == 0)
        doc = orch_openapi_v3_gv(segv[3], segv[4], &r);
    else
        r = -ENOENT;
    if (!doc && (segc == 2 || r == -ENOMEM))
        r = -ENOMEM;
    if (!doc) {
        orch_reply_errno(resp, r,
                         r == -ENOENT ? "the server could not find the "
                                        "requested resource"
                                      : "out of memory");
        return;
    }
    orch_reply_json(resp, req, 200, doc);
    json_decref(doc);
}

static const char *verb_of(const struct http_request *req,
                           const struct route *rt, bool watch)
{
    switch (req->method) {
    case HTTP_METHOD_POST:
        return "create";
    case HTTP_METHOD_PUT:
        return "update";
    case HTTP_METHOD_DELETE:
        return "delete";
    case HTTP_METHOD_PATCH:
        return "patch";
    default:
        if (watch)
            return "watch";
        return rt->name ? "get" : "list";
    }
}

/* A boolean parameter, read as the API server reads it
 * (orch_query_bool()). */
static bool param_true(const struct http_request *req, const char *key)
{
    return orch_query_bool(http_request_param(req, key));
}

/* The paths that are not resources: health, readiness, metrics. */
static bool is_probe(const char *seg)
{
    return strcmp(seg, "healthz") == 0 || strcmp(seg, "livez") == 0 ||
           strcmp(seg, "readyz") == 0 || strcmp(seg, "metrics") == 0;
}

static void dispatch(struct orch_server *srv, const struct http_request *req,
                     struct http_response *resp)
{
    const char *const *segv = req->segv;
    size_t segc = req->segc;
    enum orch_role role;
    const char *user = NULL;
    struct route rt;
    bool watch;
    const char *verb;
    int r;

    if (segc == 1 && is_probe(segv[0]) && req->method != HTTP_METHOD_GET &&
        req->method != HTTP_METHOD_HEAD) {
        reply_method_not_allowed(resp);
        http_response_add_header(resp, "Allow", "GET, HEAD");
        return;
    }
    if (segc == 1 &&
        (strcmp(segv[0], "healthz") == 0 || strcmp(segv[0], "livez") == 0)) {
        reply_text(resp, 200, "ok");
        return;
    }
    if (segc == 1 && strcmp(segv[0], "readyz") == 0) {
        int64_t rv;
        if (srv->shutting_down)
            reply_text(resp, 503, "shutting down");
        else if (srv->store_full)
            reply_text(resp, 503, "store full: no space left on device");
        else if (store_resource_version(srv->store, &rv) < 0)
            reply_text(resp, 503, "store unavailable");
        else
            reply_text(resp, 200, "ok");
        return;
    }
    /* Who asks comes before what they accept: an unauthenticated client
     * learns nothing from a 406. */
    r = orch_auth_check(&srv->settings, req, &role, &user);
    if (r < 0) {
        orch_reply_errno(resp, r, "Unauthorized");
        http_response_add_header(resp, "WWW-Authenticate", "Bearer");
        return;
    }
    if (orch_accept_format(req->accept) < 0) {
        orch_reply_errno(resp, -ENOPROTOOPT,
                         "only the following media types are accepted: "
                         "application/json, application/yaml");
        return;
    }

    if (segc == 1 && strcmp(segv[0], "metrics") == 0) {
        size_t len = 0;
        char *text = orch_metrics_render(srv, &len);
        if (!text) {
            orch_reply_errno(resp, -ENOMEM, "out of memory");
            return;
        }
        resp->status = 200;
        resp->content_type = "text/plain; version=0.0.4; charset=utf-8";
        resp->body = text;
        resp->body_len = len;
        return;
    }

    if (segc == 1 && strcmp(segv[0], "version") == 0) {
        reply_version(resp, req);
        return;
    }

    if (segc >= 2 && strcmp(segv[0], "openapi") == 0) {
        handle_openapi(req, resp);
        return;
    }

    /* Migrators' reports: PUT /apis/agent.orchestrator.io/v1/nodereports/N
     */
    if (segc >= 2 && strcmp(segv[0], "apis") == 0 &&
        strcmp(segv[1], "agent.orchestrator.io") == 0) {
        char msg[768];
        if (segc != 5 || strcmp(segv[2], "v1") != 0 ||
            strcmp(segv[3], "nodereports") != 0) {
            orch_reply_errno(resp, -ENOENT,
                             "the server could not find the requested "
                             "resource");
            return;
        }
        if (req->method != HTTP_METHOD_PUT) {
            reply_method_not_allowed(resp);
            return;
        }
        if (!orch_auth_allowed(role, user, req->method, ORCH_AUTH_NODEREPORT,
                               API_KIND_NODE, segv[4], msg, sizeof(msg))) {
            orch_reply_status(resp, 403, "Forbidden", msg, NULL);
            return;
        }
        orch_handle_nodereport(srv, req, resp, segv[4]);
        return;
    }

    /* Discovery documents. */
    if ((segc >= 1 && segc <= 2 && strcmp(segv[0], "api") == 0) ||
        (segc >= 1 && segc <= 3 && strcmp(segv[0], "apis") == 0)) {
        json_t *doc = orch_discovery(segv, segc, &r);
        if (!doc) {
            orch_reply_errno(resp, -ENOENT,
                             "the server could not find the "
                             "requested resource");
            return;
        }
        if (!orch_method_is_read(req->method))
            reply_method_not_allowed(resp);
        else
            orch_reply_json(resp, req, 200, doc);
        json_decref(doc);
        return;
    }

    /* core/v1 Events (events.c): not an api kind, the store's log. */
    if (segc >= 3 && strcmp(segv[0], "api") == 0 &&
        strcmp(segv[1], "v1") == 0 && strcmp(segv[segc - 1], "events") == 0 &&
        (segc == 3 || (segc == 5 && strcmp(segv[2], "namespaces") == 0))) {
        orch_events_handle(srv, req, resp, segc == 5 ? segv[3] : NULL);
        return;
    }

    /* Pods: there are none (a VM is a VMI here, not a pod), and clients
     * that look for the pods on a node (kubectl describe node) get an
     * empty list rather than an error.  Not in discovery. */
    if (segc >= 3 && strcmp(segv[0], "api") == 0 &&
        strcmp(segv[1], "v1") == 0 && strcmp(segv[segc - 1], "pods") == 0 &&
        (segc == 3 || (segc == 5 && strcmp(segv[2], "namespaces") == 0)) &&
        orch_method_is_read(req->method)) {
        json_t *none = json_pack("{s:s, s:s, s:{s:s}, s:[]}", "kind", "PodList",
                                 "apiVersion", "v1", "metadata",
                                 "resourceVersion", "0", "items");
        orch_reply_json(resp, req, 200, none);
        json_decref(none);
        return;
    }

    if (segc >= 1 && strcmp(segv[0], "api") == 0)
        r = route_parse("", segv + 1, segc - 1, &rt);
    else if (segc >= 2 && strcmp(segv[0], "apis") == 0)
        r = route_parse(segv[1], segv + 2, segc - 2, &rt);
    else
        r = -ENOENT;
    if (r < 0) {
        orch_reply_errno(resp, -ENOENT,
                         "the server could not find the requested resource");
        return;
    }

    watch = req->method == HTTP_METHOD_GET && param_true(req, "watch");
    verb = verb_of(req, &rt, watch);
    {
        char msg[512];
        r = orch_query_parse(req->params, req->n_params, verb, &rt.q, msg,
                             sizeof(msg));
        if (r < 0) {
            orch_reply_errno(resp, r, "%s", msg);
            return;
        }
    }
    if (role == ORCH_ROLE_VIEWER && !orch_method_is_read(req->method)) {
        char res[160], msg[768];
        resource_name(rt.kind, res, sizeof(res));
        if (rt.ns)
            snprintf(msg, sizeof(msg),
                     "%s is forbidden: User \"%s\" cannot %s resource "
                     "\"%s%s%s\" in API group \"%s\" in the namespace "
                     "\"%s\"",
                     res, user, verb, rt.kind->plural, rt.sub ? "/" : "",
                     rt.sub ? rt.sub : "",
                     rt.sub ? "subresources.kubevirt.io" : rt.kind->group,
                     rt.ns);
        else
            snprintf(msg, sizeof(msg),
                     "%s is forbidden: User \"%s\" cannot %s resource "
                     "\"%s\" in API group \"%s\" at the cluster scope",
                     res, user, verb, rt.kind->plural, rt.kind->group);
        orch_reply_status(resp, 403, "Forbidden", msg,
                          details_for(rt.kind, rt.name));
        return;
    }

    if (role == ORCH_ROLE_NODE) {
        char msg[768];
        if (!orch_auth_allowed(role, user, req->method, ORCH_AUTH_RESOURCE,
                               rt.sub ? API_KIND_VM : rt.kind->kind, NULL, msg,
                               sizeof(msg))) {
            orch_reply_status(resp, 403, "Forbidden", msg,
                              details_for(rt.kind, rt.name));
            return;
        }
    }

    if (rt.sub) {
        if (req->method != HTTP_METHOD_PUT)
            reply_method_not_allowed(resp);
        else
            handle_vm_sub(srv, req, resp, &rt);
        return;
    }
    switch (req->method) {
    case HTTP_METHOD_GET:
    case HTTP_METHOD_HEAD:
        if (watch)
            handle_watch(srv, req, resp, &rt, user);
        else if (rt.name)
            handle_get(srv, req, resp, &rt);
        else
            handle_list(srv, req, resp, &rt);
        return;
    case HTTP_METHOD_POST:
        if (rt.name || !rt.ns != !rt.kind->namespaced ||
            !kind_has_verb(rt.kind, "create"))
            reply_method_not_allowed(resp);
        else
            handle_create(srv, req, resp, &rt);
        return;
    case HTTP_METHOD_PUT:
        if (!rt.name || !kind_has_verb(rt.kind, "update"))
            reply_method_not_allowed(resp);
        else
            handle_replace(srv, req, resp, &rt);
        return;
    case HTTP_METHOD_DELETE:
        if (!rt.name || !kind_has_verb(rt.kind, "delete"))
            reply_method_not_allowed(resp);
        else
            handle_delete(srv, req, resp, &rt);
        return;
    case HTTP_METHOD_PATCH:
        if (!rt.name || !kind_has_verb(rt.kind, "patch"))
            reply_method_not_allowed(resp);
        else
            handle_patch(srv, req, resp, &rt);
        return;
    default:
        reply_method_not_allowed(resp);
        return;
    }
}

/* ?pretty=true: the JSON answer indented, as the API server's. */
static void pretty_print(const struct http_request *req,
                         struct http_response *resp)
{
    json_t *doc;
    char *text;

    if (!param_true(req, "pretty") || !resp->body || resp->stream_start ||
        !resp->content_type ||
        strcmp(resp->content_type, "application/json") != 0)
        return;
    doc = json_loadb(resp->body, resp->body_len, 0, NULL);
    text = doc ? json_dumps(doc, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : NULL;
    json_decref(doc);
    if (!text)
        return; /* the compact answer is as good */
    free(resp->body);
    resp->body = text;
    resp->body_len = strlen(text);
}

void orch_handle(const struct http_request *req, struct http_response *resp,
                 void *arg)
{
    struct orch_server *srv = arg;

    dispatch(srv, req, resp);
    pretty_print(req, resp);
    /* A full disk shows in /readyz until a write goes through again. */
    if (resp->status == 507)
        srv->store_full = true;
    else if (!orch_method_is_read(req->method) && resp->status >= 200 &&
             resp->status < 300)
        srv->store_full = false;
    orch_metrics_request(&srv->metrics, req->method, resp->status);
    if (resp->status >= 500)
        log_warn("%s %s from %s: %d", http_method_name(req->method),
                 req->path ? req->path : "", req->peer ? req->peer : "",
                 resp->status);
    else
        log_debug("%s %s from %s: %d", http_method_name(req->method),
                  req->path ? req->path : "", req->peer ? req->peer : "",
                  resp->status);
}
