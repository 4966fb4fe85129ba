/* cms/sign.c - SignedData with the attributes S/MIME clients need. */
#include <limits.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "cms/cms.h"
#include "cms/tsp.h"
#include "ctx.h"
#include "util/error.h"
#include "x509/load.h"

/* SMIMECapabilities: what we can decrypt, strongest first. */
static int
add_capabilities(CMS_SignerInfo *si)
{
    STACK_OF(X509_ALGOR) *caps = NULL;
    static const int nids[] = {NID_aes_256_gcm, NID_aes_128_gcm,
                               NID_aes_256_cbc, NID_aes_128_cbc,
                               NID_rsaesOaep};
    int ok = 0;

    for (size_t i = 0; i < sizeof(nids) / sizeof(nids[0]); i++) {
        if (!CMS_add_simple_smimecap(&caps, nids[i], -1))
            goto out;
    }
    ok = CMS_add_smimecap(si, caps);
out:
    sk_X509_ALGOR_pop_free(caps, X509_ALGOR_free);
    return ok;
}

/* DER length octets for n into p (at most 5 bytes); returns the count. */
static size_t
der_len(unsigned char *p, size_t n)
{
    if (n < 0x80) {
        p[0] = (unsigned char)n;
        return 1;
    }
    if (n < 0x100) {
        p[0] = 0x81;
        p[1] = (unsigned char)n;
        return 2;
    }
    p[0] = 0x82;
    p[1] = (unsigned char)(n >> 8);
    p[2] = (unsigned char)n;
    return 3;
}

/*
 * SMIMEEncryptionKeyPreference ::= CHOICE { issuerAndSerialNumber [0]
 * IMPLICIT IssuerAndSerialNumber, ... } naming the encryption certificate.
 */
static int
add_key_preference(CMS_SignerInfo *si, X509 *enc)
{
    unsigned char *name = NULL, *serial = NULL, *der = NULL;
    ASN1_OBJECT *obj = NULL;
    unsigned char hdr[8];
    size_t hl, body;
    int nl, sl, ok = 0;

    nl = i2d_X509_NAME(X509_get_issuer_name(enc), &name);
    sl = i2d_ASN1_INTEGER(X509_get0_serialNumber(enc), &serial);
    if (nl <= 0 || sl <= 0 || (size_t)nl + (size_t)sl > 0xffff)
        goto out;
    body = (size_t)nl + (size_t)sl;
    hdr[0] = 0xa0; /* [0] IMPLICIT SEQUENCE: constructed, context 0 */
    hl = 1 + der_len(hdr + 1, body);
    if ((der = OPENSSL_malloc(hl + body)) == NULL)
        goto out;
    memcpy(der, hdr, hl);
    memcpy(der + hl, name, (size_t)nl);
    memcpy(der + hl + (size_t)nl, serial, (size_t)sl);
    if ((obj = OBJ_txt2obj(MS_OID_EKP, 1)) == NULL)
        goto out;
    /* V_ASN1_SEQUENCE values carry their whole encoding, tag included. */
    ok = CMS_signed_add1_attr_by_OBJ(si, obj, V_ASN1_SEQUENCE, der,
                                     (int)(hl + body));
out:
    ASN1_OBJECT_free(obj);
    OPENSSL_free(der);
    OPENSSL_free(name);
    OPENSSL_free(serial);
    return ok;
}

static int
add_signing_time(CMS_SignerInfo *si, time_t now)
{
    ASN1_TIME *t;
    int ok;

    if ((t = ASN1_TIME_set(NULL, now)) == NULL)
        return 0;
    ok = CMS_signed_add1_attr_by_NID(si, NID_pkcs9_signingTime, t->type, t,
                                     -1);
    ASN1_TIME_free(t);
    return ok;
}

static int
add_timestamp(CMS_SignerInfo *si, ms_ctx *ctx, const char *url,
              ms_error *err)
{
    ASN1_OCTET_STRING *sig = CMS_SignerInfo_get0_signature(si);
    ASN1_OBJECT *obj = NULL;
    ms_buf token;
    int rc;

    ms_buf_init(&token, MS_TSP_MAX_TOKEN);
    if ((rc = ms_tsp_request(&token, ctx, url, ASN1_STRING_get0_data(sig),
                             (size_t)ASN1_STRING_length(sig), err)) != 0)
        goto out;
    if ((obj = OBJ_txt2obj(MS_OID_TST, 1)) == NULL ||
        !CMS_unsigned_add1_attr_by_OBJ(si, obj, V_ASN1_SEQUENCE, token.data,
                                       (int)token.len))
        rc = ms_error_set_ossl(err, MS_ENOMEM, "cannot attach the token");
out:
    ASN1_OBJECT_free(obj);
    ms_buf_cleanup(&token);
    return rc;
}

static int
add_certs(CMS_ContentInfo *cms, const ms_identity *id)
{
    for (int i = 0; i < sk_X509_num(id->chain); i++) {
        if (!CMS_add1_cert(cms, sk_X509_value(id->chain, i)))
            return 0;
    }
    if (id->enc_cert != NULL && X509_cmp(id->enc_cert, id->cert) != 0 &&
        !CMS_add1_cert(cms, id->enc_cert))
        return 0;
    return 1;
}

int
ms_cms_sign(ms_buf *der, ms_ctx *ctx, const ms_identity *id,
            const unsigned char *content, size_t len, bool detached,
            const char *tsa_url, ms_error *err)
{
    CMS_ContentInfo *cms = NULL;
    CMS_SignerInfo *si;
    EVP_MD *md = NULL;
    BIO *in = NULL;
    unsigned char *out = NULL;
    unsigned flags = CMS_BINARY | CMS_PARTIAL | CMS_NOSMIMECAP;
    int n, rc = 0;

    if (len > INT_MAX)
        return ms_error_set(err, MS_ETOOBIG, "message over %d bytes", INT_MAX);
    if (detached)
        flags |= CMS_DETACHED;
    if ((md = EVP_MD_fetch(ctx->libctx, "SHA256", ctx->propq)) == NULL ||
        (in = BIO_new_mem_buf(content, (int)len)) == NULL ||
        (cms = CMS_sign_ex(NULL, NULL, NULL, NULL, flags, ctx->libctx,
                           ctx->propq)) == NULL ||
        (si = CMS_add1_signer(cms, id->cert, id->key, md, flags)) == NULL) {
        rc = ms_error_set_ossl(err, MS_ERR, "cannot set up the signature");
        goto out;
    }
    if (!add_signing_time(si, ms_ctx_now(ctx)) || !add_capabilities(si) ||
        (id->enc_cert != NULL && !add_key_preference(si, id->enc_cert)) ||
        !add_certs(cms, id)) {
        rc = ms_error_set_ossl(err, MS_ERR, "cannot add signed attributes");
        goto out;
    }
    if (!CMS_final(cms, in, NULL, flags)) {
        rc = ms_error_set_ossl(err, MS_ERR, "signing failed");
        goto out;
    }
    if (tsa_url != NULL && (rc = add_timestamp(si, ctx, tsa_url, err)) != 0)
        goto out;
    if ((n = i2d_CMS_ContentInfo(cms, &out)) <= 0) {
        rc = ms_error_set_ossl(err, MS_ERR, "cannot encode the signature");
        goto out;
    }
    if ((rc = ms_buf_append(der, out, (size_t)n)) != 0)
        rc = ms_error_set(err, rc, "signature too large");
out:
    OPENSSL_free(out);
    CMS_ContentInfo_free(cms);
    BIO_free(in);
    EVP_MD_free(md);
    ERR_clear_error();
    return rc;
}

int
ms_cms_parse(CMS_ContentInfo **out, const unsigned char *der, size_t len,
             ms_error *err)
{
    const unsigned char *p = der;
    CMS_ContentInfo *cms;

    if (len > LONG_MAX)
        return ms_error_set(err, MS_ETOOBIG, "CMS object too large");
    if ((cms = d2i_CMS_ContentInfo(NULL, &p, (long)len)) == NULL)
        return ms_error_set_ossl(err, MS_EMALFORMED,
                                 "not a CMS ContentInfo (bad DER)");
    *out = cms;
    ERR_clear_error();
    return 0;
}
