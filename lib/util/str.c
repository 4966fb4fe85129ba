/* util/str.c - small byte-string helpers. */
#include <string.h>

#include "util/str.h"

const void *
ms_memmem(const void *hay, size_t hlen, const void *needle, size_t nlen)
{
    const unsigned char *h = hay, *end, *p;
    const unsigned char *n = needle;

    if (nlen == 0)
        return hay;
    if (hlen < nlen)
        return NULL;
    end = h + (hlen - nlen) + 1;
    while (h < end) {
        if ((p = memchr(h, n[0], (size_t)(end - h))) == NULL)
            return NULL;
        if (memcmp(p, n, nlen) == 0)
            return p;
        h = p + 1;
    }
    return NULL;
}

static int
lower(int c)
{
    return c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c;
}

bool
ms_ascii_casebytes(const char *a, size_t alen, const char *b, size_t blen)
{
    if (alen != blen)
        return false;
    for (size_t i = 0; i < alen; i++) {
        if (lower((unsigned char)a[i]) != lower((unsigned char)b[i]))
            return false;
    }
    return true;
}

bool
ms_ascii_caseeq(const char *a, const char *b)
{
    return ms_ascii_casebytes(a, strlen(a), b, strlen(b));
}
