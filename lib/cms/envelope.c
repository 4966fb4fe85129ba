/* cms/envelope.c - EnvelopedData and AuthEnvelopedData. */
#include <limits.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/rsa.h>

#include "cms/cms.h"
#include "cms/der.h"
#include "ctx.h"
#include "util/error.h"

static const char *
cipher_name(ms_cipher c)
{
    switch (c) {
    case MS_CIPHER_AES256_GCM:
        return "AES-256-GCM";
    case MS_CIPHER_AES128_GCM:
        return "AES-128-GCM";
    default:
        return "AES-256-CBC";
    }
}

static int
add_recipient(CMS_ContentInfo *cms, const ms_cms_rcpt *r, ms_key_transport kt)
{
    EVP_PKEY *pk = X509_get0_pubkey(r->cert);
    CMS_RecipientInfo *ri;
    EVP_PKEY_CTX *pctx;
    bool oaep;

    if (pk == NULL)
        return 0;
    oaep = EVP_PKEY_is_a(pk, "RSA") &&
           (kt == MS_KT_OAEP || (kt == MS_KT_AUTO && (r->caps & MS_CAP_OAEP)));
    if (!oaep)
        return CMS_add1_recipient_cert(cms, r->cert, 0) != NULL;
    if ((ri = CMS_add1_recipient_cert(cms, r->cert, CMS_KEY_PARAM)) == NULL ||
        (pctx = CMS_RecipientInfo_get0_pkey_ctx(ri)) == NULL)
        return 0;
    return EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_OAEP_PADDING) > 0 &&
           EVP_PKEY_CTX_set_rsa_oaep_md_name(pctx, "SHA256", NULL) > 0 &&
           EVP_PKEY_CTX_set_rsa_mgf1_md_name(pctx, "SHA256", NULL) > 0;
}

int
ms_cms_encrypt(ms_buf *der, ms_ctx *ctx, const ms_cms_rcpt *r, size_t n,
               ms_cipher cipher, ms_key_transport kt,
               const unsigned char *content, size_t len, ms_error *err)
{
    CMS_ContentInfo *cms = NULL;
    EVP_CIPHER *c = NULL;
    BIO *in = NULL;
    unsigned char *out = NULL;
    unsigned flags = CMS_BINARY | CMS_PARTIAL;
    int dl, rc = 0;

    if (len > INT_MAX)
        return ms_error_set(err, MS_ETOOBIG, "message over %d bytes", INT_MAX);
    if (n == 0)
        return ms_error_set(err, MS_EINVAL, "no recipients");
    if ((c = EVP_CIPHER_fetch(ctx->libctx, cipher_name(cipher),
                              ctx->propq)) == NULL ||
        (in = BIO_new_mem_buf(content, (int)len)) == NULL ||
        (cms = CMS_encrypt_ex(NULL, NULL, c, flags, ctx->libctx,
                              ctx->propq)) == NULL) {
        rc = ms_error_set_ossl(err, MS_ERR, "cannot set up encryption");
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        if (!add_recipient(cms, &r[i], kt)) {
            rc = ms_error_set_ossl(err, MS_EINVAL,
                                   "recipient %zu: unusable certificate",
                                   i + 1);
            goto out;
        }
    }
    if (!CMS_final(cms, in, NULL, flags)) {
        rc = ms_error_set_ossl(err, MS_ERR, "encryption failed");
        goto out;
    }
    if ((dl = i2d_CMS_ContentInfo(cms, &out)) <= 0) {
        rc = ms_error_set_ossl(err, MS_ERR, "cannot encode");
        goto out;
    }
    if ((rc = ms_buf_append(der, out, (size_t)dl)) != 0)
        rc = ms_error_set(err, rc, "encrypted message too large");
out:
    OPENSSL_free(out);
    CMS_ContentInfo_free(cms);
    BIO_free(in);
    EVP_CIPHER_free(c);
    ERR_clear_error();
    return rc;
}

/* Lower-case name of the content cipher, or "unknown". */
static const char *
content_cipher(CMS_ContentInfo *cms)
{
    static const struct {
        int nid;
        const char *name;
    } names[] = {
        {NID_aes_256_gcm, "aes-256-gcm"}, {NID_aes_192_gcm, "aes-192-gcm"},
        {NID_aes_128_gcm, "aes-128-gcm"}, {NID_aes_256_cbc, "aes-256-cbc"},
        {NID_aes_192_cbc, "aes-192-cbc"}, {NID_aes_128_cbc, "aes-128-cbc"},
        {NID_des_ede3_cbc, "des-ede3-cbc"}, {NID_rc2_cbc, "rc2-cbc"},
        {NID_des_cbc, "des-cbc"},
    };
    unsigned char *der = NULL;
    const unsigned char *p;
    ASN1_OBJECT *obj = NULL;
    ms_der oid;
    const char *r = "unknown";
    int n, nid;

    if ((n = i2d_CMS_ContentInfo(cms, &der)) <= 0 ||
        !ms_der_cms_cipher_oid(der, (size_t)n, &oid) || oid.len > 64)
        goto out;
    {
        unsigned char tlv[66];

        tlv[0] = 0x06;
        tlv[1] = (unsigned char)oid.len;
        memcpy(tlv + 2, oid.p, oid.len);
        p = tlv;
        if ((obj = d2i_ASN1_OBJECT(NULL, &p, (long)oid.len + 2)) == NULL)
            goto out;
    }
    nid = OBJ_obj2nid(obj);
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        if (names[i].nid == nid)
            r = names[i].name;
    }
out:
    ASN1_OBJECT_free(obj);
    OPENSSL_free(der);
    return r;
}

/* Is there a RecipientInfo for cert? Examines at most max of them. */
static int
find_recipient(CMS_ContentInfo *cms, X509 *cert, unsigned max, ms_error *err)
{
    STACK_OF(CMS_RecipientInfo) *ris = CMS_get0_RecipientInfos(cms);
    int n = sk_CMS_RecipientInfo_num(ris);

    if (n <= 0)
        return ms_error_set(err, MS_EMALFORMED, "no RecipientInfos");
    if ((unsigned)n > max)
        return ms_error_set(err, MS_ETOOBIG,
                            "more than %u RecipientInfos", max);
    for (int i = 0; i < n; i++) {
        CMS_RecipientInfo *ri = sk_CMS_RecipientInfo_value(ris, i);
        int type = CMS_RecipientInfo_type(ri);

        if (type == CMS_RECIPINFO_TRANS &&
            CMS_RecipientInfo_ktri_cert_cmp(ri, cert) == 0)
            return 0;
        if (type == CMS_RECIPINFO_AGREE) {
            STACK_OF(CMS_RecipientEncryptedKey) *reks =
                CMS_RecipientInfo_kari_get0_reks(ri);

            for (int j = 0; j < sk_CMS_RecipientEncryptedKey_num(reks); j++) {
                if (CMS_RecipientEncryptedKey_cert_cmp(
                        sk_CMS_RecipientEncryptedKey_value(reks, j), cert) ==
                    0)
                    return 0;
            }
        }
    }
    ERR_clear_error();
    return ms_error_set(err, MS_ENOTFOUND,
                        "not encrypted to this key (no matching recipient)");
}

int
ms_cms_decrypt(ms_buf *out, ms_ctx *ctx, X509 *cert, EVP_PKEY *key,
               const unsigned char *der, size_t len, const char **cipher_out,
               ms_error *err)
{
    CMS_ContentInfo *cms = NULL;
    BIO *mem = NULL;
    char *data;
    long n;
    int type, rc;

    ms_buf_reset(out);
    if ((rc = ms_cms_parse(&cms, der, len, err)) != 0)
        return rc;
    type = OBJ_obj2nid(CMS_get0_type(cms));
    if (type != NID_pkcs7_enveloped &&
        type != NID_id_smime_ct_authEnvelopedData) {
        rc = ms_error_set(err, MS_EMALFORMED, "not an encrypted message");
        goto out;
    }
    if ((rc = find_recipient(cms, cert, ctx->limits.max_recipients, err)) !=
        0)
        goto out;
    if (cipher_out != NULL)
        *cipher_out = content_cipher(cms);
    /* One answer for every failure below: wrong key, bad padding, bad tag
     * (no oracle). Plaintext stays in mem until the whole content, and for
     * AuthEnvelopedData its tag, has been checked. */
    if ((mem = BIO_new(BIO_s_secmem())) == NULL) {
        rc = ms_error_set(err, MS_ENOMEM, "out of memory");
        goto out;
    }
    if (CMS_decrypt_set1_pkey_and_peer(cms, key, cert, NULL) != 1 ||
        CMS_decrypt(cms, NULL, NULL, NULL, mem, CMS_BINARY) != 1) {
        rc = ms_error_set(err, MS_EBADSIG, "decryption failed");
        goto out;
    }
    if ((n = BIO_get_mem_data(mem, &data)) < 0 ||
        (rc = ms_buf_append(out, data, (size_t)n)) != 0)
        rc = ms_error_set(err, rc != 0 ? rc : MS_ERR,
                          "decrypted message too large");
out:
    BIO_free(mem); /* the secure-heap BIO wipes what it held */
    CMS_ContentInfo_free(cms);
    ERR_clear_error();
    return rc;
}
