/* policy/judge.c - judging each SignerInfo of a SignedData. */
#include <stdarg.h>
#include <string.h>

#include <openssl/cms.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>

#include <mailseal/smime.h>

#include "cms/certs.h"
#include "cms/cms.h"
#include "cms/tsp.h"
#include "ctx.h"
#include "policy/judge.h"
#include "util/error.h"
#include "x509/info.h"
#include "x509/revocation.h"

#define MS_FUTURE_SKEW 300

typedef struct judge {
    const ms_judge_in *in;
    ms_ctx *ctx;
    CMS_ContentInfo *cms;
    BIO *cmsbio;
    STACK_OF(X509) *untrusted;
    ms_result *r;
} judge;

/* Records verdict v when it is worse than the current one. */
static void
apply(ms_signer_eval *ev, ms_verdict v, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
apply(ms_signer_eval *ev, ms_verdict v, const char *fmt, ...)
{
    va_list ap;

    if (v <= ev->verdict && !(v == ev->verdict && ev->reason[0] == '\0'))
        return;
    ev->verdict = v;
    va_start(ap, fmt);
    (void)vsnprintf(ev->reason, sizeof(ev->reason), fmt, ap);
    va_end(ap);
}

void
ms_signer_eval_cleanup(ms_signer_eval *ev)
{
    X509_free(ev->cert);
    ev->cert = NULL;
}

static void
fmt_time(char *out, size_t n, time_t t)
{
    if (ms_time_format(out, n, t) != 0)
        (void)snprintf(out, n, "an unreadable time");
}

static bool
strong_md(int nid)
{
    return nid == NID_sha256 || nid == NID_sha384 || nid == NID_sha512 ||
           nid == NID_sha3_256 || nid == NID_sha3_384 || nid == NID_sha3_512;
}

static void
check_algorithms(ms_signer_eval *ev, CMS_SignerInfo *si)
{
    X509_ALGOR *dig = NULL, *sig = NULL;
    EVP_PKEY *pk = NULL;
    int mdnid = NID_undef, pknid = NID_undef;

    CMS_SignerInfo_get0_algs(si, &pk, NULL, &dig, &sig);
    if (dig == NULL || !strong_md(OBJ_obj2nid(dig->algorithm)))
        apply(ev, MS_VERDICT_INVALID,
              "the signature uses a weak or unknown digest (SHA-1/MD5 are "
              "refused)");
    if (sig != NULL &&
        OBJ_find_sigid_algs(OBJ_obj2nid(sig->algorithm), &mdnid, &pknid) &&
        mdnid != NID_undef && !strong_md(mdnid))
        apply(ev, MS_VERDICT_INVALID,
              "the signature algorithm uses a weak digest");
    if (pk != NULL && EVP_PKEY_is_a(pk, "RSA") && EVP_PKEY_get_bits(pk) < 2048)
        apply(ev, MS_VERDICT_INVALID, "the signer's RSA key is under 2048 bits");
}

static void
check_signature(ms_signer_eval *ev, judge *j, CMS_SignerInfo *si)
{
    int idx;

    if (CMS_signed_get_attr_count(si) > 0) {
        if (CMS_SignerInfo_verify(si) != 1) {
            apply(ev, MS_VERDICT_INVALID, "the signature does not verify");
            goto out;
        }
        idx = CMS_signed_get_attr_by_NID(si, NID_pkcs9_contentType, -1);
        if (idx >= 0) {
            ASN1_OBJECT *ct = CMS_signed_get0_data_by_OBJ(
                si, OBJ_nid2obj(NID_pkcs9_contentType), -3, V_ASN1_OBJECT);

            if (ct == NULL || OBJ_obj2nid(ct) != NID_pkcs7_data)
                apply(ev, MS_VERDICT_INVALID,
                      "the signed content type is not id-data");
        }
    }
    if (CMS_SignerInfo_verify_content(si, j->cmsbio) != 1)
        apply(ev, MS_VERDICT_INVALID,
              "the message was altered after it was signed (digest "
              "mismatch)");
out:
    ERR_clear_error();
}

/* What the signer says it can decrypt (SMIMECapabilities), MS_CAP_*. */
static unsigned
signer_caps(CMS_SignerInfo *si)
{
    int idx = CMS_signed_get_attr_by_NID(si, NID_SMIMECapabilities, -1);
    X509_ATTRIBUTE *a;
    ASN1_TYPE *t;
    X509_ALGORS *algs = NULL;
    const unsigned char *p;
    unsigned caps = 0;

    if (idx < 0 || (a = CMS_signed_get_attr(si, idx)) == NULL ||
        (t = X509_ATTRIBUTE_get0_type(a, 0)) == NULL ||
        t->type != V_ASN1_SEQUENCE)
        return 0;
    p = ASN1_STRING_get0_data(t->value.sequence);
    algs = d2i_X509_ALGORS(NULL, &p, ASN1_STRING_length(t->value.sequence));
    for (int i = 0; algs != NULL && i < sk_X509_ALGOR_num(algs); i++) {
        int nid = OBJ_obj2nid(sk_X509_ALGOR_value(algs, i)->algorithm);

        if (nid == NID_aes_256_gcm || nid == NID_aes_128_gcm)
            caps |= MS_CAP_GCM;
        else if (nid == NID_rsaesOaep)
            caps |= MS_CAP_OAEP;
    }
    sk_X509_ALGOR_pop_free(algs, X509_ALGOR_free);
    ERR_clear_error();
    return caps;
}

static void
check_signing_time(ms_signer_eval *ev, judge *j, CMS_SignerInfo *si)
{
    int idx = CMS_signed_get_attr_by_NID(si, NID_pkcs9_signingTime, -1);
    X509_ATTRIBUTE *a;
    ASN1_TYPE *t;

    if (idx < 0 || (a = CMS_signed_get_attr(si, idx)) == NULL ||
        (t = X509_ATTRIBUTE_get0_type(a, 0)) == NULL)
        return;
    if ((t->type != V_ASN1_UTCTIME && t->type != V_ASN1_GENERALIZEDTIME) ||
        !ms_asn1_time_epoch((ASN1_TIME *)t->value.asn1_string,
                            &ev->signing_time)) {
        apply(ev, MS_VERDICT_INVALID, "the signingTime is unreadable");
        return;
    }
    ev->has_signing_time = true;
    if (ev->signing_time > j->in->now + MS_FUTURE_SKEW)
        apply(ev, MS_VERDICT_INVALID,
              "the signingTime lies more than 5 minutes in the future");
}

static void
check_timestamps(ms_signer_eval *ev, judge *j, CMS_SignerInfo *si)
{
    ASN1_OBJECT *obj = OBJ_txt2obj(MS_OID_TST, 1);
    ASN1_OCTET_STRING *sig = CMS_SignerInfo_get0_signature(si);
    int idx = -1;

    while (obj != NULL &&
           (idx = CMS_unsigned_get_attr_by_OBJ(si, obj, idx)) >= 0) {
        X509_ATTRIBUTE *a = CMS_unsigned_get_attr(si, idx);

        for (int k = 0; k < X509_ATTRIBUTE_count(a); k++) {
            ASN1_TYPE *t = X509_ATTRIBUTE_get0_type(a, k);
            ms_tsp_check chk;

            if (t == NULL || t->type != V_ASN1_SEQUENCE)
                continue;
            ev->has_ts = true;
            ms_tsp_verify(&chk, j->ctx,
                          ASN1_STRING_get0_data(t->value.sequence),
                          (size_t)ASN1_STRING_length(t->value.sequence),
                          ASN1_STRING_get0_data(sig),
                          (size_t)ASN1_STRING_length(sig),
                          j->in->v->tsa_anchors, j->in->now);
            if (chk.valid && chk.time > j->in->now + MS_FUTURE_SKEW) {
                chk.valid = false;
                (void)snprintf(chk.reason, sizeof(chk.reason),
                               "the timestamp lies in the future");
            }
            if (chk.valid && !ev->ts_valid) {
                ev->ts_valid = true;
                ev->ts_time = chk.time;
            } else if (!chk.valid) {
                if (!ev->ts_valid && chk.has_time)
                    ev->ts_time = chk.time;
                (void)ms_result_warn(j->r, "timestamp token ignored: %s",
                                     chk.reason);
            }
        }
    }
    ASN1_OBJECT_free(obj);
    ERR_clear_error();
}

static bool
is_user_anchor(const ms_verifier *v, X509 *x)
{
    for (int i = 0; i < sk_X509_num(v->anchors); i++) {
        if (X509_cmp(sk_X509_value(v->anchors, i), x) == 0)
            return true;
    }
    return false;
}

/* Builds the chain; returns it (caller frees) or NULL when untrusted. */
static STACK_OF(X509) *
build_chain(ms_signer_eval *ev, judge *j, X509 *cert)
{
    X509_STORE_CTX *sctx = NULL;
    STACK_OF(X509) *chain = NULL;
    X509_VERIFY_PARAM *param;

    if ((sctx = X509_STORE_CTX_new_ex(j->ctx->libctx, j->ctx->propq)) ==
            NULL ||
        X509_STORE_CTX_init(sctx, j->in->v->store, cert, j->untrusted) != 1) {
        apply(ev, MS_VERDICT_ERROR, "cannot set up chain building");
        goto out;
    }
    param = X509_STORE_CTX_get0_param(sctx);
    /* Time is judged separately (expired vs untrusted). */
    X509_VERIFY_PARAM_set_flags(param, X509_V_FLAG_NO_CHECK_TIME |
                                           X509_V_FLAG_PARTIAL_CHAIN);
    if (X509_STORE_CTX_set_purpose(sctx, X509_PURPOSE_SMIME_SIGN) != 1 ||
        X509_verify_cert(sctx) != 1) {
        apply(ev, MS_VERDICT_UNTRUSTED,
              "the certificate does not chain to a trusted authority (%s)",
              X509_verify_cert_error_string(
                  X509_STORE_CTX_get_error(sctx)));
        goto out;
    }
    chain = X509_STORE_CTX_get1_chain(sctx);
    if (chain == NULL)
        apply(ev, MS_VERDICT_ERROR, "out of memory");
    else
        ev->public = !is_user_anchor(j->in->v,
                                     sk_X509_value(chain,
                                                   sk_X509_num(chain) - 1));
out:
    X509_STORE_CTX_free(sctx);
    ERR_clear_error();
    return chain;
}

static const char *
reason_text(int reason)
{
    static const char *const names[] = {
        "unspecified", "key compromise", "CA compromise",
        "affiliation changed", "superseded", "cessation of operation",
        "certificate hold", "(unused)", "remove from CRL",
        "privilege withdrawn", "AA compromise"};

    if (reason < 0 || reason > 10)
        return "no reason given";
    return names[reason];
}

static void
check_revocation(ms_signer_eval *ev, judge *j, STACK_OF(X509) *chain,
                 time_t signed_at)
{
    bool any_unknown = false, any_revoked = false, leaf_good = false;
    char when[32];

    for (int i = 0; i + 1 < sk_X509_num(chain); i++) {
        X509 *c = sk_X509_value(chain, i), *issuer = sk_X509_value(chain, i + 1);
        ms_rev_answer a;

        memset(&a, 0, sizeof(a));
        a.reason = -1;
        ms_rev_check_crl(&a, c, issuer, j->in->v->crls, j->in->now);
        if (a.status != MS_REV_GOOD && a.status != MS_REV_REVOKED &&
            !j->in->v->offline)
            ms_rev_check_ocsp(&a, j->ctx, c, issuer, j->in->v->store,
                              j->in->now);
        fmt_time(when, sizeof(when), a.revoked_at);
        if (a.status == MS_REV_REVOKED) {
            any_revoked = true;
            if (a.reason == MS_REASON_KEY_COMPROMISE ||
                a.revoked_at <= signed_at)
                apply(ev, MS_VERDICT_REVOKED, "%swas revoked on %s (%s)",
                      i == 0 ? "" : "chains to a CA that ", when,
                      reason_text(a.reason));
            else
                (void)ms_result_warn(j->r, "the %s was revoked on %s (%s), "
                                     "after the timestamped signing time",
                                     i == 0 ? "certificate" : "issuing CA",
                                     when, reason_text(a.reason));
        } else if (a.status == MS_REV_UNKNOWN) {
            any_unknown = true;
            apply(ev, MS_VERDICT_REVOCATION_UNKNOWN,
                  "its revocation status could not be checked: %s", a.why);
        } else if (a.status == MS_REV_GOOD && i == 0) {
            leaf_good = true;
        }
    }
    ev->rev = any_revoked   ? MS_REV_REVOKED
              : any_unknown ? MS_REV_UNKNOWN
              : leaf_good   ? MS_REV_GOOD
                            : MS_REV_NOT_CHECKED;
}

static void
check_validity(ms_signer_eval *ev, STACK_OF(X509) *chain, time_t at)
{
    char when[32];

    for (int i = 0; i < sk_X509_num(chain); i++) {
        X509 *c = sk_X509_value(chain, i);
        time_t nb, na;

        if (!ms_asn1_time_epoch(X509_get0_notBefore(c), &nb) ||
            !ms_asn1_time_epoch(X509_get0_notAfter(c), &na)) {
            apply(ev, MS_VERDICT_EXPIRED, "has an unreadable validity");
            continue;
        }
        if (at > na) {
            fmt_time(when, sizeof(when), na);
            apply(ev, MS_VERDICT_EXPIRED, "%sexpired on %s",
                  i == 0 ? "" : "(its issuing CA) ", when);
        } else if (at < nb) {
            fmt_time(when, sizeof(when), nb);
            apply(ev, MS_VERDICT_EXPIRED, "%sis not valid before %s",
                  i == 0 ? "" : "(its issuing CA) ", when);
        }
    }
}

static void
judge_one(ms_signer_eval *ev, judge *j, CMS_SignerInfo *si)
{
    X509 *cert = NULL;
    STACK_OF(X509) *chain = NULL;
    const char *why;
    int level;

    memset(ev, 0, sizeof(*ev));
    ev->verdict = MS_VERDICT_VALIDATED;
    CMS_SignerInfo_get0_algs(si, NULL, &cert, NULL, NULL);
    if (cert == NULL || !X509_up_ref(cert)) {
        apply(ev, MS_VERDICT_INVALID,
              "the signer's certificate is not in the message");
        return;
    }
    ev->cert = cert;
    check_algorithms(ev, si);
    check_signature(ev, j, si);
    check_signing_time(ev, j, si);
    ev->caps = signer_caps(si);
    check_timestamps(ev, j, si);
    ev->valid_at = ev->ts_valid ? ev->ts_time : j->in->now;
    ev->used_ts_time = ev->ts_valid;
    if (!ms_x509_can_sign_mail(cert, &why))
        apply(ev, MS_VERDICT_UNTRUSTED, "%s", why);
    if ((chain = build_chain(ev, j, cert)) != NULL) {
        check_revocation(ev, j, chain, ev->valid_at);
        check_validity(ev, chain, ev->valid_at);
    }
    /* The private arc is ours: it counts only under an anchor the caller
     * gave, never under a public root that merely copied the OIDs. */
    level = ev->public ? ms_x509_level_public(cert) : ms_x509_level(cert);
    /* A CA that asserts a level caps what it issues: a V1 CA cannot make a
     * V4 signer by writing the V4 OID into a leaf. */
    for (int i = 1; chain != NULL && level > 0 && i < sk_X509_num(chain);
         i++) {
        X509 *ca = sk_X509_value(chain, i);
        int cap = ev->public ? ms_x509_level_public(ca) : ms_x509_level(ca);

        if (cap > 0 && cap < level)
            level = cap;
    }
    ev->level = level;
    if (j->in->from == NULL)
        apply(ev, MS_VERDICT_MISMATCH, "%s", j->in->from_why);
    else if (!ms_x509_has_email(cert, j->in->from))
        apply(ev, MS_VERDICT_MISMATCH,
              "the From address %s is not the certificate's", j->in->from);
    apply(ev, level == 0   ? MS_VERDICT_SIGNED
              : level == 1 ? MS_VERDICT_MAILBOX_VALIDATED
                           : MS_VERDICT_VALIDATED,
          "%s", "");
    sk_X509_pop_free(chain, X509_free);
}

/* Pushes the content through the digest BIOs (and keeps it if asked). */
static int
read_content(judge *j, ms_buf *content_out)
{
    unsigned char buf[16384];
    int n;

    while ((n = BIO_read(j->cmsbio, buf, sizeof(buf))) > 0) {
        if (content_out != NULL &&
            ms_buf_append(content_out, buf, (size_t)n) != 0)
            return MS_ETOOBIG;
    }
    return n < 0 ? MS_EMALFORMED : 0;
}

/* Appends every certificate of from (counted references) to to. */
static int
push_all(STACK_OF(X509) *to, STACK_OF(X509) *from)
{
    for (int i = 0; i < sk_X509_num(from); i++) {
        X509 *x = sk_X509_value(from, i);

        if (!X509_up_ref(x))
            return MS_ERR;
        if (!sk_X509_push(to, x)) {
            X509_free(x);
            return MS_ENOMEM;
        }
    }
    return 0;
}

/*
 * Parses the SignedData; j->untrusted receives the certificates it carries
 * (parsed once per ms_ctx, see cms/certs.h) and the caller's intermediates.
 */
static int
parse_signed(judge *j, ms_signer_eval *ev)
{
    const ms_judge_in *in = j->in;
    STACK_OF(X509) *certs = NULL;
    ms_buf stripped;
    int rc;

    if ((j->untrusted = sk_X509_new_null()) == NULL) {
        apply(ev, MS_VERDICT_ERROR, "out of memory");
        return -1;
    }
    ms_buf_init(&stripped, 0);
    rc = ms_cms_split_certs(&stripped, j->untrusted, j->ctx, in->der,
                            in->derlen);
    if (rc == 0) {
        rc = ms_cms_parse(&j->cms, stripped.data, stripped.len, NULL);
    } else if (rc == MS_ENOTFOUND) {
        /* Not plain DER (BER from some clients): parse it as it is. */
        while (sk_X509_num(j->untrusted) > 0)
            X509_free(sk_X509_pop(j->untrusted));
        if ((rc = ms_cms_parse(&j->cms, in->der, in->derlen, NULL)) == 0 &&
            (certs = CMS_get1_certs(j->cms)) != NULL)
            rc = push_all(j->untrusted, certs);
        sk_X509_pop_free(certs, X509_free);
    }
    ms_buf_cleanup(&stripped);
    if (rc == 0)
        rc = push_all(j->untrusted, in->v->untrusted);
    if (rc != 0) {
        apply(ev, MS_VERDICT_ERROR, "%s",
              rc == MS_ENOMEM ? "out of memory"
                              : "the signature is not a CMS object");
        return -1;
    }
    return 0;
}

static int
setup(judge *j, ms_signer_eval *ev, BIO **dcont)
{
    const ms_judge_in *in = j->in;
    int type;

    if (parse_signed(j, ev) != 0)
        return -1;
    type = OBJ_obj2nid(CMS_get0_type(j->cms));
    if (type != NID_pkcs7_signed) {
        apply(ev, MS_VERDICT_ERROR, "the signature is not SignedData");
        return -1;
    }
    if (in->content != NULL && CMS_is_detached(j->cms) != 1)
        apply(ev, MS_VERDICT_INVALID,
              "a multipart/signed signature carries its own content "
              "(eContent)");
    if (in->content == NULL && CMS_is_detached(j->cms) == 1) {
        apply(ev, MS_VERDICT_INVALID, "the signed-data holds no content");
        return -1;
    }
    if (OBJ_obj2nid(CMS_get0_eContentType(j->cms)) != NID_pkcs7_data)
        apply(ev, MS_VERDICT_INVALID, "the signed content is not id-data");
    if (in->content != NULL && in->clen <= INT_MAX &&
        (*dcont = BIO_new_mem_buf(in->content, (int)in->clen)) == NULL) {
        apply(ev, MS_VERDICT_ERROR, "out of memory");
        return -1;
    }
    /* Attach each SignerInfo's certificate (from the message or ours). */
    (void)CMS_set1_signers_certs(j->cms, j->untrusted, 0);
    if ((j->cmsbio = CMS_dataInit(j->cms, *dcont)) == NULL) {
        apply(ev, MS_VERDICT_INVALID, "the signed content cannot be read");
        return -1;
    }
    return 0;
}

void
ms_judge_signed(ms_signer_eval *ev, const ms_judge_in *in,
                ms_buf *content_out, ms_result *r)
{
    judge j = {in, in->v->ctx, NULL, NULL, NULL, r};
    BIO *dcont = NULL;
    STACK_OF(CMS_SignerInfo) *sis;
    int n;

    memset(ev, 0, sizeof(*ev));
    ev->verdict = MS_VERDICT_VALIDATED;
    if (setup(&j, ev, &dcont) != 0)
        goto out;
    if (read_content(&j, content_out) != 0) {
        apply(ev, MS_VERDICT_ERROR, "the signed content is too large");
        goto out;
    }
    sis = CMS_get0_SignerInfos(j.cms);
    n = sk_CMS_SignerInfo_num(sis);
    if (n <= 0) {
        apply(ev, MS_VERDICT_INVALID, "the signature has no SignerInfo");
        goto out;
    }
    if ((unsigned)n > j.ctx->limits.max_signers) {
        apply(ev, MS_VERDICT_ERROR, "more than %u signers",
              j.ctx->limits.max_signers);
        goto out;
    }
    r->nsigners = (unsigned)n;
    for (int i = 0; i < n; i++) {
        ms_signer_eval one;
        ms_verdict before = ev->verdict;

        judge_one(&one, &j, sk_CMS_SignerInfo_value(sis, i));
        if (i == 0 || one.verdict > ev->verdict) {
            char reason[sizeof(ev->reason)];

            memcpy(reason, ev->reason, sizeof(reason));
            ms_signer_eval_cleanup(ev);
            *ev = one;
            /* A structural problem found before still counts. */
            if (before > one.verdict) {
                ev->verdict = before;
                memcpy(ev->reason, reason, sizeof(reason));
            }
        } else {
            ms_signer_eval_cleanup(&one);
        }
    }
out:
    if (j.cmsbio != NULL) {
        while (j.cmsbio != NULL && j.cmsbio != dcont) {
            BIO *next = BIO_pop(j.cmsbio);

            BIO_free(j.cmsbio);
            j.cmsbio = next;
        }
    }
    BIO_free(dcont);
    sk_X509_pop_free(j.untrusted, X509_free);
    CMS_ContentInfo_free(j.cms);
    ERR_clear_error();
}
