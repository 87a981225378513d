/*
 * Error lists with Kubernetes wording, and the Status message built from
 * them.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/internal.h"

void api_errors_init(struct api_errors *errs)
{
    memset(errs, 0, sizeof(*errs));
}

void api_errors_clear(struct api_errors *errs)
{
    if (!errs)
        return;
    for (size_t i = 0; i < errs->count; i++) {
        free(errs->items[i].field);
        free(errs->items[i].detail);
        free(errs->items[i].message);
    }
    free(errs->items);
    memset(errs, 0, sizeof(*errs));
}

int api_errors_addv(struct api_errors *errs, enum api_error_type type, int line,
                    int column, const char *field, const char *detail_fmt,
                    va_list ap)
{
    struct api_error e = {.type = type, .line = line, .column = column};
    int r;

    if (!errs)
        return 0;
    if (errs->count >= API_ERRORS_MAX) {
        errs->truncated = true;
        return -E2BIG;
    }
    if (errs->count == errs->alloc) {
        size_t n = errs->alloc ? errs->alloc * 2 : 4;
        struct api_error *p = realloc(errs->items, n * sizeof(*p));
        if (!p)
            return -ENOMEM;
        errs->items = p;
        errs->alloc = n;
    }
    if (!field)
        field = "";
    e.field = strdup(field);
    if (vasprintf(&e.detail, detail_fmt, ap) < 0)
        e.detail = NULL;
    if (!e.field || !e.detail)
        goto nomem;
    if (type == API_ERR_UNKNOWN_FIELD || !*field)
        r = asprintf(&e.message, "%s", e.detail);
    else
        r = asprintf(&e.message, "%s: %s", field, e.detail);
    if (r < 0) {
        e.message = NULL;
        goto nomem;
    }
    errs->items[errs->count++] = e;
    return 0;
nomem:
    free(e.field);
    free(e.detail);
    return -ENOMEM;
}

int api_errors_add_at(struct api_errors *errs, enum api_error_type type,
                      int line, int column, const char *field,
                      const char *detail_fmt, ...)
{
    va_list ap;
    int r;

    va_start(ap, detail_fmt);
    r = api_errors_addv(errs, type, line, column, field, detail_fmt, ap);
    va_end(ap);
    return r;
}

int api_errors_add(struct api_errors *errs, enum api_error_type type,
                   const char *field, const char *detail_fmt, ...)
{
    va_list ap;
    int r;

    va_start(ap, detail_fmt);
    r = api_errors_addv(errs, type, 0, 0, field, detail_fmt, ap);
    va_end(ap);
    return r;
}

/* JSON Schema's name for the type of a value. */
static const char *json_type_name(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        return "object";
    case JSON_ARRAY:
        return "array";
    case JSON_STRING:
        return "string";
    case JSON_INTEGER:
        return "integer";
    case JSON_REAL:
        return "number";
    case JSON_TRUE:
    case JSON_FALSE:
        return "boolean";
    case JSON_NULL:
        break;
    }
    return "null";
}

int api_errors_add_type(struct api_errors *errs, const char *field,
                        const json_t *v, const char *want)
{
    const char *got = v ? json_type_name(v) : "null";

    return api_errors_add(errs, API_ERR_TYPE, field,
                          "Invalid value: \"%s\": %s in body must be of type "
                          "%s: \"%s\"",
                          got, field ? field : "", want, got);
}

const char *api_error_reason(enum api_error_type type)
{
    switch (type) {
    case API_ERR_REQUIRED:
        return "FieldValueRequired";
    case API_ERR_INVALID:
        return "FieldValueInvalid";
    case API_ERR_TYPE:
        return "FieldValueTypeInvalid";
    case API_ERR_UNSUPPORTED:
        return "FieldValueNotSupported";
    case API_ERR_UNKNOWN_FIELD:
        return "FieldValueUnknown";
    case API_ERR_DUPLICATE:
        return "FieldValueDuplicate";
    case API_ERR_FORBIDDEN:
        return "FieldValueForbidden";
    case API_ERR_TOO_LONG:
        return "FieldValueTooLong";
    case API_ERR_TOO_MANY:
        return "FieldValueTooMany";
    case API_ERR_DECODE:
        return "BadRequest";
    case API_ERR_LIMIT:
        return "RequestEntityTooLarge";
    }
    return "FieldValueInvalid";
}

/* A growing string; `failed` sticks after the first allocation failure. */
struct sbuf {
    char *s;
    size_t len, alloc;
    bool failed;
};

static void sbuf_add(struct sbuf *b, const char *s)
{
    size_t n = strlen(s);

    if (b->failed)
        return;
    if (b->len + n + 1 > b->alloc) {
        size_t a = b->alloc ? b->alloc : 64;
        while (a < b->len + n + 1)
            a *= 2;
        char *p = realloc(b->s, a);
        if (!p) {
            b->failed = true;
            return;
        }
        b->s = p;
        b->alloc = a;
    }
    memcpy(b->s + b->len, s, n + 1);
    b->len += n;
}

static char *sbuf_finish(struct sbuf *b)
{
    sbuf_add(b, "");
    if (b->failed) {
        free(b->s);
        return NULL;
    }
    return b->s;
}

static void join_into(struct sbuf *b, const struct api_errors *errs)
{
    size_t n = errs ? errs->count : 0;

    if (n != 1)
        sbuf_add(b, "[");
    for (size_t i = 0; i < n; i++) {
        if (i)
            sbuf_add(b, ", ");
        sbuf_add(b, errs->items[i].message);
    }
    if (errs && errs->truncated)
        sbuf_add(b, ", ...");
    if (n != 1)
        sbuf_add(b, "]");
}

char *api_errors_join(const struct api_errors *errs)
{
    struct sbuf b = {0};

    join_into(&b, errs);
    return sbuf_finish(&b);
}

char *api_errors_status_message(const struct api_errors *errs,
                                const struct api_kind_info *kind,
                                const char *name)
{
    struct sbuf b = {0};
    bool fields = false;

    for (size_t i = 0; errs && i < errs->count; i++)
        if (errs->items[i].type != API_ERR_DECODE &&
            errs->items[i].type != API_ERR_LIMIT)
            fields = true;
    if (!fields) {
        join_into(&b, errs);
        return sbuf_finish(&b);
    }
    if (kind) {
        sbuf_add(&b, kind->kind_name);
        if (*kind->group) {
            sbuf_add(&b, ".");
            sbuf_add(&b, kind->group);
        }
    } else {
        sbuf_add(&b, "object");
    }
    sbuf_add(&b, " \"");
    sbuf_add(&b, name ? name : "");
    sbuf_add(&b, "\" is invalid: ");
    join_into(&b, errs);
    return sbuf_finish(&b);
}
