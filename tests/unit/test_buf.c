/* tests/unit/test_buf.c - lib/util/buf.c: capped, NUL-terminated buffers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <wchar.h>

#include <cmocka.h>

#include <mailseal/buf.h>
#include <mailseal/error.h>

#include "util/alloc.h"
#include "util/buf.h"

/* The invariant every ms_buf keeps: data NUL-terminated once allocated. */
static void
assert_terminated(const ms_buf *b)
{
    if (b->data == NULL) {
        assert_int_equal(b->len, 0);
        return;
    }
    assert_true(b->len < b->cap);
    assert_int_equal(b->data[b->len], '\0');
}

static void
test_buf__init_is_empty(void **state)
{
    ms_buf b;

    (void)state;
    ms_buf_init(&b, 10);
    assert_null(b.data);
    assert_int_equal(b.len, 0);
    assert_int_equal(b.cap, 0);
    assert_int_equal(b.max, 10);
    assert_false(b.secret);
    ms_buf_init(&b, 0);
    assert_true(b.max == SIZE_MAX - 1);
    ms_buf_cleanup(&b);
    ms_buf_cleanup(&b); /* twice is harmless */
}

static void
test_buf__append_up_to_max(void **state)
{
    ms_buf b;

    (void)state;
    ms_buf_init(&b, 10);
    assert_int_equal(ms_buf_append(&b, "0123456789", 10), 0);
    assert_int_equal(b.len, 10);
    assert_memory_equal(b.data, "0123456789", 10);
    assert_terminated(&b);
    /* Empty appends always succeed, even at the cap. */
    assert_int_equal(ms_buf_append(&b, "", 0), 0);
    assert_int_equal(ms_buf_append(&b, "x", 1), MS_ETOOBIG);
    assert_int_equal(b.len, 10);
    assert_string_equal((char *)b.data, "0123456789");
    ms_buf_cleanup(&b);
}

static void
test_buf__append_over_max_leaves_contents(void **state)
{
    ms_buf b;

    (void)state;
    ms_buf_init(&b, 8);
    assert_int_equal(ms_buf_puts(&b, "abc"), 0);
    assert_int_equal(ms_buf_append(&b, "defghi", 6), MS_ETOOBIG);
    assert_int_equal(b.len, 3);
    assert_string_equal((char *)b.data, "abc");
    assert_int_equal(ms_buf_reserve(&b, 6), MS_ETOOBIG);
    assert_int_equal(ms_buf_reserve(&b, 5), 0);
    assert_int_equal(ms_buf_reserve(&b, SIZE_MAX), MS_ETOOBIG);
    assert_string_equal((char *)b.data, "abc");
    ms_buf_cleanup(&b);
}

static void
test_buf__reserve_rejects_size_overflow(void **state)
{
    ms_buf b;

    (void)state;
    ms_buf_init(&b, 0);
    assert_int_equal(ms_buf_puts(&b, "x"), 0);
    assert_int_equal(ms_buf_reserve(&b, SIZE_MAX), MS_ETOOBIG);
    assert_int_equal(ms_buf_reserve(&b, SIZE_MAX - 1), MS_ETOOBIG);
    assert_int_equal(ms_buf_append(&b, "y", SIZE_MAX), MS_ETOOBIG);
    assert_string_equal((char *)b.data, "x");
    ms_buf_cleanup(&b);
}

static void
test_buf__enomem_leaves_contents(void **state)
{
    ms_buf b;
    char big[1000];

    (void)state;
    memset(big, 'z', sizeof(big));
    ms_buf_init(&b, 0);
    assert_int_equal(ms_buf_puts(&b, "keep"), 0);
    (void)ms_alloc_fail_at(1);
    assert_int_equal(ms_buf_append(&b, big, sizeof(big)), MS_ENOMEM);
    (void)ms_alloc_fail_at(0);
    assert_int_equal(b.len, 4);
    assert_string_equal((char *)b.data, "keep");
    assert_int_equal(ms_buf_append(&b, big, sizeof(big)), 0);
    assert_int_equal(b.len, 1004);
    assert_terminated(&b);
    ms_buf_cleanup(&b);
}

static void
test_buf__first_append_enomem(void **state)
{
    ms_buf b;

    (void)state;
    ms_buf_init(&b, 0);
    (void)ms_alloc_fail_at(1);
    assert_int_equal(ms_buf_puts(&b, "x"), MS_ENOMEM);
    (void)ms_alloc_fail_at(0);
    assert_null(b.data);
    assert_int_equal(b.len, 0);
    ms_buf_cleanup(&b);
}

static void
test_buf__grows_across_many_appends(void **state)
{
    ms_buf b;

    (void)state;
    ms_buf_init(&b, 0);
    for (size_t i = 0; i < 10000; i++) {
        char c = (char)('a' + i % 26);

        assert_int_equal(ms_buf_append(&b, &c, 1), 0);
    }
    assert_int_equal(b.len, 10000);
    for (size_t i = 0; i < 10000; i++)
        assert_int_equal(b.data[i], 'a' + i % 26);
    assert_terminated(&b);
    ms_buf_cleanup(&b);
}

static void
test_buf__printf_formats(void **state)
{
    ms_buf b;

    (void)state;
    ms_buf_init(&b, 0);
    assert_int_equal(ms_buf_printf(&b, "%s=%d", "n", 42), 0);
    assert_int_equal(ms_buf_printf(&b, ";%05u;%zu", 7u, (size_t)9), 0);
    assert_string_equal((char *)b.data, "n=42;00007;9");
    assert_int_equal(b.len, strlen("n=42;00007;9"));
    assert_int_equal(ms_buf_printf(&b, "%s", ""), 0);
    assert_int_equal(b.len, strlen("n=42;00007;9"));
    assert_terminated(&b);
    ms_buf_cleanup(&b);
}

static void
test_buf__printf_exactly_at_max(void **state)
{
    ms_buf b;

    (void)state;
    ms_buf_init(&b, 6);
    assert_int_equal(ms_buf_printf(&b, "%d", 123), 0);
    assert_int_equal(ms_buf_printf(&b, "%d", 456), 0);
    assert_string_equal((char *)b.data, "123456");
    assert_int_equal(ms_buf_printf(&b, "%c", 'x'), MS_ETOOBIG);
    assert_string_equal((char *)b.data, "123456");
    assert_int_equal(b.len, 6);
    ms_buf_cleanup(&b);
}

static void
test_buf__printf_over_max_leaves_contents(void **state)
{
    ms_buf b;

    (void)state;
    ms_buf_init(&b, 5);
    assert_int_equal(ms_buf_puts(&b, "ab"), 0);
    assert_int_equal(ms_buf_printf(&b, "%s", "cdef"), MS_ETOOBIG);
    assert_string_equal((char *)b.data, "ab");
    assert_int_equal(b.len, 2);
    ms_buf_cleanup(&b);
}

static void
test_buf__printf_enomem_leaves_contents(void **state)
{
    ms_buf b;

    (void)state;
    ms_buf_init(&b, 0);
    assert_int_equal(ms_buf_puts(&b, "ab"), 0);
    (void)ms_alloc_fail_at(1);
    assert_int_equal(ms_buf_printf(&b, "%0500d", 1), MS_ENOMEM);
    (void)ms_alloc_fail_at(0);
    assert_string_equal((char *)b.data, "ab");
    ms_buf_cleanup(&b);
}

static void
test_buf__printf_encoding_error_is_einval(void **state)
{
    ms_buf b;
    /* Not representable in the "C" locale: vsnprintf fails (EILSEQ). */
    static const wchar_t wide[] = {0x20ac, 0};

    (void)state;
    ms_buf_init(&b, 0);
    assert_int_equal(ms_buf_puts(&b, "ab"), 0);
    assert_int_equal(ms_buf_printf(&b, "%ls", wide), MS_EINVAL);
    assert_string_equal((char *)b.data, "ab");
    assert_int_equal(b.len, 2);
    ms_buf_cleanup(&b);
}

static void
test_buf__reset_keeps_storage(void **state)
{
    ms_buf b;
    unsigned char *before;
    size_t cap;

    (void)state;
    ms_buf_init(&b, 0);
    ms_buf_reset(&b); /* on an empty buffer */
    assert_null(b.data);
    assert_int_equal(ms_buf_puts(&b, "hello"), 0);
    before = b.data;
    cap = b.cap;
    ms_buf_reset(&b);
    assert_ptr_equal(b.data, before);
    assert_int_equal(b.cap, cap);
    assert_int_equal(b.len, 0);
    assert_string_equal((char *)b.data, "");
    ms_buf_cleanup(&b);
}

static void
test_buf__secret_reset_wipes_everything(void **state)
{
    ms_buf b;

    (void)state;
    ms_buf_init_secret(&b, 0);
    assert_true(b.secret);
    assert_int_equal(ms_buf_puts(&b, "hunter2 is the key"), 0);
    ms_buf_reset(&b);
    assert_non_null(b.data);
    for (size_t i = 0; i < b.cap; i++)
        assert_int_equal(b.data[i], 0);
    ms_buf_cleanup(&b);
    assert_null(b.data);
    assert_int_equal(b.cap, 0);
}

static void
test_buf__secret_grow_keeps_contents(void **state)
{
    ms_buf b;
    char chunk[100];

    (void)state;
    memset(chunk, 's', sizeof(chunk));
    ms_buf_init_secret(&b, 0);
    for (int i = 0; i < 30; i++)
        assert_int_equal(ms_buf_append(&b, chunk, sizeof(chunk)), 0);
    assert_int_equal(b.len, 3000);
    for (size_t i = 0; i < b.len; i++)
        assert_int_equal(b.data[i], 's');
    assert_terminated(&b);
    ms_buf_cleanup(&b);
}

static void
test_buf__secret_enomem_leaves_contents(void **state)
{
    ms_buf b;
    char big[600];

    (void)state;
    memset(big, 'q', sizeof(big));
    ms_buf_init_secret(&b, 0);
    assert_int_equal(ms_buf_puts(&b, "secret"), 0);
    (void)ms_alloc_fail_at(1);
    assert_int_equal(ms_buf_append(&b, big, sizeof(big)), MS_ENOMEM);
    (void)ms_alloc_fail_at(0);
    assert_string_equal((char *)b.data, "secret");
    ms_buf_cleanup(&b);
}

static void
test_buf__move_transfers_storage(void **state)
{
    ms_buf src, dst;
    unsigned char *p;

    (void)state;
    ms_buf_init(&src, 100);
    ms_buf_init(&dst, 0);
    assert_int_equal(ms_buf_puts(&dst, "old contents"), 0);
    assert_int_equal(ms_buf_puts(&src, "moved"), 0);
    p = src.data;
    ms_buf_move(&dst, &src);
    assert_ptr_equal(dst.data, p);
    assert_string_equal((char *)dst.data, "moved");
    assert_int_equal(dst.len, 5);
    assert_int_equal(dst.max, 100);
    assert_null(src.data);
    assert_int_equal(src.len, 0);
    assert_int_equal(src.cap, 0);
    /* src stays usable with its cap. */
    assert_int_equal(ms_buf_puts(&src, "again"), 0);
    assert_string_equal((char *)src.data, "again");
    ms_buf_cleanup(&src);
    ms_buf_cleanup(&dst);
}

static void
test_buf__move_empty(void **state)
{
    ms_buf src, dst;

    (void)state;
    ms_buf_init(&src, 0);
    ms_buf_init(&dst, 0);
    assert_int_equal(ms_buf_puts(&dst, "x"), 0);
    ms_buf_move(&dst, &src);
    assert_null(dst.data);
    assert_int_equal(dst.len, 0);
    ms_buf_cleanup(&dst);
}

static void
test_buf__wipe(void **state)
{
    unsigned char k[16];

    (void)state;
    memset(k, 0xa5, sizeof(k));
    ms_wipe(k, sizeof(k));
    for (size_t i = 0; i < sizeof(k); i++)
        assert_int_equal(k[i], 0);
    ms_wipe(NULL, 10);
    ms_wipe(k, 0);
}

/* Fail each allocation in turn while building 64 KiB: MS_ENOMEM, the old
 * contents intact, no leak. */
static void
test_buf__alloc_failure_loop(void **state)
{
    char chunk[997];

    (void)state;
    memset(chunk, 'm', sizeof(chunk));
    for (size_t n = 1;; n++) {
        ms_buf b;
        int rc = 0;
        size_t good = 0, made;

        ms_buf_init(&b, 0);
        (void)ms_alloc_fail_at(n);
        while (rc == 0 && b.len < 65536) {
            if ((rc = ms_buf_append(&b, chunk, sizeof(chunk))) == 0)
                good += sizeof(chunk);
        }
        made = ms_alloc_fail_at(0);
        if (rc == 0) {
            assert_true(made < n);
            ms_buf_cleanup(&b);
            break;
        }
        assert_int_equal(rc, MS_ENOMEM);
        assert_int_equal(b.len, good);
        assert_terminated(&b);
        ms_buf_cleanup(&b);
    }
}

static void
test_buf__take_keeps_dst_settings(void **state)
{
    ms_buf src, dst;
    unsigned char *storage;

    (void)state;
    ms_buf_init_secret(&src, 0);
    ms_buf_init(&dst, 16);
    assert_int_equal(ms_buf_append(&dst, "old", 3), 0);
    assert_int_equal(ms_buf_append(&src, "0123456789abcdef", 16), 0);
    storage = src.data;
    assert_int_equal(ms_buf_take(&dst, &src), 0);
    assert_ptr_equal(dst.data, storage); /* no copy */
    assert_int_equal(dst.len, 16);
    assert_memory_equal(dst.data, "0123456789abcdef", 16);
    assert_int_equal(dst.max, 16);
    assert_false(dst.secret);
    assert_terminated(&dst);
    assert_null(src.data);
    assert_int_equal(src.len, 0);
    assert_int_equal(src.cap, 0);
    assert_true(src.secret);
    ms_buf_cleanup(&src);
    ms_buf_cleanup(&dst);
}

static void
test_buf__take_over_max_changes_nothing(void **state)
{
    ms_buf src, dst;

    (void)state;
    ms_buf_init(&src, 0);
    ms_buf_init_secret(&dst, 4);
    assert_int_equal(ms_buf_append(&dst, "abc", 3), 0);
    assert_int_equal(ms_buf_append(&src, "12345", 5), 0);
    assert_int_equal(ms_buf_take(&dst, &src), MS_ETOOBIG);
    assert_int_equal(dst.len, 3);
    assert_memory_equal(dst.data, "abc", 4);
    assert_true(dst.secret);
    assert_int_equal(src.len, 5);
    assert_memory_equal(src.data, "12345", 6);
    /* Exactly at dst's max is fine; dst stays secret. */
    src.len = 4;
    src.data[4] = '\0';
    assert_int_equal(ms_buf_take(&dst, &src), 0);
    assert_int_equal(dst.len, 4);
    assert_true(dst.secret);
    assert_int_equal(dst.max, 4);
    ms_buf_cleanup(&src);
    ms_buf_cleanup(&dst);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_buf__init_is_empty),
        cmocka_unit_test(test_buf__append_up_to_max),
        cmocka_unit_test(test_buf__append_over_max_leaves_contents),
        cmocka_unit_test(test_buf__reserve_rejects_size_overflow),
        cmocka_unit_test(test_buf__enomem_leaves_contents),
        cmocka_unit_test(test_buf__first_append_enomem),
        cmocka_unit_test(test_buf__grows_across_many_appends),
        cmocka_unit_test(test_buf__printf_formats),
        cmocka_unit_test(test_buf__printf_exactly_at_max),
        cmocka_unit_test(test_buf__printf_over_max_leaves_contents),
        cmocka_unit_test(test_buf__printf_enomem_leaves_contents),
        cmocka_unit_test(test_buf__printf_encoding_error_is_einval),
        cmocka_unit_test(test_buf__reset_keeps_storage),
        cmocka_unit_test(test_buf__secret_reset_wipes_everything),
        cmocka_unit_test(test_buf__secret_grow_keeps_contents),
        cmocka_unit_test(test_buf__secret_enomem_leaves_contents),
        cmocka_unit_test(test_buf__move_transfers_storage),
        cmocka_unit_test(test_buf__move_empty),
        cmocka_unit_test(test_buf__take_keeps_dst_settings),
        cmocka_unit_test(test_buf__take_over_max_changes_nothing),
        cmocka_unit_test(test_buf__wipe),
        cmocka_unit_test(test_buf__alloc_failure_loop),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
