/* test_tsa.c - ca/tsa.c: the RFC 3161 time-stamping authority. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h> /* after setjmp.h, stdarg.h and stddef.h */
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ts.h>
#include <openssl/x509v3.h>
#include <sqlite3.h>

#include "ca/tsa.h"
#include "cms/tsp.h"
#include "ms_test.h"
#include "store/store.h"
#include "util/alloc.h"

static time_t now = MS_TEST_NOW;

/* ---- fixtures ---------------------------------------------------------- */

static EVP_PKEY *
pki_key(const char *name)
{
    FILE *fp;
    EVP_PKEY *k;

    if ((fp = fopen(ms_test_pki(name), "rb")) == NULL)
        fail_msg("cannot open %s", name);
    k = PEM_read_PrivateKey(fp, NULL, NULL, NULL);
    (void)fclose(fp); /* read-only stream */
    if (k == NULL)
        fail_msg("no key in %s", name);
    return k;
}

/* The test PKI's TSA (P-256, critical timeStamping EKU, under root). */
typedef struct tsa_fix {
    X509 *cert;
    EVP_PKEY *key;
    X509 *root;
    ms_store *store;
    ms_tsa *tsa;
} tsa_fix;

static void
fix_open(tsa_fix *f, const ms_tsa_options *opt)
{
    ms_error err;

    memset(f, 0, sizeof(*f));
    f->cert = ms_test_cert("tsa.pem");
    f->key = pki_key("tsa.key");
    f->root = ms_test_cert("root.pem");
    assert_int_equal(ms_store_open(&f->store, "sqlite::memory:", &err), 0);
    if (ms_tsa_new(&f->tsa, opt, f->cert, f->key, NULL, f->store, &err) != 0)
        fail_msg("ms_tsa_new: %s", err.msg);
}

static void
fix_close(tsa_fix *f)
{
    ms_tsa_free(f->tsa);
    ms_store_close(f->store);
    X509_free(f->cert);
    X509_free(f->root);
    EVP_PKEY_free(f->key);
}

static ms_tsa_options
opts_at(const time_t *t)
{
    ms_tsa_options o = MS_TSA_OPTIONS_INIT;

    o.clock = ms_test_clock;
    o.clock_arg = (void *)(uintptr_t)t;
    return o;
}

/* ---- requests ---------------------------------------------------------- */

typedef struct req_spec {
    const EVP_MD *md; /* NULL: use oid */
    const char *oid;  /* imprint algorithm when md is NULL */
    int imprint_len;  /* -1: the digest's length */
    long nonce;       /* 0: none */
    bool cert_req;
    const char *policy; /* NULL: none */
    bool extension;
    long version; /* 0: 1 */
} req_spec;

#define REQ_SHA256                                                             \
    {                                                                          \
        EVP_sha256(), NULL, -1, 0, true, NULL, false, 0                        \
    }

/* A DER TimeStampReq over the imprint 0x5a... (*req, OPENSSL_free). */
static int
make_req(unsigned char **req, const req_spec *s)
{
    TS_REQ *r = TS_REQ_new();
    TS_MSG_IMPRINT *mi = TS_MSG_IMPRINT_new();
    X509_ALGOR *alg = X509_ALGOR_new();
    unsigned char imprint[128];
    int len = s->imprint_len;

    assert_non_null(r);
    assert_non_null(mi);
    assert_non_null(alg);
    if (s->md != NULL) {
        X509_ALGOR_set_md(alg, s->md);
        if (len < 0)
            len = EVP_MD_get_size(s->md);
    } else {
        assert_int_equal(
            X509_ALGOR_set0(alg, OBJ_txt2obj(s->oid, 1), V_ASN1_UNDEF, NULL),
            1);
        if (len < 0)
            len = 32;
    }
    memset(imprint, 0x5a, sizeof(imprint));
    assert_true(TS_MSG_IMPRINT_set_algo(mi, alg));
    assert_true(TS_MSG_IMPRINT_set_msg(mi, imprint, len));
    assert_true(TS_REQ_set_version(r, s->version != 0 ? s->version : 1));
    assert_true(TS_REQ_set_msg_imprint(r, mi));
    assert_true(TS_REQ_set_cert_req(r, s->cert_req ? 1 : 0));
    if (s->nonce != 0) {
        ASN1_INTEGER *n = ASN1_INTEGER_new();

        assert_true(ASN1_INTEGER_set(n, s->nonce));
        assert_true(TS_REQ_set_nonce(r, n));
        ASN1_INTEGER_free(n);
    }
    if (s->policy != NULL) {
        ASN1_OBJECT *p = OBJ_txt2obj(s->policy, 1);

        assert_true(TS_REQ_set_policy_id(r, p));
        ASN1_OBJECT_free(p);
    }
    if (s->extension) {
        ASN1_OCTET_STRING *v = ASN1_OCTET_STRING_new();
        X509_EXTENSION *e;

        assert_true(
            ASN1_OCTET_STRING_set(v, (const unsigned char *)"\x05\x00", 2));
        e = X509_EXTENSION_create_by_NID(NULL, NID_id_pkix_OCSP_Nonce, 0, v);
        assert_non_null(e);
        assert_true(TS_REQ_add_ext(r, e, -1));
        X509_EXTENSION_free(e);
        ASN1_OCTET_STRING_free(v);
    }
    *req = NULL;
    len = i2d_TS_REQ(r, req);
    assert_true(len > 0);
    TS_REQ_free(r);
    TS_MSG_IMPRINT_free(mi);
    X509_ALGOR_free(alg);
    return len;
}

/* Answers spec; returns the parsed response (TS_RESP_free). */
static TS_RESP *
respond(ms_tsa *t, const req_spec *s, unsigned char **req_out, int *req_len)
{
    unsigned char *req = NULL;
    const unsigned char *p;
    int len = make_req(&req, s);
    ms_buf out;
    ms_error err;
    TS_RESP *resp;

    ms_buf_init(&out, 0);
    if (ms_tsa_respond(t, req, (size_t)len, &out, &err) != 0)
        fail_msg("ms_tsa_respond: %s", err.msg);
    assert_int_equal(ERR_peek_error(), 0);
    p = out.data;
    resp = d2i_TS_RESP(NULL, &p, (long)out.len);
    assert_non_null(resp);
    assert_ptr_equal(p, out.data + out.len);
    ms_buf_cleanup(&out);
    if (req_out != NULL) {
        *req_out = req;
        *req_len = len;
    } else {
        OPENSSL_free(req);
    }
    return resp;
}

static long
status_of(TS_RESP *resp)
{
    return ASN1_INTEGER_get(
        TS_STATUS_INFO_get0_status(TS_RESP_get_status_info(resp)));
}

static bool
has_fail_bit(TS_RESP *resp, int bit)
{
    const ASN1_BIT_STRING *fi =
        TS_STATUS_INFO_get0_failure_info(TS_RESP_get_status_info(resp));

    return fi != NULL && ASN1_BIT_STRING_get_bit(fi, bit) == 1;
}

static uint64_t
serial_of(TS_RESP *resp)
{
    uint64_t v = 0;

    assert_int_equal(status_of(resp), TS_STATUS_GRANTED);
    assert_int_equal(
        ASN1_INTEGER_get_uint64(
            &v, TS_TST_INFO_get_serial(TS_RESP_get_tst_info(resp))),
        1);
    return v;
}

/* Verifies resp against req with OpenSSL, root as the only anchor and
 * extra (may be NULL) as untrusted certificates. */
static int
openssl_verify_at(TS_RESP *resp, const unsigned char *req, int req_len,
                  X509 *root, X509 *extra, time_t at)
{
    const unsigned char *p = req;
    TS_REQ *r = d2i_TS_REQ(NULL, &p, req_len);
    TS_VERIFY_CTX *v;
    X509_STORE *store = X509_STORE_new();
    int ok;

    assert_non_null(r);
    assert_non_null(store);
    v = TS_REQ_to_TS_VERIFY_CTX(r, NULL);
    assert_non_null(v);
    assert_int_equal(X509_STORE_add_cert(store, root), 1);
    X509_VERIFY_PARAM_set_time(X509_STORE_get0_param(store), at);
    TS_VERIFY_CTX_set_store(v, store); /* v owns it */
    if (extra != NULL) {
        STACK_OF(X509) *sk = sk_X509_new_null();

        assert_true(sk_X509_push(sk, extra) > 0);
        assert_int_equal(X509_up_ref(extra), 1);
        TS_VERIFY_CTX_set_certs(v, sk); /* v owns it */
    }
    TS_VERIFY_CTX_add_flags(v, TS_VFY_SIGNATURE);
    ok = TS_RESP_verify_response(v, resp);
    TS_VERIFY_CTX_free(v);
    TS_REQ_free(r);
    return ok;
}

static int
openssl_verify(TS_RESP *resp, const unsigned char *req, int req_len, X509 *root,
               X509 *extra)
{
    return openssl_verify_at(resp, req, req_len, root, extra, MS_TEST_NOW);
}

/* ---- granted responses ------------------------------------------------- */

static void
test_tsa__granted_verifies_with_openssl(void **state)
{
    ms_tsa_options o = opts_at(&now);
    req_spec s = REQ_SHA256;
    tsa_fix f;
    TS_RESP *resp;
    TS_TST_INFO *tst;
    const TS_ACCURACY *acc;
    PKCS7 *tok;
    unsigned char *req;
    int req_len;
    ASN1_OBJECT *pol = OBJ_txt2obj(MS_TSA_POLICY_DEFAULT, 1);
    ASN1_TIME *want = ASN1_TIME_set(NULL, MS_TEST_NOW);

    (void)state;
    fix_open(&f, &o);
    s.nonce = 0x1234567;
    resp = respond(f.tsa, &s, &req, &req_len);
    assert_int_equal(status_of(resp), TS_STATUS_GRANTED);
    assert_int_equal(openssl_verify(resp, req, req_len, f.root, NULL), 1);
    assert_int_equal(ERR_peek_error(), 0);

    tst = TS_RESP_get_tst_info(resp);
    assert_int_equal(TS_TST_INFO_get_version(tst), 1);
    assert_int_equal(OBJ_cmp(TS_TST_INFO_get_policy_id(tst), pol), 0);
    assert_int_equal(ASN1_INTEGER_get(TS_TST_INFO_get_nonce(tst)), 0x1234567);
    assert_int_equal(ASN1_TIME_compare(TS_TST_INFO_get_time(tst), want), 0);
    assert_int_equal(TS_TST_INFO_get_ordering(tst), 0);
    assert_null(TS_TST_INFO_get_tsa(tst));
    acc = TS_TST_INFO_get_accuracy(tst);
    assert_non_null(acc);
    assert_int_equal(ASN1_INTEGER_get(TS_ACCURACY_get_seconds(acc)), 1);
    assert_null(TS_ACCURACY_get_millis(acc));
    assert_int_equal(serial_of(resp), 1);

    /* certReq: exactly the TSA certificate; SHA-256 signature for P-256. */
    tok = TS_RESP_get_token(resp);
    assert_int_equal(sk_X509_num(tok->d.sign->cert), 1);
    assert_int_equal(X509_cmp(sk_X509_value(tok->d.sign->cert, 0), f.cert), 0);
    {
        PKCS7_SIGNER_INFO *si =
            sk_PKCS7_SIGNER_INFO_value(PKCS7_get_signer_info(tok), 0);
        X509_ALGOR *dig = NULL;

        PKCS7_SIGNER_INFO_get0_algs(si, NULL, &dig, NULL);
        assert_int_equal(OBJ_obj2nid(dig->algorithm), NID_sha256);
        assert_non_null(PKCS7_get_signed_attribute(
            si, NID_id_smime_aa_signingCertificateV2));
        assert_non_null(PKCS7_get_signed_attribute(si, NID_pkcs9_signingTime));
    }
    ASN1_TIME_free(want);
    ASN1_OBJECT_free(pol);
    OPENSSL_free(req);
    TS_RESP_free(resp);
    fix_close(&f);
}

static void
test_tsa__nonce_and_cert_req(void **state)
{
    ms_tsa_options o = opts_at(&now);
    req_spec s = REQ_SHA256;
    tsa_fix f;
    TS_RESP *resp;
    unsigned char *req;
    int req_len;

    (void)state;
    fix_open(&f, &o);
    /* No nonce, no certReq: the token carries no certificate, and
     * verifies when the verifier is given the TSA certificate. */
    s.cert_req = false;
    resp = respond(f.tsa, &s, &req, &req_len);
    assert_null(TS_TST_INFO_get_nonce(TS_RESP_get_tst_info(resp)));
    assert_true(sk_X509_num(TS_RESP_get_token(resp)->d.sign->cert) <= 0);
    assert_int_equal(openssl_verify(resp, req, req_len, f.root, NULL), 0);
    ERR_clear_error();
    assert_int_equal(openssl_verify(resp, req, req_len, f.root, f.cert), 1);
    OPENSSL_free(req);
    TS_RESP_free(resp);

    /* Our own policy may be requested; large nonces come back as sent. */
    s.policy = MS_TSA_POLICY_DEFAULT;
    s.nonce = 0x7fffffffL;
    s.md = EVP_sha3_512();
    resp = respond(f.tsa, &s, &req, &req_len);
    assert_int_equal(status_of(resp), TS_STATUS_GRANTED);
    assert_int_equal(
        ASN1_INTEGER_get(TS_TST_INFO_get_nonce(TS_RESP_get_tst_info(resp))),
        0x7fffffffL);
    assert_int_equal(openssl_verify(resp, req, req_len, f.root, f.cert), 1);
    OPENSSL_free(req);
    TS_RESP_free(resp);
    fix_close(&f);
}

static void
test_tsa__every_strong_digest_granted(void **state)
{
    ms_tsa_options o = opts_at(&now);
    const EVP_MD *mds[] = {EVP_sha256(),   EVP_sha384(),   EVP_sha512(),
                           EVP_sha3_256(), EVP_sha3_384(), EVP_sha3_512()};
    tsa_fix f;

    (void)state;
    fix_open(&f, &o);
    for (size_t i = 0; i < sizeof(mds) / sizeof(mds[0]); i++) {
        req_spec s = REQ_SHA256;
        unsigned char *req;
        int req_len;
        TS_RESP *resp;

        s.md = mds[i];
        resp = respond(f.tsa, &s, &req, &req_len);
        assert_int_equal(serial_of(resp), i + 1);
        assert_int_equal(openssl_verify(resp, req, req_len, f.root, NULL), 1);
        OPENSSL_free(req);
        TS_RESP_free(resp);
    }
    fix_close(&f);
}

/* The library's own token check (used by ms_seal/ms_open) accepts ours. */
static void
test_tsa__library_tsp_verify_accepts(void **state)
{
    static const unsigned char sig[] = "a SignerInfo signature value";
    ms_tsa_options o = opts_at(&now);
    ms_ctx *ctx = ms_test_ctx(&now);
    unsigned char imprint[32], *req = NULL, *tok = NULL;
    STACK_OF(X509) *anchors = sk_X509_new_null();
    TS_REQ *r = TS_REQ_new();
    TS_MSG_IMPRINT *mi = TS_MSG_IMPRINT_new();
    X509_ALGOR *alg = X509_ALGOR_new();
    const unsigned char *p;
    TS_RESP *resp;
    ms_tsp_check check;
    ms_buf out;
    ms_error err;
    tsa_fix f;
    int len;

    (void)state;
    fix_open(&f, &o);
    assert_int_equal(
        EVP_Digest(sig, sizeof(sig) - 1, imprint, NULL, EVP_sha256(), NULL), 1);
    X509_ALGOR_set_md(alg, EVP_sha256());
    assert_true(TS_MSG_IMPRINT_set_algo(mi, alg) &&
                TS_MSG_IMPRINT_set_msg(mi, imprint, 32) &&
                TS_REQ_set_version(r, 1) && TS_REQ_set_msg_imprint(r, mi) &&
                TS_REQ_set_cert_req(r, 1));
    len = i2d_TS_REQ(r, &req);
    ms_buf_init(&out, 0);
    assert_int_equal(ms_tsa_respond(f.tsa, req, (size_t)len, &out, &err), 0);
    p = out.data;
    resp = d2i_TS_RESP(NULL, &p, (long)out.len);
    assert_non_null(resp);
    len = i2d_PKCS7(TS_RESP_get_token(resp), &tok);
    assert_true(len > 0);
    assert_true(sk_X509_push(anchors, f.root) > 0);

    ms_tsp_verify(&check, ctx, tok, (size_t)len, sig, sizeof(sig) - 1, anchors,
                  MS_TEST_NOW);
    if (!check.valid)
        fail_msg("ms_tsp_verify: %s", check.reason);
    assert_true(check.has_time);
    assert_int_equal(check.time, MS_TEST_NOW);
    /* Over other bytes, the same token does not verify. */
    ms_tsp_verify(&check, ctx, tok, (size_t)len, sig, sizeof(sig) - 2, anchors,
                  MS_TEST_NOW);
    assert_false(check.valid);

    sk_X509_free(anchors); /* f owns root */
    OPENSSL_free(tok);
    OPENSSL_free(req);
    TS_RESP_free(resp);
    TS_REQ_free(r);
    TS_MSG_IMPRINT_free(mi);
    X509_ALGOR_free(alg);
    ms_buf_cleanup(&out);
    ms_ctx_free(ctx);
    fix_close(&f);
}

/* ---- rejections -------------------------------------------------------- */

static void
expect_refusal(ms_tsa *t, const req_spec *s, int bit, int bit2)
{
    TS_RESP *resp = respond(t, s, NULL, NULL);

    assert_int_equal(status_of(resp), TS_STATUS_REJECTION);
    assert_null(TS_RESP_get_token(resp));
    assert_true(has_fail_bit(resp, bit));
    if (bit2 >= 0)
        assert_true(has_fail_bit(resp, bit2));
    TS_RESP_free(resp);
}

static void
test_tsa__weak_or_unknown_digest_bad_alg(void **state)
{
    ms_tsa_options o = opts_at(&now);
    req_spec s = REQ_SHA256;
    tsa_fix f;

    (void)state;
    fix_open(&f, &o);
    s.md = EVP_sha1();
    expect_refusal(f.tsa, &s, TS_INFO_BAD_ALG, -1);
    s.md = EVP_md5();
    expect_refusal(f.tsa, &s, TS_INFO_BAD_ALG, -1);
    s.md = EVP_sha224();
    expect_refusal(f.tsa, &s, TS_INFO_BAD_ALG, -1);
    s.md = NULL;
    s.oid = "1.2.3.4.5";
    expect_refusal(f.tsa, &s, TS_INFO_BAD_ALG, -1);
    /* A known algorithm with the wrong imprint length. */
    s.md = EVP_sha256();
    s.imprint_len = 20;
    expect_refusal(f.tsa, &s, TS_INFO_BAD_ALG, TS_INFO_BAD_DATA_FORMAT);
    s.md = EVP_sha512();
    s.imprint_len = 32;
    expect_refusal(f.tsa, &s, TS_INFO_BAD_ALG, TS_INFO_BAD_DATA_FORMAT);
    fix_close(&f);

    /* An algorithm left out of the options is refused too. */
    o.digests = MS_TSA_MD_SHA512;
    fix_open(&f, &o);
    s.imprint_len = -1;
    s.md = EVP_sha256();
    expect_refusal(f.tsa, &s, TS_INFO_BAD_ALG, -1);
    s.md = EVP_sha512();
    TS_RESP_free(respond(f.tsa, &s, NULL, NULL));
    fix_close(&f);
}

static void
test_tsa__policy_extensions_version_refused(void **state)
{
    ms_tsa_options o = opts_at(&now);
    req_spec s = REQ_SHA256;
    tsa_fix f;
    TS_RESP *resp;

    (void)state;
    fix_open(&f, &o);
    s.policy = MS_OID_ARC ".2.2";
    expect_refusal(f.tsa, &s, TS_INFO_UNACCEPTED_POLICY, -1);
    s.policy = NULL;
    s.extension = true;
    expect_refusal(f.tsa, &s, TS_INFO_BAD_REQUEST,
                   TS_INFO_UNACCEPTED_EXTENSION);
    s.extension = false;
    s.version = 2;
    expect_refusal(f.tsa, &s, TS_INFO_BAD_REQUEST, -1);
    /* Refusals use no serial number: the first grant gets 1. */
    s.version = 0;
    resp = respond(f.tsa, &s, NULL, NULL);
    assert_int_equal(serial_of(resp), 1);
    TS_RESP_free(resp);
    fix_close(&f);
}

static void
expect_einval(ms_tsa *t, const unsigned char *req, size_t len)
{
    ms_buf out;
    ms_error err;

    ms_buf_init(&out, 0);
    assert_int_equal(ms_tsa_respond(t, req, len, &out, &err), MS_EINVAL);
    assert_int_equal(err.code, MS_EINVAL);
    assert_true(err.msg[0] != '\0');
    assert_int_equal(out.len, 0);
    assert_int_equal(ERR_peek_error(), 0);
    ms_buf_cleanup(&out);
}

static void
test_tsa__not_a_request_is_einval(void **state)
{
    ms_tsa_options o = opts_at(&now);
    req_spec s = REQ_SHA256;
    tsa_fix f;
    unsigned char *req = NULL, *big, *ber;
    int len;

    (void)state;
    fix_open(&f, &o);
    s.cert_req = false;
    len = make_req(&req, &s);
    assert_true(len > 10 && len < 126);
    expect_einval(f.tsa, req, 0);
    expect_einval(f.tsa, req, (size_t)len - 1);              /* truncated */
    expect_einval(f.tsa, (const unsigned char *)"hello", 5); /* not DER */
    big = calloc(1, MS_TSA_MAX_REQUEST + 2);
    assert_non_null(big);
    memcpy(big, req, (size_t)len);
    expect_einval(f.tsa, big, (size_t)len + 1); /* a trailing zero byte */
    expect_einval(f.tsa, big, MS_TSA_MAX_REQUEST + 1);

    /* BER, not DER: a long-form length, then certReq FALSE written out. */
    ber = big;
    ber[0] = 0x30;
    ber[1] = 0x81;
    ber[2] = req[1];
    memcpy(ber + 3, req + 2, (size_t)len - 2);
    expect_einval(f.tsa, ber, (size_t)len + 1);
    ber[1] = (unsigned char)(req[1] + 3);
    memcpy(ber + 2, req + 2, (size_t)len - 2);
    ber[len] = 0x01; /* BOOLEAN */
    ber[len + 1] = 0x01;
    ber[len + 2] = 0x00; /* FALSE: the DEFAULT, which DER leaves out */
    expect_einval(f.tsa, ber, (size_t)len + 3);
    /* ... while the same request with certReq TRUE is fine. */
    ber[len + 2] = 0xff;
    {
        ms_buf out;
        ms_error err;

        ms_buf_init(&out, 0);
        assert_int_equal(
            ms_tsa_respond(f.tsa, ber, (size_t)len + 3, &out, &err), 0);
        ms_buf_cleanup(&out);
    }
    free(big);
    OPENSSL_free(req);
    fix_close(&f);
}

/* ---- serial numbers ---------------------------------------------------- */

typedef struct tmpdb {
    char dir[64];
    char url[128];
    char db[112];
} tmpdb;

static void
tmpdb_make(tmpdb *d)
{
    memcpy(d->dir, "/tmp/ms-tsa-XXXXXX", sizeof("/tmp/ms-tsa-XXXXXX"));
    assert_non_null(mkdtemp(d->dir));
    assert_true(snprintf(d->db, sizeof(d->db), "%s/t.db", d->dir) <
                (int)sizeof(d->db));
    assert_true(snprintf(d->url, sizeof(d->url), "sqlite:%s", d->db) <
                (int)sizeof(d->url));
}

static void
tmpdb_remove(tmpdb *d)
{
    static const char *const sfx[] = {"", "-wal", "-shm"};

    for (size_t i = 0; i < 3; i++) {
        char p[160];

        if (snprintf(p, sizeof(p), "%s%s", d->db, sfx[i]) < (int)sizeof(p))
            (void)unlink(p); /* may not exist */
    }
    (void)rmdir(d->dir); /* best effort: only our files were in it */
}

static uint64_t
one_serial(ms_tsa *t)
{
    req_spec s = REQ_SHA256;
    TS_RESP *resp = respond(t, &s, NULL, NULL);
    uint64_t v = serial_of(resp);

    TS_RESP_free(resp);
    return v;
}

static uint64_t
audit_rows(ms_store *s)
{
    uint64_t rows = 0;
    ms_error err;

    assert_int_equal(ms_store_audit_verify(s, &rows, &err), 0);
    return rows;
}

/* The audit row number id of the file database db: "event detail". */
static void
audit_row(const char *db, int id, char *out, size_t len)
{
    sqlite3 *h = NULL;
    sqlite3_stmt *st = NULL;

    assert_int_equal(sqlite3_open_v2(db, &h, SQLITE_OPEN_READONLY, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(h, "SELECT event || ' ' || detail "
                                           "FROM audit WHERE id = ?",
                                        -1, &st, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_bind_int(st, 1, id), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_true(snprintf(out, len, "%s", sqlite3_column_text(st, 0)) <
                (int)len);
    assert_int_equal(sqlite3_finalize(st), SQLITE_OK);
    assert_int_equal(sqlite3_close(h), SQLITE_OK);
}

static void
test_tsa__serials_survive_reopen(void **state)
{
    ms_tsa_options o = opts_at(&now);
    X509 *cert = ms_test_cert("tsa.pem");
    EVP_PKEY *key = pki_key("tsa.key");
    ms_store *s = NULL, *s2 = NULL;
    ms_tsa *t = NULL, *t2 = NULL;
    uint64_t last = 0, v, v2;
    ms_error err;
    tmpdb d;

    (void)state;
    tmpdb_make(&d);
    o.serial_block = 3;
    assert_int_equal(ms_store_open(&s, d.url, &err), 0);
    assert_int_equal(ms_tsa_new(&t, &o, cert, key, NULL, s, &err), 0);
    assert_int_equal(audit_rows(s), 0); /* nothing reserved yet */
    for (int i = 0; i < 5; i++) {
        v = one_serial(t);
        assert_true(v > last);
        last = v;
    }
    assert_int_equal(last, 5);
    assert_int_equal(audit_rows(s), 2); /* blocks 1..3 and 4..6 */
    ms_tsa_free(t);
    ms_store_close(s);
    {
        char row[128];

        audit_row(d.db, 1, row, sizeof(row));
        assert_string_equal(row, "tsa.serials first=1 count=3");
        audit_row(d.db, 2, row, sizeof(row));
        assert_string_equal(row, "tsa.serials first=4 count=3");
    }

    /* A restart skips the unused 6 and goes on above it. */
    assert_int_equal(ms_store_open(&s, d.url, &err), 0);
    assert_int_equal(ms_tsa_new(&t, &o, cert, key, NULL, s, &err), 0);
    v = one_serial(t);
    assert_int_equal(v, 7);
    assert_int_equal(audit_rows(s), 3);

    /* Two TSAs on one handle, and one on a second handle of the same file
     * (another process), interleaved: no serial twice, each increasing. */
    assert_int_equal(ms_tsa_new(&t2, &o, cert, key, NULL, s, &err), 0);
    assert_int_equal(ms_store_open(&s2, d.url, &err), 0);
    {
        ms_tsa *t3 = NULL;
        uint64_t seen[60], n = 0, prev[3] = {v, 0, 0};
        ms_tsa *all[3] = {t, t2, NULL};

        assert_int_equal(ms_tsa_new(&t3, &o, cert, key, NULL, s2, &err), 0);
        all[2] = t3;
        seen[n++] = v;
        for (int i = 0; i < 19; i++)
            for (int k = 0; k < 3; k++) {
                v2 = one_serial(all[k]);
                assert_true(v2 > prev[k]);
                prev[k] = v2;
                for (uint64_t j = 0; j < n; j++)
                    assert_true(seen[j] != v2);
                seen[n++] = v2;
            }
        ms_tsa_free(t3);
    }
    ms_tsa_free(t2);
    ms_tsa_free(t);
    ms_store_close(s2);
    ms_store_close(s);
    X509_free(cert);
    EVP_PKEY_free(key);
    tmpdb_remove(&d);
}

typedef struct worker {
    ms_tsa *tsa;
    uint64_t serials[200];
    int failures;
} worker;

static void *
work(void *arg)
{
    worker *w = arg;
    req_spec s = REQ_SHA256;
    unsigned char *req = NULL;
    int len = make_req(&req, &s);

    for (int i = 0; i < 200; i++) {
        ms_buf out;
        ms_error err;
        const unsigned char *p;
        TS_RESP *resp = NULL;
        uint64_t v = 0;

        ms_buf_init(&out, 0);
        if (ms_tsa_respond(w->tsa, req, (size_t)len, &out, &err) != 0)
            w->failures++;
        p = out.data;
        if (out.len > 0 &&
            (resp = d2i_TS_RESP(NULL, &p, (long)out.len)) != NULL &&
            TS_RESP_get_tst_info(resp) != NULL &&
            ASN1_INTEGER_get_uint64(
                &v, TS_TST_INFO_get_serial(TS_RESP_get_tst_info(resp))) == 1)
            w->serials[i] = v;
        else
            w->failures++;
        TS_RESP_free(resp);
        ms_buf_cleanup(&out);
    }
    OPENSSL_free(req);
    return NULL;
}

static int
cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

    return (x > y) - (x < y);
}

static void
test_tsa__concurrent_serials_distinct(void **state)
{
    ms_tsa_options o = opts_at(&now);
    tsa_fix f;
    worker w[4];
    pthread_t th[4];
    uint64_t *all = calloc(800, sizeof(uint64_t));

    (void)state;
    assert_non_null(all);
    o.serial_block = 37; /* many reservations under contention */
    fix_open(&f, &o);
    for (int i = 0; i < 4; i++) {
        memset(&w[i], 0, sizeof(w[i]));
        w[i].tsa = f.tsa;
        assert_int_equal(pthread_create(&th[i], NULL, work, &w[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        assert_int_equal(pthread_join(th[i], NULL), 0);
        assert_int_equal(w[i].failures, 0);
        for (int j = 0; j < 200; j++) {
            if (j > 0)
                assert_true(w[i].serials[j] > w[i].serials[j - 1]);
            all[i * 200 + j] = w[i].serials[j];
        }
    }
    qsort(all, 800, sizeof(all[0]), cmp_u64);
    for (int i = 1; i < 800; i++)
        assert_true(all[i] != all[i - 1]);
    assert_int_equal(all[0], 1);
    assert_int_equal(all[799], 800); /* one process: no value skipped */
    assert_int_equal(audit_rows(f.store), (800 + 36) / 37);
    free(all);
    fix_close(&f);
}

/* ---- options, keys and limits ------------------------------------------ */

/* A self-signed TSA certificate for key, EKU timeStamping (critical). */
static X509 *
self_signed_tsa(EVP_PKEY *key, bool critical, time_t base)
{
    X509 *x = X509_new();
    X509V3_CTX v3;
    X509_EXTENSION *e;
    X509_NAME *n;

    assert_non_null(x);
    assert_true(X509_set_version(x, X509_VERSION_3));
    assert_true(ASN1_INTEGER_set(X509_get_serialNumber(x), 42));
    n = X509_get_subject_name(x);
    assert_true(X509_NAME_add_entry_by_txt(
        n, "CN", MBSTRING_ASC, (const unsigned char *)"test TSA", -1, -1, 0));
    assert_true(X509_set_issuer_name(x, n));
    assert_non_null(X509_time_adj_ex(X509_getm_notBefore(x), -1, 0, &base));
    assert_non_null(X509_time_adj_ex(X509_getm_notAfter(x), 1, 0, &base));
    assert_true(X509_set_pubkey(x, key));
    X509V3_set_ctx(&v3, x, x, NULL, NULL, 0);
    e = X509V3_EXT_conf_nid(NULL, &v3, NID_ext_key_usage,
                            critical ? "critical,timeStamping"
                                     : "timeStamping");
    assert_non_null(e);
    assert_true(X509_add_ext(x, e, -1));
    X509_EXTENSION_free(e);
    assert_true(X509_sign(x, key, EVP_sha256()) > 0);
    return x;
}

static void
grant_with_key(EVP_PKEY *key, int want_md_nid)
{
    ms_tsa_options o = opts_at(&now);
    X509 *cert = self_signed_tsa(key, true, MS_TEST_NOW);
    req_spec s = REQ_SHA256;
    ms_store *st = NULL;
    ms_tsa *t = NULL;
    TS_RESP *resp;
    unsigned char *req;
    int req_len;
    ms_error err;
    X509_ALGOR *dig = NULL;

    o.include_tsa_name = true;
    o.accuracy_ms = 1500;
    assert_int_equal(ms_store_open(&st, "sqlite::memory:", &err), 0);
    if (ms_tsa_new(&t, &o, cert, key, NULL, st, &err) != 0)
        fail_msg("ms_tsa_new: %s", err.msg);
    resp = respond(t, &s, &req, &req_len);
    assert_int_equal(status_of(resp), TS_STATUS_GRANTED);
    assert_int_equal(openssl_verify(resp, req, req_len, cert, NULL), 1);
    PKCS7_SIGNER_INFO_get0_algs(
        sk_PKCS7_SIGNER_INFO_value(
            PKCS7_get_signer_info(TS_RESP_get_token(resp)), 0),
        NULL, &dig, NULL);
    assert_int_equal(OBJ_obj2nid(dig->algorithm), want_md_nid);
    {
        TS_TST_INFO *tst = TS_RESP_get_tst_info(resp);
        const TS_ACCURACY *acc = TS_TST_INFO_get_accuracy(tst);
        GENERAL_NAME *gn = TS_TST_INFO_get_tsa(tst);

        assert_int_equal(ASN1_INTEGER_get(TS_ACCURACY_get_seconds(acc)), 1);
        assert_int_equal(ASN1_INTEGER_get(TS_ACCURACY_get_millis(acc)), 500);
        assert_non_null(gn);
        assert_int_equal(gn->type, GEN_DIRNAME);
        assert_int_equal(X509_NAME_cmp(gn->d.dirn, X509_get_subject_name(cert)),
                         0);
    }
    OPENSSL_free(req);
    TS_RESP_free(resp);
    ms_tsa_free(t);
    ms_store_close(st);
    X509_free(cert);
}

static void
test_tsa__rsa_and_p384_keys(void **state)
{
    EVP_PKEY *rsa = EVP_RSA_gen(2048);
    EVP_PKEY *p384 = EVP_EC_gen("P-384");

    (void)state;
    assert_non_null(rsa);
    assert_non_null(p384);
    grant_with_key(rsa, NID_sha256);
    grant_with_key(p384, NID_sha384);
    EVP_PKEY_free(rsa);
    EVP_PKEY_free(p384);
}

/* From 2050 on, signingTime is a GeneralizedTime (RFC 5652 11.3). */
static void
test_tsa__after_2049_signing_time_generalized(void **state)
{
    static time_t late = (time_t)2556144000; /* 2051-01-01T00:00:00Z */
    ms_tsa_options o = opts_at(&late);
    EVP_PKEY *key = EVP_EC_gen("P-256");
    X509 *cert;
    req_spec s = REQ_SHA256;
    ms_store *st = NULL;
    ms_tsa *t = NULL;
    TS_RESP *resp;
    unsigned char *req;
    int req_len;
    ms_error err;
    ASN1_TYPE *when;
    ASN1_TIME *want = ASN1_TIME_set(NULL, late);

    (void)state;
    assert_non_null(key);
    cert = self_signed_tsa(key, true, late);
    assert_int_equal(ms_store_open(&st, "sqlite::memory:", &err), 0);
    assert_int_equal(ms_tsa_new(&t, &o, cert, key, NULL, st, &err), 0);
    resp = respond(t, &s, &req, &req_len);
    assert_int_equal(openssl_verify_at(resp, req, req_len, cert, NULL, late),
                     1);
    when = PKCS7_get_signed_attribute(
        sk_PKCS7_SIGNER_INFO_value(
            PKCS7_get_signer_info(TS_RESP_get_token(resp)), 0),
        NID_pkcs9_signingTime);
    assert_non_null(when);
    assert_int_equal(when->type, V_ASN1_GENERALIZEDTIME);
    assert_int_equal(
        ASN1_TIME_compare(TS_TST_INFO_get_time(TS_RESP_get_tst_info(resp)),
                          want),
        0);
    ASN1_TIME_free(want);
    OPENSSL_free(req);
    TS_RESP_free(resp);
    ms_tsa_free(t);
    ms_store_close(st);
    X509_free(cert);
    EVP_PKEY_free(key);
}

static void
test_tsa__bad_setup_refused(void **state)
{
    ms_tsa_options o = opts_at(&now);
    X509 *tsa = ms_test_cert("tsa.pem"),
         *noncrit = ms_test_cert("tsa-noncrit.pem"),
         *mail = ms_test_cert("ec-sign.pem");
    EVP_PKEY *key = pki_key("tsa.key"), *nc_key = pki_key("tsa-noncrit.key"),
             *mail_key = pki_key("ec-sign.key");
    ms_store *st = NULL;
    ms_tsa *t = NULL;
    ms_error err;

    (void)state;
    assert_int_equal(ms_store_open(&st, "sqlite::memory:", &err), 0);
    assert_int_equal(ms_tsa_new(&t, &o, tsa, nc_key, NULL, st, &err),
                     MS_EINVAL); /* key of another certificate */
    assert_int_equal(ms_tsa_new(&t, &o, noncrit, nc_key, NULL, st, &err),
                     MS_EINVAL); /* EKU not critical */
    assert_int_equal(ms_tsa_new(&t, &o, mail, mail_key, NULL, st, &err),
                     MS_EINVAL); /* not a TSA certificate */
    o.version = 99;
    assert_int_equal(ms_tsa_new(&t, &o, tsa, key, NULL, st, &err), MS_EINVAL);
    o = opts_at(&now);
    o.digests = 0;
    assert_int_equal(ms_tsa_new(&t, &o, tsa, key, NULL, st, &err), MS_EINVAL);
    o = opts_at(&now);
    o.serial_block = 0;
    assert_int_equal(ms_tsa_new(&t, &o, tsa, key, NULL, st, &err), MS_EINVAL);
    o = opts_at(&now);
    o.policy_oid = "not an oid";
    assert_int_equal(ms_tsa_new(&t, &o, tsa, key, NULL, st, &err), MS_EINVAL);
    assert_null(t);
    assert_int_equal(ERR_peek_error(), 0);
    /* NULL options are the defaults. */
    assert_int_equal(ms_tsa_new(&t, NULL, tsa, key, NULL, st, &err), 0);
    ms_tsa_free(t);
    ms_store_close(st);
    X509_free(tsa);
    X509_free(noncrit);
    X509_free(mail);
    EVP_PKEY_free(key);
    EVP_PKEY_free(nc_key);
    EVP_PKEY_free(mail_key);
}

static void
test_tsa__chain_cap_and_clock(void **state)
{
    ms_tsa_options o = opts_at(&now);
    static time_t late = (time_t)2524608000; /* 2050: the certificate ended */
    X509 *cert = ms_test_cert("tsa.pem"), *root = ms_test_cert("root.pem");
    EVP_PKEY *key = pki_key("tsa.key");
    STACK_OF(X509) *chain = sk_X509_new_null();
    req_spec s = REQ_SHA256;
    unsigned char *req = NULL;
    int len = make_req(&req, &s);
    ms_store *st = NULL;
    ms_tsa *t = NULL;
    TS_RESP *resp;
    ms_buf out;
    ms_error err;

    (void)state;
    assert_true(sk_X509_push(chain, root) > 0);
    assert_int_equal(ms_store_open(&st, "sqlite::memory:", &err), 0);
    assert_int_equal(ms_tsa_new(&t, &o, cert, key, chain, st, &err), 0);
    sk_X509_pop_free(chain, X509_free); /* the TSA holds its own refs */
    X509_free(cert);
    EVP_PKEY_free(key);
    resp = respond(t, &s, NULL, NULL);
    assert_int_equal(sk_X509_num(TS_RESP_get_token(resp)->d.sign->cert), 2);
    TS_RESP_free(resp);

    /* A response larger than the caller's cap: MS_ETOOBIG, nothing out. */
    ms_buf_init(&out, 100);
    assert_int_equal(ms_tsa_respond(t, req, (size_t)len, &out, &err),
                     MS_ETOOBIG);
    assert_int_equal(out.len, 0);
    ms_buf_cleanup(&out);
    ms_tsa_free(t);

    /* No timestamp outside the TSA certificate's validity. */
    cert = ms_test_cert("tsa.pem");
    key = pki_key("tsa.key");
    o = opts_at(&late);
    assert_int_equal(ms_tsa_new(&t, &o, cert, key, NULL, st, &err), 0);
    ms_buf_init(&out, 0);
    assert_int_equal(ms_tsa_respond(t, req, (size_t)len, &out, &err), MS_ERR);
    assert_int_equal(out.len, 0);
    ms_buf_cleanup(&out);
    ms_tsa_free(t);
    X509_free(cert);
    EVP_PKEY_free(key);
    ms_store_close(st);
    OPENSSL_free(req);
}

static void
test_tsa__allocation_failures(void **state)
{
    ms_tsa_options o = opts_at(&now);
    X509 *cert = ms_test_cert("tsa.pem");
    EVP_PKEY *key = pki_key("tsa.key");
    req_spec s = REQ_SHA256;
    unsigned char *req = NULL;
    int len = make_req(&req, &s);
    ms_store *st = NULL;
    ms_tsa *t = NULL;
    size_t total;
    ms_buf out;
    ms_error err;

    (void)state;
    assert_int_equal(ms_store_open(&st, "sqlite::memory:", &err), 0);
    (void)ms_alloc_fail_at(0);
    assert_int_equal(ms_tsa_new(&t, &o, cert, key, NULL, st, &err), 0);
    total = ms_alloc_fail_at(0);
    assert_true(total >= 1);
    ms_tsa_free(t);
    for (size_t n = 1; n <= total; n++) {
        t = NULL;
        (void)ms_alloc_fail_at(n);
        assert_int_equal(ms_tsa_new(&t, &o, cert, key, NULL, st, &err),
                         MS_ENOMEM);
        (void)ms_alloc_fail_at(0);
        assert_null(t);
    }
    ERR_clear_error(); /* failed allocations inside OpenSSL callbacks */

    assert_int_equal(ms_tsa_new(&t, &o, cert, key, NULL, st, &err), 0);
    ms_buf_init(&out, 0);
    assert_int_equal(ms_tsa_respond(t, req, (size_t)len, &out, &err), 0);
    ms_buf_reset(&out);
    (void)ms_alloc_fail_at(0);
    assert_int_equal(ms_tsa_respond(t, req, (size_t)len, &out, &err), 0);
    total = ms_alloc_fail_at(0);
    ms_buf_cleanup(&out);
    for (size_t n = 1; n <= total; n++) {
        int rc;

        ms_buf_init(&out, 0);
        (void)ms_alloc_fail_at(n);
        rc = ms_tsa_respond(t, req, (size_t)len, &out, &err);
        (void)ms_alloc_fail_at(0);
        if (rc != MS_ENOMEM)
            fail_msg("allocation %zu of %zu: %s", n, total, ms_status_name(rc));
        assert_int_equal(out.len, 0);
        ms_buf_cleanup(&out);
    }
    ms_tsa_free(t);
    ms_store_close(st);
    X509_free(cert);
    EVP_PKEY_free(key);
    OPENSSL_free(req);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tsa__granted_verifies_with_openssl),
        cmocka_unit_test(test_tsa__nonce_and_cert_req),
        cmocka_unit_test(test_tsa__every_strong_digest_granted),
        cmocka_unit_test(test_tsa__library_tsp_verify_accepts),
        cmocka_unit_test(test_tsa__weak_or_unknown_digest_bad_alg),
        cmocka_unit_test(test_tsa__policy_extensions_version_refused),
        cmocka_unit_test(test_tsa__not_a_request_is_einval),
        cmocka_unit_test(test_tsa__serials_survive_reopen),
        cmocka_unit_test(test_tsa__concurrent_serials_distinct),
        cmocka_unit_test(test_tsa__rsa_and_p384_keys),
        cmocka_unit_test(test_tsa__after_2049_signing_time_generalized),
        cmocka_unit_test(test_tsa__bad_setup_refused),
        cmocka_unit_test(test_tsa__chain_cap_and_clock),
        cmocka_unit_test(test_tsa__allocation_failures),
    };

    return cmocka_run_group_tests(tests, ms_test_library_setup,
                                  ms_test_library_teardown);
}
