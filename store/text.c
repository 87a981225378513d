/*
 * Compact JSON text of a json_t for storage (see text.h for why).
 */
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
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

/* Records are mostly punctuation and short strings: the common cases stay
 * inline and skip reserve()'s checks. */
static inline int put_char(struct text_buf *b, char c)
{
    if (b->len + 1 < b->cap) {
        b->data[b->len++] = c;
        return 0;
    }
    return put(b, &c, 1);
}

/* Bytes that a JSON string must escape: quotes, backslashes and control
 * characters. */
static const bool needs_escape[256] = {
    [0x00] = 1, [0x01] = 1, [0x02] = 1, [0x03] = 1, [0x04] = 1, [0x05] = 1,
    [0x06] = 1, [0x07] = 1, [0x08] = 1, [0x09] = 1, [0x0a] = 1, [0x0b] = 1,
    [0x0c] = 1, [0x0d] = 1, [0x0e] = 1, [0x0f] = 1, [0x10] = 1, [0x11] = 1,
    [0x12] = 1, [0x13] = 1, [0x14] = 1, [0x15] = 1, [0x16] = 1, [0x17] = 1,
    [0x18] = 1, [0x19] = 1, [0x1a] = 1, [0x1b] = 1, [0x1c] = 1, [0x1d] = 1,
    [0x1e] = 1, [0x1f] = 1, ['"'] = 1,  ['\\'] = 1,
};

/* Whether any of the 8 bytes at P needs escaping: the classic bit tricks
 * for "has a zero byte" (on the bytes XORed with '"' and '\\') and "has a
 * byte less than 0x20".  They never miss a byte; a false alarm only sends
 * the caller to the byte-by-byte loop. */
static inline bool word_needs_escape(const char *p)
{
    const uint64_t ones = 0x0101010101010101ULL, highs = ones * 0x80;
    uint64_t x, q, bs;

    memcpy(&x, p, sizeof(x));
    q = x ^ (ones * '"');
    bs = x ^ (ones * '\\');
    return (((q - ones) & ~q) | ((bs - ones) & ~bs) |
            ((x - ones * 0x20) & ~x)) &
           highs;
}

/* One escaped byte C. */
static int put_escape(struct text_buf *b, unsigned char c)
{
    static const char hex[] = "0123456789abcdef";
    char e[6] = {'\\', (char)c};
    size_t n = 2;

    switch (c) {
    case '"':
    case '\\':
        break;
    case '\n':
        e[1] = 'n';
        break;
    case '\t':
        e[1] = 't';
        break;
    case '\r':
        e[1] = 'r';
        break;
    default:
        memcpy(e + 1, "u00", 3);
        e[4] = hex[c >> 4];
        e[5] = hex[c & 15];
        n = 6;
    }
    return put(b, e, n);
}

/* A JSON string: quotes, backslashes and control characters escaped, the
 * rest (valid UTF-8, as jansson guarantees) copied in runs. */
static int put_string(struct text_buf *b, const char *s, size_t n)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0;

    if (reserve(b, n + 2) < 0)
        return -ENOMEM;
    b->data[b->len++] = '"';
    while (i < n) {
        size_t run = i;
        /* Eight bytes at a time while none of them needs escaping. */
        while (i + 8 <= n && !word_needs_escape(s + i))
            i += 8;
        while (i < n && !needs_escape[u[i]])
            i++;
        if (put(b, s + run, i - run) < 0)
            return -ENOMEM;
        if (i < n && put_escape(b, u[i++]) < 0)
            return -ENOMEM;
    }
    return put_char(b, '"');
}

/* A decimal integer, without printf's format parsing. */
static int put_integer(struct text_buf *b, json_int_t v)
{
    char tmp[24], *p = tmp + sizeof(tmp);
    /* Negate as unsigned: -INT64_MIN overflows. */
    unsigned long long u =
        v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;

    do {
        *--p = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0)
        *--p = '-';
    return put(b, p, (size_t)(tmp + sizeof(tmp) - p));
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
    int r = 0;

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
        return put_integer(b, json_integer_value(v));
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
