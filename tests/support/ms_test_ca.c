/* tests/support/ms_test_ca.c - see ms_test_ca.h. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "ms_test_ca.h"
#include "util/alloc.h"
#include "x509/info.h"

#define NOT_BEFORE ((time_t)1577836800) /* 2020-01-01T00:00:00Z */
#define NOT_AFTER  ((time_t)2208988800) /* 2040-01-01T00:00:00Z */

EVP_PKEY *
ms_test_ec_key(void)
{
    EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");

    assert_non_null(k);
    return k;
}

static void
add_ext(X509 *x, X509 *issuer, int nid, const char *value)
{
    X509V3_CTX v3;
    X509_EXTENSION *e;

    X509V3_set_ctx(&v3, issuer, x, NULL, NULL, 0);
    e = X509V3_EXT_nconf_nid(NULL, &v3, nid, value);
    if (e == NULL)
        fail_msg("extension %d \"%s\" rejected", nid, value);
    assert_int_equal(X509_add_ext(x, e, -1), 1);
    X509_EXTENSION_free(e);
}

static void
add_profile(X509 *x, X509 *issuer, ms_test_profile profile)
{
    switch (profile) {
    case MS_TEST_PROFILE_CA:
        add_ext(x, issuer, NID_basic_constraints, "critical,CA:TRUE");
        add_ext(x, issuer, NID_key_usage, "critical,keyCertSign,cRLSign");
        add_ext(x, issuer, NID_subject_key_identifier, "hash");
        break;
    case MS_TEST_PROFILE_OCSP:
        add_ext(x, issuer, NID_key_usage, "critical,digitalSignature");
        add_ext(x, issuer, NID_ext_key_usage, "OCSPSigning");
        add_ext(x, issuer, NID_authority_key_identifier, "keyid:always");
        break;
    case MS_TEST_PROFILE_LEAF:
        add_ext(x, issuer, NID_key_usage, "critical,digitalSignature");
        add_ext(x, issuer, NID_ext_key_usage, "emailProtection");
        add_ext(x, issuer, NID_authority_key_identifier, "keyid:always");
        break;
    }
}

X509 *
ms_test_make_cert(EVP_PKEY *key, const char *cn, uint64_t serial,
                  X509 *issuer, EVP_PKEY *issuer_key, ms_test_profile profile)
{
    X509 *x = X509_new();
    X509_NAME *name = X509_NAME_new();

    assert_non_null(x);
    assert_non_null(name);
    assert_int_equal(X509_set_version(x, X509_VERSION_3), 1);
    assert_int_equal(ASN1_INTEGER_set_uint64(X509_get_serialNumber(x), serial),
                     1);
    assert_int_equal(X509_NAME_add_entry_by_NID(name, NID_commonName,
                                                MBSTRING_UTF8,
                                                (const unsigned char *)cn, -1,
                                                -1, 0),
                     1);
    assert_int_equal(X509_set_subject_name(x, name), 1);
    assert_int_equal(X509_set_issuer_name(x, issuer != NULL
                                                 ? X509_get_subject_name(issuer)
                                                 : name),
                     1);
    assert_non_null(ASN1_TIME_set(X509_getm_notBefore(x), NOT_BEFORE));
    assert_non_null(ASN1_TIME_set(X509_getm_notAfter(x), NOT_AFTER));
    assert_int_equal(X509_set_pubkey(x, key), 1);
    add_profile(x, issuer != NULL ? issuer : x, profile);
    assert_true(X509_sign(x, issuer_key != NULL ? issuer_key : key,
                          EVP_sha256()) > 0);
    X509_NAME_free(name);
    assert_int_equal(ERR_peek_error(), 0);
    return x;
}

char *
ms_test_serial_hex(X509 *x)
{
    char *hex = ms_x509_serial_hex(x);

    assert_non_null(hex);
    return hex;
}

void
ms_test_store_cert(ms_store *s, X509 *x, const char *issuer_name)
{
    ms_store_cert c;
    unsigned char *der = NULL;
    int n = i2d_X509(x, &der);
    ms_error err;

    assert_true(n > 0);
    ms_store_cert_init(&c);
    c.serial_hex = ms_test_serial_hex(x);
    c.issuer = (char *)(uintptr_t)issuer_name; /* only read */
    c.subject_email = (char *)(uintptr_t)"test@example.net";
    c.level = 1;
    c.use = (char *)(uintptr_t)"signing";
    c.not_before = NOT_BEFORE;
    c.not_after = NOT_AFTER;
    assert_int_equal(ms_buf_append(&c.der, der, (size_t)n), 0);
    if (ms_store_cert_insert(s, &c, &err) != 0)
        fail_msg("ms_store_cert_insert: %s", err.msg);
    ms_free(c.serial_hex);
    ms_buf_cleanup(&c.der);
    OPENSSL_free(der);
}
