/* x509/revocation.c - CRL and OCSP checks. */
#include <limits.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/ocsp.h>
#include <openssl/x509v3.h>

#include "ctx.h"
#include "net/http.h"
#include "util/error.h"
#include "x509/info.h"
#include "x509/revocation.h"

#define MS_OCSP_MAX_ANSWER (64u * 1024)
#define MS_OCSP_SKEW 300

static void
set_unknown(ms_rev_answer *a, const char *why)
{
    a->named = true;
    if (a->status != MS_REV_REVOKED && a->status != MS_REV_GOOD) {
        a->status = MS_REV_UNKNOWN;
        (void)snprintf(a->why, sizeof(a->why), "%s", why);
    }
}

static int
crl_reason(X509_REVOKED *rev)
{
    ASN1_ENUMERATED *e;
    int reason = -1;

    e = X509_REVOKED_get_ext_d2i(rev, NID_crl_reason, NULL, NULL);
    if (e != NULL) {
        reason = (int)ASN1_ENUMERATED_get(e);
        ASN1_ENUMERATED_free(e);
    }
    return reason;
}

void
ms_rev_check_crl(ms_rev_answer *a, X509 *cert, X509 *issuer,
                 STACK_OF(X509_CRL) *crls, time_t now)
{
    EVP_PKEY *ipk = X509_get0_pubkey(issuer);

    for (int i = 0; i < sk_X509_CRL_num(crls); i++) {
        X509_CRL *crl = sk_X509_CRL_value(crls, i);
        X509_REVOKED *rev = NULL;
        time_t last, next;

        if (X509_NAME_cmp(X509_CRL_get_issuer(crl),
                          X509_get_issuer_name(cert)) != 0)
            continue;
        a->named = true;
        if (ipk == NULL || X509_CRL_verify(crl, ipk) != 1) {
            set_unknown(a, "a CRL for this issuer has a bad signature");
            continue;
        }
        if (!ms_asn1_time_epoch(X509_CRL_get0_lastUpdate(crl), &last) ||
            X509_CRL_get0_nextUpdate(crl) == NULL ||
            !ms_asn1_time_epoch(X509_CRL_get0_nextUpdate(crl), &next) ||
            last > now + MS_OCSP_SKEW || next < now) {
            set_unknown(a, "the CRL is not current (stale or not yet valid)");
            continue;
        }
        if (X509_CRL_get0_by_cert(crl, &rev, cert) == 1 && rev != NULL) {
            a->status = MS_REV_REVOKED;
            a->reason = crl_reason(rev);
            if (!ms_asn1_time_epoch(X509_REVOKED_get0_revocationDate(rev),
                                    &a->revoked_at))
                a->revoked_at = 0;
            return;
        }
        if (a->status != MS_REV_REVOKED)
            a->status = MS_REV_GOOD;
    }
    ERR_clear_error();
}

static char *
ocsp_url(X509 *cert)
{
    STACK_OF(OPENSSL_STRING) *urls = X509_get1_ocsp(cert);
    char *r = NULL;

    for (int i = 0; urls != NULL && i < sk_OPENSSL_STRING_num(urls); i++) {
        const char *u = sk_OPENSSL_STRING_value(urls, i);

        if (strncmp(u, "http://", 7) == 0 || strncmp(u, "https://", 8) == 0) {
            r = OPENSSL_strdup(u);
            break;
        }
    }
    X509_email_free(urls); /* frees a stack of strings */
    return r;
}

static bool
cache_key(unsigned char key[32], ms_ctx *ctx, OCSP_CERTID *id)
{
    unsigned char *der = NULL;
    int n = i2d_OCSP_CERTID(id, &der);
    bool ok = n > 0 && EVP_Q_digest(ctx->libctx, "SHA256", ctx->propq, der,
                                    (size_t)n, key, NULL) == 1;

    OPENSSL_free(der);
    return ok;
}

static bool
cache_get(ms_ctx *ctx, const unsigned char key[32], ms_rev_answer *a,
          time_t now)
{
    bool hit = false;

    if (pthread_mutex_lock(&ctx->ocsp_lock) != 0)
        return false;
    for (size_t i = 0; i < MS_OCSP_CACHE_SIZE; i++) {
        ms_ocsp_entry *e = &ctx->ocsp_cache[i];

        if (e->used && memcmp(e->key, key, 32) == 0 && e->expires >= now) {
            a->status = (ms_revocation)e->status;
            a->reason = e->reason;
            a->revoked_at = e->revoked_at;
            a->named = true;
            hit = true;
            break;
        }
    }
    (void)pthread_mutex_unlock(&ctx->ocsp_lock); /* we hold it */
    return hit;
}

static void
cache_put(ms_ctx *ctx, const unsigned char key[32], const ms_rev_answer *a,
          time_t expires)
{
    ms_ocsp_entry *e;

    if (pthread_mutex_lock(&ctx->ocsp_lock) != 0)
        return;
    e = &ctx->ocsp_cache[ctx->ocsp_next];
    ctx->ocsp_next = (ctx->ocsp_next + 1) % MS_OCSP_CACHE_SIZE;
    memcpy(e->key, key, 32);
    e->status = (int)a->status;
    e->reason = a->reason;
    e->revoked_at = a->revoked_at;
    e->expires = expires;
    e->used = true;
    (void)pthread_mutex_unlock(&ctx->ocsp_lock); /* we hold it */
}

/* Reads the single response for id out of a verified basic response. */
static void
read_status(ms_rev_answer *a, OCSP_BASICRESP *bs, OCSP_CERTID *id,
            time_t now, time_t *expires)
{
    ASN1_GENERALIZEDTIME *rev = NULL, *thisupd = NULL, *nextupd = NULL;
    int status, reason = -1;
    time_t t;

    if (OCSP_resp_find_status(bs, id, &status, &reason, &rev, &thisupd,
                              &nextupd) != 1) {
        set_unknown(a, "the OCSP answer does not cover this certificate");
        return;
    }
    if (OCSP_check_validity(thisupd, nextupd, MS_OCSP_SKEW, -1) != 1) {
        set_unknown(a, "the OCSP answer is not current");
        return;
    }
    *expires = now + 3600;
    if (nextupd != NULL && ms_asn1_time_epoch(nextupd, &t))
        *expires = t;
    if (status == V_OCSP_CERTSTATUS_GOOD) {
        a->status = MS_REV_GOOD;
    } else if (status == V_OCSP_CERTSTATUS_REVOKED) {
        a->status = MS_REV_REVOKED;
        a->reason = reason;
        if (rev == NULL || !ms_asn1_time_epoch(rev, &a->revoked_at))
            a->revoked_at = 0;
    } else {
        set_unknown(a, "the OCSP responder does not know the certificate");
    }
}

static void
ask(ms_rev_answer *a, ms_ctx *ctx, const char *url, OCSP_CERTID *id,
    X509 *issuer, X509_STORE *store, time_t now, time_t *expires)
{
    OCSP_REQUEST *req = NULL;
    OCSP_RESPONSE *resp = NULL;
    OCSP_BASICRESP *bs = NULL;
    STACK_OF(X509) *extra = NULL;
    OCSP_CERTID *idc = NULL;
    unsigned char *der = NULL;
    const unsigned char *p;
    ms_buf answer;
    int n, nonce;

    ms_buf_init(&answer, MS_OCSP_MAX_ANSWER);
    if ((req = OCSP_REQUEST_new()) == NULL ||
        (idc = OCSP_CERTID_dup(id)) == NULL ||
        OCSP_request_add0_id(req, idc) == NULL) {
        OCSP_CERTID_free(idc);
        set_unknown(a, "cannot build the OCSP request");
        goto out;
    }
    idc = NULL; /* owned by req */
    if (OCSP_request_add1_nonce(req, NULL, -1) != 1 ||
        (n = i2d_OCSP_REQUEST(req, &der)) <= 0) {
        set_unknown(a, "cannot build the OCSP request");
        goto out;
    }
    if (ms_http_fetch(&answer, ctx, url, "application/ocsp-request", der,
                        (size_t)n, "application/ocsp-response",
                        MS_OCSP_MAX_ANSWER, NULL) != 0) {
        set_unknown(a, "the OCSP responder did not answer");
        goto out;
    }
    p = answer.data;
    if ((resp = d2i_OCSP_RESPONSE(NULL, &p, (long)answer.len)) == NULL ||
        OCSP_response_status(resp) != OCSP_RESPONSE_STATUS_SUCCESSFUL ||
        (bs = OCSP_response_get1_basic(resp)) == NULL) {
        set_unknown(a, "the OCSP answer is not a successful response");
        goto out;
    }
    if ((extra = sk_X509_new_null()) == NULL ||
        !sk_X509_push(extra, issuer) ||
        OCSP_basic_verify(bs, extra, store, 0) != 1) {
        set_unknown(a, "the OCSP answer is not signed by an authorised "
                       "responder");
        goto out;
    }
    nonce = OCSP_check_nonce(req, bs);
    if (nonce != 1 && nonce != -1) {
        set_unknown(a, "the OCSP answer's nonce does not match");
        goto out;
    }
    read_status(a, bs, id, now, expires);
out:
    sk_X509_free(extra); /* borrowed issuer */
    OCSP_BASICRESP_free(bs);
    OCSP_RESPONSE_free(resp);
    OCSP_REQUEST_free(req);
    OPENSSL_free(der);
    ms_buf_cleanup(&answer);
    ERR_clear_error();
}

void
ms_rev_check_ocsp(ms_rev_answer *a, ms_ctx *ctx, X509 *cert, X509 *issuer,
                  X509_STORE *store, time_t now)
{
    OCSP_CERTID *id = NULL;
    char *url;
    unsigned char key[32];
    time_t expires = 0;
    bool keyed;

    if ((url = ocsp_url(cert)) == NULL)
        return;
    a->named = true;
    if ((id = OCSP_cert_to_id(NULL, cert, issuer)) == NULL) {
        set_unknown(a, "cannot build the OCSP request");
        goto out;
    }
    keyed = cache_key(key, ctx, id);
    if (keyed && cache_get(ctx, key, a, now))
        goto out;
    ask(a, ctx, url, id, issuer, store, now, &expires);
    if (keyed && (a->status == MS_REV_GOOD || a->status == MS_REV_REVOKED))
        cache_put(ctx, key, a, expires);
out:
    OCSP_CERTID_free(id);
    OPENSSL_free(url);
    ERR_clear_error();
}
