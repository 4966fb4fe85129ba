/*
 * policy/result.h - the internals of ms_verifier and ms_result, shared by
 * the verification modules.
 */
#ifndef MS_POLICY_RESULT_H
#define MS_POLICY_RESULT_H

#include <openssl/x509.h>

#include <mailseal/verify.h>

#define MS_MAX_WARNINGS 32

struct ms_verifier {
    ms_ctx *ctx;
    X509_STORE *store;            /* user anchors (+ the system store) */
    STACK_OF(X509) *anchors;      /* user anchors, to tell "public" apart */
    STACK_OF(X509) *untrusted;
    STACK_OF(X509_CRL) *crls;
    STACK_OF(X509) *tsa_anchors;
    bool offline;
    bool system_trust;
    bool has_time;
    time_t at;
};

/* What one signature says, judged alone. */
typedef struct ms_signer_eval {
    ms_verdict verdict;
    char reason[256];  /* why the verdict is not validated */
    int level;
    bool public;
    X509 *cert;        /* counted reference or NULL */
    bool has_ts;
    bool ts_valid;
    time_t ts_time;
    bool has_signing_time;
    time_t signing_time;
    ms_revocation rev;
    time_t valid_at;   /* the time the certificate was judged at */
    bool used_ts_time; /* valid_at is the token's time */
    unsigned caps;     /* MS_CAP_* the signer advertises */
} ms_signer_eval;

struct ms_result {
    ms_verdict verdict;
    int level;
    bool public;
    char *from;
    char *signer_email;
    char *signer_name;
    char *signer_org;
    char *signer_title;
    char *signer_serial;
    char *signer_issuer;
    bool has_ts;
    bool ts_valid;
    time_t ts_time;
    bool has_signing_time;
    time_t signing_time;
    ms_revocation rev;
    bool encrypted;
    const char *cipher;
    char *display;
    char *warnings[MS_MAX_WARNINGS];
    size_t nwarnings;
    unsigned nsigners;
    unsigned caps; /* MS_CAP_* the (worst) signer advertises */
    char reason[256];
    X509 *signer_cert; /* counted reference or NULL */
};

/* Adds a warning (copied; silently dropped past MS_MAX_WARNINGS). */
int ms_result_warn(ms_result *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Sets verdict and reason (fmt may be NULL). */
void ms_result_set(ms_result *r, ms_verdict v, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Fills the signer fields and the display line from eval and cert. */
int ms_result_finish(ms_result *r, const ms_signer_eval *ev);

/* The judged signer's certificate (borrowed; lives as long as r) or NULL. */
X509 *ms_result_get0_signer_cert(const ms_result *r);
/* The From address (addr-spec; borrowed) or NULL when unusable. */
const char *ms_result_get0_from(const ms_result *r);

#endif
