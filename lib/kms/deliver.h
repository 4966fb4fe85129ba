/*
 * kms/deliver.h - delivering an escrowed private key to a device so that
 * only that device can read it: no proxy, log or TLS terminator between
 * the two ever sees it in clear.
 *
 * The device makes an ephemeral X25519 key pair per request
 * (ms_kms_device_keygen()) and sends its public key: the RAW 32 bytes of
 * RFC 7748 (base64url in JSON is the HTTP module's business), not an SPKI.
 * The server makes its own ephemeral X25519 key pair, and:
 *   shared = X25519(server private, device public)  (all-zero refused)
 *   key    = HKDF-SHA256(ikm = shared,
 *                        salt = server public || device public,
 *                        info = F("mailseal kms envelope v1") || F(key id)
 *                               || F(mailbox))              32 bytes
 *   AES-256-GCM(key, random 96-bit nonce, PKCS#8 DER), associated data:
 *     the 34 header bytes (type, version, server public) || device public
 *     || F("mailseal kms envelope v1") || F(key id) || F(mailbox)
 * where F(x) is a 32-bit big-endian length followed by x.
 *
 * Envelope (binary; at most MS_KMS_ENVELOPE_MAX bytes):
 *   'E' | version 0x01 | server public (32) | nonce (12) |
 *   ciphertext (1..MS_KMS_PKCS8_MAX) | GCM tag (16)
 * Key id and mailbox are not carried: the device states which key of which
 * mailbox it expects, and anything else fails authentication.
 *
 * Every intermediate secret (shared secret, derived key, the server's
 * ephemeral private key, plaintext copies) is wiped before return.
 *
 * Ownership: EVP_PKEYs returned belong to the caller (EVP_PKEY_free());
 * outputs are appended to caller ms_bufs; plaintext keys only to
 * ms_buf_init_secret() buffers. Thread safety: no shared state (an
 * ms_kms_master may be shared, see kms/escrow.h).
 */
#ifndef MS_KMS_DELIVER_H
#define MS_KMS_DELIVER_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

#include <mailseal/buf.h>
#include <mailseal/error.h>

#include "kms/escrow.h"

#define MS_KMS_X25519_LEN        32
#define MS_KMS_ENVELOPE_VERSION  1
#define MS_KMS_ENVELOPE_HEADER   46 /* type, version, public key, nonce */
#define MS_KMS_ENVELOPE_OVERHEAD 62 /* header and tag */
#define MS_KMS_ENVELOPE_MAX      (MS_KMS_PKCS8_MAX + MS_KMS_ENVELOPE_OVERHEAD)

/*
 * Device side: *out = a new X25519 key pair, pub = its raw public key.
 * Returns 0, MS_ENOMEM/MS_ERR.
 */
int ms_kms_device_keygen(EVP_PKEY **out, uint8_t pub[MS_KMS_X25519_LEN],
                         ms_error *err);

/*
 * Server side: appends to out the envelope of pkcs8 (len bytes, one DER
 * PKCS#8 PrivateKeyInfo, 1..MS_KMS_PKCS8_MAX) for the device whose raw
 * X25519 public key is device_pub (device_pub_len must be 32), bound to
 * key_id and mailbox (normalised, kms/escrow.h). On failure out is left as
 * it was. Returns 0, MS_EINVAL (bad names, pkcs8 not PKCS#8, device key
 * not 32 bytes or of low order), MS_ETOOBIG, MS_ENOMEM, MS_ERR.
 */
int ms_kms_seal_for_device(ms_buf *out, const uint8_t *device_pub,
                           size_t device_pub_len, const char *key_id,
                           const char *mailbox, const uint8_t *pkcs8,
                           size_t len, ms_error *err);

/*
 * Server side, the whole release: unwraps blob under m (ms_kms_unwrap())
 * and seals the key for device_pub (ms_kms_seal_for_device()), the
 * plaintext living only in a wiped buffer in between. Appends the
 * envelope to out. Returns what those two return.
 */
int ms_kms_release(ms_buf *out, const ms_kms_master *m, const char *key_id,
                   const char *mailbox, const uint8_t *blob, size_t blob_len,
                   const uint8_t *device_pub, size_t device_pub_len,
                   ms_error *err);

/*
 * Device side: appends to pkcs8_out (an ms_buf_init_secret() buffer) the
 * PKCS#8 DER in envelope (len bytes), after checking it was sealed for
 * device_private (X25519) and for key_id and mailbox. Fails closed: on any
 * failure pkcs8_out is left as it was. Returns 0, MS_EINVAL (bad names, a
 * device key that is not X25519, pkcs8_out not secret), MS_ETOOBIG (len
 * over MS_KMS_ENVELOPE_MAX, pkcs8_out too small), MS_EMALFORMED (too
 * short, wrong type or version), MS_EBADSIG (authentication failed: a
 * changed envelope, another device, key id or mailbox), MS_ENOMEM,
 * MS_ERR.
 */
int ms_kms_open_from_server(ms_buf *pkcs8_out, EVP_PKEY *device_private,
                            const char *key_id, const char *mailbox,
                            const uint8_t *envelope, size_t len, ms_error *err);

#endif
