/* tests/unit/test_str.c - lib/util/str.c: memmem and ASCII case folding. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "util/str.h"

static void
test_str__memmem_finds_first(void **state)
{
    const char hay[] = "abcabcabd";

    (void)state;
    assert_ptr_equal(ms_memmem(hay, 9, "abc", 3), hay);
    assert_ptr_equal(ms_memmem(hay, 9, "cab", 3), hay + 2);
    assert_ptr_equal(ms_memmem(hay, 9, "abd", 3), hay + 6);
    assert_ptr_equal(ms_memmem(hay, 9, "d", 1), hay + 8);
    assert_ptr_equal(ms_memmem(hay, 9, hay, 9), hay);
}

static void
test_str__memmem_misses(void **state)
{
    const char hay[] = "aaab";

    (void)state;
    assert_null(ms_memmem(hay, 4, "aab ", 4));
    assert_null(ms_memmem(hay, 4, "aaaab", 5));
    assert_null(ms_memmem(hay, 3, "aab", 3)); /* past hlen */
    assert_null(ms_memmem(hay, 0, "a", 1));
    assert_null(ms_memmem(hay, 4, "c", 1));
}

static void
test_str__memmem_empty_needle(void **state)
{
    const char hay[] = "x";

    (void)state;
    assert_ptr_equal(ms_memmem(hay, 1, "", 0), hay);
    assert_ptr_equal(ms_memmem(hay, 0, "", 0), hay);
}

static void
test_str__memmem_binary(void **state)
{
    const unsigned char hay[] = {0, 1, 0, 0, 2, 0, 0, 0, 3};
    const unsigned char needle[] = {0, 0, 3};

    (void)state;
    assert_ptr_equal(ms_memmem(hay, sizeof(hay), needle, sizeof(needle)),
                     hay + 6);
}

static void
test_str__casebytes(void **state)
{
    (void)state;
    assert_true(ms_ascii_casebytes("Content-Type", 12, "content-type", 12));
    assert_true(ms_ascii_casebytes("", 0, "", 0));
    assert_true(ms_ascii_casebytes("AbC", 2, "aBx", 2));
    assert_false(ms_ascii_casebytes("abc", 3, "abd", 3));
    assert_false(ms_ascii_casebytes("abc", 3, "ab", 2));
    /* Only ASCII letters fold: [ and { differ by 0x20 but are not letters,
     * and neither are Latin-1 letters. */
    assert_false(ms_ascii_casebytes("[", 1, "{", 1));
    assert_false(ms_ascii_casebytes("@", 1, "`", 1));
    assert_false(ms_ascii_casebytes("\xc4", 1, "\xe4", 1));
}

static void
test_str__caseeq(void **state)
{
    (void)state;
    assert_true(ms_ascii_caseeq("Base64", "BASE64"));
    assert_true(ms_ascii_caseeq("", ""));
    assert_false(ms_ascii_caseeq("base64", "base6"));
    assert_false(ms_ascii_caseeq("base64", "base64 "));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_str__memmem_finds_first),
        cmocka_unit_test(test_str__memmem_misses),
        cmocka_unit_test(test_str__memmem_empty_needle),
        cmocka_unit_test(test_str__memmem_binary),
        cmocka_unit_test(test_str__casebytes),
        cmocka_unit_test(test_str__caseeq),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
