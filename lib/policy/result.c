/* policy/result.c - the verdict, the display line and the JSON object. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include <mailseal/smime.h>

#include "policy/result.h"
#include "util/alloc.h"
#include "util/error.h"
#include "x509/info.h"

const char *
ms_verdict_name(ms_verdict v)
{
    static const char *const names[] = {
        "validated",   "mailbox-validated", "signed",
        "partial",     "mismatch",          "revocation-unknown",
        "expired",     "revoked",           "untrusted",
        "invalid",     "unsigned",          "error",
    };

    if ((unsigned)v >= sizeof(names) / sizeof(names[0]))
        return "error";
    return names[v];
}

static const char *
rev_name(ms_revocation r)
{
    switch (r) {
    case MS_REV_GOOD:
        return "good";
    case MS_REV_REVOKED:
        return "revoked";
    case MS_REV_UNKNOWN:
        return "unknown";
    default:
        return "not-checked";
    }
}

int
ms_result_warn(ms_result *r, const char *fmt, ...)
{
    char line[512];
    va_list ap;

    if (r->nwarnings >= MS_MAX_WARNINGS)
        return 0;
    va_start(ap, fmt);
    (void)vsnprintf(line, sizeof(line), fmt, ap); /* may cut: fine */
    va_end(ap);
    for (size_t i = 0; i < r->nwarnings; i++) {
        if (strcmp(r->warnings[i], line) == 0)
            return 0;
    }
    if ((r->warnings[r->nwarnings] = ms_strdup(line)) == NULL)
        return MS_ENOMEM;
    r->nwarnings++;
    return 0;
}

void
ms_result_set(ms_result *r, ms_verdict v, const char *fmt, ...)
{
    va_list ap;

    r->verdict = v;
    r->reason[0] = '\0';
    if (fmt != NULL) {
        va_start(ap, fmt);
        (void)vsnprintf(r->reason, sizeof(r->reason), fmt, ap);
        va_end(ap);
    }
}

/* The certificate's own spelling of its mailbox, never the From's. */
static int
signer_email(char **out, X509 *x, const char *from)
{
    *out = NULL;
    if (from != NULL) {
        *out = ms_x509_matching_email(x, from);
        if (*out == NULL && ms_x509_has_email(x, from))
            return MS_ENOMEM;
    }
    if (*out == NULL) {
        *out = ms_x509_first_email(x);
        if (*out == NULL && ms_x509_has_any_email(x))
            return MS_ENOMEM;
    }
    return 0;
}

/*
 * Records a copied field. The ms_x509_* text functions return NULL both for
 * an absent field and for a failed copy; a field the certificate has but
 * that did not arrive is a failure (fail closed: verdict error).
 */
static void
take(int *rc, char **dst, char *v, bool present)
{
    *dst = v;
    if (v == NULL && present && *rc == 0)
        *rc = MS_ENOMEM;
}

static bool
has_attr(X509 *x, int nid)
{
    return X509_NAME_get_index_by_NID(X509_get_subject_name(x), nid, -1) >= 0;
}

static int
fill_signer(ms_result *r, X509 *x)
{
    char *given = NULL, *sur = NULL;
    int rc;

    rc = signer_email(&r->signer_email, x, r->from);
    take(&rc, &r->signer_org, ms_x509_subject_text(x, NID_organizationName),
         has_attr(x, NID_organizationName));
    take(&rc, &r->signer_title, ms_x509_subject_text(x, NID_title),
         has_attr(x, NID_title));
    take(&rc, &r->signer_serial, ms_x509_serial_hex(x), true);
    take(&rc, &r->signer_issuer, ms_x509_issuer_text(x), true);
    take(&rc, &given, ms_x509_subject_text(x, NID_givenName),
         has_attr(x, NID_givenName));
    take(&rc, &sur, ms_x509_subject_text(x, NID_surname),
         has_attr(x, NID_surname));
    if (given != NULL && sur != NULL) {
        size_t n = strlen(given) + strlen(sur) + 2;

        if ((r->signer_name = ms_malloc(n)) != NULL)
            (void)snprintf(r->signer_name, n, "%s %s", given, sur);
        else
            rc = MS_ENOMEM;
    } else if (r->level != 3 && r->level != 1) {
        /* A V3 certificate names the organisation in its CN. */
        take(&rc, &r->signer_name, ms_x509_subject_text(x, NID_commonName),
             has_attr(x, NID_commonName));
        if (r->signer_name != NULL && r->signer_email != NULL &&
            strcmp(r->signer_name, r->signer_email) == 0) {
            ms_free(r->signer_name);
            r->signer_name = NULL;
        }
    }
    ms_free(given);
    ms_free(sur);
    return rc;
}

/* "V4 Jane Roe, Example Bank, Head of Payments <jane@...>" and friends. */
static int
identity_text(ms_buf *b, const ms_result *r)
{
    const char *mail = r->signer_email != NULL ? r->signer_email : "?";
    int rc = ms_buf_printf(b, "V%d ", r->level);

    if (rc == 0 && r->level == 4) {
        const char *parts[3] = {r->signer_name, r->signer_org,
                                r->signer_title};
        bool first = true;

        for (int i = 0; rc == 0 && i < 3; i++) {
            if (parts[i] == NULL)
                continue;
            rc = ms_buf_printf(b, "%s%s", first ? "" : ", ", parts[i]);
            first = false;
        }
        if (rc == 0)
            rc = ms_buf_printf(b, "%s<%s>", first ? "" : " ", mail);
    } else if (rc == 0 && r->level == 3 && r->signer_org != NULL) {
        rc = ms_buf_printf(b, "%s <%s>", r->signer_org, mail);
    } else if (rc == 0 && r->level == 2 && r->signer_name != NULL) {
        rc = ms_buf_printf(b, "%s <%s>", r->signer_name, mail);
    } else if (rc == 0) {
        rc = ms_buf_puts(b, mail);
    }
    return rc;
}

static int
display(ms_buf *b, const ms_result *r, const ms_signer_eval *ev)
{
    static const char *const tag[] = {
        "Identity Validated", "Identity Validated",
        "Identity Validated and Trusted", "Identity Validated and Trusted"};
    const char *mail = r->signer_email != NULL ? r->signer_email
                                               : "an unnamed mailbox";
    char when[32] = "";
    int rc = 0;

    switch (r->verdict) {
    case MS_VERDICT_VALIDATED:
    case MS_VERDICT_MAILBOX_VALIDATED:
        rc = identity_text(b, r);
        if (rc == 0)
            rc = ms_buf_printf(b, " — %s",
                               r->level == 1
                                   ? "Email Validated, Identity Not Validated"
                                   : tag[r->level - 1]);
        if (rc == 0 && r->public)
            rc = ms_buf_puts(b, " (publicly trusted)");
        break;
    case MS_VERDICT_SIGNED:
        rc = ms_buf_printf(b, "Signed by %s — identity level not stated by "
                              "the certificate", mail);
        break;
    case MS_VERDICT_PARTIAL:
        rc = ms_buf_printf(b, "PARTIALLY SIGNED — only a part of this "
                              "message is signed (by %s); the rest is not",
                           mail);
        break;
    case MS_VERDICT_MISMATCH:
        rc = ms_buf_printf(b, "FROM MISMATCH — signed by %s, but %s", mail,
                           r->reason);
        break;
    case MS_VERDICT_REVOCATION_UNKNOWN:
        rc = ms_buf_printf(b, "REVOCATION UNKNOWN — signed by %s, but %s",
                           mail, r->reason);
        break;
    case MS_VERDICT_EXPIRED:
        rc = ms_buf_printf(b, "EXPIRED — the certificate of %s %s", mail,
                           r->reason);
        break;
    case MS_VERDICT_REVOKED:
        rc = ms_buf_printf(b, "REVOKED — the certificate of %s %s", mail,
                           r->reason);
        break;
    case MS_VERDICT_UNTRUSTED:
        rc = ms_buf_printf(b, "UNTRUSTED — signed by %s, but %s", mail,
                           r->reason);
        break;
    case MS_VERDICT_INVALID:
        rc = ms_buf_printf(b, "INVALID — do not trust this message: %s",
                           r->reason);
        break;
    case MS_VERDICT_UNSIGNED:
        rc = ms_buf_puts(b, "UNSIGNED — the sender is not verified");
        break;
    default:
        rc = ms_buf_printf(b, "ERROR — %s", r->reason);
        break;
    }
    if (rc == 0 && ev != NULL && ev->ts_valid &&
        r->verdict <= MS_VERDICT_SIGNED &&
        ms_time_format(when, sizeof(when), ev->ts_time) == 0)
        rc = ms_buf_printf(b, ", signed %s (timestamp)", when);
    return rc;
}

int
ms_result_finish(ms_result *r, const ms_signer_eval *ev)
{
    ms_buf b;
    int rc = 0;

    if (ev != NULL && ev->cert != NULL) {
        r->public = ev->public;
        r->has_ts = ev->has_ts;
        r->ts_valid = ev->ts_valid;
        r->ts_time = ev->ts_time;
        r->has_signing_time = ev->has_signing_time;
        r->signing_time = ev->signing_time;
        r->rev = ev->rev;
        r->caps = ev->caps;
        if (r->verdict <= MS_VERDICT_MAILBOX_VALIDATED)
            r->level = ev->level;
        if ((rc = fill_signer(r, ev->cert)) != 0)
            return rc;
        if (X509_up_ref(ev->cert))
            r->signer_cert = ev->cert;
        else
            return MS_ENOMEM;
    }
    if (r->verdict > MS_VERDICT_MAILBOX_VALIDATED)
        r->level = 0;
    ms_buf_init(&b, 4096);
    if ((rc = display(&b, r, ev)) == MS_ETOOBIG) {
        ms_buf_reset(&b);
        rc = ms_buf_printf(&b, "%s", ms_verdict_name(r->verdict));
    }
    if (rc == 0 && (r->display = ms_strdup((char *)b.data)) == NULL)
        rc = MS_ENOMEM;
    ms_buf_cleanup(&b);
    return rc;
}

void
ms_result_free(ms_result *r)
{
    if (r == NULL)
        return;
    ms_free(r->from);
    ms_free(r->signer_email);
    ms_free(r->signer_name);
    ms_free(r->signer_org);
    ms_free(r->signer_title);
    ms_free(r->signer_serial);
    ms_free(r->signer_issuer);
    X509_free(r->signer_cert);
    ms_free(r->display);
    for (size_t i = 0; i < r->nwarnings; i++)
        ms_free(r->warnings[i]);
    ms_free(r);
}

X509 *
ms_result_get0_signer_cert(const ms_result *r)
{
    return r->signer_cert;
}

const char *
ms_result_get0_from(const ms_result *r)
{
    return r->from;
}

ms_verdict
ms_result_verdict(const ms_result *r)
{
    return r->verdict;
}

int
ms_result_level(const ms_result *r)
{
    return r->verdict <= MS_VERDICT_MAILBOX_VALIDATED ? r->level : 0;
}

const char *
ms_result_display(const ms_result *r)
{
    return r->display != NULL ? r->display : ms_verdict_name(r->verdict);
}

unsigned
ms_result_capabilities(const ms_result *r)
{
    return r->caps;
}

bool
ms_result_encrypted(const ms_result *r)
{
    return r->encrypted;
}

size_t
ms_result_warning_count(const ms_result *r)
{
    return r->nwarnings;
}

const char *
ms_result_warning(const ms_result *r, size_t i)
{
    return i < r->nwarnings ? r->warnings[i] : NULL;
}

static json_t *
str_or_null(const char *s)
{
    return s != NULL ? json_string(s) : json_null();
}

static json_t *
time_or_null(bool has, time_t t)
{
    char buf[32];

    if (!has || ms_time_format(buf, sizeof(buf), t) != 0)
        return json_null();
    return json_string(buf);
}

static json_t *
level_json(const ms_result *r)
{
    char buf[4];
    int l = ms_result_level(r);

    if (l < 1 || l > 4)
        return json_null();
    (void)snprintf(buf, sizeof(buf), "V%d", l);
    return json_string(buf);
}

int
ms_result_json(ms_buf *out, const ms_result *r, ms_error *err)
{
    json_t *o = NULL, *signer = NULL, *ts = NULL, *warn = NULL;
    char *text = NULL;
    int rc = 0;

    warn = json_array();
    for (size_t i = 0; warn != NULL && i < r->nwarnings; i++) {
        if (json_array_append_new(warn, json_string(r->warnings[i])) != 0)
            break;
    }
    if (r->signer_email != NULL || r->signer_serial != NULL)
        signer = json_pack("{s:o,s:o,s:o,s:o,s:o,s:o}", "email",
                           str_or_null(r->signer_email), "name",
                           str_or_null(r->signer_name), "organization",
                           str_or_null(r->signer_org), "title",
                           str_or_null(r->signer_title), "serial",
                           str_or_null(r->signer_serial), "issuer",
                           str_or_null(r->signer_issuer));
    else
        signer = json_null();
    if (r->has_ts)
        ts = json_pack("{s:o,s:b}", "time", time_or_null(true, r->ts_time),
                       "valid", r->ts_valid);
    else
        ts = json_null();
    o = json_pack("{s:s,s:o,s:b,s:o,s:o,s:o,s:o,s:s,s:b,s:o,s:s,s:o,"
                  "s:{s:b,s:b}}",
                  "verdict", ms_verdict_name(r->verdict), "level",
                  level_json(r), "public",
                  r->public && r->verdict <= MS_VERDICT_SIGNED, "from",
                  str_or_null(r->from), "signer", signer, "timestamp", ts,
                  "signing_time",
                  time_or_null(r->has_signing_time, r->signing_time),
                  "revocation", rev_name(r->rev), "encrypted", r->encrypted,
                  "cipher", str_or_null(r->cipher), "display",
                  ms_result_display(r), "warnings", warn, "capabilities",
                  "gcm", (r->caps & MS_CAP_GCM) != 0, "oaep",
                  (r->caps & MS_CAP_OAEP) != 0);
    signer = ts = warn = NULL; /* stolen by json_pack ("o"), even on error */
    if (o == NULL || (text = json_dumps(o, JSON_COMPACT)) ==
                         NULL) {
        rc = ms_error_set(err, MS_ENOMEM, "cannot build JSON");
        goto out;
    }
    if ((rc = ms_buf_puts(out, text)) != 0)
        rc = ms_error_set(err, rc, "JSON too large");
out:
    free(text); /* jansson allocates with malloc */
    json_decref(o);
    return rc;
}
