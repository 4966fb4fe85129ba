/*
 * kms/keygen.c - encryption key pairs, PKCS#8 DER and the CSR for the CA.
 */
#include "kms/keygen.h"

#include <limits.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "ca/keys.h"
#include "kms/escrow.h"
#include "kms/kms_int.h"
#include "util/error.h"
#include "util/str.h"

static const struct {
    const char *name;
    ms_ca_key_type type;
} algs[] = {
    {"rsa-2048", MS_CA_KEY_RSA2048}, {"rsa-3072", MS_CA_KEY_RSA3072},
    {"rsa-4096", MS_CA_KEY_RSA4096}, {"p-256", MS_CA_KEY_P256},
    {"p-384", MS_CA_KEY_P384},
};

static ms_ca_key_type
alg_type(const char *alg)
{
    if (alg == NULL || alg[0] == '\0')
        alg = MS_KMS_ALG_DEFAULT;
    for (size_t i = 0; i < sizeof(algs) / sizeof(algs[0]); i++)
        if (ms_ascii_caseeq(alg, algs[i].name))
            return algs[i].type;
    return MS_CA_KEY_DEFAULT;
}

bool
ms_kms_alg_valid(const char *alg)
{
    return alg_type(alg) != MS_CA_KEY_DEFAULT;
}

int
ms_kms_keygen(EVP_PKEY **out, const char *alg, ms_error *err)
{
    ms_ca_key_type t = alg_type(alg);

    MS_ASSERT(out != NULL);
    *out = NULL;
    if (t == MS_CA_KEY_DEFAULT)
        return ms_error_set(err, MS_EINVAL,
                            "unknown key algorithm (use rsa-2048, rsa-3072, "
                            "rsa-4096, p-256 or p-384)");
    return ms_ca_key_generate(out, t, err);
}

int
ms_kms_pkcs8_encode(ms_buf *out, EVP_PKEY *key, ms_error *err)
{
    PKCS8_PRIV_KEY_INFO *p8 = NULL;
    unsigned char *p;
    int n;
    int rc = 0;

    MS_ASSERT(out != NULL && key != NULL);
    if (!out->secret)
        return ms_error_set(err, MS_EINVAL,
                            "a private key goes only into a secret buffer");
    /* Frees wipe the key octets (ASN1_STRING_clear_free). */
    if ((p8 = EVP_PKEY2PKCS8(key)) == NULL) {
        rc = ms_error_set_ossl(err, MS_EINVAL,
                               "cannot encode the private key as PKCS#8");
        goto out;
    }
    if ((n = i2d_PKCS8_PRIV_KEY_INFO(p8, NULL)) <= 0) {
        rc = ms_error_set_ossl(err, MS_ERR, "cannot encode PKCS#8");
        goto out;
    }
    if (n > MS_KMS_PKCS8_MAX) {
        rc = ms_error_set(err, MS_ETOOBIG, "the key is over %d bytes",
                          MS_KMS_PKCS8_MAX);
        goto out;
    }
    if ((rc = ms_buf_reserve(out, (size_t)n)) != 0) {
        rc = ms_error_set(err, rc, "no room for the key");
        goto out;
    }
    p = out->data + out->len;
    if (i2d_PKCS8_PRIV_KEY_INFO(p8, &p) != n) {
        OPENSSL_cleanse(out->data + out->len, (size_t)n);
        rc = ms_error_set_ossl(err, MS_ERR, "cannot encode PKCS#8");
        goto out;
    }
    out->len += (size_t)n;
    out->data[out->len] = '\0';
out:
    PKCS8_PRIV_KEY_INFO_free(p8);
    return rc;
}

int
ms_kms_pkcs8_decode(EVP_PKEY **out, const uint8_t *der, size_t len,
                    ms_error *err)
{
    PKCS8_PRIV_KEY_INFO *p8 = NULL;
    const unsigned char *q = der;
    int rc = 0;

    MS_ASSERT(out != NULL && (der != NULL || len == 0));
    *out = NULL;
    if (len > MS_KMS_PKCS8_MAX)
        return ms_error_set(err, MS_ETOOBIG, "the key is over %d bytes",
                            MS_KMS_PKCS8_MAX);
    if ((p8 = d2i_PKCS8_PRIV_KEY_INFO(NULL, &q, (long)len)) == NULL ||
        q != der + len) {
        rc = ms_error_set_ossl(err, MS_EMALFORMED,
                               "not one DER PKCS#8 PrivateKeyInfo");
        goto out;
    }
    if ((*out = EVP_PKCS82PKEY_ex(p8, NULL, NULL)) == NULL)
        rc = ms_error_set_ossl(err, MS_EMALFORMED,
                               "the PKCS#8 key cannot be decoded");
out:
    PKCS8_PRIV_KEY_INFO_free(p8);
    return rc;
}

/* The extension request: subjectAltName = rfc822Name:mailbox. */
static int
csr_add_san(X509_REQ *r, const char *mailbox, ms_error *err)
{
    STACK_OF(X509_EXTENSION) *exts = NULL;
    GENERAL_NAMES *names = NULL;
    GENERAL_NAME *g = NULL;
    ASN1_IA5STRING *s = NULL;
    X509_EXTENSION *e = NULL;
    int rc = 0;

    if ((names = GENERAL_NAMES_new()) == NULL ||
        (g = GENERAL_NAME_new()) == NULL ||
        (s = ASN1_IA5STRING_new()) == NULL ||
        (exts = sk_X509_EXTENSION_new_null()) == NULL ||
        ASN1_STRING_set(s, mailbox, (int)strlen(mailbox)) != 1) {
        rc = ms_error_set_ossl(err, MS_ENOMEM, "out of memory");
        goto out;
    }
    GENERAL_NAME_set0_value(g, GEN_EMAIL, s);
    s = NULL;
    if (sk_GENERAL_NAME_push(names, g) <= 0) {
        rc = ms_error_set_ossl(err, MS_ENOMEM, "out of memory");
        goto out;
    }
    g = NULL;
    if ((e = X509V3_EXT_i2d(NID_subject_alt_name, 0, names)) == NULL ||
        sk_X509_EXTENSION_push(exts, e) <= 0) {
        rc = ms_error_set_ossl(err, MS_ENOMEM, "cannot encode the SAN");
        goto out;
    }
    e = NULL;
    if (X509_REQ_add_extensions(r, exts) != 1)
        rc = ms_error_set_ossl(err, MS_ENOMEM, "cannot add the SAN request");
out:
    X509_EXTENSION_free(e);
    sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
    ASN1_IA5STRING_free(s);
    GENERAL_NAME_free(g);
    GENERAL_NAMES_free(names);
    return rc;
}

int
ms_kms_csr_make(ms_buf *out, EVP_PKEY *key, const char *mailbox, ms_error *err)
{
    X509_REQ *r = NULL;
    unsigned char *p;
    int n;
    int rc;

    MS_ASSERT(out != NULL && key != NULL);
    if ((rc = ms_kms_mailbox_check(mailbox, err)) != 0)
        return rc;
    if ((r = X509_REQ_new()) == NULL ||
        X509_REQ_set_version(r, X509_REQ_VERSION_1) != 1 ||
        X509_REQ_set_pubkey(r, key) != 1) {
        rc = ms_error_set_ossl(err, MS_ENOMEM, "cannot build the CSR");
        goto out;
    }
    if ((rc = csr_add_san(r, mailbox, err)) != 0)
        goto out;
    if (X509_REQ_sign(r, key, EVP_sha256()) <= 0) {
        rc = ms_error_set_ossl(err, MS_EINVAL,
                               "cannot sign the CSR (no private key?)");
        goto out;
    }
    if ((n = i2d_X509_REQ(r, NULL)) <= 0) {
        rc = ms_error_set_ossl(err, MS_ERR, "cannot encode the CSR");
        goto out;
    }
    if ((rc = ms_buf_reserve(out, (size_t)n)) != 0) {
        rc = ms_error_set(err, rc, "no room for the CSR");
        goto out;
    }
    p = out->data + out->len;
    if (i2d_X509_REQ(r, &p) != n) {
        rc = ms_error_set_ossl(err, MS_ERR, "cannot encode the CSR");
        goto out;
    }
    out->len += (size_t)n;
    out->data[out->len] = '\0';
out:
    X509_REQ_free(r);
    return rc;
}
