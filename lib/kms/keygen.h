/*
 * kms/keygen.h - the escrowed encryption keys: generation, PKCS#8 DER in
 * and out, and the CSR the kms hands to the CA.
 *
 * The CA (ca/issue.h) issues only from a CSR whose signature proves
 * possession of the key. The kms made the key itself, so it simply signs
 * that CSR with the new key (ms_kms_csr_make()) and calls
 * ms_ca_issue(..., MS_LINT_ENCRYPTION, ...): no change to the CA is
 * needed, and the request carries exactly the subjectAltName the CA
 * accepts.
 *
 * Ownership: EVP_PKEYs returned belong to the caller (EVP_PKEY_free(),
 * which wipes the private key); PKCS#8 goes only into ms_bufs made with
 * ms_buf_init_secret(). Thread safety: no shared state.
 */
#ifndef MS_KMS_KEYGEN_H
#define MS_KMS_KEYGEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

#include <mailseal/buf.h>
#include <mailseal/error.h>

/* The algorithm used when the configuration names none. */
#define MS_KMS_ALG_DEFAULT "rsa-3072"

/*
 * *out = a new encryption key pair of alg: "rsa-2048", "rsa-3072",
 * "rsa-4096" (e = 65537), "p-256" or "p-384" (named curves); NULL or ""
 * means MS_KMS_ALG_DEFAULT. Names are compared case-insensitively.
 * Returns 0, MS_EINVAL (unknown alg), MS_ENOMEM/MS_ERR.
 */
int ms_kms_keygen(EVP_PKEY **out, const char *alg, ms_error *err);

/* True when alg is a name ms_kms_keygen() accepts (NULL and "" too). */
bool ms_kms_alg_valid(const char *alg);

/*
 * Appends key's private key as DER PKCS#8 PrivateKeyInfo (unencrypted) to
 * out, which must be an ms_buf_init_secret() buffer. Returns 0, MS_EINVAL
 * (not secret, no private key), MS_ETOOBIG (over MS_KMS_PKCS8_MAX or out's
 * max), MS_ENOMEM, MS_ERR. On failure out is left as it was.
 */
int ms_kms_pkcs8_encode(ms_buf *out, EVP_PKEY *key, ms_error *err);

/*
 * *out = the private key in der (len bytes, exactly one DER PKCS#8
 * PrivateKeyInfo, at most MS_KMS_PKCS8_MAX). Returns 0, MS_ETOOBIG,
 * MS_EMALFORMED (not PKCS#8, trailing bytes, unknown key type), MS_ENOMEM.
 */
int ms_kms_pkcs8_decode(EVP_PKEY **out, const uint8_t *der, size_t len,
                        ms_error *err);

/*
 * Appends to out a DER PKCS#10 CSR for key with an empty subject and one
 * requested extension, a subjectAltName of exactly rfc822Name mailbox
 * (normalised, see kms/escrow.h), signed with key (SHA-256): what
 * ms_ca_issue() takes for an encryption certificate. Returns 0, MS_EINVAL
 * (mailbox, key without a private part), MS_ETOOBIG, MS_ENOMEM, MS_ERR.
 */
int ms_kms_csr_make(ms_buf *out, EVP_PKEY *key, const char *mailbox,
                    ms_error *err);

#endif
