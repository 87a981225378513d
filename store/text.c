/*
 * Compact JSON text of a json_t for storage (see text.h for why).
 */
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/text.h"

#define MAX_DEPTH 512

static int reserve(struct text_buf *b, size_t more)
{
    size_t need = b->len + more + 1, cap = b->cap ? b->cap : 4096;
    char *p;

    if (need <= b->cap)
        return 0;
    while (cap < need)
        cap *= 2;
    p = realloc(b->data, cap);
    if (!p)
        return -ENOMEM;
    b->data = p;
    b->cap = cap;
    return 0;
}

static int put(struct text_buf *b, const char *s, size_t n)
{
    if (reserve(b, n) < 0)
        return -ENOMEM;
    memcpy(b->data + b->len, s, n);
    b->len += n;
    return 0;
}

static int put_char(struct text_buf *b, char c)
{
    return put(b, &c, 1);
}

/* A JSON string: quotes, backslashes and control characters escaped, the
 * rest (valid UTF-8, as jansson guarantees) copied. */
static int put_string(struct text_buf *b, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    size_t run = 0;

    /* Worst case every byte becomes \u00XX. */
    if (reserve(b, n * 6 + 2) < 0)
        return -ENOMEM;
    b->data[b->len++] = '"';
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        char *o;
        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        memcpy(b->data + b->len, s + run, i - run);
        b->len += i - run;
        run = i + 1;
        o = b->data + b->len;
        o[0] = '\\';
        switch (c) {
        case '"':
        case '\\':
            o[1] = (char)c;
            b->len += 2;
            break;
        case '\n':
            o[1] = 'n';
            b->len += 2;
            break;
        case '\t':
            o[1] = 't';
            b->len += 2;
            break;
        case '\r':
            o[1] = 'r';
            b->len += 2;
            break;
        default:
            memcpy(o + 1, "u00", 3);
            o[4] = hex[c >> 4];
            o[5] = hex[c & 15];
            b->len += 6;
        }
    }
    memcpy(b->data + b->len, s + run, n - run);
    b->len += n - run;
    b->data[b->len++] = '"';
    return 0;
}

static int put_real(struct text_buf *b, double d)
{
    char tmp[40];
    int n;

    if (!isfinite(d))
        return -EINVAL;
    /* 17 significant digits read back to the same double. */
    n = snprintf(tmp, sizeof(tmp), "%.17g", d);
    for (int i = 0; i < n; i++)
        if (tmp[i] == ',') /* a locale's decimal comma */
            tmp[i] = '.';
    /* Keep it a real when read back: "1" would load as an integer. */
    if (!strpbrk(tmp, ".eE") && n + 2 < (int)sizeof(tmp)) {
        memcpy(tmp + n, ".0", 3);
        n += 2;
    }
    return put(b, tmp, (size_t)n);
}

static int encode(struct text_buf *b, const json_t *v, int depth)
{
    char tmp[24];
    int r = 0, n;

    if (depth > MAX_DEPTH)
        return -EINVAL;
    switch (json_typeof(v)) {
    case JSON_OBJECT: {
        const char *key;
        size_t klen;
        json_t *val;
        bool first = true;

        r = put_char(b, '{');
        json_object_keylen_foreach((json_t *)v, key, klen, val)
        {
            if (r == 0 && !first)
                r = put_char(b, ',');
            first = false;
            if (r == 0)
                r = put_string(b, key, klen);
            if (r == 0)
                r = put_char(b, ':');
            if (r == 0)
                r = encode(b, val, depth + 1);
            if (r < 0)
                return r;
        }
        return r < 0 ? r : put_char(b, '}');
    }
    case JSON_ARRAY:
        r = put_char(b, '[');
        for (size_t i = 0; r == 0 && i < json_array_size(v); i++) {
            if (i)
                r = put_char(b, ',');
            if (r == 0)
                r = encode(b, json_array_get(v, i), depth + 1);
        }
        return r < 0 ? r : put_char(b, ']');
    case JSON_STRING:
        return put_string(b, json_string_value(v), json_string_length(v));
    case JSON_INTEGER:
        n = snprintf(tmp, sizeof(tmp), "%" JSON_INTEGER_FORMAT,
                     json_integer_value(v));
        return put(b, tmp, (size_t)n);
    case JSON_REAL:
        return put_real(b, json_real_value(v));
    case JSON_TRUE:
        return put(b, "true", 4);
    case JSON_FALSE:
        return put(b, "false", 5);
    case JSON_NULL:
        return put(b, "null", 4);
    }
    return -EINVAL;
}

int store_text_encode(struct text_buf *buf, const json_t *value)
{
    int r;

    buf->len = 0;
    if (!value)
        return -EINVAL;
    r = encode(buf, value, 0);
    if (r == 0)
        r = reserve(buf, 0);
    if (r == 0)
        buf->data[buf->len] = '\0';
    return r;
}

int store_text_append(struct text_buf *buf, const char *s, size_t n)
{
    if (reserve(buf, n) < 0)
        return -ENOMEM;
    memcpy(buf->data + buf->len, s, n);
    buf->len += n;
    buf->data[buf->len] = '\0';
    return 0;
}

void store_text_release(struct text_buf *buf)
{
    if (!buf)
        return;
    free(buf->data);
    memset(buf, 0, sizeof(*buf));
}
