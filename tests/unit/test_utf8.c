/*
 * Unit tests for utf8_seq_len(): every form at its boundaries.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "utf8/utf8.h"

static size_t len_of(const char *s)
{
    return utf8_seq_len((const unsigned char *)s);
}

static void test_utf8_forms(void **state)
{
    (void)state;
    assert_int_equal(len_of("a"), 1);
    assert_int_equal(len_of("\x7f"), 1);
    assert_int_equal(len_of(""), 1); /* the NUL is ASCII */
    assert_int_equal(len_of("\xc2\x80"), 2);
    assert_int_equal(len_of("\xdf\xbf"), 2);
    assert_int_equal(len_of("\xe0\xa0\x80"), 3);
    assert_int_equal(len_of("\xed\x9f\xbf"), 3); /* U+D7FF */
    assert_int_equal(len_of("\xee\x80\x80"), 3); /* U+E000 */
    assert_int_equal(len_of("\xf0\x90\x80\x80"), 4);
    assert_int_equal(len_of("\xf4\x8f\xbf\xbf"), 4); /* U+10FFFF */
}

static void test_utf8_refused(void **state)
{
    (void)state;
    assert_int_equal(len_of("\x80"), 0);             /* a lone continuation */
    assert_int_equal(len_of("\xc0\x80"), 0);         /* overlong NUL */
    assert_int_equal(len_of("\xc1\xbf"), 0);         /* overlong */
    assert_int_equal(len_of("\xe0\x9f\xbf"), 0);     /* overlong */
    assert_int_equal(len_of("\xed\xa0\x80"), 0);     /* a surrogate */
    assert_int_equal(len_of("\xf0\x8f\xbf\xbf"), 0); /* overlong */
    assert_int_equal(len_of("\xf4\x90\x80\x80"), 0); /* past U+10FFFF */
    assert_int_equal(len_of("\xf5\x80\x80\x80"), 0);
    assert_int_equal(len_of("\xff"), 0);
    assert_int_equal(len_of("\xe2\x82"), 0); /* cut by the NUL */
    assert_int_equal(len_of("\xf0\x90\x80"), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_utf8_forms),
        cmocka_unit_test(test_utf8_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
