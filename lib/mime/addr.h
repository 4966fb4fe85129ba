/*
 * mime/addr.h - the From address: exactly one mailbox, or a reason why not.
 */
#ifndef MS_MIME_ADDR_H
#define MS_MIME_ADDR_H

#include <mailseal/error.h>

#include "mime/mime.h"

#define MS_ADDR_MAX 1024

/*
 * Parses one unfolded From value. On success *out (ms_free) is the
 * addr-spec, its domain in IDNA A-label form. On failure returns
 * MS_EMALFORMED and *why says what is wrong (static text).
 */
int ms_addr_parse_from(char **out, const char *value, const char **why);

/* The From of the message's top-level header (one field, one mailbox). */
int ms_mime_from(char **out, const ms_mime *m, const char **why);

/* Case-insensitive comparison of two addr-specs (ASCII). */
bool ms_addr_equal(const char *a, const char *b);

#endif
