/*
 * mailseal/verify.h - verdicts: who really sent a message.
 *
 * An ms_verifier holds the trust configuration (anchors, intermediates,
 * CRLs, TSA anchors, offline switch, verification time). Build it once and
 * reuse it; after configuration it is read-only and may be shared.
 * ms_open() decrypts when needed and judges a message; the ms_result it
 * returns is owned by the caller (ms_result_free()). The verdict rules are
 * in docs/verdicts.md.
 */
#ifndef MAILSEAL_VERIFY_H
#define MAILSEAL_VERIFY_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include <mailseal/buf.h>
#include <mailseal/ctx.h>
#include <mailseal/error.h>
#include <mailseal/export.h>
#include <mailseal/identity.h>

/* Ordered best to worst: the worst of several signers is the largest. */
typedef enum ms_verdict {
    MS_VERDICT_VALIDATED = 0,
    MS_VERDICT_MAILBOX_VALIDATED,
    MS_VERDICT_SIGNED,
    MS_VERDICT_PARTIAL,
    MS_VERDICT_MISMATCH,
    MS_VERDICT_REVOCATION_UNKNOWN,
    MS_VERDICT_EXPIRED,
    MS_VERDICT_REVOKED,
    MS_VERDICT_UNTRUSTED,
    MS_VERDICT_INVALID,
    MS_VERDICT_UNSIGNED,
    MS_VERDICT_ERROR
} ms_verdict;

typedef enum ms_revocation {
    MS_REV_NOT_CHECKED = 0,
    MS_REV_GOOD,
    MS_REV_REVOKED,
    MS_REV_UNKNOWN
} ms_revocation;

typedef struct ms_verifier ms_verifier;
typedef struct ms_result ms_result;

MS_EXPORT int ms_verifier_new(ms_verifier **out, ms_ctx *ctx, ms_error *err);
MS_EXPORT void ms_verifier_free(ms_verifier *v);
/* Trust anchors: any certificate, an intermediate included. */
MS_EXPORT int ms_verifier_add_trust_file(ms_verifier *v, const char *path,
                                         ms_error *err);
/* Extra intermediates used to build chains. */
MS_EXPORT int ms_verifier_add_untrusted_file(ms_verifier *v, const char *path,
                                             ms_error *err);
/* One or more CRLs, PEM or DER. */
MS_EXPORT int ms_verifier_add_crl_file(ms_verifier *v, const char *path,
                                       ms_error *err);
/* Anchors for RFC 3161 tokens (a root or the TSA certificate itself). */
MS_EXPORT int ms_verifier_add_tsa_trust_file(ms_verifier *v, const char *path,
                                             ms_error *err);
/* Also trust the system store (default on); chains to it are "public". */
MS_EXPORT int ms_verifier_set_system_trust(ms_verifier *v, bool on,
                                           ms_error *err);
/* No network: no OCSP. */
MS_EXPORT void ms_verifier_set_offline(ms_verifier *v, bool offline);
/* Verify as of t instead of the context clock's now. */
MS_EXPORT void ms_verifier_set_time(ms_verifier *v, time_t t);

/*
 * Judges msg. When it is encrypted and id is non-NULL it is decrypted first
 * (an encrypted message without id gets the verdict "error"). cleartext
 * (may be NULL) receives the decrypted message, byte-exact otherwise.
 * Returns 0 and a result for every message, however bad (the verdict says
 * so); a negative status only for usage errors or out of memory.
 */
MS_EXPORT int ms_open(ms_result **out, ms_buf *cleartext, ms_ctx *ctx,
                      const ms_verifier *v, const ms_identity *id,
                      const void *msg, size_t len, ms_error *err);

MS_EXPORT void ms_result_free(ms_result *r);
MS_EXPORT ms_verdict ms_result_verdict(const ms_result *r);
/* "validated", "mailbox-validated", ... (static string). */
MS_EXPORT const char *ms_verdict_name(ms_verdict v);
/* 1..4 when the verdict is validated or mailbox-validated, else 0. */
MS_EXPORT int ms_result_level(const ms_result *r);
/* The human line; never NULL. Valid as long as r. */
MS_EXPORT const char *ms_result_display(const ms_result *r);
MS_EXPORT bool ms_result_encrypted(const ms_result *r);
/*
 * What the signer advertised in SMIMECapabilities (MS_CAP_GCM, MS_CAP_OAEP
 * of smime.h), for encrypting replies; 0 when unsigned or not stated.
 */
MS_EXPORT unsigned ms_result_capabilities(const ms_result *r);
MS_EXPORT size_t ms_result_warning_count(const ms_result *r);
MS_EXPORT const char *ms_result_warning(const ms_result *r, size_t i);
/* Appends the result as one JSON object (no trailing newline). */
MS_EXPORT int ms_result_json(ms_buf *out, const ms_result *r, ms_error *err);

/*
 * Appends msg to out with its top-level X-Mailseal-* fields removed and
 * "X-Mailseal-Verdict: <verdict>" and "X-Mailseal-Identity: <display>"
 * added at the top (a delivery filter's output). An mbox "From " line stays
 * first.
 */
MS_EXPORT int ms_result_annotate(ms_buf *out, const ms_result *r,
                                 const void *msg, size_t len, ms_error *err);

#endif
