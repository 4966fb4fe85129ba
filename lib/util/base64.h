/* util/base64.h - base64 for MIME bodies: 76-column lines, lenient reading. */
#ifndef MS_UTIL_BASE64_H
#define MS_UTIL_BASE64_H

#include <mailseal/buf.h>

/* Appends base64 of data in CRLF-terminated lines of 76 characters. */
int ms_base64_encode_lines(ms_buf *out, const void *data, size_t len);
/*
 * Appends the bytes encoded in text, skipping whitespace. MS_EMALFORMED on
 * any other character, bad padding or data after the padding; on any
 * failure out is left as it was.
 */
int ms_base64_decode(ms_buf *out, const void *text, size_t len);

#endif
