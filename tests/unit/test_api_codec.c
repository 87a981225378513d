/*
 * Unit tests for api/ decoding and encoding: every decoder path, the
 * limits, and round trips of the seed manifests in tests/data.
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

#include "api/api.h"

static char *read_data(const char *name, size_t *ret_len)
{
    const char *top = getenv("ORCH_TOP");
    char path[4096];
    FILE *f;
    char *buf;
    long n;

    snprintf(path, sizeof(path), "%s/tests/data/%s", top ? top : ".", name);
    f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    fseek(f, 0, SEEK_SET);
    buf = malloc((size_t)n + 1);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
    buf[n] = '\0';
    fclose(f);
    *ret_len = (size_t)n;
    return buf;
}

/* Decode `text`, expect `rc`; on failure the first error must be `msg`. */
static json_t *decode_expect(const char *text, int rc, const char *msg)
{
    struct api_errors errs = API_ERRORS_INIT;
    json_t *doc = NULL;
    int r = api_doc_decode(text, strlen(text), NULL, &doc, &errs);

    if (r != rc)
        fprintf(stderr, "decode of '%s': %d, errors %zu: %s\n", text, r,
                errs.count, errs.count ? errs.items[0].message : "");
    assert_int_equal(r, rc);
    if (msg) {
        assert_true(errs.count >= 1);
        assert_string_equal(errs.items[0].message, msg);
    }
    if (rc < 0)
        assert_null(doc);
    api_errors_clear(&errs);
    return doc;
}

static void assert_json(const json_t *doc, const char *expect_compact)
{
    char *s = NULL;

    assert_int_equal(api_doc_encode(doc, API_FORMAT_JSON, &s, NULL), 0);
    assert_string_equal(s, expect_compact);
    free(s);
}

static void test_yaml_block(void **state)
{
    (void)state;
    json_t *d = decode_expect("a: 1\n"
                              "b:\n"
                              "  - x\n"
                              "  - 'y'\n"
                              "c:\n"
                              "  d: true\n"
                              "  e: ~\n"
                              "  f: 1.5\n"
                              "  g: \"12\"\n"
                              "  h:\n"
                              "  i: -0x1f\n"
                              "  j: 0o17\n"
                              "  k: 1e3\n"
                              "  l: yes\n"
                              "  m: 02:00:00:00:00:01\n"
                              "  n: 99999999999999999999\n",
                              0, NULL);
    /* YAML 1.2 core schema: "yes" is a string, "-0x1f" is not a number. */
    assert_json(d, "{\"a\":1,\"b\":[\"x\",\"y\"],\"c\":{\"d\":true,\"e\":null,"
                   "\"f\":1.5,\"g\":\"12\",\"h\":null,\"i\":\"-0x1f\","
                   "\"j\":15,\"k\":1000.0,\"l\":\"yes\","
                   "\"m\":\"02:00:00:00:00:01\",\"n\":1e20}}");
    json_decref(d);
}

static void test_yaml_flow(void **state)
{
    (void)state;
    json_t *d = decode_expect("{apiVersion: kubevirt.io/v1, kind: X, "
                              "spec: {vmiName: a, list: [1, two, null]}}",
                              0, NULL);
    assert_json(d, "{\"apiVersion\":\"kubevirt.io/v1\",\"kind\":\"X\","
                   "\"spec\":{\"vmiName\":\"a\",\"list\":[1,\"two\",null]}}");
    json_decref(d);
}

static void test_yaml_tags(void **state)
{
    (void)state;
    json_t *d =
        decode_expect("a: !!str 12\nb: !!int \"7\"\nc: !!float 2\n", 0, NULL);
    assert_json(d, "{\"a\":\"12\",\"b\":7,\"c\":2.0}");
    json_decref(d);
    decode_expect("a: !custom x\n", -EINVAL,
                  "yaml: line 1, column 4: unsupported tag '!custom'");
    decode_expect("a: !!int abc\n", -EINVAL,
                  "yaml: line 1, column 4: cannot decode scalar as "
                  "'tag:yaml.org,2002:int'");
}

static void test_json(void **state)
{
    (void)state;
    json_t *d = decode_expect("  {\"a\": [1, 2.5, -3e2, true, false, null],"
                              " \"b\": {}}",
                              0, NULL);
    assert_json(d, "{\"a\":[1,2.5,-300.0,true,false,null],\"b\":{}}");
    json_decref(d);
}

static void test_json_escapes_unicode(void **state)
{
    (void)state;
    json_t *d = decode_expect("{\"s\": \"q\\\"b\\\\s\\/n\\nt\\tu\\u00e9"
                              "\\ud83d\\ude00\", \"raw\": \"\xc3\xa9\"}",
                              0, NULL);
    assert_string_equal(json_string_value(json_object_get(d, "s")),
                        "q\"b\\s/n\nt\tu\xc3\xa9\xf0\x9f\x98\x80");
    assert_string_equal(json_string_value(json_object_get(d, "raw")),
                        "\xc3\xa9");
    json_decref(d);
    /* A lone surrogate, a NUL escape and invalid UTF-8 are refused. */
    decode_expect("{\"s\": \"\\ud83d\"}", -EINVAL, NULL);
    decode_expect("{\"s\": \"\\u0000\"}", -EINVAL, NULL);
    decode_expect("{\"s\": \"\xff\"}", -EINVAL, NULL);
}

static void test_json_errors(void **state)
{
    (void)state;
    /* Trailing comma: not JSON, not YAML either; the JSON error wins. */
    decode_expect("{\"a\": [1}", -EINVAL,
                  "json: line 1, column 9: ']' expected near '}'");
    /* A trailing comma is not JSON but is a YAML flow mapping. */
    json_decref(decode_expect("{\"a\": 1,}", 0, NULL));
    decode_expect("{\"a\": 1, \"a\": 2}", -EINVAL,
                  "json: line 1, column 12: duplicate object key near "
                  "'\"a\"'");
    decode_expect("{\"a\": 1} x", -EINVAL,
                  "json: line 1, column 10: end of file expected near 'x'");
    /* A YAML flow document that YAML refuses gets YAML's reason, not the
     * JSON syntax error of a body that was never JSON. */
    decode_expect("{a: 1, a: 2}", -EINVAL,
                  "yaml: line 1, column 8: key \"a\" already set in map");
    decode_expect("{a: &x 1, b: *x}", -EINVAL,
                  "yaml: line 1, column 5: anchor 'x' is not allowed "
                  "(anchors and aliases are refused)");
    {
        char deep[200] = "{a: ";
        for (int i = 0; i < 40; i++)
            strcat(deep, "[");
        decode_expect(deep, -E2BIG,
                      "yaml: line 1, column 36: document nested too deeply "
                      "(limit 32 levels)");
    }
}

static void test_empty_truncated_garbage(void **state)
{
    (void)state;
    decode_expect("", -EINVAL, "empty document");
    decode_expect("   \n# only a comment\n", -EINVAL, "empty document");
    decode_expect("a: [1, 2\n", -EINVAL,
                  "yaml: line 2, column 1: did not find expected ',' or "
                  "']' while parsing a flow sequence");
    decode_expect("{\"a\": [1", -EINVAL, NULL);
    decode_expect("a: \"unterminated\n", -EINVAL, NULL);
    {
        struct api_errors errs = API_ERRORS_INIT;
        json_t *doc = NULL;
        static const char bin[] = "\x01\x02\xfe\xff\x00\x7f";
        assert_int_equal(
            api_doc_decode(bin, sizeof(bin) - 1, NULL, &doc, &errs), -EINVAL);
        assert_string_equal(errs.items[0].message, "body contains a NUL byte");
        api_errors_clear(&errs);
        assert_int_equal(
            api_doc_decode("\x01\x02\xfe\xff", 4, NULL, &doc, &errs), -EINVAL);
        assert_true(errs.count == 1);
        assert_int_equal(errs.items[0].type, API_ERR_DECODE);
        api_errors_clear(&errs);
    }
    decode_expect("a: \"\\0\"\n", -EINVAL,
                  "yaml: line 1, column 4: NUL characters are not allowed");
}

static void test_alias_anchor(void **state)
{
    (void)state;
    decode_expect("a: &x 1\nb: 2\n", -EINVAL,
                  "yaml: line 1, column 4: anchor 'x' is not allowed "
                  "(anchors and aliases are refused)");
    decode_expect("a: &x [1, 2]\n", -EINVAL,
                  "yaml: line 1, column 4: anchor 'x' is not allowed "
                  "(anchors and aliases are refused)");
    /* The alias bomb fails at its first anchor, having built nothing. */
    decode_expect("a: &a [\"lol\",\"lol\"]\nb: &b [*a,*a,*a,*a]\n"
                  "c: &c [*b,*b,*b,*b]\n",
                  -EINVAL,
                  "yaml: line 1, column 4: anchor 'a' is not allowed "
                  "(anchors and aliases are refused)");
    decode_expect("a: *x\n", -EINVAL, NULL);
}

static void test_multi_doc_dup_keys(void **state)
{
    (void)state;
    decode_expect("a: 1\n---\nb: 2\n", -EINVAL,
                  "yaml: line 2, column 1: multiple documents are not "
                  "allowed");
    decode_expect("a: 1\nb: 2\na: 3\n", -EINVAL,
                  "yaml: line 3, column 1: key \"a\" already set in map");
    decode_expect("? [a, b]\n: 1\n", -EINVAL,
                  "yaml: line 1, column 3: mapping keys must be scalars");
    /* A single explicit document is fine. */
    json_decref(decode_expect("---\na: 1\n...\n", 0, NULL));
}

static void test_limits(void **state)
{
    struct api_limits lim;
    struct api_errors errs = API_ERRORS_INIT;
    json_t *doc = NULL;
    char *big;
    (void)state;

    api_limits_default(&lim);
    assert_int_equal(lim.max_body_bytes, 1024 * 1024);
    assert_int_equal(lim.max_depth, 32);

    /* Too deep, in YAML and in JSON. */
    {
        char deep[200];
        memset(deep, '[', 33);
        memset(deep + 33, ']', 33);
        deep[66] = '\0';
        decode_expect(deep, -E2BIG,
                      "json: document nested too deeply (limit 32 levels)");
        memset(deep, '[', 32);
        memset(deep + 32, ']', 32);
        deep[64] = '\0';
        json_decref(decode_expect(deep, 0, NULL));
        char ydeep[400] = "a: ";
        for (int i = 0; i < 40; i++)
            strcat(ydeep, "{b: ");
        decode_expect(ydeep, -E2BIG,
                      "yaml: line 1, column 128: document nested too deeply "
                      "(limit 32 levels)");
    }

    /* Too long a string. */
    lim.max_string_bytes = 8;
    assert_int_equal(api_doc_decode("a: 123456789\n", 13, &lim, &doc, &errs),
                     -E2BIG);
    assert_string_equal(errs.items[0].message,
                        "yaml: line 1, column 4: string too long (limit 8 "
                        "bytes)");
    api_errors_clear(&errs);
    assert_int_equal(
        api_doc_decode("{\"a\":\"123456789\"}", 17, &lim, &doc, &errs), -E2BIG);
    assert_string_equal(errs.items[0].message,
                        "json: string too long (limit 8 bytes)");
    api_errors_clear(&errs);

    /* Too many items. */
    api_limits_default(&lim);
    lim.max_items = 3;
    assert_int_equal(api_doc_decode("[1, 2, 3, 4]", 12, &lim, &doc, &errs),
                     -E2BIG);
    assert_string_equal(errs.items[0].message,
                        "json: too many items in one mapping or sequence "
                        "(limit 3)");
    api_errors_clear(&errs);
    assert_int_equal(
        api_doc_decode("- 1\n- 2\n- 3\n- 4\n", 16, &lim, &doc, &errs), -E2BIG);
    assert_string_equal(errs.items[0].message,
                        "yaml: line 4, column 3: too many items in one "
                        "mapping or sequence (limit 3)");
    api_errors_clear(&errs);

    /* Too many values overall. */
    api_limits_default(&lim);
    lim.max_nodes = 5;
    assert_int_equal(
        api_doc_decode("a: [1, 2]\nb: [3, 4]\n", 20, &lim, &doc, &errs),
        -E2BIG);
    assert_string_equal(errs.items[0].message,
                        "yaml: line 2, column 1: too many values in the "
                        "document (limit 5)");
    api_errors_clear(&errs);

    /* Body too big: refused before parsing. */
    big = malloc(1024 * 1024 + 2);
    assert_non_null(big);
    memset(big, ' ', 1024 * 1024 + 1);
    big[1024 * 1024 + 1] = '\0';
    assert_int_equal(api_doc_decode(big, 1024 * 1024 + 1, NULL, &doc, &errs),
                     -EMSGSIZE);
    assert_string_equal(errs.items[0].message,
                        "request body too large: 1048577 bytes, limit "
                        "1048576");
    assert_string_equal(api_error_reason(errs.items[0].type),
                        "RequestEntityTooLarge");
    api_errors_clear(&errs);
    free(big);
}

static void roundtrip(const char *yaml_name, const char *json_name)
{
    size_t ylen, jlen;
    char *y = read_data(yaml_name, &ylen);
    char *j = read_data(json_name, &jlen);
    json_t *dy = NULL, *dj = NULL, *d2 = NULL;
    char *out = NULL, *out2 = NULL, *pretty = NULL;
    struct api_errors errs = API_ERRORS_INIT;

    assert_int_equal(api_doc_decode(y, ylen, NULL, &dy, &errs), 0);
    assert_int_equal(api_doc_decode(j, jlen, NULL, &dj, &errs), 0);
    /* The YAML and JSON files hold the same document. */
    assert_true(json_equal(dy, dj));
    assert_int_equal(api_object_validate(dy, API_KIND_NONE, NULL, &errs), 0);
    assert_int_equal(errs.count, 0);

    /* YAML out is the committed file byte for byte, and stable. */
    assert_int_equal(api_doc_encode(dy, API_FORMAT_YAML, &out, NULL), 0);
    assert_string_equal(out, y);
    assert_int_equal(api_doc_decode(out, strlen(out), NULL, &d2, &errs), 0);
    assert_true(json_equal(dy, d2));
    assert_int_equal(api_doc_encode(d2, API_FORMAT_YAML, &out2, NULL), 0);
    assert_string_equal(out, out2);
    json_decref(d2);
    free(out2);

    /* Pretty JSON out is the committed JSON file. */
    assert_int_equal(api_doc_encode(dj, API_FORMAT_JSON_PRETTY, &pretty, NULL),
                     0);
    assert_string_equal(pretty, j);
    assert_int_equal(api_doc_decode(pretty, strlen(pretty), NULL, &d2, &errs),
                     0);
    assert_true(json_equal(dj, d2));
    json_decref(d2);

    free(out);
    free(pretty);
    free(y);
    free(j);
    json_decref(dy);
    json_decref(dj);
}

static void test_roundtrip_migration(void **state)
{
    (void)state;
    roundtrip("migration.yaml", "migration.json");
}

static void test_roundtrip_vm_sriov(void **state)
{
    (void)state;
    roundtrip("vm-sriov.yaml", "vm-sriov.json");
}

/* Strings that would re-resolve as other types are quoted in YAML. */
static void test_yaml_quoting(void **state)
{
    static const char *const tricky[] = {
        "true",          "False",     "null",     "~",    "",    "12",
        "1.5",           "1e3",       "0x1F",     "yes",  "off", "0777",
        "1_000",         "- a",       ": x",      "a: b", "#c",  " lead",
        "trail ",        "*a",        "&a",       "!t",   "[x]", "{x}",
        "multi\nline\n", "tab\there", "\xc3\xa9", NULL};
    (void)state;
    for (const char *const *t = tricky; *t; t++) {
        json_t *doc = json_pack("{s:s, s:[s], s:i, s:f, s:b, s:n}", *t, *t, "l",
                                *t, "i", -5, "f", 0.1, "b", 0, "n");
        char *y = NULL, *y2 = NULL;
        json_t *back = NULL;
        assert_non_null(doc);
        assert_int_equal(api_doc_encode(doc, API_FORMAT_YAML, &y, NULL), 0);
        assert_int_equal(api_doc_decode(y, strlen(y), NULL, &back, NULL), 0);
        if (!json_equal(doc, back))
            fprintf(stderr, "not stable: '%s' -> %s", *t, y);
        assert_true(json_equal(doc, back));
        assert_int_equal(api_doc_encode(back, API_FORMAT_YAML, &y2, NULL), 0);
        assert_string_equal(y, y2);
        free(y);
        free(y2);
        json_decref(doc);
        json_decref(back);
    }
    {
        json_t *doc = json_pack("{s:s,s:s}", "a", "true", "b", "plain");
        char *y = NULL;
        assert_int_equal(api_doc_encode(doc, API_FORMAT_YAML, &y, NULL), 0);
        assert_string_equal(y, "a: \"true\"\nb: plain\n");
        free(y);
        json_decref(doc);
    }
}

static void test_encode_formats(void **state)
{
    json_t *doc = json_pack("{s:[i,i],s:{}}", "a", 1, 2, "b");
    char *s = NULL;
    size_t len = 0;
    (void)state;

    assert_int_equal(api_doc_encode(doc, API_FORMAT_JSON, &s, &len), 0);
    assert_string_equal(s, "{\"a\":[1,2],\"b\":{}}");
    assert_int_equal(len, strlen(s));
    free(s);
    assert_int_equal(api_doc_encode(doc, API_FORMAT_JSON_PRETTY, &s, NULL), 0);
    assert_string_equal(s, "{\n  \"a\": [\n    1,\n    2\n  ],\n  \"b\": {}\n}"
                           "\n");
    free(s);
    assert_int_equal(api_doc_encode(doc, API_FORMAT_YAML, &s, NULL), 0);
    assert_string_equal(s, "a:\n- 1\n- 2\nb: {}\n");
    free(s);
    json_decref(doc);
    assert_int_equal(api_format_parse("json"), API_FORMAT_JSON);
    assert_int_equal(api_format_parse("yaml"), API_FORMAT_YAML);
    assert_int_equal(api_format_parse("yml"), API_FORMAT_YAML);
    assert_int_equal(api_format_parse("xml"), -EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_yaml_block),
        cmocka_unit_test(test_yaml_flow),
        cmocka_unit_test(test_yaml_tags),
        cmocka_unit_test(test_json),
        cmocka_unit_test(test_json_escapes_unicode),
        cmocka_unit_test(test_json_errors),
        cmocka_unit_test(test_empty_truncated_garbage),
        cmocka_unit_test(test_alias_anchor),
        cmocka_unit_test(test_multi_doc_dup_keys),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_roundtrip_migration),
        cmocka_unit_test(test_roundtrip_vm_sriov),
        cmocka_unit_test(test_yaml_quoting),
        cmocka_unit_test(test_encode_formats),
    };
    return cmocka_run_group_tests_name("api_codec", tests, NULL, NULL);
}
