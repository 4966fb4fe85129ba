/*
 * mailseal/identity.h - certificates and keys loaded from files.
 *
 * ms_identity: our own signing certificate with its private key, chain and
 * optional separate encryption certificate (and, for decryption, the key of
 * that certificate). ms_certlist: a list of certificates (recipients, trust
 * anchors). Both are immutable once loaded and may be shared by threads.
 * Private keys are held by OpenSSL and freed (wiped) with the identity.
 */
#ifndef MAILSEAL_IDENTITY_H
#define MAILSEAL_IDENTITY_H

#include <stdbool.h>

#include <mailseal/ctx.h>
#include <mailseal/error.h>
#include <mailseal/export.h>

typedef struct ms_identity ms_identity;
typedef struct ms_certlist ms_certlist;

/*
 * Loads cert_file (PEM or DER; the first certificate is ours, any further
 * ones are added to the chain) and key_file (PEM or DER, PKCS#8 or
 * traditional, unencrypted). chain_file and enc_cert_file may be NULL.
 * Fails with MS_EINVAL when the key does not match the certificate.
 */
MS_EXPORT int ms_identity_load(ms_identity **out, ms_ctx *ctx,
                               const char *cert_file, const char *key_file,
                               const char *chain_file,
                               const char *enc_cert_file, ms_error *err);
MS_EXPORT void ms_identity_free(ms_identity *id);

MS_EXPORT int ms_certlist_new(ms_certlist **out, ms_error *err);
MS_EXPORT void ms_certlist_free(ms_certlist *list);
/* Appends every certificate in path (PEM bundle or one DER). */
MS_EXPORT int ms_certlist_add_file(ms_certlist *list, const char *path,
                                   ms_error *err);
/* Appends every certificate in a PEM or DER buffer. */
MS_EXPORT int ms_certlist_add_mem(ms_certlist *list, const void *data,
                                  size_t len, ms_error *err);
MS_EXPORT size_t ms_certlist_count(const ms_certlist *list);

#endif
