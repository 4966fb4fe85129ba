/* util/buf.c - capped byte buffers. */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>

#include <mailseal/buf.h>
#include <mailseal/error.h>

#include "util/alloc.h"
#include "util/buf.h"

void
ms_wipe(void *p, size_t n)
{
    if (p != NULL && n > 0)
        OPENSSL_cleanse(p, n);
}

void
ms_buf_init(ms_buf *b, size_t max)
{
    memset(b, 0, sizeof(*b));
    b->max = max == 0 ? SIZE_MAX - 1 : max;
}

void
ms_buf_init_secret(ms_buf *b, size_t max)
{
    ms_buf_init(b, max);
    b->secret = true;
}

void
ms_buf_cleanup(ms_buf *b)
{
    if (b->secret)
        ms_wipe(b->data, b->cap);
    ms_free(b->data);
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
}

void
ms_buf_reset(ms_buf *b)
{
    if (b->secret)
        ms_wipe(b->data, b->cap);
    b->len = 0;
    if (b->data != NULL)
        b->data[0] = '\0';
}

int
ms_buf_reserve(ms_buf *b, size_t extra)
{
    size_t need, ncap;
    unsigned char *p;

    if (!ms_size_add(&need, b->len, extra) || need > b->max)
        return MS_ETOOBIG;
    if (need + 1 <= b->cap)
        return 0;
    ncap = b->cap < 256 ? 256 : b->cap;
    while (ncap < need + 1) {
        if (ncap > SIZE_MAX / 2) {
            ncap = need + 1;
            break;
        }
        ncap *= 2;
    }
    if (b->secret) {
        if ((p = ms_malloc(ncap)) == NULL)
            return MS_ENOMEM;
        if (b->data != NULL) {
            memcpy(p, b->data, b->len + 1);
            ms_wipe(b->data, b->cap);
            ms_free(b->data);
        }
    } else if ((p = ms_realloc(b->data, ncap)) == NULL) {
        return MS_ENOMEM;
    }
    if (b->data == NULL)
        p[0] = '\0';
    b->data = p;
    b->cap = ncap;
    return 0;
}

int
ms_buf_append(ms_buf *b, const void *p, size_t n)
{
    int rc;

    if ((rc = ms_buf_reserve(b, n)) != 0)
        return rc;
    if (n > 0)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
    return 0;
}

int
ms_buf_puts(ms_buf *b, const char *s)
{
    return ms_buf_append(b, s, strlen(s));
}

int
ms_buf_printf(ms_buf *b, const char *fmt, ...)
{
    va_list ap;
    int n, rc;

    va_start(ap, fmt);
    n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return MS_EINVAL;
    if ((rc = ms_buf_reserve(b, (size_t)n)) != 0)
        return rc;
    va_start(ap, fmt);
    n = vsnprintf((char *)b->data + b->len, b->cap - b->len, fmt, ap);
    va_end(ap);
    if (n < 0)
        return MS_EINVAL;
    b->len += (size_t)n;
    return 0;
}

void
ms_buf_move(ms_buf *dst, ms_buf *src)
{
    ms_buf_cleanup(dst);
    *dst = *src;
    src->data = NULL;
    src->len = 0;
    src->cap = 0;
}

int
ms_buf_take(ms_buf *dst, ms_buf *src)
{
    size_t max = dst->max;
    bool secret = dst->secret;

    if (src->len > max)
        return MS_ETOOBIG;
    ms_buf_move(dst, src);
    dst->max = max;
    dst->secret = secret;
    return 0;
}
