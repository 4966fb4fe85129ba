/*
 * ca/keys.h - the CA's private keys: generation, PKCS#8 files encrypted
 * under a passphrase, the passphrase file, and the weak-key check applied
 * to every key a CSR asks us to certify.
 *
 * Ownership: ms_ca_key_generate() and ms_ca_key_load() return an EVP_PKEY
 * the caller frees with EVP_PKEY_free() (OpenSSL wipes the private key when
 * it frees it). ms_ca_passphrase_read() fills a caller ms_buf that should be
 * made with ms_buf_init_secret(): ms_buf_cleanup() then wipes it
 * (OPENSSL_cleanse). Key and passphrase bytes never reach an ms_error.
 *
 * Thread safety: no shared state; every function may run on any thread.
 */
#ifndef MS_CA_KEYS_H
#define MS_CA_KEYS_H

#include <sys/types.h>

#include <stdbool.h>
#include <stddef.h>

#include <openssl/evp.h>

#include <mailseal/buf.h>
#include <mailseal/error.h>

typedef enum ms_ca_key_type {
    MS_CA_KEY_DEFAULT = 0, /* whatever the caller documents as its default */
    MS_CA_KEY_RSA2048,
    MS_CA_KEY_RSA3072,
    MS_CA_KEY_RSA4096,
    MS_CA_KEY_P256,
    MS_CA_KEY_P384
} ms_ca_key_type;

/* Largest passphrase file and passphrase, in bytes. */
#define MS_CA_PASSPHRASE_MAX 1024
/* Largest key file read. */
#define MS_CA_KEY_FILE_MAX 65536
/* PBKDF2-HMAC-SHA256 iterations protecting a key file. */
#define MS_CA_KEY_PBKDF2_ITER 100000

/*
 * *out = a new key of type (RSA with e = 65537, or EC on a named curve).
 * Returns 0, MS_EINVAL (MS_CA_KEY_DEFAULT or unknown type), MS_ENOMEM/MS_ERR.
 */
int ms_ca_key_generate(EVP_PKEY **out, ms_ca_key_type type, ms_error *err);

/* A short name of the key ("P-256", "RSA-3072", "RSA", "ED25519"). */
const char *ms_ca_key_name(const EVP_PKEY *key);

/*
 * Writes key's private key to path as PKCS#8 PEM: an EncryptedPrivateKeyInfo
 * (PBES2: PBKDF2-HMAC-SHA256, MS_CA_KEY_PBKDF2_ITER iterations, AES-256-CBC)
 * under passphrase, or a plain PrivateKeyInfo when passphrase is NULL and
 * insecure is true. The file is created mode 0600 under a temporary name
 * (O_CREAT|O_EXCL|O_NOFOLLOW), synced, then linked to path, which must not
 * exist yet (an existing key is never replaced). Returns 0, MS_EINVAL
 * (no passphrase and not insecure, empty passphrase), MS_EIO (path exists,
 * cannot write), MS_ENOMEM.
 */
int ms_ca_key_save(const char *path, EVP_PKEY *key, const char *passphrase,
                   bool insecure, ms_error *err);

/*
 * *out = the private key in path. The file must be a regular file (not a
 * symlink) owned by the current user without group/other permission bits.
 * An encrypted key needs passphrase; a plain one is accepted only when
 * passphrase is NULL (insecure mode), so a swapped-in unencrypted key does
 * not pass unnoticed. Returns 0, MS_EIO (missing, unreadable, bad owner or
 * mode), MS_ETOOBIG, MS_EBADSIG (wrong passphrase, or a damaged file),
 * MS_EPOLICY (encrypted without a passphrase given, or plain with one),
 * MS_EMALFORMED (no PKCS#8 key in the file), MS_ENOMEM.
 */
int ms_ca_key_load(EVP_PKEY **out, const char *path, const char *passphrase,
                   ms_error *err);

/*
 * Reads the passphrase file path into out (replacing its contents; out->max
 * is raised to hold MS_CA_PASSPHRASE_MAX). The file must be a regular file
 * (no symlink) owned by the current user with no group or other permission
 * bits; one trailing newline ("\n" or "\r\n") is removed. Returns 0,
 * MS_EIO (cannot open or read), MS_EPOLICY (wrong type, owner or mode: the
 * message says which and how to fix it), MS_ETOOBIG (over
 * MS_CA_PASSPHRASE_MAX), MS_EINVAL (empty or holding a NUL byte),
 * MS_ENOMEM. On failure out is left empty (wiped).
 */
int ms_ca_passphrase_read(const char *path, ms_buf *out, ms_error *err);

/*
 * The weak-key check for keys we are asked to certify (S/MIME BR 6.1.5,
 * 6.1.6, as strict as ca/lint.c): RSA 2048..8192 bits in whole octets with
 * e = 65537 exactly (the BR allow any odd e >= 3 and recommend
 * 2^16+1..2^256-1; lint accepts 65537 only, so we refuse others up front),
 * or EC on P-256 or P-384; the public key must pass EVP_PKEY_public_check()
 * (a point on the curve, a sane modulus). Every other key type is refused.
 * Returns 0 or MS_EPOLICY with the reason; MS_EINVAL for a NULL key.
 */
int ms_ca_key_check(EVP_PKEY *key, ms_error *err);

/*
 * Writes len bytes to path, created with mode under a temporary name
 * (O_CREAT|O_EXCL|O_NOFOLLOW), synced and then linked to path, which must
 * not exist. Returns 0, MS_EIO.
 */
int ms_ca_file_write(const char *path, const void *data, size_t len,
                     mode_t mode, ms_error *err);

/* errno's text, thread-safe (strerror_r), by value. */
typedef struct ms_ca_errbuf {
    char text[128];
} ms_ca_errbuf;
ms_ca_errbuf ms_ca_errtext(int e);

#endif
