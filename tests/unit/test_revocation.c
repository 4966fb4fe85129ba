/* tests/unit/test_revocation.c - lib/x509/revocation.c: CRL checks. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <mailseal/mailseal.h>

#include "ms_test.h"
#include "x509/load.h"
#include "x509/revocation.h"

typedef struct fixture {
    X509 *ca;
    STACK_OF(X509_CRL) *crls;
} fixture;

static int
setup(void **state)
{
    fixture *f = test_calloc(1, sizeof(*f));

    f->ca = ms_test_cert("ca-v1.pem");
    f->crls = sk_X509_CRL_new_null();
    assert_non_null(f->crls);
    *state = f;
    return 0;
}

static int
teardown(void **state)
{
    fixture *f = *state;

    X509_free(f->ca);
    sk_X509_CRL_pop_free(f->crls, X509_CRL_free);
    test_free(f);
    return 0;
}

static void
add_crls(fixture *f, const char *name)
{
    ms_error err;

    if (ms_x509_load_crls(f->crls, ms_test_pki(name), &err) != 0)
        fail_msg("%s: %s", name, err.msg);
}

static ms_rev_answer
check(fixture *f, const char *cert, time_t now)
{
    ms_rev_answer a;
    X509 *x = ms_test_cert(cert);

    memset(&a, 0, sizeof(a));
    a.reason = -1;
    ms_rev_check_crl(&a, x, f->ca, f->crls, now);
    X509_free(x);
    assert_int_equal(ERR_peek_error(), 0);
    return a;
}

static void
test_revocation__good(void **state)
{
    fixture *f = *state;
    ms_rev_answer a;

    add_crls(f, "ca-v1.crl.pem");
    a = check(f, "v1-sign.pem", time(NULL));
    assert_int_equal(a.status, MS_REV_GOOD);
    assert_true(a.named);
    assert_int_equal(a.reason, -1);
}

static void
test_revocation__revoked_key_compromise(void **state)
{
    fixture *f = *state;
    ms_rev_answer a;
    time_t now = time(NULL);

    add_crls(f, "ca-v1.crl.pem");
    a = check(f, "revoked.pem", now);
    assert_int_equal(a.status, MS_REV_REVOKED);
    assert_true(a.named);
    assert_int_equal(a.reason, MS_REASON_KEY_COMPROMISE);
    assert_true(a.revoked_at > 1704067200 && a.revoked_at <= now);
}

static void
test_revocation__revoked_superseded(void **state)
{
    fixture *f = *state;
    ms_rev_answer a;

    add_crls(f, "ca-v1.crl.pem");
    a = check(f, "superseded.pem", time(NULL));
    assert_int_equal(a.status, MS_REV_REVOKED);
    assert_int_equal(a.reason, 4); /* superseded */
}

static void
test_revocation__der_crl(void **state)
{
    fixture *f = *state;
    ms_rev_answer a;

    add_crls(f, "ca-v1.crl.der");
    a = check(f, "revoked.pem", time(NULL));
    assert_int_equal(a.status, MS_REV_REVOKED);
}

static void
test_revocation__stale(void **state)
{
    fixture *f = *state;
    ms_rev_answer a;

    add_crls(f, "ca-v1-stale.crl.pem");
    a = check(f, "v1-sign.pem", time(NULL));
    assert_int_equal(a.status, MS_REV_UNKNOWN);
    assert_true(a.named);
    assert_non_null(strstr(a.why, "not current"));
    /* Within its validity (2024-01-01..2024-02-01) the same CRL answers. */
    a = check(f, "v1-sign.pem", 1705276800); /* 2024-01-15 */
    assert_int_equal(a.status, MS_REV_GOOD);
    /* Not yet valid. */
    a = check(f, "v1-sign.pem", 1672531200); /* 2023-01-01 */
    assert_int_equal(a.status, MS_REV_UNKNOWN);
}

static void
test_revocation__current_wins_over_stale(void **state)
{
    fixture *f = *state;
    ms_rev_answer a;

    add_crls(f, "ca-v1-stale.crl.pem");
    add_crls(f, "ca-v1.crl.pem");
    a = check(f, "revoked.pem", time(NULL));
    assert_int_equal(a.status, MS_REV_REVOKED);
    a = check(f, "v1-sign.pem", time(NULL));
    assert_int_equal(a.status, MS_REV_GOOD);
}

/* The ca-v1 CRL, re-signed with a key that is not ca-v1's. */
static X509_CRL *
forged_crl(void)
{
    FILE *fp;
    X509_CRL *crl;
    EVP_PKEY *key;

    assert_non_null(fp = fopen(ms_test_pki("ca-v1.crl.pem"), "rb"));
    crl = PEM_read_X509_CRL(fp, NULL, NULL, NULL);
    (void)fclose(fp); /* read-only stream */
    assert_non_null(crl);
    assert_non_null(fp = fopen(ms_test_pki("other-root.key"), "rb"));
    key = PEM_read_PrivateKey(fp, NULL, NULL, NULL);
    (void)fclose(fp); /* read-only stream */
    assert_non_null(key);
    assert_true(X509_CRL_sign(crl, key, EVP_sha256()) > 0);
    EVP_PKEY_free(key);
    return crl;
}

static void
test_revocation__bad_signature(void **state)
{
    fixture *f = *state;
    ms_rev_answer a;

    assert_true(sk_X509_CRL_push(f->crls, forged_crl()) > 0);
    /* A forged CRL proves nothing: not even that revoked.pem is revoked. */
    a = check(f, "revoked.pem", time(NULL));
    assert_int_equal(a.status, MS_REV_UNKNOWN);
    assert_true(a.named);
    assert_non_null(strstr(a.why, "bad signature"));
    a = check(f, "v1-sign.pem", time(NULL));
    assert_int_equal(a.status, MS_REV_UNKNOWN);
}

static void
test_revocation__other_issuer_not_checked(void **state)
{
    fixture *f = *state;
    ms_rev_answer a;

    add_crls(f, "ca-v2.crl.pem");
    add_crls(f, "root.crl.pem");
    a = check(f, "v1-sign.pem", time(NULL));
    assert_int_equal(a.status, MS_REV_NOT_CHECKED);
    assert_false(a.named);
    sk_X509_CRL_pop_free(f->crls, X509_CRL_free);
    f->crls = sk_X509_CRL_new_null();
    a = check(f, "v1-sign.pem", time(NULL));
    assert_int_equal(a.status, MS_REV_NOT_CHECKED);
    assert_false(a.named);
}

static void
test_revocation__ca_checked_against_root_crl(void **state)
{
    fixture *f = *state;
    ms_rev_answer a;
    X509 *root = ms_test_cert("root.pem");

    add_crls(f, "root.crl.pem");
    memset(&a, 0, sizeof(a));
    a.reason = -1;
    ms_rev_check_crl(&a, f->ca, root, f->crls, time(NULL));
    assert_int_equal(a.status, MS_REV_GOOD);
    X509_free(root);
    assert_int_equal(ERR_peek_error(), 0);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int
main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_revocation__good),
        T(test_revocation__revoked_key_compromise),
        T(test_revocation__revoked_superseded),
        T(test_revocation__der_crl),
        T(test_revocation__stale),
        T(test_revocation__current_wins_over_stale),
        T(test_revocation__bad_signature),
        T(test_revocation__other_issuer_not_checked),
        T(test_revocation__ca_checked_against_root_crl),
    };

    return cmocka_run_group_tests(tests, ms_test_library_setup,
                                  ms_test_library_teardown);
}
