/*
 * kms/aead.c - associated data and one-shot AES-256-GCM for the escrow
 * (wrap blobs) and the delivery to devices (envelopes).
 */
#include <limits.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "kms/kms_int.h"
#include "util/error.h"

void
ms_kms_put_u32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
}

uint32_t
ms_kms_get_u32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 |
           (uint32_t)p[3];
}

void
ms_kms_aad_raw(ms_kms_aad *a, const void *p, size_t n)
{
    if (a->overflow || n > sizeof(a->data) - a->len) {
        a->overflow = true;
        return;
    }
    if (n > 0)
        memcpy(a->data + a->len, p, n);
    a->len += n;
}

void
ms_kms_aad_field(ms_kms_aad *a, const void *p, size_t n)
{
    unsigned char len[4];

    if (n > UINT32_MAX) {
        a->overflow = true;
        return;
    }
    ms_kms_put_u32(len, (uint32_t)n);
    ms_kms_aad_raw(a, len, sizeof(len));
    ms_kms_aad_raw(a, p, n);
}

void
ms_kms_aad_str(ms_kms_aad *a, const char *s)
{
    ms_kms_aad_field(a, s, strlen(s));
}

/* A GCM context keyed for enc (1) or dec (0) with the AAD fed in. */
static int
gcm_start(EVP_CIPHER_CTX **out, int enc, const unsigned char *key,
          const unsigned char *nonce, const ms_kms_aad *aad, ms_error *err)
{
    EVP_CIPHER *c = NULL;
    EVP_CIPHER_CTX *cc = NULL;
    int n;
    int rc = 0;

    MS_ASSERT(!aad->overflow && aad->len <= INT_MAX);
    if ((c = EVP_CIPHER_fetch(NULL, "AES-256-GCM", NULL)) == NULL ||
        (cc = EVP_CIPHER_CTX_new()) == NULL) {
        rc = ms_error_set_ossl(err, MS_ENOMEM, "cannot set up AES-256-GCM");
        goto out;
    }
    /* The default IV length of GCM is the 12 bytes we use. */
    if (EVP_CipherInit_ex2(cc, c, key, nonce, enc, NULL) != 1 ||
        EVP_CipherUpdate(cc, NULL, &n, aad->data, (int)aad->len) != 1) {
        rc = ms_error_set_ossl(err, MS_ERR, "AES-256-GCM setup failed");
        goto out;
    }
    *out = cc;
    cc = NULL;
out:
    EVP_CIPHER_CTX_free(cc);
    EVP_CIPHER_free(c);
    return rc;
}

int
ms_kms_gcm_seal(unsigned char *ct, unsigned char tag[MS_KMS_GCM_TAG_LEN],
                const unsigned char key[MS_KMS_GCM_KEY_LEN],
                const unsigned char nonce[MS_KMS_GCM_NONCE_LEN],
                const ms_kms_aad *aad, const unsigned char *pt, size_t len,
                ms_error *err)
{
    EVP_CIPHER_CTX *cc = NULL;
    int n = 0, fin = 0;
    int rc;

    MS_ASSERT(len >= 1 && len <= INT_MAX);
    if ((rc = gcm_start(&cc, 1, key, nonce, aad, err)) != 0)
        goto out;
    if (EVP_EncryptUpdate(cc, ct, &n, pt, (int)len) != 1 ||
        EVP_EncryptFinal_ex(cc, ct + n, &fin) != 1 ||
        (size_t)n + (size_t)fin != len ||
        EVP_CIPHER_CTX_ctrl(cc, EVP_CTRL_AEAD_GET_TAG, MS_KMS_GCM_TAG_LEN,
                            tag) != 1)
        rc = ms_error_set_ossl(err, MS_ERR, "AES-256-GCM encryption failed");
out:
    /* Frees (and OpenSSL wipes) the key schedule. */
    EVP_CIPHER_CTX_free(cc);
    return rc;
}

int
ms_kms_gcm_open(unsigned char *pt, const unsigned char key[MS_KMS_GCM_KEY_LEN],
                const unsigned char nonce[MS_KMS_GCM_NONCE_LEN],
                const ms_kms_aad *aad, const unsigned char *ct, size_t len,
                const unsigned char tag[MS_KMS_GCM_TAG_LEN], const char *what,
                ms_error *err)
{
    unsigned char t[MS_KMS_GCM_TAG_LEN];
    EVP_CIPHER_CTX *cc = NULL;
    int n = 0, fin = 0;
    int rc;

    MS_ASSERT(len >= 1 && len <= INT_MAX);
    memcpy(t, tag, sizeof(t)); /* the ctrl takes a non-const pointer */
    if ((rc = gcm_start(&cc, 0, key, nonce, aad, err)) != 0)
        goto out;
    if (EVP_DecryptUpdate(cc, pt, &n, ct, (int)len) != 1 ||
        EVP_CIPHER_CTX_ctrl(cc, EVP_CTRL_AEAD_SET_TAG, MS_KMS_GCM_TAG_LEN, t) !=
            1) {
        rc = ms_error_set_ossl(err, MS_ERR, "AES-256-GCM decryption failed");
        goto out;
    }
    if (EVP_DecryptFinal_ex(cc, pt + n, &fin) != 1 ||
        (size_t)n + (size_t)fin != len)
        rc = ms_error_set(err, MS_EBADSIG,
                          "%s: authentication failed (damaged, or bound to "
                          "another mailbox, key id or key)",
                          what);
out:
    if (rc != 0)
        OPENSSL_cleanse(pt, len);
    EVP_CIPHER_CTX_free(cc);
    return rc;
}
