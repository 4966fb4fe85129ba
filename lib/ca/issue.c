/*
 * ca/issue.c - certificates from CSRs: the CSR and identity checks, the
 * to-be-signed certificate, lint, signature, store; and revocation.
 */
#include "ca/issue.h"

#include <stdio.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "ca/build.h"
#include "ca/keys.h"
#include "mime/addr.h"
#include "util/alloc.h"
#include "util/error.h"
#include "util/str.h"
#include "x509/info.h"

#define SKEW     60L /* notBefore this far back: clocks differ */
#define DAY      (24L * 60 * 60)
#define ADDR_MAX 254

static const char pem_begin[] = "-----BEGIN";

/* ---- the identity ---- */

static int
field_ok(const char *v, const char *what, ms_error *err)
{
    size_t n;

    if (v == NULL || v[0] == '\0')
        return ms_error_set(err, MS_EINVAL, "the identity lacks the %s", what);
    n = strlen(v);
    if (n > MS_CA_FIELD_MAX)
        return ms_error_set(err, MS_EINVAL, "the %s is over %d bytes", what,
                            MS_CA_FIELD_MAX);
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)v[i] < 0x20 || v[i] == 0x7f)
            return ms_error_set(err, MS_EINVAL,
                                "the %s holds a control character", what);
    return 0;
}

static int
mailbox_ok(const char *mailbox, ms_error *err)
{
    const char *why = NULL;
    char *parsed = NULL;
    int rc = 0;

    if (mailbox == NULL || mailbox[0] == '\0')
        return ms_error_set(err, MS_EINVAL, "the identity lacks the mailbox");
    if (strlen(mailbox) > ADDR_MAX)
        return ms_error_set(err, MS_EINVAL, "the mailbox is over %d bytes",
                            ADDR_MAX);
    for (const char *p = mailbox; *p != '\0'; p++)
        if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f)
            return ms_error_set(err, MS_EINVAL,
                                "the mailbox is not a plain ASCII addr-spec");
    if ((rc = ms_addr_parse_from(&parsed, mailbox, &why)) == MS_ENOMEM)
        return ms_error_set(err, rc, "out of memory");
    if (rc != 0 || strcmp(parsed, mailbox) != 0)
        rc = ms_error_set(err, MS_EINVAL, "the mailbox is not an addr-spec%s%s",
                          why != NULL ? ": " : "", why != NULL ? why : "");
    ms_free(parsed);
    return rc;
}

static int
country_ok(const char *c, ms_error *err)
{
    if (c == NULL)
        return ms_error_set(err, MS_EINVAL, "the identity lacks the country");
    if (strlen(c) != 2 || c[0] < 'A' || c[0] > 'Z' || c[1] < 'A' || c[1] > 'Z')
        return ms_error_set(err, MS_EINVAL,
                            "the country is not two "
                            "upper-case letters (ISO 3166)");
    return 0;
}

int
ms_ca_identity_check(const ms_ca_identity *id, ms_error *err)
{
    int rc;

    MS_ASSERT(id != NULL);
    if (id->level < 1 || id->level > 4)
        return ms_error_set(err, MS_EINVAL, "identity level %d not in 1..4",
                            id->level);
    if ((rc = mailbox_ok(id->mailbox, err)) != 0)
        return rc;
    if (id->level == 2 || id->level == 4) {
        if ((rc = field_ok(id->given_name, "given name", err)) != 0 ||
            (rc = field_ok(id->surname, "surname", err)) != 0)
            return rc;
    }
    if (id->level == 3 || id->level == 4) {
        if ((rc = field_ok(id->organisation, "organisation", err)) != 0)
            return rc;
    }
    if (id->level == 3 || (id->level == 4 && id->organisation_id != NULL)) {
        if ((rc = field_ok(id->organisation_id, "organisation identifier",
                           err)) != 0)
            return rc;
    }
    if (id->level == 3 || (id->level == 4 && id->country != NULL)) {
        if ((rc = country_ok(id->country, err)) != 0)
            return rc;
    }
    if (id->level == 4)
        return field_ok(id->title, "title", err);
    return 0;
}

/* ---- the CSR ---- */

static int
parse_csr(X509_REQ **out, const uint8_t *csr, size_t len, ms_error *err)
{
    const unsigned char *p = csr;
    BIO *bio = NULL;
    int rc = 0;

    if (len == 0)
        return ms_error_set(err, MS_EMALFORMED, "the CSR is empty");
    if (len > MS_CA_CSR_MAX)
        return ms_error_set(err, MS_ETOOBIG, "the CSR is over %d bytes",
                            MS_CA_CSR_MAX);
    if (len >= sizeof(pem_begin) - 1 &&
        memcmp(csr, pem_begin, sizeof(pem_begin) - 1) == 0) {
        if ((bio = BIO_new_mem_buf(csr, (int)len)) == NULL)
            return ms_error_set_ossl(err, MS_ENOMEM, "out of memory");
        *out = PEM_read_bio_X509_REQ(bio, NULL, NULL, NULL);
        BIO_free(bio);
    } else {
        *out = d2i_X509_REQ(NULL, &p, (long)len);
        if (*out != NULL && p != csr + len) {
            X509_REQ_free(*out);
            *out = NULL;
        }
    }
    if (*out == NULL)
        rc = ms_error_set_ossl(err, MS_EMALFORMED,
                               "the CSR cannot be parsed (PEM or DER PKCS#10)");
    else if (X509_REQ_get_version(*out) != X509_REQ_VERSION_1)
        rc = ms_error_set(err, MS_EMALFORMED, "the CSR version is not 1");
    return rc;
}

/* The one extensionRequest attribute's extensions; *out NULL when none. */
static int
requested_exts(STACK_OF(X509_EXTENSION) * *out, X509_REQ *req, ms_error *err)
{
    int n = 0;
    int at = -1;
    int nids[] = {NID_ext_req, NID_ms_ext_req};

    *out = NULL;
    for (size_t i = 0; i < 2; i++) {
        int pos = -1;

        while ((pos = X509_REQ_get_attr_by_NID(req, nids[i], pos)) >= 0) {
            n++;
            at = pos;
        }
    }
    if (n == 0)
        return 0;
    if (n > 1 || X509_ATTRIBUTE_count(X509_REQ_get_attr(req, at)) != 1)
        return ms_error_set(err, MS_EPOLICY,
                            "the CSR holds more than one "
                            "extension request");
    if ((*out = X509_REQ_get_extensions(req)) == NULL)
        return ms_error_set_ossl(err, MS_EMALFORMED,
                                 "the CSR's extension "
                                 "request cannot be decoded");
    return 0;
}

static int
check_san_request(X509_EXTENSION *e, const char *mailbox, ms_error *err)
{
    GENERAL_NAMES *gens;
    const GENERAL_NAME *g;
    int rc = 0;

    if ((gens = X509V3_EXT_d2i(e)) == NULL)
        return ms_error_set_ossl(err, MS_EMALFORMED,
                                 "the CSR's "
                                 "subjectAltName cannot be decoded");
    g = sk_GENERAL_NAME_num(gens) == 1 ? sk_GENERAL_NAME_value(gens, 0) : NULL;
    if (g == NULL || g->type != GEN_EMAIL ||
        !ms_ascii_casebytes(
            (const char *)ASN1_STRING_get0_data(g->d.rfc822Name),
            (size_t)ASN1_STRING_length(g->d.rfc822Name), mailbox,
            strlen(mailbox)))
        rc = ms_error_set(err, MS_EPOLICY,
                          "the CSR requests subjectAltName names other than "
                          "exactly the mailbox %s",
                          mailbox);
    GENERAL_NAMES_free(gens);
    return rc;
}

static int
check_requests(X509_REQ *req, const char *mailbox, ms_error *err)
{
    STACK_OF(X509_EXTENSION) *exts = NULL;
    bool seen_san = false;
    char oid[80];
    int rc;

    if ((rc = requested_exts(&exts, req, err)) != 0 || exts == NULL)
        return rc;
    for (int i = 0; rc == 0 && i < sk_X509_EXTENSION_num(exts); i++) {
        X509_EXTENSION *e = sk_X509_EXTENSION_value(exts, i);
        const ASN1_OBJECT *obj = X509_EXTENSION_get_object(e);

        if (OBJ_obj2nid(obj) != NID_subject_alt_name) {
            if (OBJ_obj2txt(oid, (int)sizeof(oid), obj, 0) <= 0)
                memcpy(oid, "?", 2);
            rc = ms_error_set(err, MS_EPOLICY,
                              "the CSR requests the extension %s: only a "
                              "subjectAltName with the mailbox may be "
                              "requested",
                              oid);
        } else if (seen_san) {
            rc = ms_error_set(err, MS_EPOLICY,
                              "the CSR requests subjectAltName twice");
        } else {
            seen_san = true;
            rc = check_san_request(e, mailbox, err);
        }
    }
    sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
    return rc;
}

int
ms_ca_csr_check(EVP_PKEY **key_out, const uint8_t *csr, size_t csr_len,
                const ms_ca_identity *id, ms_lint_use use, ms_error *err)
{
    X509_REQ *req = NULL;
    EVP_PKEY *key;
    int rc;
    int type;

    MS_ASSERT(csr != NULL && id != NULL && id->mailbox != NULL);
    if (key_out != NULL)
        *key_out = NULL;
    if (use != MS_LINT_SIGNING && use != MS_LINT_ENCRYPTION)
        return ms_error_set(err, MS_EINVAL, "unknown certificate use");
    if ((rc = parse_csr(&req, csr, csr_len, err)) != 0)
        goto out;
    if ((key = X509_REQ_get0_pubkey(req)) == NULL) {
        rc = ms_error_set_ossl(err, MS_EMALFORMED,
                               "the CSR's public key cannot be decoded");
        goto out;
    }
    /* The key check first: it bounds the key's size before a verify. */
    if ((rc = ms_ca_key_check(key, err)) != 0)
        goto out;
    /* Signing: RSA or ECDSA; encryption: RSA key transport or ECDH. */
    type = EVP_PKEY_get_base_id(key);
    if (type != EVP_PKEY_RSA && type != EVP_PKEY_EC) {
        rc = ms_error_set(err, MS_EPOLICY, "the key does not fit the use");
        goto out;
    }
    if ((rc = check_requests(req, id->mailbox, err)) != 0)
        goto out;
    /* Last: the most expensive check (and the fuzzer reaches the rest). */
    if (X509_REQ_verify(req, key) != 1) {
        rc = ms_error_set_ossl(err, MS_EBADSIG,
                               "the CSR's signature does not "
                               "verify (no proof of possession)");
        goto out;
    }
    if (key_out != NULL) {
        if (!EVP_PKEY_up_ref(key)) {
            rc = ms_error_set_ossl(err, MS_ENOMEM, "out of memory");
            goto out;
        }
        *key_out = key;
    }
out:
    X509_REQ_free(req);
    return rc;
}

/* ---- the certificate ---- */

static int
name_add(X509_NAME *n, int nid, const char *v, ms_error *err)
{
    if (!X509_NAME_add_entry_by_NID(n, nid, MBSTRING_UTF8,
                                    (const unsigned char *)v, -1, -1, 0))
        return ms_error_set_ossl(err, MS_EINVAL,
                                 "the %s is not valid UTF-8 "
                                 "or too long",
                                 OBJ_nid2ln(nid));
    return 0;
}

/* CN = "given surname" when that fits the 64-byte bound, else no CN. */
static int
person_cn(X509_NAME *n, const ms_ca_identity *id, ms_error *err)
{
    char cn[2 * MS_CA_FIELD_MAX + 2];
    int k = snprintf(cn, sizeof(cn), "%s %s", id->given_name, id->surname);

    if (k < 0 || k > MS_CA_FIELD_MAX)
        return 0;
    return name_add(n, NID_commonName, cn, err);
}

/* The subject of S/MIME BR 7.1.4.2 (strict) for id's level. */
static int
build_subject(X509 *x, const ms_ca_identity *id, ms_error *err)
{
    X509_NAME *n = X509_get_subject_name(x);
    int rc = 0;
    int l = id->level;

    if (l == 3 || l == 4) {
        if (id->country != NULL)
            rc = name_add(n, NID_countryName, id->country, err);
        if (rc == 0)
            rc = name_add(n, NID_organizationName, id->organisation, err);
        if (rc == 0 && id->organisation_id != NULL)
            rc = name_add(n, NID_organizationIdentifier, id->organisation_id,
                          err);
    }
    if (rc == 0 && l == 4)
        rc = name_add(n, NID_title, id->title, err);
    if (rc == 0 && (l == 2 || l == 4)) {
        if ((rc = name_add(n, NID_givenName, id->given_name, err)) == 0 &&
            (rc = name_add(n, NID_surname, id->surname, err)) == 0)
            rc = person_cn(n, id, err);
    }
    if (rc == 0 && l == 3)
        rc = name_add(n, NID_commonName, id->organisation, err);
    if (rc == 0 && l == 1 && strlen(id->mailbox) <= MS_CA_FIELD_MAX)
        rc = name_add(n, NID_commonName, id->mailbox, err);
    return rc;
}

static int
add_san(X509 *x, const char *mailbox, ms_error *err)
{
    GENERAL_NAMES *gens = NULL;
    GENERAL_NAME *g = NULL;
    ASN1_IA5STRING *s = NULL;
    int crit = X509_NAME_entry_count(X509_get_subject_name(x)) == 0;
    int rc = 0;

    if ((gens = GENERAL_NAMES_new()) == NULL ||
        (g = GENERAL_NAME_new()) == NULL ||
        (s = ASN1_IA5STRING_new()) == NULL ||
        !ASN1_STRING_set(s, mailbox, (int)strlen(mailbox))) {
        rc = ms_error_set_ossl(err, MS_ENOMEM, "out of memory");
        goto out;
    }
    GENERAL_NAME_set0_value(g, GEN_EMAIL, s);
    s = NULL; /* g owns it */
    if (!sk_GENERAL_NAME_push(gens, g)) {
        rc = ms_error_set_ossl(err, MS_ENOMEM, "out of memory");
        goto out;
    }
    g = NULL; /* gens owns it */
    /* Critical when the subject is empty (RFC 5280 4.2.1.6). */
    if (X509_add1_ext_i2d(x, NID_subject_alt_name, gens, crit,
                          X509V3_ADD_DEFAULT) != 1)
        rc = ms_error_set_ossl(err, MS_ERR, "cannot add subjectAltName");
out:
    ASN1_IA5STRING_free(s);
    GENERAL_NAME_free(g);
    GENERAL_NAMES_free(gens);
    return rc;
}

static const char *
key_usage(ms_lint_use use, EVP_PKEY *key)
{
    if (use == MS_LINT_SIGNING)
        return "critical,digitalSignature,nonRepudiation";
    if (EVP_PKEY_get_base_id(key) == EVP_PKEY_RSA)
        return "critical,keyEncipherment";
    return "critical,keyAgreement";
}

static int
build_exts(X509 *x, X509 *issuer, const ms_ca_identity *id, ms_lint_use use,
           EVP_PKEY *key, const char *url, ms_error *err)
{
    char aia[MS_CA_URL_MAX + 64], cdp[MS_CA_URL_MAX + 32], policy[96];
    int l = id->level;
    int rc;

    (void)snprintf(aia, sizeof(aia),
                   "OCSP;URI:%s/ocsp,caIssuers;URI:%s/ca/"
                   "v%d.crt",
                   url, url, l); /* the URL is checked and short */
    (void)snprintf(cdp, sizeof(cdp), "URI:%s/crl/v%d.crl", url, l);
    (void)snprintf(policy, sizeof(policy), "%s.1.%d", MS_OID_ARC, l);
    if ((rc = ms_ca_ext_add(x, issuer, NID_basic_constraints,
                            "critical,CA:FALSE", err)) != 0 ||
        (rc = ms_ca_ext_add(x, issuer, NID_key_usage, key_usage(use, key),
                            err)) != 0 ||
        (rc = ms_ca_ext_add(x, issuer, NID_ext_key_usage, "emailProtection",
                            err)) != 0 ||
        (rc = add_san(x, id->mailbox, err)) != 0 ||
        (rc = ms_ca_ext_add(x, issuer, NID_certificate_policies, policy,
                            err)) != 0 ||
        (rc = ms_ca_ext_add(x, issuer, NID_info_access, aia, err)) != 0 ||
        (rc = ms_ca_ext_add(x, issuer, NID_crl_distribution_points, cdp,
                            err)) != 0 ||
        (rc = ms_ca_ext_add(x, issuer, NID_subject_key_identifier, "hash",
                            err)) != 0)
        return rc;
    return ms_ca_ext_add(x, issuer, NID_authority_key_identifier,
                         "keyid:always", err);
}

static int
options_of(ms_ca_issue_options *o, const ms_ca_issue_options *opt,
           ms_error *err)
{
    const char *why;

    if (opt != NULL) {
        if (opt->version != MS_CA_ISSUE_OPTIONS_VERSION)
            return ms_error_set(err, MS_EINVAL, "options version %u unknown",
                                opt->version);
        *o = *opt;
    }
    if (o->validity_days == 0)
        o->validity_days = MS_CA_VALIDITY_DEFAULT;
    if (o->validity_days < 1 || o->validity_days > MS_CA_VALIDITY_MAX)
        return ms_error_set(err, MS_EINVAL,
                            "validity of %d days not in "
                            "1..%d",
                            o->validity_days, MS_CA_VALIDITY_MAX);
    if (o->public_url == NULL)
        o->public_url = MS_CA_DEFAULT_URL;
    if (!ms_ca_url_check(o->public_url, &why))
        return ms_error_set(err, MS_EINVAL, "%s", why);
    if (o->now == 0)
        o->now = time(NULL);
    return 0;
}

/* The signed certificate, linted before the signature. */
static int
make_cert(X509 **out, const ms_ca *ca, const ms_ca_identity *id, EVP_PKEY *key,
          ms_lint_use use, const ms_ca_issue_options *o, ms_error *err)
{
    X509 *issuer = ms_ca_get0_issuer_cert(ca, id->level);
    ms_lint_report rep;
    X509 *x = NULL;
    int rc;

    if ((rc = ms_ca_tbs_new(&x, key, X509_get_subject_name(issuer),
                            o->now - SKEW, o->validity_days * DAY, err)) != 0)
        goto out;
    if ((rc = build_subject(x, id, err)) != 0 ||
        (rc = build_exts(x, issuer, id, use, key, o->public_url, err)) != 0)
        goto out;
    if (ms_lint_cert(&rep, x, id->level, use, o->now) != 0) {
        rc = ms_error_set(err, MS_EPOLICY, "lint refused the certificate: %s",
                          rep.first);
        goto out;
    }
    if ((rc = ms_ca_cert_sign(x, ms_ca_get0_issuer_key(ca, id->level), err)) !=
        0)
        goto out;
    *out = x;
    x = NULL; /* the caller owns it now */
out:
    X509_free(x);
    return rc;
}

/* The store record of x (rec->der filled, strings owned by rec). */
static int
record_of(ms_store_cert *rec, X509 *x, const ms_ca_identity *id,
          ms_lint_use use, ms_error *err)
{
    unsigned char *der = NULL;
    int n;
    int rc = 0;

    rec->serial_hex = ms_x509_serial_hex(x);
    rec->issuer = ms_strdup(ms_ca_name(id->level));
    rec->subject_email = ms_strdup(id->mailbox);
    rec->use = ms_strdup(use == MS_LINT_SIGNING ? "signing" : "encryption");
    rec->level = id->level;
    if (rec->serial_hex == NULL || rec->issuer == NULL ||
        rec->subject_email == NULL || rec->use == NULL)
        return ms_error_set(err, MS_ENOMEM, "out of memory");
    if (!ms_asn1_time_epoch(X509_get0_notBefore(x), &rec->not_before) ||
        !ms_asn1_time_epoch(X509_get0_notAfter(x), &rec->not_after))
        return ms_error_set(err, MS_ERR, "cannot read the validity");
    if ((n = i2d_X509(x, &der)) <= 0)
        return ms_error_set_ossl(err, MS_ENOMEM, "cannot encode");
    if ((rc = ms_buf_append(&rec->der, der, (size_t)n)) != 0)
        rc = ms_error_set(err, rc, "certificate of %d bytes", n);
    OPENSSL_free(der);
    return rc;
}

int
ms_ca_issue_build(const ms_ca *ca, const ms_ca_identity *id,
                  const uint8_t *csr, size_t csr_len, ms_lint_use use,
                  const ms_ca_issue_options *opt, ms_store_cert *rec_out,
                  ms_error *err)
{
    ms_ca_issue_options o = MS_CA_ISSUE_OPTIONS_INIT;
    EVP_PKEY *key = NULL;
    X509 *x = NULL;
    int rc;

    MS_ASSERT(ca != NULL && id != NULL && csr != NULL && rec_out != NULL);
    ms_store_cert_init(rec_out);
    if ((rc = options_of(&o, opt, err)) != 0 ||
        (rc = ms_ca_identity_check(id, err)) != 0 ||
        (rc = ms_ca_csr_check(&key, csr, csr_len, id, use, err)) != 0 ||
        (rc = make_cert(&x, ca, id, key, use, &o, err)) != 0 ||
        (rc = record_of(rec_out, x, id, use, err)) != 0)
        ms_store_cert_cleanup(rec_out);
    X509_free(x);
    EVP_PKEY_free(key);
    return rc;
}

int
ms_ca_issue(const ms_ca *ca, ms_store *st, const ms_ca_identity *id,
            const uint8_t *csr, size_t csr_len, ms_lint_use use,
            const ms_ca_issue_options *opt, ms_buf *cert_der_out, ms_error *err)
{
    ms_store_cert rec;
    int rc;

    MS_ASSERT(ca != NULL && st != NULL && id != NULL && csr != NULL);
    MS_ASSERT(cert_der_out != NULL);
    ms_buf_reset(cert_der_out);
    if ((rc = ms_ca_issue_build(ca, id, csr, csr_len, use, opt, &rec, err)) !=
        0)
        return rc;
    /* Room first: once stored, handing the certificate over cannot fail. */
    if ((rc = ms_buf_reserve(cert_der_out, rec.der.len)) != 0) {
        rc = ms_error_set(err, rc, "no room for the certificate");
        goto out;
    }
    if ((rc = ms_store_cert_insert(st, &rec, err)) != 0)
        goto out;
    rc = ms_buf_append(cert_der_out, rec.der.data, rec.der.len);
    MS_ASSERT(rc == 0); /* reserved above */
out:
    ms_store_cert_cleanup(&rec);
    return rc;
}

/* ---- revocation ---- */

int
ms_ca_serial_canonical(char *out, size_t n, const char *in, ms_error *err)
{
    BIGNUM *bn = NULL;
    char *hex = NULL;
    size_t len = strlen(in);
    int rc = 0;

    if (len == 0 || len > MS_STORE_SERIAL_HEX_MAX ||
        BN_hex2bn(&bn, in) != (int)len || BN_is_zero(bn) ||
        BN_is_negative(bn) || (hex = BN_bn2hex(bn)) == NULL ||
        strlen(hex) >= n) {
        rc = ms_error_set(err, MS_EINVAL, "bad serial number");
        goto out;
    }
    for (size_t i = 0; hex[i] != '\0'; i++)
        out[i] = (char)(hex[i] >= 'A' && hex[i] <= 'F' ? hex[i] + 32 : hex[i]);
    out[strlen(hex)] = '\0';
out:
    OPENSSL_free(hex);
    BN_free(bn);
    return rc;
}

int
ms_ca_revoke(const ms_ca *ca, ms_store *st, int level, const char *serial_hex,
             int reason, time_t at, ms_error *err)
{
    char serial[MS_STORE_SERIAL_HEX_MAX + 2];
    int rc;

    MS_ASSERT(ca != NULL && st != NULL && serial_hex != NULL);
    if (level < 1 || level > 4)
        return ms_error_set(err, MS_EINVAL, "level %d not in 1..4", level);
    if ((rc = ms_ca_serial_canonical(serial, sizeof(serial), serial_hex,
                                     err)) != 0)
        return rc;
    return ms_store_cert_revoke(st, ms_ca_name(level), serial, reason,
                                at != 0 ? at : time(NULL), err);
}
