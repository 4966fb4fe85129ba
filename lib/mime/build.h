/*
 * mime/build.h - taking a message apart into outer header and entity, and
 * putting S/MIME messages together. Everything produced has CRLF line ends.
 */
#ifndef MS_MIME_BUILD_H
#define MS_MIME_BUILD_H

#include <mailseal/buf.h>

#include "mime/mime.h"

/*
 * outer: the top-level fields that are not Content-* or MIME-Version.
 * entity: the Content-* fields, a blank line and the body. With for_signing,
 * a single-part 8-bit body is re-encoded as base64 so the signed bytes
 * survive transport unchanged; an entity without Content-Type gets an
 * explicit "text/plain; charset=us-ascii". entity may be NULL when only
 * outer is wanted.
 */
int ms_build_split(ms_buf *outer, ms_buf *entity, const ms_mime *m,
                   bool for_signing);

/* outer + multipart/signed(entity, signature). */
int ms_build_signed(ms_buf *out, const ms_buf *outer, const ms_buf *entity,
                    const unsigned char *sig, size_t siglen);

/* outer + application/pkcs7-mime; smime-type=<smime_type>. */
int ms_build_pkcs7(ms_buf *out, const ms_buf *outer, const char *smime_type,
                   const unsigned char *der, size_t len);

/* outer + entity: a message whose body is the decrypted/unwrapped entity. */
int ms_build_join(ms_buf *out, const ms_buf *outer, const void *entity,
                  size_t len);

#endif
