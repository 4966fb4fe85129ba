/*
 * cms/cms.h - the only code calling CMS_*: sign, encrypt, decrypt, and the
 * building blocks of verification.
 */
#ifndef MS_CMS_CMS_H
#define MS_CMS_CMS_H

#include <openssl/cms.h>

#include <mailseal/buf.h>
#include <mailseal/ctx.h>
#include <mailseal/identity.h>
#include <mailseal/smime.h>

/* id-aa-signatureTimeStampToken, RFC 3161 appendix A. */
#define MS_OID_TST "1.2.840.113549.1.9.16.2.14"
/* id-aa-encrypKeyPref, RFC 8551 2.5.3. */
#define MS_OID_EKP "1.2.840.113549.1.9.16.2.11"

/*
 * Signs content (already canonical) into a DER ContentInfo: detached or
 * with the content inside; timestamps the signature when tsa_url is set.
 */
int ms_cms_sign(ms_buf *der, ms_ctx *ctx, const ms_identity *id,
                const unsigned char *content, size_t len, bool detached,
                const char *tsa_url, ms_error *err);

/* A recipient certificate and what it is known to support. */
typedef struct ms_cms_rcpt {
    X509 *cert;
    unsigned caps;
} ms_cms_rcpt;

/*
 * Encrypts content to n recipients with cipher (not AUTO) and key
 * transport kt into a DER ContentInfo.
 */
int ms_cms_encrypt(ms_buf *der, ms_ctx *ctx, const ms_cms_rcpt *r, size_t n,
                   ms_cipher cipher, ms_key_transport kt,
                   const unsigned char *content, size_t len, ms_error *err);

/*
 * Decrypts a DER ContentInfo with cert/key. out must be a secret buffer; it
 * is filled only when the whole content decrypted (and authenticated).
 */
int ms_cms_decrypt(ms_buf *out, ms_ctx *ctx, X509 *cert, EVP_PKEY *key,
                   const unsigned char *der, size_t len,
                   const char **cipher_out, ms_error *err);

/* Parses a DER ContentInfo with a size check. */
int ms_cms_parse(CMS_ContentInfo **out, const unsigned char *der, size_t len,
                 ms_error *err);

#endif
