/*
 * ca/lint.h - the certificate linter: every certificate the CA issues is
 * checked against its profile before it is signed, and a failed lint
 * refuses issuance (fail closed).
 *
 * The profiles follow the CA/Browser Forum S/MIME Baseline Requirements,
 * "strict" generation, with our own policy OIDs (MS_OID_ARC ".1.{1..4}",
 * x509/info.h) naming the identity level V1..V4. The linter reads the
 * to-be-signed certificate only: it never needs, checks or changes a
 * signature, and it keeps no state, so it is safe to call from any thread
 * on a certificate no other thread is changing.
 */
#ifndef MS_CA_LINT_H
#define MS_CA_LINT_H

#include <time.h>

#include <openssl/x509.h>

/* What the certificate is for: the split certificates of the CA. */
typedef enum {
    MS_LINT_SIGNING,   /* one per device: digitalSignature (+nonRepudiation) */
    MS_LINT_ENCRYPTION /* one per mailbox: keyEncipherment or keyAgreement */
} ms_lint_use;

/* Caller storage: how many rules failed and the first one, as
 * "<rule id>: <text>" (empty when clean). */
typedef struct ms_lint_report {
    unsigned count;
    char first[256];
} ms_lint_report;

/*
 * Lints tbs (signed or not) for identity level (1..4) and use at time now.
 * Every rule runs; rep receives the count of violations and the first.
 * Returns 0 when clean, MS_EPOLICY when any rule fails, MS_EINVAL when
 * level or use is out of range. Leaves the OpenSSL error queue as it was.
 */
int ms_lint_cert(ms_lint_report *rep, X509 *tbs, int level, ms_lint_use use,
                 time_t now);

#endif
