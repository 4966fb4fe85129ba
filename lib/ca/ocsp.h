/*
 * ca/ocsp.h - the OCSP responder (RFC 6960) of the issuing CAs V1..V4.
 *
 * ms_ocsp_respond() turns the DER bytes of an OCSPRequest (a POST body, or
 * a GET path already base64-decoded by the HTTP layer) into the DER bytes
 * of an OCSPResponse. Each issuing CA answers through its own delegated
 * responder (a certificate it issued with extKeyUsage OCSPSigning): the
 * BasicOCSPResponse names it byKey, includes its certificate and is signed
 * with SHA-256. thisUpdate is now, nextUpdate now + validity.
 *
 * Answers:
 *   - good / revoked (time, reason; "unspecified" is omitted) from the store
 *     (ms_store_cert_get(issuer name, serial)).
 *   - A serial the CA never issued gets a SIGNED "unknown" certStatus, not
 *     "good" (BR) and not the unsigned "unauthorized" error: `openssl ocsp`
 *     prints it as "unknown" and our own verifier, NSS/Firefox (a hard
 *     SEC_ERROR_OCSP_UNKNOWN_CERT) and Windows all treat it as not good,
 *     whereas several clients soft-fail on an "unauthorized" error, i.e.
 *     accept the certificate. RFC 6960 2.2 and 2.3 allow either.
 *   - A CertID naming an issuer (name and key hash, for SHA-1, SHA-256,
 *     SHA-384 or SHA-512) we do not serve, or a request whose CertIDs need
 *     more than one responder (several CAs), gets "unauthorized" (2.3):
 *     one response has one signer.
 *   - The nonce (RFC 8954, at most 32 octets in an OCTET STRING) is echoed;
 *     a response with a nonce is never cached or served from the cache.
 *
 * Cache: a response for one CertID without a nonce is kept (key: the
 * CertID's DER, i.e. issuer hashes + hash algorithm + serial) together with
 * an alias keyed by the raw request bytes, so a repeated request (every
 * GET of one certificate looks alike) is answered without parsing or
 * signing. An entry is served until less than refresh_margin of its
 * validity remains, then re-signed. Every call reads the store's revocation
 * epoch (one indexed read) and drops the whole cache when it moved: a
 * revocation anywhere is visible to the next request. Entries are limited
 * to max_cache_entries (oldest evicted first). Hash keys are SipHash-2-4
 * under a random key (no flooding).
 *
 * Audit: "every key use is written to the audit log" without a write per
 * uncached request: signatures are counted per issuer and an "ocsp.sign"
 * row (issuer, count) is appended, with the store handle of the signing
 * call, at most once a minute per issuer (the first signature writes at
 * once). A failed audit write keeps the count for the next row and does
 * not refuse the answer; ms_ocsp_responder_audit_flush() writes what is
 * pending (call it at shutdown).
 *
 * Lint: every signed response passes ms_lint_ocsp_response() (ca/lint.h)
 * before it is released or cached; a failure answers internalError (fail
 * closed). The options are not checked against the BR bounds: a validity
 * over max_validity or 10 days makes every answer a refusal, which the
 * lint reports.
 *
 * Ownership: the responder takes its own references on the certificates
 * and keys it is given; ms_ocsp_responder_free() releases them.
 * Thread safety: set up (new, add_issuer) from one thread; afterwards
 * respond, invalidate, get_stats and audit_flush may be called from any
 * number of threads at once, each with its own store handle. The cache is
 * guarded by a rwlock that is never held while signing or reading the
 * store.
 */
#ifndef MS_CA_OCSP_H
#define MS_CA_OCSP_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include <mailseal/buf.h>
#include <mailseal/ctx.h>
#include <mailseal/error.h>

#include "store/store.h"

/* Largest OCSPRequest accepted (DER bytes). */
#define MS_OCSP_REQUEST_MAX 8192
/* Most CertIDs in one request. */
#define MS_OCSP_MAX_SINGLE 10
/* Most issuing CAs one responder serves. */
#define MS_OCSP_MAX_ISSUERS 8
/* Longest nonce extnValue accepted (an OCTET STRING of 32 octets). */
#define MS_OCSP_NONCE_MAX 34

typedef struct ms_ocsp_responder ms_ocsp_responder;

typedef struct ms_ocsp_options {
    unsigned version;         /* MS_OCSP_OPTIONS_VERSION */
    long validity;            /* seconds from thisUpdate to nextUpdate */
    long refresh_margin;      /* re-sign when less remains; 0: validity/4 */
    long max_validity;        /* lint bound (the BR's 10 days also apply) */
    size_t max_cache_entries; /* 0 disables the cache */
    ms_clock_fn clock;        /* NULL: time(2) */
    void *clock_arg;
} ms_ocsp_options;

#define MS_OCSP_OPTIONS_VERSION 1
#define MS_OCSP_OPTIONS_INIT                                                   \
    {                                                                          \
        MS_OCSP_OPTIONS_VERSION, 86400, 0, 10L * 86400, 10000, NULL, NULL      \
    }

/* Counters since ms_ocsp_responder_new(), read without locking. */
typedef struct ms_ocsp_stats {
    uint64_t requests;   /* ms_ocsp_respond() calls */
    uint64_t cache_hits; /* answered from the cache */
    uint64_t signatures; /* responses signed */
    uint64_t refused;    /* signed responses the lint refused */
} ms_ocsp_stats;

/*
 * Creates a responder serving no issuer yet; opt NULL means
 * MS_OCSP_OPTIONS_INIT. Returns 0, MS_EINVAL (version, validity <= 0,
 * refresh_margin not in 0..validity-1, max_validity <= 0, max_cache_entries
 * over 1000000), MS_ENOMEM.
 */
int ms_ocsp_responder_new(ms_ocsp_responder **out, const ms_ocsp_options *opt,
                          ms_error *err);

/* Releases r and its references; NULL is a no-op. */
void ms_ocsp_responder_free(ms_ocsp_responder *r);

/*
 * Serves issuing_ca, whose certificates the store files under
 * issuer_name_in_store, through responder_cert/responder_key: a
 * certificate issued (and signed) by issuing_ca with extKeyUsage
 * OCSPSigning, and its private key. r takes its own references. Returns 0,
 * MS_EINVAL (a check above fails, bad name, the CA is served already, more
 * than MS_OCSP_MAX_ISSUERS), MS_ENOMEM.
 */
int ms_ocsp_responder_add_issuer(ms_ocsp_responder *r, X509 *issuing_ca,
                                 const char *issuer_name_in_store,
                                 X509 *responder_cert, EVP_PKEY *responder_key,
                                 ms_error *err);

/*
 * Answers the OCSPRequest req (len bytes) into resp_der (reset first; its
 * max must allow a few KiB). Returns:
 *   0            resp_der holds the answer (successful or "unauthorized"):
 *                send it (HTTP 200, application/ocsp-response)
 *   MS_EINVAL    not one strict-DER OCSPRequest (trailing bytes, BER,
 *                no CertID, a bad nonce, an unknown critical extension)
 *   MS_ETOOBIG   over MS_OCSP_REQUEST_MAX bytes or MS_OCSP_MAX_SINGLE
 *                CertIDs; with MS_EINVAL resp_der holds "malformedRequest"
 *   MS_EPOLICY   the lint refused the signed response: "internalError"
 *   MS_ETEMP     the store is busy: "tryLater"
 *   MS_EIO, MS_ERR, MS_ENOMEM: "internalError" when it could be written
 * err says why in every failing case.
 */
int ms_ocsp_respond(ms_ocsp_responder *r, ms_store *store, const uint8_t *req,
                    size_t len, ms_buf *resp_der, ms_error *err);

/* Drops every cached response (also those being signed right now). */
void ms_ocsp_responder_invalidate(ms_ocsp_responder *r);

/* Copies the counters into *out. */
void ms_ocsp_responder_get_stats(ms_ocsp_responder *r, ms_ocsp_stats *out);

/*
 * Appends the pending "ocsp.sign" audit rows (signatures not yet written)
 * through store. Returns 0 or the store's status (the counts stay pending).
 */
int ms_ocsp_responder_audit_flush(ms_ocsp_responder *r, ms_store *store,
                                  ms_error *err);

#endif
