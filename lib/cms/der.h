/* cms/der.h - a minimal reader of definite-length DER, for fields that
 * OpenSSL 3.0 offers no getter for. */
#ifndef MS_CMS_DER_H
#define MS_CMS_DER_H

#include <stdbool.h>
#include <stddef.h>

typedef struct ms_der {
    const unsigned char *p;
    size_t len;
} ms_der;

/* Reads one TLV from *in: tag byte, content span; advances *in. */
bool ms_der_next(ms_der *in, unsigned char *tag, ms_der *content);

/*
 * The content-encryption AlgorithmIdentifier OID of an EnvelopedData or
 * AuthEnvelopedData ContentInfo, as content bytes of the OID.
 */
bool ms_der_cms_cipher_oid(const unsigned char *der, size_t len, ms_der *oid);

#endif
