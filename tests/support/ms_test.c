/* tests/support/ms_test.c - helpers shared by the cmocka unit tests. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <cmocka.h>
#include <openssl/err.h>
#include <openssl/pem.h>

#include "ms_test.h"

int
ms_test_library_setup(void **state)
{
    ms_error err;

    (void)state;
    if (ms_library_init(&err) != 0) {
        print_error("ms_library_init: %s\n", err.msg);
        return -1;
    }
    return 0;
}

int
ms_test_library_teardown(void **state)
{
    (void)state;
    ms_library_cleanup();
    return 0;
}

const char *
ms_test_pki(const char *name)
{
    static char path[4096];
    const char *dir = getenv("MS_PKI_DIR");
    int n;

    if (dir == NULL || dir[0] == '\0')
        fail_msg("MS_PKI_DIR is not set (run the tests through ctest)");
    n = snprintf(path, sizeof(path), "%s/%s", dir, name);
    if (n < 0 || (size_t)n >= sizeof(path))
        fail_msg("PKI path too long: %s/%s", dir, name);
    return path;
}

X509 *
ms_test_cert(const char *name)
{
    FILE *fp;
    X509 *x;

    if ((fp = fopen(ms_test_pki(name), "rb")) == NULL)
        fail_msg("cannot open %s", ms_test_pki(name));
    x = PEM_read_X509(fp, NULL, NULL, NULL);
    (void)fclose(fp); /* read-only stream */
    if (x == NULL)
        fail_msg("no certificate in %s", name);
    ERR_clear_error();
    return x;
}

void
ms_test_read_pki(ms_buf *out, const char *name)
{
    FILE *fp;
    char chunk[4096];
    size_t n;

    if ((fp = fopen(ms_test_pki(name), "rb")) == NULL)
        fail_msg("cannot open %s", ms_test_pki(name));
    while ((n = fread(chunk, 1, sizeof(chunk), fp)) > 0)
        assert_int_equal(ms_buf_append(out, chunk, n), 0);
    assert_false(ferror(fp));
    (void)fclose(fp); /* read-only stream */
}

time_t
ms_test_clock(void *arg)
{
    return *(const time_t *)arg;
}

ms_ctx *
ms_test_ctx(const time_t *now)
{
    ms_ctx *ctx = NULL;
    ms_error err;

    if (ms_ctx_new(&ctx, &err) != 0)
        fail_msg("ms_ctx_new: %s", err.msg);
    /* The clock argument is only read. */
    ms_ctx_set_clock(ctx, ms_test_clock, (void *)(uintptr_t)now);
    return ctx;
}
