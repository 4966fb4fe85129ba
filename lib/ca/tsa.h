/*
 * ca/tsa.h - the RFC 3161 time-stamping authority (with RFC 5816
 * ESSCertIDv2): turns a DER TimeStampReq into a DER TimeStampResp.
 *
 * A granted response carries a TimeStampToken: a SignedData (version 3)
 * over a TSTInfo (version 1; our policy, the request's imprint, a serial
 * number, genTime from the TSA's clock, accuracy, the request's nonce when
 * present, ordering absent = false, tsa name only when configured), signed
 * by the TSA key with SHA-256 (SHA-384/SHA-512 for P-384/P-521 keys) and
 * the signed attributes contentType, signingTime (= genTime),
 * messageDigest and signingCertificateV2 (ESSCertIDv2: SHA-256 of the TSA
 * certificate with its issuer and serial). The TSA certificate (and, when
 * configured, its chain) is included only when the request sets certReq.
 *
 * Serial numbers are unique and strictly increasing across restarts and
 * across processes sharing the store: the TSA reserves blocks of
 * serial_block values with ms_store_reserve_serials(store, "tsa", ...) and
 * hands them out from memory; a block is reserved again when used up, and
 * values of a block never used (restart, crash) are skipped, never reused.
 * Audit: the issue asks that every key use be audited. For the TSA, one
 * audit row is written per reserved block, event "tsa.serials", detail
 * "first=<n> count=<n>", before any serial of that block is used, rather
 * than one row per timestamp (which would cost a store write per stamp):
 * the serial number in each token points to its block's row. When that row
 * cannot be written, the block is not used.
 *
 * Ownership: ms_tsa_new() takes its own references to cert, key and the
 * certificates of chain (the caller keeps and frees its own). The store is
 * borrowed: it must outlive the TSA, and while the TSA lives nothing else
 * may use that handle at the same moment as the TSA does (the TSA
 * serialises its own uses of it with a mutex, taken only to reserve a
 * block, once per serial_block stamps).
 *
 * Thread safety: ms_tsa_respond() may be called from any number of threads
 * at once on one ms_tsa. The TSA is immutable after ms_tsa_new() except for
 * the serial counter, guarded by a mutex that is never held during a
 * signature; everything else a call uses is its own.
 */
#ifndef MS_CA_TSA_H
#define MS_CA_TSA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include <mailseal/buf.h>
#include <mailseal/ctx.h>
#include <mailseal/error.h>

#include "store/store.h"
#include "x509/info.h"

typedef struct ms_tsa ms_tsa;

/* The TSA policy of DESIGN.md's shared decisions. */
#define MS_TSA_POLICY_DEFAULT MS_OID_ARC ".2.1"
/* Largest TimeStampReq accepted (a real one is well under 1 KiB). */
#define MS_TSA_MAX_REQUEST ((size_t)64 * 1024)
/* The store sequence the TSA's serial numbers come from. */
#define MS_TSA_SEQUENCE "tsa"

/* Accepted message imprint algorithms (a bit set). SHA-1 and MD5 cannot be
 * named: requests using them are always refused with badAlg. */
#define MS_TSA_MD_SHA256   (1u << 0)
#define MS_TSA_MD_SHA384   (1u << 1)
#define MS_TSA_MD_SHA512   (1u << 2)
#define MS_TSA_MD_SHA3_256 (1u << 3)
#define MS_TSA_MD_SHA3_384 (1u << 4)
#define MS_TSA_MD_SHA3_512 (1u << 5)
#define MS_TSA_MD_ALL      0x3fu

typedef struct ms_tsa_options {
    unsigned version;       /* MS_TSA_OPTIONS_VERSION */
    const char *policy_oid; /* dotted OID; NULL: MS_TSA_POLICY_DEFAULT */
    unsigned accuracy_ms;   /* accuracy in ms (<= 3600000); 0 omits it */
    unsigned digests;       /* MS_TSA_MD_* accepted (non-zero) */
    bool include_chain;     /* with certReq: the chain too, not only the
                               TSA certificate */
    bool include_tsa_name;  /* TSTInfo.tsa = the TSA certificate's subject */
    ms_clock_fn clock;      /* genTime source; NULL: time(2) */
    void *clock_arg;
    uint64_t serial_block; /* serials reserved at a time,
                              1..MS_STORE_RESERVE_MAX */
} ms_tsa_options;

#define MS_TSA_OPTIONS_VERSION 1
#define MS_TSA_OPTIONS_INIT                                                    \
    {                                                                          \
        MS_TSA_OPTIONS_VERSION, NULL, 1000, MS_TSA_MD_ALL, true, false, NULL,  \
            NULL, 1000                                                         \
    }

/*
 * Creates a TSA signing with key as cert, whose chain (intermediates, may
 * be NULL) is sent when the options say so. opt NULL means
 * MS_TSA_OPTIONS_INIT. cert must hold the key's public half, an extended
 * key usage that is critical and only timeStamping (RFC 3161 2.3) and, if
 * it has keyUsage, only digitalSignature and/or nonRepudiation; key must be
 * RSA (up to 8192 bits) or EC. No store write
 * happens here (the first block is reserved by the first request).
 * Returns 0, MS_EINVAL (bad options, key or certificate; nothing
 * created), MS_ENOMEM.
 */
int ms_tsa_new(ms_tsa **out, const ms_tsa_options *opt, X509 *cert,
               EVP_PKEY *key, STACK_OF(X509) *chain, ms_store *store,
               ms_error *err);

/* Releases the TSA and its references; NULL is a no-op. */
void ms_tsa_free(ms_tsa *t);

/*
 * Answers the DER TimeStampReq req (req_len bytes) by appending a DER
 * TimeStampResp to resp_der (ms_buf_init'ed by the caller). Returns 0 with
 * a response (HTTP 200 per RFC 3161) when the request is a TimeStampReq:
 *   granted     with a token (above);
 *   rejection   failInfo badAlg: imprint algorithm not accepted (SHA-1,
 *               MD5, unknown OIDs, or parameters other than NULL);
 *               badAlg and badDataFormat: imprint length not that of the
 *               algorithm;
 *               badRequest: version other than 1; badRequest and
 *               unacceptedExtension: extensions present (we support none);
 *               unacceptedPolicy: reqPolicy present and not ours.
 * Returns, with nothing appended:
 *   MS_EINVAL   not a TimeStampReq: empty, over MS_TSA_MAX_REQUEST,
 *               malformed, not DER, or trailing bytes (HTTP 400);
 *   MS_ETEMP, MS_EIO  no serial number: the store could not reserve a
 *               block or audit it (HTTP 503 / 500);
 *   MS_ETOOBIG  resp_der's cap is too small for the response, or the
 *               serial numbers are exhausted;
 *   MS_ERR      the clock is outside the TSA certificate's validity (no
 *               token that could not verify is issued), or the
 *               signature failed;
 *   MS_ENOMEM   out of memory.
 * A refused request uses no serial number; one drawn for a response that
 * then fails is skipped, never reused. Nothing is logged; err says why in
 * one line.
 */
int ms_tsa_respond(ms_tsa *t, const uint8_t *req, size_t req_len,
                   ms_buf *resp_der, ms_error *err);

#endif
