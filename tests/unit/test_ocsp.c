/*
 * tests/unit/test_ocsp.c - lib/ca/ocsp.c and ms_lint_ocsp_response():
 * requests built with OpenSSL's OCSP API against a store in a temp file,
 * answers verified with OCSP_basic_verify() against the CA; the cache,
 * its refresh and its invalidation by a revocation through another store
 * handle; malformed input; the lint refusal; the batched audit rows.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include <openssl/err.h>
#include <openssl/ocsp.h>
#include <openssl/x509v3.h>

#include "ca/lint.h"
#include "ca/ocsp.h"
#include "ms_test.h"
#include "ms_test_ca.h"
#include "util/alloc.h"
#include "x509/info.h"

#define CA1_NAME "mailseal Test V1 CA"
#define CA2_NAME "mailseal Test V2 CA"
#define DAY      (24L * 60 * 60)
#define NOW      MS_TEST_NOW
#define RESP_MAX (64 * 1024)

static EVP_PKEY *ca1_key, *ca2_key, *other_key, *resp1_key, *resp2_key;
static EVP_PKEY *leaf_key;
static X509 *ca1, *ca2, *other_ca, *resp1, *resp2;
static X509 *good, *revoked, *good2, *stranger;

typedef struct fixture {
    char dir[64];
    char db[96];
    char url[112];
    ms_store *s;
    ms_ocsp_responder *r;
    ms_ocsp_options opt;
    time_t now;
} fixture;

static int
group_setup(void **state)
{
    if (ms_test_library_setup(state) != 0)
        return -1;
    ca1_key = ms_test_ec_key();
    ca2_key = ms_test_ec_key();
    other_key = ms_test_ec_key();
    resp1_key = ms_test_ec_key();
    resp2_key = ms_test_ec_key();
    leaf_key = ms_test_ec_key();
    ca1 = ms_test_make_cert(ca1_key, CA1_NAME, 1, NULL, NULL,
                            MS_TEST_PROFILE_CA);
    ca2 = ms_test_make_cert(ca2_key, CA2_NAME, 1, NULL, NULL,
                            MS_TEST_PROFILE_CA);
    other_ca = ms_test_make_cert(other_key, "Other CA", 1, NULL, NULL,
                                 MS_TEST_PROFILE_CA);
    resp1 = ms_test_make_cert(resp1_key, "V1 OCSP", 2, ca1, ca1_key,
                              MS_TEST_PROFILE_OCSP);
    resp2 = ms_test_make_cert(resp2_key, "V2 OCSP", 2, ca2, ca2_key,
                              MS_TEST_PROFILE_OCSP);
    good = ms_test_make_cert(leaf_key, "good", 0x5a0a1b2c3d4e5f71ULL, ca1,
                             ca1_key, MS_TEST_PROFILE_LEAF);
    revoked = ms_test_make_cert(leaf_key, "revoked", 0x5a0a1b2c3d4e5f72ULL,
                                ca1, ca1_key, MS_TEST_PROFILE_LEAF);
    good2 = ms_test_make_cert(leaf_key, "good2", 0x6b0a1b2c3d4e5f73ULL, ca2,
                              ca2_key, MS_TEST_PROFILE_LEAF);
    stranger = ms_test_make_cert(leaf_key, "stranger", 0x5a0a1b2c3d4e5f71ULL,
                                 other_ca, other_key, MS_TEST_PROFILE_LEAF);
    return 0;
}

static int
group_teardown(void **state)
{
    X509 *certs[] = {ca1, ca2, other_ca, resp1, resp2,
                     good, revoked, good2, stranger};
    EVP_PKEY *keys[] = {ca1_key, ca2_key, other_key, resp1_key, resp2_key,
                        leaf_key};

    for (size_t i = 0; i < sizeof(certs) / sizeof(certs[0]); i++)
        X509_free(certs[i]);
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
        EVP_PKEY_free(keys[i]);
    return ms_test_library_teardown(state);
}

static void
make_responder(fixture *f)
{
    ms_error err;

    ms_ocsp_responder_free(f->r);
    f->r = NULL;
    if (ms_ocsp_responder_new(&f->r, &f->opt, &err) != 0 ||
        ms_ocsp_responder_add_issuer(f->r, ca1, CA1_NAME, resp1, resp1_key,
                                     &err) != 0 ||
        ms_ocsp_responder_add_issuer(f->r, ca2, CA2_NAME, resp2, resp2_key,
                                     &err) != 0)
        fail_msg("responder: %s", err.msg);
}

static int
setup(void **state)
{
    static const ms_ocsp_options init = MS_OCSP_OPTIONS_INIT;
    fixture *f = calloc(1, sizeof(*f));
    ms_error err;

    assert_non_null(f);
    (void)snprintf(f->dir, sizeof(f->dir), "/tmp/ms-ocsp-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    (void)snprintf(f->db, sizeof(f->db), "%s/t.db", f->dir);
    (void)snprintf(f->url, sizeof(f->url), "sqlite:%s", f->db);
    if (ms_store_open(&f->s, f->url, &err) != 0)
        fail_msg("ms_store_open: %s", err.msg);
    ms_test_store_cert(f->s, good, CA1_NAME);
    ms_test_store_cert(f->s, revoked, CA1_NAME);
    ms_test_store_cert(f->s, good2, CA2_NAME);
    f->now = NOW;
    f->opt = init;
    f->opt.clock = ms_test_clock;
    f->opt.clock_arg = &f->now;
    make_responder(f);
    *state = f;
    return 0;
}

static int
teardown(void **state)
{
    static const char *const ext[] = {"", "-wal", "-shm"};
    fixture *f = *state;
    char path[128];

    ms_ocsp_responder_free(f->r);
    ms_store_close(f->s);
    for (size_t i = 0; i < 3; i++) {
        (void)snprintf(path, sizeof(path), "%s%s", f->db, ext[i]);
        (void)unlink(path); /* some never exist */
    }
    (void)rmdir(f->dir);
    free(f);
    return 0;
}

/* ---- requests and answers ---- */

static OCSP_CERTID *
certid(const EVP_MD *md, const ASN1_INTEGER *serial, X509 *issuer)
{
    OCSP_CERTID *id = OCSP_cert_id_new(md, X509_get_subject_name(issuer),
                                       X509_get0_pubkey_bitstr(issuer), serial);

    assert_non_null(id);
    return id;
}

/* A request for x (issued by issuer), SHA-1 CertID, with or without nonce. */
static OCSP_REQUEST *
request(X509 *x, X509 *issuer, bool nonce)
{
    OCSP_REQUEST *req = OCSP_REQUEST_new();

    assert_non_null(req);
    assert_non_null(OCSP_request_add0_id(
        req, certid(EVP_sha1(), X509_get0_serialNumber(x), issuer)));
    if (nonce)
        assert_int_equal(OCSP_request_add1_nonce(req, NULL, -1), 1);
    return req;
}

static void
encode(OCSP_REQUEST *req, ms_buf *out)
{
    unsigned char *der = NULL;
    int n = i2d_OCSP_REQUEST(req, &der);

    assert_true(n > 0);
    ms_buf_reset(out);
    assert_int_equal(ms_buf_append(out, der, (size_t)n), 0);
    OPENSSL_free(der);
}

/* Adds the (unknown to us) CrlID extension to req. */
static void
add_crlid(OCSP_REQUEST *req, int crit)
{
    OCSP_CRLID *id = OCSP_CRLID_new();

    assert_non_null(id);
    assert_int_equal(OCSP_REQUEST_add1_ext_i2d(req, NID_id_pkix_OCSP_CrlID, id,
                                               crit, X509V3_ADD_DEFAULT),
                     1);
    OCSP_CRLID_free(id);
}

static int
ask_bytes(fixture *f, const ms_buf *der, ms_buf *resp, ms_error *err)
{
    return ms_ocsp_respond(f->r, f->s, der->data, der->len, resp, err);
}

/* Answers req; fails the test unless the call returns want. */
static void
ask(fixture *f, OCSP_REQUEST *req, ms_buf *resp, int want)
{
    ms_buf der;
    ms_error err;
    int rc;

    ms_buf_init(&der, 0);
    encode(req, &der);
    rc = ask_bytes(f, &der, resp, &err);
    if (rc != want)
        fail_msg("ms_ocsp_respond: %d, wanted %d (%s)", rc, want,
                 rc != 0 ? err.msg : "");
    if (rc == 0)
        assert_int_equal(ERR_peek_error(), 0);
    ms_buf_cleanup(&der);
}

static int
response_status(const ms_buf *resp)
{
    const unsigned char *p = resp->data;
    OCSP_RESPONSE *r = d2i_OCSP_RESPONSE(NULL, &p, (long)resp->len);
    int status;

    assert_non_null(r);
    assert_ptr_equal(p, resp->data + resp->len);
    status = OCSP_response_status(r);
    OCSP_RESPONSE_free(r);
    return status;
}

/* The BasicOCSPResponse of resp, verified against ca (OCSPSigning
 * delegation included). */
static OCSP_BASICRESP *
verified(const ms_buf *resp, X509 *ca)
{
    const unsigned char *p = resp->data;
    OCSP_RESPONSE *r = d2i_OCSP_RESPONSE(NULL, &p, (long)resp->len);
    X509_STORE *st = X509_STORE_new();
    OCSP_BASICRESP *bs;

    assert_non_null(r);
    assert_non_null(st);
    assert_int_equal(OCSP_response_status(r), OCSP_RESPONSE_STATUS_SUCCESSFUL);
    bs = OCSP_response_get1_basic(r);
    assert_non_null(bs);
    assert_int_equal(X509_STORE_add_cert(st, ca), 1);
    if (OCSP_basic_verify(bs, NULL, st, 0) != 1)
        fail_msg("OCSP_basic_verify failed");
    X509_STORE_free(st);
    OCSP_RESPONSE_free(r);
    return bs;
}

typedef struct single {
    int status;
    int reason;
    time_t revoked_at;
    time_t this_update;
    time_t next_update;
} single;

/* The status of req's first CertID in resp, verified against ca. */
static single
status_of(const ms_buf *resp, OCSP_REQUEST *req, X509 *ca)
{
    OCSP_BASICRESP *bs = verified(resp, ca);
    ASN1_GENERALIZEDTIME *rev = NULL, *t0 = NULL, *t1 = NULL;
    single s = {-1, -1, 0, 0, 0};
    const ASN1_OCTET_STRING *keyid = NULL;
    const X509_NAME *name = NULL;

    assert_int_equal(
        OCSP_resp_find_status(bs,
                              OCSP_onereq_get0_id(
                                  OCSP_request_onereq_get0(req, 0)),
                              &s.status, &s.reason, &rev, &t0, &t1),
        1);
    assert_true(ms_asn1_time_epoch(t0, &s.this_update));
    assert_true(ms_asn1_time_epoch(t1, &s.next_update));
    if (rev != NULL)
        assert_true(ms_asn1_time_epoch(rev, &s.revoked_at));
    assert_int_equal(OCSP_resp_get0_id(bs, &keyid, &name), 1);
    assert_non_null(keyid); /* byKey */
    assert_true(OCSP_check_nonce(req, bs) > 0);
    OCSP_BASICRESP_free(bs);
    return s;
}

static uint64_t
signatures(fixture *f)
{
    ms_ocsp_stats st;

    ms_ocsp_responder_get_stats(f->r, &st);
    return st.signatures;
}

static void
revoke(ms_store *s, X509 *x, int reason, time_t at)
{
    char *hex = ms_test_serial_hex(x);
    ms_error err;

    if (ms_store_cert_revoke(s, CA1_NAME, hex, reason, at, &err) != 0)
        fail_msg("revoke: %s", err.msg);
    ms_free(hex);
}

/* ---- answers ---- */

static void
test_ocsp__good_with_nonce(void **state)
{
    fixture *f = *state;
    OCSP_REQUEST *req = request(good, ca1, true);
    OCSP_BASICRESP *bs;
    const ASN1_OBJECT *alg = NULL;
    ms_buf resp;
    single s;

    ms_buf_init(&resp, RESP_MAX);
    ask(f, req, &resp, 0);
    s = status_of(&resp, req, ca1);
    assert_int_equal(s.status, V_OCSP_CERTSTATUS_GOOD);
    assert_int_equal(s.this_update, NOW);
    assert_int_equal(s.next_update, NOW + DAY);
    bs = verified(&resp, ca1);
    assert_int_equal(OCSP_check_nonce(req, bs), 1); /* echoed */
    X509_ALGOR_get0(&alg, NULL, NULL, OCSP_resp_get0_tbs_sigalg(bs));
    assert_int_equal(OBJ_obj2nid(alg), NID_ecdsa_with_SHA256);
    assert_int_equal(sk_X509_num(OCSP_resp_get0_certs(bs)), 1);
    assert_int_equal(X509_cmp(sk_X509_value(OCSP_resp_get0_certs(bs), 0),
                              resp1),
                     0);
    OCSP_BASICRESP_free(bs);
    OCSP_REQUEST_free(req);
    ms_buf_cleanup(&resp);
}

static void
test_ocsp__revoked_reason_and_time(void **state)
{
    fixture *f = *state;
    OCSP_REQUEST *req = request(revoked, ca1, false);
    ms_buf resp;
    single s;

    revoke(f->s, revoked, 1, NOW - 3600); /* keyCompromise */
    ms_buf_init(&resp, RESP_MAX);
    ask(f, req, &resp, 0);
    s = status_of(&resp, req, ca1);
    assert_int_equal(s.status, V_OCSP_CERTSTATUS_REVOKED);
    assert_int_equal(s.reason, 1);
    assert_int_equal(s.revoked_at, NOW - 3600);
    OCSP_REQUEST_free(req);
    /* "unspecified" is left out, as in the CRL. */
    req = request(good, ca1, false);
    revoke(f->s, good, 0, NOW - 60);
    ask(f, req, &resp, 0);
    s = status_of(&resp, req, ca1);
    assert_int_equal(s.status, V_OCSP_CERTSTATUS_REVOKED);
    assert_int_equal(s.reason, OCSP_REVOKED_STATUS_NOSTATUS);
    assert_int_equal(s.revoked_at, NOW - 60);
    OCSP_REQUEST_free(req);
    ms_buf_cleanup(&resp);
}

static void
test_ocsp__never_issued_is_unknown(void **state)
{
    static const long serials[] = {0x77, 0, -5};
    fixture *f = *state;
    ms_buf resp;

    ms_buf_init(&resp, RESP_MAX);
    for (size_t i = 0; i < sizeof(serials) / sizeof(serials[0]); i++) {
        ASN1_INTEGER *sn = ASN1_INTEGER_new();
        OCSP_REQUEST *req = OCSP_REQUEST_new();

        assert_non_null(sn);
        assert_non_null(req);
        assert_int_equal(ASN1_INTEGER_set(sn, serials[i]), 1);
        assert_non_null(
            OCSP_request_add0_id(req, certid(EVP_sha1(), sn, ca1)));
        ask(f, req, &resp, 0);
        assert_int_equal(status_of(&resp, req, ca1).status,
                         V_OCSP_CERTSTATUS_UNKNOWN);
        OCSP_REQUEST_free(req);
        ASN1_INTEGER_free(sn);
    }
    ms_buf_cleanup(&resp);
}

static void
test_ocsp__sha256_certid_and_second_issuer(void **state)
{
    fixture *f = *state;
    OCSP_REQUEST *req = OCSP_REQUEST_new();
    ms_buf resp;

    assert_non_null(req);
    assert_non_null(OCSP_request_add0_id(
        req, certid(EVP_sha256(), X509_get0_serialNumber(good2), ca2)));
    ms_buf_init(&resp, RESP_MAX);
    ask(f, req, &resp, 0);
    assert_int_equal(status_of(&resp, req, ca2).status,
                     V_OCSP_CERTSTATUS_GOOD);
    OCSP_REQUEST_free(req);
    ms_buf_cleanup(&resp);
}

static void
test_ocsp__several_certids_one_issuer(void **state)
{
    fixture *f = *state;
    OCSP_REQUEST *req = request(good, ca1, true);
    OCSP_BASICRESP *bs;
    ms_buf resp;
    int status = -1;

    revoke(f->s, revoked, 4, NOW - 10);
    assert_non_null(OCSP_request_add0_id(
        req, certid(EVP_sha1(), X509_get0_serialNumber(revoked), ca1)));
    ms_buf_init(&resp, RESP_MAX);
    ask(f, req, &resp, 0);
    bs = verified(&resp, ca1);
    assert_int_equal(OCSP_resp_count(bs), 2);
    assert_int_equal(OCSP_resp_find_status(bs,
                                           OCSP_onereq_get0_id(
                                               OCSP_request_onereq_get0(req, 1)),
                                           &status, NULL, NULL, NULL, NULL),
                     1);
    assert_int_equal(status, V_OCSP_CERTSTATUS_REVOKED);
    OCSP_BASICRESP_free(bs);
    OCSP_REQUEST_free(req);
    ms_buf_cleanup(&resp);
}

/* ---- the cache ---- */

static void
test_ocsp__cached_identical_bytes(void **state)
{
    fixture *f = *state;
    OCSP_REQUEST *req = request(good, ca1, false);
    OCSP_REQUEST *other = request(good, ca1, false);
    ms_buf a, b;
    ms_ocsp_stats st;

    ms_buf_init(&a, RESP_MAX);
    ms_buf_init(&b, RESP_MAX);
    ask(f, req, &a, 0);
    f->now += 60;
    ask(f, req, &b, 0); /* the raw bytes hit */
    assert_int_equal(a.len, b.len);
    assert_memory_equal(a.data, b.data, a.len); /* ECDSA: no re-sign */
    /* Other bytes for the same CertID (a non-critical extension) hit the
     * CertID entry. */
    add_crlid(other, 0);
    ask(f, other, &b, 0);
    assert_memory_equal(a.data, b.data, a.len);
    ms_ocsp_responder_get_stats(f->r, &st);
    assert_int_equal(st.signatures, 1);
    assert_int_equal(st.cache_hits, 2);
    assert_int_equal(st.requests, 3);
    OCSP_REQUEST_free(req);
    OCSP_REQUEST_free(other);
    ms_buf_cleanup(&a);
    ms_buf_cleanup(&b);
}

static void
test_ocsp__nonce_never_cached(void **state)
{
    fixture *f = *state;
    OCSP_REQUEST *plain = request(good, ca1, false);
    OCSP_REQUEST *req = request(good, ca1, true);
    ms_buf a, b;

    ms_buf_init(&a, RESP_MAX);
    ms_buf_init(&b, RESP_MAX);
    ask(f, plain, &a, 0); /* cached */
    ask(f, req, &b, 0);   /* with a nonce: signed anew, nonce echoed */
    assert_int_equal(signatures(f), 2);
    assert_int_equal(status_of(&b, req, ca1).status, V_OCSP_CERTSTATUS_GOOD);
    ask(f, req, &a, 0); /* the same bytes again: still not cached */
    assert_int_equal(signatures(f), 3);
    OCSP_REQUEST_free(plain);
    OCSP_REQUEST_free(req);
    ms_buf_cleanup(&a);
    ms_buf_cleanup(&b);
}

static void
test_ocsp__refresh_after_margin(void **state)
{
    fixture *f = *state;
    OCSP_REQUEST *req = request(good, ca1, false);
    long margin = f->opt.validity / 4; /* the default */
    ms_buf resp;

    ms_buf_init(&resp, RESP_MAX);
    ask(f, req, &resp, 0);
    f->now = NOW + DAY - margin - 1; /* more than the margin remains */
    ask(f, req, &resp, 0);
    assert_int_equal(signatures(f), 1);
    assert_int_equal(status_of(&resp, req, ca1).this_update, NOW);
    f->now = NOW + DAY - margin; /* the margin remains: re-signed */
    ask(f, req, &resp, 0);
    assert_int_equal(signatures(f), 2);
    assert_int_equal(status_of(&resp, req, ca1).this_update, f->now);
    ask(f, req, &resp, 0); /* and cached again */
    assert_int_equal(signatures(f), 2);
    OCSP_REQUEST_free(req);
    ms_buf_cleanup(&resp);
}

static void
test_ocsp__revocation_visible_at_once(void **state)
{
    fixture *f = *state;
    OCSP_REQUEST *req = request(revoked, ca1, false);
    ms_store *other = NULL;
    ms_buf resp;
    ms_error err;

    ms_buf_init(&resp, RESP_MAX);
    ask(f, req, &resp, 0);
    assert_int_equal(status_of(&resp, req, ca1).status, V_OCSP_CERTSTATUS_GOOD);
    ask(f, req, &resp, 0);
    assert_int_equal(signatures(f), 1); /* cached "good" */
    /* Another process (its own handle) revokes. */
    assert_int_equal(ms_store_open(&other, f->url, &err), 0);
    revoke(other, revoked, 1, NOW - 5);
    ms_store_close(other);
    ask(f, req, &resp, 0);
    assert_int_equal(status_of(&resp, req, ca1).status,
                     V_OCSP_CERTSTATUS_REVOKED);
    assert_int_equal(signatures(f), 2);
    OCSP_REQUEST_free(req);
    ms_buf_cleanup(&resp);
}

static void
test_ocsp__invalidate(void **state)
{
    fixture *f = *state;
    OCSP_REQUEST *req = request(good, ca1, false);
    ms_buf resp;

    ms_buf_init(&resp, RESP_MAX);
    ask(f, req, &resp, 0);
    ask(f, req, &resp, 0);
    assert_int_equal(signatures(f), 1);
    ms_ocsp_responder_invalidate(f->r);
    ask(f, req, &resp, 0);
    assert_int_equal(signatures(f), 2);
    OCSP_REQUEST_free(req);
    ms_buf_cleanup(&resp);
}

static void
test_ocsp__cache_evicts_oldest(void **state)
{
    fixture *f = *state;
    OCSP_REQUEST *a = request(good, ca1, false);
    OCSP_REQUEST *b = request(revoked, ca1, false);
    ms_buf resp;

    f->opt.max_cache_entries = 2; /* one request: raw + CertID entries */
    make_responder(f);
    ms_buf_init(&resp, RESP_MAX);
    ask(f, a, &resp, 0);
    ask(f, a, &resp, 0);
    assert_int_equal(signatures(f), 1);
    ask(f, b, &resp, 0); /* evicts a's entries */
    ask(f, b, &resp, 0);
    assert_int_equal(signatures(f), 2);
    ask(f, a, &resp, 0);
    assert_int_equal(signatures(f), 3);
    f->opt.max_cache_entries = 0; /* no cache at all */
    make_responder(f);
    ask(f, a, &resp, 0);
    ask(f, a, &resp, 0);
    assert_int_equal(signatures(f), 2);
    OCSP_REQUEST_free(a);
    OCSP_REQUEST_free(b);
    ms_buf_cleanup(&resp);
}

/* ---- refusals ---- */

static void
expect_refusal(fixture *f, const unsigned char *der, size_t len, int want_rc,
               int want_status)
{
    ms_buf resp;
    ms_error err;

    ms_buf_init(&resp, RESP_MAX);
    assert_int_equal(ms_ocsp_respond(f->r, f->s, der, len, &resp, &err),
                     want_rc);
    assert_int_equal(response_status(&resp), want_status);
    assert_int_equal(ERR_peek_error(), 0);
    ms_buf_cleanup(&resp);
}

static void
test_ocsp__malformed_input(void **state)
{
    static const unsigned char garbage[] = "GET / HTTP/1.1\r\n";
    fixture *f = *state;
    OCSP_REQUEST *req = request(good, ca1, false);
    unsigned char *big = calloc(1, MS_OCSP_REQUEST_MAX + 1);
    ms_buf der, ber;

    assert_non_null(big);
    ms_buf_init(&der, 0);
    ms_buf_init(&ber, 0);
    encode(req, &der);
    expect_refusal(f, garbage, sizeof(garbage) - 1, MS_EINVAL,
                   OCSP_RESPONSE_STATUS_MALFORMEDREQUEST);
    expect_refusal(f, der.data, 0, MS_EINVAL,
                   OCSP_RESPONSE_STATUS_MALFORMEDREQUEST);
    expect_refusal(f, der.data, der.len - 1, MS_EINVAL,
                   OCSP_RESPONSE_STATUS_MALFORMEDREQUEST);
    assert_int_equal(ms_buf_append(&der, "\0", 1), 0); /* a trailing byte */
    expect_refusal(f, der.data, der.len, MS_EINVAL,
                   OCSP_RESPONSE_STATUS_MALFORMEDREQUEST);
    /* BER: the outer length in long form (short form fits). */
    assert_true(der.data[1] < 0x80);
    assert_int_equal(ms_buf_append(&ber, "\x30\x81", 2), 0);
    assert_int_equal(ms_buf_append(&ber, der.data + 1, der.len - 2), 0);
    expect_refusal(f, ber.data, ber.len, MS_EINVAL,
                   OCSP_RESPONSE_STATUS_MALFORMEDREQUEST);
    expect_refusal(f, big, MS_OCSP_REQUEST_MAX + 1, MS_ETOOBIG,
                   OCSP_RESPONSE_STATUS_MALFORMEDREQUEST);
    assert_int_equal(signatures(f), 0);
    free(big);
    OCSP_REQUEST_free(req);
    ms_buf_cleanup(&der);
    ms_buf_cleanup(&ber);
}

static void
test_ocsp__certid_count_limit(void **state)
{
    fixture *f = *state;
    OCSP_REQUEST *req = request(good, ca1, false);
    ms_buf resp;

    for (int i = 1; i < MS_OCSP_MAX_SINGLE; i++)
        assert_non_null(OCSP_request_add0_id(
            req, certid(EVP_sha1(), X509_get0_serialNumber(good), ca1)));
    ms_buf_init(&resp, RESP_MAX);
    ask(f, req, &resp, 0);
    assert_non_null(OCSP_request_add0_id(
        req, certid(EVP_sha1(), X509_get0_serialNumber(good), ca1)));
    ask(f, req, &resp, MS_ETOOBIG);
    assert_int_equal(response_status(&resp),
                     OCSP_RESPONSE_STATUS_MALFORMEDREQUEST);
    OCSP_REQUEST_free(req);
    ms_buf_cleanup(&resp);
}

static void
test_ocsp__unauthorized(void **state)
{
    fixture *f = *state;
    OCSP_REQUEST *req = request(stranger, other_ca, false);
    ms_buf resp;

    ms_buf_init(&resp, RESP_MAX);
    ask(f, req, &resp, 0); /* an issuer we do not serve */
    assert_int_equal(response_status(&resp),
                     OCSP_RESPONSE_STATUS_UNAUTHORIZED);
    OCSP_REQUEST_free(req);
    req = request(good, ca1, false); /* V1 and V2: two signers needed */
    assert_non_null(OCSP_request_add0_id(
        req, certid(EVP_sha1(), X509_get0_serialNumber(good2), ca2)));
    ask(f, req, &resp, 0);
    assert_int_equal(response_status(&resp),
                     OCSP_RESPONSE_STATUS_UNAUTHORIZED);
    OCSP_REQUEST_free(req);
    req = OCSP_REQUEST_new(); /* a hash we do not serve */
    assert_non_null(req);
    assert_non_null(OCSP_request_add0_id(
        req, certid(EVP_md5(), X509_get0_serialNumber(good), ca1)));
    ask(f, req, &resp, 0);
    assert_int_equal(response_status(&resp),
                     OCSP_RESPONSE_STATUS_UNAUTHORIZED);
    assert_int_equal(signatures(f), 0);
    OCSP_REQUEST_free(req);
    ms_buf_cleanup(&resp);
}

static void
test_ocsp__bad_extensions(void **state)
{
    fixture *f = *state;
    OCSP_REQUEST *req = request(good, ca1, false);
    unsigned char nonce[40] = {0};
    ms_buf resp;

    ms_buf_init(&resp, RESP_MAX);
    add_crlid(req, 1);
    ask(f, req, &resp, MS_EINVAL); /* an unknown critical extension */
    OCSP_REQUEST_free(req);
    req = request(good, ca1, false);
    assert_int_equal(OCSP_request_add1_nonce(req, nonce, sizeof(nonce)), 1);
    ask(f, req, &resp, MS_EINVAL); /* a nonce over 32 octets */
    OCSP_REQUEST_free(req);
    req = request(good, ca1, false);
    assert_int_equal(OCSP_request_add1_nonce(req, nonce, 32), 1);
    ask(f, req, &resp, 0); /* 32 octets are fine */
    OCSP_REQUEST_free(req);
    ms_buf_cleanup(&resp);
}

static void
test_ocsp__lint_refuses_long_validity(void **state)
{
    fixture *f = *state;
    OCSP_REQUEST *req = request(good, ca1, false);
    ms_buf resp;
    ms_error err;
    ms_buf der;
    ms_ocsp_stats st;

    f->opt.validity = 11 * DAY;
    f->opt.max_validity = 30 * DAY; /* the BR's 10 days still apply */
    make_responder(f);
    ms_buf_init(&resp, RESP_MAX);
    ms_buf_init(&der, 0);
    encode(req, &der);
    for (int i = 0; i < 2; i++) { /* and nothing refused is cached */
        assert_int_equal(ask_bytes(f, &der, &resp, &err), MS_EPOLICY);
        assert_non_null(strstr(err.msg, "e_ocsp_single_responses"));
        assert_int_equal(response_status(&resp),
                         OCSP_RESPONSE_STATUS_INTERNALERROR);
    }
    ms_ocsp_responder_get_stats(f->r, &st);
    assert_int_equal(st.refused, 2);
    f->opt.validity = 2 * DAY; /* over the configured maximum */
    f->opt.max_validity = DAY;
    make_responder(f);
    assert_int_equal(ask_bytes(f, &der, &resp, &err), MS_EPOLICY);
    OCSP_REQUEST_free(req);
    ms_buf_cleanup(&resp);
    ms_buf_cleanup(&der);
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
test_ocsp__audit_batched(void **state)
{
    fixture *f = *state;
    OCSP_REQUEST *req = request(good, ca1, true);
    uint64_t rows = audit_rows(f->s);
    ms_buf resp;
    ms_error err;

    ms_buf_init(&resp, RESP_MAX);
    ask(f, req, &resp, 0); /* the first signature writes a row at once */
    assert_int_equal(audit_rows(f->s), rows + 1);
    for (int i = 0; i < 5; i++)
        ask(f, req, &resp, 0); /* within the minute: counted only */
    assert_int_equal(audit_rows(f->s), rows + 1);
    f->now += 60;
    ask(f, req, &resp, 0); /* a minute later: one row for six */
    assert_int_equal(audit_rows(f->s), rows + 2);
    ask(f, req, &resp, 0);
    assert_int_equal(ms_ocsp_responder_audit_flush(f->r, f->s, &err), 0);
    assert_int_equal(audit_rows(f->s), rows + 3);
    assert_int_equal(ms_ocsp_responder_audit_flush(f->r, f->s, &err), 0);
    assert_int_equal(audit_rows(f->s), rows + 3); /* nothing pending */
    OCSP_REQUEST_free(req);
    ms_buf_cleanup(&resp);
}

/* ---- setup checks ---- */

static void
test_ocsp__add_issuer_checks(void **state)
{
    fixture *f = *state;
    ms_ocsp_responder *r = NULL;
    ms_error err;

    (void)f;
    assert_int_equal(ms_ocsp_responder_new(&r, NULL, &err), 0);
    /* The responder of another CA. */
    assert_int_equal(ms_ocsp_responder_add_issuer(r, ca1, CA1_NAME, resp2,
                                                  resp2_key, &err),
                     MS_EINVAL);
    /* Not the responder's key. */
    assert_int_equal(ms_ocsp_responder_add_issuer(r, ca1, CA1_NAME, resp1,
                                                  resp2_key, &err),
                     MS_EINVAL);
    /* No OCSPSigning. */
    assert_int_equal(ms_ocsp_responder_add_issuer(r, ca1, CA1_NAME, good,
                                                  leaf_key, &err),
                     MS_EINVAL);
    assert_int_equal(
        ms_ocsp_responder_add_issuer(r, ca1, "", resp1, resp1_key, &err),
        MS_EINVAL);
    assert_int_equal(ms_ocsp_responder_add_issuer(r, ca1, CA1_NAME, resp1,
                                                  resp1_key, &err),
                     0);
    assert_int_equal(ms_ocsp_responder_add_issuer(r, ca1, CA1_NAME, resp1,
                                                  resp1_key, &err),
                     MS_EINVAL); /* served already */
    assert_int_equal(ERR_peek_error(), 0);
    ms_ocsp_responder_free(r);
}

static void
test_ocsp__options_checks(void **state)
{
    static const ms_ocsp_options init = MS_OCSP_OPTIONS_INIT;
    ms_ocsp_options o;
    ms_ocsp_responder *r = NULL;
    ms_error err;

    (void)state;
    o = init;
    o.version = 99;
    assert_int_equal(ms_ocsp_responder_new(&r, &o, &err), MS_EINVAL);
    o = init;
    o.validity = 0;
    assert_int_equal(ms_ocsp_responder_new(&r, &o, &err), MS_EINVAL);
    o = init;
    o.refresh_margin = o.validity;
    assert_int_equal(ms_ocsp_responder_new(&r, &o, &err), MS_EINVAL);
    o = init;
    o.max_cache_entries = 2000000;
    assert_int_equal(ms_ocsp_responder_new(&r, &o, &err), MS_EINVAL);
    assert_null(r);
}

static void
test_ocsp__allocation_failures(void **state)
{
    fixture *f = *state;
    OCSP_REQUEST *req = request(good, ca1, false);
    ms_ocsp_responder *r = NULL;
    ms_buf der, resp;
    ms_error err;
    int rc = -1;

    ms_buf_init(&der, 0);
    ms_buf_init(&resp, RESP_MAX);
    encode(req, &der);
    for (size_t n = 1; n < 200 && rc != 0; n++) {
        (void)ms_alloc_fail_at(n);
        rc = ms_ocsp_responder_new(&r, &f->opt, &err);
        if (rc == 0)
            rc = ms_ocsp_responder_add_issuer(r, ca1, CA1_NAME, resp1,
                                              resp1_key, &err);
        if (rc == 0)
            rc = ms_ocsp_respond(r, f->s, der.data, der.len, &resp, &err);
        (void)ms_alloc_fail_at(0);
        if (rc != 0)
            assert_true(rc == MS_ENOMEM || rc == MS_EIO);
        ms_ocsp_responder_free(r);
        r = NULL;
    }
    assert_int_equal(rc, 0);
    OCSP_REQUEST_free(req);
    ms_buf_cleanup(&der);
    ms_buf_cleanup(&resp);
}

/* ---- threads ---- */

typedef struct worker {
    fixture *f;
    const ms_buf *plain; /* cacheable */
    const ms_buf *nonce; /* signed every time */
    int failures;
} worker;

static void *
work(void *arg)
{
    worker *w = arg;
    ms_store *s = NULL;
    ms_buf resp;
    ms_error err;

    ms_buf_init(&resp, RESP_MAX);
    if (ms_store_open(&s, w->f->url, &err) != 0) {
        w->failures++;
        return NULL;
    }
    for (int i = 0; i < 40; i++) {
        const ms_buf *in = i % 4 == 0 ? w->nonce : w->plain;

        if (ms_ocsp_respond(w->f->r, s, in->data, in->len, &resp, &err) != 0 ||
            resp.len < 100)
            w->failures++;
    }
    ms_store_close(s);
    ms_buf_cleanup(&resp);
    return NULL;
}

static void
test_ocsp__threads(void **state)
{
    fixture *f = *state;
    OCSP_REQUEST *a = request(good, ca1, false);
    OCSP_REQUEST *b = request(good2, ca2, true);
    pthread_t t[4];
    worker w[4];
    ms_buf plain, nonce;
    ms_ocsp_stats st;

    ms_buf_init(&plain, 0);
    ms_buf_init(&nonce, 0);
    encode(a, &plain);
    encode(b, &nonce);
    for (int i = 0; i < 4; i++) {
        w[i] = (worker){f, &plain, &nonce, 0};
        assert_int_equal(pthread_create(&t[i], NULL, work, &w[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        assert_int_equal(pthread_join(t[i], NULL), 0);
        assert_int_equal(w[i].failures, 0);
    }
    ms_ocsp_responder_get_stats(f->r, &st);
    assert_int_equal(st.requests, 160);
    assert_true(st.cache_hits >= 100); /* all but the first plain ones */
    OCSP_REQUEST_free(a);
    OCSP_REQUEST_free(b);
    ms_buf_cleanup(&plain);
    ms_buf_cleanup(&nonce);
}

/* ---- ms_lint_ocsp_response(), rule by rule ---- */

typedef struct lint_case {
    int resp_status;     /* OCSP_RESPONSE_STATUS_* */
    X509 *signer;        /* signs and is named */
    EVP_PKEY *key;
    const EVP_MD *md;
    unsigned long flags; /* OCSP_basic_sign flags */
    time_t t0;
    time_t t1; /* 0: no nextUpdate */
    int expect_status;
    size_t n_expect;
    long max_validity;
    int extension_nid; /* a response extension, NID_undef: none */
    int extension_crit;
} lint_case;

static lint_case
good_case(void)
{
    return (lint_case){OCSP_RESPONSE_STATUS_SUCCESSFUL,
                       resp1,
                       resp1_key,
                       EVP_sha256(),
                       OCSP_RESPID_KEY,
                       NOW,
                       NOW + DAY,
                       V_OCSP_CERTSTATUS_GOOD,
                       1,
                       10 * DAY,
                       NID_undef,
                       0};
}

static void
add_extension(OCSP_BASICRESP *bs, int nid, int crit)
{
    ASN1_OCTET_STRING *v = ASN1_OCTET_STRING_new();
    X509_EXTENSION *e;

    assert_non_null(v);
    assert_int_equal(
        ASN1_OCTET_STRING_set(v, (const unsigned char *)"\x04\x01\x00", 3), 1);
    e = X509_EXTENSION_create_by_NID(NULL, nid, crit, v);
    assert_non_null(e);
    assert_int_equal(OCSP_BASICRESP_add_ext(bs, e, -1), 1);
    X509_EXTENSION_free(e);
    ASN1_OCTET_STRING_free(v);
}

static void
expect_lint(const lint_case *c, const char *rule)
{
    OCSP_BASICRESP *bs = OCSP_BASICRESP_new();
    OCSP_CERTID *id = certid(EVP_sha1(), X509_get0_serialNumber(good), ca1);
    ASN1_GENERALIZEDTIME *t0 = ASN1_GENERALIZEDTIME_set(NULL, c->t0);
    ASN1_GENERALIZEDTIME *t1 =
        c->t1 != 0 ? ASN1_GENERALIZEDTIME_set(NULL, c->t1) : NULL;
    ms_lint_ocsp_expect want[2] = {{c->expect_status, NOW - 1, 1},
                                   {V_OCSP_CERTSTATUS_GOOD, 0, -1}};
    ms_lint_ocsp_in in;
    ms_lint_report rep;
    OCSP_RESPONSE *resp;
    int rc;

    assert_non_null(bs);
    assert_non_null(OCSP_basic_add1_status(bs, id, V_OCSP_CERTSTATUS_GOOD, 0,
                                           NULL, t0, t1));
    if (c->extension_nid != NID_undef)
        add_extension(bs, c->extension_nid, c->extension_crit);
    assert_int_equal(
        OCSP_basic_sign(bs, c->signer, c->key, c->md, NULL, c->flags), 1);
    resp = OCSP_response_create(c->resp_status,
                                c->resp_status ==
                                        OCSP_RESPONSE_STATUS_SUCCESSFUL
                                    ? bs
                                    : NULL);
    assert_non_null(resp);
    in = (ms_lint_ocsp_in){resp, c->signer, want, c->n_expect,
                           c->max_validity, NOW};
    rc = ms_lint_ocsp_response(&rep, &in);
    if (rule == NULL && rc != 0)
        fail_msg("good response refused: %s", rep.first);
    if (rule != NULL) {
        assert_int_equal(rc, MS_EPOLICY);
        if (strncmp(rep.first, rule, strlen(rule)) != 0)
            fail_msg("expected %s, got \"%s\"", rule, rep.first);
    }
    assert_int_equal(ERR_peek_error(), 0);
    OCSP_RESPONSE_free(resp);
    OCSP_BASICRESP_free(bs);
    OCSP_CERTID_free(id);
    ASN1_GENERALIZEDTIME_free(t0);
    ASN1_GENERALIZEDTIME_free(t1);
}

static void
test_ocsp__lint_rules(void **state)
{
    lint_case c;

    (void)state;
    c = good_case();
    expect_lint(&c, NULL);
    c.extension_nid = NID_id_pkix_OCSP_Nonce;
    expect_lint(&c, NULL);
    c.extension_crit = 1;
    expect_lint(&c, "e_ocsp_extensions");
    c = good_case();
    c.extension_nid = NID_id_pkix_OCSP_CrlID;
    expect_lint(&c, "e_ocsp_extensions");
    c = good_case();
    c.resp_status = OCSP_RESPONSE_STATUS_INTERNALERROR;
    expect_lint(&c, "e_ocsp_status_successful");
    c = good_case();
    c.flags = 0; /* byName */
    expect_lint(&c, "e_ocsp_responder_id_by_key");
    c = good_case();
    c.flags = OCSP_RESPID_KEY | OCSP_NOCERTS;
    expect_lint(&c, "e_ocsp_signer");
    c = good_case();
    c.signer = good; /* emailProtection only */
    c.key = leaf_key;
    expect_lint(&c, "e_ocsp_signer");
    c = good_case();
    c.md = EVP_sha1();
    expect_lint(&c, "e_ocsp_signature_algorithm");
    c = good_case();
    c.expect_status = V_OCSP_CERTSTATUS_REVOKED;
    expect_lint(&c, "e_ocsp_single_responses");
    c = good_case();
    c.n_expect = 2;
    expect_lint(&c, "e_ocsp_single_responses");
    c = good_case();
    c.t0 = NOW + 1;
    c.t1 = NOW + DAY;
    expect_lint(&c, "e_ocsp_single_responses");
    c = good_case();
    c.t1 = 0;
    expect_lint(&c, "e_ocsp_single_responses");
    c = good_case();
    c.t1 = NOW + 10 * DAY + 1;
    c.max_validity = 30 * DAY;
    expect_lint(&c, "e_ocsp_single_responses");
    c = good_case();
    c.max_validity = DAY - 1;
    expect_lint(&c, "e_ocsp_single_responses");
}

int
main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_ocsp__good_with_nonce),
        T(test_ocsp__revoked_reason_and_time),
        T(test_ocsp__never_issued_is_unknown),
        T(test_ocsp__sha256_certid_and_second_issuer),
        T(test_ocsp__several_certids_one_issuer),
        T(test_ocsp__cached_identical_bytes),
        T(test_ocsp__nonce_never_cached),
        T(test_ocsp__refresh_after_margin),
        T(test_ocsp__revocation_visible_at_once),
        T(test_ocsp__invalidate),
        T(test_ocsp__cache_evicts_oldest),
        T(test_ocsp__malformed_input),
        T(test_ocsp__certid_count_limit),
        T(test_ocsp__unauthorized),
        T(test_ocsp__bad_extensions),
        T(test_ocsp__lint_refuses_long_validity),
        T(test_ocsp__audit_batched),
        T(test_ocsp__add_issuer_checks),
        T(test_ocsp__options_checks),
        T(test_ocsp__allocation_failures),
        T(test_ocsp__threads),
        cmocka_unit_test(test_ocsp__lint_rules),
    };
#undef T

    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
