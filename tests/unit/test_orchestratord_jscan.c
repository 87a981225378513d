/*
 * Unit tests for orchestratord's JSON text scanner (jscan.c), which list
 * selectors use on stored records: every answer lies within the text, in
 * buffers of exactly the text's length so that ASan sees any read past it.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "orchestratord/orchd.h"

/* TEXT copied into a buffer of exactly its length, so a read past the end
 * is a sanitizer error. */
static struct orch_jspan span_of(const char *text, char **ret_buf)
{
    size_t n = strlen(text);
    char *b = malloc(n ? n : 1);
    assert_non_null(b);
    memcpy(b, text, n);
    *ret_buf = b;
    return (struct orch_jspan){b, n};
}

static void assert_span(const struct orch_jspan *v, const char *want)
{
    assert_int_equal(v->len, strlen(want));
    assert_memory_equal(v->text, want, v->len);
}

/* A span found inside DOC lies within it. */
static void assert_within(const struct orch_jspan *doc,
                          const struct orch_jspan *v)
{
    assert_true(v->text >= doc->text);
    assert_true(v->text + v->len <= doc->text + doc->len);
}

/* Every prefix of a record, each in a buffer of exactly its length (so
 * ASan sees a read past it): each call answers within the text. */
static void jscan_prefixes(void)
{
    static const char *const path_type[] = {"status", "conditions", NULL};
    static const char text[] =
        "{\"metadata\":{\"name\":\"a\\\\\\\"b\",\"labels\":{}},"
        "\"status\":{\"phase\":\"Running\",\"conditions\":[{\"type\":"
        "\"LiveMigratable\",\"status\":\"True\"},[],\"x\\u0041\",-1e9,"
        "true]}}";
    size_t n = strlen(text);

    for (size_t cut = 0; cut <= n; cut++) {
        char *b = malloc(cut ? cut : 1);
        struct orch_jspan doc = {b, cut}, v, e, t;
        size_t pos = 0;
        int r;

        assert_non_null(b);
        memcpy(b, text, cut);
        r = orch_jscan_member(&doc, "zzz", &v);
        assert_int_equal(r, cut == n ? -ENOENT : -EINVAL);
        r = orch_jscan_path(&doc, path_type, &v);
        assert_true(r == 0 || r == -EINVAL);
        if (r == 0) {
            assert_within(&doc, &v);
            while ((r = orch_jscan_next(&v, &pos, &e)) == 0) {
                assert_within(&v, &e);
                if (orch_jscan_member(&e, "type", &t) == 0) {
                    assert_within(&e, &t);
                    assert_int_equal(orch_jscan_string_eq(&t, "LiveMigratable"),
                                     1);
                }
                orch_jscan_string_eq(&e, "x");
            }
            assert_true(r == -ENOENT || r == -EINVAL);
        }
        /* A string value cut anywhere. */
        if (cut >= 1 && b[0] == '{') {
            struct orch_jspan s = {b + cut - 1, 1};
            r = orch_jscan_string_eq(&s, "a");
            assert_true(r == 0 || r == -EINVAL);
        }
        free(b);
    }
}

/* Nesting far deeper than any recursion could take, strings cut at an
 * escape, values that are not strings. */
static void jscan_deep_and_odd(void)
{
    size_t depth = 100000, n = 2 * depth + 16;
    char *b = malloc(n), *buf;
    struct orch_jspan doc, v;
    size_t pos = 0;

    assert_non_null(b);
    memcpy(b, "{\"a\":", 5);
    memset(b + 5, '[', depth);
    memset(b + 5 + depth, ']', depth);
    memcpy(b + 5 + 2 * depth, ",\"b\"", 4);
    doc = (struct orch_jspan){b, 5 + 2 * depth + 4};
    /* "{"a":[[...]],"b" : a member without its value. */
    assert_int_equal(orch_jscan_member(&doc, "b", &v), -EINVAL);
    assert_int_equal(orch_jscan_member(&doc, "a", &v), 0);
    assert_int_equal(v.len, 2 * depth);
    assert_int_equal(orch_jscan_next(&v, &pos, &v), 0);
    assert_int_equal(v.len, 2 * depth - 2);
    /* Unbalanced: one ']' short. */
    doc.len = 5 + 2 * depth - 1;
    assert_int_equal(orch_jscan_member(&doc, "a", &v), -EINVAL);
    free(b);

    {
        static const char *const strs[] = {"\"",    "\"\\",    "\"\\\"",
                                           "\"a\\", "\"a\\\"", "\"ab"};
        for (size_t i = 0; i < sizeof(strs) / sizeof(*strs); i++) {
            v = span_of(strs[i], &buf);
            if (orch_jscan_string_eq(&v, "a") != (v.len < 2 ? 0 : -EINVAL))
                fail_msg("'%s' compared", strs[i]);
            free(buf);
        }
    }
    v = span_of("\"a\\u0041\"", &buf);
    assert_int_equal(orch_jscan_string_eq(&v, "aA"), -EINVAL);
    free(buf);
    v = span_of("{\"a\":1}", &buf);
    assert_int_equal(orch_jscan_string_eq(&v, "a"), 0);
    free(buf);
    v = span_of("[1,]", &buf);
    pos = 0;
    assert_int_equal(orch_jscan_next(&v, &pos, &doc), 0);
    assert_int_equal(orch_jscan_next(&v, &pos, &doc), -EINVAL);
    free(buf);
}

static void test_jscan(void **state)
{
    static const char *const path_phase[] = {"status", "phase", NULL};
    static const char *const path_none[] = {"status", "nope", NULL};
    static const char *const path_deep[] = {"a", "b", "c", NULL};
    char *buf;
    struct orch_jspan doc, v, e;
    size_t pos = 0;
    (void)state;

    doc = span_of("{\"metadata\":{\"name\":\"x\\\"}{[\"},"
                  "\"spec\":{\"list\":[1,{\"k\":\"]\"},[true,null]],"
                  "\"n\":-1.5e3},"
                  "\"status\":{\"phase\":\"Running\",\"conditions\":"
                  "[{\"type\":\"A\"},{\"type\":\"B\\\\\"}]}}",
                  &buf);
    assert_int_equal(orch_jscan_path(&doc, path_phase, &v), 0);
    assert_span(&v, "\"Running\"");
    assert_int_equal(orch_jscan_string_eq(&v, "Running"), 1);
    assert_int_equal(orch_jscan_string_eq(&v, "Runnin"), 0);
    assert_int_equal(orch_jscan_path(&doc, path_none, &v), -ENOENT);
    assert_int_equal(orch_jscan_member(&doc, "spec", &v), 0);
    assert_span(&v, "{\"list\":[1,{\"k\":\"]\"},[true,null]],\"n\":-1.5e3}");
    assert_int_equal(orch_jscan_member(&v, "n", &e), 0);
    assert_span(&e, "-1.5e3");
    assert_int_equal(orch_jscan_string_eq(&e, "x"), 0);
    assert_int_equal(orch_jscan_member(&v, "list", &v), 0);
    assert_int_equal(orch_jscan_next(&v, &pos, &e), 0);
    assert_span(&e, "1");
    assert_int_equal(orch_jscan_next(&v, &pos, &e), 0);
    assert_span(&e, "{\"k\":\"]\"}");
    assert_int_equal(orch_jscan_next(&v, &pos, &e), 0);
    assert_span(&e, "[true,null]");
    assert_int_equal(orch_jscan_next(&v, &pos, &e), -ENOENT);
    /* A string with an escape cannot be compared undecoded. */
    assert_int_equal(orch_jscan_member(&doc, "status", &v), 0);
    assert_int_equal(orch_jscan_member(&v, "conditions", &v), 0);
    pos = 0;
    assert_int_equal(orch_jscan_next(&v, &pos, &e), 0);
    assert_int_equal(orch_jscan_next(&v, &pos, &e), 0);
    assert_int_equal(orch_jscan_member(&e, "type", &e), 0);
    assert_int_equal(orch_jscan_string_eq(&e, "B\\"), -EINVAL);
    /* Not an object, not an array. */
    assert_int_equal(orch_jscan_member(&e, "x", &v), -EINVAL);
    pos = 0;
    assert_int_equal(orch_jscan_next(&e, &pos, &v), -EINVAL);
    free(buf);

    /* Spaces are allowed; empty containers. */
    doc = span_of(" { \"a\" : { \"b\" : { \"c\" : [ ] } } } ", &buf);
    assert_int_equal(orch_jscan_path(&doc, path_deep, &v), 0);
    assert_span(&v, "[ ]");
    pos = 0;
    assert_int_equal(orch_jscan_next(&v, &pos, &e), -ENOENT);
    free(buf);
    doc = span_of("{}", &buf);
    assert_int_equal(orch_jscan_member(&doc, "a", &v), -ENOENT);
    free(buf);

    /* Truncated or malformed texts: -EINVAL, within the buffer. */
    {
        static const char *const bad[] = {
            "",
            "{",
            "{\"a\"",
            "{\"a\":",
            "{\"a\":\"x",
            "{\"a\":\"x\\",
            "{\"a\":{\"b\":1}",
            "{\"a\":[1,2",
            "{\"a\" 1}",
            "{\"a\":1 \"b\":2}",
            "{a:1}",
            "{\"a\":}",
            "[1]",
        };
        for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
            doc = span_of(bad[i], &buf);
            if (orch_jscan_member(&doc, "b", &v) != -EINVAL)
                fail_msg("'%s' was not refused", bad[i]);
            free(buf);
        }
    }
    jscan_prefixes();
    jscan_deep_and_odd();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_jscan),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
