/*
 * ca/build.c - building blocks of the certificates the CA makes.
 */
#include "ca/build.h"

#include <string.h>

#include <openssl/bn.h>
#include <openssl/conf.h>
#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include "util/error.h"

static int
random_serial(X509 *x, ms_error *err)
{
    unsigned char b[MS_CA_SERIAL_OCTETS];
    BIGNUM *bn = NULL;
    int rc = 0;

    if (RAND_bytes(b, (int)sizeof(b)) != 1)
        return ms_error_set_ossl(err, MS_ERR, "no random bytes for a serial");
    /* Positive without a padding octet, and no leading zero octet that
     * DER would drop: exactly 16 content octets, 127 random bits at least
     * 120 of them free (S/MIME BR 7.1 asks for 64). */
    b[0] &= 0x7f;
    if (b[0] == 0)
        b[0] = 0x01;
    if ((bn = BN_bin2bn(b, (int)sizeof(b), NULL)) == NULL ||
        BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) == NULL)
        rc = ms_error_set_ossl(err, MS_ENOMEM, "cannot set the serial");
    BN_free(bn);
    return rc;
}

int
ms_ca_tbs_new(X509 **out, EVP_PKEY *subject_key, const X509_NAME *issuer,
              time_t not_before, long seconds, ms_error *err)
{
    X509 *x = NULL;
    int rc = 0;

    MS_ASSERT(out != NULL && subject_key != NULL && seconds > 0);
    *out = NULL;
    if ((x = X509_new()) == NULL || !X509_set_version(x, X509_VERSION_3) ||
        !X509_set_pubkey(x, subject_key)) {
        rc = ms_error_set_ossl(err, MS_ENOMEM, "cannot make a certificate");
        goto out;
    }
    if ((rc = random_serial(x, err)) != 0)
        goto out;
    if (issuer != NULL && !X509_set_issuer_name(x, issuer)) {
        rc = ms_error_set_ossl(err, MS_ENOMEM, "cannot set the issuer");
        goto out;
    }
    if (X509_time_adj_ex(X509_getm_notBefore(x), 0, 0, &not_before) == NULL ||
        X509_time_adj_ex(X509_getm_notAfter(x), 0, seconds, &not_before) ==
            NULL) {
        rc = ms_error_set_ossl(err, MS_ERR, "cannot set the validity");
        goto out;
    }
    *out = x;
    x = NULL; /* the caller owns it now */
out:
    X509_free(x);
    return rc;
}

int
ms_ca_ext_add(X509 *x, X509 *issuer, int nid, const char *value, ms_error *err)
{
    CONF *conf = NULL;
    X509_EXTENSION *e = NULL;
    X509V3_CTX v3;
    int rc = 0;

    /* An empty configuration: certificatePolicies insists on having one. */
    if ((conf = NCONF_new(NULL)) == NULL) {
        rc = ms_error_set_ossl(err, MS_ENOMEM, "out of memory");
        goto out;
    }
    X509V3_set_ctx(&v3, issuer, x, NULL, NULL, 0);
    X509V3_set_nconf(&v3, conf);
    if ((e = X509V3_EXT_nconf_nid(conf, &v3, nid, value)) == NULL ||
        !X509_add_ext(x, e, -1))
        rc = ms_error_set_ossl(err, MS_ERR, "cannot add the %s extension",
                               OBJ_nid2sn(nid));
out:
    X509_EXTENSION_free(e);
    NCONF_free(conf);
    return rc;
}

int
ms_ca_cert_sign(X509 *x, EVP_PKEY *key, ms_error *err)
{
    const EVP_MD *md = EVP_sha256();
    char group[32];
    size_t len;

    if (EVP_PKEY_get_base_id(key) == EVP_PKEY_EC &&
        EVP_PKEY_get_group_name(key, group, sizeof(group), &len) &&
        (strcmp(group, "secp384r1") == 0 || strcmp(group, "P-384") == 0))
        md = EVP_sha384();
    if (X509_sign(x, key, md) <= 0)
        return ms_error_set_ossl(err, MS_ERR, "cannot sign the certificate");
    return 0;
}

bool
ms_ca_url_check(const char *url, const char **why)
{
    static const char scheme[] = "http://";
    static const char extra[] = "-._~:/[]%";
    size_t n;

    if (url == NULL || strncmp(url, scheme, sizeof(scheme) - 1) != 0) {
        *why = "the public URL does not start with http://";
        return false;
    }
    n = strlen(url);
    if (n == sizeof(scheme) - 1 || n > MS_CA_URL_MAX) {
        *why = "the public URL is empty or too long";
        return false;
    }
    if (url[n - 1] == '/') {
        *why = "the public URL ends with /";
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        char c = url[i];

        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || strchr(extra, c) != NULL)) {
            *why = "the public URL holds a character other than letters, "
                   "digits and -._~:/[]%";
            return false;
        }
    }
    return true;
}
