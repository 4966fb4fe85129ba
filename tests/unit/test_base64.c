/* tests/unit/test_base64.c - lib/util/base64.c: MIME base64. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include <mailseal/buf.h>
#include <mailseal/error.h>

#include "util/alloc.h"
#include "util/base64.h"

static void
check_encode(const char *in, const char *want)
{
    ms_buf b;

    ms_buf_init(&b, 0);
    assert_int_equal(ms_base64_encode_lines(&b, in, strlen(in)), 0);
    assert_string_equal((char *)b.data, want);
    assert_int_equal(b.len, strlen(want));
    ms_buf_cleanup(&b);
}

static void
test_base64__rfc4648_vectors(void **state)
{
    (void)state;
    check_encode("", "");
    check_encode("f", "Zg==\r\n");
    check_encode("fo", "Zm8=\r\n");
    check_encode("foo", "Zm9v\r\n");
    check_encode("foob", "Zm9vYg==\r\n");
    check_encode("fooba", "Zm9vYmE=\r\n");
    check_encode("foobar", "Zm9vYmFy\r\n");
}

/* Every line is 76 characters and CRLF, the last one at most 76. */
static void
check_lines(const ms_buf *b, size_t inlen)
{
    size_t chars = 0, i = 0;

    while (i < b->len) {
        const unsigned char *nl = memchr(b->data + i, '\r', b->len - i);
        size_t linelen;

        assert_non_null(nl);
        linelen = (size_t)(nl - (b->data + i));
        assert_true(linelen > 0 && linelen <= 76);
        assert_true(nl + 1 < b->data + b->len);
        assert_int_equal(nl[1], '\n');
        chars += linelen;
        i += linelen + 2;
        if (i < b->len)
            assert_int_equal(linelen, 76);
    }
    assert_int_equal(chars, (inlen + 2) / 3 * 4);
}

static void
test_base64__round_trip_lengths_0_to_100(void **state)
{
    unsigned char data[100];

    (void)state;
    for (size_t i = 0; i < sizeof(data); i++)
        data[i] = (unsigned char)(i * 37 + 11);
    data[3] = 0;
    data[4] = 0xff;
    for (size_t n = 0; n <= sizeof(data); n++) {
        ms_buf enc, dec;

        ms_buf_init(&enc, 0);
        ms_buf_init(&dec, 0);
        assert_int_equal(ms_base64_encode_lines(&enc, data, n), 0);
        check_lines(&enc, n);
        assert_int_equal(ms_base64_decode(&dec, enc.data, enc.len), 0);
        assert_int_equal(dec.len, n);
        if (n > 0)
            assert_memory_equal(dec.data, data, n);
        assert_int_equal(dec.data[dec.len], '\0');
        ms_buf_cleanup(&enc);
        ms_buf_cleanup(&dec);
    }
}

static void
test_base64__line_of_57_bytes_is_76_chars(void **state)
{
    unsigned char data[115];
    ms_buf b;

    (void)state;
    memset(data, 0xab, sizeof(data));
    ms_buf_init(&b, 0);
    assert_int_equal(ms_base64_encode_lines(&b, data, 57), 0);
    assert_int_equal(b.len, 78);
    assert_memory_equal(b.data + 76, "\r\n", 2);
    ms_buf_reset(&b);
    assert_int_equal(ms_base64_encode_lines(&b, data, 58), 0);
    assert_int_equal(b.len, 78 + 6);
    assert_memory_equal(b.data + 76, "\r\n", 2);
    assert_memory_equal(b.data + 78 + 4, "\r\n", 2);
    ms_buf_reset(&b);
    assert_int_equal(ms_base64_encode_lines(&b, data, 114), 0);
    assert_int_equal(b.len, 2 * 78);
    ms_buf_cleanup(&b);
}

static void
test_base64__encode_appends(void **state)
{
    ms_buf b;

    (void)state;
    ms_buf_init(&b, 0);
    assert_int_equal(ms_buf_puts(&b, "x:"), 0);
    assert_int_equal(ms_base64_encode_lines(&b, "foo", 3), 0);
    assert_string_equal((char *)b.data, "x:Zm9v\r\n");
    ms_buf_cleanup(&b);
}

static void
test_base64__encode_over_max(void **state)
{
    ms_buf b;

    (void)state;
    ms_buf_init(&b, 5);
    assert_int_equal(ms_base64_encode_lines(&b, "foo", 3), MS_ETOOBIG);
    assert_int_equal(b.len, 0);
    ms_buf_cleanup(&b);
    ms_buf_init(&b, 6);
    assert_int_equal(ms_base64_encode_lines(&b, "foo", 3), 0);
    ms_buf_cleanup(&b);
}

static void
test_base64__decode_skips_whitespace(void **state)
{
    static const char text[] = " Zm9v\r\n\tYmFy \n";
    ms_buf b;

    (void)state;
    ms_buf_init(&b, 0);
    assert_int_equal(ms_base64_decode(&b, text, strlen(text)), 0);
    assert_string_equal((char *)b.data, "foobar");
    ms_buf_cleanup(&b);
}

static void
test_base64__decode_empty(void **state)
{
    ms_buf b;

    (void)state;
    ms_buf_init(&b, 0);
    assert_int_equal(ms_base64_decode(&b, "", 0), 0);
    assert_int_equal(b.len, 0);
    assert_int_equal(ms_base64_decode(&b, " \r\n", 3), 0);
    assert_int_equal(b.len, 0);
    ms_buf_cleanup(&b);
}

static void
check_malformed(const char *text)
{
    ms_buf b;

    ms_buf_init(&b, 0);
    assert_int_equal(ms_buf_puts(&b, "old"), 0);
    if (ms_base64_decode(&b, text, strlen(text)) != MS_EMALFORMED)
        fail_msg("accepted: \"%s\"", text);
    /* A failed append leaves the old contents intact, NUL-terminated. */
    assert_int_equal(b.len, 3);
    assert_string_equal((char *)b.data, "old");
    ms_buf_cleanup(&b);
}

static void
test_base64__decode_bad_characters(void **state)
{
    (void)state;
    check_malformed("Zm9v!");
    check_malformed("Zm-v");
    check_malformed("Zm_v");
    check_malformed("Zm9vYmFy\x80");
}

static void
test_base64__decode_nul_byte(void **state)
{
    static const char text[] = "Zm9v\0YmFy";
    ms_buf b;

    (void)state;
    ms_buf_init(&b, 0);
    assert_int_equal(ms_base64_decode(&b, text, sizeof(text) - 1),
                     MS_EMALFORMED);
    ms_buf_cleanup(&b);
}

static void
test_base64__decode_bad_padding(void **state)
{
    (void)state;
    check_malformed("=");
    check_malformed("====");
    check_malformed("Z===");
    check_malformed("=Zm9");
    check_malformed("Zg=");
    check_malformed("Zg=A");
    check_malformed("Zm9vY");
    check_malformed("Zm9vYm");
    check_malformed("Zm9vYmF");
    check_malformed("Zm9v=");
}

static void
test_base64__decode_data_after_padding(void **state)
{
    ms_buf b;

    (void)state;
    check_malformed("Zg==Zg==");
    check_malformed("Zm8=Zm9v");
    check_malformed("Zg===");
    check_malformed("Zg== x");
    ms_buf_init(&b, 0);
    assert_int_equal(ms_base64_decode(&b, "Zg== \r\n\t", 8), 0);
    assert_string_equal((char *)b.data, "f");
    ms_buf_cleanup(&b);
}

static void
test_base64__decode_over_max(void **state)
{
    ms_buf b;

    (void)state;
    ms_buf_init(&b, 2);
    assert_int_equal(ms_base64_decode(&b, "Zm9vYmFy", 8), MS_ETOOBIG);
    assert_int_equal(b.len, 0);
    ms_buf_cleanup(&b);
}

static void
test_base64__alloc_failure(void **state)
{
    ms_buf b;

    (void)state;
    ms_buf_init(&b, 0);
    (void)ms_alloc_fail_at(1);
    assert_int_equal(ms_base64_encode_lines(&b, "foo", 3), MS_ENOMEM);
    (void)ms_alloc_fail_at(1);
    assert_int_equal(ms_base64_decode(&b, "Zm9v", 4), MS_ENOMEM);
    (void)ms_alloc_fail_at(0);
    assert_null(b.data);
    ms_buf_cleanup(&b);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_base64__rfc4648_vectors),
        cmocka_unit_test(test_base64__round_trip_lengths_0_to_100),
        cmocka_unit_test(test_base64__line_of_57_bytes_is_76_chars),
        cmocka_unit_test(test_base64__encode_appends),
        cmocka_unit_test(test_base64__encode_over_max),
        cmocka_unit_test(test_base64__decode_skips_whitespace),
        cmocka_unit_test(test_base64__decode_empty),
        cmocka_unit_test(test_base64__decode_bad_characters),
        cmocka_unit_test(test_base64__decode_nul_byte),
        cmocka_unit_test(test_base64__decode_bad_padding),
        cmocka_unit_test(test_base64__decode_data_after_padding),
        cmocka_unit_test(test_base64__decode_over_max),
        cmocka_unit_test(test_base64__alloc_failure),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
