/*
 * orchctl -o jsonpath=TEMPLATE: the subset of kubectl's JSONPath templates
 * that scripts use (see orchctl.h).  A template is parsed once into a list
 * of nodes (text, a path, a range with its body) and printed against each
 * document.
 */
#include "orchctl/orchctl.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

enum jp_node_type { JP_TEXT, JP_PATH, JP_RANGE };

enum jp_step_type {
    JP_FIELD, /* .name or ['name'] */
    JP_INDEX, /* [N], N may be negative */
    JP_ALL,   /* [*] or .* */
};

struct jp_step {
    enum jp_step_type type;
    char *field;
    long index;
};

struct jp_node {
    enum jp_node_type type;
    char *text;            /* JP_TEXT */
    struct jp_step *steps; /* JP_PATH, JP_RANGE */
    size_t nsteps;
    struct jp_node *body; /* JP_RANGE: the nodes up to its {end} */
    size_t nbody;
};

struct orchctl_jsonpath {
    struct jp_node *nodes;
    size_t nnodes;
};

static void jp_nodes_free(struct jp_node *nodes, size_t n);

/* Free what one node owns (not the node). */
static void jp_node_clear(struct jp_node *node)
{
    free(node->text);
    for (size_t k = 0; k < node->nsteps; k++)
        free(node->steps[k].field);
    free(node->steps);
    jp_nodes_free(node->body, node->nbody);
}

static void jp_nodes_free(struct jp_node *nodes, size_t n)
{
    for (size_t i = 0; i < n; i++)
        jp_node_clear(&nodes[i]);
    free(nodes);
}

void orchctl_jsonpath_free(struct orchctl_jsonpath *jp)
{
    if (!jp)
        return;
    jp_nodes_free(jp->nodes, jp->nnodes);
    free(jp);
}

static void jp_error(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void jp_error(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

static int jp_push_node(struct jp_node **nodes, size_t *n,
                        const struct jp_node *node)
{
    struct jp_node *grown = realloc(*nodes, (*n + 1) * sizeof(**nodes));

    if (!grown)
        return -ENOMEM;
    grown[(*n)++] = *node;
    *nodes = grown;
    return 0;
}

static int jp_push_step(struct jp_node *node, enum jp_step_type type,
                        const char *field, size_t len, long index)
{
    struct jp_step *grown =
        realloc(node->steps, (node->nsteps + 1) * sizeof(*node->steps));
    struct jp_step s = {.type = type, .index = index};

    if (!grown)
        return -ENOMEM;
    node->steps = grown;
    if (field && !(s.field = strndup(field, len)))
        return -ENOMEM;
    node->steps[node->nsteps++] = s;
    return 0;
}

/* Parse the path P (the inside of {...}, trimmed) into node's steps.  A
 * field name ends at '.', '[' or the end; "\." is a dot inside a name
 * (kubevirt\.io/vmi-name).  Returns 0, -EINVAL with a message, -ENOMEM. */
static int jp_parse_path(const char *p, struct jp_node *node, char *err,
                         size_t errlen)
{
    const char *start = p;
    int r;

    if (*p == '$' || *p == '@')
        p++;
    while (*p) {
        if (*p == '.') {
            char name[256];
            size_t len = 0;

            p++;
            if (*p == '.') {
                jp_error(err, errlen,
                         "recursive descent '..' is not supported in \"%s\"",
                         start);
                return -EINVAL;
            }
            if (*p == '*') {
                p++;
                if ((r = jp_push_step(node, JP_ALL, NULL, 0, 0)) < 0)
                    return r;
                continue;
            }
            while (*p && *p != '.' && *p != '[') {
                if (*p == '\\' && p[1] == '.')
                    p++;
                if (len + 1 >= sizeof(name)) {
                    jp_error(err, errlen, "field name too long in \"%s\"",
                             start);
                    return -EINVAL;
                }
                name[len++] = *p++;
            }
            if (len == 0)
                continue; /* "{.}" or a trailing dot: the current value */
            if ((r = jp_push_step(node, JP_FIELD, name, len, 0)) < 0)
                return r;
        } else if (*p == '[') {
            const char *close = strchr(p, ']');

            if (!close) {
                jp_error(err, errlen, "unclosed '[' in \"%s\"", start);
                return -EINVAL;
            }
            if (p[1] == '*' && close == p + 2) {
                r = jp_push_step(node, JP_ALL, NULL, 0, 0);
            } else if ((p[1] == '\'' || p[1] == '"') && close - p >= 3 &&
                       close[-1] == p[1]) {
                r = jp_push_step(node, JP_FIELD, p + 2, (size_t)(close - p - 3),
                                 0);
            } else {
                char *end;
                long idx = strtol(p + 1, &end, 10);

                if (end == p + 1 || end != close) {
                    jp_error(err, errlen,
                             "unsupported subscript \"%.*s\" in \"%s\" "
                             "(supported: [N], [*], ['name'])",
                             (int)(close - p + 1), p, start);
                    return -EINVAL;
                }
                r = jp_push_step(node, JP_INDEX, NULL, 0, idx);
            }
            if (r < 0)
                return r;
            p = close + 1;
        } else {
            jp_error(err, errlen,
                     "unexpected '%c' in \"%s\" (a path starts with '.')", *p,
                     start);
            return -EINVAL;
        }
    }
    return 0;
}

/* A quoted literal {"..."}: \n, \t, \r, \\, \" and \' are unescaped. */
static int jp_parse_literal(const char *p, size_t len, struct jp_node *node)
{
    char *out = malloc(len + 1);
    size_t n = 0;

    if (!out)
        return -ENOMEM;
    for (size_t i = 0; i < len; i++) {
        char c = p[i];

        if (c == '\\' && i + 1 < len) {
            c = p[++i];
            c = c == 'n' ? '\n' : c == 't' ? '\t' : c == 'r' ? '\r' : c;
        }
        out[n++] = c;
    }
    out[n] = '\0';
    node->type = JP_TEXT;
    node->text = out;
    return 0;
}

/* Parse from *pp until the end of the template (depth 0) or an {end}
 * (inside a range). */
static int jp_parse_nodes(const char **pp, int depth, struct jp_node **ret,
                          size_t *ret_n, char *err, size_t errlen)
{
    const char *p = *pp;
    struct jp_node *nodes = NULL;
    size_t n = 0;
    int r = 0;

    while (*p) {
        struct jp_node node = {0};
        const char *open = strchr(p, '{'), *close, *in;
        size_t len;

        if (open != p) {
            len = open ? (size_t)(open - p) : strlen(p);
            node.type = JP_TEXT;
            if (!(node.text = strndup(p, len)) ||
                jp_push_node(&nodes, &n, &node) < 0) {
                free(node.text);
                r = -ENOMEM;
                goto fail;
            }
            p += len;
            continue;
        }
        close = strchr(p, '}');
        /* A quoted literal may hold a '}'. */
        in = p + 1;
        while (*in == ' ')
            in++;
        if (*in == '"' || *in == '\'') {
            const char *q = in + 1;

            while (*q && *q != *in)
                q += (*q == '\\' && q[1]) ? 2 : 1;
            close = *q ? strchr(q, '}') : NULL;
        }
        if (!close) {
            jp_error(err, errlen, "unclosed action: '{' without '}'");
            r = -EINVAL;
            goto fail;
        }
        len = (size_t)(close - in);
        while (len && in[len - 1] == ' ')
            len--;
        p = close + 1;
        if ((*in == '"' || *in == '\'') && len >= 2 && in[len - 1] == *in) {
            if ((r = jp_parse_literal(in + 1, len - 2, &node)) < 0)
                goto fail;
        } else if (len == 3 && !strncmp(in, "end", 3)) {
            if (depth == 0) {
                jp_error(err, errlen, "{end} without {range}");
                r = -EINVAL;
                goto fail;
            }
            *pp = p;
            *ret = nodes;
            *ret_n = n;
            return 0;
        } else if (len > 6 && !strncmp(in, "range ", 6)) {
            char *path = strndup(in + 6, len - 6);
            const char *body = p;

            node.type = JP_RANGE;
            r = path ? jp_parse_path(path, &node, err, errlen) : -ENOMEM;
            free(path);
            if (r == 0)
                r = jp_parse_nodes(&body, depth + 1, &node.body, &node.nbody,
                                   err, errlen);
            if (r < 0) {
                jp_node_clear(&node);
                goto fail;
            }
            p = body;
            if (jp_push_node(&nodes, &n, &node) < 0) {
                jp_node_clear(&node);
                r = -ENOMEM;
                goto fail;
            }
            continue;
        } else {
            char *path = strndup(in, len);

            node.type = JP_PATH;
            r = path ? jp_parse_path(path, &node, err, errlen) : -ENOMEM;
            free(path);
            if (r < 0) {
                jp_node_clear(&node);
                goto fail;
            }
        }
        if (jp_push_node(&nodes, &n, &node) < 0) {
            jp_node_clear(&node);
            r = -ENOMEM;
            goto fail;
        }
    }
    if (depth > 0) {
        jp_error(err, errlen, "{range} without {end}");
        r = -EINVAL;
        goto fail;
    }
    *pp = p;
    *ret = nodes;
    *ret_n = n;
    return 0;
fail:
    if (r == -ENOMEM)
        jp_error(err, errlen, "out of memory");
    jp_nodes_free(nodes, n);
    return r;
}

int orchctl_jsonpath_parse(const char *tmpl, struct orchctl_jsonpath **ret,
                           char *err, size_t errlen)
{
    struct orchctl_jsonpath *jp = calloc(1, sizeof(*jp));
    const char *p = tmpl;
    int r;

    if (!jp) {
        jp_error(err, errlen, "out of memory");
        return -ENOMEM;
    }
    r = jp_parse_nodes(&p, 0, &jp->nodes, &jp->nnodes, err, errlen);
    if (r < 0) {
        free(jp);
        return r;
    }
    *ret = jp;
    return 0;
}

/* The values STEPS select from V, appended to the array OUT (borrowed
 * references, the document outlives it).  A missing key selects nothing,
 * as kubectl get's templates allow. */
static void jp_select(const json_t *v, const struct jp_step *steps,
                      size_t nsteps, json_t *out)
{
    if (!v)
        return;
    if (nsteps == 0) {
        json_array_append(out, (json_t *)v);
        return;
    }
    switch (steps->type) {
    case JP_FIELD:
        jp_select(json_object_get(v, steps->field), steps + 1, nsteps - 1, out);
        break;
    case JP_INDEX: {
        long n = (long)json_array_size(v);
        long i = steps->index < 0 ? n + steps->index : steps->index;

        if (i >= 0 && i < n)
            jp_select(json_array_get(v, (size_t)i), steps + 1, nsteps - 1, out);
        break;
    }
    case JP_ALL:
        if (json_is_array(v)) {
            size_t i;
            json_t *item;

            json_array_foreach(v, i, item)
            {
                jp_select(item, steps + 1, nsteps - 1, out);
            }
        } else if (json_is_object(v)) {
            const char *key;
            json_t *item;

            json_object_foreach((json_t *)v, key, item)
            {
                jp_select(item, steps + 1, nsteps - 1, out);
            }
        }
        break;
    }
}

/* One value as kubectl prints it: a string raw (escaped for the
 * terminal), anything else as compact JSON. */
static int jp_print_value(FILE *out, const json_t *v)
{
    char *text;

    if (json_is_string(v)) {
        orchctl_text_print(out, json_string_value(v));
        return 0;
    }
    text = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    if (!text)
        return -ENOMEM;
    orchctl_text_print(out, text);
    free(text);
    return 0;
}

static int jp_print_nodes(const struct jp_node *nodes, size_t n, FILE *out,
                          const json_t *cur)
{
    for (size_t i = 0; i < n; i++) {
        const struct jp_node *node = &nodes[i];
        json_t *sel;
        size_t k;
        json_t *v;
        int r = 0;

        if (node->type == JP_TEXT) {
            fputs(node->text, out);
            continue;
        }
        sel = json_array();
        if (!sel)
            return -ENOMEM;
        jp_select(cur, node->steps, node->nsteps, sel);
        json_array_foreach(sel, k, v)
        {
            if (node->type == JP_RANGE) {
                r = jp_print_nodes(node->body, node->nbody, out, v);
            } else {
                /* Several results of one path are separated by spaces. */
                if (k > 0)
                    fputc(' ', out);
                r = jp_print_value(out, v);
            }
            if (r < 0)
                break;
        }
        json_decref(sel);
        if (r < 0)
            return r;
    }
    return 0;
}

int orchctl_jsonpath_print(const struct orchctl_jsonpath *jp, FILE *out,
                           const json_t *doc)
{
    return jp_print_nodes(jp->nodes, jp->nnodes, out, doc);
}
