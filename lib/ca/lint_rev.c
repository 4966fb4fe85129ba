/*
 * ca/lint_rev.c - the revocation linters (declared in ca/lint.h): CRLs
 * before the CA signs them and OCSP responses before the responder lets
 * them out. Same shape as lint.c: a table of rules, one small function
 * each, returning NULL when the object passes or a static text saying why
 * not. Kept apart from the certificate linter only for file size.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/ocsp.h>
#include <openssl/x509v3.h>

#include "ca/lint.h"
#include "ca/lint_int.h"
#include "util/error.h"
#include "x509/info.h"

#define SERIAL_MAX_OCTETS 20 /* RFC 5280 4.1.2.2, 5.2.3 */
#define REASON_NONE       (-1)

/* ---- CRLs ---- */

typedef struct crl_in {
    X509_CRL *crl;
    X509 *issuer;
} crl_in;

typedef const char *(*crl_rule_fn)(const crl_in *in);

typedef struct crl_rule {
    const char *id;
    crl_rule_fn check;
} crl_rule;

/* True when s is a positive INTEGER of at most 20 DER content octets. */
static bool
serial_ok(const ASN1_INTEGER *s)
{
    const unsigned char *p = ASN1_STRING_get0_data(s);
    int n = ASN1_STRING_length(s);
    bool nonzero = false;

    if (ASN1_STRING_type(s) != V_ASN1_INTEGER)
        return false;
    for (int i = 0; i < n; i++)
        nonzero = nonzero || p[i] != 0;
    if (n > 0 && (p[0] & 0x80) != 0)
        n++;
    return nonzero && n <= SERIAL_MAX_OCTETS;
}

/* The issuer's key identifier: its SKID, else SHA-1 of its public key. */
static bool
issuer_keyid(X509 *issuer, unsigned char *md, unsigned int *len)
{
    const ASN1_OCTET_STRING *ski = X509_get0_subject_key_id(issuer);

    if (ski != NULL) {
        if (ASN1_STRING_length(ski) > EVP_MAX_MD_SIZE)
            return false;
        *len = (unsigned int)ASN1_STRING_length(ski);
        memcpy(md, ASN1_STRING_get0_data(ski), *len);
        return true;
    }
    return X509_pubkey_digest(issuer, EVP_sha1(), md, len) == 1;
}

static const char *
c_version(const crl_in *in)
{
    if (X509_CRL_get_version(in->crl) != X509_CRL_VERSION_2)
        return "the CRL is not version 2";
    return NULL;
}

static const char *
c_issuer_name(const crl_in *in)
{
    if (X509_NAME_cmp(X509_CRL_get_issuer(in->crl),
                      X509_get_subject_name(in->issuer)) != 0)
        return "the CRL issuer is not the CA's subject";
    return NULL;
}

static const char *
c_aki(const crl_in *in)
{
    AUTHORITY_KEYID *akid;
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    const char *why = NULL;
    int crit;

    akid = X509_CRL_get_ext_d2i(in->crl, NID_authority_key_identifier, &crit,
                                NULL);
    if (akid == NULL)
        return crit == -1 ? "authorityKeyIdentifier is absent"
                          : "authorityKeyIdentifier cannot be decoded";
    if (crit == 1)
        why = "authorityKeyIdentifier is critical";
    else if (akid->keyid == NULL)
        why = "authorityKeyIdentifier has no keyIdentifier";
    else if (!issuer_keyid(in->issuer, md, &len) ||
             (unsigned int)ASN1_STRING_length(akid->keyid) != len ||
             memcmp(ASN1_STRING_get0_data(akid->keyid), md, len) != 0)
        why = "authorityKeyIdentifier does not name the CA's key";
    AUTHORITY_KEYID_free(akid);
    return why;
}

static const char *
c_number(const crl_in *in)
{
    ASN1_INTEGER *num;
    const char *why = NULL;
    int crit;

    num = X509_CRL_get_ext_d2i(in->crl, NID_crl_number, &crit, NULL);
    if (num == NULL)
        return crit == -1 ? "cRLNumber is absent"
                          : "cRLNumber cannot be decoded";
    if (crit == 1)
        why = "cRLNumber is critical";
    else if (!serial_ok(num))
        why = "cRLNumber is not a positive integer of at most 20 octets";
    ASN1_INTEGER_free(num);
    return why;
}

static const char *
c_next_update(const crl_in *in)
{
    const ASN1_TIME *next = X509_CRL_get0_nextUpdate(in->crl);
    time_t t0;
    time_t t1;

    if (next == NULL)
        return "nextUpdate is absent";
    if (!ms_asn1_time_epoch(X509_CRL_get0_lastUpdate(in->crl), &t0) ||
        !ms_asn1_time_epoch(next, &t1))
        return "thisUpdate or nextUpdate cannot be read";
    if (t1 <= t0)
        return "nextUpdate is not after thisUpdate";
    if (t1 - t0 > MS_LINT_REVOCATION_MAX_VALIDITY)
        return "nextUpdate is more than 10 days after thisUpdate";
    return NULL;
}

static const char *
c_extensions(const crl_in *in)
{
    static const int known[] = {NID_issuing_distribution_point,
                                NID_delta_crl};
    int n = X509_CRL_get_ext_count(in->crl);

    for (int i = 0; i < n; i++) {
        X509_EXTENSION *e = X509_CRL_get_ext(in->crl, i);
        const ASN1_OBJECT *a = X509_EXTENSION_get_object(e);

        if (X509_EXTENSION_get_critical(e) &&
            !ms_lint_nid_in(OBJ_obj2nid(a), known,
                            sizeof(known) / sizeof(known[0])))
            return "a critical CRL extension is not one the profile knows";
        for (int j = i + 1; j < n; j++)
            if (OBJ_cmp(a, X509_EXTENSION_get_object(
                               X509_CRL_get_ext(in->crl, j))) == 0)
                return "a CRL extension appears more than once";
    }
    return NULL;
}

static const char *
entry_reason(X509_REVOKED *rev)
{
    ASN1_ENUMERATED *e;
    const char *why = NULL;
    int crit;
    long v;

    e = X509_REVOKED_get_ext_d2i(rev, NID_crl_reason, &crit, NULL);
    if (e == NULL)
        return crit == -1 ? NULL : "a reasonCode cannot be decoded";
    v = ASN1_ENUMERATED_get(e);
    if (crit == 1)
        why = "a reasonCode is critical";
    else if (v < 0 || v > 10 || v == 7 || v == 8)
        why = "a reasonCode is not a valid CRLReason (0..10 but 7, 8)";
    else if (v == 0)
        why = "a reasonCode says unspecified (omit it instead)";
    ASN1_ENUMERATED_free(e);
    return why;
}

static const char *
entry_check(X509_REVOKED *rev, time_t this_update)
{
    time_t at;

    if (!serial_ok(X509_REVOKED_get0_serialNumber(rev)))
        return "an entry's serial is not positive or over 20 octets";
    if (!ms_asn1_time_epoch(X509_REVOKED_get0_revocationDate(rev), &at))
        return "an entry's revocationDate cannot be read";
    if (at > this_update)
        return "an entry's revocationDate is after thisUpdate";
    for (int j = 0; j < X509_REVOKED_get_ext_count(rev); j++) {
        X509_EXTENSION *e = X509_REVOKED_get_ext(rev, j);

        if (X509_EXTENSION_get_critical(e) &&
            OBJ_obj2nid(X509_EXTENSION_get_object(e)) !=
                NID_certificate_issuer)
            return "a critical CRL entry extension is not allowed";
    }
    return entry_reason(rev);
}

static const char *
c_entries(const crl_in *in)
{
    STACK_OF(X509_REVOKED) *revs = X509_CRL_get_REVOKED(in->crl);
    time_t this_update;

    if (!ms_asn1_time_epoch(X509_CRL_get0_lastUpdate(in->crl), &this_update))
        return "thisUpdate cannot be read";
    for (int i = 0; i < sk_X509_REVOKED_num(revs); i++) {
        X509_REVOKED *rev = sk_X509_REVOKED_value(revs, i);
        const char *why = entry_check(rev, this_update);

        if (why != NULL)
            return why;
        if (i > 0 &&
            ASN1_INTEGER_cmp(X509_REVOKED_get0_serialNumber(
                                 sk_X509_REVOKED_value(revs, i - 1)),
                             X509_REVOKED_get0_serialNumber(rev)) >= 0)
            return "entries are not in strictly increasing serial order "
                   "(a duplicate?)";
    }
    return NULL;
}

static const crl_rule crl_rules[] = {
    {"e_crl_version_2", c_version},
    {"e_crl_issuer_name", c_issuer_name},
    {"e_crl_aki", c_aki},
    {"e_crl_number", c_number},
    {"e_crl_next_update", c_next_update},
    {"e_crl_extensions", c_extensions},
    {"e_crl_entries", c_entries},
};

int
ms_lint_crl(ms_lint_report *rep, X509_CRL *tbs, X509 *issuer)
{
    const crl_in in = {tbs, issuer};

    MS_ASSERT(rep != NULL && tbs != NULL && issuer != NULL);
    rep->count = 0;
    rep->first[0] = '\0';
    (void)ERR_set_mark(); /* as in ms_lint_cert() */
    for (size_t i = 0; i < sizeof(crl_rules) / sizeof(crl_rules[0]); i++)
        ms_lint_report_add(rep, crl_rules[i].id, crl_rules[i].check(&in));
    (void)ERR_pop_to_mark();
    return rep->count == 0 ? 0 : MS_EPOLICY;
}

/* ---- OCSP responses ---- */

typedef struct ocsp_in {
    const ms_lint_ocsp_in *in;
    OCSP_BASICRESP *bs; /* NULL when the response holds none */
} ocsp_in;

typedef const char *(*ocsp_rule_fn)(const ocsp_in *o);

typedef struct ocsp_rule {
    const char *id;
    ocsp_rule_fn check;
} ocsp_rule;

static const char *
o_status(const ocsp_in *o)
{
    if (OCSP_response_status(o->in->resp) != OCSP_RESPONSE_STATUS_SUCCESSFUL)
        return "the response status is not successful";
    if (o->bs == NULL)
        return "the response holds no BasicOCSPResponse";
    return NULL;
}

static const char *
o_responder_id(const ocsp_in *o)
{
    const ASN1_OCTET_STRING *keyid = NULL;
    const X509_NAME *name = NULL;
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;

    if (o->bs == NULL)
        return NULL;
    if (OCSP_resp_get0_id(o->bs, &keyid, &name) != 1 || keyid == NULL)
        return "the ResponderID is not byKey";
    if (X509_pubkey_digest(o->in->signer, EVP_sha1(), md, &len) != 1 ||
        (unsigned int)ASN1_STRING_length(keyid) != len ||
        memcmp(ASN1_STRING_get0_data(keyid), md, len) != 0)
        return "the ResponderID is not the signer's key hash";
    return NULL;
}

static const char *
o_signer(const ocsp_in *o)
{
    const STACK_OF(X509) *certs;
    uint32_t flags = X509_get_extension_flags(o->in->signer);

    if ((flags & EXFLAG_XKUSAGE) == 0 ||
        (X509_get_extended_key_usage(o->in->signer) & XKU_OCSP_SIGN) == 0)
        return "the signer's extKeyUsage lacks OCSPSigning";
    if (o->bs == NULL)
        return NULL;
    certs = OCSP_resp_get0_certs(o->bs);
    for (int i = 0; i < sk_X509_num(certs); i++)
        if (X509_cmp(sk_X509_value(certs, i), o->in->signer) == 0)
            return NULL;
    return "the response does not include the signer certificate";
}

static const char *
o_signature_algorithm(const ocsp_in *o)
{
    static const int allowed[] = {
        NID_sha256WithRSAEncryption, NID_sha384WithRSAEncryption,
        NID_sha512WithRSAEncryption, NID_ecdsa_with_SHA256,
        NID_ecdsa_with_SHA384,       NID_ecdsa_with_SHA512,
    };
    const ASN1_OBJECT *obj = NULL;

    if (o->bs == NULL)
        return NULL;
    X509_ALGOR_get0(&obj, NULL, NULL, OCSP_resp_get0_tbs_sigalg(o->bs));
    if (!ms_lint_nid_in(OBJ_obj2nid(obj), allowed,
                        sizeof(allowed) / sizeof(allowed[0])))
        return "the signature algorithm is not RSA or ECDSA with SHA-2";
    return NULL;
}

/* Checks the times of one SingleResponse against o. */
static const char *
single_times(const ocsp_in *o, OCSP_SINGLERESP *single)
{
    ASN1_GENERALIZEDTIME *thisupd = NULL;
    ASN1_GENERALIZEDTIME *nextupd = NULL;
    long max = o->in->max_validity;
    time_t t0;
    time_t t1;

    (void)OCSP_single_get0_status(single, NULL, NULL, &thisupd, &nextupd);
    if (nextupd == NULL)
        return "a SingleResponse has no nextUpdate";
    if (!ms_asn1_time_epoch(thisupd, &t0) || !ms_asn1_time_epoch(nextupd, &t1))
        return "thisUpdate or nextUpdate cannot be read";
    if (t0 > o->in->now)
        return "thisUpdate is in the future";
    if (t1 <= t0)
        return "nextUpdate is not after thisUpdate";
    if (max > MS_LINT_REVOCATION_MAX_VALIDITY)
        max = MS_LINT_REVOCATION_MAX_VALIDITY;
    if (t1 - t0 > max)
        return "nextUpdate - thisUpdate is over the configured maximum "
               "or 10 days";
    return NULL;
}

/* Checks the status of one SingleResponse against want. */
static const char *
single_status(OCSP_SINGLERESP *single, const ms_lint_ocsp_expect *want)
{
    ASN1_GENERALIZEDTIME *rev = NULL;
    int reason = REASON_NONE;
    int status;
    time_t at;

    status = OCSP_single_get0_status(single, &reason, &rev, NULL, NULL);
    if (status != want->status)
        return "a certStatus is not the store's";
    if (status != V_OCSP_CERTSTATUS_REVOKED)
        return NULL;
    if (!ms_asn1_time_epoch(rev, &at) || at != want->revoked_at)
        return "a revocationTime is not the store's";
    if (reason != want->reason)
        return "a revocationReason is not the store's";
    return NULL;
}

static const char *
o_singles(const ocsp_in *o)
{
    if (o->bs == NULL)
        return NULL;
    if (OCSP_resp_count(o->bs) < 1 ||
        (size_t)OCSP_resp_count(o->bs) != o->in->n_expect)
        return "the number of SingleResponses is not the number asked";
    for (size_t i = 0; i < o->in->n_expect; i++) {
        OCSP_SINGLERESP *single = OCSP_resp_get0(o->bs, (int)i);
        const char *why = single_times(o, single);

        if (why == NULL)
            why = single_status(single, &o->in->expect[i]);
        if (why == NULL && OCSP_SINGLERESP_get_ext_count(single) > 0)
            why = "a SingleResponse carries extensions";
        if (why != NULL)
            return why;
    }
    return NULL;
}

static const char *
o_extensions(const ocsp_in *o)
{
    if (o->bs == NULL)
        return NULL;
    for (int i = 0; i < OCSP_BASICRESP_get_ext_count(o->bs); i++) {
        X509_EXTENSION *e = OCSP_BASICRESP_get_ext(o->bs, i);

        if (OBJ_obj2nid(X509_EXTENSION_get_object(e)) != NID_id_pkix_OCSP_Nonce)
            return "a response extension other than the nonce";
        if (X509_EXTENSION_get_critical(e))
            return "the nonce extension is critical";
    }
    return NULL;
}

static const ocsp_rule ocsp_rules[] = {
    {"e_ocsp_status_successful", o_status},
    {"e_ocsp_responder_id_by_key", o_responder_id},
    {"e_ocsp_signer", o_signer},
    {"e_ocsp_signature_algorithm", o_signature_algorithm},
    {"e_ocsp_single_responses", o_singles},
    {"e_ocsp_extensions", o_extensions},
};

int
ms_lint_ocsp_response(ms_lint_report *rep, const ms_lint_ocsp_in *in)
{
    ocsp_in o = {in, NULL};

    MS_ASSERT(rep != NULL && in != NULL && in->resp != NULL);
    MS_ASSERT(in->signer != NULL && (in->expect != NULL || in->n_expect == 0));
    rep->count = 0;
    rep->first[0] = '\0';
    (void)ERR_set_mark(); /* as in ms_lint_cert() */
    o.bs = OCSP_response_get1_basic(in->resp);
    for (size_t i = 0; i < sizeof(ocsp_rules) / sizeof(ocsp_rules[0]); i++)
        ms_lint_report_add(rep, ocsp_rules[i].id, ocsp_rules[i].check(&o));
    OCSP_BASICRESP_free(o.bs);
    (void)ERR_pop_to_mark();
    return rep->count == 0 ? 0 : MS_EPOLICY;
}
