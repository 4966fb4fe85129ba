/*
 * mailseal/smime.h - sign, timestamp, encrypt and decrypt whole messages.
 *
 * Inputs are complete RFC 5322 messages (LF or CRLF line ends); outputs are
 * complete messages with CRLF line ends. The signed entity is canonicalised
 * to CRLF once and emitted unchanged. Output buffers are caller storage
 * (ms_buf_init() before, ms_buf_cleanup() after); on failure they are left
 * empty. All functions are safe to call from several threads with shared
 * read-only ctx/identity/recipient objects.
 */
#ifndef MAILSEAL_SMIME_H
#define MAILSEAL_SMIME_H

#include <stdbool.h>
#include <stddef.h>

#include <mailseal/buf.h>
#include <mailseal/ctx.h>
#include <mailseal/error.h>
#include <mailseal/export.h>
#include <mailseal/identity.h>

typedef struct ms_sign_options {
    unsigned version;     /* MS_SIGN_OPTIONS_VERSION */
    bool opaque;          /* application/pkcs7-mime signed-data */
    const char *tsa_url;  /* RFC 3161 server; NULL: no timestamp */
} ms_sign_options;

#define MS_SIGN_OPTIONS_VERSION 1
#define MS_SIGN_OPTIONS_INIT                                                   \
    {                                                                          \
        MS_SIGN_OPTIONS_VERSION, false, NULL                                   \
    }

/* Signs msg with id; see ms_sign_options. */
MS_EXPORT int ms_sign(ms_buf *out, ms_ctx *ctx, const ms_identity *id,
                      const ms_sign_options *opts, const void *msg,
                      size_t len, ms_error *err);

typedef enum ms_cipher {
    MS_CIPHER_AUTO = 0, /* AES-256-GCM when all recipients advertise it */
    MS_CIPHER_AES256_GCM,
    MS_CIPHER_AES128_GCM,
    MS_CIPHER_AES256_CBC
} ms_cipher;

typedef enum ms_key_transport {
    MS_KT_AUTO = 0, /* OAEP where advertised, else PKCS#1 v1.5 */
    MS_KT_OAEP,
    MS_KT_PKCS1
} ms_key_transport;

/* What a recipient is known to support (from its SMIMECapabilities). */
#define MS_CAP_GCM 0x1u
#define MS_CAP_OAEP 0x2u

typedef struct ms_recipients ms_recipients;

MS_EXPORT int ms_recipients_new(ms_recipients **out, ms_error *err);
MS_EXPORT void ms_recipients_free(ms_recipients *r);
/* Adds every certificate of path, each with capabilities caps (MS_CAP_*).
 * MS_EPOLICY when a certificate's keyUsage forbids encrypting to it (RSA
 * without keyEncipherment, EC without keyAgreement). */
MS_EXPORT int ms_recipients_add_file(ms_recipients *r, const char *path,
                                     unsigned caps, ms_error *err);
MS_EXPORT int ms_recipients_add_mem(ms_recipients *r, const void *der_or_pem,
                                    size_t len, unsigned caps, ms_error *err);
/* Adds id's encryption certificate, or its signing one when it has none and
 * that one's keyUsage allows encryption (else nothing: no sender copy).
 * MS_EPOLICY when the encryption certificate's keyUsage forbids it. */
MS_EXPORT int ms_recipients_add_self(ms_recipients *r, const ms_identity *id,
                                     ms_error *err);
MS_EXPORT size_t ms_recipients_count(const ms_recipients *r);

typedef struct ms_encrypt_options {
    unsigned version; /* MS_ENCRYPT_OPTIONS_VERSION */
    ms_cipher cipher;
    ms_key_transport key_transport;
} ms_encrypt_options;

#define MS_ENCRYPT_OPTIONS_VERSION 1
#define MS_ENCRYPT_OPTIONS_INIT                                                \
    {                                                                          \
        MS_ENCRYPT_OPTIONS_VERSION, MS_CIPHER_AUTO, MS_KT_AUTO                 \
    }

/*
 * Encrypts msg to every recipient. CBC (EnvelopedData) is used only when
 * msg is already signed: an unsigned message with a CBC choice fails with
 * MS_EPOLICY (use ms_seal(), or GCM).
 */
MS_EXPORT int ms_encrypt(ms_buf *out, ms_ctx *ctx, const ms_recipients *r,
                         const ms_encrypt_options *opts, const void *msg,
                         size_t len, ms_error *err);

/* Sign (and timestamp), then encrypt to r plus id's own certificate. */
MS_EXPORT int ms_seal(ms_buf *out, ms_ctx *ctx, const ms_identity *id,
                      const ms_sign_options *sopts, const ms_recipients *r,
                      const ms_encrypt_options *eopts, const void *msg,
                      size_t len, ms_error *err);

/*
 * Decrypts an application/pkcs7-mime enveloped or authEnveloped message with
 * id (its encryption certificate and key when loaded as such). The output is
 * the message with the decrypted entity in place of the encrypted one.
 * cipher_out (may be NULL) receives the cipher's name (static string).
 * Errors: MS_ENOTFOUND no RecipientInfo for id; MS_EBADSIG decryption
 * failed (uniform: wrong key, bad padding, bad tag); MS_ETOOBIG limits;
 * MS_EMALFORMED not an encrypted message. Nothing is written to out on error.
 */
MS_EXPORT int ms_decrypt(ms_buf *out, ms_ctx *ctx, const ms_identity *id,
                         const void *msg, size_t len, const char **cipher_out,
                         ms_error *err);

#endif
