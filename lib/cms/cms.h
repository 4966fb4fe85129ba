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
 * Decrypts a DER ContentInfo with cert/key and appends the content to out,
 * which must be a secret buffer: the content lands there while it is being
 * decrypted. On failure (the whole content, and for AuthEnvelopedData its
 * tag, did not check out) what was appended is wiped and out holds what it
 * held before.
 */
int ms_cms_decrypt(ms_buf *out, ms_ctx *ctx, X509 *cert, EVP_PKEY *key,
                   const unsigned char *der, size_t len,
                   const char **cipher_out, ms_error *err);

/* Where a BIO of ms_cms_buf_sink_method() writes. */
typedef struct ms_cms_sink {
    ms_buf *buf; /* borrowed */
    int rc;      /* status of the last append: MS_ETOOBIG, MS_ENOMEM */
} ms_cms_sink;

/*
 * A write-only BIO method: a BIO of it with BIO_set_data(bio, sink) and
 * BIO_set_init(bio, 1) appends whatever is written to sink->buf (a write
 * fails past its max and records why in sink->rc). For the context; free
 * with BIO_meth_free().
 */
BIO_METHOD *ms_cms_buf_sink_method(void);

/* Parses a DER ContentInfo with a size check. */
int ms_cms_parse(CMS_ContentInfo **out, const unsigned char *der, size_t len,
                 ms_error *err);

#endif
