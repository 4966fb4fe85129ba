/* tests/unit/test_error.c - lib/util/error.c: the error record. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <mailseal/error.h>

#include "util/error.h"

static void
test_error__set_formats_message(void **state)
{
    ms_error err;

    (void)state;
    memset(&err, 0x55, sizeof(err));
    assert_int_equal(ms_error_set(&err, MS_EINVAL, "bad %s at %d", "x", 7),
                     MS_EINVAL);
    assert_int_equal(err.code, MS_EINVAL);
    assert_string_equal(err.msg, "bad x at 7");
    assert_string_equal(err.ossl, "");
}

static void
test_error__origin_names_function_and_line(void **state)
{
    ms_error err;
    int line = __LINE__ + 1;
    int rc = ms_error_set(&err, MS_EIO, "io");
    char want[64];

    (void)state;
    assert_int_equal(rc, MS_EIO);
    (void)snprintf(want, sizeof(want), "%s:%d", __func__, line);
    assert_string_equal(err.origin, want);
}

static void
test_error__null_err_returns_code(void **state)
{
    (void)state;
    assert_int_equal(ms_error_set(NULL, MS_EBADSIG, "x"), MS_EBADSIG);
    assert_int_equal(ms_error_set(NULL, 0, "x"), 0);
}

static void
test_error__drains_openssl_queue(void **state)
{
    ms_error err;

    (void)state;
    ERR_raise(ERR_LIB_EVP, EVP_R_BAD_DECRYPT);
    ERR_raise(ERR_LIB_PEM, PEM_R_NO_START_LINE);
    assert_true(ERR_peek_error() != 0);
    assert_int_equal(ms_error_set_ossl(&err, MS_ERR, "failed"), MS_ERR);
    assert_int_equal(ERR_peek_error(), 0);
    /* The first error of the queue is kept. */
    assert_non_null(strstr(err.ossl, "bad decrypt"));
    assert_null(strstr(err.ossl, "no start line"));
    assert_string_equal(err.msg, "failed");
}

static void
test_error__drains_queue_without_err(void **state)
{
    (void)state;
    ERR_raise(ERR_LIB_EVP, EVP_R_BAD_DECRYPT);
    assert_int_equal(ms_error_set(NULL, MS_ERR, "x"), MS_ERR);
    assert_int_equal(ERR_peek_error(), 0);
}

static void
test_error__message_may_reference_itself(void **state)
{
    ms_error err;

    (void)state;
    (void)ms_error_set(&err, MS_EIO, "cannot read");
    assert_int_equal(ms_error_set(&err, err.code, "%s: %s", "file.pem",
                                  err.msg),
                     MS_EIO);
    assert_string_equal(err.msg, "file.pem: cannot read");
    (void)ms_error_set(&err, MS_EIO, "%s%s", err.msg, err.msg);
    assert_string_equal(err.msg, "file.pem: cannot readfile.pem: cannot read");
}

static void
test_error__long_message_is_cut(void **state)
{
    ms_error err;
    char longtext[1000];

    (void)state;
    memset(longtext, 'a', sizeof(longtext) - 1);
    longtext[sizeof(longtext) - 1] = '\0';
    (void)ms_error_set(&err, MS_ERR, "%s", longtext);
    assert_int_equal(strlen(err.msg), sizeof(err.msg) - 1);
}

static void
test_error__clear(void **state)
{
    ms_error err;

    (void)state;
    (void)ms_error_set(&err, MS_ERR, "x");
    ms_error_clear(&err);
    assert_int_equal(err.code, 0);
    assert_string_equal(err.msg, "");
    assert_string_equal(err.origin, "");
    ms_error_clear(NULL);
}

static void
test_error__status_names(void **state)
{
    static const struct {
        int code;
        const char *name;
    } names[] = {
        {MS_OK, "MS_OK"},           {MS_ERR, "MS_ERR"},
        {MS_ENOMEM, "MS_ENOMEM"},   {MS_EINVAL, "MS_EINVAL"},
        {MS_ETOOBIG, "MS_ETOOBIG"}, {MS_EMALFORMED, "MS_EMALFORMED"},
        {MS_ENOTFOUND, "MS_ENOTFOUND"}, {MS_EBADSIG, "MS_EBADSIG"},
        {MS_EUNTRUSTED, "MS_EUNTRUSTED"}, {MS_EREVOKED, "MS_EREVOKED"},
        {MS_EPOLICY, "MS_EPOLICY"}, {MS_ETEMP, "MS_ETEMP"},
        {MS_EIO, "MS_EIO"},         {MS_ELIMIT, "MS_ELIMIT"},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        assert_string_equal(ms_status_name(names[i].code), names[i].name);
    assert_string_equal(ms_status_name(1), "MS_UNKNOWN");
    assert_string_equal(ms_status_name(MS_ELIMIT - 1), "MS_UNKNOWN");
    assert_string_equal(ms_status_name(-1000), "MS_UNKNOWN");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_error__set_formats_message),
        cmocka_unit_test(test_error__origin_names_function_and_line),
        cmocka_unit_test(test_error__null_err_returns_code),
        cmocka_unit_test(test_error__drains_openssl_queue),
        cmocka_unit_test(test_error__drains_queue_without_err),
        cmocka_unit_test(test_error__message_may_reference_itself),
        cmocka_unit_test(test_error__long_message_is_cut),
        cmocka_unit_test(test_error__clear),
        cmocka_unit_test(test_error__status_names),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
