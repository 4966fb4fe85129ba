/*
 * ca/issue.h - issuing an S/MIME certificate from a CSR and a validated
 * identity, and revoking one.
 *
 * The CSR proves possession of the key and supplies nothing else: its
 * subject is ignored, it may request no extension but a subjectAltName
 * holding exactly the identity's mailbox. The certificate is built from
 * the identity record (only the fields its level allows) to the S/MIME BR
 * strict profile that ca/lint.c checks, linted (a failure refuses issuance
 * and writes nothing), signed by the level's issuing CA and recorded in the
 * store together with its audit row.
 *
 * Ownership: callers own every argument; ms_ca_issue() appends the DER
 * certificate to caller storage. Thread safety: a shared read-only ms_ca is
 * fine; the ms_store handle belongs to the calling thread (store.h).
 */
#ifndef MS_CA_ISSUE_H
#define MS_CA_ISSUE_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <openssl/evp.h>

#include <mailseal/buf.h>
#include <mailseal/error.h>

#include "ca/hierarchy.h"
#include "ca/lint.h"
#include "store/store.h"

/* Largest CSR accepted, PEM or DER. */
#define MS_CA_CSR_MAX 16384
/* Validity of an issued certificate in days: default and maximum. */
#define MS_CA_VALIDITY_DEFAULT 365
#define MS_CA_VALIDITY_MAX     825
/* Longest identity text field (X.520 upper bounds), in bytes. */
#define MS_CA_FIELD_MAX 64

/*
 * The validated identity, as the validation module recorded it. Used per
 * level (others are ignored): V1 the mailbox alone; V2 given_name and
 * surname; V3 organisation, organisation_id and country; V4 organisation,
 * given_name, surname and title (organisation_id and country when set).
 * Strings are UTF-8, 1..MS_CA_FIELD_MAX bytes, no control characters;
 * country is two upper-case letters; mailbox an ASCII addr-spec.
 */
typedef struct ms_ca_identity {
    int level; /* 1..4 */
    const char *mailbox;
    const char *given_name;
    const char *surname;
    const char *organisation;
    const char *organisation_id; /* e.g. "NTRDE-HRB123456" */
    const char *country;
    const char *title;
} ms_ca_identity;

typedef struct ms_ca_issue_options {
    unsigned version;       /* MS_CA_ISSUE_OPTIONS_VERSION */
    int validity_days;      /* 1..MS_CA_VALIDITY_MAX; 0: the default */
    const char *public_url; /* AIA/CDP base; NULL: MS_CA_DEFAULT_URL */
    time_t now;             /* 0: time(2) */
} ms_ca_issue_options;

#define MS_CA_ISSUE_OPTIONS_VERSION 1
#define MS_CA_ISSUE_OPTIONS_INIT                                               \
    {                                                                          \
        MS_CA_ISSUE_OPTIONS_VERSION, 0, NULL, 0                                \
    }

/*
 * Checks id for its level (see ms_ca_identity). Returns 0 or MS_EINVAL
 * naming the missing or bad field.
 */
int ms_ca_identity_check(const ms_ca_identity *id, ms_error *err);

/*
 * Parses and checks a CSR (PEM or DER, at most MS_CA_CSR_MAX bytes) for id
 * and use: the signature verifies with the CSR's key (proof of possession),
 * the key passes ms_ca_key_check() and fits use, and the only extension
 * requested, if any, is a subjectAltName of exactly id->mailbox. On success
 * *key_out (may be NULL) is the CSR's public key (EVP_PKEY_free).
 * Returns 0, MS_ETOOBIG, MS_EMALFORMED (cannot be parsed, trailing bytes),
 * MS_EBADSIG (signature does not verify), MS_EPOLICY (weak key, other
 * extensions or names requested), MS_EINVAL (bad use), MS_ENOMEM.
 */
int ms_ca_csr_check(EVP_PKEY **key_out, const uint8_t *csr, size_t csr_len,
                    const ms_ca_identity *id, ms_lint_use use, ms_error *err);

/*
 * Issues a certificate for use to id from csr with the issuing CA of
 * id->level (see the top of this file) and records it with ms_store_cert_
 * insert() (issuer = ms_ca_name(level), serial = lower-case hex). opt may
 * be NULL for the defaults. cert_der_out (ms_buf_init'ed by the caller)
 * receives the DER certificate; on failure it is left empty and the store
 * is untouched. Returns 0, MS_EINVAL (identity, options, validity over 825
 * days), MS_EPOLICY (CSR refused, or the lint's first failure), the
 * returns of ms_ca_csr_check(), MS_ETOOBIG (cert_der_out too small), the
 * store's MS_ETEMP/MS_EIO, MS_ENOMEM, MS_ERR.
 */
int ms_ca_issue(const ms_ca *ca, ms_store *st, const ms_ca_identity *id,
                const uint8_t *csr, size_t csr_len, ms_lint_use use,
                const ms_ca_issue_options *opt, ms_buf *cert_der_out,
                ms_error *err);

/*
 * As ms_ca_issue() without the store: *rec_out (initialised here; the
 * caller calls ms_store_cert_cleanup()) receives the signed certificate's
 * store record, DER included, for the caller to record in a transaction
 * of its own (a device's certificate, an escrowed key's). On failure
 * rec_out is left empty. Returns as ms_ca_issue() without the store's.
 */
int ms_ca_issue_build(const ms_ca *ca, const ms_ca_identity *id,
                      const uint8_t *csr, size_t csr_len, ms_lint_use use,
                      const ms_ca_issue_options *opt, ms_store_cert *rec_out,
                      ms_error *err);

/*
 * Writes the canonical form of the hex serial number in (any case, leading
 * zeros allowed) to out (n bytes): lower-case hex of whole octets without
 * leading zero octets, as the store files serials. Returns 0 or MS_EINVAL
 * (empty, not hex, zero, over MS_STORE_SERIAL_HEX_MAX digits, or too long
 * for out).
 */
int ms_ca_serial_canonical(char *out, size_t n, const char *in, ms_error *err);

/*
 * Revokes the certificate serial_hex (hex digits, any case, leading zeros
 * allowed; stored in canonical lower-case form) issued by level's CA
 * (1..4), with CRLReason reason at time at (0: now). Returns 0,
 * MS_EINVAL (level, serial or reason), and the returns of
 * ms_store_cert_revoke(): MS_ENOTFOUND, MS_EPOLICY (already revoked),
 * MS_ETEMP, MS_EIO.
 */
int ms_ca_revoke(const ms_ca *ca, ms_store *st, int level,
                 const char *serial_hex, int reason, time_t at, ms_error *err);

#endif
