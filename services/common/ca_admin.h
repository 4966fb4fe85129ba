/*
 * services/common/ca_admin.h - what the `issue`/`revoke` commands and the
 * POST /ca/issue and /ca/revoke routes share: CRLReason names, finding the
 * level of a serial number, the issue options from the config, and PEM.
 *
 * Stateless; every function may run on any thread with its own store
 * handle.
 */
#ifndef MS_SERVICES_CA_ADMIN_H
#define MS_SERVICES_CA_ADMIN_H

#include <stdbool.h>

#include <mailseal/buf.h>
#include <mailseal/error.h>

#include "ca/hierarchy.h"
#include "ca/lint.h"
#include "store/store.h"

/*
 * *out = the CRLReason named s: a name of RFC 5280 5.3.1 (unspecified
 * keyCompromise affiliationChanged superseded cessationOfOperation
 * certificateHold privilegeWithdrawn; also cACompromise and aACompromise)
 * or its number 0..10 except 7. MS_EINVAL otherwise.
 */
int ms_service_reason_parse(int *out, const char *s, ms_error *err);
/* The name of reason, or "unknown". */
const char *ms_service_reason_name(int reason);

/* *out = the use named s ("signing" or "encryption"). MS_EINVAL. */
int ms_service_use_parse(ms_lint_use *out, const char *s, ms_error *err);

/*
 * *level_out = the level 1..4 of the CA that issued serial_hex (any case),
 * found in the store by trying each issuing CA. MS_ENOTFOUND, MS_EINVAL
 * (bad serial), the store's MS_ETEMP, MS_EIO.
 */
int ms_service_find_level(int *level_out, ms_store *st, const char *serial_hex,
                          ms_error *err);

/*
 * Appends the PEM of the DER certificate der (len bytes) to pem and, when
 * serial (ms_free) is not NULL, sets *serial to its lower-case hex serial.
 * MS_EMALFORMED, MS_ENOMEM, MS_ETOOBIG.
 */
int ms_service_cert_pem(ms_buf *pem, char **serial, const unsigned char *der,
                        size_t len, ms_error *err);

#endif
