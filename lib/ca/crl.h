/*
 * ca/crl.h - the CRL issuer of the issuing CAs V1..V4.
 *
 * ms_crl_build() lists the revoked certificates of one CA from the store
 * and signs a version 2 CRL (RFC 5280, CA/Browser Forum S/MIME BR):
 * entries in serial order with their revocation date and reasonCode (left
 * out for "unspecified"), authorityKeyIdentifier (the CA's key),
 * cRLNumber from the store sequence "crl-<issuer name>" (strictly
 * increasing across restarts and processes; a number whose CRL is then
 * refused is skipped, never reused), thisUpdate as given, nextUpdate =
 * thisUpdate + validity, signed with SHA-256. Before signing the CRL
 * passes ms_lint_crl() (ca/lint.h); a failed lint refuses (MS_EPOLICY).
 * After signing, the audit row "crl.issue" (issuer, number, count) is
 * appended; when that write fails the CRL is not returned.
 *
 * Ownership: borrows every argument; crl_der is the caller's ms_buf.
 * Thread safety: none of its own; the store handle is used by one thread
 * at a time, the certificate and key only read.
 */
#ifndef MS_CA_CRL_H
#define MS_CA_CRL_H

#include <time.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include <mailseal/buf.h>
#include <mailseal/error.h>

#include "store/store.h"

/*
 * Builds and signs the CRL of issuing_ca (whose certificates the store
 * files under issuer_name_in_store) with ca_key, valid from this_update
 * for validity_seconds, into crl_der (reset first; DER). Returns 0,
 * MS_EINVAL (ca_key is not the CA's, validity_seconds <= 0, a name too
 * long for the sequence, a store serial that is not hex), MS_EPOLICY (the
 * lint refused: e.g. validity over 10 days), the store's MS_ETEMP, MS_EIO,
 * MS_ETOOBIG (crl_der's max), MS_ENOMEM, MS_ERR (signing failed).
 */
int ms_crl_build(X509 *issuing_ca, EVP_PKEY *ca_key,
                 const char *issuer_name_in_store, ms_store *store,
                 time_t this_update, long validity_seconds, ms_buf *crl_der,
                 ms_error *err);

#endif
