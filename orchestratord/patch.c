/*
 * orchestratord: the PATCH types of the API server, applied to a stored
 * object: RFC 6902 JSON patch, RFC 7386 JSON merge patch and Kubernetes'
 * strategic merge patch.
 *
 * Strategic merge is what the API server does for built-in kinds: a merge
 * patch, except that a list whose Go field carries a patchMergeKey merges
 * element by element on that key, a list of scalars with patchStrategy
 * merge takes the union, and the $patch, $retainKeys,
 * $deleteFromPrimitiveList/ and $setElementOrder/ directives apply.  Which
 * lists merge is kube's table for the core kinds served here (Node); the
 * handlers refuse a strategic patch of KubeVirt's kinds with 415, as the
 * API server does for custom resources.
 */
#include "orchestratord/kubeapi.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

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

int orch_patch_type_parse(const char *ct)
{
    static const struct {
        const char *name;
        enum orch_patch_type type;
    } types[] = {
        {"application/json-patch+json", ORCH_PATCH_JSON},
        {"application/merge-patch+json", ORCH_PATCH_MERGE},
        {"application/strategic-merge-patch+json", ORCH_PATCH_STRATEGIC},
        {"application/apply-patch+yaml", ORCH_PATCH_APPLY},
    };
    size_t n, b = 0;

    if (!ct)
        return -EPROTONOSUPPORT;
    while (ct[b] == ' ' || ct[b] == '\t')
        b++;
    ct += b;
    n = strcspn(ct, ";");
    while (n > 0 && (ct[n - 1] == ' ' || ct[n - 1] == '\t'))
        n--;
    for (size_t i = 0; i < sizeof(types) / sizeof(*types); i++)
        if (strlen(types[i].name) == n && !strncasecmp(ct, types[i].name, n))
            return (int)types[i].type;
    return -EPROTONOSUPPORT;
}

/*
 * JSON merge patch.
 */

static void merge(json_t *target, const json_t *patch)
{
    const char *k;
    json_t *v;

    json_object_foreach((json_t *)patch, k, v)
    {
        json_t *t = json_object_get(target, k);
        if (json_is_null(v)) {
            json_object_del(target, k);
        } else if (json_is_object(v)) {
            if (!json_is_object(t)) {
                t = json_object();
                json_object_set_new(target, k, t);
            }
            merge(t, v);
        } else {
            json_object_set_new(target, k, json_deep_copy(v));
        }
    }
}

/*
 * Strategic merge patch.
 */

/* kube's patch tags of the lists of the core kinds served here: the path
 * (from the object's root) and the patchMergeKey, or NULL for a list of
 * scalars merged as a set.  Any other list is replaced. */
static const struct {
    const char *path;
    const char *key;
} merge_lists[] = {
    {"metadata.ownerReferences", "uid"}, {"metadata.finalizers", NULL},
    {"status.conditions", "type"},       {"status.addresses", "type"},
    {"status.volumesAttached", "name"},
};

static bool list_strategy(const char *path, const char **ret_key)
{
    for (size_t i = 0; i < sizeof(merge_lists) / sizeof(*merge_lists); i++)
        if (!strcmp(merge_lists[i].path, path)) {
            *ret_key = merge_lists[i].key;
            return true;
        }
    return false;
}

const char *orch_patch_merge_list(size_t i, const char **ret_key)
{
    if (i >= sizeof(merge_lists) / sizeof(*merge_lists))
        return NULL;
    *ret_key = merge_lists[i].key;
    return merge_lists[i].path;
}

static int smp_object(json_t *target, const json_t *patch, const char *path,
                      char *msg, size_t len);

/* A copy of V without the $ directives a patch may carry inside a new
 * member (what the API server stores for an added element). */
static json_t *strip_directives(const json_t *v)
{
    json_t *c = json_deep_copy(v);
    if (json_is_object(c)) {
        const char *k;
        json_t *e;
        void *tmp;
        json_object_foreach_safe(c, tmp, k, e)
        {
            if (k[0] == '$')
                json_object_del(c, k);
            else
                json_object_set_new(c, k, strip_directives(e));
        }
    }
    return c;
}

static int smp_list(json_t *target, const char *name, const json_t *patch,
                    const char *path, const char *key, char *msg, size_t len)
{
    json_t *cur = json_object_get(target, name);

    if (!json_is_array(cur)) {
        cur = json_array();
        json_object_set_new(target, name, cur);
    }
    for (size_t i = 0; i < json_array_size(patch); i++) {
        const json_t *e = json_array_get(patch, i);
        bool found = false;
        if (!key) {
            /* A set of scalars. */
            for (size_t j = 0; j < json_array_size(cur) && !found; j++)
                found = json_equal(json_array_get(cur, j), (json_t *)e);
            if (!found)
                json_array_append_new(cur, json_deep_copy(e));
            continue;
        }
        const json_t *kv = json_object_get(e, key);
        const char *dir = json_string_value(json_object_get(e, "$patch"));
        if (!json_is_object(e) || !kv)
            return fail(-EINVAL, msg, len,
                        "%s: an element has no merge key \"%s\"", path, key);
        for (size_t j = 0; j < json_array_size(cur); j++) {
            json_t *c = json_array_get(cur, j);
            if (!json_equal(json_object_get(c, key), (json_t *)kv))
                continue;
            found = true;
            if (dir && !strcmp(dir, "delete")) {
                json_array_remove(cur, j);
            } else if (dir && !strcmp(dir, "replace")) {
                json_array_set_new(cur, j, strip_directives(e));
            } else {
                int r = smp_object(c, e, path, msg, len);
                if (r < 0)
                    return r;
            }
            break;
        }
        if (!found && !(dir && !strcmp(dir, "delete")))
            json_array_append_new(cur, strip_directives(e));
    }
    return 0;
}

static int smp_object(json_t *target, const json_t *patch, const char *path,
                      char *msg, size_t len)
{
    const json_t *retain = json_object_get(patch, "$retainKeys");
    const char *k;
    json_t *v;

    json_object_foreach((json_t *)patch, k, v)
    {
        char sub[512];
        const char *key = NULL;
        json_t *t;

        if (!strcmp(k, "$patch") || !strcmp(k, "$retainKeys") ||
            !strncmp(k, "$setElementOrder/", 17))
            continue; /* order is not kept; the others are read below */
        if (!strncmp(k, "$deleteFromPrimitiveList/", 25)) {
            json_t *l = json_object_get(target, k + 25);
            for (size_t i = 0; i < json_array_size(v); i++)
                for (size_t j = json_array_size(l); j-- > 0;)
                    if (json_equal(json_array_get(l, j), json_array_get(v, i)))
                        json_array_remove(l, j);
            continue;
        }
        if (k[0] == '$')
            return fail(-EINVAL, msg, len, "%s%s%s: unknown directive", path,
                        *path ? "." : "", k);
        snprintf(sub, sizeof(sub), "%s%s%s", path, *path ? "." : "", k);
        t = json_object_get(target, k);
        if (json_is_null(v)) {
            json_object_del(target, k);
        } else if (json_is_object(v)) {
            const char *dir = json_string_value(json_object_get(v, "$patch"));
            if (dir && !strcmp(dir, "delete")) {
                json_object_del(target, k);
            } else if ((dir && !strcmp(dir, "replace")) || !json_is_object(t)) {
                json_object_set_new(target, k, strip_directives(v));
            } else {
                int r = smp_object(t, v, sub, msg, len);
                if (r < 0)
                    return r;
            }
        } else if (json_is_array(v) && list_strategy(sub, &key)) {
            int r = smp_list(target, k, v, sub, key, msg, len);
            if (r < 0)
                return r;
        } else {
            json_object_set_new(target, k, strip_directives(v));
        }
    }
    if (json_is_array(retain)) {
        void *tmp;
        json_object_foreach_safe(target, tmp, k, v)
        {
            bool keep = false;
            for (size_t i = 0; i < json_array_size(retain) && !keep; i++) {
                const char *s = json_string_value(json_array_get(retain, i));
                keep = s && !strcmp(s, k);
            }
            if (!keep)
                json_object_del(target, k);
        }
    }
    return 0;
}

/*
 * JSON patch.
 */

/* Resolve POINTER (RFC 6901) in DOC to the container holding its last
 * token: *ret_parent, and the last token unescaped in TOK.  Returns 0 or
 * -EDOM (a step does not exist) or -EINVAL (not a pointer). */
static int pointer_parent(json_t *doc, const char *pointer, json_t **ret_parent,
                          char *tok, size_t toklen)
{
    json_t *cur = doc;
    const char *p = pointer;

    if (*p != '/')
        return -EINVAL;
    for (;;) {
        size_t o = 0;
        p++;
        while (*p && *p != '/') {
            char c = *p++;
            if (c == '~') {
                if (*p == '0')
                    c = '~';
                else if (*p == '1')
                    c = '/';
                else
                    return -EINVAL;
                p++;
            }
            if (o + 1 >= toklen)
                return -EINVAL;
            tok[o++] = c;
        }
        tok[o] = '\0';
        if (!*p) {
            *ret_parent = cur;
            return 0;
        }
        if (json_is_object(cur))
            cur = json_object_get(cur, tok);
        else if (json_is_array(cur)) {
            char *end;
            unsigned long i = strtoul(tok, &end, 10);
            if (!*tok || *end || i >= json_array_size(cur))
                return -EDOM;
            cur = json_array_get(cur, i);
        } else
            cur = NULL;
        if (!cur)
            return -EDOM;
    }
}

/* An array index token: digits only, or "-" (one past the end) when
 * ALLOW_END. */
static int array_index(const json_t *a, const char *tok, bool allow_end,
                       size_t *ret)
{
    char *end;
    unsigned long i;

    if (allow_end && !strcmp(tok, "-")) {
        *ret = json_array_size(a);
        return 0;
    }
    if (!*tok || tok[0] < '0' || tok[0] > '9' || (tok[0] == '0' && tok[1]))
        return -EDOM;
    i = strtoul(tok, &end, 10);
    if (*end || i > json_array_size(a) ||
        (!allow_end && i == json_array_size(a)))
        return -EDOM;
    *ret = i;
    return 0;
}

static json_t *pointer_get(json_t *doc, const char *path)
{
    json_t *parent;
    char tok[256];
    size_t i;

    if (!*path)
        return doc;
    if (pointer_parent(doc, path, &parent, tok, sizeof(tok)) < 0)
        return NULL;
    if (json_is_object(parent))
        return json_object_get(parent, tok);
    if (json_is_array(parent) && array_index(parent, tok, false, &i) == 0)
        return json_array_get(parent, i);
    return NULL;
}

static int pointer_remove(json_t *doc, const char *path)
{
    json_t *parent;
    char tok[256];
    size_t i;

    if (pointer_parent(doc, path, &parent, tok, sizeof(tok)) < 0)
        return -EDOM;
    if (json_is_object(parent))
        return json_object_del(parent, tok) == 0 ? 0 : -EDOM;
    if (json_is_array(parent) && array_index(parent, tok, false, &i) == 0)
        return json_array_remove(parent, i) == 0 ? 0 : -EDOM;
    return -EDOM;
}

/* Add VALUE (stolen) at PATH: into an object member, or inserted into an
 * array.  REPLACE: the member or element must exist and is replaced. */
static int pointer_put(json_t *doc, const char *path, json_t *value,
                       bool replace)
{
    json_t *parent;
    char tok[256];
    size_t i;
    int r = -EDOM;

    if (pointer_parent(doc, path, &parent, tok, sizeof(tok)) < 0)
        goto out;
    if (json_is_object(parent)) {
        if (replace && !json_object_get(parent, tok))
            goto out;
        r = json_object_set_new(parent, tok, value) == 0 ? 0 : -ENOMEM;
        return r;
    }
    if (json_is_array(parent) && array_index(parent, tok, !replace, &i) == 0) {
        if (replace)
            r = json_array_set_new(parent, i, value);
        else
            r = json_array_insert_new(parent, i, value);
        return r == 0 ? 0 : -ENOMEM;
    }
out:
    json_decref(value);
    return r;
}

static int json_patch(json_t *doc, const json_t *ops, char *msg, size_t len)
{
    if (!json_is_array(ops))
        return fail(-EINVAL, msg, len,
                    "a JSON patch must be an array of operations");
    for (size_t i = 0; i < json_array_size(ops); i++) {
        const json_t *op = json_array_get(ops, i);
        const char *name = json_string_value(json_object_get(op, "op"));
        const char *path = json_string_value(json_object_get(op, "path"));
        const char *from = json_string_value(json_object_get(op, "from"));
        const json_t *value = json_object_get(op, "value");
        int r;

        if (!name)
            return fail(-EINVAL, msg, len, "operation %zu: missing \"op\"", i);
        if (!path)
            return fail(-EINVAL, msg, len,
                        "operation %zu (%s): missing \"path\"", i, name);
        if (*path && *path != '/')
            return fail(-EINVAL, msg, len,
                        "operation %zu (%s): path '%s' is not a JSON pointer",
                        i, name, path);
        if (!*path && strcmp(name, "test"))
            return fail(-EDOM, msg, len,
                        "operation %zu (%s): the whole document cannot be "
                        "patched",
                        i, name);
        if (!strcmp(name, "add") || !strcmp(name, "replace")) {
            if (!value)
                return fail(-EINVAL, msg, len,
                            "operation %zu (%s): missing \"value\"", i, name);
            r = pointer_put(doc, path, json_deep_copy(value),
                            !strcmp(name, "replace"));
        } else if (!strcmp(name, "remove")) {
            r = pointer_remove(doc, path);
        } else if (!strcmp(name, "move") || !strcmp(name, "copy")) {
            json_t *src = from ? pointer_get(doc, from) : NULL;
            if (!from)
                return fail(-EINVAL, msg, len,
                            "operation %zu (%s): missing \"from\"", i, name);
            if (!src)
                return fail(-EDOM, msg, len,
                            "operation %zu (%s): from '%s' does not exist", i,
                            name, from);
            src = json_deep_copy(src);
            r = !strcmp(name, "move") ? pointer_remove(doc, from) : 0;
            if (r == 0)
                r = pointer_put(doc, path, src, false);
            else
                json_decref(src);
        } else if (!strcmp(name, "test")) {
            json_t *cur = pointer_get(doc, path);
            if (!value)
                return fail(-EINVAL, msg, len,
                            "operation %zu (test): missing \"value\"", i);
            if (!cur || !json_equal(cur, (json_t *)value))
                return fail(-EDOM, msg, len,
                            "testing value %s failed: test operation failed",
                            path);
            r = 0;
        } else {
            return fail(-EINVAL, msg, len,
                        "operation %zu: unknown op \"%s\" (add, remove, "
                        "replace, move, copy or test)",
                        i, name);
        }
        if (r == -ENOMEM)
            return fail(r, msg, len, "out of memory");
        if (r < 0)
            return fail(-EDOM, msg, len,
                        "operation %zu (%s): path '%s' does not exist", i, name,
                        path);
    }
    return 0;
}

int orch_patch_apply(enum api_kind kind, enum orch_patch_type type, json_t *doc,
                     const json_t *patch, char *msg, size_t msglen)
{
    const struct api_kind_info *k = api_kind_info(kind);

    switch (type) {
    case ORCH_PATCH_JSON:
        return json_patch(doc, patch, msg, msglen);
    case ORCH_PATCH_MERGE:
        if (!json_is_object(patch))
            return fail(-EINVAL, msg, msglen, "the patch must be an object");
        merge(doc, patch);
        return 0;
    case ORCH_PATCH_STRATEGIC:
        if (!k || k->group[0])
            return fail(-EPROTONOSUPPORT, msg, msglen,
                        "strategic merge patch is not supported for %s",
                        k ? k->kind_name : "this kind");
        if (!json_is_object(patch))
            return fail(-EINVAL, msg, msglen, "the patch must be an object");
        return smp_object(doc, patch, "", msg, msglen);
    case ORCH_PATCH_APPLY:
        break;
    }
    return fail(-EPROTONOSUPPORT, msg, msglen,
                "server-side apply is not supported");
}
