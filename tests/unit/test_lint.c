/*
 * tests/unit/test_lint.c - lib/ca/lint.c: good to-be-signed certificates
 * for V1..V4 (signing and encryption) pass; flipping one thing in a good
 * one fails with the rule that names it. Certificates are built here with
 * the OpenSSL API and left unsigned (but for the one re-encoded).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include <openssl/bn.h>
#include <openssl/conf.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <openssl/x509v3.h>

#include "ca/lint.h"
#include "ms_test.h"
#include "util/str.h"
#include "x509/info.h"

#define DAY (24L * 60 * 60)

/* Keys made once for the group. */
static EVP_PKEY *rsa2048;
static EVP_PKEY *rsa1024;
static EVP_PKEY *rsa_e3;
static EVP_PKEY *p256;
static EVP_PKEY *p384;
static EVP_PKEY *k256;
static EVP_PKEY *ed25519;

static const unsigned char serial_bytes[21] = {
    0x5a, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa,
    0xbb, 0xcc, 0xdd, 0xee, 0xf0, 0x01, 0x02, 0x03, 0x04, 0x05,
};

static EVP_PKEY *
rsa_small_exponent(void)
{
    EVP_PKEY_CTX *c = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL);
    BIGNUM *e = BN_new();
    EVP_PKEY *k = NULL;

    if (c != NULL && e != NULL && BN_set_word(e, 3) &&
        EVP_PKEY_keygen_init(c) > 0 &&
        EVP_PKEY_CTX_set_rsa_keygen_bits(c, 2048) > 0 &&
        EVP_PKEY_CTX_set1_rsa_keygen_pubexp(c, e) > 0 &&
        EVP_PKEY_generate(c, &k) <= 0)
        k = NULL;
    BN_free(e);
    EVP_PKEY_CTX_free(c);
    return k;
}

static int
group_setup(void **state)
{
    if (ms_test_library_setup(state) != 0)
        return -1;
    rsa2048 = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
    rsa1024 = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)1024);
    rsa_e3 = rsa_small_exponent();
    p256 = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    p384 = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-384");
    k256 = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "secp256k1");
    ed25519 = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    if (rsa2048 == NULL || rsa1024 == NULL || rsa_e3 == NULL || p256 == NULL ||
        p384 == NULL || k256 == NULL || ed25519 == NULL)
        return -1;
    return 0;
}

static int
group_teardown(void **state)
{
    EVP_PKEY_free(rsa2048);
    EVP_PKEY_free(rsa1024);
    EVP_PKEY_free(rsa_e3);
    EVP_PKEY_free(p256);
    EVP_PKEY_free(p384);
    EVP_PKEY_free(k256);
    EVP_PKEY_free(ed25519);
    return ms_test_library_teardown(state);
}

/* ---- building certificates ---- */

static void
add_ext(X509 *x, int nid, const char *value)
{
    CONF *conf = NCONF_new(NULL); /* empty: certificatePolicies needs one */
    X509V3_CTX v3;
    X509_EXTENSION *e;

    assert_non_null(conf);
    X509V3_set_ctx(&v3, NULL, x, NULL, NULL, 0);
    X509V3_set_nconf(&v3, conf);
    e = X509V3_EXT_nconf_nid(conf, &v3, nid, value);
    if (e == NULL)
        fail_msg("extension %d \"%s\" rejected", nid, value);
    assert_int_equal(X509_add_ext(x, e, -1), 1);
    X509_EXTENSION_free(e);
    NCONF_free(conf);
}

/* Replaces extension nid by value, or removes it when value is NULL. */
static void
set_ext(X509 *x, int nid, const char *value)
{
    int at;

    while ((at = X509_get_ext_by_NID(x, nid, -1)) >= 0)
        X509_EXTENSION_free(X509_delete_ext(x, at));
    if (value != NULL)
        add_ext(x, nid, value);
}

static void
name_add(X509 *x, int nid, const char *value)
{
    assert_int_equal(
        X509_NAME_add_entry_by_NID(X509_get_subject_name(x), nid, MBSTRING_UTF8,
                                   (const unsigned char *)value, -1, -1, 0),
        1);
}

static void
name_clear(X509 *x)
{
    X509_NAME *empty = X509_NAME_new();

    assert_non_null(empty);
    assert_int_equal(X509_set_subject_name(x, empty), 1);
    X509_NAME_free(empty);
}

static void
set_serial(X509 *x, int len, bool negative)
{
    BIGNUM *bn = BN_bin2bn(serial_bytes, len, NULL);

    assert_non_null(bn);
    BN_set_negative(bn, negative ? 1 : 0);
    assert_non_null(BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)));
    BN_free(bn);
}

static void
set_validity(X509 *x, long from, long to)
{
    time_t now = MS_TEST_NOW;

    assert_non_null(X509_time_adj_ex(X509_getm_notBefore(x), 0, from, &now));
    assert_non_null(X509_time_adj_ex(X509_getm_notAfter(x), 0, to, &now));
}

static void
subject_for_level(X509 *x, int level)
{
    if (level == 1) {
        name_add(x, NID_commonName, "alice@example.org");
        return;
    }
    name_add(x, NID_commonName, "Alice Example");
    if (level == 2 || level == 4) {
        name_add(x, NID_givenName, "Alice");
        name_add(x, NID_surname, "Example");
    }
    if (level >= 3) {
        name_add(x, NID_organizationName, "Example GmbH");
        name_add(x, NID_organizationIdentifier, "NTRDE-HRB123456");
        name_add(x, NID_countryName, "DE");
    }
    if (level == 4)
        name_add(x, NID_title, "Engineer");
}

static const char *
key_usage_for(ms_lint_use use, EVP_PKEY *key)
{
    if (use == MS_LINT_SIGNING)
        return "critical,digitalSignature,nonRepudiation";
    if (EVP_PKEY_get_base_id(key) == EVP_PKEY_RSA)
        return "critical,keyEncipherment";
    return "critical,keyAgreement";
}

static X509 *
good_cert(int level, ms_lint_use use, EVP_PKEY *key)
{
    static const char *const policies[] = {
        NULL,
        "2.23.140.1.5.1.3," MS_OID_ARC ".1.1",
        "2.23.140.1.5.4.3," MS_OID_ARC ".1.2",
        "2.23.140.1.5.2.3," MS_OID_ARC ".1.3",
        "2.23.140.1.5.3.3," MS_OID_ARC ".1.4",
    };
    X509 *x = X509_new();

    assert_non_null(x);
    assert_int_equal(X509_set_version(x, X509_VERSION_3), 1);
    set_serial(x, 16, false);
    set_validity(x, 0, 365 * DAY);
    assert_int_equal(X509_NAME_add_entry_by_NID(
                         X509_get_issuer_name(x), NID_commonName, MBSTRING_UTF8,
                         (const unsigned char *)"mailseal Test CA", -1, -1, 0),
                     1);
    assert_int_equal(X509_set_pubkey(x, key), 1);
    subject_for_level(x, level);
    add_ext(x, NID_basic_constraints, "critical,CA:FALSE");
    add_ext(x, NID_key_usage, key_usage_for(use, key));
    add_ext(x, NID_ext_key_usage, "emailProtection");
    add_ext(x, NID_subject_alt_name, "email:alice@example.org");
    add_ext(x, NID_certificate_policies, policies[level]);
    add_ext(x, NID_info_access,
            "OCSP;URI:http://ocsp.example.org/v1,"
            "caIssuers;URI:http://ca.example.org/v1.crt");
    add_ext(x, NID_crl_distribution_points,
            "URI:http://crl.example.org/v1.crl");
    return x;
}

static void
assert_clean(X509 *x, int level, ms_lint_use use)
{
    ms_lint_report rep;

    assert_int_equal(ms_lint_cert(&rep, x, level, use, MS_TEST_NOW), 0);
    assert_int_equal(rep.count, 0);
    assert_string_equal(rep.first, "");
    assert_int_equal(ERR_peek_error(), 0);
}

static void
assert_fails(X509 *x, int level, ms_lint_use use, const char *rule)
{
    ms_lint_report rep;
    size_t n = strlen(rule);

    assert_int_equal(ms_lint_cert(&rep, x, level, use, MS_TEST_NOW),
                     MS_EPOLICY);
    assert_true(rep.count >= 1);
    if (strncmp(rep.first, rule, n) != 0 || rep.first[n] != ':')
        fail_msg("expected %s, got \"%s\"", rule, rep.first);
    assert_int_equal(ERR_peek_error(), 0);
}

/* ---- good certificates ---- */

static void
test_lint__good_certificates_pass(void **state)
{
    EVP_PKEY *keys[3];

    (void)state;
    keys[0] = rsa2048;
    keys[1] = p256;
    keys[2] = p384;
    for (int level = 1; level <= 4; level++) {
        for (int k = 0; k < 3; k++) {
            X509 *s = good_cert(level, MS_LINT_SIGNING, keys[k]);
            X509 *e = good_cert(level, MS_LINT_ENCRYPTION, keys[k]);

            assert_clean(s, level, MS_LINT_SIGNING);
            assert_clean(e, level, MS_LINT_ENCRYPTION);
            X509_free(s);
            X509_free(e);
        }
    }
}

/* What the profile allows but the good certificates do not show. */
static void
test_lint__good_variants_pass(void **state)
{
    X509 *x;

    (void)state;
    x = good_cert(1, MS_LINT_SIGNING, rsa2048); /* empty subject */
    name_clear(x);
    set_ext(x, NID_subject_alt_name, "critical,email:alice@example.org");
    assert_clean(x, 1, MS_LINT_SIGNING);
    X509_free(x);

    x = good_cert(1, MS_LINT_SIGNING, p256); /* minimal extensions */
    set_ext(x, NID_basic_constraints, NULL);
    set_ext(x, NID_info_access, NULL);
    set_ext(x, NID_crl_distribution_points, NULL);
    set_ext(x, NID_key_usage, "critical,digitalSignature");
    assert_clean(x, 1, MS_LINT_SIGNING);
    X509_free(x);

    x = good_cert(4, MS_LINT_SIGNING, rsa2048); /* mailbox in the subject */
    name_add(x, NID_pkcs9_emailAddress, "ALICE@example.org");
    assert_clean(x, 4, MS_LINT_SIGNING);
    X509_free(x);
}

static void
test_lint__boundaries_pass(void **state)
{
    X509 *x;

    (void)state;
    x = good_cert(1, MS_LINT_SIGNING, rsa2048);
    set_serial(x, 8, false);
    assert_fails(x, 1, MS_LINT_SIGNING, "e_serial_length");
    set_serial(x, 9, false);
    assert_clean(x, 1, MS_LINT_SIGNING);
    set_serial(x, 20, false);
    assert_clean(x, 1, MS_LINT_SIGNING);
    set_serial(x, 21, false);
    assert_fails(x, 1, MS_LINT_SIGNING, "e_serial_length");
    set_validity(x, 0, 825 * DAY);
    set_serial(x, 16, false);
    assert_clean(x, 1, MS_LINT_SIGNING);
    set_validity(x, 0, 825 * DAY + 1);
    assert_fails(x, 1, MS_LINT_SIGNING, "e_validity_max_825_days");
    set_validity(x, -47 * 60 * 60, 365 * DAY);
    assert_clean(x, 1, MS_LINT_SIGNING);
    X509_free(x);
}

static void
test_lint__bad_arguments(void **state)
{
    ms_lint_report rep;
    X509 *x;

    (void)state;
    x = good_cert(1, MS_LINT_SIGNING, rsa2048);
    assert_int_equal(ms_lint_cert(&rep, x, 0, MS_LINT_SIGNING, MS_TEST_NOW),
                     MS_EINVAL);
    assert_int_equal(ms_lint_cert(&rep, x, 5, MS_LINT_SIGNING, MS_TEST_NOW),
                     MS_EINVAL);
    assert_int_equal(ms_lint_cert(&rep, x, 1, (ms_lint_use)7, MS_TEST_NOW),
                     MS_EINVAL);
    X509_free(x);
}

/* The caller's errors stay; the lint's own decoding errors go. */
static void
test_lint__keeps_error_queue(void **state)
{
    ms_lint_report rep;
    X509 *x;

    (void)state;
    x = good_cert(1, MS_LINT_SIGNING, rsa2048);
    set_ext(x, NID_key_usage, NULL);
    ERR_raise(ERR_LIB_USER, 42);
    assert_int_equal(ms_lint_cert(&rep, x, 1, MS_LINT_SIGNING, MS_TEST_NOW),
                     MS_EPOLICY);
    assert_int_equal(ERR_GET_REASON(ERR_get_error()), 42);
    assert_int_equal(ERR_peek_error(), 0);
    X509_free(x);
}

/* ---- bad certificates: one thing flipped in a good one ---- */

typedef void (*mutator)(X509 **xp, int nid, const char *v);

static void
m_none(X509 **xp, int nid, const char *v)
{
    (void)xp;
    (void)nid;
    (void)v;
}

static void
m_ext(X509 **xp, int nid, const char *v)
{
    set_ext(*xp, nid, v);
}

static void
m_ext_add(X509 **xp, int nid, const char *v)
{
    add_ext(*xp, nid, v);
}

static void
m_name(X509 **xp, int nid, const char *v)
{
    name_add(*xp, nid, v);
}

static void
m_name_only(X509 **xp, int nid, const char *v)
{
    name_clear(*xp);
    if (v != NULL)
        name_add(*xp, nid, v);
}

static void
m_version(X509 **xp, int nid, const char *v)
{
    (void)v;
    assert_int_equal(X509_set_version(*xp, nid), 1);
}

/* nid is the length in octets; v non-NULL makes it negative. */
static void
m_serial(X509 **xp, int nid, const char *v)
{
    set_serial(*xp, nid, v != NULL);
}

/* nid: notBefore from now in hours; v: notAfter "past" (an hour ago),
 * "826d" (825 days and an hour after notBefore) or "1y" (365 days). */
static void
m_validity(X509 **xp, int nid, const char *v)
{
    long from = nid * 60L * 60;
    long to = from + 365 * DAY;

    if (strcmp(v, "past") == 0)
        to = -60L * 60;
    else if (strcmp(v, "826d") == 0)
        to = from + 825 * DAY + 60L * 60;
    set_validity(*xp, from, to);
}

static void
m_ku_garbage(X509 **xp, int nid, const char *v)
{
    static const unsigned char junk[] = {0x30, 0x03, 0x01, 0x02};
    ASN1_OCTET_STRING *os = ASN1_OCTET_STRING_new();
    X509_EXTENSION *e;

    (void)v;
    assert_non_null(os);
    assert_int_equal(ASN1_OCTET_STRING_set(os, junk, sizeof(junk)), 1);
    e = X509_EXTENSION_create_by_NID(NULL, nid, 1, os);
    assert_non_null(e);
    set_ext(*xp, nid, NULL);
    assert_int_equal(X509_add_ext(*xp, e, -1), 1);
    X509_EXTENSION_free(e);
    ASN1_OCTET_STRING_free(os);
}

/* Flips the last bit of the EC point: re-decoded, it is off the curve.
 * (Signed first, self-signed, only so that it can be encoded.) */
static void
m_bad_point(X509 **xp, int nid, const char *v)
{
    unsigned char *der = NULL;
    unsigned char *spki = NULL;
    const unsigned char *p;
    const void *at;
    int n;
    int sn;
    X509 *y;

    (void)nid;
    (void)v;
    assert_true(X509_sign(*xp, p256, EVP_sha256()) > 0);
    n = i2d_X509(*xp, &der);
    sn = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(*xp), &spki);
    assert_true(n > 0 && sn > 0);
    at = ms_memmem(der, (size_t)n, spki, (size_t)sn);
    assert_non_null(at);
    der[(size_t)((const unsigned char *)at - der) + (size_t)sn - 1] ^= 1;
    p = der;
    y = d2i_X509(NULL, &p, n);
    assert_non_null(y);
    ERR_clear_error(); /* the parser's note on the key it could not decode */
    X509_free(*xp);
    *xp = y;
    OPENSSL_free(der);
    OPENSSL_free(spki);
}

#define SIG       MS_LINT_SIGNING
#define ENC       MS_LINT_ENCRYPTION
#define POLICY(n) MS_OID_ARC ".1." #n

static const struct bad {
    const char *rule;
    int level;
    ms_lint_use use;
    EVP_PKEY **key;
    mutator fn;
    int nid;
    const char *v;
} bad[] = {
    {"e_version_3", 1, SIG, &rsa2048, m_version, X509_VERSION_1, NULL},
    {"e_serial_positive", 1, SIG, &rsa2048, m_serial, 16, "negative"},
    {"e_serial_positive", 1, SIG, &rsa2048, m_serial, 0, NULL},
    {"e_serial_length", 1, SIG, &rsa2048, m_serial, 8, NULL},
    {"e_validity_order", 1, SIG, &rsa2048, m_validity, 0, "past"},
    {"e_validity_max_825_days", 1, SIG, &rsa2048, m_validity, 0, "826d"},
    {"e_validity_current", 1, SIG, &rsa2048, m_validity, -49, "1y"},
    {"e_validity_current", 1, SIG, &rsa2048, m_validity, -2, "past"},
    {"e_validity_current", 1, SIG, &rsa2048, m_validity, 49, "1y"},
    {"e_extension_duplicate", 1, SIG, &rsa2048, m_ext_add, NID_ext_key_usage,
     "emailProtection"},
    {"e_critical_extension_unknown", 1, SIG, &rsa2048, m_ext_add,
     NID_netscape_comment, "critical,hello"},
    {"e_extension_must_not_be_critical", 1, SIG, &rsa2048, m_ext,
     NID_info_access, "critical,OCSP;URI:http://ocsp.example.org/v1"},
    {"e_basic_constraints_not_ca", 1, SIG, &rsa2048, m_ext,
     NID_basic_constraints, "critical,CA:TRUE"},
    {"e_key_usage_present_critical", 1, SIG, &rsa2048, m_ext, NID_key_usage,
     NULL},
    {"e_key_usage_present_critical", 1, SIG, &rsa2048, m_ext, NID_key_usage,
     "digitalSignature"},
    {"e_key_usage_present_critical", 1, SIG, &rsa2048, m_ku_garbage,
     NID_key_usage, NULL},
    {"e_key_usage_signing", 1, SIG, &rsa2048, m_ext, NID_key_usage,
     "critical,nonRepudiation"},
    {"e_key_usage_signing", 2, SIG, &rsa2048, m_ext, NID_key_usage,
     "critical,digitalSignature,keyEncipherment"},
    {"e_key_usage_signing", 3, SIG, &p256, m_ext, NID_key_usage,
     "critical,digitalSignature,keyAgreement"},
    {"e_key_usage_signing", 4, SIG, &p256, m_ext, NID_key_usage,
     "critical,digitalSignature,keyCertSign,cRLSign"},
    {"e_key_usage_encryption", 1, ENC, &rsa2048, m_ext, NID_key_usage,
     "critical,keyEncipherment,digitalSignature"},
    {"e_key_usage_encryption", 2, ENC, &rsa2048, m_ext, NID_key_usage,
     "critical,keyAgreement"},
    {"e_key_usage_encryption", 3, ENC, &p256, m_ext, NID_key_usage,
     "critical,keyEncipherment"},
    {"e_key_usage_encryption", 4, ENC, &p384, m_ext, NID_key_usage,
     "critical,keyAgreement,encipherOnly"},
    {"e_eku_only_email_protection", 1, SIG, &rsa2048, m_ext, NID_ext_key_usage,
     NULL},
    {"e_eku_only_email_protection", 1, SIG, &rsa2048, m_ext, NID_ext_key_usage,
     "emailProtection,serverAuth"},
    {"e_eku_only_email_protection", 2, ENC, &rsa2048, m_ext, NID_ext_key_usage,
     "emailProtection,anyExtendedKeyUsage"},
    {"e_eku_only_email_protection", 3, SIG, &p256, m_ext, NID_ext_key_usage,
     "clientAuth"},
    {"e_san_rfc822_present", 2, SIG, &rsa2048, m_ext, NID_subject_alt_name,
     NULL},
    {"e_san_rfc822_present", 2, SIG, &rsa2048, m_ext, NID_subject_alt_name,
     "DNS:example.org"},
    {"e_san_rfc822_only", 1, SIG, &rsa2048, m_ext, NID_subject_alt_name,
     "email:alice@example.org,DNS:example.org"},
    {"e_san_addr_spec", 1, SIG, &rsa2048, m_ext, NID_subject_alt_name,
     "email:alice@example.org,email:bob"},
    {"e_san_addr_spec", 1, SIG, &rsa2048, m_ext, NID_subject_alt_name,
     "email:alice@example.org,email:bob@localhost"},
    {"e_san_addr_spec", 1, SIG, &rsa2048, m_ext, NID_subject_alt_name,
     "email:alice@example.org,email:bob@@example.org"},
    {"e_san_addr_spec", 1, SIG, &rsa2048, m_ext, NID_subject_alt_name,
     "email:alice@example.org,email:@example.org"},
    {"e_san_addr_spec", 1, SIG, &rsa2048, m_ext, NID_subject_alt_name,
     "email:alice@example.org,email:b..ob@example.org"},
    {"e_san_addr_spec", 1, SIG, &rsa2048, m_ext, NID_subject_alt_name,
     "email:alice@example.org,email:bob@example.org."},
    {"e_san_addr_spec", 1, SIG, &rsa2048, m_ext, NID_subject_alt_name,
     "email:alice@example.org,email:b ob@example.org"},
    {"e_san_addr_spec", 1, SIG, &rsa2048, m_ext, NID_subject_alt_name,
     "email:alice@example.org,email:b\xc3\xb8\x62@example.org"},
    {"e_san_critical_empty_subject", 1, SIG, &rsa2048, m_name_only, 0, NULL},
    {"e_policy_level", 1, SIG, &rsa2048, m_ext, NID_certificate_policies, NULL},
    {"e_policy_level", 1, SIG, &rsa2048, m_ext, NID_certificate_policies,
     "2.23.140.1.5.1.3"},
    {"e_policy_level", 1, SIG, &rsa2048, m_ext, NID_certificate_policies,
     POLICY(2)},
    {"e_policy_level", 3, ENC, &p256, m_ext, NID_certificate_policies,
     POLICY(3) "," POLICY(4)},
    {"e_subject_attribute_allowed", 1, SIG, &rsa2048, m_name,
     NID_organizationName, "Example GmbH"},
    {"e_subject_attribute_allowed", 1, SIG, &rsa2048, m_name, NID_givenName,
     "Alice"},
    {"e_subject_attribute_allowed", 2, SIG, &rsa2048, m_name,
     NID_organizationName, "Example GmbH"},
    {"e_subject_attribute_allowed", 3, SIG, &rsa2048, m_name, NID_surname,
     "Example"},
    {"e_subject_attribute_allowed", 4, SIG, &rsa2048, m_name, NID_pseudonym,
     "Al"},
    {"e_subject_attribute_allowed", 4, ENC, &rsa2048, m_name,
     NID_organizationalUnitName, "IT"},
    {"e_subject_attribute_allowed", 2, SIG, &rsa2048, m_name, NID_serialNumber,
     "1234"},
    {"e_subject_email_in_san", 1, SIG, &rsa2048, m_name_only, NID_commonName,
     "bob@example.org"},
    {"e_subject_email_in_san", 1, SIG, &rsa2048, m_name_only, NID_commonName,
     "Alice Example"},
    {"e_subject_email_in_san", 4, SIG, &rsa2048, m_name, NID_pkcs9_emailAddress,
     "bob@example.org"},
    {"e_subject_country", 3, SIG, &rsa2048, m_name, NID_countryName, "de"},
    {"e_public_key_valid", 1, SIG, &p256, m_bad_point, 0, NULL},
    {"e_public_key_algorithm", 1, SIG, &ed25519, m_none, 0, NULL},
    {"e_rsa_key_size", 1, SIG, &rsa1024, m_none, 0, NULL},
    {"e_rsa_exponent_65537", 1, SIG, &rsa_e3, m_none, 0, NULL},
    {"e_ec_named_curve", 1, SIG, &k256, m_none, 0, NULL},
    {"e_ec_named_curve", 1, ENC, &k256, m_none, 0, NULL},
    {"e_aia_http", 1, SIG, &rsa2048, m_ext, NID_info_access,
     "OCSP;URI:ftp://ocsp.example.org/v1"},
    {"e_aia_http", 1, SIG, &rsa2048, m_ext, NID_info_access,
     "OCSP;URI:https://ocsp.example.org/v1"},
    {"e_aia_http", 1, SIG, &rsa2048, m_ext, NID_info_access,
     "caRepository;URI:http://ca.example.org/"},
    {"e_crl_dp_http", 1, SIG, &rsa2048, m_ext, NID_crl_distribution_points,
     "URI:ldap://ldap.example.org/cn=crl"},
};

static void
test_lint__bad_certificates_fail(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        const struct bad *b = &bad[i];
        X509 *x = good_cert(b->level, b->use, *b->key);

        print_message("case %zu: %s\n", i, b->rule);
        if (b->fn != m_none)
            assert_clean(x, b->level, b->use);
        b->fn(&x, b->nid, b->v);
        assert_fails(x, b->level, b->use, b->rule);
        X509_free(x);
    }
}

/* The same certificate passes at its own level and fails at another. */
static void
test_lint__level_must_match(void **state)
{
    X509 *x;

    (void)state;
    x = good_cert(2, MS_LINT_SIGNING, rsa2048);
    assert_clean(x, 2, MS_LINT_SIGNING);
    assert_fails(x, 3, MS_LINT_SIGNING, "e_policy_level");
    assert_fails(x, 2, MS_LINT_ENCRYPTION, "e_key_usage_encryption");
    X509_free(x);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lint__good_certificates_pass),
        cmocka_unit_test(test_lint__good_variants_pass),
        cmocka_unit_test(test_lint__boundaries_pass),
        cmocka_unit_test(test_lint__bad_arguments),
        cmocka_unit_test(test_lint__keeps_error_queue),
        cmocka_unit_test(test_lint__bad_certificates_fail),
        cmocka_unit_test(test_lint__level_must_match),
    };

    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
