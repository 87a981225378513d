/*
 * orchestratord: the query parameters of metav1's ListOptions,
 * CreateOptions, UpdateOptions, PatchOptions and DeleteOptions, read as
 * the API server reads them: booleans as apimachinery converts them (only
 * "0" and "false" are false), integers
 * as int64, a malformed value 400 BadRequest, a value the options'
 * validation refuses 422 Invalid with the API server's words.  Parameters
 * it does not know are ignored, as the API server ignores them.
 */
#include "orchestratord/kubeapi.h"

#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

bool orch_query_bool(const char *s)
{
    /* Not strconv.ParseBool: "watch=yes" and "?watch" are watches. */
    return s && strcmp(s, "0") != 0 && strcasecmp(s, "false") != 0;
}

static int fail(int err, char *msg, size_t len, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int fail(int err, char *msg, size_t len, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, len, fmt, ap);
    va_end(ap);
    return err;
}

static bool one_of(const char *v, const char *const *allowed)
{
    for (; *allowed; allowed++)
        if (!strcmp(v, *allowed))
            return true;
    return false;
}

static bool is_write(const char *verb)
{
    return !strcmp(verb, "create") || !strcmp(verb, "update") ||
           !strcmp(verb, "patch") || !strcmp(verb, "delete");
}

int orch_query_parse(const struct http_param *params, size_t n,
                     const char *verb, struct orch_query *q, char *msg,
                     size_t len)
{
    static const char *const validations[] = {"Ignore", "Strict", "Warn", NULL};
    static const char *const policies[] = {"Orphan", "Background", "Foreground",
                                           NULL};
    static const char *const matches[] = {"NotOlderThan", "Exact", NULL};
    static const struct {
        const char *key;
        size_t offset;
    } bools[] = {
        {"pretty", offsetof(struct orch_query, pretty)},
        {"watch", offsetof(struct orch_query, watch)},
        {"allowWatchBookmarks", offsetof(struct orch_query, allow_bookmarks)},
    };
    bool have_rv = false, have_send_initial = false;
    const char *kind = !strcmp(verb, "create")   ? "CreateOptions"
                       : !strcmp(verb, "update") ? "UpdateOptions"
                       : !strcmp(verb, "patch")  ? "PatchOptions"
                       : !strcmp(verb, "delete") ? "DeleteOptions"
                                                 : "ListOptions";

    memset(q, 0, sizeof(*q));
    q->grace_period_s = -1;
    for (size_t i = 0; i < n; i++) {
        const char *k = params[i].key, *v = params[i].value;
        bool known = false;

        for (size_t j = 0; j < sizeof(bools) / sizeof(*bools); j++) {
            if (strcmp(k, bools[j].key))
                continue;
            known = true;
            *(bool *)((char *)q + bools[j].offset) = orch_query_bool(v);
        }
        if (known)
            continue;
        if (!strcmp(k, "dryRun")) {
            /* Repeated or a list: each one must be All. */
            if (strcmp(v, "All"))
                return fail(-EDOM, msg, len,
                            "%s.meta.k8s.io \"\" is invalid: dryRun: "
                            "Unsupported value: [\"%s\"]: supported values: "
                            "\"All\"",
                            kind, v);
            if (!is_write(verb))
                continue;
            q->dry_run = true;
        } else if (!strcmp(k, "fieldManager")) {
            size_t l = strlen(v);
            if (l > 128)
                return fail(-EDOM, msg, len,
                            "%s.meta.k8s.io \"\" is invalid: fieldManager: "
                            "Too long: may not be more than 128 bytes",
                            kind);
            for (size_t c = 0; c < l; c++)
                if ((unsigned char)v[c] < 0x20 || v[c] == 0x7f)
                    return fail(-EDOM, msg, len,
                                "%s.meta.k8s.io \"\" is invalid: "
                                "fieldManager: Invalid value: \"%s\": "
                                "must only contain printable characters",
                                kind, v);
            q->field_manager = v;
        } else if (!strcmp(k, "fieldValidation")) {
            if (*v && !one_of(v, validations))
                return fail(-EINVAL, msg, len,
                            "fieldValidation: Unsupported value: \"%s\": "
                            "supported values: \"Ignore\", \"Strict\", "
                            "\"Warn\"",
                            v);
            q->field_validation = *v ? v : NULL;
        } else if (!strcmp(k, "propagationPolicy")) {
            if (!one_of(v, policies))
                return fail(-EDOM, msg, len,
                            "DeleteOptions.meta.k8s.io \"\" is invalid: "
                            "propagationPolicy: Unsupported value: \"%s\": "
                            "supported values: \"Foreground\", "
                            "\"Background\", \"Orphan\", \"nil\"",
                            v);
            q->propagation_policy = v;
        } else if (!strcmp(k, "gracePeriodSeconds")) {
            char *end;
            long long g;
            errno = 0;
            g = strtoll(v, &end, 10);
            if (!*v || *end || errno)
                return fail(-EINVAL, msg, len,
                            "gracePeriodSeconds: strconv.ParseInt: parsing "
                            "\"%s\": invalid syntax",
                            v);
            q->grace_period_s = g;
        } else if (!strcmp(k, "resourceVersionMatch")) {
            if (*v && !one_of(v, matches))
                return fail(-EDOM, msg, len,
                            "ListOptions.meta.k8s.io \"\" is invalid: "
                            "resourceVersionMatch: Unsupported value: "
                            "\"%s\": supported values: \"Exact\", "
                            "\"NotOlderThan\", \"\"",
                            v);
            q->rv_match = *v ? v : NULL;
        } else if (!strcmp(k, "resourceVersion")) {
            have_rv = *v != '\0';
        } else if (!strcmp(k, "sendInitialEvents")) {
            /* Present at all, even false, it asks for a streaming list. */
            have_send_initial = true;
        }
    }
    if (q->rv_match && q->watch)
        return fail(-EDOM, msg, len,
                    "ListOptions.meta.k8s.io \"\" is invalid: "
                    "resourceVersionMatch: Forbidden: resourceVersionMatch "
                    "is forbidden for watch");
    if (q->rv_match && !have_rv)
        return fail(-EDOM, msg, len,
                    "ListOptions.meta.k8s.io \"\" is invalid: "
                    "resourceVersionMatch: Forbidden: resourceVersionMatch "
                    "is forbidden unless resourceVersion is provided");
    /* Streaming lists (WatchList) are not served: clients that ask fall
     * back to a list and a watch on this error, as they do against an API
     * server with the feature off. */
    if (have_send_initial)
        return fail(-EDOM, msg, len,
                    "ListOptions.meta.k8s.io \"\" is invalid: "
                    "sendInitialEvents: Forbidden: sendInitialEvents is "
                    "forbidden for watch unless the WatchList feature gate "
                    "is enabled");
    return 0;
}

int orch_delete_options_parse(const json_t *body, struct orch_query *q,
                              char *msg, size_t len)
{
    static const char *const policies[] = {"Orphan", "Background", "Foreground",
                                           NULL};
    const char *kind = json_string_value(json_object_get(body, "kind"));
    const json_t *dry = json_object_get(body, "dryRun");
    const json_t *pp = json_object_get(body, "propagationPolicy");
    const json_t *gp = json_object_get(body, "gracePeriodSeconds");
    const json_t *od = json_object_get(body, "orphanDependents");
    const json_t *pre = json_object_get(body, "preconditions");

    if (!json_is_object(body))
        return fail(-EINVAL, msg, len,
                    "the body of a delete must be a "
                    "DeleteOptions object");
    if (kind && strcmp(kind, "DeleteOptions"))
        return fail(-EINVAL, msg, len,
                    "the body of a delete must be a DeleteOptions, not %s",
                    kind);
    if (dry && !json_is_null(dry)) {
        if (!json_is_array(dry))
            return fail(-EINVAL, msg, len, "dryRun: must be a list of strings");
        for (size_t i = 0; i < json_array_size(dry); i++) {
            const char *v = json_string_value(json_array_get(dry, i));
            if (!v || strcmp(v, "All"))
                return fail(-EDOM, msg, len,
                            "DeleteOptions.meta.k8s.io \"\" is invalid: "
                            "dryRun: Unsupported value: [\"%s\"]: supported "
                            "values: \"All\"",
                            v ? v : "");
            q->dry_run = true;
        }
    }
    if (pp && !json_is_null(pp)) {
        const char *v = json_string_value(pp);
        if (!v)
            return fail(-EINVAL, msg, len,
                        "propagationPolicy: must be a string");
        if (!one_of(v, policies))
            return fail(-EDOM, msg, len,
                        "DeleteOptions.meta.k8s.io \"\" is invalid: "
                        "propagationPolicy: Unsupported value: \"%s\": "
                        "supported values: \"Foreground\", \"Background\", "
                        "\"Orphan\", \"nil\"",
                        v);
        if (json_is_true(od))
            return fail(
                -EDOM, msg, len,
                "DeleteOptions.meta.k8s.io \"\" is invalid: "
                "propagationPolicy: Invalid value: \"%s\": orphanDependents "
                "and deletionPropagation cannot be both set",
                v);
        q->propagation_policy = v;
    }
    if (gp && !json_is_null(gp)) {
        if (!json_is_integer(gp))
            return fail(-EINVAL, msg, len,
                        "gracePeriodSeconds: must be an integer");
        q->grace_period_s = json_integer_value(gp);
    }
    if (od && !json_is_null(od) && !json_is_boolean(od))
        return fail(-EINVAL, msg, len, "orphanDependents: must be a boolean");
    if (pre && !json_is_null(pre)) {
        if (!json_is_object(pre))
            return fail(-EINVAL, msg, len, "preconditions: must be an object");
        q->pre_uid = json_string_value(json_object_get(pre, "uid"));
        q->pre_rv = json_string_value(json_object_get(pre, "resourceVersion"));
    }
    return 0;
}
