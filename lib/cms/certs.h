/*
 * cms/certs.h - the certificates of a SignedData, parsed once per ms_ctx.
 *
 * OpenSSL 3.0 spends most of the parse of a signed message in decoding the
 * public keys of the certificates it carries (a provider decoder context per
 * key). The same CA and sender certificates arrive again and again, so the
 * SignedData is parsed without its certificate set and the certificates
 * come from a small cache of parsed X509 objects in the ms_ctx.
 */
#ifndef MS_CMS_CERTS_H
#define MS_CMS_CERTS_H

#include <openssl/x509.h>

#include <mailseal/buf.h>
#include <mailseal/ctx.h>

/*
 * Copies a DER SignedData ContentInfo into out without its certificates
 * field and appends the certificates (counted references) to certs.
 * Returns MS_ENOTFOUND when the input is not definite-length DER of that
 * shape (the caller then parses it as it is), MS_EMALFORMED for a bad
 * certificate, MS_ENOMEM.
 */
int ms_cms_split_certs(ms_buf *out, STACK_OF(X509) *certs, ms_ctx *ctx,
                       const unsigned char *der, size_t len);

#endif
