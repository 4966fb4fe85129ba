/* cms/tsp.c - RFC 3161 client and token verification. */
#include <limits.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/rand.h>
#include <openssl/ts.h>
#include <openssl/x509v3.h>

#include "cms/tsp.h"
#include "ctx.h"
#include "net/http.h"
#include "util/error.h"
#include "x509/info.h"

static int
build_request(TS_REQ **out, ASN1_INTEGER **nonce_out, ms_ctx *ctx,
              const unsigned char *sig, size_t siglen, ms_error *err)
{
    TS_REQ *req = NULL;
    TS_MSG_IMPRINT *mi = NULL;
    X509_ALGOR *alg = NULL;
    ASN1_INTEGER *nonce = NULL;
    unsigned char md[EVP_MAX_MD_SIZE], rnd[8];
    unsigned int mdlen = 0;
    int rc = MS_ENOMEM;

    if (EVP_Q_digest(ctx->libctx, "SHA256", ctx->propq, sig, siglen, md,
                     NULL) != 1 ||
        RAND_bytes(rnd, sizeof(rnd)) != 1) {
        rc = ms_error_set_ossl(err, MS_ERR, "cannot hash the signature");
        goto out;
    }
    mdlen = 32;
    rnd[0] &= 0x7f; /* a positive nonce */
    if ((req = TS_REQ_new()) == NULL || (mi = TS_MSG_IMPRINT_new()) == NULL ||
        (alg = X509_ALGOR_new()) == NULL ||
        (nonce = ASN1_INTEGER_new()) == NULL)
        goto fail;
    X509_ALGOR_set_md(alg, EVP_sha256());
    if (!TS_MSG_IMPRINT_set_algo(mi, alg) ||
        !TS_MSG_IMPRINT_set_msg(mi, md, (int)mdlen) ||
        !TS_REQ_set_version(req, 1) || !TS_REQ_set_msg_imprint(req, mi) ||
        !TS_REQ_set_cert_req(req, 1))
        goto fail;
    {
        BIGNUM *bn = BN_bin2bn(rnd, sizeof(rnd), NULL);

        if (bn == NULL || BN_to_ASN1_INTEGER(bn, nonce) == NULL) {
            BN_free(bn);
            goto fail;
        }
        BN_free(bn);
    }
    if (!TS_REQ_set_nonce(req, nonce))
        goto fail;
    *out = req;
    *nonce_out = nonce;
    req = NULL;
    nonce = NULL;
    rc = 0;
    goto out;
fail:
    rc = ms_error_set_ossl(err, MS_ENOMEM, "cannot build the TSA request");
out:
    TS_REQ_free(req);
    TS_MSG_IMPRINT_free(mi);
    X509_ALGOR_free(alg);
    ASN1_INTEGER_free(nonce);
    return rc;
}

int
ms_tsp_request(ms_buf *token, ms_ctx *ctx, const char *url,
               const unsigned char *sig, size_t siglen, ms_error *err)
{
    TS_REQ *req = NULL;
    TS_RESP *resp = NULL;
    TS_VERIFY_CTX *vctx = NULL;
    ASN1_INTEGER *nonce = NULL;
    unsigned char *der = NULL;
    const unsigned char *p;
    ms_buf answer;
    int len, rc;

    ms_buf_init(&answer, MS_TSP_MAX_TOKEN);
    if ((rc = build_request(&req, &nonce, ctx, sig, siglen, err)) != 0)
        goto out;
    if ((len = i2d_TS_REQ(req, &der)) <= 0) {
        rc = ms_error_set_ossl(err, MS_ENOMEM, "cannot encode the request");
        goto out;
    }
    if ((rc = ms_http_fetch(&answer, ctx, url,
                              "application/timestamp-query", der,
                              (size_t)len, "application/timestamp-reply",
                              MS_TSP_MAX_TOKEN, err)) != 0)
        goto out;
    p = answer.data;
    if ((resp = d2i_TS_RESP(NULL, &p, (long)answer.len)) == NULL ||
        p != answer.data + answer.len) {
        rc = ms_error_set_ossl(err, MS_EMALFORMED,
                               "the TSA answer is not a TimeStampResp");
        goto out;
    }
    if (ASN1_INTEGER_get(TS_STATUS_INFO_get0_status(
            TS_RESP_get_status_info(resp))) > 1 ||
        TS_RESP_get_token(resp) == NULL) {
        rc = ms_error_set(err, MS_ETEMP, "the TSA refused the request");
        goto out;
    }
    /* Check the answer is for this request: version, imprint and nonce
     * (the signature is checked by readers against their TSA anchors). */
    if ((vctx = TS_REQ_to_TS_VERIFY_CTX(req, NULL)) == NULL) {
        rc = ms_error_set_ossl(err, MS_ENOMEM, "out of memory");
        goto out;
    }
    TS_VERIFY_CTX_set_flags(vctx, TS_VFY_VERSION | TS_VFY_IMPRINT |
                                      TS_VFY_NONCE);
    if (TS_RESP_verify_response(vctx, resp) != 1) {
        rc = ms_error_set_ossl(err, MS_EMALFORMED,
                               "the TSA answer does not match the request");
        goto out;
    }
    OPENSSL_free(der);
    der = NULL;
    if ((len = i2d_PKCS7(TS_RESP_get_token(resp), &der)) <= 0) {
        rc = ms_error_set_ossl(err, MS_ENOMEM, "cannot encode the token");
        goto out;
    }
    if ((rc = ms_buf_append(token, der, (size_t)len)) != 0)
        rc = ms_error_set(err, rc, "token too large");
out:
    OPENSSL_free(der);
    ASN1_INTEGER_free(nonce);
    TS_VERIFY_CTX_free(vctx);
    TS_RESP_free(resp);
    TS_REQ_free(req);
    ms_buf_cleanup(&answer);
    ERR_clear_error();
    return rc;
}

static void
fail(ms_tsp_check *out, const char *why)
{
    out->valid = false;
    (void)snprintf(out->reason, sizeof(out->reason), "%s", why);
    ERR_clear_error();
}

static bool
strong_imprint(const TS_TST_INFO *tst)
{
    const X509_ALGOR *a;
    int nid;

    a = TS_MSG_IMPRINT_get_algo(TS_TST_INFO_get_msg_imprint(
        (TS_TST_INFO *)(uintptr_t)tst));
    nid = OBJ_obj2nid(a->algorithm);
    return nid == NID_sha256 || nid == NID_sha384 || nid == NID_sha512 ||
           nid == NID_sha3_256 || nid == NID_sha3_384 || nid == NID_sha3_512;
}

/* The TSA certificate (the token's signer) has a critical timeStamping EKU. */
static bool
tsa_eku_ok(PKCS7 *token)
{
    STACK_OF(X509) *signers;
    X509 *x;
    int idx;
    bool ok = false;

    signers = PKCS7_get0_signers(token, NULL, 0);
    if (signers == NULL || sk_X509_num(signers) != 1)
        goto out;
    x = sk_X509_value(signers, 0);
    idx = X509_get_ext_by_NID(x, NID_ext_key_usage, -1);
    ok = idx >= 0 && X509_EXTENSION_get_critical(X509_get_ext(x, idx)) &&
         (X509_get_extended_key_usage(x) & XKU_TIMESTAMP) != 0;
out:
    sk_X509_free(signers); /* a new stack of borrowed certificates */
    return ok;
}

/* The TSA certificate (the token's signer) was valid at the token's time:
 * a TSA cannot vouch for a time when its certificate did not hold. */
static bool
tsa_valid_at(PKCS7 *token, time_t when)
{
    STACK_OF(X509) *signers;
    X509 *x;
    time_t nb, na;
    bool ok = false;

    signers = PKCS7_get0_signers(token, NULL, 0);
    if (signers == NULL || sk_X509_num(signers) != 1)
        goto out;
    x = sk_X509_value(signers, 0);
    ok = ms_asn1_time_epoch(X509_get0_notBefore(x), &nb) &&
         ms_asn1_time_epoch(X509_get0_notAfter(x), &na) && nb <= when &&
         when <= na;
out:
    sk_X509_free(signers); /* a new stack of borrowed certificates */
    return ok;
}

static time_t
gentime(const TS_TST_INFO *tst, bool *ok)
{
    const ASN1_GENERALIZEDTIME *g = TS_TST_INFO_get_time(tst);
    ASN1_TIME *epoch = NULL;
    int day = 0, sec = 0;

    *ok = g != NULL && (epoch = ASN1_TIME_set(NULL, 0)) != NULL &&
          ASN1_TIME_diff(&day, &sec, epoch, g) == 1;
    ASN1_TIME_free(epoch);
    return *ok ? (time_t)day * 86400 + sec : 0;
}

void
ms_tsp_verify(ms_tsp_check *out, ms_ctx *ctx, const unsigned char *token,
              size_t len, const unsigned char *sig, size_t siglen,
              STACK_OF(X509) *anchors, time_t at)
{
    PKCS7 *p7 = NULL;
    TS_TST_INFO *tst = NULL;
    TS_VERIFY_CTX *vctx = NULL;
    X509_STORE *store = NULL;
    BIO *data = NULL;
    const unsigned char *p = token;
    bool ok;

    memset(out, 0, sizeof(*out));
    (void)ctx;
    if (len > LONG_MAX || (p7 = d2i_PKCS7(NULL, &p, (long)len)) == NULL) {
        fail(out, "the timestamp token cannot be parsed");
        goto out;
    }
    if ((tst = PKCS7_to_TS_TST_INFO(p7)) == NULL) {
        fail(out, "the timestamp token holds no TSTInfo");
        goto out;
    }
    out->time = gentime(tst, &ok);
    out->has_time = ok;
    if (!ok) {
        fail(out, "the timestamp token has no valid time");
        goto out;
    }
    if (!strong_imprint(tst)) {
        fail(out, "the timestamp imprint uses a weak hash");
        goto out;
    }
    if (!tsa_eku_ok(p7)) {
        fail(out, "the TSA certificate lacks a critical timeStamping EKU");
        goto out;
    }
    if (anchors == NULL || sk_X509_num(anchors) == 0) {
        fail(out, "no TSA trust anchors configured");
        goto out;
    }
    if ((store = X509_STORE_new()) == NULL ||
        (vctx = TS_VERIFY_CTX_new()) == NULL ||
        (data = BIO_new_mem_buf(sig, (int)siglen)) == NULL) {
        fail(out, "out of memory");
        goto out;
    }
    for (int i = 0; i < sk_X509_num(anchors); i++) {
        if (X509_STORE_add_cert(store, sk_X509_value(anchors, i)) != 1) {
            fail(out, "cannot load the TSA anchors");
            goto out;
        }
    }
    X509_STORE_set_flags(store, X509_V_FLAG_PARTIAL_CHAIN |
                                    X509_V_FLAG_USE_CHECK_TIME);
    X509_VERIFY_PARAM_set_time(X509_STORE_get0_param(store), at);
    TS_VERIFY_CTX_set_store(vctx, store);
    store = NULL; /* owned by vctx */
    TS_VERIFY_CTX_set_data(vctx, data);
    data = NULL; /* owned by vctx */
    TS_VERIFY_CTX_set_flags(vctx, TS_VFY_VERSION | TS_VFY_SIGNATURE |
                                      TS_VFY_DATA);
    if (TS_RESP_verify_token(vctx, p7) != 1) {
        unsigned long e = ERR_peek_error();
        char why[200];

        (void)snprintf(why, sizeof(why), "the timestamp token does not "
                       "verify (%s)", e != 0 ? ERR_reason_error_string(e)
                                             : "unknown reason");
        fail(out, why);
        goto out;
    }
    if (!tsa_valid_at(p7, out->time)) {
        fail(out, "the TSA certificate was not valid at the timestamp's "
                  "time");
        goto out;
    }
    out->valid = true;
out:
    ERR_clear_error();
    BIO_free(data);
    X509_STORE_free(store);
    TS_VERIFY_CTX_free(vctx);
    TS_TST_INFO_free(tst);
    PKCS7_free(p7);
}
