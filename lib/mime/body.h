/* mime/body.h - a part's body with its transfer encoding undone. */
#ifndef MS_MIME_BODY_H
#define MS_MIME_BODY_H

#include <mailseal/buf.h>
#include <mailseal/error.h>

#include "mime/mime.h"

/* Appends the decoded body of p (base64, 7bit, 8bit or binary). */
int ms_mime_body_decoded(ms_buf *out, const ms_mime *m, const ms_mime_part *p,
                         ms_error *err);
/* True for application/pkcs7-mime and application/x-pkcs7-mime. */
bool ms_mime_is_pkcs7_mime(const ms_mime_part *p);
/* True for application/pkcs7-signature and application/x-pkcs7-signature. */
bool ms_mime_is_pkcs7_signature(const char *type);

#endif
