/*
 * x509/revocation.h - is a certificate revoked? CRLs given by the caller
 * and OCSP via the certificate's AIA (bounded time, cached in the ms_ctx).
 */
#ifndef MS_X509_REVOCATION_H
#define MS_X509_REVOCATION_H

#include <stdbool.h>
#include <time.h>

#include <openssl/x509.h>

#include <mailseal/ctx.h>
#include <mailseal/verify.h>

#define MS_REASON_KEY_COMPROMISE 1

typedef struct ms_rev_answer {
    ms_revocation status; /* NOT_CHECKED when no source was named */
    bool named;           /* a CRL or OCSP responder covers the cert */
    time_t revoked_at;
    int reason;           /* CRL reason code, -1 when none was given */
    char why[200];        /* for UNKNOWN: what went wrong */
} ms_rev_answer;

/*
 * Checks cert (issued by issuer) against crls as of now: a CRL from the
 * issuer, correctly signed, current (thisUpdate <= now <= nextUpdate).
 */
void ms_rev_check_crl(ms_rev_answer *a, X509 *cert, X509 *issuer,
                      STACK_OF(X509_CRL) *crls, time_t now);

/*
 * Asks the OCSP responder named in cert's AIA, verifying the answer with
 * store (responder chain) and its nonce. Leaves *a alone when cert has no
 * OCSP URL.
 */
void ms_rev_check_ocsp(ms_rev_answer *a, ms_ctx *ctx, X509 *cert,
                       X509 *issuer, X509_STORE *store, time_t now);

#endif
