/*
 * ca/lint.h - the certificate linter: every certificate the CA issues is
 * checked against its profile before it is signed, and a failed lint
 * refuses issuance (fail closed).
 *
 * CRLs (ms_lint_crl) and OCSP responses (ms_lint_ocsp_response) are
 * checked the same way before the CA or the responder lets them out.
 *
 * The profiles follow the CA/Browser Forum S/MIME Baseline Requirements,
 * "strict" generation, with our own policy OIDs (MS_OID_ARC ".1.{1..4}",
 * x509/info.h) naming the identity level V1..V4. The linter reads the
 * to-be-signed certificate only: it never needs, checks or changes a
 * signature, and it keeps no state, so it is safe to call from any thread
 * on a certificate no other thread is changing.
 */
#ifndef MS_CA_LINT_H
#define MS_CA_LINT_H

#include <time.h>

#include <openssl/ocsp.h>
#include <openssl/x509.h>

/* What the certificate is for: the split certificates of the CA. */
typedef enum {
    MS_LINT_SIGNING,   /* one per device: digitalSignature (+nonRepudiation) */
    MS_LINT_ENCRYPTION /* one per mailbox: keyEncipherment or keyAgreement */
} ms_lint_use;

/* Caller storage: how many rules failed and the first one, as
 * "<rule id>: <text>" (empty when clean). */
typedef struct ms_lint_report {
    unsigned count;
    char first[256];
} ms_lint_report;

/*
 * Lints tbs (signed or not) for identity level (1..4) and use at time now.
 * Every rule runs; rep receives the count of violations and the first.
 * Returns 0 when clean, MS_EPOLICY when any rule fails, MS_EINVAL when
 * level or use is out of range. Leaves the OpenSSL error queue as it was.
 */
int ms_lint_cert(ms_lint_report *rep, X509 *tbs, int level, ms_lint_use use,
                 time_t now);

/* BR: a CRL's nextUpdate and an OCSP response's nextUpdate are at most
 * 10 days after thisUpdate. */
#define MS_LINT_REVOCATION_MAX_VALIDITY (10L * 24 * 60 * 60)

/*
 * Lints a CRL (signed or not) issued by issuer: version 2, issuer name
 * equal to issuer's subject, authorityKeyIdentifier (keyid equal to the
 * issuer's key), cRLNumber present, positive and at most 20 octets,
 * nextUpdate after thisUpdate and at most 10 days later, each entry with a
 * positive serial, a revocation date not after thisUpdate and, when present,
 * a valid reason code (0..10 but 7 and 8; unspecified (0) is omitted, not
 * written), no duplicate serials, no unknown critical extension (CRL or
 * entry). Returns 0 when clean, MS_EPOLICY when any rule fails. Leaves the
 * OpenSSL error queue as it was.
 */
int ms_lint_crl(ms_lint_report *rep, X509_CRL *tbs, X509 *issuer);

/* The status the store gave for one SingleResponse. */
typedef struct ms_lint_ocsp_expect {
    int status;        /* V_OCSP_CERTSTATUS_GOOD, _REVOKED or _UNKNOWN */
    time_t revoked_at; /* when revoked */
    int reason;        /* CRLReason when revoked, -1 when to be omitted */
} ms_lint_ocsp_expect;

/* What ms_lint_ocsp_response() checks; every pointer is borrowed. */
typedef struct ms_lint_ocsp_in {
    OCSP_RESPONSE *resp;               /* the signed response */
    X509 *signer;                      /* the delegated responder */
    const ms_lint_ocsp_expect *expect; /* one per SingleResponse, in order */
    size_t n_expect;
    long max_validity; /* configured bound on nextUpdate - thisUpdate */
    time_t now;
} ms_lint_ocsp_in;

/*
 * Lints an OCSP response before it leaves the responder: status
 * successful with a BasicOCSPResponse, ResponderID byKey equal to the
 * signer's key hash, the signer certificate included and allowed to sign
 * OCSP (extKeyUsage OCSPSigning), signature algorithm RSA or ECDSA with
 * SHA-256/384/512, one SingleResponse per expectation with the expected
 * status (and revocation time and reason), thisUpdate <= now, nextUpdate
 * present, after thisUpdate and within min(max_validity, 10 days), no
 * response extension but the nonce and none critical. OpenSSL fills the
 * ResponderID, producedAt and signature algorithm in the call that signs,
 * so the lint reads the signed response; a caller refuses to release a
 * response that fails. Returns 0 when clean, MS_EPOLICY when any rule
 * fails. Leaves the OpenSSL error queue as it was.
 */
int ms_lint_ocsp_response(ms_lint_report *rep, const ms_lint_ocsp_in *in);

#endif
