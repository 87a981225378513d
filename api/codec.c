/*
 * YAML and JSON in, one json_t document model, JSON and YAML out.
 *
 * YAML is read from libyaml's event stream with an explicit stack, so the
 * limits (depth, string length, items, nodes) are checked as the document
 * is built and an oversized or hostile body is stopped early.  Aliases and
 * anchors are refused outright: nothing is ever expanded, so an alias bomb
 * costs one event.  JSON bodies go to jansson, which rejects duplicate keys
 * and checks UTF-8; the same limits are then checked over the result.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#include "api/internal.h"

void api_limits_default(struct api_limits *ret_limits)
{
    struct api_limits d = API_LIMITS_DEFAULT;
    *ret_limits = d;
}

/* ---------------- scalar resolution ---------------- */

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* [-+]?[0-9]+ */
static bool match_decimal(const char *s, size_t len)
{
    size_t i = 0;

    if (i < len && (s[i] == '-' || s[i] == '+'))
        i++;
    if (i == len)
        return false;
    for (; i < len; i++)
        if (!is_digit(s[i]))
            return false;
    return true;
}

/* [-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)? */
static bool match_float(const char *s, size_t len)
{
    size_t i = 0, digits = 0;

    if (i < len && (s[i] == '-' || s[i] == '+'))
        i++;
    while (i < len && is_digit(s[i]))
        i++, digits++;
    if (i < len && s[i] == '.') {
        i++;
        while (i < len && is_digit(s[i]))
            i++, digits++;
    }
    if (!digits)
        return false;
    if (i < len && (s[i] == 'e' || s[i] == 'E')) {
        size_t exp = 0;
        i++;
        if (i < len && (s[i] == '-' || s[i] == '+'))
            i++;
        while (i < len && is_digit(s[i]))
            i++, exp++;
        if (!exp)
            return false;
    }
    return i == len;
}

static bool match_prefixed(const char *s, size_t len, char p, int base)
{
    if (len < 3 || s[0] != '0' || s[1] != p)
        return false;
    for (size_t i = 2; i < len; i++) {
        char c = s[i];
        bool ok = base == 16 ? (is_digit(c) || (c >= 'a' && c <= 'f') ||
                                (c >= 'A' && c <= 'F'))
                             : (c >= '0' && c <= '7');
        if (!ok)
            return false;
    }
    return true;
}

static bool text_is(const char *s, size_t len, const char *w)
{
    return strlen(w) == len && !memcmp(s, w, len);
}

static bool is_null_text(const char *s, size_t len)
{
    return len == 0 || text_is(s, len, "~") || text_is(s, len, "null") ||
           text_is(s, len, "Null") || text_is(s, len, "NULL");
}

static int bool_text(const char *s, size_t len)
{
    if (text_is(s, len, "true") || text_is(s, len, "True") ||
        text_is(s, len, "TRUE"))
        return 1;
    if (text_is(s, len, "false") || text_is(s, len, "False") ||
        text_is(s, len, "FALSE"))
        return 0;
    return -1;
}

json_t *api_yaml_resolve_plain(const char *s, size_t len, bool *ret_nomem)
{
    char tmp[64];
    json_t *v = NULL;
    int b;

    *ret_nomem = false;
    /* Most scalars are words: nothing to resolve. */
    if (len && !strchr("-+.0123456789~nNtTfF", s[0]))
        return NULL;
    if (is_null_text(s, len))
        v = json_null();
    else if ((b = bool_text(s, len)) >= 0)
        v = json_boolean(b);
    else if (len >= sizeof(tmp))
        return NULL; /* far longer than any number we resolve */
    else {
        memcpy(tmp, s, len);
        tmp[len] = '\0';
        if (match_decimal(s, len) || match_prefixed(s, len, 'x', 16) ||
            match_prefixed(s, len, 'o', 8)) {
            char *end;
            long long n;
            errno = 0;
            if (s[1] == 'o' || (len > 1 && s[1] == 'x'))
                n = strtoll(tmp + 2, &end, s[1] == 'o' ? 8 : 16);
            else
                n = strtoll(tmp, &end, 10);
            if (errno == 0)
                v = json_integer(n);
            else if (match_decimal(s, len)) {
                double d = strtod(tmp, NULL);
                v = json_real(d);
            } else
                return NULL;
        } else if (match_float(s, len)) {
            double d = strtod(tmp, NULL);
            /* An overflowing literal is not a JSON number: keep text. */
            v = json_real(d);
            if (!v)
                return NULL;
        } else
            return NULL;
    }
    if (!v)
        *ret_nomem = true;
    return v;
}

bool api_yaml_needs_quotes(const char *s, size_t len)
{
    static const char *const yaml11[] = {
        "y",    "Y",     "yes",   "Yes",  "YES",  "n",    "N",   "no",   "No",
        "NO",   "on",    "On",    "ON",   "off",  "Off",  "OFF", ".inf", ".Inf",
        ".INF", "-.inf", "+.inf", ".nan", ".NaN", ".NAN", "=",   "<<",   NULL};
    bool nomem;
    json_t *v;

    if (len == 0)
        return true;
    v = api_yaml_resolve_plain(s, len, &nomem);
    if (v || nomem) {
        json_decref(v);
        return true;
    }
    for (const char *const *w = yaml11; *w; w++)
        if (text_is(s, len, *w))
            return true;
    /* Things a YAML 1.1 reader takes for numbers: 0b101, 1_000, 0777,
     * 1:30 (sexagesimal). */
    if (is_digit(s[0]) || ((s[0] == '-' || s[0] == '+' || s[0] == '.') &&
                           len > 1 && is_digit(s[1]))) {
        bool numberish = true;
        for (size_t i = 0; i < len; i++) {
            char c = s[i];
            if (!(is_digit(c) || c == '_' || c == ':' || c == '.' || c == 'b' ||
                  c == 'x' || c == 'o' || c == 'e' || c == 'E' || c == '-' ||
                  c == '+' || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')))
                numberish = false;
        }
        if (numberish)
            return true;
    }
    return false;
}

/* ---------------- YAML decoding ---------------- */

#define TAG_PREFIX "tag:yaml.org,2002:"

struct frame {
    json_t *node; /* object or array being filled */
    char *key;    /* pending key in a mapping, owned */
    size_t keylen;
    int key_line, key_col;
    size_t items;
};

struct ydec {
    yaml_parser_t parser;
    const struct api_limits *lim;
    struct api_errors *errs;
    struct frame *stack;
    size_t depth;
    size_t nodes;
    json_t *root;
};

__attribute__((format(printf, 5, 6))) static int fail_at(struct ydec *d, int r,
                                                         enum api_error_type t,
                                                         const yaml_mark_t *m,
                                                         const char *fmt, ...)
{
    char msg[256];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    api_errors_add_at(d->errs, t, (int)m->line + 1, (int)m->column + 1, NULL,
                      "yaml: line %d, column %d: %s", (int)m->line + 1,
                      (int)m->column + 1, msg);
    return r;
}

/* Resolve one scalar event into a value. */
static int scalar_value(struct ydec *d, const yaml_event_t *ev, json_t **ret_v)
{
    const char *s = (const char *)ev->data.scalar.value;
    size_t len = ev->data.scalar.length;
    const char *tag = (const char *)ev->data.scalar.tag;
    bool nomem = false;
    json_t *v = NULL;

    if (memchr(s, '\0', len))
        return fail_at(d, -EINVAL, API_ERR_DECODE, &ev->start_mark, "%s",
                       "NUL characters are not allowed");
    if (tag && !strcmp(tag, "!"))
        tag = NULL, v = json_stringn(s, len);
    else if (tag) {
        const char *t;
        if (strncmp(tag, TAG_PREFIX, strlen(TAG_PREFIX)) != 0)
            return fail_at(d, -EINVAL, API_ERR_DECODE, &ev->start_mark,
                           "unsupported tag '%s'", tag);
        t = tag + strlen(TAG_PREFIX);
        if (!strcmp(t, "str"))
            v = json_stringn(s, len);
        else {
            v = api_yaml_resolve_plain(s, len, &nomem);
            if (nomem)
                return -ENOMEM;
            if (!v || (!strcmp(t, "int") && !json_is_integer(v)) ||
                (!strcmp(t, "float") && !json_is_number(v)) ||
                (!strcmp(t, "bool") && !json_is_boolean(v)) ||
                (!strcmp(t, "null") && !json_is_null(v)) ||
                (strcmp(t, "int") && strcmp(t, "float") && strcmp(t, "bool") &&
                 strcmp(t, "null"))) {
                json_decref(v);
                return fail_at(d, -EINVAL, API_ERR_DECODE, &ev->start_mark,
                               "cannot decode scalar as '%s'", tag);
            }
            if (!strcmp(t, "float") && json_is_integer(v)) {
                json_t *r = json_real((double)json_integer_value(v));
                json_decref(v);
                v = r;
            }
        }
    } else if (ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE) {
        v = api_yaml_resolve_plain(s, len, &nomem);
        if (nomem)
            return -ENOMEM;
        if (!v)
            v = json_stringn(s, len);
    } else
        v = json_stringn(s, len);
    if (!v) {
        /* json_stringn refuses invalid UTF-8; libyaml checked the input,
         * so this is an allocation failure or an escape such as "\0". */
        if (memchr(s, '\0', len))
            return fail_at(d, -EINVAL, API_ERR_DECODE, &ev->start_mark, "%s",
                           "NUL characters are not allowed");
        return -ENOMEM;
    }
    *ret_v = v;
    return 0;
}

/* Attach a finished value to the innermost container (or make it the
 * root).  Takes the reference to v. */
static int attach(struct ydec *d, json_t *v, const yaml_mark_t *m)
{
    struct frame *f;

    if (d->depth == 0) {
        d->root = v;
        return 0;
    }
    f = &d->stack[d->depth - 1];
    if (++f->items > d->lim->max_items) {
        json_decref(v);
        return fail_at(d, -E2BIG, API_ERR_LIMIT, m,
                       "too many items in one mapping or sequence "
                       "(limit %zu)",
                       d->lim->max_items);
    }
    if (json_is_array(f->node)) {
        if (json_array_append_new(f->node, v) < 0)
            return -ENOMEM;
        return 0;
    }
    if (json_object_setn_new_nocheck(f->node, f->key, f->keylen, v) < 0)
        return -ENOMEM;
    free(f->key);
    f->key = NULL;
    return 0;
}

static int count_node(struct ydec *d, const yaml_mark_t *m)
{
    if (++d->nodes <= d->lim->max_nodes)
        return 0;
    return fail_at(d, -E2BIG, API_ERR_LIMIT, m,
                   "too many values in the document (limit %zu)",
                   d->lim->max_nodes);
}

static int on_scalar(struct ydec *d, yaml_event_t *ev)
{
    struct frame *f = d->depth ? &d->stack[d->depth - 1] : NULL;
    const char *s = (const char *)ev->data.scalar.value;
    size_t len = ev->data.scalar.length;
    json_t *v = NULL;
    int r;

    if (ev->data.scalar.anchor)
        return fail_at(d, -EINVAL, API_ERR_DECODE, &ev->start_mark,
                       "anchor '%s' is not allowed (anchors and aliases are "
                       "refused)",
                       (const char *)ev->data.scalar.anchor);
    if (len > d->lim->max_string_bytes) {
        return fail_at(d, -E2BIG, API_ERR_LIMIT, &ev->start_mark,
                       "string too long (limit %zu bytes)",
                       d->lim->max_string_bytes);
    }
    if ((r = count_node(d, &ev->start_mark)) < 0)
        return r;
    if (f && json_is_object(f->node) && !f->key) {
        /* A mapping key: any scalar, taken as its text. */
        if (memchr(s, '\0', len))
            return fail_at(d, -EINVAL, API_ERR_DECODE, &ev->start_mark, "%s",
                           "NUL characters are not allowed");
        if (json_object_getn(f->node, s, len)) {
            char key[80];
            snprintf(key, sizeof(key), "%.*s", (int)(len > 64 ? 64 : len), s);
            return fail_at(d, -EINVAL, API_ERR_DECODE, &ev->start_mark,
                           "key \"%s\" already set in map", key);
        }
        /* Take libyaml's NUL-terminated copy (malloc'd: yaml_malloc is
         * malloc) instead of making one. */
        f->key = (char *)ev->data.scalar.value;
        ev->data.scalar.value = NULL;
        f->keylen = len;
        return 0;
    }
    if ((r = scalar_value(d, ev, &v)) < 0)
        return r;
    return attach(d, v, &ev->start_mark);
}

static int on_start(struct ydec *d, const yaml_event_t *ev, bool mapping)
{
    const char *anchor =
        (const char *)(mapping ? ev->data.mapping_start.anchor
                               : ev->data.sequence_start.anchor);
    const char *tag = (const char *)(mapping ? ev->data.mapping_start.tag
                                             : ev->data.sequence_start.tag);
    struct frame *f = d->depth ? &d->stack[d->depth - 1] : NULL;
    json_t *node;
    int r;

    if (anchor)
        return fail_at(d, -EINVAL, API_ERR_DECODE, &ev->start_mark,
                       "anchor '%s' is not allowed (anchors and aliases are "
                       "refused)",
                       anchor);
    if (tag && strcmp(tag, mapping ? TAG_PREFIX "map" : TAG_PREFIX "seq") &&
        strcmp(tag, "!"))
        return fail_at(d, -EINVAL, API_ERR_DECODE, &ev->start_mark,
                       "unsupported tag '%s'", tag);
    if (f && json_is_object(f->node) && !f->key)
        return fail_at(d, -EINVAL, API_ERR_DECODE, &ev->start_mark, "%s",
                       "mapping keys must be scalars");
    if (d->depth >= d->lim->max_depth) {
        return fail_at(d, -E2BIG, API_ERR_LIMIT, &ev->start_mark,
                       "document nested too deeply (limit %zu levels)",
                       d->lim->max_depth);
    }
    if ((r = count_node(d, &ev->start_mark)) < 0)
        return r;
    node = mapping ? json_object() : json_array();
    if (!node)
        return -ENOMEM;
    d->stack[d->depth] = (struct frame){.node = node};
    d->depth++;
    return 0;
}

static int on_end(struct ydec *d, const yaml_event_t *ev)
{
    struct frame f = d->stack[--d->depth];

    free(f.key);
    return attach(d, f.node, &ev->start_mark);
}

/* *ret_syntax is set when libyaml itself could not parse the text (as
 * opposed to a document it read and we refused). */
static int yaml_decode(const char *buf, size_t len,
                       const struct api_limits *lim, json_t **ret_doc,
                       struct api_errors *errs, bool *ret_syntax)
{
    struct ydec d = {.lim = lim, .errs = errs};
    struct frame local[33];
    bool done = false, have_doc = false;
    int r = 0;

    *ret_syntax = false;

    /* The usual depth limit fits on the stack; a larger one is heap. */
    if (lim->max_depth < sizeof(local) / sizeof(local[0]))
        d.stack = local;
    else if (!(d.stack = calloc(lim->max_depth + 1, sizeof(*d.stack))))
        return -ENOMEM;
    if (!yaml_parser_initialize(&d.parser)) {
        if (d.stack != local)
            free(d.stack);
        return -ENOMEM;
    }
    yaml_parser_set_input_string(&d.parser, (const unsigned char *)buf, len);
    while (!done && r == 0) {
        yaml_event_t ev;
        if (!yaml_parser_parse(&d.parser, &ev)) {
            const yaml_mark_t *m = &d.parser.problem_mark;
            if (d.parser.error == YAML_MEMORY_ERROR) {
                r = -ENOMEM;
                break;
            }
            if (d.parser.context)
                api_errors_add_at(
                    errs, API_ERR_DECODE, (int)m->line + 1, (int)m->column + 1,
                    NULL, "yaml: line %d, column %d: %s %s", (int)m->line + 1,
                    (int)m->column + 1,
                    d.parser.problem ? d.parser.problem : "syntax error",
                    d.parser.context);
            else
                api_errors_add_at(
                    errs, API_ERR_DECODE, (int)m->line + 1, (int)m->column + 1,
                    NULL, "yaml: line %d, column %d: %s", (int)m->line + 1,
                    (int)m->column + 1,
                    d.parser.problem ? d.parser.problem : "syntax error");
            *ret_syntax = true;
            r = -EINVAL;
            break;
        }
        switch (ev.type) {
        case YAML_STREAM_START_EVENT:
        case YAML_NO_EVENT:
        case YAML_DOCUMENT_END_EVENT:
            break;
        case YAML_STREAM_END_EVENT:
            done = true;
            break;
        case YAML_DOCUMENT_START_EVENT:
            if (have_doc)
                r = fail_at(&d, -EINVAL, API_ERR_DECODE, &ev.start_mark, "%s",
                            "multiple documents are not allowed");
            have_doc = true;
            break;
        case YAML_ALIAS_EVENT:
            r = fail_at(&d, -EINVAL, API_ERR_DECODE, &ev.start_mark,
                        "alias '*%s' is not allowed (anchors and aliases "
                        "are refused)",
                        (const char *)ev.data.alias.anchor);
            break;
        case YAML_SCALAR_EVENT:
            r = on_scalar(&d, &ev);
            break;
        case YAML_SEQUENCE_START_EVENT:
            r = on_start(&d, &ev, false);
            break;
        case YAML_MAPPING_START_EVENT:
            r = on_start(&d, &ev, true);
            break;
        case YAML_SEQUENCE_END_EVENT:
        case YAML_MAPPING_END_EVENT:
            r = on_end(&d, &ev);
            break;
        }
        yaml_event_delete(&ev);
    }
    if (r == 0 && !d.root) {
        api_errors_add_at(errs, API_ERR_DECODE, 0, 0, NULL, "empty document");
        r = -EINVAL;
    }
    while (d.depth > 0) {
        d.depth--;
        free(d.stack[d.depth].key);
        json_decref(d.stack[d.depth].node);
    }
    yaml_parser_delete(&d.parser);
    if (d.stack != local)
        free(d.stack);
    if (r < 0) {
        json_decref(d.root);
        return r;
    }
    *ret_doc = d.root;
    return 0;
}

/* ---------------- JSON decoding ---------------- */

enum jlimit { JL_NODES, JL_STRING, JL_DEPTH, JL_ITEMS };

struct jwalk {
    const struct api_limits *lim;
    size_t nodes;
    enum jlimit what;
};

static int json_limits(struct jwalk *w, const json_t *v, size_t depth)
{
    size_t n = 0;

    if (++w->nodes > w->lim->max_nodes) {
        w->what = JL_NODES;
        return -E2BIG;
    }
    if (json_is_string(v) && json_string_length(v) > w->lim->max_string_bytes) {
        w->what = JL_STRING;
        return -E2BIG;
    }
    if (!json_is_object(v) && !json_is_array(v))
        return 0;
    if (depth >= w->lim->max_depth) {
        w->what = JL_DEPTH;
        return -E2BIG;
    }
    n = json_is_object(v) ? json_object_size(v) : json_array_size(v);
    if (n > w->lim->max_items) {
        w->what = JL_ITEMS;
        return -E2BIG;
    }
    if (json_is_object(v)) {
        const char *k;
        json_t *c;
        void *it;
        for (it = json_object_iter((json_t *)v); it;
             it = json_object_iter_next((json_t *)v, it)) {
            k = json_object_iter_key(it);
            c = json_object_iter_value(it);
            if (json_object_iter_key_len(it) > w->lim->max_string_bytes) {
                w->what = JL_STRING;
                return -E2BIG;
            }
            (void)k;
            int r = json_limits(w, c, depth + 1);
            if (r < 0)
                return r;
        }
    } else {
        for (size_t i = 0; i < n; i++) {
            int r = json_limits(w, json_array_get(v, i), depth + 1);
            if (r < 0)
                return r;
        }
    }
    return 0;
}

static int json_decode(const char *buf, size_t len,
                       const struct api_limits *lim, json_t **ret_doc,
                       struct api_errors *errs, bool *ret_syntax)
{
    json_error_t jerr;
    struct jwalk w = {.lim = lim};
    json_t *doc;
    int r;

    *ret_syntax = false;
    doc = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!doc) {
        switch (json_error_code(&jerr)) {
        case json_error_out_of_memory:
            return -ENOMEM;
        case json_error_duplicate_key:
        case json_error_invalid_utf8:
        case json_error_null_character:
        case json_error_null_byte_in_key:
            /* JSON that we refuse, not text that is not JSON. */
            break;
        default:
            *ret_syntax = true;
            break;
        }
        api_errors_add_at(errs, API_ERR_DECODE, jerr.line, jerr.column, NULL,
                          "json: line %d, column %d: %s", jerr.line,
                          jerr.column, jerr.text);
        return -EINVAL;
    }
    r = json_limits(&w, doc, 0);
    if (r < 0) {
        switch (w.what) {
        case JL_NODES:
            api_errors_add_at(errs, API_ERR_LIMIT, 0, 0, NULL,
                              "json: too many values in the document "
                              "(limit %zu)",
                              lim->max_nodes);
            break;
        case JL_STRING:
            api_errors_add_at(errs, API_ERR_LIMIT, 0, 0, NULL,
                              "json: string too long (limit %zu bytes)",
                              lim->max_string_bytes);
            break;
        case JL_DEPTH:
            api_errors_add_at(errs, API_ERR_LIMIT, 0, 0, NULL,
                              "json: document nested too deeply (limit %zu "
                              "levels)",
                              lim->max_depth);
            break;
        case JL_ITEMS:
            api_errors_add_at(errs, API_ERR_LIMIT, 0, 0, NULL,
                              "json: too many items in one mapping or "
                              "sequence (limit %zu)",
                              lim->max_items);
            break;
        }
        json_decref(doc);
        return r;
    }
    *ret_doc = doc;
    return 0;
}

/* Append every error of `from` to `to` (which may be NULL) and empty
 * `from`. */
static void errors_move(struct api_errors *to, struct api_errors *from)
{
    for (size_t i = 0; i < from->count; i++) {
        const struct api_error *e = &from->items[i];
        api_errors_add_at(to, e->type, e->line, e->column, e->field, "%s",
                          e->detail);
    }
    api_errors_clear(from);
}

int api_doc_decode(const char *buf, size_t len, const struct api_limits *limits,
                   json_t **ret_doc, struct api_errors *errs)
{
    struct api_limits defaults = API_LIMITS_DEFAULT;
    const struct api_limits *lim = limits ? limits : &defaults;
    size_t i = 0;
    bool syntax;

    if (!buf && len)
        return -EINVAL;
    if (len > lim->max_body_bytes) {
        api_errors_add_at(errs, API_ERR_LIMIT, 0, 0, NULL,
                          "request body too large: %zu bytes, limit %zu", len,
                          lim->max_body_bytes);
        return -EMSGSIZE;
    }
    if (len && memchr(buf, '\0', len)) {
        api_errors_add_at(errs, API_ERR_DECODE, 0, 0, NULL,
                          "body contains a NUL byte");
        return -EINVAL;
    }
    while (i < len && (buf[i] == ' ' || buf[i] == '\t' || buf[i] == '\n' ||
                       buf[i] == '\r'))
        i++;
    if (i < len && (buf[i] == '{' || buf[i] == '[')) {
        struct api_errors jerrs = API_ERRORS_INIT, yerrs = API_ERRORS_INIT;
        bool jsyntax, ysyntax;
        int r = json_decode(buf, len, lim, ret_doc, &jerrs, &jsyntax);
        if (r == 0 || !jsyntax) {
            errors_move(errs, &jerrs);
            return r;
        }
        /* Not JSON: maybe a YAML flow document such as {name: x}.  When
         * libyaml cannot read it either, the JSON error says more; when it
         * reads it but we refuse it (a duplicate key, an alias, a limit),
         * YAML's reason is the one. */
        r = yaml_decode(buf, len, lim, ret_doc, &yerrs, &ysyntax);
        errors_move(errs, r < 0 && ysyntax ? &jerrs : &yerrs);
        api_errors_clear(&jerrs);
        api_errors_clear(&yerrs);
        return r;
    }
    return yaml_decode(buf, len, lim, ret_doc, errs, &syntax);
}

/* ---------------- encoding ---------------- */

int api_format_parse(const char *name)
{
    if (!name)
        return -EINVAL;
    if (!strcmp(name, "json"))
        return API_FORMAT_JSON;
    if (!strcmp(name, "yaml") || !strcmp(name, "yml"))
        return API_FORMAT_YAML;
    return -EINVAL;
}

struct obuf {
    char *s;
    size_t len, alloc;
};

static int obuf_write(void *data, unsigned char *buf, size_t size)
{
    struct obuf *o = data;

    if (o->len + size + 1 > o->alloc) {
        size_t a = o->alloc ? o->alloc : 256;
        while (a < o->len + size + 1)
            a *= 2;
        char *p = realloc(o->s, a);
        if (!p)
            return 0;
        o->s = p;
        o->alloc = a;
    }
    memcpy(o->s + o->len, buf, size);
    o->len += size;
    o->s[o->len] = '\0';
    return 1;
}

static int emit_scalar(yaml_emitter_t *em, const char *s, size_t len,
                       bool is_string)
{
    yaml_event_t ev;
    yaml_scalar_style_t style = YAML_ANY_SCALAR_STYLE;

    if (is_string) {
        if (api_yaml_needs_quotes(s, len))
            style = YAML_DOUBLE_QUOTED_SCALAR_STYLE;
        else if (memchr(s, '\n', len))
            style = YAML_LITERAL_SCALAR_STYLE;
    }
    if (!yaml_scalar_event_initialize(
            &ev, NULL, NULL, (yaml_char_t *)(uintptr_t)s, (int)len,
            !is_string || style == YAML_ANY_SCALAR_STYLE ||
                style == YAML_LITERAL_SCALAR_STYLE,
            1, style))
        return -ENOMEM;
    return yaml_emitter_emit(em, &ev) ? 0 : -EINVAL;
}

static int emit_value(yaml_emitter_t *em, const json_t *v)
{
    yaml_event_t ev;
    char num[64];
    int r;

    switch (json_typeof(v)) {
    case JSON_OBJECT: {
        void *it;
        bool empty = json_object_size(v) == 0;
        yaml_mapping_start_event_initialize(&ev, NULL, NULL, 1,
                                            empty ? YAML_FLOW_MAPPING_STYLE
                                                  : YAML_BLOCK_MAPPING_STYLE);
        if (!yaml_emitter_emit(em, &ev))
            return -EINVAL;
        for (it = json_object_iter((json_t *)v); it;
             it = json_object_iter_next((json_t *)v, it)) {
            r = emit_scalar(em, json_object_iter_key(it),
                            json_object_iter_key_len(it), true);
            if (r < 0)
                return r;
            r = emit_value(em, json_object_iter_value(it));
            if (r < 0)
                return r;
        }
        yaml_mapping_end_event_initialize(&ev);
        return yaml_emitter_emit(em, &ev) ? 0 : -EINVAL;
    }
    case JSON_ARRAY: {
        bool empty = json_array_size(v) == 0;
        yaml_sequence_start_event_initialize(&ev, NULL, NULL, 1,
                                             empty ? YAML_FLOW_SEQUENCE_STYLE
                                                   : YAML_BLOCK_SEQUENCE_STYLE);
        if (!yaml_emitter_emit(em, &ev))
            return -EINVAL;
        for (size_t i = 0; i < json_array_size(v); i++) {
            r = emit_value(em, json_array_get(v, i));
            if (r < 0)
                return r;
        }
        yaml_sequence_end_event_initialize(&ev);
        return yaml_emitter_emit(em, &ev) ? 0 : -EINVAL;
    }
    case JSON_STRING:
        return emit_scalar(em, json_string_value(v), json_string_length(v),
                           true);
    case JSON_INTEGER:
        snprintf(num, sizeof(num), "%" JSON_INTEGER_FORMAT,
                 json_integer_value(v));
        return emit_scalar(em, num, strlen(num), false);
    case JSON_REAL: {
        /* The same digits jansson writes, so YAML and JSON agree. */
        char *s = json_dumps(v, JSON_ENCODE_ANY);
        if (!s)
            return -ENOMEM;
        r = emit_scalar(em, s, strlen(s), false);
        free(s);
        return r;
    }
    case JSON_TRUE:
        return emit_scalar(em, "true", 4, false);
    case JSON_FALSE:
        return emit_scalar(em, "false", 5, false);
    case JSON_NULL:
        return emit_scalar(em, "null", 4, false);
    }
    return -EINVAL;
}

static int yaml_encode(const json_t *doc, char **ret_buf, size_t *ret_len)
{
    yaml_emitter_t em;
    yaml_event_t ev;
    struct obuf o = {0};
    int r = -EINVAL;

    if (!yaml_emitter_initialize(&em))
        return -ENOMEM;
    yaml_emitter_set_output(&em, obuf_write, &o);
    yaml_emitter_set_unicode(&em, 1);
    yaml_emitter_set_width(&em, -1);
    yaml_emitter_set_indent(&em, 2);
    yaml_stream_start_event_initialize(&ev, YAML_UTF8_ENCODING);
    if (!yaml_emitter_emit(&em, &ev))
        goto out;
    yaml_document_start_event_initialize(&ev, NULL, NULL, NULL, 1);
    if (!yaml_emitter_emit(&em, &ev))
        goto out;
    r = emit_value(&em, doc);
    if (r < 0)
        goto out;
    r = -EINVAL;
    yaml_document_end_event_initialize(&ev, 1);
    if (!yaml_emitter_emit(&em, &ev))
        goto out;
    yaml_stream_end_event_initialize(&ev);
    if (!yaml_emitter_emit(&em, &ev))
        goto out;
    if (!yaml_emitter_flush(&em))
        goto out;
    r = 0;
out:
    if (r < 0 && em.error == YAML_MEMORY_ERROR)
        r = -ENOMEM;
    if (r == 0 && !o.s)
        r = -ENOMEM;
    yaml_emitter_delete(&em);
    if (r < 0) {
        free(o.s);
        return r;
    }
    *ret_buf = o.s;
    if (ret_len)
        *ret_len = o.len;
    return 0;
}

int api_doc_encode(const json_t *doc, enum api_format format, char **ret_buf,
                   size_t *ret_len)
{
    char *s;

    if (!doc || !ret_buf)
        return -EINVAL;
    switch (format) {
    case API_FORMAT_YAML:
        return yaml_encode(doc, ret_buf, ret_len);
    case API_FORMAT_JSON:
        s = json_dumps(doc, JSON_COMPACT | JSON_ENCODE_ANY);
        break;
    case API_FORMAT_JSON_PRETTY: {
        char *t = json_dumps(doc, JSON_INDENT(2) | JSON_ENCODE_ANY);
        if (!t)
            return -ENOMEM;
        s = NULL;
        if (asprintf(&s, "%s\n", t) < 0)
            s = NULL;
        free(t);
        break;
    }
    default:
        return -EINVAL;
    }
    if (!s)
        return -ENOMEM;
    *ret_buf = s;
    if (ret_len)
        *ret_len = strlen(s);
    return 0;
}
