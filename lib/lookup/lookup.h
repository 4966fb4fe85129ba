/*
 * lookup/lookup.h - a correspondent's certificates, as `mailseal send` and
 * `mailseal lookup` find them: first the profile's cache
 * (certs/<addr>.pem), then the directory (GET <server_url>/v1/directory/
 * <address>, JSON, docs/api.md), whose answers are cached.
 *
 * A certificate is accepted only when its SAN holds exactly the address
 * asked for (ASCII case ignored), it is valid now (the context's clock),
 * its extended key usage (when present) allows emailProtection, and it
 * chains to the profile's trust anchors (anchors.pem; each one a trust
 * anchor, so an issuing CA there is enough). Intermediate CAs come with
 * the certificates: the cache file and a directory "pem" value may hold
 * the certificate followed by its issuing CAs. Revocation is not checked
 * here: the directory serves no revoked certificate as current, and
 * entries whose "status" is present and not "valid" or "good" are skipped.
 *
 * Ownership: results are in a caller-owned ms_lookup_result
 * (init/cleanup); certificates in it hold their own references.
 * Thread safety: as the profile (one thread at a time); the JSON parser
 * has no state.
 */
#ifndef MS_LOOKUP_LOOKUP_H
#define MS_LOOKUP_LOOKUP_H

#include <stdbool.h>
#include <stddef.h>

#include <openssl/x509.h>

#include <mailseal/buf.h>
#include <mailseal/ctx.h>
#include <mailseal/error.h>

#include "profile/profile.h"

#define MS_LOOKUP_MAX_ANSWER ((size_t)1024 * 1024) /* bytes of JSON */
#define MS_LOOKUP_MAX_CERTS  64u                   /* entries of one answer */
#define MS_LOOKUP_MAX_PEM    ((size_t)64 * 1024)   /* bytes of one "pem" */
#define MS_LOOKUP_MAX_URL    2048u

typedef enum ms_lookup_source {
    MS_LOOKUP_NONE = 0,
    MS_LOOKUP_CACHE,
    MS_LOOKUP_DIRECTORY
} ms_lookup_source;

/* ms_lookup_certs() flags. */
#define MS_LOOKUP_ENCRYPT   0x1u /* the cache counts only with a cert that
                                    can be encrypted to; else ask the
                                    directory */
#define MS_LOOKUP_CACHE_ONLY 0x2u /* never ask the directory */
#define MS_LOOKUP_DIR_ONLY   0x4u /* skip the cache (still writes it) */

typedef struct ms_lookup_result {
    STACK_OF(X509) *certs; /* accepted certificates of the address */
    STACK_OF(X509) *chain; /* the intermediates that came with them */
    ms_lookup_source source;
} ms_lookup_result;

void ms_lookup_result_init(ms_lookup_result *r);
void ms_lookup_result_cleanup(ms_lookup_result *r);

/*
 * Fills r with the accepted certificates of addr (normalised with
 * ms_addr_normalise()): from the cache, or else (unless CACHE_ONLY,
 * and when server_url is not NULL) from the directory, then cached (merged
 * with what the cache held). Returns 0 (r->certs not empty), MS_ENOTFOUND
 * (nothing acceptable anywhere), MS_EUNTRUSTED (the profile has no trust
 * anchors), MS_ETEMP (directory unreachable, 429 or 5xx), MS_EMALFORMED
 * (a directory answer that is not the documented JSON), MS_EINVAL (not an
 * exact address), MS_EPOLICY/MS_EIO (profile files), MS_ENOMEM.
 */
int ms_lookup_certs(ms_lookup_result *r, ms_ctx *ctx, ms_profile *p,
                    const char *server_url, const char *addr, unsigned flags,
                    ms_error *err);

/*
 * Parses a directory answer (at most MS_LOOKUP_MAX_ANSWER bytes of JSON)
 * for addr: {"address": addr, "certificates": [{"pem": ..., "use"?,
 * "status"?, ...}]}. Each entry's first certificate goes to certs, any
 * further ones to chain; nothing is checked beyond the syntax, the address
 * and the status. MS_EMALFORMED (with a reason), MS_ETOOBIG, MS_ENOMEM.
 */
int ms_lookup_parse_json(STACK_OF(X509) * certs, STACK_OF(X509) * chain,
                         const void *json, size_t len, const char *addr,
                         ms_error *err);

/* True when x's keyUsage allows encrypting to it (keyEncipherment for
 * RSA, keyAgreement for EC) and it is no CA. */
bool ms_lookup_can_encrypt(X509 *x);

#endif
