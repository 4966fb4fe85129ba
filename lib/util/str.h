/* util/str.h - small byte-string helpers missing from C17. */
#ifndef MS_UTIL_STR_H
#define MS_UTIL_STR_H

#include <stdbool.h>
#include <stddef.h>

/* First occurrence of needle in hay, or NULL. */
const void *ms_memmem(const void *hay, size_t hlen, const void *needle,
                      size_t nlen);
/* ASCII case-insensitive equality of two byte ranges. */
bool ms_ascii_casebytes(const char *a, size_t alen, const char *b,
                        size_t blen);
/* ASCII case-insensitive string equality. */
bool ms_ascii_caseeq(const char *a, const char *b);

#endif
