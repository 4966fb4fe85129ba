/*
 * kms/escrow.h - the key escrow's master key and the wrapping of escrowed
 * private keys (PKCS#8 DER) under it. docs/escrow.md has the security
 * model; this header has the formats.
 *
 * Master key file (MS_KMS_MASTER_FILE_LEN = 44 bytes, binary):
 *   "MSKM" | version 0x01 | 3 zero bytes | key id (u32 BE) | 32 key bytes
 * The key id is the first four bytes of SHA-256("mailseal kms master key
 * id" || key), never 0: it names the key in every blob and detects a
 * damaged file. The file is created mode 0600 (O_EXCL, never replaced) and
 * loaded only when it is a regular file owned by the effective user with no
 * group/other permission bits.
 *
 * Wrapped key ("wrap blob", at most MS_KMS_WRAP_MAX bytes):
 *   'W' | version 0x01 | master key id (u32 BE) | nonce (12) |
 *   ciphertext (1..MS_KMS_PKCS8_MAX) | GCM tag (16)
 * AES-256-GCM under the master key, a fresh random 96-bit nonce per wrap;
 * associated data: the 6 header bytes, then the length-prefixed (u32 BE)
 * fields "mailseal kms wrap v1", key id, mailbox. The blob is bound to
 * the master key, the key id and the mailbox: unwrapping it under any
 * other of these fails.
 *
 * Mailboxes: every mailbox passed to kms must already be in the normal
 * form of ms_addr_normalise() (mime/addr.h: trimmed, ASCII, lower case);
 * others are refused with MS_EINVAL rather than folded silently. Key ids are
 * 1..MS_KMS_KEY_ID_MAX printable ASCII characters (0x21..0x7e), chosen by
 * the caller (the store's name for the key, e.g. a serial or a UUID).
 *
 * Ownership: an ms_kms_master is made by ms_kms_master_load() or
 * ms_kms_master_new() and freed (wiped) by ms_kms_master_free(); it lives
 * on the OpenSSL secure heap when the program initialised one
 * (CRYPTO_secure_malloc_init()), else on the normal heap. Output goes to
 * caller ms_bufs (appended); plaintext keys only to ms_bufs made with
 * ms_buf_init_secret() (others are refused), so they are wiped on release.
 *
 * Thread safety: an ms_kms_master is immutable once made; any number of
 * threads may wrap and unwrap with it at once. Nothing else is shared.
 */
#ifndef MS_KMS_ESCROW_H
#define MS_KMS_ESCROW_H

#include <stddef.h>
#include <stdint.h>

#include <mailseal/buf.h>
#include <mailseal/error.h>

#define MS_KMS_MASTER_KEY_LEN  32
#define MS_KMS_MASTER_FILE_LEN 44
/* Longest normalised mailbox (RFC 5321 path limit, MS_ADDR_NORM_MAX). */
#define MS_KMS_MAILBOX_MAX 254
/* Longest key id. */
#define MS_KMS_KEY_ID_MAX 128
/* Largest PKCS#8 DER wrapped or delivered (RSA-8192 is about 4.9 KiB). */
#define MS_KMS_PKCS8_MAX 8192

#define MS_KMS_WRAP_VERSION  1
#define MS_KMS_WRAP_HEADER   18 /* type, version, master id, nonce */
#define MS_KMS_WRAP_OVERHEAD 34 /* header and tag */
#define MS_KMS_WRAP_MAX      (MS_KMS_PKCS8_MAX + MS_KMS_WRAP_OVERHEAD)

typedef struct ms_kms_master ms_kms_master;

/*
 * Creates a new master key file at path (which must not exist) holding
 * fresh random bytes (RAND_priv_bytes). If id_out is not NULL it receives
 * the key id. Returns 0, MS_EIO (path exists, cannot write), MS_ERR (no
 * randomness).
 */
int ms_kms_master_create(const char *path, uint32_t *id_out, ms_error *err);

/*
 * *out = the master key in path (see the format above). Returns 0,
 * MS_EIO (missing, unreadable), MS_EPOLICY (a symbolic link, not a regular
 * file, owned by another user, readable or writable by group or others:
 * the message says how to fix it), MS_EMALFORMED (wrong size, magic,
 * version, or a key id that does not match the key: a damaged file),
 * MS_ENOMEM. Nothing of the key reaches err.
 */
int ms_kms_master_load(ms_kms_master **out, const char *path, ms_error *err);

/*
 * *out = a master key holding the MS_KMS_MASTER_KEY_LEN bytes at key (for
 * keys that come from elsewhere than a file, and for tests). The caller
 * wipes its own copy. Returns 0, MS_ENOMEM, MS_ERR.
 */
int ms_kms_master_new(ms_kms_master **out,
                      const uint8_t key[MS_KMS_MASTER_KEY_LEN], ms_error *err);

/* Wipes and frees m; NULL is a no-op. */
void ms_kms_master_free(ms_kms_master *m);

/* The key id of m (never 0). */
uint32_t ms_kms_master_id(const ms_kms_master *m);

/*
 * Appends to out the wrap blob of pkcs8 (len bytes of a DER PKCS#8
 * PrivateKeyInfo, 1..MS_KMS_PKCS8_MAX, parsed to check it is one) for
 * key_id and mailbox under m. On failure out is left as it was. Returns
 * 0, MS_EINVAL (mailbox not normalised, bad key id, pkcs8 not one DER
 * PrivateKeyInfo), MS_ETOOBIG (pkcs8 over the limit, out too small),
 * MS_ENOMEM, MS_ERR.
 */
int ms_kms_wrap(ms_buf *out, const ms_kms_master *m, const char *key_id,
                const char *mailbox, const uint8_t *pkcs8, size_t len,
                ms_error *err);

/*
 * Appends to pkcs8_out (an ms_buf_init_secret() buffer) the PKCS#8 DER
 * that blob (len bytes) wraps, after checking it was wrapped under m for
 * key_id and mailbox. Fails closed: on any failure pkcs8_out is left as it
 * was and nothing of the plaintext remains. Returns 0, MS_EINVAL (bad
 * arguments, pkcs8_out not secret), MS_ETOOBIG (len over MS_KMS_WRAP_MAX,
 * pkcs8_out too small), MS_EMALFORMED (not a wrap blob: too short, wrong
 * type or version), MS_EPOLICY (wrapped under another master key: the
 * message names both ids), MS_EBADSIG (authentication failed: the blob
 * was changed, or belongs to another mailbox or key id), MS_ENOMEM,
 * MS_ERR.
 */
int ms_kms_unwrap(ms_buf *pkcs8_out, const ms_kms_master *m, const char *key_id,
                  const char *mailbox, const uint8_t *blob, size_t len,
                  ms_error *err);

/*
 * *out = the master key id named in a wrap blob, so a caller holding
 * several master keys (after a master key rollover) picks the right one.
 * Checks the structure only (as ms_kms_unwrap() does before decrypting).
 * Returns 0, MS_ETOOBIG, MS_EMALFORMED.
 */
int ms_kms_wrap_master_id(uint32_t *out, const uint8_t *blob, size_t len,
                          ms_error *err);

#endif
