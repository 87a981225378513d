/*
 * orchctl documents: manifests in, JSON/YAML and kubectl-describe text out
 * (see orchctl.h).
 */
#include "orchctl/orchctl.h"

#include "api/api.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Decode one document (no "---" inside) with api's codec: YAML or JSON. */
static int doc_decode_one(const char *buf, size_t len, json_t **ret_doc,
                          char *err, size_t errsize)
{
    struct api_errors errs = API_ERRORS_INIT;
    char *msg;
    int r;

    r = api_doc_decode(buf, len, NULL, ret_doc, &errs);
    if (r < 0) {
        msg = api_errors_join(&errs);
        snprintf(err, errsize, "%s", msg ? msg : strerror(-r));
        free(msg);
    }
    api_errors_clear(&errs);
    return r;
}

/* Whether [p, p+len) holds only blanks and comments. */
static bool doc_blank(const char *p, size_t len)
{
    bool comment = false;
    size_t i;

    for (i = 0; i < len; i++) {
        if (p[i] == '\n')
            comment = false;
        else if (p[i] == '#')
            comment = true;
        else if (!comment && !isspace((unsigned char)p[i]))
            return false;
    }
    return true;
}

/* Append doc to items, expanding a List into its items. */
static int doc_collect(json_t *items, json_t *doc, int index, char *err,
                       size_t errsize)
{
    const char *kind = json_string_value(json_object_get(doc, "kind"));
    size_t i;
    json_t *item;

    if (!json_is_object(doc)) {
        snprintf(err, errsize, "document %d is not an object", index);
        return -EINVAL;
    }
    if (kind && strlen(kind) >= 4 && !strcmp(kind + strlen(kind) - 4, "List") &&
        json_is_array(json_object_get(doc, "items"))) {
        json_array_foreach(json_object_get(doc, "items"), i, item)
        {
            if (!json_is_object(item)) {
                snprintf(err, errsize,
                         "item %zu of document %d is not an "
                         "object",
                         i, index);
                return -EINVAL;
            }
            if (json_array_append(items, item) < 0)
                return -ENOMEM;
        }
        return 0;
    }
    return json_array_append(items, doc) < 0 ? -ENOMEM : 0;
}

int orchctl_doc_decode(const char *buf, size_t len, json_t **ret_items,
                       char *err, size_t errsize)
{
    json_t *items = json_array();
    size_t start = 0, pos = 0;
    int index = 0;
    int r = 0;

    if (!items)
        return -ENOMEM;
    /* Split on "---" lines: the YAML decoder takes one document. */
    while (start <= len) {
        size_t end = len, next = len + 1;

        for (pos = start; pos < len; pos = pos + 1) {
            size_t eol;

            if (pos != start && buf[pos - 1] != '\n')
                continue;
            if (len - pos < 3 || memcmp(buf + pos, "---", 3) != 0)
                continue;
            eol = pos + 3;
            while (eol < len &&
                   (buf[eol] == ' ' || buf[eol] == '\t' || buf[eol] == '\r'))
                eol++;
            if (eol < len && buf[eol] != '\n' && buf[eol] != '#')
                continue;
            while (eol < len && buf[eol] != '\n')
                eol++;
            end = pos;
            next = eol + 1;
            break;
        }
        if (!doc_blank(buf + start, end - start)) {
            json_t *doc = NULL;
            char one[200];

            index++;
            r = doc_decode_one(buf + start, end - start, &doc, one,
                               sizeof(one));
            if (r < 0) {
                snprintf(err, errsize, "document %d: %s", index, one);
                goto out;
            }
            r = doc_collect(items, doc, index, err, errsize);
            json_decref(doc);
            if (r < 0)
                goto out;
        }
        start = next;
    }
    if (json_array_size(items) == 0) {
        snprintf(err, errsize, "no objects passed to apply");
        r = -EINVAL;
        goto out;
    }
    *ret_items = items;
    items = NULL;
out:
    json_decref(items);
    return r;
}

int orchctl_doc_print_json(FILE *out, const json_t *obj)
{
    char *text =
        json_dumps(obj, JSON_INDENT(4) | JSON_PRESERVE_ORDER | JSON_ENCODE_ANY);
    const unsigned char *p;

    if (!text)
        return -ENOMEM;
    /* jansson escapes the C0 controls in strings but writes DEL and the C1
     * controls (U+0080 to U+009F) as they are.  Those only occur inside
     * strings (0xc2 always starts a character), where a \u escape means
     * the same to a JSON reader. */
    for (p = (const unsigned char *)text; *p; p++) {
        if (*p == 0x7f) {
            fputs("\\u007f", out);
        } else if (p[0] == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f) {
            fprintf(out, "\\u%04x", p[1]);
            p++;
        } else {
            fputc(*p, out);
        }
    }
    fputc('\n', out);
    free(text);
    return 0;
}

int orchctl_doc_print_yaml(FILE *out, const json_t *obj)
{
    char *buf = NULL;
    size_t len = 0;
    int r;

    r = api_doc_encode(obj, API_FORMAT_YAML, &buf, &len);
    if (r < 0)
        return r;
    if (fwrite(buf, 1, len, out) != len)
        r = -EIO;
    free(buf);
    return r;
}

/* ---- describe ---- */

/* kubectl's describe writes through a tabwriter (orchctl_tabw):
 * "label:\tvalue" lines, consecutive ones sharing one value column. */
struct describe {
    struct orchctl_tabw *w;
    bool oom;
};

static void describe_line(struct describe *d, int level, const char *label,
                          const char *value)
{
    if (d->oom)
        return;
    if (orchctl_tabw_row(d->w, level, label, value, NULL) < 0)
        d->oom = true;
}

/* kubectl's smartLabelFor: "vmiName" -> "Vmi Name", "migrationUid" ->
 * "Migration UID"; a key with characters other than letters and '-' is
 * printed as it is. */
static void describe_label(const char *key, char *buf, size_t size)
{
    static const char *const acronyms[] = {"API", "URL", "UID", "OSB", "GUID"};
    size_t used = 0, i;
    const char *p = key;

    for (i = 0; key[i]; i++) {
        if (!isalpha((unsigned char)key[i]) && key[i] != '-') {
            snprintf(buf, size, "%s", key);
            return;
        }
    }
    buf[0] = '\0';
    while (*p && used + 1 < size) {
        const char *q = p + 1;
        char part[64];
        size_t n, k;
        bool upper_run = isupper((unsigned char)*p);

        /* A part is an upper-case run ("API" in "APIVersion", leaving the
         * last capital to the next word) or a capital and its lower-case
         * letters. */
        if (upper_run && isupper((unsigned char)*q)) {
            while (isupper((unsigned char)*q) &&
                   !(q[1] && islower((unsigned char)q[1])))
                q++;
        } else {
            while (*q && islower((unsigned char)*q))
                q++;
        }
        n = (size_t)(q - p) < sizeof(part) - 1 ? (size_t)(q - p)
                                               : sizeof(part) - 1;
        memcpy(part, p, n);
        part[n] = '\0';
        for (k = 0; k < sizeof(acronyms) / sizeof(acronyms[0]); k++)
            if (strcasecmp(part, acronyms[k]) == 0)
                break;
        if (k < sizeof(acronyms) / sizeof(acronyms[0])) {
            for (k = 0; part[k]; k++)
                part[k] = (char)toupper((unsigned char)part[k]);
        } else {
            part[0] = (char)toupper((unsigned char)part[0]);
        }
        used += (size_t)snprintf(buf + used, size - used, "%s%s",
                                 used ? " " : "", part);
        if (used >= size)
            break;
        p = q;
    }
}

/* A scalar as Go's %v prints it. */
static char *describe_scalar(const json_t *v)
{
    char *s = NULL;

    if (json_is_string(v))
        return strdup(json_string_value(v));
    if (json_is_null(v))
        return strdup("<nil>");
    if (json_is_true(v))
        return strdup("true");
    if (json_is_false(v))
        return strdup("false");
    if (json_is_integer(v)) {
        if (asprintf(&s, "%" JSON_INTEGER_FORMAT, json_integer_value(v)) < 0)
            return NULL;
        return s;
    }
    if (asprintf(&s, "%g", json_real_value(v)) < 0)
        return NULL;
    return s;
}

static int describe_cmp(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static void describe_content(struct describe *d, int level, const json_t *obj,
                             const char *path)
{
    const char **keys;
    const char *key;
    json_t *v;
    size_t n = 0, i;

    keys = malloc((json_object_size(obj) + 1) * sizeof(*keys));
    if (!keys) {
        d->oom = true;
        return;
    }
    json_object_foreach((json_t *)obj, key, v) keys[n++] = key;
    qsort(keys, n, sizeof(*keys), describe_cmp);
    for (i = 0; i < n; i++) {
        char label[256], sub[256];

        v = json_object_get(obj, keys[i]);
        snprintf(sub, sizeof(sub), "%s.%s", path, keys[i]);
        /* The header lines already showed these. */
        if (!strcmp(sub, ".metadata.name") ||
            !strcmp(sub, ".metadata.namespace") ||
            !strcmp(sub, ".metadata.labels") ||
            !strcmp(sub, ".metadata.annotations") ||
            !strcmp(sub, ".metadata.managedFields"))
            continue;
        describe_label(keys[i], label, sizeof(label) - 1);
        if (json_is_object(v)) {
            strcat(label, ":");
            describe_line(d, level, label, NULL);
            describe_content(d, level + 1, v, sub);
        } else if (json_is_array(v)) {
            size_t k;
            json_t *item;

            strcat(label, ":");
            describe_line(d, level, label, NULL);
            json_array_foreach(v, k, item)
            {
                if (json_is_object(item)) {
                    describe_content(d, level + 1, item, sub);
                } else {
                    char *s = describe_scalar(item);

                    if (!s) {
                        d->oom = true;
                        break;
                    }
                    describe_line(d, level + 1, s, NULL);
                    free(s);
                }
            }
        } else {
            char *s = describe_scalar(v);

            if (!s) {
                d->oom = true;
                break;
            }
            strcat(label, ":");
            describe_line(d, level, label, s);
            free(s);
        }
    }
    free(keys);
}

/* "Labels:\tk=v" and one "\tk2=v2" line per further pair, sorted;
 * "<none>" when there are none. */
static void describe_map(struct describe *d, const char *label,
                         const json_t *map)
{
    const char **keys = NULL;
    const char *key;
    json_t *v;
    size_t n = 0, i;

    if (!json_is_object(map) || json_object_size(map) == 0) {
        describe_line(d, 0, label, "<none>");
        return;
    }
    keys = malloc(json_object_size(map) * sizeof(*keys));
    if (!keys) {
        d->oom = true;
        return;
    }
    json_object_foreach((json_t *)map, key, v) keys[n++] = key;
    qsort(keys, n, sizeof(*keys), describe_cmp);
    for (i = 0; i < n; i++) {
        const char *s = json_string_value(json_object_get(map, keys[i]));
        char *line = NULL;

        if (asprintf(&line, "%s=%s", keys[i], s ? s : "") < 0) {
            d->oom = true;
            break;
        }
        describe_line(d, 0, i == 0 ? label : "", line);
        free(line);
    }
    free(keys);
}

void orchctl_describe_print(FILE *out, const json_t *obj)
{
    struct describe d = {.w = orchctl_tabw_new()};
    const char *name = orchctl_json_str(obj, "metadata.name");
    const char *ns = orchctl_json_str(obj, "metadata.namespace");

    if (!d.w) {
        fprintf(out, "(output cut short: out of memory)\n");
        return;
    }
    describe_line(&d, 0, "Name:", name ? name : "");
    describe_line(&d, 0, "Namespace:", ns ? ns : "");
    describe_map(&d, "Labels:", orchctl_json_get(obj, "metadata.labels"));
    describe_map(&d,
                 "Annotations:", orchctl_json_get(obj, "metadata.annotations"));
    describe_content(&d, 0, obj, "");
    orchctl_tabw_flush(d.w, out);
    /* A failure outside the writer (a key list) is said here. */
    if (d.oom && !orchctl_tabw_failed(d.w))
        fprintf(out, "(output cut short: out of memory)\n");
    orchctl_tabw_free(d.w);
}
