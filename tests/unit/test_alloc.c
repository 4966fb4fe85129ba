/* tests/unit/test_alloc.c - lib/util/alloc.c: hookable allocation, checked
 * size arithmetic. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "util/alloc.h"

static void
test_alloc__size_add_boundaries(void **state)
{
    size_t r = 7;

    (void)state;
    assert_true(ms_size_add(&r, 0, 0));
    assert_int_equal(r, 0);
    assert_true(ms_size_add(&r, SIZE_MAX - 1, 1));
    assert_true(r == SIZE_MAX);
    assert_true(ms_size_add(&r, 1, SIZE_MAX - 1));
    assert_true(r == SIZE_MAX);
    assert_false(ms_size_add(&r, SIZE_MAX, 1));
    assert_false(ms_size_add(&r, 1, SIZE_MAX));
    assert_false(ms_size_add(&r, SIZE_MAX / 2 + 1, SIZE_MAX / 2 + 1));
}

static void
test_alloc__size_mul_boundaries(void **state)
{
    size_t r = 7;

    (void)state;
    assert_true(ms_size_mul(&r, 0, SIZE_MAX));
    assert_int_equal(r, 0);
    assert_true(ms_size_mul(&r, SIZE_MAX, 0));
    assert_int_equal(r, 0);
    assert_true(ms_size_mul(&r, SIZE_MAX, 1));
    assert_true(r == SIZE_MAX);
    assert_true(ms_size_mul(&r, SIZE_MAX / 2, 2));
    assert_true(r == SIZE_MAX - 1);
    assert_false(ms_size_mul(&r, SIZE_MAX / 2 + 1, 2));
    assert_false(ms_size_mul(&r, 2, SIZE_MAX / 2 + 1));
    assert_false(ms_size_mul(&r, SIZE_MAX, SIZE_MAX));
    if (SIZE_MAX > UINT32_MAX)
        assert_false(ms_size_mul(&r, (size_t)1 << 32, (size_t)1 << 32));
}

static void
test_alloc__zero_sizes_give_distinct_pointers(void **state)
{
    void *a, *b, *c;

    (void)state;
    a = ms_malloc(0);
    b = ms_calloc(0, 0);
    assert_non_null(a);
    assert_non_null(b);
    c = ms_realloc(NULL, 0);
    assert_non_null(c);
    ms_free(a);
    ms_free(b);
    ms_free(c);
    ms_free(NULL);
}

static void
test_alloc__calloc_zeroes(void **state)
{
    unsigned char *p;

    (void)state;
    p = ms_calloc(16, 4);
    assert_non_null(p);
    for (size_t i = 0; i < 64; i++)
        assert_int_equal(p[i], 0);
    ms_free(p);
}

static void
test_alloc__strdup_and_strndup(void **state)
{
    char *a, *b;

    (void)state;
    a = ms_strdup("mailseal");
    assert_string_equal(a, "mailseal");
    b = ms_strndup("mailseal", 4);
    assert_string_equal(b, "mail");
    ms_free(a);
    ms_free(b);
    b = ms_strndup("", 0);
    assert_string_equal(b, "");
    ms_free(b);
}

static void
test_alloc__fail_at_fails_only_the_nth(void **state)
{
    void *p1, *p2, *p3, *p4;

    (void)state;
    (void)ms_alloc_fail_at(3);
    p1 = ms_malloc(8);
    p2 = ms_calloc(1, 8);
    p3 = ms_realloc(NULL, 8);
    p4 = ms_strdup("x");
    assert_int_equal(ms_alloc_fail_at(0), 4);
    assert_non_null(p1);
    assert_non_null(p2);
    assert_null(p3);
    assert_non_null(p4);
    ms_free(p1);
    ms_free(p2);
    ms_free(p4);
}

static void
test_alloc__fail_at_hits_every_allocator(void **state)
{
    void *keep;

    (void)state;
    (void)ms_alloc_fail_at(1);
    assert_null(ms_malloc(1));
    (void)ms_alloc_fail_at(1);
    assert_null(ms_calloc(1, 1));
    keep = ms_malloc(4);
    assert_non_null(keep);
    (void)ms_alloc_fail_at(1);
    /* A failed realloc leaves the old block alone. */
    assert_null(ms_realloc(keep, 4096));
    (void)ms_alloc_fail_at(1);
    assert_null(ms_strdup("abc"));
    (void)ms_alloc_fail_at(1);
    assert_null(ms_strndup("abc", 2));
    (void)ms_alloc_fail_at(0);
    ms_free(keep);
}

static void
test_alloc__fail_at_zero_disables(void **state)
{
    void *p;

    (void)state;
    (void)ms_alloc_fail_at(0);
    for (int i = 0; i < 100; i++) {
        p = ms_malloc(1);
        assert_non_null(p);
        ms_free(p);
    }
    assert_int_equal(ms_alloc_fail_at(0), 100);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_alloc__size_add_boundaries),
        cmocka_unit_test(test_alloc__size_mul_boundaries),
        cmocka_unit_test(test_alloc__zero_sizes_give_distinct_pointers),
        cmocka_unit_test(test_alloc__calloc_zeroes),
        cmocka_unit_test(test_alloc__strdup_and_strndup),
        cmocka_unit_test(test_alloc__fail_at_fails_only_the_nth),
        cmocka_unit_test(test_alloc__fail_at_hits_every_allocator),
        cmocka_unit_test(test_alloc__fail_at_zero_disables),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
