/* tests/unit/test_der.c - lib/cms/der.c: the minimal DER reader. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/err.h>
#include <openssl/objects.h>

#include <mailseal/mailseal.h>

#include "cms/cms.h"
#include "cms/der.h"
#include "ms_test.h"

static void
test_der__short_form(void **state)
{
    static const unsigned char d[] = {0x04, 0x02, 'h', 'i', 0x05, 0x00};
    ms_der in = {d, sizeof(d)}, c;
    unsigned char tag = 0;

    (void)state;
    assert_true(ms_der_next(&in, &tag, &c));
    assert_int_equal(tag, 0x04);
    assert_int_equal(c.len, 2);
    assert_ptr_equal(c.p, d + 2);
    assert_int_equal(in.len, 2);
    assert_true(ms_der_next(&in, &tag, &c));
    assert_int_equal(tag, 0x05);
    assert_int_equal(c.len, 0);
    assert_int_equal(in.len, 0);
    assert_false(ms_der_next(&in, &tag, &c));
}

static void
test_der__long_form(void **state)
{
    unsigned char d[4 + 300];
    ms_der in, c;
    unsigned char tag;

    (void)state;
    memset(d, 0xee, sizeof(d));
    d[0] = 0x04;
    d[1] = 0x81;
    d[2] = 0x80;
    in.p = d;
    in.len = 3 + 0x80;
    assert_true(ms_der_next(&in, &tag, &c));
    assert_int_equal(c.len, 0x80);
    assert_ptr_equal(c.p, d + 3);
    assert_int_equal(in.len, 0);
    d[1] = 0x82;
    d[2] = 0x01;
    d[3] = 0x2c;
    in.p = d;
    in.len = 4 + 300;
    assert_true(ms_der_next(&in, &tag, &c));
    assert_int_equal(c.len, 300);
    assert_ptr_equal(c.p, d + 4);
    assert_int_equal(in.len, 0);
}

static void
test_der__truncated(void **state)
{
    static const unsigned char d[] = {0x30, 0x05, 0x02, 0x01, 0x00};
    static const unsigned char lf[] = {0x30, 0x82, 0x01};
    ms_der in, c;
    unsigned char tag;

    (void)state;
    for (size_t n = 0; n < sizeof(d); n++) {
        in.p = d;
        in.len = n;
        assert_false(ms_der_next(&in, &tag, &c));
        /* A refused read leaves the input where it was. */
        assert_ptr_equal(in.p, d);
        assert_int_equal(in.len, n);
    }
    /* Long-form length octets cut short. */
    in.p = lf;
    in.len = sizeof(lf);
    assert_false(ms_der_next(&in, &tag, &c));
}

static void
test_der__indefinite_rejected(void **state)
{
    static const unsigned char d[] = {0x30, 0x80, 0x02, 0x01, 0x00, 0x00, 0x00};
    ms_der in = {d, sizeof(d)}, c;
    unsigned char tag;

    (void)state;
    assert_false(ms_der_next(&in, &tag, &c));
}

static void
test_der__huge_lengths_rejected(void **state)
{
    static const unsigned char eight[] = {0x04, 0x88, 0xff, 0xff, 0xff, 0xff,
                                          0xff, 0xff, 0xff, 0xff, 0x00};
    static const unsigned char nine[] = {0x04, 0x89, 0, 0, 0, 0, 0,
                                         0,    0,    0, 1, 0x00};
    static const unsigned char wrap[] = {0x04, 0x88, 0xff, 0xff, 0xff, 0xff,
                                         0xff, 0xff, 0xff, 0xf6, 0x00};
    ms_der in, c;
    unsigned char tag;

    (void)state;
    in.p = eight;
    in.len = sizeof(eight);
    assert_false(ms_der_next(&in, &tag, &c));
    in.p = nine;
    in.len = sizeof(nine);
    assert_false(ms_der_next(&in, &tag, &c));
    /* A length that would wrap the pointer arithmetic. */
    in.p = wrap;
    in.len = sizeof(wrap);
    assert_false(ms_der_next(&in, &tag, &c));
}

static void
test_der__high_tag_number_rejected(void **state)
{
    static const unsigned char d[] = {0x1f, 0x81, 0x00, 0x00};
    ms_der in = {d, sizeof(d)}, c;
    unsigned char tag;

    (void)state;
    assert_false(ms_der_next(&in, &tag, &c));
}

/* A DER ContentInfo encrypted with the library to v2-enc.pem. */
static void
encrypt_der(ms_buf *der, ms_cipher cipher)
{
    time_t now = MS_TEST_NOW;
    ms_ctx *ctx = ms_test_ctx(&now);
    ms_cms_rcpt r;
    ms_error err;

    r.cert = ms_test_cert("v2-enc.pem");
    r.caps = MS_CAP_GCM | MS_CAP_OAEP;
    if (ms_cms_encrypt(der, ctx, &r, 1, cipher, MS_KT_AUTO,
                       (const unsigned char *)"Content-Type: text/plain\r\n"
                                              "\r\nsecret\r\n",
                       34, &err) != 0)
        fail_msg("ms_cms_encrypt: %s", err.msg);
    X509_free(r.cert);
    ms_ctx_free(ctx);
}

static void
check_cipher_oid(ms_cipher cipher, int want_nid)
{
    ms_buf der;
    ms_der oid;
    unsigned char tlv[80];
    const unsigned char *p = tlv;
    ASN1_OBJECT *obj;

    ms_buf_init(&der, 0);
    encrypt_der(&der, cipher);
    assert_true(ms_der_cms_cipher_oid(der.data, der.len, &oid));
    assert_true(oid.len > 0 && oid.len < sizeof(tlv) - 2);
    assert_true(oid.p > der.data && oid.p + oid.len <= der.data + der.len);
    tlv[0] = 0x06;
    tlv[1] = (unsigned char)oid.len;
    memcpy(tlv + 2, oid.p, oid.len);
    obj = d2i_ASN1_OBJECT(NULL, &p, (long)oid.len + 2);
    assert_non_null(obj);
    assert_int_equal(OBJ_obj2nid(obj), want_nid);
    ASN1_OBJECT_free(obj);
    /* Every truncation is refused, never read past. */
    for (size_t n = 0; n < der.len; n++) {
        ms_der o;
        unsigned char *copy = test_malloc(n + 1);

        memcpy(copy, der.data, n);
        assert_false(ms_der_cms_cipher_oid(copy, n, &o));
        test_free(copy);
    }
    ms_buf_cleanup(&der);
    assert_int_equal(ERR_peek_error(), 0);
}

static void
test_der__cipher_oid_aes256_cbc(void **state)
{
    (void)state;
    check_cipher_oid(MS_CIPHER_AES256_CBC, NID_aes_256_cbc);
}

static void
test_der__cipher_oid_aes256_gcm(void **state)
{
    (void)state;
    check_cipher_oid(MS_CIPHER_AES256_GCM, NID_aes_256_gcm);
}

static void
test_der__cipher_oid_aes128_gcm(void **state)
{
    (void)state;
    check_cipher_oid(MS_CIPHER_AES128_GCM, NID_aes_128_gcm);
}

static void
test_der__cipher_oid_not_enveloped(void **state)
{
    /* SEQUENCE { OID id-data, [0] { OCTET STRING } } */
    static const unsigned char data_ci[] = {
        0x30, 0x13, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01,
        0x07, 0x01, 0xa0, 0x06, 0x04, 0x04, 't',  'e',  's',  't'};
    ms_der oid;

    (void)state;
    assert_false(ms_der_cms_cipher_oid(data_ci, sizeof(data_ci), &oid));
    assert_false(ms_der_cms_cipher_oid(data_ci, 0, &oid));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_der__short_form),
        cmocka_unit_test(test_der__long_form),
        cmocka_unit_test(test_der__truncated),
        cmocka_unit_test(test_der__indefinite_rejected),
        cmocka_unit_test(test_der__huge_lengths_rejected),
        cmocka_unit_test(test_der__high_tag_number_rejected),
        cmocka_unit_test(test_der__cipher_oid_aes256_cbc),
        cmocka_unit_test(test_der__cipher_oid_aes256_gcm),
        cmocka_unit_test(test_der__cipher_oid_aes128_gcm),
        cmocka_unit_test(test_der__cipher_oid_not_enveloped),
    };

    return cmocka_run_group_tests(tests, ms_test_library_setup,
                                  ms_test_library_teardown);
}
