/*
 * ca/crl.c - builds, lints, signs and audits the CRL of one issuing CA
 * (see crl.h).
 */
#include "ca/crl.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "ca/lint.h"
#include "util/error.h"

/* What the store's revoked list is collected into. */
typedef struct collect {
    X509_CRL *crl;
    time_t this_update;
    size_t count; /* entries added */
    ms_error *err;
} collect;

static int
entry_reason(X509_REVOKED *rev, int reason, ms_error *err)
{
    ASN1_ENUMERATED *e = NULL;
    int rc = 0;

    if (reason == 0)
        return 0; /* unspecified: RFC 5280 5.3.1 says leave it out */
    if ((e = ASN1_ENUMERATED_new()) == NULL ||
        ASN1_ENUMERATED_set(e, reason) != 1 ||
        X509_REVOKED_add1_ext_i2d(rev, NID_crl_reason, e, 0, 0) != 1)
        rc = ms_error_set_ossl(err, MS_ENOMEM, "cannot add a reasonCode");
    ASN1_ENUMERATED_free(e);
    return rc;
}

/* ms_store_revoked_fn: adds one entry to the CRL. */
static int
add_entry(const char *serial_hex, time_t at, int reason, void *arg)
{
    collect *c = arg;
    BIGNUM *bn = NULL;
    ASN1_INTEGER *serial = NULL;
    ASN1_TIME *when = NULL;
    X509_REVOKED *rev = NULL;
    int rc = 0;

    if (at > c->this_update)
        return 0; /* revoked after this CRL's time: the next CRL lists it */
    if (BN_hex2bn(&bn, serial_hex) != (int)strlen(serial_hex)) {
        rc = ms_error_set(c->err, MS_EINVAL, "store serial is not hex");
        goto out;
    }
    if ((serial = BN_to_ASN1_INTEGER(bn, NULL)) == NULL ||
        (when = ASN1_TIME_set(NULL, at)) == NULL ||
        (rev = X509_REVOKED_new()) == NULL ||
        X509_REVOKED_set_serialNumber(rev, serial) != 1 ||
        X509_REVOKED_set_revocationDate(rev, when) != 1) {
        rc = ms_error_set_ossl(c->err, MS_ENOMEM, "cannot build an entry");
        goto out;
    }
    if ((rc = entry_reason(rev, reason, c->err)) != 0)
        goto out;
    if (X509_CRL_add0_revoked(c->crl, rev) != 1) {
        rc = ms_error_set_ossl(c->err, MS_ENOMEM, "cannot add an entry");
        goto out;
    }
    rev = NULL; /* the CRL owns it now */
    c->count++;
out:
    X509_REVOKED_free(rev);
    ASN1_TIME_free(when);
    ASN1_INTEGER_free(serial);
    BN_free(bn);
    return rc;
}

/* authorityKeyIdentifier: the CA's SKID, else SHA-1 of its key. */
static int
add_aki(X509_CRL *crl, X509 *ca, ms_error *err)
{
    const ASN1_OCTET_STRING *ski = X509_get0_subject_key_id(ca);
    AUTHORITY_KEYID *akid = NULL;
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    int rc = 0;

    if ((akid = AUTHORITY_KEYID_new()) == NULL)
        goto fail;
    if (ski != NULL)
        akid->keyid = ASN1_OCTET_STRING_dup(ski);
    else if (X509_pubkey_digest(ca, EVP_sha1(), md, &len) == 1 &&
             (akid->keyid = ASN1_OCTET_STRING_new()) != NULL &&
             ASN1_OCTET_STRING_set(akid->keyid, md, (int)len) != 1)
        goto fail;
    if (akid->keyid == NULL ||
        X509_CRL_add1_ext_i2d(crl, NID_authority_key_identifier, akid, 0,
                              X509V3_ADD_DEFAULT) != 1)
        goto fail;
    goto out;
fail:
    rc = ms_error_set_ossl(err, MS_ENOMEM, "cannot add the AKI");
out:
    AUTHORITY_KEYID_free(akid);
    return rc;
}

/* cRLNumber: the next value of the store sequence "crl-<issuer>". */
static int
add_number(X509_CRL *crl, ms_store *store, const char *issuer,
           uint64_t *number, ms_error *err)
{
    char seq[MS_STORE_NAME_MAX];
    ASN1_INTEGER *n = NULL;
    int len;
    int rc;

    len = snprintf(seq, sizeof(seq), "crl-%s", issuer);
    if (len < 0 || (size_t)len >= sizeof(seq))
        return ms_error_set(err, MS_EINVAL, "issuer name too long");
    if ((rc = ms_store_next_serial(store, seq, number, err)) != 0)
        return rc;
    if ((n = ASN1_INTEGER_new()) == NULL ||
        ASN1_INTEGER_set_uint64(n, *number) != 1 ||
        X509_CRL_add1_ext_i2d(crl, NID_crl_number, n, 0, 0) != 1)
        rc = ms_error_set_ossl(err, MS_ENOMEM, "cannot add the CRL number");
    ASN1_INTEGER_free(n);
    return rc;
}

/* Version, issuer, times: the fixed part of the CRL. */
static int
crl_header(X509_CRL *crl, X509 *ca, time_t this_update, long validity,
           ms_error *err)
{
    ASN1_TIME *t0 = ASN1_TIME_set(NULL, this_update);
    ASN1_TIME *t1 = ASN1_TIME_set(NULL, this_update + validity);
    int rc = 0;

    if (t0 == NULL || t1 == NULL ||
        X509_CRL_set_version(crl, X509_CRL_VERSION_2) != 1 ||
        X509_CRL_set_issuer_name(crl, X509_get_subject_name(ca)) != 1 ||
        X509_CRL_set1_lastUpdate(crl, t0) != 1 ||
        X509_CRL_set1_nextUpdate(crl, t1) != 1)
        rc = ms_error_set_ossl(err, MS_ENOMEM, "cannot fill the CRL");
    ASN1_TIME_free(t0);
    ASN1_TIME_free(t1);
    return rc;
}

/* Lints, signs and encodes crl into out. */
static int
crl_finish(X509_CRL *crl, X509 *ca, EVP_PKEY *key, ms_buf *out,
           ms_error *err)
{
    ms_lint_report rep;
    EVP_MD *sha256 = NULL;
    unsigned char *der = NULL;
    int n;
    int rc = 0;

    if (ms_lint_crl(&rep, crl, ca) != 0)
        return ms_error_set(err, MS_EPOLICY, "CRL lint refused: %s",
                            rep.first);
    if ((sha256 = EVP_MD_fetch(NULL, "SHA256", NULL)) == NULL ||
        X509_CRL_sign(crl, key, sha256) <= 0) {
        rc = ms_error_set_ossl(err, MS_ERR, "cannot sign the CRL");
        goto out;
    }
    if ((n = i2d_X509_CRL(crl, &der)) <= 0) {
        rc = ms_error_set_ossl(err, MS_ENOMEM, "cannot encode the CRL");
        goto out;
    }
    if ((rc = ms_buf_append(out, der, (size_t)n)) != 0)
        rc = ms_error_set(err, rc, "cannot store a %d-byte CRL", n);
out:
    OPENSSL_free(der);
    EVP_MD_free(sha256);
    return rc;
}

int
ms_crl_build(X509 *issuing_ca, EVP_PKEY *ca_key,
             const char *issuer_name_in_store, ms_store *store,
             time_t this_update, long validity_seconds, ms_buf *crl_der,
             ms_error *err)
{
    char detail[MS_STORE_NAME_MAX + 128];
    collect c = {NULL, this_update, 0, err};
    uint64_t number = 0;
    int rc;

    MS_ASSERT(issuing_ca != NULL && ca_key != NULL && store != NULL);
    MS_ASSERT(issuer_name_in_store != NULL && crl_der != NULL);
    ms_buf_reset(crl_der);
    if (X509_check_private_key(issuing_ca, ca_key) != 1)
        return ms_error_set_ossl(err, MS_EINVAL, "the key is not the CA's");
    if (validity_seconds <= 0)
        return ms_error_set(err, MS_EINVAL, "CRL validity %ld s",
                            validity_seconds);
    if ((c.crl = X509_CRL_new()) == NULL) {
        rc = ms_error_set_ossl(err, MS_ENOMEM, "cannot allocate a CRL");
        goto out;
    }
    if ((rc = crl_header(c.crl, issuing_ca, this_update, validity_seconds,
                         err)) != 0 ||
        (rc = ms_store_revoked_list(store, issuer_name_in_store, add_entry, &c,
                                    err)) != 0)
        goto out;
    if (X509_CRL_sort(c.crl) != 1) {
        rc = ms_error_set_ossl(err, MS_ENOMEM, "cannot sort the CRL");
        goto out;
    }
    if ((rc = add_aki(c.crl, issuing_ca, err)) != 0 ||
        (rc = add_number(c.crl, store, issuer_name_in_store, &number, err)) !=
            0 ||
        (rc = crl_finish(c.crl, issuing_ca, ca_key, crl_der, err)) != 0)
        goto out;
    /* The name is at most MS_STORE_NAME_MAX: no truncation. */
    (void)snprintf(detail, sizeof(detail),
                   "issuer=\"%s\" number=%" PRIu64 " revoked=%zu"
                   " this_update=%" PRId64,
                   issuer_name_in_store, number, c.count,
                   (int64_t)this_update);
    rc = ms_store_audit_append(store, "crl.issue", detail, err);
out:
    if (rc != 0)
        ms_buf_reset(crl_der);
    X509_CRL_free(c.crl);
    ERR_clear_error(); /* the queue is empty whenever an ms_ call returns */
    return rc;
}
