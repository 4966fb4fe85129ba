/* tests/unit/test_info.c - lib/x509/info.c: what a certificate says. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>

#include <mailseal/mailseal.h>

#include "ms_test.h"
#include "util/alloc.h"
#include "x509/info.h"

static int
level_of(const char *name)
{
    X509 *x = ms_test_cert(name);
    int l = ms_x509_level(x);

    X509_free(x);
    return l;
}

static void
test_info__level(void **state)
{
    (void)state;
    assert_int_equal(level_of("v1-sign.pem"), 1);
    assert_int_equal(level_of("v2-sign.pem"), 2);
    assert_int_equal(level_of("v3-sign.pem"), 3);
    assert_int_equal(level_of("v4-sign.pem"), 4);
    assert_int_equal(level_of("v4-enc.pem"), 4);
    assert_int_equal(level_of("ec-sign.pem"), 1);
    assert_int_equal(level_of("nolevel.pem"), 0);
    assert_int_equal(level_of("twolevels.pem"), 1); /* the lower wins */
    assert_int_equal(level_of("cab-v3.pem"), 3);
    assert_int_equal(level_of("root.pem"), 0);
    assert_int_equal(ERR_peek_error(), 0);
}

static void
test_info__has_email(void **state)
{
    X509 *x = ms_test_cert("v2-sign.pem");

    (void)state;
    assert_true(ms_x509_has_email(x, "john.doe@example.org"));
    assert_true(ms_x509_has_email(x, "John.Doe@EXAMPLE.org"));
    assert_false(ms_x509_has_email(x, "john.doe@example.or"));
    assert_false(ms_x509_has_email(x, "xjohn.doe@example.org"));
    assert_false(ms_x509_has_email(x, ""));
    X509_free(x);
    x = ms_test_cert("root.pem"); /* no SAN at all */
    assert_false(ms_x509_has_email(x, "john.doe@example.org"));
    X509_free(x);
    assert_int_equal(ERR_peek_error(), 0);
}

static void
test_info__first_email(void **state)
{
    X509 *x = ms_test_cert("v4-sign.pem");
    char *e = ms_x509_first_email(x);

    (void)state;
    assert_string_equal(e, "jane.roe@bank.example");
    ms_free(e);
    X509_free(x);
    x = ms_test_cert("root.pem");
    assert_null(ms_x509_first_email(x));
    X509_free(x);
}

static void
check_subject(const char *cert, int nid, const char *want)
{
    X509 *x = ms_test_cert(cert);
    char *s = ms_x509_subject_text(x, nid);

    if (want == NULL) {
        assert_null(s);
    } else {
        assert_non_null(s);
        assert_string_equal(s, want);
    }
    ms_free(s);
    X509_free(x);
}

static void
test_info__subject_text(void **state)
{
    (void)state;
    check_subject("v2-sign.pem", NID_givenName, "John");
    check_subject("v2-sign.pem", NID_surname, "Doe");
    check_subject("v2-sign.pem", NID_commonName, "John Doe");
    check_subject("v2-sign.pem", NID_organizationName, NULL);
    check_subject("v3-sign.pem", NID_organizationName, "Example Org");
    check_subject("v4-sign.pem", NID_title, "Head of Payments");
    check_subject("v4-sign.pem", NID_organizationName, "Example Bank");
    check_subject("root.pem", NID_commonName, "mailseal Test Root CA");
    assert_int_equal(ERR_peek_error(), 0);
}

static void
test_info__serial_hex(void **state)
{
    static const char *const certs[] = {"v1-sign.pem", "v2-sign.pem",
                                        "root.pem", "revoked.pem"};

    (void)state;
    for (size_t i = 0; i < sizeof(certs) / sizeof(certs[0]); i++) {
        X509 *x = ms_test_cert(certs[i]);
        BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(x), NULL);
        char want[128] = "";
        size_t o = 0;
        int nbytes = BN_num_bytes(bn);
        unsigned char bin[64];
        char *got;

        /* Independent reference: the big-endian bytes in lower-case hex,
         * two digits per byte (as openssl x509 -serial). */
        assert_true(nbytes > 0 && (size_t)nbytes <= sizeof(bin));
        assert_int_equal(BN_bn2bin(bn, bin), nbytes);
        for (int k = 0; k < nbytes; k++) {
            int n = snprintf(want + o, sizeof(want) - o, "%02x", bin[k]);

            assert_true(n == 2);
            o += 2;
        }
        got = ms_x509_serial_hex(x);
        assert_non_null(got);
        assert_string_equal(got, want);
        ms_free(got);
        BN_free(bn);
        X509_free(x);
    }
    assert_int_equal(ERR_peek_error(), 0);
}

static void
test_info__issuer_text(void **state)
{
    X509 *x = ms_test_cert("v1-sign.pem");
    char *s = ms_x509_issuer_text(x);

    (void)state;
    assert_non_null(s);
    assert_non_null(strstr(s, "CN=mailseal Test V1 Mailbox CA"));
    ms_free(s);
    X509_free(x);
}

static void
check_sign(const char *cert, bool want, const char *why_part)
{
    X509 *x = ms_test_cert(cert);
    const char *why = NULL;

    if (ms_x509_can_sign_mail(x, &why) != want)
        fail_msg("%s: can_sign_mail != %d", cert, want);
    if (!want) {
        assert_non_null(why);
        assert_non_null(strstr(why, why_part));
    }
    X509_free(x);
}

static void
test_info__can_sign_mail(void **state)
{
    (void)state;
    check_sign("v1-sign.pem", true, NULL);
    check_sign("v4-sign.pem", true, NULL);
    check_sign("ec-sign.pem", true, NULL);
    check_sign("no-eku.pem", true, NULL); /* absent EKU: any use */
    check_sign("bad-ku.pem", false, "key usage");
    check_sign("bad-eku.pem", false, "emailProtection");
    check_sign("v1-enc.pem", false, "key usage");
    assert_int_equal(ERR_peek_error(), 0);
}

static void
test_info__asn1_time_epoch(void **state)
{
    X509 *x = ms_test_cert("v1-sign.pem");
    time_t t = 0;

    (void)state;
    assert_true(ms_asn1_time_epoch(X509_get0_notBefore(x), &t));
    assert_true(t == 1704067200); /* 2024-01-01T00:00:00Z */
    assert_true(ms_asn1_time_epoch(X509_get0_notAfter(x), &t));
    assert_true(t == 2208988799); /* 2039-12-31T23:59:59Z */
    assert_false(ms_asn1_time_epoch(NULL, &t));
    X509_free(x);
}

static void
test_info__alloc_failure(void **state)
{
    X509 *x = ms_test_cert("v4-sign.pem");

    (void)state;
    (void)ms_alloc_fail_at(1);
    assert_null(ms_x509_serial_hex(x));
    (void)ms_alloc_fail_at(1);
    assert_null(ms_x509_subject_text(x, NID_title));
    (void)ms_alloc_fail_at(1);
    assert_null(ms_x509_first_email(x));
    (void)ms_alloc_fail_at(1);
    assert_null(ms_x509_issuer_text(x));
    (void)ms_alloc_fail_at(0);
    X509_free(x);
    ERR_clear_error();
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_info__level),
        cmocka_unit_test(test_info__has_email),
        cmocka_unit_test(test_info__first_email),
        cmocka_unit_test(test_info__subject_text),
        cmocka_unit_test(test_info__serial_hex),
        cmocka_unit_test(test_info__issuer_text),
        cmocka_unit_test(test_info__can_sign_mail),
        cmocka_unit_test(test_info__asn1_time_epoch),
        cmocka_unit_test(test_info__alloc_failure),
    };

    return cmocka_run_group_tests(tests, ms_test_library_setup,
                                  ms_test_library_teardown);
}
