/*
 * orchestratord: a read-only scanner over JSON text (see orchd.h).
 *
 * Admission reads two or three fields of a stored VMI; parsing the whole
 * record into a json_t costs far more than the rest of the check (about
 * 200 instructions a byte with jansson, and a VMI with its domain spec is
 * kilobytes).  The scanner walks the text once, skipping what it does not
 * need, and allocates nothing.  It checks only what it must to stay within
 * the text: a malformed document is -EINVAL, never a read past its end.
 */
#include "orchestratord/orchd.h"

#include <errno.h>
#include <string.h>

static size_t skip_ws(const char *s, size_t len, size_t i)
{
    while (i < len &&
           (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r'))
        i++;
    return i;
}

/* I is at a '"': the index after the closing quote, or 0 if unterminated.
 * *RET_ESC tells whether the string holds a backslash escape. */
static size_t skip_string(const char *s, size_t len, size_t i, bool *ret_esc)
{
    bool esc = false;
    for (i++; i < len; i++) {
        if (s[i] == '\\') {
            esc = true;
            i++;
        } else if (s[i] == '"') {
            if (ret_esc)
                *ret_esc = esc;
            return i + 1;
        }
    }
    return 0;
}

/* I is at the start of a value: the index after it, or 0 if malformed. */
static size_t skip_value(const char *s, size_t len, size_t i)
{
    size_t depth = 0;

    if (i >= len)
        return 0;
    if (s[i] == '"')
        return skip_string(s, len, i, NULL);
    if (s[i] != '{' && s[i] != '[') {
        size_t start = i;
        while (i < len && s[i] != ',' && s[i] != '}' && s[i] != ']' &&
               s[i] != ' ' && s[i] != '\t' && s[i] != '\n' && s[i] != '\r' &&
               s[i] != ':' && s[i] != '"' && s[i] != '{' && s[i] != '[')
            i++;
        return i > start ? i : 0;
    }
    while (i < len) {
        char c = s[i];
        if (c == '"') {
            i = skip_string(s, len, i, NULL);
            if (i == 0)
                return 0;
            continue;
        }
        if (c == '{' || c == '[') {
            depth++;
        } else if (c == '}' || c == ']') {
            if (depth == 0)
                return 0;
            if (--depth == 0)
                return i + 1;
        }
        i++;
    }
    return 0;
}

int orch_jscan_member(const struct orch_jspan *obj, const char *name,
                      struct orch_jspan *ret)
{
    const char *s = obj->text;
    size_t len = obj->len, nlen = strlen(name);
    size_t i = skip_ws(s, len, 0);

    if (i >= len || s[i] != '{')
        return -EINVAL;
    i = skip_ws(s, len, i + 1);
    if (i < len && s[i] == '}')
        return -ENOENT;
    while (i < len) {
        size_t key = i, end, vstart;
        if (s[i] != '"')
            return -EINVAL;
        end = skip_string(s, len, i, NULL);
        if (end == 0)
            return -EINVAL;
        i = skip_ws(s, len, end);
        if (i >= len || s[i] != ':')
            return -EINVAL;
        vstart = skip_ws(s, len, i + 1);
        i = skip_value(s, len, vstart);
        if (i == 0)
            return -EINVAL;
        /* Keys are compared as written: a name with an escape in it is
         * not one of the plain names callers ask for. */
        if (end - key - 2 == nlen && memcmp(s + key + 1, name, nlen) == 0) {
            ret->text = s + vstart;
            ret->len = i - vstart;
            return 0;
        }
        i = skip_ws(s, len, i);
        if (i < len && s[i] == '}')
            return -ENOENT;
        if (i >= len || s[i] != ',')
            return -EINVAL;
        i = skip_ws(s, len, i + 1);
    }
    return -EINVAL;
}

int orch_jscan_path(const struct orch_jspan *obj, const char *const *path,
                    struct orch_jspan *ret)
{
    struct orch_jspan cur = *obj;

    for (; *path; path++) {
        int r = orch_jscan_member(&cur, *path, &cur);
        if (r < 0)
            return r;
    }
    *ret = cur;
    return 0;
}

int orch_jscan_next(const struct orch_jspan *arr, size_t *pos,
                    struct orch_jspan *ret)
{
    const char *s = arr->text;
    size_t len = arr->len, i = *pos, end;

    if (i == 0) {
        i = skip_ws(s, len, 0);
        if (i >= len || s[i] != '[')
            return -EINVAL;
        i = skip_ws(s, len, i + 1);
        if (i < len && s[i] == ']') {
            *pos = i;
            return -ENOENT;
        }
    } else {
        i = skip_ws(s, len, i);
        if (i < len && s[i] == ']')
            return -ENOENT;
        if (i >= len || s[i] != ',')
            return -EINVAL;
        i = skip_ws(s, len, i + 1);
    }
    end = skip_value(s, len, i);
    if (end == 0)
        return -EINVAL;
    ret->text = s + i;
    ret->len = end - i;
    *pos = end;
    return 0;
}

int orch_jscan_string_eq(const struct orch_jspan *v, const char *lit)
{
    size_t n = strlen(lit);
    bool esc = false;

    if (v->len < 2 || v->text[0] != '"')
        return 0;
    if (skip_string(v->text, v->len, 0, &esc) != v->len)
        return -EINVAL;
    if (esc)
        return -EINVAL; /* would need decoding: the caller decides */
    return v->len - 2 == n && memcmp(v->text + 1, lit, n) == 0;
}
