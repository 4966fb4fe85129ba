/* test_certs.c - cms/certs.c: SignedData certificates through the cache. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/cms.h>
#include <openssl/err.h>

#include "cms/certs.h"
#include "cms/cms.h"
#include "ms_test.h"

static const time_t now = MS_TEST_NOW;

/* A detached SignedData over "hello" by v1-sign with its chain and enc. */
static void
signed_der(ms_buf *der, ms_ctx *ctx)
{
    ms_identity *id = NULL;
    ms_error err;
    static const unsigned char content[] = "hello\r\n";

    char f[4][512];
    static const char *const names[] = {"v1-sign.pem", "v1-sign.key",
                                        "v1-chain.pem", "v1-enc.pem"};

    /* ms_test_pki() returns a static buffer: copy each path. */
    for (int i = 0; i < 4; i++) {
        const char *path = ms_test_pki(names[i]);

        assert_true(strlen(path) < sizeof(f[i]));
        memcpy(f[i], path, strlen(path) + 1);
    }
    assert_int_equal(
        ms_identity_load(&id, ctx, f[0], f[1], f[2], f[3], &err), 0);
    assert_int_equal(ms_cms_sign(der, ctx, id, content, sizeof(content) - 1,
                                 true, NULL, &err),
                     0);
    ms_identity_free(id);
}

static void
test_certs__split_parses_and_caches(void **state)
{
    ms_ctx *ctx = ms_test_ctx(&now);
    ms_buf der, out1, out2;
    STACK_OF(X509) *c1 = sk_X509_new_null(), *c2 = sk_X509_new_null();
    CMS_ContentInfo *cms = NULL;
    ms_error err;

    (void)state;
    ms_buf_init(&der, 0);
    ms_buf_init(&out1, 0);
    ms_buf_init(&out2, 0);
    signed_der(&der, ctx);
    assert_int_equal(ms_cms_split_certs(&out1, c1, ctx, der.data, der.len),
                     0);
    /* signer, issuing CA, encryption certificate */
    assert_int_equal(sk_X509_num(c1), 3);
    assert_true(out1.len < der.len);
    assert_int_equal(ms_cms_parse(&cms, out1.data, out1.len, &err), 0);
    assert_int_equal(OBJ_obj2nid(CMS_get0_type(cms)), NID_pkcs7_signed);
    {
        STACK_OF(X509) *left = CMS_get1_certs(cms);

        assert_true(left == NULL || sk_X509_num(left) == 0);
        sk_X509_pop_free(left, X509_free);
    }
    assert_int_equal(sk_CMS_SignerInfo_num(CMS_get0_SignerInfos(cms)), 1);
    /* The second time the very same parsed objects come back. */
    assert_int_equal(ms_cms_split_certs(&out2, c2, ctx, der.data, der.len),
                     0);
    assert_int_equal(sk_X509_num(c2), 3);
    for (int i = 0; i < 3; i++)
        assert_ptr_equal(sk_X509_value(c1, i), sk_X509_value(c2, i));
    assert_memory_equal(out1.data, out2.data, out1.len);
    assert_int_equal(ERR_peek_error(), 0);
    CMS_ContentInfo_free(cms);
    sk_X509_pop_free(c1, X509_free);
    sk_X509_pop_free(c2, X509_free);
    ms_buf_cleanup(&der);
    ms_buf_cleanup(&out1);
    ms_buf_cleanup(&out2);
    ms_ctx_free(ctx);
}

static void
test_certs__not_der_is_enotfound(void **state)
{
    ms_ctx *ctx = ms_test_ctx(&now);
    ms_buf der, out;
    STACK_OF(X509) *c = sk_X509_new_null();
    /* BER: indefinite length outer SEQUENCE */
    static const unsigned char ber[] = {0x30, 0x80, 0x06, 0x01, 0x00,
                                        0x00, 0x00};

    (void)state;
    ms_buf_init(&der, 0);
    ms_buf_init(&out, 0);
    assert_int_equal(ms_cms_split_certs(&out, c, ctx, ber, sizeof(ber)),
                     MS_ENOTFOUND);
    /* Truncated DER of a real signature. */
    signed_der(&der, ctx);
    assert_int_equal(ms_cms_split_certs(&out, c, ctx, der.data, der.len / 2),
                     MS_ENOTFOUND);
    sk_X509_pop_free(c, X509_free);
    ms_buf_cleanup(&der);
    ms_buf_cleanup(&out);
    ms_ctx_free(ctx);
}

static void
test_certs__bad_certificate_is_malformed(void **state)
{
    ms_ctx *ctx = ms_test_ctx(&now);
    ms_buf der, out;
    STACK_OF(X509) *c = sk_X509_new_null();
    unsigned char *p;

    (void)state;
    ms_buf_init(&der, 0);
    ms_buf_init(&out, 0);
    signed_der(&der, ctx);
    /* Corrupt the signer certificate's signature algorithm OID. */
    p = (unsigned char *)strstr((char *)der.data, "mailseal Test V1");
    if (p == NULL) {
        /* Find the CN bytes the slow way (the DER holds NULs). */
        for (size_t i = 0; i + 16 < der.len; i++) {
            if (memcmp(der.data + i, "mailseal Test V1", 16) == 0) {
                p = der.data + i;
                break;
            }
        }
    }
    assert_non_null(p);
    p[-2] = 0x7f; /* the string's length now runs past its SEQUENCE */
    assert_int_not_equal(ms_cms_split_certs(&out, c, ctx, der.data, der.len),
                         0);
    sk_X509_pop_free(c, X509_free);
    ms_buf_cleanup(&der);
    ms_buf_cleanup(&out);
    ms_ctx_free(ctx);
    ERR_clear_error();
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_certs__split_parses_and_caches),
        cmocka_unit_test(test_certs__not_der_is_enotfound),
        cmocka_unit_test(test_certs__bad_certificate_is_malformed),
    };

    return cmocka_run_group_tests(tests, ms_test_library_setup,
                                  ms_test_library_teardown);
}
