/*
 * ca/lint.c - the certificate profile as a table of rules, one small
 * function each. A rule returns NULL when the certificate passes, else a
 * short static text saying why not; ms_lint_cert() runs them all.
 */
#include "ca/lint.h"
#include "ca/lint_int.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/x509v3.h>

#include "util/error.h"
#include "util/str.h"
#include "x509/info.h"

#define SERIAL_MIN_OCTETS 9  /* 64 random bits need at least 8, plus sign */
#define SERIAL_MAX_OCTETS 20 /* RFC 5280 4.1.2.2 */
#define MAX_VALIDITY_DAYS 825
#define NOT_BEFORE_SLACK  (48L * 60 * 60) /* notBefore within 48 h of now */
#define MAX_LOCAL_PART    64
#define MAX_ADDR          254
#define RSA_EXPONENT      65537

/* keyUsage bits (RFC 5280 4.2.1.3) as a mask; bit 0 is the first bit. */
#define BIT_DIGITAL_SIGNATURE 0x001
#define BIT_NON_REPUDIATION   0x002
#define BIT_KEY_ENCIPHERMENT  0x004
#define BIT_KEY_AGREEMENT     0x010
#define BIT_BEYOND_DEFINED    0x8000 /* any bit past decipherOnly (8) */

typedef struct lint_in {
    X509 *x;
    int level;
    ms_lint_use use;
    time_t now;
} lint_in;

typedef const char *(*rule_fn)(const lint_in *in);

typedef struct rule {
    const char *id;
    rule_fn check;
} rule;

static bool
ascii_alnum(unsigned char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
           (c >= 'A' && c <= 'Z');
}

bool
ms_lint_nid_in(int nid, const int *set, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (set[i] == nid)
            return true;
    return false;
}

/* ---- version, serial, validity ---- */

static const char *
r_version(const lint_in *in)
{
    if (X509_get_version(in->x) != X509_VERSION_3)
        return "the certificate is not version 3";
    return NULL;
}

static const char *
r_serial_positive(const lint_in *in)
{
    const ASN1_INTEGER *s = X509_get0_serialNumber(in->x);
    const unsigned char *p = ASN1_STRING_get0_data(s);
    int n = ASN1_STRING_length(s);

    if (ASN1_STRING_type(s) != V_ASN1_INTEGER)
        return "the serial number is negative";
    for (int i = 0; i < n; i++)
        if (p[i] != 0)
            return NULL;
    return "the serial number is zero";
}

static const char *
r_serial_length(const lint_in *in)
{
    const ASN1_INTEGER *s = X509_get0_serialNumber(in->x);
    const unsigned char *p = ASN1_STRING_get0_data(s);
    int n = ASN1_STRING_length(s);

    /* DER content octets: a leading zero keeps a set top bit positive. */
    if (n > 0 && (p[0] & 0x80) != 0)
        n++;
    if (n < SERIAL_MIN_OCTETS || n > SERIAL_MAX_OCTETS)
        return "the serial number is not 9 to 20 octets (64+ random bits)";
    return NULL;
}

static const char *
r_validity_order(const lint_in *in)
{
    int days;
    int secs;

    if (!ASN1_TIME_diff(&days, &secs, X509_get0_notBefore(in->x),
                        X509_get0_notAfter(in->x)))
        return "the validity period cannot be read";
    if (days < 0 || secs < 0)
        return "notAfter is before notBefore";
    return NULL;
}

static const char *
r_validity_max(const lint_in *in)
{
    int days;
    int secs;

    if (!ASN1_TIME_diff(&days, &secs, X509_get0_notBefore(in->x),
                        X509_get0_notAfter(in->x)))
        return "the validity period cannot be read";
    if (days > MAX_VALIDITY_DAYS || (days == MAX_VALIDITY_DAYS && secs > 0))
        return "the validity period is longer than 825 days";
    return NULL;
}

static const char *
r_validity_current(const lint_in *in)
{
    time_t nb;
    time_t na;

    if (!ms_asn1_time_epoch(X509_get0_notBefore(in->x), &nb) ||
        !ms_asn1_time_epoch(X509_get0_notAfter(in->x), &na))
        return "the validity period cannot be read";
    if (na <= in->now)
        return "notAfter is not in the future";
    if (nb < in->now - NOT_BEFORE_SLACK || nb > in->now + NOT_BEFORE_SLACK)
        return "notBefore is more than 48 hours from now";
    return NULL;
}

/* ---- extensions as a whole ---- */

static const char *
r_extension_duplicate(const lint_in *in)
{
    int n = X509_get_ext_count(in->x);

    for (int i = 0; i < n; i++) {
        const ASN1_OBJECT *a;

        a = X509_EXTENSION_get_object(X509_get_ext(in->x, i));
        for (int j = i + 1; j < n; j++)
            if (OBJ_cmp(a, X509_EXTENSION_get_object(X509_get_ext(in->x, j))) ==
                0)
                return "an extension appears more than once";
    }
    return NULL;
}

static const char *
r_critical_unknown(const lint_in *in)
{
    static const int known[] = {
        NID_basic_constraints,    NID_key_usage,
        NID_ext_key_usage,        NID_subject_alt_name,
        NID_certificate_policies,
    };
    int n = X509_get_ext_count(in->x);

    for (int i = 0; i < n; i++) {
        X509_EXTENSION *e = X509_get_ext(in->x, i);
        int nid = OBJ_obj2nid(X509_EXTENSION_get_object(e));

        if (X509_EXTENSION_get_critical(e) &&
            !ms_lint_nid_in(nid, known, sizeof(known) / sizeof(known[0])))
            return "a critical extension is not one the profile knows";
    }
    return NULL;
}

static const char *
r_must_not_be_critical(const lint_in *in)
{
    static const int nids[] = {
        NID_info_access,
        NID_crl_distribution_points,
        NID_authority_key_identifier,
        NID_subject_key_identifier,
    };

    for (size_t i = 0; i < sizeof(nids) / sizeof(nids[0]); i++) {
        int at = X509_get_ext_by_NID(in->x, nids[i], -1);

        if (at >= 0 && X509_EXTENSION_get_critical(X509_get_ext(in->x, at)))
            return "AIA, CRL DP, AKID and SKID must not be critical";
    }
    return NULL;
}

static const char *
r_basic_constraints(const lint_in *in)
{
    BASIC_CONSTRAINTS *bc;
    const char *why = NULL;
    int crit;

    bc = X509_get_ext_d2i(in->x, NID_basic_constraints, &crit, NULL);
    if (crit == -1)
        return NULL; /* absent is fine for an end entity */
    if (bc == NULL)
        why = "basicConstraints cannot be decoded";
    else if (bc->ca)
        why = "basicConstraints says CA:TRUE";
    else if (bc->pathlen != NULL)
        why = "basicConstraints has a path length";
    BASIC_CONSTRAINTS_free(bc);
    return why;
}

/* ---- keyUsage and extKeyUsage ---- */

/* The keyUsage bits as a BIT_ mask, -1 when absent or undecodable. */
static int
ku_bits(const lint_in *in, int *crit)
{
    ASN1_BIT_STRING *ku;
    const unsigned char *p;
    int n;
    int bits = 0;

    if ((ku = X509_get_ext_d2i(in->x, NID_key_usage, crit, NULL)) == NULL)
        return -1;
    p = ASN1_STRING_get0_data(ku);
    n = ASN1_STRING_length(ku);
    for (int i = 0; i < n; i++) {
        for (int b = 0; b < 8; b++) {
            int bit = i < 2 ? i * 8 + b : 9; /* no overflow on long input */

            if ((p[i] & (0x80 >> b)) != 0)
                bits |= bit <= 8 ? 1 << bit : BIT_BEYOND_DEFINED;
        }
    }
    ASN1_BIT_STRING_free(ku);
    return bits;
}

static int
key_type(const lint_in *in)
{
    EVP_PKEY *k = X509_get0_pubkey(in->x);

    return k == NULL ? EVP_PKEY_NONE : EVP_PKEY_get_base_id(k);
}

static const char *
r_key_usage_present(const lint_in *in)
{
    int crit;
    int bits = ku_bits(in, &crit);

    if (bits < 0)
        return crit == -1 ? "keyUsage is absent" : "keyUsage cannot be decoded";
    if (crit != 1)
        return "keyUsage is not critical";
    if (bits == 0)
        return "keyUsage asserts no bit";
    return NULL;
}

static const char *
r_key_usage_signing(const lint_in *in)
{
    int crit;
    int bits = ku_bits(in, &crit);

    if (in->use != MS_LINT_SIGNING || bits < 0)
        return NULL;
    if ((bits & BIT_DIGITAL_SIGNATURE) == 0)
        return "a signing certificate lacks digitalSignature";
    if ((bits & ~(BIT_DIGITAL_SIGNATURE | BIT_NON_REPUDIATION)) != 0)
        return "a signing certificate asserts more than "
               "digitalSignature and nonRepudiation";
    return NULL;
}

static const char *
r_key_usage_encryption(const lint_in *in)
{
    int crit;
    int bits = ku_bits(in, &crit);
    int type = key_type(in);

    if (in->use != MS_LINT_ENCRYPTION || bits < 0)
        return NULL;
    if (type == EVP_PKEY_RSA && bits != BIT_KEY_ENCIPHERMENT)
        return "an RSA encryption certificate asserts other than "
               "keyEncipherment alone";
    if (type == EVP_PKEY_EC && bits != BIT_KEY_AGREEMENT)
        return "an EC encryption certificate asserts other than "
               "keyAgreement alone";
    return NULL;
}

static const char *
r_eku_only_email_protection(const lint_in *in)
{
    EXTENDED_KEY_USAGE *eku;
    const char *why = NULL;
    int crit;

    eku = X509_get_ext_d2i(in->x, NID_ext_key_usage, &crit, NULL);
    if (eku == NULL)
        why = crit == -1 ? "extKeyUsage is absent"
                         : "extKeyUsage cannot be decoded";
    else if (sk_ASN1_OBJECT_num(eku) != 1 ||
             OBJ_obj2nid(sk_ASN1_OBJECT_value(eku, 0)) != NID_email_protect)
        why = "extKeyUsage is not exactly emailProtection";
    EXTENDED_KEY_USAGE_free(eku);
    return why;
}

/* ---- subjectAltName ---- */

/* A dot-atom of letters, digits and the characters in extra. */
static bool
dot_atom(const unsigned char *p, size_t n, const char *extra)
{
    if (n == 0 || p[0] == '.' || p[n - 1] == '.')
        return false;
    for (size_t i = 0; i < n; i++) {
        if (p[i] == '.') {
            if (p[i - 1] == '.')
                return false;
        } else if (!ascii_alnum(p[i]) &&
                   (p[i] == '\0' || strchr(extra, p[i]) == NULL)) {
            return false;
        }
    }
    return true;
}

/* local@domain in dot-atom form, ASCII, with a dot in the domain. */
static bool
plausible_addr(const ASN1_IA5STRING *s)
{
    const unsigned char *p = ASN1_STRING_get0_data(s);
    size_t n = (size_t)ASN1_STRING_length(s);
    const unsigned char *at;
    size_t local;

    if (n > MAX_ADDR || (at = memchr(p, '@', n)) == NULL)
        return false;
    local = (size_t)(at - p);
    if (local > MAX_LOCAL_PART)
        return false;
    if (!dot_atom(p, local, "!#$%&'*+-/=?^_`{|}~"))
        return false;
    if (!dot_atom(at + 1, n - local - 1, "-"))
        return false;
    return memchr(at + 1, '.', n - local - 1) != NULL;
}

static const char *
r_san_present(const lint_in *in)
{
    GENERAL_NAMES *gens;
    const char *why = "subjectAltName holds no rfc822Name";
    int crit;

    gens = X509_get_ext_d2i(in->x, NID_subject_alt_name, &crit, NULL);
    if (gens == NULL)
        return crit == -1 ? "subjectAltName is absent"
                          : "subjectAltName cannot be decoded";
    for (int i = 0; i < sk_GENERAL_NAME_num(gens); i++)
        if (sk_GENERAL_NAME_value(gens, i)->type == GEN_EMAIL)
            why = NULL;
    GENERAL_NAMES_free(gens);
    return why;
}

static const char *
r_san_rfc822_only(const lint_in *in)
{
    GENERAL_NAMES *gens;
    const char *why = NULL;

    gens = X509_get_ext_d2i(in->x, NID_subject_alt_name, NULL, NULL);
    for (int i = 0; i < sk_GENERAL_NAME_num(gens); i++)
        if (sk_GENERAL_NAME_value(gens, i)->type != GEN_EMAIL)
            why = "subjectAltName holds a name other than rfc822Name";
    GENERAL_NAMES_free(gens);
    return why;
}

static const char *
r_san_addr_spec(const lint_in *in)
{
    GENERAL_NAMES *gens;
    const char *why = NULL;

    gens = X509_get_ext_d2i(in->x, NID_subject_alt_name, NULL, NULL);
    for (int i = 0; i < sk_GENERAL_NAME_num(gens); i++) {
        const GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, i);

        if (g->type == GEN_EMAIL && !plausible_addr(g->d.rfc822Name))
            why = "an rfc822Name is not a plausible ASCII addr-spec";
    }
    GENERAL_NAMES_free(gens);
    return why;
}

static const char *
r_san_critical_empty_subject(const lint_in *in)
{
    int at = X509_get_ext_by_NID(in->x, NID_subject_alt_name, -1);

    if (at < 0 || X509_NAME_entry_count(X509_get_subject_name(in->x)) > 0)
        return NULL;
    if (!X509_EXTENSION_get_critical(X509_get_ext(in->x, at)))
        return "subjectAltName must be critical when the subject is empty";
    return NULL;
}

/* ---- certificatePolicies ---- */

/* 1..4 when obj is one of our level OIDs, else 0. */
static int
our_level(const ASN1_OBJECT *obj)
{
    static const char *const oids[] = {
        MS_OID_ARC ".1.1",
        MS_OID_ARC ".1.2",
        MS_OID_ARC ".1.3",
        MS_OID_ARC ".1.4",
    };
    char txt[128];
    int n = OBJ_obj2txt(txt, (int)sizeof(txt), obj, 1);

    if (n <= 0 || (size_t)n >= sizeof(txt))
        return 0; /* longer than any of ours */
    for (int i = 0; i < 4; i++)
        if (strcmp(txt, oids[i]) == 0)
            return i + 1;
    return 0;
}

static const char *
r_policy_level(const lint_in *in)
{
    CERTIFICATEPOLICIES *pols;
    const char *why = NULL;
    int found = 0;
    int level = 0;
    int crit;

    pols = X509_get_ext_d2i(in->x, NID_certificate_policies, &crit, NULL);
    if (pols == NULL)
        return crit == -1 ? "certificatePolicies is absent"
                          : "certificatePolicies cannot be decoded";
    for (int i = 0; i < sk_POLICYINFO_num(pols); i++) {
        int l = our_level(sk_POLICYINFO_value(pols, i)->policyid);

        if (l > 0) {
            found++;
            level = l;
        }
    }
    CERTIFICATEPOLICIES_free(pols);
    if (found == 0)
        why = "certificatePolicies holds no mailseal level OID";
    else if (found > 1)
        why = "certificatePolicies holds more than one level OID";
    else if (level != in->level)
        why = "the level OID in certificatePolicies is not the level asked";
    return why;
}

/* ---- subject ---- */

static bool
subject_nid_allowed(int level, int nid)
{
    static const int v1[] = {NID_commonName, NID_pkcs9_emailAddress};
    static const int v2[] = {NID_givenName, NID_surname, NID_pseudonym};
    static const int v3[] = {NID_organizationName, NID_organizationIdentifier,
                             NID_countryName};
    static const int v4[] = {NID_organizationName, NID_organizationIdentifier,
                             NID_countryName,      NID_givenName,
                             NID_surname,          NID_title};

    if (ms_lint_nid_in(nid, v1, sizeof(v1) / sizeof(v1[0])))
        return true;
    if (level == 2)
        return ms_lint_nid_in(nid, v2, sizeof(v2) / sizeof(v2[0]));
    if (level == 3)
        return ms_lint_nid_in(nid, v3, sizeof(v3) / sizeof(v3[0]));
    if (level == 4)
        return ms_lint_nid_in(nid, v4, sizeof(v4) / sizeof(v4[0]));
    return false;
}

static const char *
r_subject_attributes(const lint_in *in)
{
    const X509_NAME *name = X509_get_subject_name(in->x);

    for (int i = 0; i < X509_NAME_entry_count(name); i++) {
        const X509_NAME_ENTRY *e = X509_NAME_get_entry(name, i);

        if (!subject_nid_allowed(in->level,
                                 OBJ_obj2nid(X509_NAME_ENTRY_get_object(e))))
            return "the subject holds an attribute the level does not allow";
    }
    return NULL;
}

/* True when SAN holds an rfc822Name equal (ASCII case-insensitively) to v. */
static bool
in_san(const GENERAL_NAMES *gens, const ASN1_STRING *v)
{
    for (int i = 0; i < sk_GENERAL_NAME_num(gens); i++) {
        const GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, i);

        if (g->type == GEN_EMAIL &&
            ms_ascii_casebytes(
                (const char *)ASN1_STRING_get0_data(g->d.rfc822Name),
                (size_t)ASN1_STRING_length(g->d.rfc822Name),
                (const char *)ASN1_STRING_get0_data(v),
                (size_t)ASN1_STRING_length(v)))
            return true;
    }
    return false;
}

static const char *
r_subject_email_in_san(const lint_in *in)
{
    const X509_NAME *name = X509_get_subject_name(in->x);
    GENERAL_NAMES *gens;
    const char *why = NULL;

    gens = X509_get_ext_d2i(in->x, NID_subject_alt_name, NULL, NULL);
    for (int i = 0; i < X509_NAME_entry_count(name); i++) {
        const X509_NAME_ENTRY *e = X509_NAME_get_entry(name, i);
        int nid = OBJ_obj2nid(X509_NAME_ENTRY_get_object(e));

        if ((nid == NID_pkcs9_emailAddress ||
             (nid == NID_commonName && in->level == 1)) &&
            !in_san(gens, X509_NAME_ENTRY_get_data(e)))
            why = "a subject mailbox (emailAddress, or CN at V1) is not "
                  "in subjectAltName";
    }
    GENERAL_NAMES_free(gens);
    return why;
}

static const char *
r_subject_country(const lint_in *in)
{
    const X509_NAME *name = X509_get_subject_name(in->x);

    for (int i = 0; i < X509_NAME_entry_count(name); i++) {
        const X509_NAME_ENTRY *e = X509_NAME_get_entry(name, i);
        const ASN1_STRING *v = X509_NAME_ENTRY_get_data(e);
        const unsigned char *p = ASN1_STRING_get0_data(v);

        if (OBJ_obj2nid(X509_NAME_ENTRY_get_object(e)) != NID_countryName)
            continue;
        if (ASN1_STRING_length(v) != 2 || p[0] < 'A' || p[0] > 'Z' ||
            p[1] < 'A' || p[1] > 'Z')
            return "countryName is not two upper-case letters";
    }
    return NULL;
}

/* ---- the public key ---- */

static const char *
r_public_key_algorithm(const lint_in *in)
{
    int type = key_type(in);

    /* A key that cannot be decoded is e_public_key_valid's to report. */
    if (type != EVP_PKEY_NONE && type != EVP_PKEY_RSA && type != EVP_PKEY_EC)
        return "the public key is neither RSA nor EC";
    return NULL;
}

static const char *
r_rsa_key_size(const lint_in *in)
{
    int bits;

    if (key_type(in) != EVP_PKEY_RSA)
        return NULL;
    bits = EVP_PKEY_get_bits(X509_get0_pubkey(in->x));
    if (bits < 2048 || bits % 8 != 0)
        return "the RSA modulus is under 2048 bits or not whole octets";
    return NULL;
}

static const char *
r_rsa_exponent(const lint_in *in)
{
    BIGNUM *e = NULL;
    const char *why = NULL;

    if (key_type(in) != EVP_PKEY_RSA)
        return NULL;
    if (!EVP_PKEY_get_bn_param(X509_get0_pubkey(in->x), OSSL_PKEY_PARAM_RSA_E,
                               &e) ||
        !BN_is_word(e, RSA_EXPONENT))
        why = "the RSA public exponent is not 65537";
    BN_free(e);
    return why;
}

static const char *
r_ec_curve(const lint_in *in)
{
    char group[64];
    size_t len;
    int nid;

    if (key_type(in) != EVP_PKEY_EC)
        return NULL;
    if (!EVP_PKEY_get_group_name(X509_get0_pubkey(in->x), group, sizeof(group),
                                 &len))
        return "the EC key is not on a named curve";
    if ((nid = OBJ_txt2nid(group)) == NID_undef)
        nid = EC_curve_nist2nid(group);
    if (nid != NID_X9_62_prime256v1 && nid != NID_secp384r1)
        return "the EC curve is neither P-256 nor P-384";
    return NULL;
}

static const char *
r_public_key_valid(const lint_in *in)
{
    EVP_PKEY *k = X509_get0_pubkey(in->x);
    EVP_PKEY_CTX *pctx;
    const char *why = NULL;

    if (k == NULL)
        return "the public key is missing or cannot be decoded";
    if ((pctx = EVP_PKEY_CTX_new_from_pkey(NULL, k, NULL)) == NULL)
        return "the public key cannot be checked";
    if (EVP_PKEY_public_check(pctx) != 1)
        why = "the public key fails its validity check";
    EVP_PKEY_CTX_free(pctx);
    return why;
}

/* ---- AIA and CRL distribution points ---- */

static bool
http_uri(const GENERAL_NAME *g)
{
    const unsigned char *p;
    int n;

    if (g->type != GEN_URI)
        return false;
    p = ASN1_STRING_get0_data(g->d.uniformResourceIdentifier);
    n = ASN1_STRING_length(g->d.uniformResourceIdentifier);
    if (n <= 7 || !ms_ascii_casebytes((const char *)p, 7, "http://", 7))
        return false;
    for (int i = 0; i < n; i++)
        if (p[i] <= 0x20 || p[i] >= 0x7f)
            return false;
    return true;
}

static const char *
r_aia_http(const lint_in *in)
{
    AUTHORITY_INFO_ACCESS *aia;
    const char *why = NULL;
    int crit;

    aia = X509_get_ext_d2i(in->x, NID_info_access, &crit, NULL);
    if (crit == -1)
        return NULL; /* the CA adds it from config when configured */
    if (aia == NULL)
        return "authorityInfoAccess cannot be decoded";
    for (int i = 0; i < sk_ACCESS_DESCRIPTION_num(aia); i++) {
        const ACCESS_DESCRIPTION *ad = sk_ACCESS_DESCRIPTION_value(aia, i);
        int m = OBJ_obj2nid(ad->method);

        if ((m != NID_ad_OCSP && m != NID_ad_ca_issuers) ||
            !http_uri(ad->location))
            why = "authorityInfoAccess holds other than OCSP or caIssuers "
                  "http URLs";
    }
    AUTHORITY_INFO_ACCESS_free(aia);
    return why;
}

static const char *
r_crl_dp_http(const lint_in *in)
{
    CRL_DIST_POINTS *dps;
    const char *why = NULL;
    int crit;

    dps = X509_get_ext_d2i(in->x, NID_crl_distribution_points, &crit, NULL);
    if (crit == -1)
        return NULL;
    if (dps == NULL)
        return "cRLDistributionPoints cannot be decoded";
    for (int i = 0; i < sk_DIST_POINT_num(dps); i++) {
        const DIST_POINT *dp = sk_DIST_POINT_value(dps, i);

        if (dp->distpoint == NULL || dp->distpoint->type != 0 ||
            dp->reasons != NULL || dp->CRLissuer != NULL) {
            why = "a distribution point is not a plain fullName";
            continue;
        }
        for (int j = 0; j < sk_GENERAL_NAME_num(dp->distpoint->name.fullname);
             j++)
            if (!http_uri(
                    sk_GENERAL_NAME_value(dp->distpoint->name.fullname, j)))
                why = "cRLDistributionPoints holds other than http URLs";
    }
    CRL_DIST_POINTS_free(dps);
    return why;
}

/* In order: the first failing rule is the one reported. */
static const rule rules[] = {
    {"e_version_3", r_version},
    {"e_serial_positive", r_serial_positive},
    {"e_serial_length", r_serial_length},
    {"e_validity_order", r_validity_order},
    {"e_validity_max_825_days", r_validity_max},
    {"e_validity_current", r_validity_current},
    {"e_extension_duplicate", r_extension_duplicate},
    {"e_extension_must_not_be_critical", r_must_not_be_critical},
    {"e_critical_extension_unknown", r_critical_unknown},
    {"e_basic_constraints_not_ca", r_basic_constraints},
    {"e_key_usage_present_critical", r_key_usage_present},
    {"e_key_usage_signing", r_key_usage_signing},
    {"e_key_usage_encryption", r_key_usage_encryption},
    {"e_eku_only_email_protection", r_eku_only_email_protection},
    {"e_san_rfc822_present", r_san_present},
    {"e_san_rfc822_only", r_san_rfc822_only},
    {"e_san_addr_spec", r_san_addr_spec},
    {"e_san_critical_empty_subject", r_san_critical_empty_subject},
    {"e_policy_level", r_policy_level},
    {"e_subject_attribute_allowed", r_subject_attributes},
    {"e_subject_email_in_san", r_subject_email_in_san},
    {"e_subject_country", r_subject_country},
    {"e_public_key_valid", r_public_key_valid},
    {"e_public_key_algorithm", r_public_key_algorithm},
    {"e_rsa_key_size", r_rsa_key_size},
    {"e_rsa_exponent_65537", r_rsa_exponent},
    {"e_ec_named_curve", r_ec_curve},
    {"e_aia_http", r_aia_http},
    {"e_crl_dp_http", r_crl_dp_http},
};

/* Records rule id's failure why (NULL: passed) in rep. */
void
ms_lint_report_add(ms_lint_report *rep, const char *id, const char *why)
{
    int n;

    if (why == NULL || rep->count++ > 0)
        return;
    n = snprintf(rep->first, sizeof(rep->first), "%s: %s", id, why);
    /* Ids and texts are ours and short: a cut one is a bug here. */
    MS_ASSERT(n > 0 && (size_t)n < sizeof(rep->first));
}

int
ms_lint_cert(ms_lint_report *rep, X509 *tbs, int level, ms_lint_use use,
             time_t now)
{
    const lint_in in = {tbs, level, use, now};

    MS_ASSERT(rep != NULL && tbs != NULL);
    rep->count = 0;
    rep->first[0] = '\0';
    if (level < 1 || level > 4 ||
        (use != MS_LINT_SIGNING && use != MS_LINT_ENCRYPTION))
        return MS_EINVAL;
    /* Decoding a broken extension queues errors; they are the lint's
     * business, not the caller's. With an empty queue no mark is set and
     * the pop below empties the queue, which is the same thing. */
    (void)ERR_set_mark();
    for (size_t i = 0; i < sizeof(rules) / sizeof(rules[0]); i++)
        ms_lint_report_add(rep, rules[i].id, rules[i].check(&in));
    (void)ERR_pop_to_mark();
    return rep->count == 0 ? 0 : MS_EPOLICY;
}
