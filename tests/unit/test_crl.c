/*
 * tests/unit/test_crl.c - lib/ca/crl.c and the CRL rules of ms_lint_crl():
 * a CRL built from a real store verifies against its CA and lists the
 * revoked serials with their reasons; CRL numbers increase across store
 * handles; each lint rule passes a good CRL and fails a bad one.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "ca/crl.h"
#include "ca/lint.h"
#include "ms_test.h"
#include "ms_test_ca.h"
#include "util/alloc.h"
#include "x509/info.h"

#define CA_NAME "mailseal Test V1 CA"
#define DAY     (24L * 60 * 60)
#define NOW     MS_TEST_NOW

static EVP_PKEY *ca_key;
static X509 *ca;
static EVP_PKEY *other_key;
static X509 *other_ca;
static X509 *leaf[4];

typedef struct fixture {
    char dir[64];
    char db[96];
    char url[112];
    ms_store *s;
} fixture;

static int
group_setup(void **state)
{
    EVP_PKEY *k;

    if (ms_test_library_setup(state) != 0)
        return -1;
    ca_key = ms_test_ec_key();
    ca = ms_test_make_cert(ca_key, CA_NAME, 1, NULL, NULL, MS_TEST_PROFILE_CA);
    other_key = ms_test_ec_key();
    other_ca = ms_test_make_cert(other_key, "Other CA", 1, NULL, NULL,
                                 MS_TEST_PROFILE_CA);
    k = ms_test_ec_key();
    for (int i = 0; i < 4; i++)
        leaf[i] = ms_test_make_cert(k, "leaf", 0x5a00112233445566ULL + (uint64_t)i,
                                    ca, ca_key, MS_TEST_PROFILE_LEAF);
    EVP_PKEY_free(k);
    return 0;
}

static int
group_teardown(void **state)
{
    for (int i = 0; i < 4; i++)
        X509_free(leaf[i]);
    X509_free(ca);
    X509_free(other_ca);
    EVP_PKEY_free(ca_key);
    EVP_PKEY_free(other_key);
    return ms_test_library_teardown(state);
}

static int
setup(void **state)
{
    fixture *f = calloc(1, sizeof(*f));
    ms_error err;

    assert_non_null(f);
    (void)snprintf(f->dir, sizeof(f->dir), "/tmp/ms-crl-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    (void)snprintf(f->db, sizeof(f->db), "%s/t.db", f->dir);
    (void)snprintf(f->url, sizeof(f->url), "sqlite:%s", f->db);
    if (ms_store_open(&f->s, f->url, &err) != 0)
        fail_msg("ms_store_open: %s", err.msg);
    for (int i = 0; i < 4; i++)
        ms_test_store_cert(f->s, leaf[i], CA_NAME);
    *state = f;
    return 0;
}

static int
teardown(void **state)
{
    fixture *f = *state;
    char path[128];

    ms_store_close(f->s);
    for (size_t i = 0; i < 3; i++) {
        static const char *const ext[] = {"", "-wal", "-shm"};

        (void)snprintf(path, sizeof(path), "%s%s", f->db, ext[i]);
        (void)unlink(path); /* some never exist */
    }
    (void)rmdir(f->dir);
    free(f);
    return 0;
}

static void
revoke(fixture *f, X509 *x, int reason, time_t at)
{
    char *hex = ms_test_serial_hex(x);
    ms_error err;

    if (ms_store_cert_revoke(f->s, CA_NAME, hex, reason, at, &err) != 0)
        fail_msg("revoke: %s", err.msg);
    ms_free(hex);
}

static X509_CRL *
decode(const ms_buf *der)
{
    const unsigned char *p = der->data;
    X509_CRL *crl = d2i_X509_CRL(NULL, &p, (long)der->len);

    assert_non_null(crl);
    assert_ptr_equal(p, der->data + der->len);
    return crl;
}

static uint64_t
crl_number(X509_CRL *crl)
{
    ASN1_INTEGER *n = X509_CRL_get_ext_d2i(crl, NID_crl_number, NULL, NULL);
    uint64_t v = 0;

    assert_non_null(n);
    assert_int_equal(ASN1_INTEGER_get_uint64(&v, n), 1);
    ASN1_INTEGER_free(n);
    return v;
}

/* The reason of serial of x on crl: -1 absent, -2 not listed. */
static int
listed_reason(X509_CRL *crl, X509 *x)
{
    X509_REVOKED *rev = NULL;
    ASN1_ENUMERATED *e;
    int crit;
    int reason;

    if (X509_CRL_get0_by_serial(crl, &rev, X509_get0_serialNumber(x)) != 1)
        return -2;
    e = X509_REVOKED_get_ext_d2i(rev, NID_crl_reason, &crit, NULL);
    if (e == NULL) {
        assert_int_equal(crit, -1);
        return -1;
    }
    assert_int_equal(crit, 0);
    reason = (int)ASN1_ENUMERATED_get(e);
    ASN1_ENUMERATED_free(e);
    return reason;
}

static uint64_t
audit_rows(ms_store *s)
{
    uint64_t rows = 0;
    ms_error err;

    assert_int_equal(ms_store_audit_verify(s, &rows, &err), 0);
    return rows;
}

static void
test_crl__lists_revoked_with_reasons(void **state)
{
    fixture *f = *state;
    ms_buf der;
    ms_error err;
    X509_CRL *crl;
    time_t t;
    uint64_t rows;

    revoke(f, leaf[0], 1, NOW - DAY);     /* keyCompromise */
    revoke(f, leaf[1], 0, NOW - 2 * DAY); /* unspecified */
    revoke(f, leaf[2], 4, NOW - 3600);    /* superseded */
    rows = audit_rows(f->s);
    ms_buf_init(&der, 1024 * 1024);
    if (ms_crl_build(ca, ca_key, CA_NAME, f->s, NOW, 7 * DAY, &der, &err) != 0)
        fail_msg("ms_crl_build: %s", err.msg);
    assert_int_equal(ERR_peek_error(), 0);
    crl = decode(&der);
    assert_int_equal(X509_CRL_verify(crl, X509_get0_pubkey(ca)), 1);
    assert_int_equal(X509_CRL_get_version(crl), X509_CRL_VERSION_2);
    assert_int_equal(X509_NAME_cmp(X509_CRL_get_issuer(crl),
                                   X509_get_subject_name(ca)),
                     0);
    assert_int_equal(sk_X509_REVOKED_num(X509_CRL_get_REVOKED(crl)), 3);
    assert_int_equal(listed_reason(crl, leaf[0]), 1);
    assert_int_equal(listed_reason(crl, leaf[1]), -1);
    assert_int_equal(listed_reason(crl, leaf[2]), 4);
    assert_int_equal(listed_reason(crl, leaf[3]), -2);
    assert_true(ms_asn1_time_epoch(X509_CRL_get0_lastUpdate(crl), &t));
    assert_int_equal(t, NOW);
    assert_true(ms_asn1_time_epoch(X509_CRL_get0_nextUpdate(crl), &t));
    assert_int_equal(t, NOW + 7 * DAY);
    assert_int_equal(crl_number(crl), 1);
    assert_int_equal(audit_rows(f->s), rows + 1);
    X509_CRL_free(crl);
    ms_buf_cleanup(&der);
}

static void
test_crl__number_increases_across_handles(void **state)
{
    fixture *f = *state;
    ms_store *s2 = NULL;
    ms_buf der;
    ms_error err;
    X509_CRL *crl;

    ms_buf_init(&der, 1024 * 1024);
    for (uint64_t want = 1; want <= 3; want++) {
        assert_int_equal(
            ms_crl_build(ca, ca_key, CA_NAME, f->s, NOW, DAY, &der, &err), 0);
        crl = decode(&der);
        assert_int_equal(crl_number(crl), want);
        assert_true(sk_X509_REVOKED_num(X509_CRL_get_REVOKED(crl)) <= 0);
        X509_CRL_free(crl);
    }
    /* A restart: a new handle on the same database goes on counting. */
    ms_store_close(f->s);
    f->s = NULL;
    assert_int_equal(ms_store_open(&s2, f->url, &err), 0);
    f->s = s2;
    assert_int_equal(ms_crl_build(ca, ca_key, CA_NAME, f->s, NOW, DAY, &der,
                                  &err),
                     0);
    crl = decode(&der);
    assert_int_equal(crl_number(crl), 4);
    X509_CRL_free(crl);
    ms_buf_cleanup(&der);
}

static void
test_crl__later_revocation_waits(void **state)
{
    fixture *f = *state;
    ms_buf der;
    ms_error err;
    X509_CRL *crl;

    revoke(f, leaf[0], 1, NOW + 60);
    ms_buf_init(&der, 1024 * 1024);
    assert_int_equal(
        ms_crl_build(ca, ca_key, CA_NAME, f->s, NOW, DAY, &der, &err), 0);
    crl = decode(&der);
    assert_int_equal(listed_reason(crl, leaf[0]), -2);
    X509_CRL_free(crl);
    assert_int_equal(
        ms_crl_build(ca, ca_key, CA_NAME, f->s, NOW + 60, DAY, &der, &err), 0);
    crl = decode(&der);
    assert_int_equal(listed_reason(crl, leaf[0]), 1);
    X509_CRL_free(crl);
    ms_buf_cleanup(&der);
}

static void
test_crl__refusals(void **state)
{
    fixture *f = *state;
    ms_buf der;
    ms_error err;
    uint64_t rows = audit_rows(f->s);

    ms_buf_init(&der, 1024 * 1024);
    assert_int_equal(ms_crl_build(ca, ca_key, CA_NAME, f->s, NOW, 11 * DAY,
                                  &der, &err),
                     MS_EPOLICY);
    assert_non_null(strstr(err.msg, "e_crl_next_update"));
    assert_int_equal(der.len, 0);
    assert_int_equal(
        ms_crl_build(ca, ca_key, CA_NAME, f->s, NOW, 0, &der, &err), MS_EINVAL);
    assert_int_equal(ms_crl_build(ca, other_key, CA_NAME, f->s, NOW, DAY, &der,
                                  &err),
                     MS_EINVAL);
    assert_int_equal(der.len, 0);
    assert_int_equal(audit_rows(f->s), rows); /* nothing issued */
    /* The number the refused CRL took is skipped, never reused. */
    assert_int_equal(
        ms_crl_build(ca, ca_key, CA_NAME, f->s, NOW, DAY, &der, &err), 0);
    assert_int_equal(ERR_peek_error(), 0);
    ms_buf_cleanup(&der);
}

static void
test_crl__der_buffer_too_small(void **state)
{
    fixture *f = *state;
    ms_buf der;
    ms_error err;

    ms_buf_init(&der, 16);
    assert_int_equal(
        ms_crl_build(ca, ca_key, CA_NAME, f->s, NOW, DAY, &der, &err),
        MS_ETOOBIG);
    assert_int_equal(der.len, 0);
    ms_buf_cleanup(&der);
}

static void
test_crl__allocation_failures(void **state)
{
    fixture *f = *state;
    ms_buf der;
    ms_error err;
    int rc = -1;

    revoke(f, leaf[0], 1, NOW - DAY);
    ms_buf_init(&der, 1024 * 1024);
    for (size_t n = 1; n < 200 && rc != 0; n++) {
        (void)ms_alloc_fail_at(n);
        rc = ms_crl_build(ca, ca_key, CA_NAME, f->s, NOW, DAY, &der, &err);
        (void)ms_alloc_fail_at(0);
        if (rc != 0)
            assert_true(rc == MS_ENOMEM || rc == MS_EIO);
    }
    assert_int_equal(rc, 0);
    ms_buf_cleanup(&der);
}

/* ---- the lint rules, one good and one bad CRL each ---- */

static X509_REVOKED *
entry(uint64_t serial, time_t at, int reason, int crit)
{
    X509_REVOKED *rev = X509_REVOKED_new();
    ASN1_INTEGER *s = ASN1_INTEGER_new();
    ASN1_TIME *t = ASN1_TIME_set(NULL, at);

    assert_non_null(rev);
    assert_non_null(s);
    assert_non_null(t);
    assert_int_equal(ASN1_INTEGER_set_uint64(s, serial), 1);
    assert_int_equal(X509_REVOKED_set_serialNumber(rev, s), 1);
    assert_int_equal(X509_REVOKED_set_revocationDate(rev, t), 1);
    if (reason >= 0) {
        ASN1_ENUMERATED *e = ASN1_ENUMERATED_new();

        assert_non_null(e);
        assert_int_equal(ASN1_ENUMERATED_set(e, reason), 1);
        assert_int_equal(
            X509_REVOKED_add1_ext_i2d(rev, NID_crl_reason, e, crit, 0), 1);
        ASN1_ENUMERATED_free(e);
    }
    ASN1_INTEGER_free(s);
    ASN1_TIME_free(t);
    return rev;
}

static void
add_aki(X509_CRL *crl, X509 *issuer, int crit)
{
    AUTHORITY_KEYID *akid = AUTHORITY_KEYID_new();

    assert_non_null(akid);
    akid->keyid = ASN1_OCTET_STRING_dup(X509_get0_subject_key_id(issuer));
    assert_non_null(akid->keyid);
    assert_int_equal(X509_CRL_add1_ext_i2d(crl, NID_authority_key_identifier,
                                           akid, crit, X509V3_ADD_REPLACE),
                     1);
    AUTHORITY_KEYID_free(akid);
}

static void
set_number(X509_CRL *crl, long v)
{
    ASN1_INTEGER *n = ASN1_INTEGER_new();

    assert_non_null(n);
    assert_int_equal(ASN1_INTEGER_set(n, v), 1);
    assert_int_equal(
        X509_CRL_add1_ext_i2d(crl, NID_crl_number, n, 0, X509V3_ADD_REPLACE), 1);
    ASN1_INTEGER_free(n);
}

static void
set_times(X509_CRL *crl, time_t t0, time_t t1)
{
    ASN1_TIME *a = ASN1_TIME_set(NULL, t0);
    ASN1_TIME *b = ASN1_TIME_set(NULL, t1);

    assert_int_equal(X509_CRL_set1_lastUpdate(crl, a), 1);
    assert_int_equal(X509_CRL_set1_nextUpdate(crl, b), 1);
    ASN1_TIME_free(a);
    ASN1_TIME_free(b);
}

/* A good unsigned CRL of ca with two sorted entries. */
static X509_CRL *
good_crl(void)
{
    X509_CRL *crl = X509_CRL_new();

    assert_non_null(crl);
    assert_int_equal(X509_CRL_set_version(crl, X509_CRL_VERSION_2), 1);
    assert_int_equal(X509_CRL_set_issuer_name(crl, X509_get_subject_name(ca)),
                     1);
    set_times(crl, NOW, NOW + 7 * DAY);
    assert_int_equal(X509_CRL_add0_revoked(crl, entry(0x1001, NOW - DAY, 1, 0)),
                     1);
    assert_int_equal(X509_CRL_add0_revoked(crl, entry(0x1002, NOW, -1, 0)), 1);
    add_aki(crl, ca, 0);
    set_number(crl, 5);
    return crl;
}

static void
expect_rule(X509_CRL *crl, X509 *issuer, const char *rule)
{
    ms_lint_report rep;
    int rc = ms_lint_crl(&rep, crl, issuer);

    if (rule == NULL) {
        if (rc != 0)
            fail_msg("good CRL refused: %s", rep.first);
        assert_int_equal(rep.count, 0);
    } else {
        assert_int_equal(rc, MS_EPOLICY);
        if (strncmp(rep.first, rule, strlen(rule)) != 0)
            fail_msg("expected %s, got \"%s\"", rule, rep.first);
    }
    assert_int_equal(ERR_peek_error(), 0);
    X509_CRL_free(crl);
}

static void
test_crl__lint_good(void **state)
{
    (void)state;
    expect_rule(good_crl(), ca, NULL);
}

static void
test_crl__lint_version(void **state)
{
    X509_CRL *crl = good_crl();

    (void)state;
    assert_int_equal(X509_CRL_set_version(crl, X509_CRL_VERSION_1), 1);
    expect_rule(crl, ca, "e_crl_version_2");
}

static void
test_crl__lint_issuer_name(void **state)
{
    X509_CRL *crl = good_crl();

    (void)state;
    assert_int_equal(
        X509_CRL_set_issuer_name(crl, X509_get_subject_name(other_ca)), 1);
    expect_rule(crl, ca, "e_crl_issuer_name");
}

static void
test_crl__lint_aki(void **state)
{
    X509_CRL *crl = good_crl();

    (void)state;
    X509_EXTENSION_free(X509_CRL_delete_ext(
        crl, X509_CRL_get_ext_by_NID(crl, NID_authority_key_identifier, -1)));
    expect_rule(crl, ca, "e_crl_aki");
    crl = good_crl();
    add_aki(crl, other_ca, 0);
    expect_rule(crl, ca, "e_crl_aki");
    crl = good_crl();
    add_aki(crl, ca, 1);
    expect_rule(crl, ca, "e_crl_aki");
}

static void
test_crl__lint_number(void **state)
{
    X509_CRL *crl = good_crl();

    (void)state;
    X509_EXTENSION_free(X509_CRL_delete_ext(
        crl, X509_CRL_get_ext_by_NID(crl, NID_crl_number, -1)));
    expect_rule(crl, ca, "e_crl_number");
    crl = good_crl();
    set_number(crl, 0);
    expect_rule(crl, ca, "e_crl_number");
    crl = good_crl();
    set_number(crl, -3);
    expect_rule(crl, ca, "e_crl_number");
}

static void
test_crl__lint_next_update(void **state)
{
    X509_CRL *crl = good_crl();

    (void)state;
    set_times(crl, NOW, NOW + 10 * DAY); /* the limit itself is fine */
    expect_rule(crl, ca, NULL);
    crl = good_crl();
    set_times(crl, NOW, NOW + 10 * DAY + 1);
    expect_rule(crl, ca, "e_crl_next_update");
    crl = good_crl();
    set_times(crl, NOW, NOW);
    expect_rule(crl, ca, "e_crl_next_update");
}

static void
test_crl__lint_critical_extension(void **state)
{
    X509_CRL *crl = good_crl();
    ASN1_OCTET_STRING *v = ASN1_OCTET_STRING_new();
    ASN1_OBJECT *obj = OBJ_txt2obj("1.3.6.1.4.1.99999.1", 1);
    X509_EXTENSION *e;

    (void)state;
    assert_non_null(v);
    assert_non_null(obj);
    assert_int_equal(ASN1_OCTET_STRING_set(v, (const unsigned char *)"\x05\x00",
                                           2),
                     1);
    e = X509_EXTENSION_create_by_OBJ(NULL, obj, 1, v);
    assert_non_null(e);
    assert_int_equal(X509_CRL_add_ext(crl, e, -1), 1);
    expect_rule(crl, ca, "e_crl_extensions");
    X509_EXTENSION_free(e);
    ASN1_OBJECT_free(obj);
    ASN1_OCTET_STRING_free(v);
}

static void
test_crl__lint_entries(void **state)
{
    static const int bad_reasons[] = {0, 7, 8, 11};
    X509_CRL *crl;

    (void)state;
    for (size_t i = 0; i < sizeof(bad_reasons) / sizeof(bad_reasons[0]); i++) {
        crl = good_crl();
        assert_int_equal(X509_CRL_add0_revoked(
                             crl, entry(0x2000, NOW, bad_reasons[i], 0)),
                         1);
        expect_rule(crl, ca, "e_crl_entries");
    }
    crl = good_crl(); /* a critical reasonCode */
    assert_int_equal(X509_CRL_add0_revoked(crl, entry(0x2000, NOW, 1, 1)), 1);
    expect_rule(crl, ca, "e_crl_entries");
    crl = good_crl(); /* revoked after thisUpdate */
    assert_int_equal(X509_CRL_add0_revoked(crl, entry(0x2000, NOW + 1, 1, 0)),
                     1);
    expect_rule(crl, ca, "e_crl_entries");
    crl = good_crl(); /* a duplicate serial */
    assert_int_equal(X509_CRL_add0_revoked(crl, entry(0x1002, NOW, 1, 0)), 1);
    expect_rule(crl, ca, "e_crl_entries");
    crl = good_crl(); /* serial zero */
    assert_int_equal(X509_CRL_add0_revoked(crl, entry(0, NOW, 1, 0)), 1);
    assert_int_equal(X509_CRL_sort(crl), 1);
    expect_rule(crl, ca, "e_crl_entries");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_crl__lists_revoked_with_reasons,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_crl__number_increases_across_handles, setup, teardown),
        cmocka_unit_test_setup_teardown(test_crl__later_revocation_waits,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_crl__refusals, setup, teardown),
        cmocka_unit_test_setup_teardown(test_crl__der_buffer_too_small, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_crl__allocation_failures, setup,
                                        teardown),
        cmocka_unit_test(test_crl__lint_good),
        cmocka_unit_test(test_crl__lint_version),
        cmocka_unit_test(test_crl__lint_issuer_name),
        cmocka_unit_test(test_crl__lint_aki),
        cmocka_unit_test(test_crl__lint_number),
        cmocka_unit_test(test_crl__lint_next_update),
        cmocka_unit_test(test_crl__lint_critical_extension),
        cmocka_unit_test(test_crl__lint_entries),
    };

    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
