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

/* Lower-case name of the content cipher, or "unknown". der is the input
 * cms was parsed from: its header is read when it has definite lengths,
 * else (BER) cms is encoded again for the purpose. */
static const char *
content_cipher(CMS_ContentInfo *cms, const unsigned char *der, size_t len)
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
    unsigned char *enc = NULL;
    const unsigned char *p;
    ASN1_OBJECT *obj = NULL;
    ms_der oid;
    const char *r = "unknown";
    int n, nid;

    if (!ms_der_cms_cipher_oid(der, len, &oid)) {
        if ((n = i2d_CMS_ContentInfo(cms, &enc)) <= 0 ||
            !ms_der_cms_cipher_oid(enc, (size_t)n, &oid))
            goto out;
    }
    if (oid.len > 64)
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
    OPENSSL_free(enc);
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

static int
sink_write(BIO *b, const char *data, int n)
{
    ms_cms_sink *sink = BIO_get_data(b);

    if (sink == NULL || n < 0)
        return -1;
    if ((sink->rc = ms_buf_append(sink->buf, data, (size_t)n)) != 0)
        return -1;
    return n;
}

static long
sink_ctrl(BIO *b, int cmd, long num, void *ptr)
{
    (void)b;
    (void)num;
    (void)ptr;
    return cmd == BIO_CTRL_FLUSH ? 1 : 0;
}

BIO_METHOD *
ms_cms_buf_sink_method(void)
{
    BIO_METHOD *m;
    int type = BIO_get_new_index();

    if (type == -1 ||
        (m = BIO_meth_new(type | BIO_TYPE_SOURCE_SINK, "ms_buf sink")) ==
            NULL)
        return NULL;
    if (!BIO_meth_set_write(m, sink_write) ||
        !BIO_meth_set_ctrl(m, sink_ctrl)) {
        BIO_meth_free(m);
        return NULL;
    }
    return m;
}

/* Appends the content of cms, decrypted with cert/key, to out. */
static int
decrypt_into(ms_buf *out, ms_ctx *ctx, CMS_ContentInfo *cms, X509 *cert,
             EVP_PKEY *key, size_t hint, ms_error *err)
{
    ms_cms_sink sink = {out, 0};
    BIO *bio = NULL;
    int rc = 0;

    /* The content is no longer than the ContentInfo: room for all of it
     * now, so it is written once and never moved. (void): when this fails
     * (out's max), the content grows out as it comes, up to that max. */
    (void)ms_buf_reserve(out, hint);
    if ((bio = BIO_new(ctx->buf_sink)) == NULL) {
        rc = ms_error_set(err, MS_ENOMEM, "out of memory");
        goto out;
    }
    BIO_set_data(bio, &sink);
    BIO_set_init(bio, 1);
    if (CMS_decrypt_set1_pkey_and_peer(cms, key, cert, NULL) != 1 ||
        CMS_decrypt(cms, NULL, NULL, NULL, bio, CMS_BINARY) != 1)
        rc = sink.rc != 0 ? ms_error_set(err, sink.rc,
                                         "decrypted message too large")
                          : ms_error_set(err, MS_EBADSIG,
                                         "decryption failed");
out:
    BIO_free(bio);
    return rc;
}

int
ms_cms_decrypt(ms_buf *out, ms_ctx *ctx, X509 *cert, EVP_PKEY *key,
               const unsigned char *der, size_t len, const char **cipher_out,
               ms_error *err)
{
    CMS_ContentInfo *cms = NULL;
    size_t old = out->len;
    int type, rc;

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
        *cipher_out = content_cipher(cms, der, len);
    /* One answer for every failure below: wrong key, bad padding, bad tag,
     * too large (no oracle). The content is in out only when the whole of
     * it, and for AuthEnvelopedData its tag, has been checked; else it is
     * wiped below. */
    rc = decrypt_into(out, ctx, cms, cert, key, len, err);
out:
    if (rc != 0 && out->data != NULL) {
        ms_wipe(out->data + old, out->cap - old);
        out->len = old;
        out->data[old] = '\0';
    }
    CMS_ContentInfo_free(cms);
    ERR_clear_error();
    return rc;
}
