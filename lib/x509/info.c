/* x509/info.c - what a certificate says. */
#include <string.h>

#include <openssl/bio.h>
#include <openssl/x509v3.h>

#include "util/alloc.h"
#include "util/str.h"
#include "x509/info.h"

/* Level of one policy OID in dotted form, 0 when it names no level. */
static int
oid_level(const char *oid)
{
    static const struct {
        const char *prefix;
        int level;
    } map[] = {
        {"2.23.140.1.5.1", 1}, {"2.23.140.1.5.4", 2},
        {"2.23.140.1.5.2", 3}, {"2.23.140.1.5.3", 4},
        {MS_OID_ARC ".1.1", 1}, {MS_OID_ARC ".1.2", 2},
        {MS_OID_ARC ".1.3", 3}, {MS_OID_ARC ".1.4", 4},
    };

    for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++) {
        size_t n = strlen(map[i].prefix);

        /* The CA/B arcs have sub-arcs (.1 legacy, .2 multipurpose, .3
         * strict); our own OIDs are exact. */
        if (strncmp(oid, map[i].prefix, n) == 0 &&
            (oid[n] == '\0' || (oid[n] == '.' && map[i].prefix[0] == '2' &&
                                map[i].prefix[1] == '.' &&
                                map[i].prefix[2] == '2' &&
                                map[i].prefix[3] == '3')))
            return map[i].level;
    }
    return 0;
}

static int level_of(X509 *x, bool cab_only);

int
ms_x509_level(X509 *x)
{
    return level_of(x, false);
}

int
ms_x509_level_public(X509 *x)
{
    return level_of(x, true);
}

static int
level_of(X509 *x, bool cab_only)
{
    CERTIFICATEPOLICIES *pols;
    char oid[128];
    int level = 0, l;

    pols = X509_get_ext_d2i(x, NID_certificate_policies, NULL, NULL);
    if (pols == NULL)
        return 0;
    for (int i = 0; i < sk_POLICYINFO_num(pols); i++) {
        POLICYINFO *pi = sk_POLICYINFO_value(pols, i);

        if (OBJ_obj2txt(oid, sizeof(oid), pi->policyid, 1) <= 0 ||
            (size_t)OBJ_obj2txt(NULL, 0, pi->policyid, 1) >= sizeof(oid))
            continue;
        if (cab_only && strncmp(oid, "2.23.140.", 9) != 0)
            continue;
        l = oid_level(oid);
        if (l != 0 && (level == 0 || l < level))
            level = l;
    }
    CERTIFICATEPOLICIES_free(pols);
    return level;
}

static char *
ia5_dup(const ASN1_IA5STRING *s)
{
    const unsigned char *d = ASN1_STRING_get0_data(s);
    int n = ASN1_STRING_length(s);

    if (n <= 0 || memchr(d, '\0', (size_t)n) != NULL)
        return NULL;
    return ms_strndup((const char *)d, (size_t)n);
}

/* The SAN rfc822Name equal (case-insensitively) to addr, or NULL. */
static const ASN1_IA5STRING *
find_email(const GENERAL_NAMES *gens, const char *addr)
{
    size_t alen = strlen(addr);

    for (int i = 0; gens != NULL && i < sk_GENERAL_NAME_num(gens); i++) {
        const GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, i);
        const unsigned char *d;
        int n;

        if (g->type != GEN_EMAIL)
            continue;
        d = ASN1_STRING_get0_data(g->d.rfc822Name);
        n = ASN1_STRING_length(g->d.rfc822Name);
        if (n > 0 && ms_ascii_casebytes((const char *)d, (size_t)n, addr,
                                        alen))
            return g->d.rfc822Name;
    }
    return NULL;
}

bool
ms_x509_has_email(X509 *x, const char *addr)
{
    GENERAL_NAMES *gens;
    bool found;

    /* A predicate: no ms_ allocation, so it cannot fail on memory. */
    gens = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
    found = find_email(gens, addr) != NULL;
    GENERAL_NAMES_free(gens);
    return found;
}

char *
ms_x509_matching_email(X509 *x, const char *addr)
{
    GENERAL_NAMES *gens;
    const ASN1_IA5STRING *s;
    char *found = NULL;

    gens = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
    if ((s = find_email(gens, addr)) != NULL)
        found = ia5_dup(s);
    GENERAL_NAMES_free(gens);
    return found;
}

bool
ms_x509_has_any_email(X509 *x)
{
    GENERAL_NAMES *gens;
    bool found = false;

    gens = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
    for (int i = 0; gens != NULL && i < sk_GENERAL_NAME_num(gens); i++) {
        GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, i);
        int n;

        if (g->type != GEN_EMAIL)
            continue;
        n = ASN1_STRING_length(g->d.rfc822Name);
        if (n > 0 && memchr(ASN1_STRING_get0_data(g->d.rfc822Name), '\0',
                            (size_t)n) == NULL) {
            found = true;
            break;
        }
    }
    GENERAL_NAMES_free(gens);
    return found;
}

char *
ms_x509_first_email(X509 *x)
{
    GENERAL_NAMES *gens;
    char *r = NULL;

    gens = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
    for (int i = 0; gens != NULL && i < sk_GENERAL_NAME_num(gens); i++) {
        GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, i);

        if (g->type == GEN_EMAIL && (r = ia5_dup(g->d.rfc822Name)) != NULL)
            break;
    }
    GENERAL_NAMES_free(gens);
    return r;
}

/* Replaces control characters (and DEL) so text is safe on one line. */
static void
sanitize(char *s)
{
    for (unsigned char *p = (unsigned char *)s; *p != '\0'; p++) {
        if (*p < 0x20 || *p == 0x7f)
            *p = '?';
    }
}

char *
ms_x509_subject_text(X509 *x, int nid)
{
    X509_NAME *n = X509_get_subject_name(x);
    unsigned char *utf8 = NULL;
    char *r = NULL;
    int idx, len;

    if ((idx = X509_NAME_get_index_by_NID(n, nid, -1)) < 0)
        return NULL;
    len = ASN1_STRING_to_UTF8(
        &utf8, X509_NAME_ENTRY_get_data(X509_NAME_get_entry(n, idx)));
    if (len > 0 && memchr(utf8, '\0', (size_t)len) == NULL &&
        (r = ms_strndup((const char *)utf8, (size_t)len)) != NULL)
        sanitize(r);
    OPENSSL_free(utf8);
    return r;
}

char *
ms_x509_serial_hex(X509 *x)
{
    BIGNUM *bn;
    char *hex, *r = NULL;

    if ((bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(x), NULL)) == NULL)
        return NULL;
    if ((hex = BN_bn2hex(bn)) != NULL) {
        r = ms_strdup(hex);
        for (char *p = r; p != NULL && *p != '\0'; p++) {
            if (*p >= 'A' && *p <= 'F')
                *p = (char)(*p + ('a' - 'A'));
        }
        OPENSSL_free(hex);
    }
    BN_free(bn);
    return r;
}

char *
ms_x509_issuer_text(X509 *x)
{
    BIO *b;
    char *data, *r = NULL;
    long n;

    if ((b = BIO_new(BIO_s_mem())) == NULL)
        return NULL;
    if (X509_NAME_print_ex(b, X509_get_issuer_name(x), 0,
                           XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB) >= 0 &&
        (n = BIO_get_mem_data(b, &data)) > 0 &&
        (r = ms_strndup(data, (size_t)n)) != NULL)
        sanitize(r);
    BIO_free(b);
    return r;
}

bool
ms_x509_can_sign_mail(X509 *x, const char **why)
{
    uint32_t ku = X509_get_key_usage(x);
    uint32_t flags = X509_get_extension_flags(x);

    if ((flags & EXFLAG_INVALID) != 0) {
        *why = "the signer certificate has invalid extensions";
        return false;
    }
    if ((flags & EXFLAG_KUSAGE) != 0 &&
        (ku & (KU_DIGITAL_SIGNATURE | KU_NON_REPUDIATION)) == 0) {
        *why = "the signer certificate's key usage does not allow signing";
        return false;
    }
    if ((flags & EXFLAG_XKUSAGE) != 0 &&
        (X509_get_extended_key_usage(x) & XKU_SMIME) == 0) {
        *why = "the signer certificate is not for email (no emailProtection "
               "EKU)";
        return false;
    }
    return true;
}

bool
ms_asn1_time_epoch(const ASN1_TIME *t, time_t *out)
{
    ASN1_TIME *epoch;
    int day = 0, sec = 0;
    bool ok;

    if (t == NULL || (epoch = ASN1_TIME_set(NULL, 0)) == NULL)
        return false;
    ok = ASN1_TIME_diff(&day, &sec, epoch, t) == 1;
    ASN1_TIME_free(epoch);
    if (ok)
        *out = (time_t)day * 86400 + sec;
    return ok;
}
